//! [`ListenerActor`]: a supervised worker that owns one HTTP listener (Socket.IO, API or monitor),
//! like the original's small server processes under `hive_web_sup`: the listener starts in
//! `pre_start` and stops with the actor. A stop drains it (no more accepts, requests in flight
//! finish within `http.drain_timeout`, see [`crate::http_edge`]) before the actor exits; a kill
//! cancels the accept loop when the state drops and the drain goes on without it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::admin::MonitorCtx;
use crate::api::ApiCtx;
use crate::http_edge::Edge;
use crate::transport::TransportCtx;

/// Which server a listener runs.
#[derive(Clone)]
pub enum Service {
    /// The Socket.IO listener (`hive.port`).
    SocketIo(TransportCtx),
    /// The REST API (`api.port`).
    Api(ApiCtx),
    /// The monitor (`monitor.port`).
    Monitor(MonitorCtx),
}

/// Spawn arguments: where to listen; the first incarnation gets the socket bound at boot.
pub struct ListenerArgs {
    /// Listener name, for logs.
    pub name: &'static str,
    /// Address (the resolved one after the first bind, so restarts keep the port).
    pub addr: SocketAddr,
    /// The socket bound at boot, taken by the first incarnation.
    pub prebound: Arc<Mutex<Option<std::net::TcpListener>>>,
    /// What to serve (None when a dependency is not running: the start fails).
    pub service: Option<Service>,
    /// The node's HTTP edge (timeouts, limits, the shared connection bound).
    pub edge: Arc<Edge>,
}

/// The listener worker.
#[derive(Debug)]
pub struct ListenerActor;

/// Listener messages.
#[derive(Debug)]
pub enum ListenerMsg {
    /// The bound address.
    Addr(RpcReplyPort<SocketAddr>),
}

/// Listener state: dropping it stops the accept loop.
pub struct ListenerState {
    addr: SocketAddr,
    stop: CancellationToken,
    _cancel_on_drop: DropGuard,
    served: Option<JoinHandle<()>>,
    edge: Arc<Edge>,
}

/// Accept backlog of every listener. `std::net::TcpListener::bind` uses 128, which a burst of
/// connections (thousands of clients connecting within a second or two) overflows: the kernel
/// drops SYNs and those clients wait for TCP's 1 s / 3 s / 7 s retransmits. The kernel caps it at
/// `net.core.somaxconn`.
pub const BACKLOG: u32 = 4096;

/// Bind a listening socket on `addr` with [`BACKLOG`] (and `SO_REUSEADDR`, as std does). Must run
/// inside a tokio runtime; the returned std listener is non-blocking.
///
/// # Errors
/// The socket, bind or listen error.
pub fn bind_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)?.into_std()
}

impl Actor for ListenerActor {
    type Msg = ListenerMsg;
    type State = ListenerState;
    type Arguments = ListenerArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<ListenerMsg>,
        a: ListenerArgs,
    ) -> Result<ListenerState, ActorProcessingErr> {
        let Some(service) = a.service else {
            return Err(format!("the {} listener's dependencies are not running", a.name).into());
        };
        let pre = a.prebound.lock().unwrap_or_else(|e| e.into_inner()).take();
        let std_listener = match pre {
            Some(l) => l,
            None => bind_listener(a.addr).map_err(|e| {
                format!(
                    "cannot listen on {} for the {} listener: {e}",
                    a.addr, a.name
                )
            })?,
        };
        std_listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        let addr = listener.local_addr()?;
        let token = CancellationToken::new();
        let (t, edge) = (token.clone(), Arc::clone(&a.edge));
        let served = match service {
            Service::SocketIo(ctx) => {
                tokio::spawn(crate::transport::http::serve(listener, edge, ctx, t))
            }
            Service::Api(ctx) => tokio::spawn(crate::api::serve_with(listener, edge, ctx, t)),
            Service::Monitor(ctx) => tokio::spawn(crate::admin::serve_with(listener, edge, ctx, t)),
        };
        tracing::info!(listener = a.name, %addr, "listening");
        Ok(ListenerState {
            addr,
            stop: token.clone(),
            _cancel_on_drop: token.drop_guard(),
            served: Some(served),
            edge: a.edge,
        })
    }

    /// Drain: stop accepting and wait for the requests in flight (the serve task bounds that by
    /// `http.drain_timeout`; the margin covers its last steps).
    async fn post_stop(
        &self,
        _me: ActorRef<ListenerMsg>,
        st: &mut ListenerState,
    ) -> Result<(), ActorProcessingErr> {
        st.stop.cancel();
        if let Some(served) = st.served.take() {
            let bound = st.edge.drain_timeout() + std::time::Duration::from_secs(1);
            let _ = tokio::time::timeout(bound, served).await;
        }
        Ok(())
    }

    async fn handle(
        &self,
        _me: ActorRef<ListenerMsg>,
        msg: ListenerMsg,
        st: &mut ListenerState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ListenerMsg::Addr(r) => {
                let _ = r.send(st.addr);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// A burst of connections fits in the accept backlog even before anything accepts: with
    /// std's 128 the kernel drops the SYNs beyond it and those connects wait for a retransmit
    /// (1 s), far past the bound here.
    #[tokio::test]
    async fn a_burst_of_connects_fits_in_the_backlog() {
        let l = bind_listener("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = l.local_addr().unwrap();
        let connects = (0..600).map(|_| {
            tokio::time::timeout(
                std::time::Duration::from_millis(700),
                tokio::net::TcpStream::connect(addr),
            )
        });
        let streams = futures::future::join_all(connects).await;
        let ok = streams.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
        assert_eq!(ok, 600, "connects completed without accept");
        drop(l);
    }
}
