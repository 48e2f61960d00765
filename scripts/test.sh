#!/usr/bin/env bash
# The whole test suite, with its set-up: installs what the tests need (Debian redis-server and
# chromium, the npm peers of package.json), starts a Redis on 127.0.0.1:6379 if none answers, then
# runs rustfmt, clippy and every test. Used by the README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v chromium >/dev/null || need+=(chromium)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
echo "node $(node --version), npm $(npm --version), $(redis-server --version | cut -d' ' -f1-3)"

# Real third-party peers: socket.io-client@0.9.16, socket.io@0.9.19, playwright-core.
if [ ! -f node_modules/socket.io-client/package.json ] || [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund || npm install --no-audit --no-fund
fi

# A Redis for the tests that use the default address (most start their own on a free port).
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  redis-server --port 6379 --bind 127.0.0.1 --save '' --daemonize yes >/dev/null
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && break; sleep 0.1; done
fi

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
export CI="${CI:-false}"
cargo fmt --all --check
cargo clippy --all-targets -- -D warnings
cargo test --no-fail-fast
