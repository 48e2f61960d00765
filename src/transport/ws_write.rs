//! Bounded socket writes for the 0.9 WebSocket transport: each write must make
//! progress within a limit, so a client that stops reading cannot hold a connection's task, socket
//! and connection slot in a write forever.

use std::time::Duration;

use futures::FutureExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Why a write did not complete.
pub enum WriteEnd {
    /// The socket failed or closed.
    Failed,
    /// The client took no byte for the whole limit: it stopped reading.
    Stalled,
}

/// Write all of `buf`, each write making progress within `limit`: a client that stops reading
/// cannot hold the connection (its task, socket and connection slot) in a write forever.
pub async fn write_within<S>(io: &mut S, mut buf: &[u8], limit: Duration) -> Result<(), WriteEnd>
where
    S: AsyncWrite + Unpin,
{
    while !buf.is_empty() {
        // A socket with room takes the bytes at once: no timer for that (the common case).
        let wrote = match io.write(buf).now_or_never() {
            Some(r) => Ok(r),
            None => tokio::time::timeout(limit, io.write(buf)).await,
        };
        match wrote {
            Err(_) => return Err(WriteEnd::Stalled),
            Ok(Ok(0) | Err(_)) => return Err(WriteEnd::Failed),
            Ok(Ok(n)) => buf = buf.get(n..).unwrap_or_default(),
        }
    }
    // A writer that keeps bytes of its own (a WebSocket's rest, `client::ws_writer`) writes them
    // out here when `buf` was empty; a plain socket has nothing to flush.
    let flushed = match io.flush().now_or_never() {
        Some(r) => Ok(r),
        None => tokio::time::timeout(limit, io.flush()).await,
    };
    match flushed {
        Err(_) => Err(WriteEnd::Stalled),
        Ok(Err(_)) => Err(WriteEnd::Failed),
        Ok(Ok(())) => Ok(()),
    }
}
