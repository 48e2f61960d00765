//! `otp`: OTP-style supervision on ractor: static and dynamic supervisors, child specs, reports.
//!
//! This crate owns the generic supervision layer and nothing else: it names nothing of Hive (no
//! sessions, no config, no listeners). The application composes its own tree from these parts;
//! Hive's lives in the server's `app::tree`. It depends on ractor, tokio and serde only.
//!
//! ractor links children to a parent and delivers their exits to the parent's
//! `handle_supervisor_evt`, but has no restart strategies (and its default handler stops the
//! parent on any child exit). This module adds the OTP layer, using OTP's vocabulary
//! (`sup_princ`):
//!
//! * [`ChildSpec`]: `id`, `kind` (worker/supervisor), `restart`, `shutdown` and a [`StartFn`]
//!   that spawns one incarnation *linked* to the supervisor and resolves once it is up.
//! * [`SupervisorHandle`]: a static supervisor with a [`Strategy`] and an [`Intensity`].
//! * [`DynamicHandle`]: a dynamic (`simple_one_for_one`) supervisor with `max_children`.
//! * [`report`]: serializable snapshots of the live tree ([`SupervisorReport`]).
//! * [`names`]: the tree name of every live actor, for log lines ([`tree_name`], [`starting`]).
//!
//! # Semantics
//!
//! **Start.** A static supervisor starts its children in spec order, each after the previous
//! one's `pre_start` has finished. If a child fails to start, the children already started are
//! stopped in reverse order and the supervisor's start fails with
//! [`SupervisionError::StartFailed`]. A child's `pre_start` must not call its own supervisor.
//!
//! **Exit classification.** A child exit is *abnormal* when the actor failed (handler returned
//! `Err`, or panicked), was killed (reason `"killed"`), or stopped with a reason other than the
//! normal ones: none, `"normal"`, `"shutdown"`, `"shutdown:..."`, `"Drained"` (see
//! [`is_normal_exit`]).
//!
//! **Restart types.** `Permanent` children are always restarted; `Transient` ones only after an
//! abnormal exit (after a normal one they stay `stopped` in a static supervisor's list and are
//! removed from a dynamic one); `Temporary` ones never, and are removed from the child list when
//! they exit, including when a sibling's restart stopped them.
//!
//! **Strategies.** `one_for_one` restarts the exited child alone. `one_for_all` stops all other
//! running children in reverse start order (each per its `Shutdown`) and restarts them all in
//! start order. `rest_for_one` does the same for the exited child and the children started after
//! it. Children that were deliberately stopped (`terminate_child`, or transient children that
//! ended normally) are not brought back by a sibling's restart. Every restart creates a new
//! actor, with a new `ActorId`.
//!
//! **Self-inflicted exits.** Before a supervisor stops a child (shutdown, `terminate_child`,
//! siblings stopped for a restart) it forgets that incarnation; exit events are only acted upon
//! when they match a child's *current* incarnation, so these exits never count as crashes.
//!
//! **Intensity.** Every restart decision (one per crash, however many siblings it restarts, and
//! one per retry of a failed restart) is recorded in a sliding window. When there are more than
//! `max_restarts` within `max_seconds`, the supervisor stops all its children (static: reverse
//! order; dynamic: in parallel) and fails with [`SupervisionError::Intensity`]. Its parent sees
//! `ActorFailed` and applies *its* strategy: escalation up the tree. A failed restart is retried
//! (20 ms later) and counts as another restart, so a child that can no longer start escalates.
//!
//! **Shutdown.** `shutdown()` (or a graceful `stop` of the supervisor by its parent) stops the
//! children, static supervisors in reverse start order one at a time, dynamic ones all in
//! parallel, each per its [`Shutdown`]: `Brutal` kills; `Timeout(t)` stops with reason
//! `"shutdown"` and kills if the child is still alive after `t`; `Infinity` waits (the default
//! for supervisor children, whose own children are bounded by their policies). Killing a
//! supervisor kills its whole subtree at once (ractor); `post_stop` does not run on kill or panic.
//!
//! **Reports.** [`SupervisorHandle::report`] returns the supervisor's strategy, intensity,
//! restart count and children (id, kind, restart type, restarts, status, actor id), asking
//! supervisor children for their own report (recursively, off the supervisor's mailbox).
//! Dynamic supervisors always give `child_count` but list only the requested page of children.

mod base;
pub mod cores;
pub mod dynamic;
pub mod msg;
pub mod names;
pub mod report;
mod restart;
pub mod shutdown;
pub mod spec;
pub mod supervisor;

pub use dynamic::DynamicHandle;
pub use msg::SupervisorMsg;
pub use names::{TreeName, starting, tree_name};
pub use report::{ChildReport, IntensityReport, SupervisorReport};
pub use spec::{
    ChildKind, ChildSpec, DynamicSpec, Intensity, Restart, Shutdown, StartFn, StartFuture,
    Strategy, SupervisionError, SupervisorSpec, is_normal_exit, start_actor, start_named_actor,
};
pub use supervisor::SupervisorHandle;
