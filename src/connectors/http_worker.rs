//! One `connector.http` worker: a supervised actor owning one dedicated OS thread with its own ureq
//! agent (one keep-alive connection to the backend). Requests reach the thread through a channel;
//! the thread never touches the tokio runtime.
//!
//! If the thread dies (a panic inside ureq or a callback) the actor fails, and its supervisor
//! `pool:<name>` restarts it (permanent base workers) or forgets it (temporary overflow workers).
//! An overflow worker retires by itself (a normal exit) once it sat idle long enough.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use super::pool::WorkerGuard;
use crate::error::HiveError;

/// Connect timeout of every backend request (the original used 100 ms; 1000 ms tolerates a busy
/// loopback while still failing fast when the backend is down).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);

/// What a job does.
pub(crate) enum Method {
    /// `GET <url>`.
    Get,
    /// `POST <url>` with the body (Content-Length set).
    Post(String),
}

/// The completion callback of a job: runs on the worker thread with the result.
pub(crate) type Done = Box<dyn FnOnce(Result<String, HiveError>) + Send>;

/// One request for a worker thread.
pub(crate) struct Job {
    /// Method and body.
    pub(crate) method: Method,
    /// Full URL (`base_url` + endpoint).
    pub(crate) url: String,
    /// Called with the reply body or the error.
    pub(crate) done: Done,
}

/// A worker as the pool rents it: the channel to its thread.
pub(crate) struct HttpWorker {
    /// Worker number (`worker:<pool>:<n>`).
    pub(crate) n: usize,
    /// Jobs to the thread.
    pub(crate) tx: Sender<Job>,
    /// False once the actor or its thread is gone; a dead worker is never reused.
    pub(crate) alive: Arc<AtomicBool>,
    /// When it was last given back.
    pub(crate) idle_since: Instant,
}

/// The worker actor.
pub(crate) struct HttpWorkerActor;

/// Messages of [`HttpWorkerActor`].
#[derive(Debug)]
pub(crate) enum HttpWorkerMsg {
    /// The OS thread exited abnormally: crash this actor so that the pool restarts it.
    ThreadDied,
    /// Overflow workers, every second: retire if idle for long enough.
    Tick,
}

/// Overflow workers: takes the worker out of the idle list and returns true when it is due to
/// retire.
pub(crate) type RetireCheck = Box<dyn Fn() -> bool + Send + Sync>;

/// Start arguments of a worker.
pub(crate) struct HttpWorkerArgs {
    /// Thread name suffix (`<pool>-<n>`).
    pub(crate) label: String,
    /// Jobs from the pool.
    pub(crate) rx: Receiver<Job>,
    /// Shared liveness flag.
    pub(crate) alive: Arc<AtomicBool>,
    /// Whole-request timeout.
    pub(crate) timeout: Duration,
    /// Counts the worker as live while its state exists.
    pub(crate) guard: WorkerGuard,
    /// Overflow workers only.
    pub(crate) retire: Option<RetireCheck>,
}

/// State: marks the worker dead when the actor goes away, however it goes (then the guard drops).
pub(crate) struct HttpWorkerState {
    alive: Arc<AtomicBool>,
    retire: Option<RetireCheck>,
    _guard: WorkerGuard,
}

impl Drop for HttpWorkerState {
    fn drop(&mut self) {
        self.alive.store(false, Ordering::Release);
    }
}

/// Set on the thread: marks the worker dead when the thread ends, and reports a panic.
struct ThreadGuard {
    alive: Arc<AtomicBool>,
    actor: ActorRef<HttpWorkerMsg>,
}

impl Drop for ThreadGuard {
    fn drop(&mut self) {
        self.alive.store(false, Ordering::Release);
        if std::thread::panicking() {
            let _ = self.actor.cast(HttpWorkerMsg::ThreadDied);
        }
    }
}

impl Actor for HttpWorkerActor {
    type Msg = HttpWorkerMsg;
    type State = HttpWorkerState;
    type Arguments = HttpWorkerArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: HttpWorkerArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let agent = agent(args.timeout);
        let myself_cell = myself.get_cell();
        let guard = ThreadGuard {
            alive: args.alive.clone(),
            actor: myself,
        };
        let rx = args.rx;
        std::thread::Builder::new()
            .name(format!("hive-http-{}", args.label))
            .spawn(move || {
                let _guard = guard;
                while let Ok(job) = rx.recv() {
                    let result = perform(&agent, &job.url, job.method);
                    (job.done)(result);
                }
            })?;
        if args.retire.is_some() {
            ractor::time::send_interval(Duration::from_secs(1), myself_cell, || {
                HttpWorkerMsg::Tick
            });
        }
        Ok(HttpWorkerState {
            alive: args.alive,
            retire: args.retire,
            _guard: args.guard,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            HttpWorkerMsg::ThreadDied => Err("HTTP worker thread died".into()),
            HttpWorkerMsg::Tick => {
                if state.retire.as_ref().is_some_and(|due| due()) {
                    state.alive.store(false, Ordering::Release);
                    myself.stop(Some("shutdown:idle".into()));
                }
                Ok(())
            }
        }
    }
}

/// The ureq agent of one worker: timeouts set, no proxy from the environment, non-2xx statuses
/// returned as responses, one idle keep-alive connection.
fn agent(timeout: Duration) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .timeout_connect(Some(CONNECT_TIMEOUT.min(timeout)))
        .http_status_as_error(false)
        .proxy(None)
        .max_idle_connections(1)
        .max_idle_connections_per_host(1)
        .user_agent("hive")
        .build();
    ureq::Agent::with_parts(
        config,
        DefaultConnector::default(),
        LocalhostResolver::default(),
    )
}

/// The system resolver, plus both loopback addresses for `localhost` (RFC 6761), so that a
/// backend listening on `127.0.0.1` or `::1` is found whatever `/etc/hosts` says; ureq tries every
/// address in turn.
#[derive(Debug, Default)]
struct LocalhostResolver {
    system: DefaultResolver,
}

impl Resolver for LocalhostResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let is_localhost = uri
            .host()
            .is_some_and(|h| h.eq_ignore_ascii_case("localhost"));
        let resolved = self.system.resolve(uri, config, timeout);
        if !is_localhost {
            return resolved;
        }
        let port = uri.port_u16().unwrap_or(80);
        let mut out = resolved.unwrap_or_else(|_| self.empty());
        for addr in super::pool::loopback_addrs(port) {
            if !out.contains(&addr) && out.len() < 16 {
                out.push(addr);
            }
        }
        Ok(out)
    }
}

/// Run one request on the calling (worker) thread.
fn perform(agent: &ureq::Agent, url: &str, method: Method) -> Result<String, HiveError> {
    let fail =
        |reason: String| HiveError::HttpError(format!("Hive HTTP Hook request failed: {reason}"));
    let response = match method {
        Method::Get => agent.get(url).call(),
        // `&[u8]` has a known length, so ureq sends Content-Length and no Content-Type.
        Method::Post(body) => agent.post(url).send(body.as_bytes()),
    };
    let mut response = response.map_err(|e| fail(e.to_string()))?;
    let status = response.status().as_u16();
    // Read the body even on errors so that the keep-alive connection stays usable.
    let body = response.body_mut().read_to_string();
    if !(200..300).contains(&status) {
        return Err(fail(format!(
            "unhandled HTTP reply status code - {status}."
        )));
    }
    body.map_err(|e| fail(e.to_string()))
}
