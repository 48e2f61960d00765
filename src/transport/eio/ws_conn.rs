//! The socket of an Engine.IO session's WebSocket, as its session task holds it: the frame
//! reader over the upgraded stream, and the listener's connection slot.

use std::time::Duration;

use futures::FutureExt;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::either::Either;

use crate::http_edge::ConnSlot;
use crate::transport::ws_reader::FrameReader;
use crate::transport::ws_write::{WriteEnd, write_within};
use codec::ws::{encode_frame, opcode};

/// An upgraded socket: the listener's TCP stream, taken back from the HTTP edge (the common
/// case), or any other upgraded I/O from hyper (tokio-util's `Either` reads and writes whichever
/// it holds).
pub type WsIo = Either<TcpStream, TokioIo<Upgraded>>;

/// One WebSocket of a session: its frame reader over the socket, and the listener's connection
/// slot, held as long as the socket.
#[derive(Debug)]
pub struct WsConn {
    /// Client frames in; the socket, for writing.
    pub reader: FrameReader<WsIo>,
    _slot: Option<ConnSlot>,
}

impl WsConn {
    /// A WebSocket reading through `reader`, holding `slot` as long as the socket.
    pub fn new(reader: FrameReader<WsIo>, slot: Option<ConnSlot>) -> Self {
        Self {
            reader,
            _slot: slot,
        }
    }

    /// Write `buf`, each write making progress within `patience` (see [`write_within`]). A
    /// socket with room takes the bytes at once; only the rest waits, in a boxed future (a
    /// session's task would otherwise carry a timer's size for it).
    pub async fn write(&mut self, buf: &[u8], patience: Duration) -> Result<(), WriteEnd> {
        if buf.is_empty() {
            return Ok(());
        }
        let io = self.reader.get_mut();
        let rest = match io.write(buf).now_or_never() {
            None => buf,
            Some(Ok(n)) if n > 0 => buf.get(n..).unwrap_or_default(),
            Some(_) => return Err(WriteEnd::Failed),
        };
        if rest.is_empty() {
            return Ok(());
        }
        Box::pin(write_within(io, rest, patience)).await
    }
}

/// A refused or abandoned WebSocket: a close frame, then the socket's end, each within
/// `patience`, in a task of its own (rare: a failed probe, a second WebSocket) so that the
/// session does not wait for it.
pub fn close_aside(mut conn: WsConn, patience: Duration) {
    tokio::spawn(async move {
        let mut buf = Vec::new();
        encode_frame(&mut buf, opcode::CLOSE, b"");
        if conn.write(&buf, patience).await.is_ok() {
            let _ = tokio::time::timeout(patience, conn.reader.get_mut().shutdown()).await;
        }
    });
}
