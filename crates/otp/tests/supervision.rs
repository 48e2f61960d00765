//! Supervision semantics with real actors: strategies, restart types, intensity and escalation,
//! ordered shutdown, dynamic supervisors and reports (OTP `sup_princ`, ractor supervision).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use otp::{
    ChildSpec, DynamicHandle, DynamicSpec, Intensity, Restart, Shutdown, Strategy,
    SupervisionError, SupervisorHandle, SupervisorReport, SupervisorSpec, start_actor,
};
use ractor::{
    Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, ActorStatus, SupervisionEvent,
};
use tokio::sync::{mpsc, oneshot};

// ---------------------------------------------------------------- test actors

/// Shared event log: `start:x`, `stop:x` (post_stop), `killed:x` (hang cancelled by a kill).
type Log = Arc<Mutex<Vec<String>>>;

fn push(log: &Log, entry: String) {
    log.lock().unwrap().push(entry);
}

fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

struct Worker;

struct WorkerArgs {
    name: String,
    log: Log,
    fail_start: bool,
}

enum WorkerMsg {
    /// Handler returns `Err`.
    Fail,
    /// Handler panics.
    Panic,
    /// Stop itself with this reason.
    StopWith(Option<String>),
    /// Block in the handler (ignores stop) until killed; signals once inside.
    Hang(oneshot::Sender<()>),
}

/// Logs `killed:x` when the hanging handler's future is dropped by a kill.
struct KillGuard(Log, String);

impl Drop for KillGuard {
    fn drop(&mut self) {
        push(&self.0, format!("killed:{}", self.1));
    }
}

impl Actor for Worker {
    type Msg = WorkerMsg;
    type State = WorkerArgs;
    type Arguments = WorkerArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<WorkerMsg>,
        args: WorkerArgs,
    ) -> Result<WorkerArgs, ActorProcessingErr> {
        if args.fail_start {
            return Err("refusing to start".into());
        }
        push(&args.log, format!("start:{}", args.name));
        Ok(args)
    }

    async fn handle(
        &self,
        myself: ActorRef<WorkerMsg>,
        msg: WorkerMsg,
        state: &mut WorkerArgs,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            WorkerMsg::Fail => return Err("boom".into()),
            WorkerMsg::Panic => panic!("boom (test panic)"),
            WorkerMsg::StopWith(reason) => myself.stop(reason),
            WorkerMsg::Hang(inside) => {
                let _guard = KillGuard(state.log.clone(), state.name.clone());
                let _ = inside.send(());
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<WorkerMsg>,
        state: &mut WorkerArgs,
    ) -> Result<(), ActorProcessingErr> {
        push(&state.log, format!("stop:{}", state.name));
        Ok(())
    }
}

fn worker_spec(
    id: &str,
    restart: Restart,
    shutdown: Shutdown,
    log: &Log,
    fail_start: bool,
) -> ChildSpec {
    let (name, log2) = (id.to_owned(), log.clone());
    let start = start_actor(move || {
        let args = WorkerArgs {
            name: name.clone(),
            log: log2.clone(),
            fail_start,
        };
        (Worker, args)
    });
    ChildSpec::worker(id, restart, shutdown, start)
}

fn worker(id: &str, restart: Restart, log: &Log) -> ChildSpec {
    worker_spec(
        id,
        restart,
        Shutdown::Timeout(Duration::from_secs(5)),
        log,
        false,
    )
}

fn permanent(ids: &[&str], log: &Log) -> Vec<ChildSpec> {
    ids.iter()
        .map(|id| worker(id, Restart::Permanent, log))
        .collect()
}

/// A parent that records the exits of its children (to observe escalation).
struct Probe;

impl Actor for Probe {
    type Msg = ();
    type State = mpsc::UnboundedSender<String>;
    type Arguments = mpsc::UnboundedSender<String>;

    async fn pre_start(
        &self,
        _myself: ActorRef<()>,
        tx: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(tx)
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<()>,
        evt: SupervisionEvent,
        tx: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match evt {
            SupervisionEvent::ActorFailed(_, err) => {
                let _ = tx.send(format!("failed: {err}"));
            }
            SupervisionEvent::ActorTerminated(_, _, reason) => {
                let _ = tx.send(format!("terminated: {reason:?}"));
            }
            _ => {}
        }
        Ok(())
    }
}

async fn probe() -> (ActorRef<()>, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (actor, _) = Actor::spawn(None, Probe, tx).await.unwrap();
    (actor, rx)
}

