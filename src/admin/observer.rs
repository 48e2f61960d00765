//! The observer: per-actor figures of every live actor (`/actors`), one actor (`/actors/<id>`)
//! and killing one (`POST /actors/<id>/kill`), as Erlang's observer does for processes.
//!
//! The figures are owned by the actors and read without a message to any of them (vendored
//! ractor, HIVE-PATCH.md, third change): mailbox depth ([`ActorCell::mailbox_len`]), messages
//! handled ([`ActorCell::messages_handled`]) and age ([`ActorCell::age`]). Names, supervisor
//! paths and restart counts come from one supervision-tree report with every dynamic child
//! listed; actors linked into the tree that no supervisor reports (none today) are listed under
//! their parent with kind `actor`. The rate (messages per second) is computed here: from the
//! previous request's sample of the same actor when there is one, else over the actor's life.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ractor::{ActorCell, ActorId};
use serde::Serialize;

use super::sessions::SessionsView;
use otp::SupervisorReport;

/// A boxed, sendable future (as `ctx::BoxFut`; not imported from there, which imports this).
type BoxFut<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What the observer needs from the app: the root supervisor's cell (`None` until the tree runs),
/// and the rate samples of the previous request. Cheap to clone.
#[derive(Clone)]
pub struct Observer {
    root: Option<Arc<dyn Fn() -> BoxFut<Option<ActorCell>> + Send + Sync>>,
    sessions: Option<SessionsView>,
    samples: Arc<Mutex<HashMap<ActorId, (Instant, u64)>>>,
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer")
            .field("enabled", &self.root.is_some())
            .finish_non_exhaustive()
    }
}

impl Observer {
    /// An observer of the tree whose root cell `root` gives.
    pub fn new(root: Arc<dyn Fn() -> BoxFut<Option<ActorCell>> + Send + Sync>) -> Self {
        Self {
            root: Some(root),
            sessions: None,
            samples: Arc::default(),
        }
    }

    /// With the sessions and channels routes over `view`.
    pub fn with_sessions(mut self, view: SessionsView) -> Self {
        self.sessions = Some(view);
        self
    }

    /// The sessions and channels view, if any.
    pub(crate) fn sessions(&self) -> Option<&SessionsView> {
        self.sessions.as_ref()
    }

    /// No actors to observe (a monitor over a hand-made tree): the actor routes answer 503.
    pub fn none() -> Self {
        Self {
            root: None,
            sessions: None,
            samples: Arc::default(),
        }
    }

    /// The root supervisor's cell, if the tree runs.
    pub(crate) async fn root(&self) -> Option<ActorCell> {
        match &self.root {
            Some(f) => f().await,
            None => None,
        }
    }
}

/// One actor's figures, as `/actors` and `/actors/<id>` answer them.
#[derive(Debug, Clone, Serialize)]
pub struct ActorFigures {
    /// Its tree name: the child id (`router`, `pool:backend`, `worker:backend:0`, a sid).
    pub id: String,
    /// The ractor actor id (`0.42`) of this incarnation.
    pub actor_id: String,
    /// `worker`, `supervisor`, or `actor` (linked into the tree, not a supervisor's child).
    pub kind: String,
    /// Supervisor ids from the root down to its supervisor (empty for the root).
    pub path: Vec<String>,
    /// As its supervisor reports it (`running`, `restarting`, ...).
    pub status: String,
    /// Messages waiting in its mailbox.
    pub mailbox: usize,
    /// Messages handled since this incarnation started.
    pub handled: u64,
    /// Messages handled per second (since the previous request, else over its life).
    pub rate: f64,
    /// Milliseconds since this incarnation started.
    pub age_ms: u64,
    /// How often its supervisor restarted it.
    pub restarts: u32,
    /// Sessions: outgoing messages waiting (outbox and connection queue).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued: Option<usize>,
    /// Sessions: encoded bytes waiting in the connection queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued_bytes: Option<usize>,
    /// Supervisors: restarts it performed and its live children.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supervisor: Option<SupervisorFigures>,
}

