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
command -v haproxy >/dev/null || need+=(haproxy)
command -v tmux >/dev/null || need+=(tmux)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
echo "node $(node --version), npm $(npm --version), $(redis-server --version | cut -d' ' -f1-3)"

# Real third-party peers from npm (package.json): socket.io-client@0.9.16, socket.io@0.9.19,
# socket.io-client@4.8.1 and @2.5.0, socket.io@4.8.1 (aliased), playwright-core.
if [ ! -f node_modules/socket.io-client/package.json ] || [ ! -d node_modules/playwright-core ] \
  || [ ! -d node_modules/socket.io-client-4 ] || [ ! -d node_modules/socket.io-client-2 ] \
  || [ ! -d node_modules/socket.io-4 ]; then
  npm ci --no-audit --no-fund || npm install --no-audit --no-fund
fi

# Real third-party peers from PyPI, in a venv of the checkout's own (.venv): python-socketio 5
# (the modern protocol's Python client) and kosoku (the Autobahn WebSocket test cases).
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import socketio, kosoku' 2>/dev/null; then
  python3 -m venv .venv 2>/dev/null || {
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv
    python3 -m venv .venv
  }
  .venv/bin/pip install -q --disable-pip-version-check 'python-socketio[client]==5.18.1' 'kosoku==0.1.0'
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