// ---------------------------------------------------------------- helpers

const WAIT: Duration = Duration::from_secs(10);

/// Poll `cond` until it holds (bounded).
async fn wait_until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn spec(
    id: &str,
    strategy: Strategy,
    intensity: Intensity,
    children: Vec<ChildSpec>,
) -> SupervisorSpec {
    SupervisorSpec {
        id: id.into(),
        strategy,
        intensity,
        children,
    }
}

async fn start(spec: SupervisorSpec) -> SupervisorHandle {
    SupervisorHandle::start(spec, None).await.unwrap().0
}

async fn id_of(sup: &SupervisorHandle, child: &str) -> Option<ActorId> {
    sup.child(child).await.map(|c| c.get_id())
}

async fn ids(sup: &SupervisorHandle, children: &[&str]) -> Vec<Option<ActorId>> {
    let mut out = Vec::new();
    for c in children {
        out.push(id_of(sup, c).await);
    }
    out
}

fn send(cell: &ActorCell, msg: WorkerMsg) {
    ActorRef::<WorkerMsg>::from(cell.clone()).cast(msg).unwrap();
}

async fn send_to(sup: &SupervisorHandle, child: &str, msg: WorkerMsg) {
    send(&sup.child(child).await.expect("child running"), msg);
}

/// Wait until child `id` runs with an ActorId different from `old`; returns the new one.
async fn wait_restarted(sup: &SupervisorHandle, id: &str, old: Option<ActorId>) -> ActorId {
    wait_until(&format!("{id} restarted"), || async {
        matches!(id_of(sup, id).await, Some(new) if Some(new) != old)
    })
    .await;
    id_of(sup, id).await.unwrap()
}

async fn status(sup: &SupervisorHandle, id: &str) -> Option<String> {
    sup.report(None)
        .await
        .unwrap()
        .child(id)
        .map(|c| c.status.clone())
}

// ---------------------------------------------------------------- strategies

/// OTP sup_princ "one_for_one": a crashed child (Err, panic or kill) restarts alone, with a new id.
#[tokio::test]
async fn one_for_one_restarts_only_the_crashed_child() {
    let log = Log::default();
    let sup = start(spec(
        "s",
        Strategy::OneForOne,
        Intensity::new(10, 10),
        permanent(&["a", "b", "c"], &log),
    ))
    .await;
    type Crash = fn(&ActorCell);
    let ways: [(&str, Crash); 3] = [
        ("err", |c| send(c, WorkerMsg::Fail)),
        ("panic", |c| send(c, WorkerMsg::Panic)),
        ("kill", |c| c.kill()),
    ];
    for (round, (how, crash)) in ways.into_iter().enumerate() {
        let before = ids(&sup, &["a", "b", "c"]).await;
        take(&log);
        crash(&sup.child("b").await.unwrap());
        let new_b = wait_restarted(&sup, "b", before[1]).await;
        assert_ne!(Some(new_b), before[1], "{how}: new id");
        let after = ids(&sup, &["a", "b", "c"]).await;
        assert_eq!(
            (after[0], after[2]),
            (before[0], before[2]),
            "{how}: siblings untouched"
        );
        assert_eq!(take(&log), vec!["start:b"], "{how}");
        let report = sup.report(None).await.unwrap();
        assert_eq!(report.restarts, round as u32 + 1);
        assert_eq!(report.child("b").unwrap().restarts, round as u32 + 1);
        assert_eq!(report.child("b").unwrap().actor_id, Some(new_b.to_string()));
    }
    sup.shutdown().await.unwrap();
}

/// OTP "one_for_all": siblings stopped in reverse order, all restarted in start order.
#[tokio::test]
async fn one_for_all_restarts_everyone_in_order() {
    let log = Log::default();
    let sup = start(spec(
        "s",
        Strategy::OneForAll,
        Intensity::new(3, 10),
        permanent(&["a", "b", "c"], &log),
    ))
    .await;
    let before = ids(&sup, &["a", "b", "c"]).await;
    take(&log);
    send_to(&sup, "b", WorkerMsg::Fail).await;
    wait_restarted(&sup, "c", before[2]).await;
    wait_until("all three back", || async {
        ids(&sup, &["a", "b", "c"])
            .await
            .iter()
            .all(Option::is_some)
    })
    .await;
    let after = ids(&sup, &["a", "b", "c"]).await;
    for i in 0..3 {
        assert_ne!(after[i], before[i], "child {i} has a new id");
    }
    assert_eq!(
        take(&log),
        vec!["stop:c", "stop:a", "start:a", "start:b", "start:c"]
    );
    let report = sup.report(None).await.unwrap();
    assert_eq!(report.strategy, "one_for_all");
    assert_eq!(
        report.restarts, 1,
        "one restart, the sibling exits did not count"
    );
    sup.shutdown().await.unwrap();
}

