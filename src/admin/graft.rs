//! Grafting a subsystem's own report into the tree snapshot.
//!
//! Some nodes of the tree are actors that are not generic supervisors (the connectors manager's
//! `connectors_sup`): the generic report lists them as a `supervisor` child without a nested
//! report. The subsystem can describe itself (`Connectors::supervisor_report()`); the app grafts
//! that report in before the monitor serves the tree.

use otp::SupervisorReport;

/// Put `sub` under the child whose id is `sub.id` anywhere in `tree` (replacing any nested report
/// it had). Returns false when no such child exists.
pub fn graft_subtree(tree: &mut SupervisorReport, sub: SupervisorReport) -> bool {
    let mut sub = Some(sub);
    graft(tree, &mut sub);
    sub.is_none()
}

fn graft(tree: &mut SupervisorReport, sub: &mut Option<SupervisorReport>) {
    for child in &mut tree.children {
        let Some(s) = sub.as_ref() else { return };
        if child.id == s.id {
            child.supervisor = sub.take().map(Box::new);
            return;
        }
        if let Some(nested) = child.supervisor.as_deref_mut() {
            graft(nested, sub);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otp::{ChildReport, IntensityReport};

    fn sup(id: &str, children: Vec<ChildReport>) -> SupervisorReport {
        SupervisorReport {
            id: id.into(),
            strategy: "one_for_one".into(),
            intensity: IntensityReport {
                max_restarts: 5,
                max_seconds: 10,
            },
            restarts: 0,
            child_count: children.len(),
            max_children: None,
            children,
            children_truncated: false,
        }
    }

    fn child(id: &str, nested: Option<SupervisorReport>) -> ChildReport {
        ChildReport {
            id: id.into(),
            kind: "supervisor".into(),
            restart: "permanent".into(),
            restarts: 0,
            status: "running".into(),
            actor_id: None,
            supervisor: nested.map(Box::new),
        }
    }

    #[test]
    fn grafts_at_depth_and_reports_misses() {
        let hive_sup = sup("hive_sup", vec![child("connectors_sup", None)]);
        let mut root = sup("root_sup", vec![child("hive_sup", Some(hive_sup))]);
        let pools = sup("connectors_sup", vec![child("pool:backend", None)]);
        assert!(graft_subtree(&mut root, pools));
        let hive = root.children[0].supervisor.as_ref().unwrap();
        let got = hive.children[0].supervisor.as_ref().unwrap();
        assert_eq!(got.children[0].id, "pool:backend");
        assert!(!graft_subtree(&mut root, sup("nowhere", vec![])));
    }
}
