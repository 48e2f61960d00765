//! `HiveError`: every error a user, client or backend can cause, with Hive's stable codes.
//!
//! Each variant maps to one of the original's documented error codes (HIVE.md 11.3) through
//! [`HiveError::code`]; `Display` is the human description. Errors are mapped to the wire once, at
//! the edges: [`HiveError::to_reply`] for the API/monitor/handshake JSON bodies and
//! [`HiveError::to_client_event`] for the `hive_error` Socket.IO event sent to browsers.

use serde_json::{Value, json};

/// Build mode (HIVE.md 1.5): in `Prod` every error sent to a browser is masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Development: browsers get the real code and description.
    #[default]
    Dev,
    /// Production: browsers get `internal_error` / `Internal server error.`.
    Prod,
}

/// A Hive error: a stable code plus a human description.
///
/// The set of codes is Hive's; new codes are only added where the original had none for a
/// situation (each is listed in `docs/compat.md`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HiveError {
    /// API: bad hash, method or action.
    #[error("{0}")]
    BadApiRequest(String),
    /// Monitor: bad hash, metric or method.
    #[error("{0}")]
    BadMonitorRequest(String),
    /// Malformed request (origin on handshake, bad method, invalid API data).
    #[error("{0}")]
    BadRequest(String),
    /// Origin check failed on a transport request.
    #[error("{0}")]
    BadOrigin(String),
    /// Router disabled or a client could not be spawned.
    #[error("{0}")]
    RouterError(String),
    /// Unknown session id.
    #[error("{0}")]
    BadSessionId(String),
    /// Client-side protocol error (unsupported frame, init failure).
    #[error("{0}")]
    ClientError(String),
    /// `action.stop`.
    #[error("{0}")]
    Stopped(String),
    /// `action.error`, or any internal failure.
    #[error("{0}")]
    InternalError(String),
    /// Invalid internal event or unknown action alias.
    #[error("{0}")]
    BadInternalEvent(String),
    /// Invalid external (client) event.
    #[error("{0}")]
    BadExternalEvent(String),
    /// JSON that does not parse.
    #[error("{0}")]
    InvalidJson(String),
    /// Pub-sub prefix without a template.
    #[error("{0}")]
    BadChannelId(String),
    /// Status request for a channel that does not exist.
    #[error("{0}")]
    UnknownChannelId(String),
    /// Insufficient pub-sub privilege.
    #[error("{0}")]
    AccessDenied(String),
    /// Channel actor could not be spawned.
    #[error("{0}")]
    PubsubError(String),
    /// Pool start/initialisation failure.
    #[error("{0}")]
    ConnectorsError(String),
    /// Worker rent/return failure.
    #[error("{0}")]
    ConnectorError(String),
    /// Unknown pool name.
    #[error("{0}")]
    BadConnectorId(String),
    /// Invalid pool/hook/action descriptor (the original's code for all three).
    #[error("{0}")]
    BadConnectorDescriptor(String),
    /// HTTP connector failure.
    #[error("{0}")]
    HttpError(String),
    /// TCP connector failure.
    #[error("{0}")]
    TcpError(String),
    /// Redis failure.
    #[error("{0}")]
    RedisError(String),
    /// Redis unreachable past the reconnect budget.
    #[error("{0}")]
    NoConnection(String),
    /// Configuration problems.
    #[error("{0}")]
    InvalidConfig(String),
    /// Start-up failure of a server component.
    #[error("{0}")]
    Startup(String),
    /// Outgoing buffer overflow / slow consumer (new in this implementation).
    #[error("{0}")]
    SlowClient(String),
    /// Session slot limit reached (new code; the original answered 403 with an empty body).
    #[error("{0}")]
    NoSlots(String),
    /// The cluster's backplane (Redis) cannot take a publish: nothing was delivered (new code).
    #[error("{0}")]
    BackplaneUnavailable(String),
}

