//! Hive's nested JSON rendering of metrics (HIVE.md 10.2): `a.b.c = 1` becomes `{"a":{"b":{"c":1}}}`.
//!
//! Leaves are integers except `hive.cluster.nodes`, an array of node names. When a name is both a
//! leaf and a section (`a.b = 1` and `a.b.c = 2`) the section wins and the leaf value is kept under
//! the key `_value` (`{"a":{"b":{"_value":1,"c":2}}}`); Hive's own names never collide.

use serde_json::{Map, Value};

/// Metric name of the node list.
pub(crate) const CLUSTER_NODES: &str = "hive.cluster.nodes";

/// Key holding a leaf value shadowed by a section of the same name.
const SHADOWED_LEAF: &str = "_value";

/// True when `name` equals `prefix` or starts with it at a segment boundary.
pub(crate) fn matches_prefix(name: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || name == prefix
        || (name.len() > prefix.len()
            && name.starts_with(prefix)
            && name.as_bytes().get(prefix.len()) == Some(&b'.'))
}

/// Insert `value` at the dotted path `name` into `root`.
fn insert(root: &mut Map<String, Value>, name: &str, value: Value) {
    let mut segs = name.split('.').peekable();
    let mut cur = root;
    while let Some(seg) = segs.next() {
        if segs.peek().is_none() {
            match cur.get_mut(seg) {
                Some(Value::Object(section)) => {
                    section.insert(SHADOWED_LEAF.to_string(), value);
                }
                _ => {
                    cur.insert(seg.to_string(), value);
                }
            }
            return;
        }
        let slot = cur
            .entry(seg.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            let leaf = std::mem::replace(slot, Value::Object(Map::new()));
            if let Value::Object(section) = slot {
                section.insert(SHADOWED_LEAF.to_string(), leaf);
            }
        }
        match slot {
            Value::Object(section) => cur = section,
            // Made an object just above.
            _ => return,
        }
    }
}

/// Every metric plus the node list as one nested JSON object.
pub fn nest_metrics(metrics: &[(String, i64)], nodes: &[String]) -> Value {
    metric_subtree(metrics, nodes, "").unwrap_or_else(|| Value::Object(Map::new()))
}

/// The metrics matching `prefix` (at a segment boundary), still wrapped in the full nesting;
/// `None` when nothing matches. An empty prefix selects everything.
pub fn metric_subtree(metrics: &[(String, i64)], nodes: &[String], prefix: &str) -> Option<Value> {
    let mut root = Map::new();
    let mut found = false;
    let mut nodes_done = false;
    for (name, v) in metrics {
        // Keep the node list in sorted position among the metric names.
        if !nodes_done && name.as_str() > CLUSTER_NODES {
            nodes_done = true;
            if matches_prefix(CLUSTER_NODES, prefix) {
                insert(&mut root, CLUSTER_NODES, nodes_value(nodes));
                found = true;
            }
        }
        if matches_prefix(name, prefix) {
            insert(&mut root, name, Value::from(*v));
            found = true;
        }
    }
    if !nodes_done && matches_prefix(CLUSTER_NODES, prefix) {
        insert(&mut root, CLUSTER_NODES, nodes_value(nodes));
        found = true;
    }
    found.then_some(Value::Object(root))
}

fn nodes_value(nodes: &[String]) -> Value {
    Value::Array(nodes.iter().map(|n| Value::String(n.clone())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
        pairs.iter().map(|(k, v)| ((*k).to_string(), *v)).collect()
    }

    #[test]
    fn nests_on_dots_with_node_list() {
        let ms = m(&[
            ("api.requests", 2),
            ("hive.cluster.size", 1),
            ("hive.uptime", 5),
        ]);
        let v = nest_metrics(&ms, &["hive@a".into()]);
        assert_eq!(
            v,
            json!({"api":{"requests":2},"hive":{"cluster":{"nodes":["hive@a"],"size":1},"uptime":5}})
        );
    }

    #[test]
    fn prefix_matches_only_at_segment_boundaries() {
        let ms = m(&[
            ("hive.memory.total", 7),
            ("hive.memoryx", 1),
            ("hive.uptime", 3),
        ]);
        assert_eq!(
            metric_subtree(&ms, &[], "hive.memory"),
            Some(json!({"hive":{"memory":{"total":7}}}))
        );
        assert_eq!(metric_subtree(&ms, &[], "hive.mem"), None);
        assert_eq!(
            metric_subtree(&ms, &[], "hive.uptime"),
            Some(json!({"hive":{"uptime":3}}))
        );
        assert_eq!(
            metric_subtree(&ms, &["n".into()], "hive.cluster"),
            Some(json!({"hive":{"cluster":{"nodes":["n"]}}}))
        );
    }

    #[test]
    fn leaf_and_section_collision_keeps_both() {
        let ms = m(&[("a.b", 1), ("a.b.c", 2)]);
        assert_eq!(
            nest_metrics(&ms, &[]),
            json!({"a":{"b":{"_value":1,"c":2}},"hive":{"cluster":{"nodes":[]}}})
        );
        let mut root = Map::new();
        insert(&mut root, "x.y.z", json!(2));
        insert(&mut root, "x.y", json!(1));
        assert_eq!(Value::Object(root), json!({"x":{"y":{"z":2,"_value":1}}}));
    }
}
