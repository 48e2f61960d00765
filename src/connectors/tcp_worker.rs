//! One `connector.tcp` worker: an actor owning one backend connection and its read buffer.
//!
//! Requests are messages, so a connection serves one request at a time. Bytes the backend sent
//! while nobody asked (stray frames) are discarded before each request that writes, instead of
//! being taken as the next reply (HIVE.md 16.6 #6); `hp.get`, which writes nothing, reads frames
//! the backend pushed, buffered or not. I/O errors close the connection and stop the worker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::pool::WorkerGuard;
use super::tcp_frame;
use crate::error::HiveError;

/// Why a request failed.
#[derive(Debug)]
pub(crate) enum TcpFail {
    /// The connection was already closed before anything was sent: try another one.
    Closed,
    /// A real failure for the caller.
    Error(HiveError),
}

/// The worker actor.
pub(crate) struct TcpWorkerActor;

/// Messages of [`TcpWorkerActor`].
pub(crate) enum TcpWorkerMsg {
    /// Write a frame (if `body`), then read one frame (if `read`) whose endpoint must match.
    Request {
        endpoint: String,
        body: Option<String>,
        read: bool,
        reply: RpcReplyPort<Result<String, TcpFail>>,
    },
    /// `restart_timeout` elapsed: close the connection (after the current request).
    Retire,
}

/// Start arguments.
pub(crate) struct TcpWorkerArgs {
    pub(crate) stream: TcpStream,
    pub(crate) alive: Arc<AtomicBool>,
    pub(crate) timeout: Duration,
    pub(crate) restart_timeout: Option<Duration>,
    /// Counts the worker as live while its state exists.
    pub(crate) guard: WorkerGuard,
}

/// State: the connection and bytes read but not yet consumed.
pub(crate) struct TcpWorkerState {
    stream: TcpStream,
    buf: Vec<u8>,
    alive: Arc<AtomicBool>,
    timeout: Duration,
    _guard: WorkerGuard,
}

impl Drop for TcpWorkerState {
    fn drop(&mut self) {
        self.alive.store(false, Ordering::Release);
    }
}

fn tcp_err(reason: impl std::fmt::Display) -> TcpFail {
    TcpFail::Error(HiveError::TcpError(format!(
        "Hive TCP Connector request failed: {reason}"
    )))
}

impl TcpWorkerState {
    /// Take the bytes already available without waiting; `discard` drops them (stray frames before
    /// a request), otherwise they stay buffered (`hp.get` reads frames the backend pushed).
    /// `false` when the backend closed the connection.
    fn drain(&mut self, discard: bool) -> bool {
        if discard {
            self.buf.clear();
        }
        let mut tmp = [0u8; 4096];
        loop {
            match self.stream.try_read(&mut tmp) {
                Ok(0) => return false,
                Ok(n) => {
                    if !discard {
                        self.buf.extend_from_slice(&tmp[..n]);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
        }
    }

    async fn read_frame(&mut self) -> Result<tcp_frame::Reply, TcpFail> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            match tcp_frame::decode(&self.buf) {
                Ok(Some((reply, used))) => {
                    self.buf.drain(..used);
                    return Ok(reply);
                }
                Ok(None) => {}
                Err(e) => return Err(tcp_err(e)),
            }
            let mut tmp = [0u8; 8192];
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut tmp))
                .await
                .map_err(|_| tcp_err(format!("no reply within {} ms", self.timeout.as_millis())))?
                .map_err(tcp_err)?;
            if n == 0 {
                return Err(tcp_err("connection closed by the backend"));
            }
            self.buf.extend_from_slice(&tmp[..n]);
        }
    }

    async fn request(
        &mut self,
        endpoint: &str,
        body: Option<String>,
        read: bool,
    ) -> Result<String, TcpFail> {
        if !self.drain(body.is_some()) {
            return Err(TcpFail::Closed);
        }
        if let Some(body) = body {
            let frame = tcp_frame::encode(endpoint, &body);
            tokio::time::timeout(self.timeout, self.stream.write_all(&frame))
                .await
                .map_err(|_| {
                    tcp_err(format!(
                        "send timed out after {} ms",
                        self.timeout.as_millis()
                    ))
                })?
                .map_err(tcp_err)?;
        }
        if !read {
            return Ok(String::new());
        }
        let reply = self.read_frame().await?;
        if reply.endpoint != endpoint {
            return Err(TcpFail::Error(HiveError::TcpError(format!(
                "Hive TCP Connector's received an unexpected message: {}",
                reply.message
            ))));
        }
        Ok(reply.data)
    }
}

impl Actor for TcpWorkerActor {
    type Msg = TcpWorkerMsg;
    type State = TcpWorkerState;
    type Arguments = TcpWorkerArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: TcpWorkerArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let _ = args.stream.set_nodelay(true);
        if let Some(after) = args.restart_timeout {
            ractor::time::send_after(after, myself.get_cell(), || TcpWorkerMsg::Retire);
        }
        Ok(TcpWorkerState {
            stream: args.stream,
            buf: Vec::new(),
            alive: args.alive,
            timeout: args.timeout,
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
            TcpWorkerMsg::Request {
                endpoint,
                body,
                read,
                reply,
            } => {
                let r = state.request(&endpoint, body, read).await;
                // Any failure but an unexpected (well-framed) reply leaves the stream unusable.
                let keep = match &r {
                    Ok(_) => true,
                    Err(TcpFail::Error(HiveError::TcpError(m))) => m.contains("unexpected message"),
                    Err(_) => false,
                };
                if !keep {
                    state.alive.store(false, Ordering::Release);
                    myself.stop(Some("shutdown:connection closed".into()));
                }
                let _ = reply.send(r);
            }
            TcpWorkerMsg::Retire => {
                state.alive.store(false, Ordering::Release);
                myself.stop(Some("shutdown:restart_timeout".into()));
            }
        }
        Ok(())
    }
}