impl HiveError {
    /// The stable, documented error code (HIVE.md 11.3).
    pub fn code(&self) -> &'static str {
        use HiveError::*;
        match self {
            BadApiRequest(_) => "bad_api_request",
            BadMonitorRequest(_) => "bad_monitor_request",
            BadRequest(_) => "bad_request",
            BadOrigin(_) => "bad_origin",
            RouterError(_) => "router_error",
            BadSessionId(_) => "bad_session_id",
            ClientError(_) => "client_error",
            Stopped(_) => "stopped",
            InternalError(_) => "internal_error",
            BadInternalEvent(_) => "bad_internal_event",
            BadExternalEvent(_) => "bad_external_event",
            InvalidJson(_) => "invalid_json",
            BadChannelId(_) => "bad_channel_id",
            UnknownChannelId(_) => "unknown_channel_id",
            AccessDenied(_) => "access_denied",
            PubsubError(_) => "pubsub_error",
            ConnectorsError(_) => "connectors_error",
            ConnectorError(_) => "connector_error",
            BadConnectorId(_) => "bad_connector_id",
            BadConnectorDescriptor(_) => "bad_connector_descriptor",
            HttpError(_) => "http_error",
            TcpError(_) => "tcp_error",
            RedisError(_) => "redis_error",
            BackplaneUnavailable(_) => "backplane_unavailable",
            NoConnection(_) => "no_connection",
            InvalidConfig(_) => "invalid_config",
            Startup(_) => "hive_error",
            SlowClient(_) => "slow_client",
            NoSlots(_) => "no_slots",
        }
    }

    /// The human description.
    pub fn description(&self) -> String {
        self.to_string()
    }

    /// `{"error": code, "description": text}` (HIVE.md 11.1).
    pub fn to_reply(&self) -> Value {
        json!({"error": self.code(), "description": self.description()})
    }

    /// The reply body as compact JSON text.
    pub fn to_reply_text(&self) -> String {
        self.to_reply().to_string()
    }

    /// The `hive_error` event payload (`{"name":"hive_error","args":[{...}]}`) as JSON text, masked in
    /// production mode (HIVE.md 11.2).
    pub fn to_client_event(&self, mode: Mode) -> String {
        self.to_client_object(mode).to_string()
    }

    /// The `hive_error` event object of [`HiveError::to_client_event`].
    pub fn to_client_object(&self, mode: Mode) -> Value {
        let body = match mode {
            Mode::Dev => self.to_reply(),
            Mode::Prod => {
                json!({"error": "internal_error", "description": "Internal server error."})
            }
        };
        json!({"name": "hive_error", "args": [body]})
    }

    /// The HTTP status this error maps to when it ends an HTTP request.
    pub fn http_status(&self) -> u16 {
        use HiveError::*;
        match self {
            BadApiRequest(_) | BadMonitorRequest(_) => 401,
            BadOrigin(_) | NoSlots(_) | AccessDenied(_) => 403,
            BadRequest(_) | InvalidJson(_) | BadInternalEvent(_) | BadExternalEvent(_)
            | BadChannelId(_) | UnknownChannelId(_) => 400,
            _ => 500,
        }
    }
}

impl From<codec::DecodeError> for HiveError {
    fn from(e: codec::DecodeError) -> Self {
        HiveError::ClientError(format!("Bad Socket.IO frame: {e}"))
    }
}

impl From<codec::EventError> for HiveError {
    fn from(e: codec::EventError) -> Self {
        match e {
            codec::EventError::BadExternalEvent(s) => HiveError::BadExternalEvent(s),
            codec::EventError::BadInternalEvent(s) => HiveError::BadInternalEvent(s),
            codec::EventError::InvalidJson(s) => HiveError::InvalidJson(s),
        }
    }
}

/// Convenience alias.
pub type Result<T, E = HiveError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_event_is_masked_in_prod() {
        let e = HiveError::BadSessionId("Tried routing messages to an unknown sid: x".into());
        assert_eq!(
            e.to_client_event(Mode::Dev),
            r#"{"name":"hive_error","args":[{"error":"bad_session_id","description":"Tried routing messages to an unknown sid: x"}]}"#
        );
        assert_eq!(
            e.to_client_event(Mode::Prod),
            r#"{"name":"hive_error","args":[{"error":"internal_error","description":"Internal server error."}]}"#
        );
    }

    #[test]
    fn codec_errors_keep_their_codes() {
        let e: HiveError = codec::DecodeError::BadType("9:::".into()).into();
        assert_eq!(e.code(), "client_error");
        assert_eq!(
            e.to_string(),
            "Bad Socket.IO frame: invalid message type in \"9:::\" (expected a digit 0-8 followed by ':')"
        );
        for (err, code) in [
            (
                codec::parse_external_event("[]").unwrap_err(),
                "bad_external_event",
            ),
            (
                codec::parse_internal_events("{").unwrap_err(),
                "invalid_json",
            ),
            (
                codec::parse_internal_events("[1]").unwrap_err(),
                "bad_internal_event",
            ),
        ] {
            let text = err.to_string();
            let e: HiveError = err.into();
            assert_eq!((e.code(), e.to_string()), (code, text));
        }
    }
}
