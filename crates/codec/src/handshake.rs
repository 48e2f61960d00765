//! The Socket.IO 0.9 handshake body `<sid>:<heartbeat>:<close>:<transports>` (HIVE.md 3.3).

use std::fmt::Write as _;

use super::socketio::{DecodeError, parse_digits, snippet};

/// Advertised heartbeat seconds: `round(1.1 × floor(heartbeat_timeout_ms / 1000))`, rounding
/// half away from zero. Integer arithmetic (`(11 s + 5) / 10`), so exact halves never suffer from
/// floating point (15000 -> 17, 20000 -> 22, 30000 -> 33, 5000 -> 6).
pub fn advertised_heartbeat_secs(heartbeat_timeout_ms: u64) -> u64 {
    let secs = heartbeat_timeout_ms / 1000;
    // secs <= u64::MAX / 1000, so 11 * secs + 5 cannot overflow.
    (11 * secs + 5) / 10
}

/// Builds the 200 handshake body, e.g. `<sid>:17:120:websocket,flashsocket,xhr-polling`.
///
/// `<heartbeat>` is [`advertised_heartbeat_secs`], `<close>` is `floor(reconnect_timeout_ms /
/// 1000)`, transports are joined with `,` in the given order.
pub fn handshake_body(
    sid: &str,
    heartbeat_timeout_ms: u64,
    reconnect_timeout_ms: u64,
    transports: &[String],
) -> String {
    let mut out = String::with_capacity(sid.len() + 16 + transports.len() * 12);
    out.push_str(sid);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        ":{}:{}:",
        advertised_heartbeat_secs(heartbeat_timeout_ms),
        reconnect_timeout_ms / 1000
    );
    for (i, t) in transports.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(t);
    }
    out
}

/// A parsed handshake body (for clients: the flood tool, tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// Session id.
    pub sid: String,
    /// Advertised heartbeat (the client's inactivity timeout), seconds; 0 when the field is empty.
    pub heartbeat_secs: u64,
    /// Advertised close (reconnect) timeout, seconds; 0 when the field is empty.
    pub close_secs: u64,
    /// Transports the server offers, in its order.
    pub transports: Vec<String>,
}

impl Handshake {
    /// True if the server offers `transport` (e.g. `"websocket"`).
    pub fn offers(&self, transport: &str) -> bool {
        self.transports.iter().any(|t| t == transport)
    }
}

/// Parses a handshake body. Trailing whitespace is ignored; empty timeout fields (allowed by the
/// 0.9 client, meaning "none") are 0.
///
/// # Errors
/// [`DecodeError::Invalid`] when there are not four `:`-separated fields, the sid is empty or a
/// timeout is not a decimal number.
pub fn parse_handshake(body: &str) -> Result<Handshake, DecodeError> {
    let bad = |why: &str| DecodeError::Invalid(format!("bad handshake {:?}: {why}", snippet(body)));
    let mut parts = body.trim_end().splitn(4, ':');
    let (Some(sid), Some(hb), Some(close), Some(transports)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("expected sid:heartbeat:close:transports"));
    };
    if sid.is_empty() {
        return Err(bad("empty session id"));
    }
    let secs = |s: &str, what: &str| {
        if s.is_empty() {
            Ok(0)
        } else {
            parse_digits(s).ok_or_else(|| bad(what))
        }
    };
    Ok(Handshake {
        sid: sid.to_owned(),
        heartbeat_secs: secs(hb, "heartbeat is not a number")?,
        close_secs: secs(close, "close timeout is not a number")?,
        transports: transports
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    /// HIVE.md 3.3 examples.
    #[test]
    fn body_matches_spec_examples() {
        let all = ts(&["websocket", "flashsocket", "xhr-polling"]);
        assert_eq!(
            handshake_body("abc", 15000, 120000, &all),
            "abc:17:120:websocket,flashsocket,xhr-polling"
        );
        assert_eq!(
            handshake_body("s", 30000, 1999, &ts(&["websocket"])),
            "s:33:1:websocket"
        );
        assert_eq!(handshake_body("s", 20000, 0, &[]), "s:22:0:");
        assert_eq!(advertised_heartbeat_secs(1999), 1);
        assert_eq!(advertised_heartbeat_secs(999), 0);
        assert_eq!(advertised_heartbeat_secs(5000), 6);
        assert_eq!(advertised_heartbeat_secs(25000), 28);
        // floor(u64::MAX / 1000) = 18446744073709551; times 1.1 = ...506.1.
        assert_eq!(advertised_heartbeat_secs(u64::MAX), 20_291_418_481_080_506);
        for s in 0..10_000u64 {
            // Cross-check against the original's float formula where it is exact enough.
            let f = (1.1 * s as f64).round() as u64;
            assert_eq!(advertised_heartbeat_secs(s * 1000), f, "{s}");
        }
    }

    #[test]
    fn parse_round_trip_and_errors() {
        let all = ts(&["websocket", "xhr-polling"]);
        let h = parse_handshake(&handshake_body("sid1", 15000, 60000, &all)).unwrap();
        assert_eq!(
            h,
            Handshake {
                sid: "sid1".into(),
                heartbeat_secs: 17,
                close_secs: 60,
                transports: all
            }
        );
        assert!(h.offers("websocket") && !h.offers("flashsocket"));
        let h = parse_handshake("x:::\r\n").unwrap();
        assert_eq!(
            (h.heartbeat_secs, h.close_secs, h.transports.len()),
            (0, 0, 0)
        );
        for bad in [
            "",
            "sid",
            "sid:1:2",
            ":1:2:websocket",
            "s:x:2:w",
            "s:1:-2:w",
        ] {
            assert!(
                matches!(parse_handshake(bad), Err(DecodeError::Invalid(_))),
                "{bad}"
            );
        }
    }
}
