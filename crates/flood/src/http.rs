//! Minimal HTTP/1.1 client on hyper for handshakes, XHR long polls, POSTs and `emit_http`
//! (FLOOD.md 7.1). One keep-alive connection per [`Conn`]; no TLS, no redirects.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::error::FloodError;

/// A response: status, headers and the whole body as text.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Header pairs.
    pub headers: Vec<(String, String)>,
    /// Body (lossy UTF-8).
    pub body: String,
}

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    send: SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    /// Connects to `host:port`.
    ///
    /// # Errors
    /// `connect` when the TCP connection fails, `http` when the HTTP handshake fails.
    pub async fn open(host: &str, port: u16) -> Result<Self, FloodError> {
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(|e| FloodError::net("connect", format!("{host}:{port}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let (send, conn) = hyper::client::conn::http1::Builder::new()
            .max_buf_size(8192)
            .handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| FloodError::net("http", e))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self {
            send,
            host: format!("{host}:{port}"),
        })
    }

    /// Sends one request and reads the whole response. Flood's standard headers (FLOOD.md 7.1)
    /// are added unless `headers` sets them.
    ///
    /// # Errors
    /// `http` for a request or body failure (the connection is then unusable).
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(String, String)],
        body: String,
    ) -> Result<Reply, FloodError> {
        self.send
            .ready()
            .await
            .map_err(|e| FloodError::net("http", e))?;
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host);
        let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
        for (k, v) in [
            ("connection", "keep-alive"),
            ("content-type", "text/plain;charset=UTF-8"),
            ("origin", "null"),
            ("accept", "*/*"),
        ] {
            if !has(k) {
                b = b.header(k, v);
            }
        }
        for (k, v) in headers {
            b = b.header(k.as_str(), v.as_str());
        }
        let req = b
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| FloodError::net("http", e))?;
        let resp = self
            .send
            .send_request(req)
            .await
            .map_err(|e| FloodError::net("http", e))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| FloodError::net("http", e))?
            .to_bytes();
        Ok(Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// Splits `http://host[:port]/path` into (host, port, path).
///
/// # Errors
/// `bad_url` for anything that is not a plain `http://` URL.
pub fn split_url(url: &str) -> Result<(String, u16, String), FloodError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| FloodError::net("bad_url", format!("only http:// URLs: {url}")))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse()
                .map_err(|_| FloodError::net("bad_url", format!("bad port in {url}")))?,
        ),
        None => (authority, 80),
    };
    Ok((host.to_owned(), port, path.to_owned()))
}

/// One request on a fresh connection (`emit_http`). `GET` and `POST` only, as the original.
///
/// # Errors
/// `bad_method`, `bad_url`, `connect`, `http` or `timeout`.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: String,
    timeout: Option<Duration>,
) -> Result<Reply, FloodError> {
    let method = match method.to_ascii_uppercase().as_str() {
        "GET" => Method::GET,
        "POST" => Method::POST,
        other => return Err(FloodError::net("bad_method", other)),
    };
    let (host, port, path) = split_url(url)?;
    let fut = async {
        let mut c = Conn::open(&host, port).await?;
        c.send(method, &path, headers, body).await
    };
    match timeout {
        Some(t) => tokio::time::timeout(t, fut)
            .await
            .map_err(|_| FloodError::net("timeout", url))?,
        None => fut.await,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn urls_split() {
        assert_eq!(
            split_url("http://localhost:8080/a?b=1").unwrap(),
            ("localhost".into(), 8080, "/a?b=1".into())
        );
        assert_eq!(split_url("http://h").unwrap(), ("h".into(), 80, "/".into()));
        assert!(split_url("https://h/").is_err());
    }
}
