//! TEMPORARY stand-ins for `crate::protocol::event` until branch `protocol` is merged.

/// Stand-in for `crate::protocol::event::InternalEvent`.
pub type InternalEvent = serde_json::Value;