/// OTP "rest_for_one": the crashed child and those started after it.
#[tokio::test]
async fn rest_for_one_restarts_the_rest() {
    let log = Log::default();
    let sup = start(spec(
        "s",
        Strategy::RestForOne,
        Intensity::new(3, 10),
        permanent(&["a", "b", "c", "d"], &log),
    ))
    .await;
    let before = ids(&sup, &["a", "b", "c", "d"]).await;
    take(&log);
    sup.child("b").await.unwrap().kill();
    wait_restarted(&sup, "d", before[3]).await;
    wait_until("b, c, d back", || async {
        ids(&sup, &["b", "c", "d"])
            .await
            .iter()
            .all(Option::is_some)
    })
    .await;
    let after = ids(&sup, &["a", "b", "c", "d"]).await;
    assert_eq!(after[0], before[0], "a untouched");
    for i in 1..4 {
        assert_ne!(after[i], before[i]);
    }
    assert_eq!(
        take(&log),
        vec!["stop:d", "stop:c", "start:b", "start:c", "start:d"]
    );
    sup.shutdown().await.unwrap();
}

// ---------------------------------------------------------------- restart types

/// permanent: restarted even after a normal exit; transient: only after an abnormal one;
/// temporary: never, and removed from the child list.
#[tokio::test]
async fn restart_types_decide_what_comes_back() {
    let log = Log::default();
    let children = vec![
        worker("perm", Restart::Permanent, &log),
        worker("trans", Restart::Transient, &log),
        worker("trans2", Restart::Transient, &log),
        worker("temp", Restart::Temporary, &log),
    ];
    let sup = start(spec(
        "s",
        Strategy::OneForOne,
        Intensity::new(10, 10),
        children,
    ))
    .await;

    let old = id_of(&sup, "perm").await;
    send_to(&sup, "perm", WorkerMsg::StopWith(Some("normal".into()))).await;
    wait_restarted(&sup, "perm", old).await;

    // transient + abnormal reasons (error, unusual stop reason, kill) -> restarted
    let old = id_of(&sup, "trans").await;
    send_to(&sup, "trans", WorkerMsg::Fail).await;
    let old = Some(wait_restarted(&sup, "trans", old).await);
    send_to(
        &sup,
        "trans",
        WorkerMsg::StopWith(Some("lost backend".into())),
    )
    .await;
    let old = Some(wait_restarted(&sup, "trans", old).await);
    sup.child("trans").await.unwrap().kill();
    wait_restarted(&sup, "trans", old).await;

    // transient + normal reasons -> stays stopped (listed)
    send_to(&sup, "trans", WorkerMsg::StopWith(None)).await;
    send_to(&sup, "trans2", WorkerMsg::StopWith(Some("shutdown".into()))).await;
    wait_until("transients stopped", || async {
        status(&sup, "trans").await.as_deref() == Some("stopped")
            && status(&sup, "trans2").await.as_deref() == Some("stopped")
    })
    .await;

    // temporary crash -> not restarted, removed
    send_to(&sup, "temp", WorkerMsg::Panic).await;
    wait_until("temp removed", || async {
        sup.report(None).await.unwrap().child("temp").is_none()
    })
    .await;

    let report = sup.report(None).await.unwrap();
    assert_eq!(report.children.len(), 3);
    assert_eq!(report.child_count, 1, "only perm runs");
    assert_eq!(report.child("trans").unwrap().restart, "transient");
    assert_eq!(report.child("trans").unwrap().actor_id, None);
    assert_eq!(report.restarts, 4);
    // a stopped child can be brought back by hand
    let cell = sup.restart_child("trans").await.unwrap();
    assert_eq!(id_of(&sup, "trans").await, Some(cell.get_id()));
    sup.shutdown().await.unwrap();
}

