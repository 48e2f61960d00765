//! Session counters: `clients.*`, `clients.states.*`, `clients.events.*`, `clients.state_mgr.*`.

use super::counter::Counter;

metric_group! {
    /// `clients.*`: sessions started, per transport, failed and dropped as too slow.
    ClientMetrics {
        total: Counter = "clients.total",
        websocket: Counter = "clients.websocket",
        xhr_polling: Counter = "clients.xhr_polling",
        errors: Counter = "clients.errors",
        slow_dropped: Counter = "clients.slow_dropped",
    }
}

metric_group! {
    /// `clients.states.*`: one gauge per live session phase, and the phase changes.
    ClientStateMetrics {
        generic: Counter = "clients.states.generic",
        transient: Counter = "clients.states.transient",
        waiting: Counter = "clients.states.waiting",
        polling: Counter = "clients.states.polling",
        transitions: Counter = "clients.states.transitions",
    }
}

metric_group! {
    /// `clients.events.*`: external (browser), internal (dispatched) and control events.
    EventMetrics {
        total: Counter = "clients.events.total",
        errors: Counter = "clients.events.errors",
        external: Counter = "clients.events.external",
        internal: Counter = "clients.events.internal",
        control: Counter = "clients.events.control",
        external_errors: Counter = "clients.events.external_errors",
        internal_errors: Counter = "clients.events.internal_errors",
        control_errors: Counter = "clients.events.control_errors",
    }
}

metric_group! {
    /// `clients.state_mgr.*`: calls into the session's state manager.
    StateMgrMetrics {
        requests: Counter = "clients.state_mgr.requests",
        errors: Counter = "clients.state_mgr.errors",
        init: Counter = "clients.state_mgr.init",
        get: Counter = "clients.state_mgr.get",
        set: Counter = "clients.state_mgr.set",
        cleanup: Counter = "clients.state_mgr.cleanup",
    }
}

impl StateMgrMetrics {
    /// Count one state-manager call: `requests` and the call's own counter (`get`, `set`, ...).
    pub fn call(&self, which: &Counter) {
        self.requests.inc();
        which.inc();
    }
}
