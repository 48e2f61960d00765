//! A minimal RFC 6455 WebSocket client over a plain `TcpStream` (FLOOD.md 7.1): the HTTP upgrade
//! here, the frames through the shared codec ([`codec::ws`], client role).
//!
//! Hand-rolled instead of fastwebsockets + hyper upgrade because it keeps a connection at a few
//! hundred bytes: the read half owns one small growable buffer (payloads move on into the codec's
//! message as they come), the write half builds each masked frame in one short-lived `Vec`.
//! Text, ping/pong, close and fragmented messages are handled, every frame checked as RFC 6455
//! requires of a client; no extensions (permessage-deflate) are negotiated.

use bytes::{Buf, BytesMut};
use codec::ws::{Incoming, Role, StreamDecoder, close_code, close_payload, encode_masked, opcode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::error::FloodError;

/// Largest accepted message.
const MAX_MESSAGE: usize = 16 << 20;

/// A received frame the user cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete text message.
    Text(String),
    /// A complete binary message (Engine.IO attachments).
    Binary(Vec<u8>),
    /// A ping to answer with its payload.
    Ping(Vec<u8>),
    /// The peer closed (close frame or EOF).
    Close,
}

/// Read half of a WebSocket.
pub struct WsReader {
    r: OwnedReadHalf,
    buf: BytesMut,
    frames: StreamDecoder,
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

/// Opens `ws://host:port{path}` with `Origin: ws://host` (as the original's library did; with
/// `origin` false no Origin, as Node's socket.io-client 4 sends none), over
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
    origin: bool,
) -> Result<(WsReader, WsWriter), FloodError> {
    let tcp = match tcp {
        Some(t) => t,
        None => super::dial::dial(host, port).await?,
    };
    let (mut r, mut w) = tcp.into_split();
    let key = base64(&rand::random::<[u8; 16]>());
    let origin = if origin {
        format!("Origin: ws://{host}\r\n")
    } else {
        String::new()
    };
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\
         {origin}\r\n"
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
    let frames = StreamDecoder::new(Role::Client, MAX_MESSAGE);
    Ok((WsReader { r, buf, frames }, WsWriter { w }))
}

impl WsReader {
    /// The next text or binary message, ping or close. Pongs are skipped.
    ///
    /// # Errors
    /// `ws_read` for socket errors, `ws_protocol` for frames breaking RFC 6455 (including
    /// non-UTF-8 text and messages over 16 MiB).
    pub async fn next(&mut self) -> Result<Frame, FloodError> {
        loop {
            loop {
                let (used, item) = self
                    .frames
                    .decode(&self.buf)
                    .map_err(|e| FloodError::net("ws_protocol", e))?;
                self.buf.advance(used);
                match item {
                    Some(Incoming::Text(t)) => return Ok(Frame::Text(t)),
                    Some(Incoming::Ping(p)) => return Ok(Frame::Ping(p)),
                    Some(Incoming::Close(_)) => return Ok(Frame::Close),
                    Some(Incoming::Binary(b)) => return Ok(Frame::Binary(b)),
                    Some(Incoming::Pong(_)) => {}
                    None => break,
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

impl WsWriter {
    async fn frame(&mut self, op: u8, payload: &[u8]) -> Result<(), FloodError> {
        let mut f = Vec::with_capacity(payload.len() + 14);
        encode_masked(&mut f, true, op, rand::random(), payload);
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
        self.frame(opcode::TEXT, s.as_bytes()).await
    }

    /// Sends a binary message.
    ///
    /// # Errors
    /// `ws_write` when the socket fails.
    pub async fn binary(&mut self, b: &[u8]) -> Result<(), FloodError> {
        self.frame(opcode::BINARY, b).await
    }

    /// Answers a ping.
    ///
    /// # Errors
    /// `ws_write` when the socket fails.
    pub async fn pong(&mut self, payload: &[u8]) -> Result<(), FloodError> {
        self.frame(opcode::PONG, payload).await
    }

    /// Sends a close frame (status 1000) and shuts the write side down.
    pub async fn close(&mut self) {
        let p = close_payload(close_code::NORMAL, b"");
        let _ = self.frame(opcode::CLOSE, &p).await;
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

    /// A connected reader/writer pair whose peer is the returned server-side socket.
    async fn pair() -> (WsReader, WsWriter, TcpStream) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        let (r, w) = c.into_split();
        let frames = StreamDecoder::new(Role::Client, MAX_MESSAGE);
        let reader = WsReader {
            r,
            buf: BytesMut::new(),
            frames,
        };
        (reader, WsWriter { w }, s)
    }

    #[tokio::test]
    async fn server_frames_are_read_through_the_codec() {
        use codec::ws::{Decoder, encode, encode_frame};
        let (mut r, mut w, mut s) = pair().await;
        let mut b = Vec::new();
        encode(&mut b, false, opcode::TEXT, None, b"he");
        encode_frame(&mut b, opcode::PING, b"p");
        encode(&mut b, true, opcode::CONTINUATION, None, &[b'y'; 200]);
        encode_frame(&mut b, opcode::PONG, b"");
        encode_frame(&mut b, opcode::BINARY, &[1, 2]);
        encode_frame(&mut b, opcode::TEXT, b"after");
        encode_frame(&mut b, opcode::CLOSE, &close_payload(1000, b""));
        encode(&mut b, true, opcode::TEXT, Some([1, 2, 3, 4]), b"masked");
        // Split mid-header to make the reader wait.
        s.write_all(&b[..3]).await.unwrap();
        let late = b[3..].to_vec();
        let feeder = tokio::spawn(async move {
            s.write_all(&late).await.unwrap();
            s
        });
        assert_eq!(r.next().await.unwrap(), Frame::Ping(b"p".to_vec()));
        let big = format!("he{}", "y".repeat(200));
        assert_eq!(r.next().await.unwrap(), Frame::Text(big));
        assert_eq!(r.next().await.unwrap(), Frame::Binary(vec![1, 2]));
        assert_eq!(r.next().await.unwrap(), Frame::Text("after".into()));
        assert_eq!(r.next().await.unwrap(), Frame::Close);
        let e = r.next().await.unwrap_err();
        assert_eq!(e.kind(), "ws_protocol", "a masked server frame: {e}");
        // What the writer sends is what a server reads.
        let mut s = feeder.await.unwrap();
        w.text("5:::x").await.unwrap();
        w.pong(b"p").await.unwrap();
        w.close().await;
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        let want = vec![
            Incoming::Text("5:::x".into()),
            Incoming::Pong(b"p".to_vec()),
            Incoming::Close(Some(1000)),
        ];
        assert_eq!(Decoder::new(Role::Server, 100).feed(&got), Ok(want));
    }
}
