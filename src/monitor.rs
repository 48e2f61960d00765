//! The former `hive::monitor` path, kept so existing imports (tests, benches, the `hive tree`
//! docs) still resolve: re-exports of the admin listener ([`crate::admin`]) and of the metrics
//! registry ([`crate::metrics`]). New code imports from those two modules.

pub use crate::admin::{
    BoxFut, Health, MonitorCtx, PoolHealth, TREE_HTML, TreeQuery, fetch_and_print_tree,
    graft_subtree, metric_subtree, nest_metrics, render_prometheus, render_tree_text, serve,
    serve_with,
};
pub use crate::metrics::{Counter, INIT_METRICS, Metrics};
