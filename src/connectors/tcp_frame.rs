//! Framing of the Hive Protocol over TCP (HIVE.md 6.6): `U+FFFD <byte length> U+FFFD <message>`,
//! where the message is a Socket.IO 0.9 message `type:id:endpoint[:data]`.
//!
//! Pure functions; the worker keeps a buffer across reads and calls [`decode`] until it yields a
//! frame (the original read once and failed on split or coalesced frames, HIVE.md 16.6 #6).

/// The frame marker U+FFFD in UTF-8.
const MARK: &[u8] = "\u{FFFD}".as_bytes();
/// Largest frame accepted from a backend.
pub(crate) const MAX_FRAME: usize = 16 * 1024 * 1024;

/// One Hive → backend frame carrying `3::<endpoint>:<payload>`.
pub(crate) fn encode(endpoint: &str, payload: &str) -> Vec<u8> {
    let msg = format!("3::{endpoint}:{payload}");
    let mut out = Vec::with_capacity(msg.len() + 16);
    out.extend_from_slice(MARK);
    out.extend_from_slice(msg.len().to_string().as_bytes());
    out.extend_from_slice(MARK);
    out.extend_from_slice(msg.as_bytes());
    out
}

/// A decoded backend message: its endpoint and data part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    /// The whole message text.
    pub(crate) message: String,
    /// Its endpoint field.
    pub(crate) endpoint: String,
    /// Its data field (`""` when absent).
    pub(crate) data: String,
}

/// Decode the first frame of `buf`: `Ok(None)` when more bytes are needed, `Ok(Some((reply,
/// used)))` with the number of bytes consumed, `Err` for a malformed header or message.
pub(crate) fn decode(buf: &[u8]) -> Result<Option<(Reply, usize)>, String> {
    let prefix = buf.len().min(MARK.len());
    if buf[..prefix] != MARK[..prefix] {
        return Err("Wrong Socket.IO message length encoding.".into());
    }
    if buf.len() < MARK.len() {
        return Ok(None);
    }
    let rest = &buf[MARK.len()..];
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > 10 {
        return Err("Wrong Socket.IO message length encoding.".into());
    }
    let after = &rest[digits..];
    let avail = after.len().min(MARK.len());
    if after[..avail] != MARK[..avail] || (digits == 0 && !after.is_empty()) {
        return Err("Wrong Socket.IO message length encoding.".into());
    }
    if after.len() < MARK.len() {
        return Ok(None);
    }
    let len: usize = std::str::from_utf8(&rest[..digits])
        .ok()
        .and_then(|d| d.parse().ok())
        .ok_or("Wrong Socket.IO message length encoding.")?;
    if len > MAX_FRAME {
        return Err(format!(
            "frame of {len} bytes exceeds the {MAX_FRAME} byte limit"
        ));
    }
    let body = &after[MARK.len()..];
    if body.len() < len {
        return Ok(None);
    }
    let message =
        std::str::from_utf8(&body[..len]).map_err(|e| format!("invalid UTF-8 in frame: {e}"))?;
    let used = MARK.len() + digits + MARK.len() + len;
    let mut parts = message.splitn(4, ':');
    let kind = parts.next().unwrap_or_default();
    if kind.len() != 1 || !kind.as_bytes()[0].is_ascii_digit() {
        return Err(format!(
            "Hive TCP Connector's received an unexpected message: {message}"
        ));
    }
    let _id = parts
        .next()
        .ok_or_else(|| format!("Hive TCP Connector's received an unexpected message: {message}"))?;
    let endpoint = parts.next().unwrap_or_default().to_string();
    let data = parts.next().unwrap_or_default().to_string();
    Ok(Some((
        Reply {
            message: message.to_string(),
            endpoint,
            data,
        },
        used,
    )))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_spec_example() {
        assert_eq!(encode("/x", "{}"), "\u{FFFD}8\u{FFFD}3::/x:{}".as_bytes());
    }

    #[test]
    fn decodes_across_splits_and_coalesced_frames() {
        let mut two = encode("/a", r#"{"é":"ü"}"#);
        two.extend(encode("/b", "[]"));
        for cut in 0..two.len() {
            let r = decode(&two[..cut]).expect("prefix is never malformed");
            if let Some((_, used)) = r {
                assert!(used <= cut);
            }
        }
        let (a, used) = decode(&two).expect("ok").expect("frame");
        assert_eq!(
            (a.endpoint.as_str(), a.data.as_str()),
            ("/a", r#"{"é":"ü"}"#)
        );
        let (b, used2) = decode(&two[used..]).expect("ok").expect("frame");
        assert_eq!((b.endpoint.as_str(), b.data.as_str()), ("/b", "[]"));
        assert_eq!(used + used2, two.len());
    }

    #[test]
    fn rejects_bad_headers() {
        assert!(decode(b"xx").is_err());
        assert!(decode("\u{FFFD}a\u{FFFD}".as_bytes()).is_err());
        assert!(decode("\u{FFFD}\u{FFFD}".as_bytes()).is_err());
        assert!(decode("\u{FFFD}99999999999\u{FFFD}".as_bytes()).is_err());
    }

    #[test]
    fn message_without_data() {
        let f = "\u{FFFD}5\u{FFFD}1::/x".as_bytes();
        let (r, _) = decode(f).expect("ok").expect("frame");
        assert_eq!((r.endpoint.as_str(), r.data.as_str()), ("/x", ""));
    }
}
