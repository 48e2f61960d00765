//! A minimal RFC 6455 WebSocket client over a plain `TcpStream` (FLOOD.md 7.1).
//!
//! Hand-rolled instead of fastwebsockets + hyper upgrade because it keeps a connection at a few
//! hundred bytes: the read half owns one small growable buffer, the write half builds each frame
//! in one short-lived `Vec`. Text, ping/pong, close and fragmented messages are handled; no
//! extensions (permessage-deflate) are negotiated.

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::error::FloodError;

/// Largest accepted frame payload.
const MAX_FRAME: usize = 16 << 20;

/// A received frame the user cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete text message.
    Text(String),
    /// A ping to answer with its payload.
    Ping(Vec<u8>),
    /// The peer closed (close frame or EOF).
    Close,
}

/// Read half of a WebSocket.
pub struct WsReader {
    r: OwnedReadHalf,
    buf: BytesMut,
    frag: Option<Vec<u8>>,
}

/// Write half of a WebSocket.
pub struct WsWriter {
    w: OwnedWriteHalf,
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(T[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Opens `ws://host:port{path}` with `Origin: ws://host` (as the original's library did), over
/// `tcp` when given (the handshake's keep-alive connection, see `flood::dial`), else over a new
/// connection.
///
/// # Errors
/// `connect` for TCP failures, `ws_upgrade` when the server does not answer 101.
pub async fn connect(
    tcp: Option<TcpStream>,
    host: &str,
    port: u16,
    path: &str,
) -> Result<(WsReader, WsWriter), FloodError> {
    let tcp = match tcp {
        Some(t) => t,
        None => super::dial::dial(host, port).await?,
    };
    let (mut r, mut w) = tcp.into_split();
    let key = base64(&rand::random::<[u8; 16]>());
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\
         Origin: ws://{host}\r\n\r\n"
    );
    w.write_all(req.as_bytes())
        .await
        .map_err(|e| FloodError::net("ws_upgrade", e))?;
    let mut buf = BytesMut::with_capacity(512);
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|x| x == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 16 * 1024 {
            return Err(FloodError::net("ws_upgrade", "response head too large"));
        }
        buf.reserve(512);
        let n = r
            .read_buf(&mut buf)
            .await
            .map_err(|e| FloodError::net("ws_upgrade", e))?;
        if n == 0 {
            return Err(FloodError::net(
                "ws_upgrade",
                "connection closed during upgrade",
            ));
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "101" {
        let first = head.lines().next().unwrap_or("");
        return Err(FloodError::net("ws_upgrade", format!("{path}: {first}")));
    }
    buf.advance(head_end);
    Ok((WsReader { r, buf, frag: None }, WsWriter { w }))
}

/// A parsed frame: (fin, opcode, unmasked payload, bytes consumed).
type RawFrame = (bool, u8, Vec<u8>, usize);

/// Parses one frame header+payload at the front of `buf`: `(fin, opcode, payload)` and bytes used.
fn parse(buf: &[u8]) -> Result<Option<RawFrame>, FloodError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let (fin, opcode) = (buf[0] & 0x80 != 0, buf[0] & 0x0f);
    let masked = buf[1] & 0x80 != 0;
    let (len, mut at) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (
                usize::try_from(u64::from_be_bytes(b)).unwrap_or(usize::MAX),
                10,
            )
        }
        126 | 127 => return Ok(None),
        n => (usize::from(n), 2),
    };
    if len > MAX_FRAME {
        return Err(FloodError::net(
            "ws_protocol",
            format!("frame of {len} bytes"),
        ));
    }
    let mask = if masked {
        if buf.len() < at + 4 {
            return Ok(None);
        }
        let m = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
        at += 4;
        Some(m)
    } else {
        None
    };
    if buf.len() < at + len {
        return Ok(None);
    }
    let mut payload = buf[at..at + len].to_vec();
    if let Some(m) = mask {
        payload
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b ^= m[i % 4]);
    }
    Ok(Some((fin, opcode, payload, at + len)))
}

impl WsReader {
    /// The next text message, ping or close. Pongs and binary frames are skipped.
    ///
    /// # Errors
    /// `ws_read` for socket errors, `ws_protocol` for malformed frames or non-UTF-8 text.
    pub async fn next(&mut self) -> Result<Frame, FloodError> {
        loop {
            while let Some((fin, opcode, payload, used)) = parse(&self.buf)? {
                self.buf.advance(used);
                match opcode {
                    0x1 | 0x2 if !fin => self.frag = Some(payload),
                    0x0 => {
                        let mut acc = self.frag.take().unwrap_or_default();
                        acc.extend_from_slice(&payload);
                        if !fin {
                            self.frag = Some(acc);
                        } else {
                            return text(acc);
                        }
                    }
                    0x1 => return text(payload),
                    0x8 => return Ok(Frame::Close),
                    0x9 => return Ok(Frame::Ping(payload)),
                    _ => {}
                }
            }
            if self.buf.is_empty() && self.buf.capacity() > 4096 {
                self.buf = BytesMut::new();
            }
            self.buf.reserve(512);
            let n = self
                .r
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| FloodError::net("ws_read", e))?;
            if n == 0 {
                return Ok(Frame::Close);
            }
        }
    }
}

fn text(bytes: Vec<u8>) -> Result<Frame, FloodError> {
    String::from_utf8(bytes)
        .map(Frame::Text)
        .map_err(|_| FloodError::net("ws_protocol", "text frame is not UTF-8"))
}

impl WsWriter {
    async fn frame(&mut self, opcode: u8, payload: &[u8]) -> Result<(), FloodError> {
        let mut f = Vec::with_capacity(payload.len() + 14);
        f.push(0x80 | opcode);
        match payload.len() {
            n if n < 126 => f.push(0x80 | n as u8),
            n if n <= usize::from(u16::MAX) => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask: [u8; 4] = rand::random();
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.w
            .write_all(&f)
            .await
            .map_err(|e| FloodError::net("ws_write", e))
    }

    /// Sends a text message.
    ///
    /// # Errors
    /// `ws_write` when the socket fails.
    pub async fn text(&mut self, s: &str) -> Result<(), FloodError> {
        self.frame(0x1, s.as_bytes()).await
    }

    /// Answers a ping.
    ///
    /// # Errors
    /// `ws_write` when the socket fails.
    pub async fn pong(&mut self, payload: &[u8]) -> Result<(), FloodError> {
        self.frame(0xA, payload).await
    }

    /// Sends a close frame (status 1000) and shuts the write side down.
    pub async fn close(&mut self) {
        let _ = self.frame(0x8, &1000u16.to_be_bytes()).await;
        let _ = self.w.shutdown().await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn frames_parse_incrementally() {
        let mut f = vec![0x81, 126, 0, 200];
        f.extend(std::iter::repeat_n(b'a', 200));
        assert_eq!(parse(&f[..3]).unwrap(), None);
        assert_eq!(parse(&f[..100]).unwrap(), None);
        let (fin, op, p, used) = parse(&f).unwrap().unwrap();
        assert!(fin);
        assert_eq!((op, p.len(), used), (1, 200, 204));
        let masked = [0x89, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2];
        assert_eq!(parse(&masked).unwrap().unwrap().2, b"hi");
    }
}