/// terminate_child and sibling restarts are self-inflicted: they never count against intensity.
#[tokio::test]
async fn self_inflicted_exits_do_not_count() {
    let log = Log::default();
    // One restart allowed: a one_for_all restart of 3 children must count once.
    let sup = start(spec(
        "s",
        Strategy::OneForAll,
        Intensity::new(1, 60),
        permanent(&["a", "b", "c"], &log),
    ))
    .await;
    assert!(sup.terminate_child("c").await, "c was running");
    assert_eq!(status(&sup, "c").await.as_deref(), Some("stopped"));
    let old = id_of(&sup, "b").await;
    send_to(&sup, "a", WorkerMsg::Fail).await;
    wait_restarted(&sup, "b", old).await;
    wait_until("a back", || async { id_of(&sup, "a").await.is_some() }).await;
    let report = sup.report(None).await.unwrap();
    assert_eq!(report.restarts, 1);
    assert_eq!(
        report.child("c").unwrap().status,
        "stopped",
        "terminated child stays down"
    );
    assert_eq!(sup.cell().get_status(), ActorStatus::Running);
    sup.restart_child("c").await.unwrap();
    assert_eq!(sup.report(None).await.unwrap().child_count, 3);
    sup.shutdown().await.unwrap();
}

// ---------------------------------------------------------------- intensity and escalation

/// An inner supervisor that exceeds its intensity fails; the outer one restarts it (new id,
/// fresh children) per its own strategy.
#[tokio::test]
async fn intensity_exceeded_escalates_to_the_parent_which_restarts() {
    let log = Log::default();
    let log2 = log.clone();
    let inner = SupervisorHandle::start_fn(Arc::new(move || {
        spec(
            "inner",
            Strategy::OneForOne,
            Intensity::new(1, 60),
            permanent(&["w"], &log2),
        )
    }));
    let outer = start(spec(
        "outer",
        Strategy::OneForOne,
        Intensity::new(5, 60),
        vec![
            ChildSpec::supervisor("inner", inner),
            worker("sibling", Restart::Permanent, &log),
        ],
    ))
    .await;
    let inner_id = id_of(&outer, "inner").await;
    let sibling_id = id_of(&outer, "sibling").await;
    let inner_h = SupervisorHandle::from_cell(outer.child("inner").await.unwrap());

    // 1st crash: restarted within intensity
    let w0 = id_of(&inner_h, "w").await;
    send_to(&inner_h, "w", WorkerMsg::Fail).await;
    let w1 = wait_restarted(&inner_h, "w", w0).await;
    // 2nd crash: 2 restarts > 1 in 60 s -> inner gives up
    send(&inner_h.child("w").await.unwrap(), WorkerMsg::Fail);
    let new_inner = wait_restarted(&outer, "inner", inner_id).await;
    assert_ne!(Some(new_inner), inner_id);
    assert_eq!(
        id_of(&outer, "sibling").await,
        sibling_id,
        "one_for_one: sibling untouched"
    );

    let report = outer.report(None).await.unwrap();
    assert_eq!(report.restarts, 1);
    let inner_rep = report.find(&["inner"]).expect("nested report");
    assert_eq!(inner_rep.id, "inner");
    assert_eq!(inner_rep.restarts, 0, "a fresh incarnation");
    let w2 = inner_rep.child("w").unwrap().actor_id.clone();
    assert!(w2.is_some() && w2 != Some(w1.to_string()));
    outer.shutdown().await.unwrap();
}

/// When the outer supervisor's own intensity is exhausted, it fails too: its parent sees
/// ActorFailed with the intensity error, and the whole subtree is gone.
#[tokio::test]
async fn intensity_exceeded_at_every_level_fails_upwards() {
    let log = Log::default();
    let log2 = log.clone();
    let inner = SupervisorHandle::start_fn(Arc::new(move || {
        spec(
            "inner",
            Strategy::OneForOne,
            Intensity::new(0, 60),
            permanent(&["w"], &log2),
        )
    }));
    let (parent, mut events) = probe().await;
    let (outer, join) = SupervisorHandle::start(
        spec(
            "outer",
            Strategy::OneForOne,
            Intensity::new(0, 60),
            vec![ChildSpec::supervisor("inner", inner)],
        ),
        Some(parent.get_cell()),
    )
    .await
    .unwrap();
    let inner_cell = outer.child("inner").await.unwrap();
    let w = SupervisorHandle::from_cell(inner_cell.clone())
        .child("w")
        .await
        .unwrap();
    send(&w, WorkerMsg::Panic);
    let evt = tokio::time::timeout(WAIT, events.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        evt.starts_with("failed:") && evt.contains("outer") && evt.contains("intensity"),
        "{evt}"
    );
    tokio::time::timeout(WAIT, join).await.unwrap().unwrap();
    assert_eq!(inner_cell.get_status(), ActorStatus::Stopped);
    assert!(matches!(
        outer.report(None).await,
        Err(SupervisionError::Stopped)
    ));
    parent.stop(None);
}

