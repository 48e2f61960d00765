//! A raw 0.9 WebSocket test client over TCP (RFC 6455 by hand, frames through `codec::ws`): it
//! reads only when asked, so a test can make a client that "stops reading" by never calling
//! [`Ws::text`] again. Shared by the hostile-client and observer tests.

use std::net::SocketAddr;
use std::time::Duration;

use codec::ws::{Header, Role, encode_masked, opcode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A raw WebSocket client after the upgrade.
pub(crate) struct Ws {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Ws {
    /// Upgrades `/socket.io/1/websocket/<sid>` on `addr`; the `1:::` is left unread.
    pub(crate) async fn open(addr: SocketAddr, sid: &str) -> Ws {
        Ws::upgrade(addr, &format!("/socket.io/1/websocket/{sid}")).await
    }

    /// Upgrades `path` (any protocol's WebSocket URL) on `addr`; nothing after the 101 is read.
    pub(crate) async fn upgrade(addr: SocketAddr, path: &str) -> Ws {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://localhost\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut ws = Ws { s, buf: Vec::new() };
        let end = loop {
            if let Some(i) = ws.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            ws.more().await.expect("upgrade response");
        };
        assert!(ws.buf.starts_with(b"HTTP/1.1 101"));
        ws.buf.drain(..end);
        ws
    }

    /// [`Ws::open`], then the session's `1:::` read.
    #[allow(dead_code)]
    pub(crate) async fn connected(addr: SocketAddr, sid: &str) -> Ws {
        let mut ws = Ws::open(addr, sid).await;
        assert_eq!(ws.text().await.as_deref(), Some("1:::"));
        ws
    }

    async fn more(&mut self) -> Option<()> {
        let mut chunk = [0u8; 65536];
        let n = tokio::time::timeout(Duration::from_secs(30), self.s.read(&mut chunk))
            .await
            .expect("no data from the server within 30 s")
            .ok()?;
        (n > 0).then(|| self.buf.extend_from_slice(&chunk[..n]))
    }

    /// The next text message; `None` at the end of the stream or a close. Pings are answered.
    pub(crate) async fn text(&mut self) -> Option<String> {
        loop {
            if let Some((h, at)) = Header::parse(&self.buf, Role::Client).unwrap() {
                let len = usize::try_from(h.len).unwrap();
                if self.buf.len() >= at + len {
                    let p = self.buf[at..at + len].to_vec();
                    self.buf.drain(..at + len);
                    match h.opcode {
                        opcode::TEXT => return Some(String::from_utf8(p).unwrap()),
                        opcode::CLOSE => return None,
                        opcode::PING => {
                            let mut b = Vec::new();
                            encode_masked(&mut b, true, opcode::PONG, [1, 2, 3, 4], &p);
                            self.s.write_all(&b).await.ok()?;
                            continue;
                        }
                        _ => continue,
                    }
                }
            }
            self.more().await?;
        }
    }

    /// Sends one masked text frame.
    pub(crate) async fn send(&mut self, msg: &str) -> std::io::Result<()> {
        let mut b = Vec::new();
        encode_masked(&mut b, true, opcode::TEXT, [9, 8, 7, 6], msg.as_bytes());
        self.s.write_all(&b).await
    }

    /// The next text message that is not a heartbeat.
    #[allow(dead_code)]
    pub(crate) async fn event(&mut self) -> Option<String> {
        loop {
            let t = self.text().await?;
            if t != "2::" && t != "8::" {
                return Some(t);
            }
        }
    }
}