/// A supervisor's own counts.
#[derive(Debug, Clone, Serialize)]
pub struct SupervisorFigures {
    /// Its strategy.
    pub strategy: String,
    /// Restarts it performed since it started.
    pub restarts: u32,
    /// Live children.
    pub child_count: usize,
}

/// One listed actor: its figures and its cell (for a kill).
pub(crate) struct Listed {
    pub(crate) figures: ActorFigures,
    pub(crate) cell: ActorCell,
}

/// Every live actor under `root` (depth first, parents first), named from `report` (which must
/// list every dynamic child).
pub(crate) fn list(obs: &Observer, root: &ActorCell, report: &SupervisorReport) -> Vec<Listed> {
    // The live cells, by actor id, with their parent's id.
    let mut cells: HashMap<String, (ActorCell, Option<String>)> = HashMap::new();
    let mut stack = vec![(root.clone(), None::<String>)];
    let mut order = Vec::new();
    while let Some((cell, parent)) = stack.pop() {
        let id = cell.get_id().to_string();
        for child in cell.get_children() {
            stack.push((child, Some(id.clone())));
        }
        order.push(id.clone());
        cells.insert(id, (cell, parent));
    }

    let mut out = Vec::with_capacity(cells.len());
    let now = Instant::now();
    let mut samples = obs.samples.lock().unwrap_or_else(|e| e.into_inner());
    let mut next = HashMap::with_capacity(cells.len());
    let mut add = |name: String,
                   kind: String,
                   path: Vec<String>,
                   status: String,
                   restarts: u32,
                   sup: Option<SupervisorFigures>,
                   cell: ActorCell| {
        let handled = cell.messages_handled();
        let age = cell.age();
        let rate = match samples.get(&cell.get_id()) {
            Some((t, h)) if now > *t && handled >= *h => {
                (handled - h) as f64 / now.duration_since(*t).as_secs_f64()
            }
            _ if age.as_secs_f64() > 0.0 => handled as f64 / age.as_secs_f64(),
            _ => 0.0,
        };
        next.insert(cell.get_id(), (now, handled));
        let queue = match (&obs.sessions, kind.as_str()) {
            (Some(v), "worker") => v.queue_of(&name, cell.get_id()),
            _ => None,
        };
        out.push(Listed {
            figures: ActorFigures {
                id: name,
                actor_id: cell.get_id().to_string(),
                kind,
                path,
                status,
                mailbox: cell.mailbox_len(),
                handled,
                rate: (rate * 100.0).round() / 100.0,
                age_ms: u64::try_from(age.as_millis()).unwrap_or(u64::MAX),
                restarts,
                queued: queue.as_ref().map(|q| q.items()),
                queued_bytes: queue.as_ref().map(|q| q.bytes()),
                supervisor: sup,
            },
            cell,
        });
    };

    // The supervisors and their children, from the report.
    let mut seen = std::collections::HashSet::new();
    let root_id = root.get_id().to_string();
    seen.insert(root_id.clone());
    add(
        report.id.clone(),
        "supervisor".into(),
        Vec::new(),
        status_of(root),
        0,
        Some(sup_figures(report)),
        root.clone(),
    );
    let mut todo = vec![(report, vec![report.id.clone()])];
    while let Some((sup, path)) = todo.pop() {
        for child in &sup.children {
            let Some(aid) = &child.actor_id else { continue };
            let Some((cell, _)) = cells.get(aid) else {
                continue;
            };
            seen.insert(aid.clone());
            add(
                child.id.clone(),
                child.kind.clone(),
                path.clone(),
                child.status.clone(),
                child.restarts,
                child.supervisor.as_deref().map(sup_figures),
                cell.clone(),
            );
            if let Some(nested) = child.supervisor.as_deref() {
                let mut p = path.clone();
                p.push(child.id.clone());
                todo.push((nested, p));
            }
        }
    }
    // Linked actors no supervisor reports.
    for aid in order {
        if seen.contains(&aid) {
            continue;
        }
        let Some((cell, parent)) = cells.get(&aid) else {
            continue;
        };
        let path = parent
            .as_ref()
            .and_then(|p| cells.get(p))
            .map(|(pc, _)| path_of(pc, &cells))
            .unwrap_or_default();
        let name = match otp::tree_name(cell.get_id().pid()) {
            Some(otp::TreeName::Child(n)) => n.to_string(),
            _ => aid.clone(),
        };
        add(
            name,
            "actor".into(),
            path,
            status_of(cell),
            0,
            None,
            cell.clone(),
        );
    }
    *samples = next;
    out
}

