//! U+FFFD multi-frame framing: `◊<len>◊<msg>◊<len>◊<msg>…` (HIVE.md 3.7, 3.8, 6.6).
//!
//! The length unit is explicit on output: [`LengthUnit::Utf16`] for XHR-polling replies to
//! browsers (the 0.9 JS client counts UTF-16 code units), [`LengthUnit::Bytes`] for the TCP
//! connector and the original's parser vectors. On input [`split_payload`] with `None` accepts
//! either unit wherever the frame boundaries make the choice unambiguous.

use std::fmt::Write as _;

use super::socketio::{DecodeError, Message, decode, encode_into, snippet, utf16_len, utf16_units};

/// The frame marker U+FFFD (`EF BF BD` in UTF-8).
pub const MARKER: char = '\u{FFFD}';
/// The UTF-8 bytes of [`MARKER`].
pub const MARKER_BYTES: &[u8; 3] = b"\xEF\xBF\xBD";
/// Default maximum declared length accepted by [`decode_frame_bytes`] (64 MiB).
pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;
/// More length digits than this is a malformed header (`usize::MAX` has 20 digits).
const MAX_LEN_DIGITS: usize = 20;

/// What a frame length counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LengthUnit {
    /// UTF-16 code units (the Socket.IO 0.9 JS client).
    Utf16,
    /// UTF-8 bytes (the original server, the TCP connector).
    Bytes,
}

impl LengthUnit {
    /// Length of `s` in this unit.
    pub fn len_of(self, s: &str) -> usize {
        match self {
            LengthUnit::Utf16 => utf16_len(s),
            LengthUnit::Bytes => s.len(),
        }
    }
}

/// Appends `◊<len>◊<encoded_msg>` to `out`, `len` counted in `unit`.
pub fn frame_into(out: &mut String, encoded_msg: &str, unit: LengthUnit) {
    write_header(out, unit.len_of(encoded_msg));
    out.push_str(encoded_msg);
}

fn write_header(out: &mut String, len: usize) {
    out.push(MARKER);
    // Writing to a String cannot fail.
    let _ = write!(out, "{len}");
    out.push(MARKER);
}

/// Encodes `msgs` as one framed payload; an empty list is `""`. Even a single message is framed.
pub fn encode_batch(msgs: &[Message], unit: LengthUnit) -> String {
    let mut out = String::with_capacity(msgs.iter().map(|m| m.encoded_len() + 12).sum());
    for m in msgs {
        let len = match unit {
            LengthUnit::Utf16 => m.encoded_utf16_len(),
            LengthUnit::Bytes => m.encoded_len(),
        };
        write_header(&mut out, len);
        encode_into(m, &mut out);
    }
    out
}

/// Frames already-encoded messages (e.g. pre-encoded pub-sub broadcasts) into one payload.
pub fn encode_frames<S: AsRef<str>>(frames: &[S], unit: LengthUnit) -> String {
    let mut out = String::with_capacity(frames.iter().map(|f| f.as_ref().len() + 12).sum());
    for f in frames {
        frame_into(&mut out, f.as_ref(), unit);
    }
    out
}

