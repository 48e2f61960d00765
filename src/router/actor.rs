//! The router actor: monitors every client actor and drops its sid when it exits.

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};

use super::Router;

/// The router actor.
#[derive(Debug)]
pub struct RouterActor;

/// Router messages (none needed from outside yet: the registry is shared; exits arrive as
/// supervision events of monitored clients).
#[derive(Debug)]
pub enum RouterMsg {
    /// Refresh the `hive.router.*` gauges.
    Refresh,
}

impl Actor for RouterActor {
    type Msg = RouterMsg;
    type State = Router;
    type Arguments = Router;

    async fn pre_start(
        &self,
        myself: ActorRef<RouterMsg>,
        router: Router,
    ) -> Result<Router, ActorProcessingErr> {
        // A (re)started router starts from an empty table: its clients died with the old one
        // (router_sup is one_for_all).
        router.registry().clear();
        router.set_actor(myself);
        router.metrics().current_clients.set(0);
        Ok(router)
    }

    async fn handle(
        &self,
        _me: ActorRef<RouterMsg>,
        msg: RouterMsg,
        router: &mut Router,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RouterMsg::Refresh => {
                router.metrics().current_clients.set(router.count() as i64);
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _me: ActorRef<RouterMsg>,
        evt: SupervisionEvent,
        router: &mut Router,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorTerminated(cell, ..) | SupervisionEvent::ActorFailed(cell, _) =
            &evt
            && router.registry().remove_actor(&cell.get_id()).is_some()
        {
            router.metrics().current_clients.set(router.count() as i64);
        }
        Ok(())
    }
}
