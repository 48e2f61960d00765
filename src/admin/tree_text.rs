//! The supervision tree as box-drawing text, for `hive tree` in a terminal.
//!
//! ```text
//! root_sup (one_for_one, 3/10s, restarts 0)
//! ├─ router_sup (one_for_all, 5/30s, restarts 0)
//! │  ├─ router (worker, permanent, running)
//! │  └─ clients_sup (simple_one_for_one, 0/5s, restarts 0) [12 children]
//! └─ web_sup (one_for_one, 5/10s, restarts 1)
//! ```

use std::fmt::Write as _;

use otp::{ChildReport, SupervisorReport};

/// Render a supervisor and everything below it, one node per line.
pub fn render_tree_text(r: &SupervisorReport) -> String {
    let mut out = String::new();
    out.push_str(&supervisor_line(r));
    out.push('\n');
    children(&mut out, r, "");
    out
}

/// `id (strategy, max/secs s, restarts n)` plus `[n children]` for dynamic supervisors.
fn supervisor_line(r: &SupervisorReport) -> String {
    let mut s = format!(
        "{} ({}, {}/{}s, restarts {})",
        r.id, r.strategy, r.intensity.max_restarts, r.intensity.max_seconds, r.restarts
    );
    if r.strategy == "simple_one_for_one" || r.children_truncated {
        let noun = if r.child_count == 1 {
            "child"
        } else {
            "children"
        };
        let _ = write!(s, " [{} {noun}", r.child_count);
        if let Some(max) = r.max_children {
            let _ = write!(s, ", max {max}");
        }
        s.push(']');
    }
    s
}

/// `id (kind, restart, status[, restarts n])` for a worker; a supervisor child uses its report.
fn child_line(c: &ChildReport) -> String {
    let mut s = match &c.supervisor {
        Some(sup) => supervisor_line(sup),
        None => format!("{} ({}, {}, {}", c.id, c.kind, c.restart, c.status),
    };
    if c.supervisor.is_none() {
        if c.restarts > 0 {
            let _ = write!(s, ", restarts {}", c.restarts);
        }
        s.push(')');
    } else {
        if c.status != "running" {
            let _ = write!(s, " {}", c.status);
        }
        if c.restarts > 0 {
            let _ = write!(s, " (restarted {}x)", c.restarts);
        }
    }
    s
}

fn children(out: &mut String, r: &SupervisorReport, indent: &str) {
    let hidden = r.child_count.saturating_sub(r.children.len());
    let more = r.children_truncated && hidden > 0;
    let n = r.children.len();
    for (i, c) in r.children.iter().enumerate() {
        let last = i + 1 == n && !more;
        let (branch, cont) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        let _ = writeln!(out, "{indent}{branch}{}", child_line(c));
        if let Some(sup) = &c.supervisor {
            children(out, sup, &format!("{indent}{cont}"));
        }
    }
    if more && n > 0 {
        let _ = writeln!(out, "{indent}└─ … {hidden} more not listed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otp::IntensityReport;

    fn sup(id: &str, strategy: &str, children: Vec<ChildReport>, count: usize) -> SupervisorReport {
        SupervisorReport {
            id: id.into(),
            strategy: strategy.into(),
            intensity: IntensityReport {
                max_restarts: 3,
                max_seconds: 10,
            },
            restarts: 0,
            child_count: count,
            max_children: None,
            children_truncated: count > children.len(),
            children,
        }
    }

    fn worker(id: &str) -> ChildReport {
        ChildReport {
            id: id.into(),
            kind: "worker".into(),
            restart: "permanent".into(),
            restarts: 0,
            status: "running".into(),
            actor_id: None,
            supervisor: None,
        }
    }

    #[test]
    fn renders_box_drawing_tree() {
        let clients = sup("clients_sup", "simple_one_for_one", vec![worker("s1")], 12);
        let mut router_sup = worker("router_sup");
        router_sup.kind = "supervisor".into();
        router_sup.supervisor = Some(Box::new(sup(
            "router_sup",
            "one_for_all",
            vec![worker("router"), {
                let mut c = worker("clients_sup");
                c.supervisor = Some(Box::new(clients));
                c
            }],
            2,
        )));
        let mut cfg = worker("config");
        cfg.restarts = 2;
        let root = sup("root_sup", "one_for_one", vec![router_sup, cfg], 2);
        let text = render_tree_text(&root);
        let want = "\
root_sup (one_for_one, 3/10s, restarts 0)
├─ router_sup (one_for_all, 3/10s, restarts 0)
│  ├─ router (worker, permanent, running)
│  └─ clients_sup (simple_one_for_one, 3/10s, restarts 0) [12 children]
│     ├─ s1 (worker, permanent, running)
│     └─ … 11 more not listed
└─ config (worker, permanent, running, restarts 2)
";
        assert_eq!(text, want);
    }
}
