//! One churning client of the soak, leaving in one of five ways (`n % 5`), and a small HTTP
//! client.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use codec::ws::{Header, Role, encode_masked, opcode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAYS: [&str; 7] = [
    "websocket, clean close",
    "websocket, dropped TCP",
    "xhr-polling, clean disconnect",
    "xhr-polling, abandoned poll",
    "handshake, no transport",
    "modern websocket (EIO 4), clean close",
    "modern polling (EIO 4), abandoned",
];

#[derive(Default)]
pub struct Stats {
    done: [AtomicU64; 7],
    failed: [AtomicU64; 7],
}

impl Stats {
    pub fn summary(&self) -> String {
        let mut s = String::from("sessions by way of leaving (completed / failed):");
        for (i, w) in WAYS.iter().enumerate() {
            s.push_str(&format!(
                "\n  {w}: {} / {}",
                self.done[i].load(Ordering::Relaxed),
                self.failed[i].load(Ordering::Relaxed)
            ));
        }
        s
    }
}

/// One HTTP/1.1 request on a fresh connection: status and body.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut buf))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

pub async fn get_json(addr: SocketAddr, path: &str) -> Value {
    match request(addr, "GET", path, "").await {
        Some((_, b)) => serde_json::from_str(&b).unwrap_or(Value::Null),
        None => Value::Null,
    }
}

fn frame(op: u8, p: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    encode_masked(&mut b, true, op, [7, 7, 7, 7], p);
    b
}

/// Read text frames until one satisfies `want` (answering pings); false on end of stream.
async fn until(s: &mut TcpStream, buf: &mut Vec<u8>, want: impl Fn(&str) -> bool) -> bool {
    loop {
        while let Ok(Some((h, at))) = Header::parse(buf, Role::Client) {
            let len = usize::try_from(h.len).unwrap_or(usize::MAX);
            if buf.len() < at.saturating_add(len) {
                break;
            }
            let p = buf[at..at + len].to_vec();
            buf.drain(..at + len);
            match h.opcode {
                opcode::TEXT if want(&String::from_utf8_lossy(&p)) => return true,
                opcode::PING => {
                    let _ = s.write_all(&frame(opcode::PONG, &p)).await;
                }
                opcode::CLOSE => return false,
                _ => {}
            }
        }
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return false,
        }
    }
}