/// The tree names from the root down to and including `cell`.
fn path_of(cell: &ActorCell, cells: &HashMap<String, (ActorCell, Option<String>)>) -> Vec<String> {
    let mut path = Vec::new();
    let mut cur = Some(cell.get_id().to_string());
    while let Some(id) = cur {
        let Some((c, parent)) = cells.get(&id) else {
            break;
        };
        path.push(match otp::tree_name(c.get_id().pid()) {
            Some(otp::TreeName::Child(n) | otp::TreeName::DynamicChildOf(n)) => n.to_string(),
            None => id.clone(),
        });
        cur = parent.clone();
    }
    path.reverse();
    path
}

fn status_of(cell: &ActorCell) -> String {
    format!("{:?}", cell.get_status()).to_lowercase()
}

fn sup_figures(r: &SupervisorReport) -> SupervisorFigures {
    SupervisorFigures {
        strategy: r.strategy.clone(),
        restarts: r.restarts,
        child_count: r.child_count,
    }
}

/// How `/actors` sorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sort {
    /// Deepest mailbox first.
    Mailbox,
    /// Highest rate first.
    Rate,
    /// Youngest first (recent restarts surface).
    Age,
    /// Sessions with the longest outgoing queue first (then the most bytes; sessions before
    /// other actors).
    Queued,
}

impl Sort {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "mailbox" => Some(Self::Mailbox),
            "rate" => Some(Self::Rate),
            "age" => Some(Self::Age),
            "queued" => Some(Self::Queued),
            _ => None,
        }
    }
}

/// Sort `rows` by `sort` (ties: tree order) and keep the first `limit`.
pub(crate) fn top(mut rows: Vec<ActorFigures>, sort: Sort, limit: usize) -> Vec<ActorFigures> {
    match sort {
        Sort::Mailbox => rows.sort_by_key(|a| std::cmp::Reverse(a.mailbox)),
        Sort::Rate => rows.sort_by(|a, b| b.rate.total_cmp(&a.rate)),
        Sort::Age => rows.sort_by_key(|a| a.age_ms),
        Sort::Queued => rows.sort_by_key(|a| {
            let q = (a.queued.unwrap_or(0), a.queued_bytes.unwrap_or(0));
            std::cmp::Reverse((q, a.queued.is_some()))
        }),
    }
    rows.truncate(limit);
    rows
}

/// Whether `id` looks like a ractor actor id (`<node>.<pid>`).
pub(crate) fn is_actor_id(id: &str) -> bool {
    id.split_once('.').is_some_and(|(n, p)| {
        !n.is_empty()
            && !p.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && p.bytes().all(|b| b.is_ascii_digit())
    })
}

/// The listed actor `id` names: an actor id, else the first tree name that matches.
pub(crate) fn find(listed: Vec<Listed>, id: &str) -> Option<Listed> {
    if is_actor_id(id) {
        listed.into_iter().find(|l| l.figures.actor_id == id)
    } else {
        listed.into_iter().find(|l| l.figures.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_actor_ids() {
        assert!(is_actor_id("0.42"));
        assert!(!is_actor_id("pool:backend"));
        assert!(!is_actor_id("0."));
        assert!(!is_actor_id("a.1"));
    }

    #[test]
    fn parses_sorts() {
        assert_eq!(Sort::parse("mailbox"), Some(Sort::Mailbox));
        assert_eq!(Sort::parse("rate"), Some(Sort::Rate));
        assert_eq!(Sort::parse("age"), Some(Sort::Age));
        assert_eq!(Sort::parse("queued"), Some(Sort::Queued));
        assert_eq!(Sort::parse("memory"), None);
    }
}
