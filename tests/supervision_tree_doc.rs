//! `supervisor-trees.md` and the live tree agree: every node the document draws exists in a running
//! node (with the strategy and intensity the document gives), and every supervisor and static child
//! of the running node is in the document.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::{TestHive, root};
use otp::SupervisorReport;
use serde_json::json;

/// One node of the document's tree: name, and for supervisors "strategy N/Ts".
fn doc_nodes() -> Vec<(String, Option<String>)> {
    let text = std::fs::read_to_string(root().join("supervisor-trees.md")).unwrap();
    let start = text.find("## The tree").expect("a '## The tree' section");
    let block = &text[start..];
    let open = block.find("```text").expect("a text block") + "```text".len();
    let close = open + block[open..].find("```").unwrap();
    let mut out = Vec::new();
    for line in block[open..close].lines() {
        let body = line.trim_start_matches(|c: char| "│├└─ ".contains(c));
        let mut words = body.split_whitespace();
        let Some(name) = words.next() else { continue };
        let rest: Vec<&str> = words.collect();
        let sup = match rest.as_slice() {
            [strategy, intensity, ..] if strategy.contains("one_for") => {
                Some(format!("{strategy} {intensity}"))
            }
            _ => None,
        };
        out.push((name.to_string(), sup));
    }
    out
}

/// `pool:<name>` matches `pool:backend`; plain names match themselves.
fn matches(pattern: &str, name: &str) -> bool {
    let Some(i) = pattern.find('<') else {
        return pattern == name;
    };
    let prefix = &pattern[..i];
    if !name.starts_with(prefix) {
        return false;
    }
    let ps: Vec<&str> = pattern.split(':').collect();
    let ns: Vec<&str> = name.split(':').collect();
    ps.len() == ns.len()
        && ps
            .iter()
            .zip(&ns)
            .all(|(p, n)| p.starts_with('<') || p == n)
}

fn live(r: &SupervisorReport, out: &mut BTreeMap<String, Option<String>>) {
    let sup = format!(
        "{} {}/{}s",
        r.strategy, r.intensity.max_restarts, r.intensity.max_seconds
    );
    out.insert(r.id.clone(), Some(sup));
    if r.strategy == "simple_one_for_one" {
        return; // dynamic children (sessions, channels) are not part of the static tree
    }
    for c in &r.children {
        match &c.supervisor {
            Some(s) => live(s, out),
            None => {
                out.entry(c.id.clone()).or_insert(None);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_and_live_tree_agree() {
    // A TCP pool needs no backend to start (Hive listens); a backend connecting in is a worker.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let h = TestHive::start(json!({"connectors": {"pools": {"tcpb": {
        "connector": "connector.tcp", "size": 2, "overflow": 1,
        "args": {"port": port, "restart_timeout": 60000}}}}}))
    .await;
    let _backend = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut nodes = BTreeMap::new();
    for _ in 0..200 {
        nodes.clear();
        live(&h.node().tree(None).await.unwrap(), &mut nodes);
        if nodes.keys().any(|n| n.starts_with("worker:")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let doc = doc_nodes();
    assert!(doc.len() >= 15, "parsed the document's tree: {doc:?}");
    for (name, sup) in &doc {
        if name.starts_with('<') {
            continue; // dynamic children: <sid>, <cid>
        }
        let found: Vec<(&String, &Option<String>)> =
            nodes.iter().filter(|(n, _)| matches(name, n)).collect();
        assert!(
            !found.is_empty(),
            "supervisor-trees.md draws {name}, the live tree has no such node: {nodes:?}"
        );
        if let Some(sup) = sup {
            for (n, live_sup) in &found {
                assert_eq!(
                    live_sup.as_ref(),
                    Some(sup),
                    "strategy/intensity of {n} differ from the document"
                );
            }
        }
    }
    for n in nodes.keys() {
        assert!(
            doc.iter().any(|(d, _)| matches(d, n)),
            "the live node {n} is missing from supervisor-trees.md"
        );
    }
    h.stop().await;
}