/// A worker whose next `fail_next` starts fail (its first start always succeeds).
fn flaky(id: &str, fail_next: &Arc<AtomicUsize>, log: &Log) -> ChildSpec {
    let (name, log2, fails) = (id.to_owned(), log.clone(), fail_next.clone());
    let started = Arc::new(AtomicUsize::new(0));
    let start = start_actor(move || {
        let first = started.fetch_add(1, Ordering::SeqCst) == 0;
        let fail_start = !first
            && fails
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        (
            Worker,
            WorkerArgs {
                name: name.clone(),
                log: log2.clone(),
                fail_start,
            },
        )
    });
    ChildSpec::worker(id, Restart::Permanent, Shutdown::Brutal, start)
}

/// A restart that fails is retried (each retry counts as a restart) until it succeeds...
#[tokio::test]
async fn failed_restart_is_retried() {
    let log = Log::default();
    let fails = Arc::new(AtomicUsize::new(2));
    let sup = start(spec(
        "s",
        Strategy::OneForOne,
        Intensity::new(5, 60),
        vec![flaky("f", &fails, &log)],
    ))
    .await;
    let old = id_of(&sup, "f").await;
    sup.child("f").await.unwrap().kill();
    wait_restarted(&sup, "f", old).await;
    assert_eq!(
        fails.load(Ordering::SeqCst),
        0,
        "both failing starts were attempted"
    );
    let report = sup.report(None).await.unwrap();
    assert_eq!(
        (report.restarts, report.child("f").unwrap().restarts),
        (3, 1)
    );
    sup.shutdown().await.unwrap();
}

/// ... or until the intensity is exhausted, which escalates.
#[tokio::test]
async fn child_that_cannot_restart_escalates() {
    let log = Log::default();
    let fails = Arc::new(AtomicUsize::new(usize::MAX));
    let (parent, mut events) = probe().await;
    let children = vec![
        worker("a", Restart::Permanent, &log),
        flaky("f", &fails, &log),
    ];
    let (sup, join) = SupervisorHandle::start(
        spec("s", Strategy::OneForOne, Intensity::new(3, 60), children),
        Some(parent.get_cell()),
    )
    .await
    .unwrap();
    take(&log);
    sup.child("f").await.unwrap().kill();
    let evt = tokio::time::timeout(WAIT, events.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        evt.starts_with("failed:") && evt.contains("intensity"),
        "{evt}"
    );
    tokio::time::timeout(WAIT, join).await.unwrap().unwrap();
    assert_eq!(
        usize::MAX - fails.load(Ordering::SeqCst),
        3,
        "3 restarts allowed: the restart and 2 retries; the 4th exceeds 3 in 60 s"
    );
    assert_eq!(
        take(&log),
        vec!["stop:a"],
        "remaining children shut down gracefully"
    );
    parent.stop(None);
}

// ---------------------------------------------------------------- start and shutdown

