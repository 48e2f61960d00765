//! One TCP connection per WebSocket user: the Socket.IO handshake is a raw HTTP/1.1 keep-alive
//! `GET` on a fresh connection, and the WebSocket upgrade then goes over the *same* connection
//! (FLOOD.md 6.2 steps 3-5).
//!
//! Why: with a separate handshake connection every user costs two `connect()`s and leaves a
//! `TIME_WAIT` behind on flood's side. At 15,000 users that is ~30,000 loopback ports in use
//! towards one server port, close to the whole ephemeral range, and the kernel's port search in
//! `connect()` (`__inet_hash_connect`) took half of flood's CPU, so users spawned late.

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::FloodError;

/// Largest accepted response head or body.
const MAX_RESPONSE: usize = 64 * 1024;

/// Opens a TCP connection to `host:port` (no Nagle).
///
/// # Errors
/// `connect`.
pub async fn dial(host: &str, port: u16) -> Result<TcpStream, FloodError> {
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|e| FloodError::net("connect", format!("{host}:{port}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// A handshake response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body (lossy UTF-8).
    pub body: String,
    /// Whether the connection may carry another request (keep-alive, body fully delimited).
    pub reusable: bool,
}

/// `GET path` on `tcp` with flood's headers (`Origin: null`, keep-alive) and reads the response
/// (`Content-Length`, chunked, or until EOF).
///
/// # Errors
/// `http` for I/O failures or a malformed response.
pub async fn get(
    tcp: &mut TcpStream,
    host: &str,
    port: u16,
    path: &str,
) -> Result<Response, FloodError> {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: keep-alive\r\n\
         Origin: null\r\nAccept: */*\r\n\r\n"
    );
    tcp.write_all(req.as_bytes())
        .await
        .map_err(|e| FloodError::net("http", e))?;
    let mut buf = BytesMut::with_capacity(512);
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|x| x == b"\r\n\r\n") {
            break i + 4;
        }
        if read_more(tcp, &mut buf).await? == 0 {
            return Err(FloodError::net(
                "http",
                "connection closed in the response head",
            ));
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    buf.advance(head_end);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| FloodError::net("http", "bad status line"))?;
    let header = |name: &str| {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_owned())
    };
    let mut reusable = !header("connection").is_some_and(|v| v.contains("close"));
    let body = if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if len > MAX_RESPONSE {
            return Err(FloodError::net("http", "response too large"));
        }
        while buf.len() < len {
            if read_more(tcp, &mut buf).await? == 0 {
                return Err(FloodError::net("http", "connection closed in the body"));
            }
        }
        buf.split_to(len).to_vec()
    } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        dechunk(tcp, &mut buf).await?
    } else {
        reusable = false;
        while read_more(tcp, &mut buf).await? > 0 {}
        buf.split().to_vec()
    };
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
        reusable: reusable && buf.is_empty(),
    })
}

async fn read_more(tcp: &mut TcpStream, buf: &mut BytesMut) -> Result<usize, FloodError> {
    if buf.len() > MAX_RESPONSE {
        return Err(FloodError::net("http", "response too large"));
    }
    buf.reserve(512);
    tcp.read_buf(buf)
        .await
        .map_err(|e| FloodError::net("http", e))
}

/// Decodes a chunked body from `buf` (reading more from `tcp` as needed).
async fn dechunk(tcp: &mut TcpStream, buf: &mut BytesMut) -> Result<Vec<u8>, FloodError> {
    let mut out = Vec::new();
    loop {
        let line_end = loop {
            if let Some(i) = buf.windows(2).position(|x| x == b"\r\n") {
                break i;
            }
            if read_more(tcp, buf).await? == 0 {
                return Err(FloodError::net("http", "connection closed in a chunk"));
            }
        };
        let size_text = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| FloodError::net("http", "bad chunk size"))?;
        buf.advance(line_end + 2);
        // The chunk, then its CRLF (for the last, empty chunk: the CRLF ending the trailers).
        while buf.len() < size + 2 {
            if read_more(tcp, buf).await? == 0 {
                return Err(FloodError::net("http", "connection closed in a chunk"));
            }
        }
        out.extend_from_slice(&buf[..size]);
        buf.advance(size + 2);
        if size == 0 {
            return Ok(out);
        }
        if out.len() > MAX_RESPONSE {
            return Err(FloodError::net("http", "response too large"));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A server that answers each request on one connection with the next canned response.
    async fn serve(responses: Vec<&'static str>) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = Vec::new();
            for r in responses {
                loop {
                    let mut chunk = [0u8; 512];
                    let n = s.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|x| x == b"\r\n\r\n") {
                        buf.drain(..i + 4);
                        break;
                    }
                }
                s.write_all(r.as_bytes()).await.unwrap();
            }
        });
        port
    }

    #[tokio::test]
    async fn content_length_and_chunked_bodies_on_one_connection() {
        let port = serve(vec![
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nsid:1",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            "HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        ])
        .await;
        let mut tcp = dial("127.0.0.1", port).await.unwrap();
        let r = get(&mut tcp, "127.0.0.1", port, "/a").await.unwrap();
        assert_eq!(
            (r.status, r.body.as_str(), r.reusable),
            (200, "sid:1", true)
        );
        let r = get(&mut tcp, "127.0.0.1", port, "/b").await.unwrap();
        assert_eq!(
            (r.status, r.body.as_str(), r.reusable),
            (200, "abcde", true)
        );
        let r = get(&mut tcp, "127.0.0.1", port, "/c").await.unwrap();
        assert_eq!((r.status, r.body.as_str(), r.reusable), (403, "", false));
    }
}
