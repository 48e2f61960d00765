//! The admin (monitor) listener (HIVE.md section 10): everything that reads the metrics and the
//! supervision tree for an operator. The counters themselves live in [`crate::metrics`].
//!
//! - `ctx`: [`MonitorCtx`], the only coupling between the monitor listener and the rest of the app.
//! - `server` / `routes`: the hyper listener and its pure request router ([`serve`]); URLs are
//!   `/monitor/<hash>/...` and the config section is `monitor`.
//! - `relay`: `?node=<name>` and `?node=all` on every route (another node's answer, or all of
//!   them, through the cluster).
//! - `nested`, `prometheus`: the two metric renderings (Hive's nested JSON, Prometheus text 0.0.4).
//! - `derived`: gauges the monitor computes itself before answering (uptime, RSS, tasks).
//! - `graft`: [`graft_subtree`], for tree nodes that describe themselves (connectors).
//! - `health`: [`Health`] of the router and pools.
//! - `observer`: per-actor figures, the top-N actor table and kills ([`Observer`]).
//! - `sessions`: one session, disconnecting it, and the channels ([`SessionsView`]).
//! - `dashboard_html`: the dashboard page (`/dashboard`; its charts read `/dashboard/series`).
//! - `top`: `hive top`, the live terminal view ([`run_top`]).
//! - `tree_text`, `tree_html`, `client`: the supervision tree as text (`hive tree`) and as a page.

mod client;
mod ctx;
mod dashboard_html;
mod derived;
mod graft;
mod health;
mod nested;
mod observer;
mod prometheus;
mod relay;
mod routes;
mod server;
mod sessions;
mod top;
mod tree_html;
mod tree_text;

pub use client::{fetch_and_print_node_tree, fetch_and_print_tree};
pub use ctx::{BoxFut, MonitorCtx, TreeQuery};
pub use dashboard_html::DASHBOARD_HTML;
pub use graft::graft_subtree;
pub use health::{ClusterHealth, Health, PoolHealth};
pub use nested::{metric_subtree, nest_metrics};
pub use observer::{ActorFigures, Observer, SupervisorFigures};
pub use prometheus::render_prometheus;
pub use server::{serve, serve_with};
pub use sessions::SessionsView;
pub use top::{TopData, TopSort, fetch_top, render_top, run_top};
pub use tree_html::TREE_HTML;
pub use tree_text::render_tree_text;