/// A child that fails to start fails the supervisor's start; the ones started are stopped
/// (reverse order) and the later ones never start.
#[tokio::test]
async fn start_failure_stops_started_children_in_reverse() {
    let log = Log::default();
    let children = vec![
        worker("a", Restart::Permanent, &log),
        worker("b", Restart::Permanent, &log),
        worker_spec("bad", Restart::Permanent, Shutdown::Brutal, &log, true),
        worker("c", Restart::Permanent, &log),
    ];
    let err = SupervisorHandle::start(
        spec("s", Strategy::OneForOne, Intensity::default(), children),
        None,
    )
    .await
    .unwrap_err();
    match &err {
        SupervisionError::StartFailed { id, reason } => {
            assert_eq!(id, "s");
            assert!(reason.contains("bad"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(take(&log), vec!["start:a", "start:b", "stop:b", "stop:a"]);
}

/// Ordered shutdown: reverse start order; a child that ignores stop is killed after its
/// Shutdown::Timeout; nested supervisors shut their own children down in order.
#[tokio::test]
async fn shutdown_is_ordered_and_kills_children_that_ignore_stop() {
    let log = Log::default();
    let log2 = log.clone();
    let nested = SupervisorHandle::start_fn(Arc::new(move || {
        spec(
            "nested",
            Strategy::OneForOne,
            Intensity::default(),
            permanent(&["n1", "n2"], &log2),
        )
    }));
    let children = vec![
        worker("a", Restart::Permanent, &log),
        ChildSpec::supervisor("nested", nested),
        worker_spec(
            "stuck",
            Restart::Permanent,
            Shutdown::Timeout(Duration::from_millis(200)),
            &log,
            false,
        ),
        worker_spec("brutal", Restart::Permanent, Shutdown::Brutal, &log, false),
        worker("z", Restart::Permanent, &log),
    ];
    let sup = start(spec(
        "s",
        Strategy::OneForAll,
        Intensity::default(),
        children,
    ))
    .await;
    let (tx, rx) = oneshot::channel();
    send_to(&sup, "stuck", WorkerMsg::Hang(tx)).await;
    rx.await.unwrap();
    let cells: Vec<ActorCell> = sup.cell().get_children();
    take(&log);
    let t0 = Instant::now();
    tokio::time::timeout(WAIT, sup.shutdown())
        .await
        .expect("shutdown completes")
        .unwrap();
    let took = t0.elapsed();
    // brutal: killed, so no post_stop entry; stuck: killed after its timeout.
    assert_eq!(
        take(&log),
        vec!["stop:z", "killed:stuck", "stop:n2", "stop:n1", "stop:a"]
    );
    assert!(
        took >= Duration::from_millis(200),
        "waited for stuck's timeout ({took:?})"
    );
    assert_eq!(sup.cell().get_status(), ActorStatus::Stopped);
    assert!(cells.iter().all(|c| c.get_status() == ActorStatus::Stopped));
}

/// A child_kind Supervisor child is reported recursively; the report serializes.
#[tokio::test]
async fn report_is_recursive_and_serializable() {
    let log = Log::default();
    let dyn_handle: Arc<Mutex<Option<DynamicHandle>>> = Arc::default();
    let slot = dyn_handle.clone();
    let dynamic = DynamicHandle::start_fn(
        DynamicSpec {
            id: "pool_sup".into(),
            intensity: Intensity::new(0, 1),
            max_children: Some(10),
        },
        Arc::new(move |h| *slot.lock().unwrap() = Some(h)),
    );
    let sup = start(spec(
        "root",
        Strategy::RestForOne,
        Intensity::new(3, 10),
        vec![
            worker("w", Restart::Permanent, &log),
            ChildSpec::supervisor("pool_sup", dynamic),
        ],
    ))
    .await;
    let pool = dyn_handle.lock().unwrap().clone().unwrap();
    for i in 0..3 {
        pool.start_child(worker(&format!("p{i}"), Restart::Temporary, &log))
            .await
            .unwrap();
    }
    let report: SupervisorReport = sup.report(Some((1, 5))).await.unwrap();
    assert_eq!(report.strategy, "rest_for_one");
    assert_eq!(report.intensity.max_restarts, 3);
    let w = report.child("w").unwrap();
    assert_eq!(
        (w.kind.as_str(), w.restart.as_str(), w.status.as_str()),
        ("worker", "permanent", "running")
    );
    let pool_child = report.child("pool_sup").unwrap();
    assert_eq!(pool_child.kind, "supervisor");
    let pool_rep = pool_child.supervisor.as_deref().unwrap();
    assert_eq!(pool_rep.strategy, "simple_one_for_one");
    assert_eq!((pool_rep.child_count, pool_rep.max_children), (3, Some(10)));
    let listed: Vec<&str> = pool_rep.children.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(listed, vec!["p1", "p2"]);
    let paths: Vec<String> = report.supervisors().into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths, vec!["root", "root/pool_sup"]);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["children"][1]["supervisor"]["child_count"], 3);
    sup.shutdown().await.unwrap();
    assert_eq!(pool.count(), 0);
}

// ---------------------------------------------------------------- dynamic supervisors

async fn dynamic(max_children: Option<usize>, intensity: Intensity) -> DynamicHandle {
    let spec = DynamicSpec {
        id: "dyn".into(),
        intensity,
        max_children,
    };
    DynamicHandle::start(spec, None).await.unwrap().0
}

/// 5,000 temporary children: counted, reported (count only by default, a page on request),
/// and removed when they stop normally.
#[tokio::test]
async fn dynamic_holds_thousands_and_forgets_normal_exits() {
    let log = Log::default();
    let sup = dynamic(None, Intensity::new(0, 1)).await;
    let t0 = Instant::now();
    let mut cells = Vec::new();
    for i in 0..5000 {
        cells.push(
            sup.start_child(worker(&format!("c{i}"), Restart::Temporary, &log))
                .await
                .unwrap(),
        );
    }
    let started = t0.elapsed();
    assert_eq!(sup.count(), 5000);
    let report = sup.report(None).await.unwrap();
    assert_eq!(report.child_count, 5000);
    assert!(report.children.is_empty() && report.children_truncated);
    let page = sup.report(Some((10, 5))).await.unwrap();
    let listed: Vec<&str> = page.children.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(listed, vec!["c10", "c11", "c12", "c13", "c14"]);
    assert_eq!(
        page.children[0].actor_id,
        Some(cells[10].get_id().to_string())
    );
    for cell in &cells {
        cell.stop(None);
    }
    wait_until("all children gone", || async { sup.count() == 0 }).await;
    eprintln!(
        "5000 children: started in {started:?}, all stopped after {:?}",
        t0.elapsed() - started
    );
    let report = sup.report(Some((0, 10))).await.unwrap();
    assert_eq!(
        (report.child_count, report.restarts, report.children.len()),
        (0, 0, 0)
    );
    assert!(!report.children_truncated);
    sup.shutdown().await.unwrap();
}

/// max_children is enforced; a slot frees up when a child is terminated.
#[tokio::test]
async fn dynamic_enforces_max_children() {
    let log = Log::default();
    let sup = dynamic(Some(3), Intensity::new(0, 1)).await;
    for i in 0..3 {
        sup.start_child(worker(&format!("c{i}"), Restart::Temporary, &log))
            .await
            .unwrap();
    }
    let err = sup
        .start_child(worker("c3", Restart::Temporary, &log))
        .await
        .unwrap_err();
    assert_eq!(err, SupervisionError::MaxChildren(3));
    assert!(matches!(
        sup.start_child(worker("c3", Restart::Temporary, &log))
            .await,
        Err(SupervisionError::MaxChildren(3))
    ));
    assert!(sup.terminate_child("c1").await);
    assert!(!sup.terminate_child("c1").await, "already gone");
    assert_eq!(sup.count(), 2);
    sup.start_child(worker("c3", Restart::Temporary, &log))
        .await
        .unwrap();
    assert_eq!(sup.count(), 3);
    sup.shutdown().await.unwrap();
    assert_eq!(sup.count(), 0);
}

/// Restart types in a dynamic supervisor: temporary never restarted; transient after a crash,
/// with a new id; a permanent one after a normal exit.
#[tokio::test]
async fn dynamic_applies_restart_types() {
    let log = Log::default();
    let sup = dynamic(None, Intensity::new(5, 60)).await;
    let temp = sup
        .start_child(worker("temp", Restart::Temporary, &log))
        .await
        .unwrap();
    let trans = sup
        .start_child(worker("trans", Restart::Transient, &log))
        .await
        .unwrap();
    let perm = sup
        .start_child(worker("perm", Restart::Permanent, &log))
        .await
        .unwrap();
    send(&temp, WorkerMsg::Panic);
    wait_until("temp gone", || async { sup.count() == 2 }).await;
    assert!(sup.child("temp").await.is_none());
    send(&trans, WorkerMsg::Fail);
    wait_until("trans restarted", || async {
        sup.child("trans")
            .await
            .is_some_and(|c| c.get_id() != trans.get_id())
    })
    .await;
    send(&perm, WorkerMsg::StopWith(None));
    wait_until("perm restarted", || async {
        sup.child("perm")
            .await
            .is_some_and(|c| c.get_id() != perm.get_id())
    })
    .await;
    let report = sup.report(Some((0, 10))).await.unwrap();
    assert_eq!(report.restarts, 2);
    assert_eq!(report.child_count, 2);
    assert!(report.children.iter().all(|c| c.restarts == 1));
    // transient + normal exit: removed
    send(
        &sup.child("trans").await.unwrap(),
        WorkerMsg::StopWith(Some("normal".into())),
    );
    wait_until("trans removed", || async { sup.count() == 1 }).await;
    sup.shutdown().await.unwrap();
}

/// Dynamic shutdown stops children in parallel, each per its own Shutdown: a child that
/// ignores stop does not hold up the others and is killed after its timeout.
#[tokio::test]
async fn dynamic_shutdown_is_parallel() {
    let log = Log::default();
    let sup = dynamic(None, Intensity::new(0, 1)).await;
    let stuck = Shutdown::Timeout(Duration::from_millis(300));
    for id in ["s1", "s2"] {
        let cell = sup
            .start_child(worker_spec(id, Restart::Temporary, stuck, &log, false))
            .await
            .unwrap();
        let (tx, rx) = oneshot::channel();
        send(&cell, WorkerMsg::Hang(tx));
        rx.await.unwrap();
    }
    sup.start_child(worker("n", Restart::Temporary, &log))
        .await
        .unwrap();
    take(&log);
    tokio::time::timeout(WAIT, sup.shutdown())
        .await
        .unwrap()
        .unwrap();
    let entries = take(&log);
    assert_eq!(
        entries.first().map(String::as_str),
        Some("stop:n"),
        "{entries:?}"
    );
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert!(entries.contains(&"killed:s1".to_owned()) && entries.contains(&"killed:s2".to_owned()));
    assert_eq!(sup.count(), 0);
}

/// A dynamic supervisor past its intensity fails (its parent sees ActorFailed).
#[tokio::test]
async fn dynamic_intensity_escalates() {
    let log = Log::default();
    let (parent, mut events) = probe().await;
    let spec = DynamicSpec {
        id: "dyn".into(),
        intensity: Intensity::new(1, 60),
        max_children: None,
    };
    let (sup, join) = DynamicHandle::start(spec, Some(parent.get_cell()))
        .await
        .unwrap();
    sup.start_child(worker("p", Restart::Permanent, &log))
        .await
        .unwrap();
    sup.start_child(worker("other", Restart::Temporary, &log))
        .await
        .unwrap();
    let first = sup.child("p").await.unwrap();
    send(&first, WorkerMsg::Fail);
    wait_until("p restarted", || async {
        sup.child("p")
            .await
            .is_some_and(|c| c.get_id() != first.get_id())
    })
    .await;
    send(&sup.child("p").await.unwrap(), WorkerMsg::Fail);
    let evt = tokio::time::timeout(WAIT, events.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        evt.starts_with("failed:") && evt.contains("intensity"),
        "{evt}"
    );
    tokio::time::timeout(WAIT, join).await.unwrap().unwrap();
    assert_eq!(sup.count(), 0);
    assert!(
        take(&log).contains(&"stop:other".to_owned()),
        "children were shut down gracefully"
    );
    parent.stop(None);
}

/// A dynamic supervisor nested in a static one: when it dies the parent restarts it and
/// `on_started` hands the owner the new handle.
#[tokio::test]
async fn nested_dynamic_supervisor_is_restarted_and_handle_replaced() {
    let log = Log::default();
    let handles: Arc<Mutex<Vec<DynamicHandle>>> = Arc::default();
    let sink = handles.clone();
    let start = DynamicHandle::start_fn(
        DynamicSpec {
            id: "client_sup".into(),
            intensity: Intensity::new(0, 1),
            max_children: None,
        },
        Arc::new(move |h| sink.lock().unwrap().push(h)),
    );
    let sup = start_sup_with_dynamic(start, &log).await;
    let first = handles.lock().unwrap()[0].clone();
    let client = first
        .start_child(worker("client", Restart::Temporary, &log))
        .await
        .unwrap();
    first.cell().kill();
    wait_until("second handle", || async {
        handles.lock().unwrap().len() == 2
    })
    .await;
    let second = handles.lock().unwrap()[1].clone();
    assert_ne!(first.cell().get_id(), second.cell().get_id());
    assert_eq!(
        id_of(&sup, "client_sup").await,
        Some(second.cell().get_id())
    );
    assert_eq!(first.count(), 0);
    assert_eq!(second.count(), 0);
    wait_until("client killed with its supervisor", || async {
        client.get_status() == ActorStatus::Stopped
    })
    .await;
    sup.shutdown().await.unwrap();
}

async fn start_sup_with_dynamic(start: otp::StartFn, log: &Log) -> SupervisorHandle {
    let children = vec![
        worker("router", Restart::Permanent, log),
        ChildSpec::supervisor("client_sup", start),
    ];
    self::start(spec(
        "router_sup",
        Strategy::OneForOne,
        Intensity::new(3, 10),
        children,
    ))
    .await
}