async fn ws(sio: SocketAddr, n: u64, clean: bool) -> Option<()> {
    let (st, body) = request(sio, "GET", "/socket.io/1/", "").await?;
    if st != 200 {
        return None;
    }
    let sid = body.split(':').next()?;
    let mut s = TcpStream::connect(sio).await.ok()?;
    let req = format!(
        "GET /socket.io/1/websocket/{sid} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 1024];
        let k = s.read(&mut chunk).await.ok()?;
        if k == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..k]);
    };
    buf.drain(..end);
    if !until(&mut s, &mut buf, |t| t.starts_with("1::")).await {
        return None;
    }
    // Join a channel (one of 50), then talk: three echoes.
    let join = format!(r#"5:::{{"name":"subscribe","args":["ping.c{}"]}}"#, n % 50);
    s.write_all(&frame(opcode::TEXT, join.as_bytes()))
        .await
        .ok()?;
    for i in 0..3 {
        let m = format!(r#"5:::{{"name":"echo","args":["{n}-{i}"]}}"#);
        s.write_all(&frame(opcode::TEXT, m.as_bytes())).await.ok()?;
        let tag = format!("{n}-{i}");
        if !until(&mut s, &mut buf, |t| t.contains(&tag)).await {
            return None;
        }
    }
    if clean {
        s.write_all(&frame(opcode::TEXT, b"0::")).await.ok()?;
        let mut close = Vec::new();
        close.extend_from_slice(&1000u16.to_be_bytes());
        s.write_all(&frame(opcode::CLOSE, &close)).await.ok()?;
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
    }
    // Dropped TCP: just drop the socket.
    Some(())
}

async fn xhr(sio: SocketAddr, n: u64, clean: bool) -> Option<()> {
    let (st, body) = request(sio, "GET", "/socket.io/1/", "").await?;
    if st != 200 {
        return None;
    }
    let sid = body.split(':').next()?.to_string();
    let path = format!("/socket.io/1/xhr-polling/{sid}");
    let (st, b) = request(sio, "GET", &path, "").await?;
    if st != 200 || !b.starts_with("1::") {
        return None;
    }
    let m = format!(r#"5:::{{"name":"echo","args":["{n}"]}}"#);
    let (st, _) = request(sio, "POST", &path, &m).await?;
    if st != 200 {
        return None;
    }
    let (st, b) = request(sio, "GET", &path, "").await?;
    if st != 200 || !b.contains(&n.to_string()) {
        return None;
    }
    if clean {
        request(sio, "GET", &format!("{path}?disconnect=1"), "").await?;
    } else {
        // Abandoned: one more message, then no poll ever again.
        let (st, _) = request(sio, "POST", &path, &m).await?;
        if st != 200 {
            return None;
        }
    }
    Some(())
}

/// The modern protocol over a WebSocket: open, connect to `/`, an echo, then a clean close.
async fn modern_ws(sio: SocketAddr, n: u64) -> Option<()> {
    let mut s = TcpStream::connect(sio).await.ok()?;
    let req = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
               Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    s.write_all(req.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 1024];
        let k = s.read(&mut chunk).await.ok()?;
        if k == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..k]);
    };
    if !buf.starts_with(b"HTTP/1.1 101") {
        return None;
    }
    buf.drain(..end);
    if !until(&mut s, &mut buf, |t| t.starts_with("0{")).await {
        return None;
    }
    s.write_all(&frame(opcode::TEXT, b"40")).await.ok()?;
    if !until(&mut s, &mut buf, |t| t.starts_with("40")).await {
        return None;
    }
    let m = format!(r#"42["echo","m{n}"]"#);
    s.write_all(&frame(opcode::TEXT, m.as_bytes())).await.ok()?;
    let tag = format!("m{n}");
    if !until(&mut s, &mut buf, |t| t.contains(&tag)).await {
        return None;
    }
    let mut close = Vec::new();
    close.extend_from_slice(&1000u16.to_be_bytes());
    s.write_all(&frame(opcode::CLOSE, &close)).await.ok()?;
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
    Some(())
}

/// The modern protocol over polling: open, connect to `/`, an echo, then no poll ever again.
async fn modern_polling(sio: SocketAddr, n: u64) -> Option<()> {
    let (st, body) = request(sio, "GET", "/socket.io/?EIO=4&transport=polling", "").await?;
    if st != 200 {
        return None;
    }
    let open: Value = serde_json::from_str(body.strip_prefix('0')?).ok()?;
    let sid = open["sid"].as_str()?.to_string();
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    if request(sio, "POST", &path, "40").await?.0 != 200 {
        return None;
    }
    let (_, b) = request(sio, "GET", &path, "").await?;
    if !b.contains("40") {
        return None;
    }
    let m = format!(r#"42["echo","m{n}"]"#);
    if request(sio, "POST", &path, &m).await?.0 != 200 {
        return None;
    }
    let (_, b) = request(sio, "GET", &path, "").await?;
    b.contains(&format!("m{n}")).then_some(())
}

/// Client `n`: its way of leaving is `n % 7`.
pub async fn one(sio: SocketAddr, n: u64, stats: &Stats) {
    let way = (n % 7) as usize;
    let ok = match way {
        0 => ws(sio, n, true).await,
        1 => ws(sio, n, false).await,
        2 => xhr(sio, n, true).await,
        3 => xhr(sio, n, false).await,
        5 => modern_ws(sio, n).await,
        6 => modern_polling(sio, n).await,
        _ => request(sio, "GET", "/socket.io/1/", "")
            .await
            .filter(|(s, _)| *s == 200)
            .map(|_| ()),
    };
    let c = if ok.is_some() {
        &stats.done[way]
    } else {
        &stats.failed[way]
    };
    c.fetch_add(1, Ordering::Relaxed);
}
