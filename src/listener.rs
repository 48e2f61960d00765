//! [`ListenerActor`]: a supervised worker that owns one HTTP listener (Socket.IO, API or monitor),
//! like the original's small server processes under `hive_web_sup`: the listener starts in
//! `pre_start` and stops with the actor (its accept loop is cancelled when the state drops, which
//! also covers a kill).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::api::ApiCtx;
use crate::monitor::MonitorCtx;
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
    _stop: DropGuard,
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
            None => std::net::TcpListener::bind(a.addr).map_err(|e| {
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
        let t = token.clone();
        match service {
            Service::SocketIo(ctx) => {
                tokio::spawn(crate::transport::http::serve(listener, ctx, t));
            }
            Service::Api(ctx) => {
                tokio::spawn(crate::api::serve(listener, ctx, t));
            }
            Service::Monitor(ctx) => {
                tokio::spawn(crate::monitor::serve(listener, ctx, t));
            }
        }
        tracing::info!(listener = a.name, %addr, "listening");
        Ok(ListenerState {
            addr,
            _stop: token.drop_guard(),
        })
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
