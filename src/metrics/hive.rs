//! Node-wide gauges (`hive.*`, `hive.cluster.*`) and the router's counters (`hive.router.*`).

use super::counter::Counter;
use super::names::LazyCounter;

metric_group! {
    /// `hive.*`: node uptime, process count and memory gauges. Set by the env refresher and by the
    /// admin listener before it answers; the `hive.memory.*` gauges other than `total` stay 0. `killed_actors` (listed from the first)
    /// counts actors killed through the monitor's `POST /actors/<id>/kill`.
    HiveMetrics {
        uptime: Counter = "hive.uptime",
        errors: Counter = "hive.errors",
        total_processes: Counter = "hive.total_processes",
        memory_total: Counter = "hive.memory.total",
        memory_processes: Counter = "hive.memory.processes",
        memory_system: Counter = "hive.memory.system",
        memory_atom: Counter = "hive.memory.atom",
        memory_binary: Counter = "hive.memory.binary",
        memory_code: Counter = "hive.memory.code",
        memory_ets: Counter = "hive.memory.ets",
        killed_actors: LazyCounter = "hive.killed_actors",
    }
}

metric_group! {
    /// `hive.cluster.*`: a single node (`size` is 1).
    ClusterMetrics {
        size: Counter = "hive.cluster.size",
        calls: Counter = "hive.cluster.calls",
        casts: Counter = "hive.cluster.casts",
        errors: Counter = "hive.cluster.errors",
    }
}

metric_group! {
    /// `hive.router.*`: held by the router. `killed_sessions` is listed once a graceful termination
    /// killed a session.
    RouterMetrics {
        uptime: Counter = "hive.router.uptime",
        spawned_clients: Counter = "hive.router.spawned_clients",
        current_clients: Counter = "hive.router.current_clients",
        requests: Counter = "hive.router.requests",
        msg_queue_length: Counter = "hive.router.msg_queue_length",
        routed_events: Counter = "hive.router.routed_events",
        routed_msgs: Counter = "hive.router.routed_msgs",
        errors: Counter = "hive.router.errors",
        killed_sessions: LazyCounter = "hive.router.killed_sessions",
    }
}
