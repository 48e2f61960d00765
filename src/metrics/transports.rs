//! Socket.IO listener counters: `clients.transports.http.*`, `clients.transports.websocket.*` and
//! the modern protocol's `clients.transports.eio.*`.

use super::counter::Counter;

metric_group! {
    /// `clients.transports.http.*`: every HTTP request of the Socket.IO listener, by reply class.
    HttpTransportMetrics {
        requests: Counter = "clients.transports.http.requests",
        errors: Counter = "clients.transports.http.errors",
        status_2xx: Counter = "clients.transports.http.2XX",
        status_4xx: Counter = "clients.transports.http.4XX",
        status_5xx: Counter = "clients.transports.http.5XX",
        status_other: Counter = "clients.transports.http.???",
        hang_up: Counter = "clients.transports.http.hang_up",
    }
}

impl HttpTransportMetrics {
    /// The reply-class counter of an HTTP status (`2XX`, `4XX`, `5XX`, else `???`).
    pub fn status(&self, status: u16) -> &Counter {
        match status {
            200..=299 => &self.status_2xx,
            400..=499 => &self.status_4xx,
            500..=599 => &self.status_5xx,
            _ => &self.status_other,
        }
    }
}

metric_group! {
    /// `clients.transports.websocket.*`: upgrades, frames read, batches written (`ok`), bad frames
    /// and hang-ups.
    WebsocketTransportMetrics {
        requests: Counter = "clients.transports.websocket.requests",
        errors: Counter = "clients.transports.websocket.errors",
        frames: Counter = "clients.transports.websocket.frames",
        ok: Counter = "clients.transports.websocket.ok",
        bad: Counter = "clients.transports.websocket.bad",
        hang_up: Counter = "clients.transports.websocket.hang_up",
    }
}

metric_group! {
    /// `clients.transports.eio.*`: the modern protocol's Engine.IO sessions (gauges per revision)
    /// and what ends or refuses them.
    EioTransportMetrics {
        handshakes: Counter = "clients.transports.eio.handshakes",
        v3: Counter = "clients.transports.eio.v3",
        v4: Counter = "clients.transports.eio.v4",
        upgrades: Counter = "clients.transports.eio.upgrades",
        ping_timeouts: Counter = "clients.transports.eio.ping_timeouts",
        errors: Counter = "clients.transports.eio.errors",
        connect_errors: Counter = "clients.transports.eio.connect_errors",
    }
}
