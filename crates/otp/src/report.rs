//! Serializable snapshots of a live supervision tree, for an admin endpoint or a command-line view.

use serde::{Deserialize, Serialize};

/// Restart intensity as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntensityReport {
    /// Maximum restarts ...
    pub max_restarts: u32,
    /// ... within this many seconds.
    pub max_seconds: u64,
}

/// One supervisor and its children.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SupervisorReport {
    /// The supervisor's id (its name in `supervisor-trees.md`, e.g. `router_sup`).
    pub id: String,
    /// `one_for_one`, `one_for_all`, `rest_for_one` or `simple_one_for_one` (dynamic).
    pub strategy: String,
    /// Restart intensity.
    pub intensity: IntensityReport,
    /// Restarts this supervisor has performed since it started.
    pub restarts: u32,
    /// Number of live children.
    pub child_count: usize,
    /// Dynamic supervisors: the configured cap, if any.
    pub max_children: Option<usize>,
    /// The children listed (for dynamic supervisors possibly a page of them).
    pub children: Vec<ChildReport>,
    /// True when `children` does not list every child (dynamic supervisors, paging).
    pub children_truncated: bool,
}

/// One child of a supervisor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildReport {
    /// Child id (static: from its spec; dynamic: e.g. the sid or channel id).
    pub id: String,
    /// `worker` or `supervisor`.
    pub kind: String,
    /// `permanent`, `transient` or `temporary`.
    pub restart: String,
    /// How often this child was restarted.
    pub restarts: u32,
    /// `running`, `restarting`, `stopped` or `failed`.
    pub status: String,
    /// The ractor actor id of the current incarnation, if running.
    pub actor_id: Option<String>,
    /// When the child is itself a supervisor: its report.
    pub supervisor: Option<Box<SupervisorReport>>,
}

impl SupervisorReport {
    /// The direct child `id`, if listed.
    pub fn child(&self, id: &str) -> Option<&ChildReport> {
        self.children.iter().find(|c| c.id == id)
    }

    /// The nested supervisor report at `path` (child ids from this supervisor down), if listed;
    /// the empty path is this report.
    pub fn find(&self, path: &[&str]) -> Option<&SupervisorReport> {
        match path.split_first() {
            None => Some(self),
            Some((first, rest)) => self.child(first)?.supervisor.as_deref()?.find(rest),
        }
    }

    /// Every supervisor in this subtree as `(path, report)`, depth first (parents before children); the path joins ids
    /// with `/` starting with this supervisor's id (e.g. `app_sup/worker_sup`).
    pub fn supervisors(&self) -> Vec<(String, &SupervisorReport)> {
        let mut out = Vec::new();
        self.collect(self.id.clone(), &mut out);
        out
    }

    fn collect<'a>(&'a self, path: String, out: &mut Vec<(String, &'a SupervisorReport)>) {
        out.push((path.clone(), self));
        for child in &self.children {
            if let Some(sub) = child.supervisor.as_deref() {
                sub.collect(format!("{path}/{}", child.id), out);
            }
        }
    }
}