/// Parses the header `◊<digits>◊` at the start of `input`; returns (declared length, header bytes).
fn parse_header(input: &str) -> Result<(usize, usize), DecodeError> {
    let Some(rest) = input.strip_prefix(MARKER) else {
        return Err(DecodeError::BadLength(format!(
            "expected U+FFFD at {:?}",
            snippet(input)
        )));
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let after = &rest[digits..];
    if after.is_empty() && digits <= MAX_LEN_DIGITS {
        return Err(DecodeError::Incomplete);
    }
    if digits == 0 || digits > MAX_LEN_DIGITS || !after.starts_with(MARKER) {
        return Err(DecodeError::BadLength(format!(
            "malformed length header {:?}",
            snippet(input)
        )));
    }
    let len = rest[..digits]
        .parse()
        .map_err(|_| DecodeError::BadLength(format!("length {} too large", &rest[..digits])))?;
    Ok((len, 2 * MARKER.len_utf8() + digits))
}

/// Reads the declared length of the first frame (`◊4◊0:::` -> 4), whatever follows.
///
/// # Errors
/// [`DecodeError::Incomplete`] when `input` is a truncated header (`◊12`),
/// [`DecodeError::BadLength`] when it is not a header.
pub fn read_length(input: &str) -> Result<usize, DecodeError> {
    parse_header(input).map(|(len, _)| len)
}

/// Byte offset in `body` where `len` units of `unit` end, or `None` if the payload is too short
/// or the boundary would split a character (for UTF-16, a surrogate pair).
fn frame_end(body: &str, len: usize, unit: LengthUnit) -> Option<usize> {
    match unit {
        LengthUnit::Bytes => (len <= body.len() && body.is_char_boundary(len)).then_some(len),
        LengthUnit::Utf16 => {
            let bytes = body.as_bytes();
            // ASCII prefix: units and bytes agree.
            if len <= bytes.len() && bytes[..len].is_ascii() {
                return Some(len);
            }
            // Skip whole chunks that end before the target, then walk byte by byte.
            let (mut start, mut units) = (0, 0);
            for c in bytes.chunks(64) {
                let cu = utf16_units(c);
                if units + cu >= len {
                    break;
                }
                units += cu;
                start += c.len();
            }
            for (i, &b) in bytes.iter().enumerate().skip(start) {
                if (b & 0xC0) == 0x80 {
                    continue; // continuation byte: no new unit
                }
                if units == len {
                    return Some(i);
                }
                units += 1 + usize::from(b >= 0xF0);
                if units > len {
                    return None; // `len` ends inside a surrogate pair
                }
            }
            (units == len).then_some(body.len())
        }
    }
}

/// Picks the frame end in auto mode. `locked` is the unit a previous frame proved.
fn auto_end(body: &str, len: usize, locked: &mut Option<LengthUnit>) -> Result<usize, DecodeError> {
    let lands = |end: usize| end == body.len() || body[end..].starts_with(MARKER);
    let bytes = frame_end(body, len, LengthUnit::Bytes);
    let utf16 = frame_end(body, len, LengthUnit::Utf16);
    let bad = |why: &str| DecodeError::BadLength(format!("length {len} {why}"));
    match (bytes, utf16) {
        (None, None) => Err(bad("does not match the payload in bytes or UTF-16 units")),
        (Some(b), Some(u)) if b == u => Ok(b),
        (Some(b), Some(u)) => {
            let (b_ok, u_ok) = (lands(b), lands(u));
            match (*locked, b_ok, u_ok) {
                (Some(LengthUnit::Bytes), true, _) | (None, true, false) => {
                    *locked = Some(LengthUnit::Bytes);
                    Ok(b)
                }
                (Some(LengthUnit::Utf16), _, true) | (None, false, true) => {
                    *locked = Some(LengthUnit::Utf16);
                    Ok(u)
                }
                (None, true, true) => Err(bad("is ambiguous (bytes vs UTF-16 units)")),
                (None, false, false) => Err(bad("lands on no frame boundary in either unit")),
                (Some(_), _, _) => Err(bad("is inconsistent with the unit of earlier frames")),
            }
        }
        (Some(end), None) | (None, Some(end)) => {
            let unit = if bytes.is_some() {
                LengthUnit::Bytes
            } else {
                LengthUnit::Utf16
            };
            if locked.is_some_and(|l| l != unit) {
                return Err(bad("is inconsistent with the unit of earlier frames"));
            }
            *locked = Some(unit);
            Ok(end)
        }
    }
}

/// Splits a payload into raw (still encoded) messages.
///
/// Input that does not start with U+FFFD is one message; `""` is no message. After the framed
/// part, a remainder that does not start with U+FFFD becomes one final message
/// (`◊3◊foobar` -> `[foo, bar]`). `unit = None` auto-detects per frame: the unit whose end lands
/// on the next U+FFFD or the end of input wins; once a frame proved a unit, later frames must
/// agree.
///
/// # Errors
/// [`DecodeError::BadLength`] for a non-digit or truncated header, a length running past the end,
/// a length splitting a character, or an ambiguous/inconsistent length in auto mode.
pub fn split_payload(input: &str, unit: Option<LengthUnit>) -> Result<Vec<&str>, DecodeError> {
    let mut out = Vec::new();
    let mut rest = input;
    let mut locked = None;
    while !rest.is_empty() {
        if !rest.starts_with(MARKER) {
            out.push(rest);
            break;
        }
        let (len, header) = parse_header(rest).map_err(|e| match e {
            DecodeError::Incomplete => {
                DecodeError::BadLength(format!("truncated length header {:?}", snippet(rest)))
            }
            e => e,
        })?;
        let body = &rest[header..];
        let end = match unit {
            Some(u) => frame_end(body, len, u).ok_or_else(|| {
                DecodeError::BadLength(format!(
                    "length {len} runs past the end or splits a character"
                ))
            })?,
            None => auto_end(body, len, &mut locked)?,
        };
        out.push(&body[..end]);
        rest = &body[end..];
    }
    Ok(out)
}

/// The "maybe batch" decoder: splits `input` with [`split_payload`] and decodes every message.
/// Non-framed input is exactly one message.
///
/// # Errors
/// Any error of [`split_payload`] or of [`decode`] for one of the messages.
pub fn decode_payload(input: &str, unit: Option<LengthUnit>) -> Result<Vec<Message>, DecodeError> {
    if input.is_empty() {
        return Err(DecodeError::EmptyFrame);
    }
    split_payload(input, unit)?
        .into_iter()
        .map(decode)
        .collect()
}

/// Streaming decoder of one byte-length frame (the TCP connector, HIVE.md 6.6).
///
/// Returns `Ok(None)` when more bytes are needed, `Ok(Some((msg_text, consumed)))` for a complete
/// frame; the caller drops `consumed` bytes from its buffer. Declared lengths above
/// [`DEFAULT_MAX_FRAME_BYTES`] are refused (see [`decode_frame_bytes_max`]).
///
/// # Errors
/// [`DecodeError::BadLength`] for a malformed header or a frame that ends inside a UTF-8
/// character, [`DecodeError::TooLarge`], [`DecodeError::Invalid`] for a body that is not UTF-8.
pub fn decode_frame_bytes(buf: &[u8]) -> Result<Option<(String, usize)>, DecodeError> {
    decode_frame_bytes_max(buf, DEFAULT_MAX_FRAME_BYTES)
}

/// [`decode_frame_bytes`] with an explicit maximum declared length.
///
/// # Errors
/// As [`decode_frame_bytes`]; [`DecodeError::TooLarge`] when the declared length exceeds `limit`.
pub fn decode_frame_bytes_max(
    buf: &[u8],
    limit: usize,
) -> Result<Option<(String, usize)>, DecodeError> {
    let m = MARKER_BYTES.len();
    let bad = |why: &str| {
        let shown = String::from_utf8_lossy(&buf[..buf.len().min(32)]).into_owned();
        DecodeError::BadLength(format!("{why} in {shown:?}"))
    };
    if buf.len() < m {
        return if MARKER_BYTES.starts_with(buf) {
            Ok(None)
        } else {
            Err(bad("expected U+FFFD"))
        };
    }
    if &buf[..m] != MARKER_BYTES {
        return Err(bad("expected U+FFFD"));
    }
    let digits = buf[m..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > MAX_LEN_DIGITS {
        return Err(bad("length header too long"));
    }
    let after = &buf[m + digits..];
    if after.len() < m {
        return if MARKER_BYTES.starts_with(after) {
            Ok(None)
        } else {
            Err(bad("malformed length header"))
        };
    }
    if digits == 0 || &after[..m] != MARKER_BYTES {
        return Err(bad("malformed length header"));
    }
    // The digits are ASCII, so this is valid UTF-8; the fold checks for overflow.
    let len = buf[m..m + digits].iter().try_fold(0usize, |acc, &d| {
        acc.checked_mul(10)?.checked_add(usize::from(d - b'0'))
    });
    let len = match len {
        Some(l) if l <= limit => l,
        _ => return Err(DecodeError::TooLarge { limit }),
    };
    let start = 2 * m + digits;
    let Some(body) = buf.get(start..start + len) else {
        return Ok(None);
    };
    match std::str::from_utf8(body) {
        Ok(s) => Ok(Some((s.to_owned(), start + len))),
        Err(e) if e.error_len().is_none() => Err(DecodeError::BadLength(format!(
            "length {len} splits a UTF-8 character"
        ))),
        Err(e) => Err(DecodeError::Invalid(format!(
            "frame body is not UTF-8: {e}"
        ))),
    }
}

/// `◊<byte len>◊<encoded_msg>` as bytes, for the TCP connector.
pub fn frame_bytes(encoded_msg: &str) -> Vec<u8> {
    let mut out = String::with_capacity(encoded_msg.len() + 12);
    frame_into(&mut out, encoded_msg, LengthUnit::Bytes);
    out.into_bytes()
}

#[cfg(test)]
mod tests;
