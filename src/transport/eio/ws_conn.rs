//! The socket of an Engine.IO session's WebSocket, as its session task holds it: the frame
//! reader over the socket's read end, the socket's write end (which the session lends to its
//! namespace socket's queue while it waits idle: [`crate::client::ws_writer`]), and the listener's
//! connection slot.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncWriteExt, ReadHalf};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio_util::either::Either;

use crate::client::ws_writer::WsWriter;
use crate::http_edge::ConnSlot;
use crate::metrics::DeliveryProbe;
use crate::transport::ws_reader::FrameReader;
use crate::transport::ws_write::{WriteEnd, write_within};
use codec::ws::{encode_frame, opcode};

/// An upgraded socket: the listener's TCP stream, taken back from the HTTP edge (the common
/// case), or any other upgraded I/O from hyper.
pub type WsIo = Either<TcpStream, TokioIo<Upgraded>>;

/// The read end of a [`WsIo`] (tokio-util's `Either` reads whichever it holds).
pub type ReadIo = Either<OwnedReadHalf, ReadHalf<TokioIo<Upgraded>>>;

/// One WebSocket of a session: its frame reader over the socket's read end, its write end, and
/// the listener's connection slot, held as long as the socket.
#[derive(Debug)]
pub struct WsConn {
    /// Client frames in.
    pub reader: FrameReader<ReadIo>,
    /// The socket's write end: with the session, or lent to its socket's queue.
    pub writer: WsWriter,
    _slot: Option<ConnSlot>,
}

impl WsConn {
    /// A WebSocket over `io` (`pre`: bytes the client sent right after the upgrade request),
    /// reading messages up to `max` bytes, holding `slot` as long as the socket. Senders it is
    /// lent to write only the frames `takes` accepts, and time sampled deliveries in `probe`.
    pub fn new(
        io: WsIo,
        pre: &[u8],
        max: usize,
        slot: Option<ConnSlot>,
        probe: Arc<DeliveryProbe>,
        takes: fn(&str) -> bool,
    ) -> Self {
        let (read, writer) = match io {
            Either::Left(tcp) => {
                let (read, write) = tcp.into_split();
                (Either::Left(read), WsWriter::taking(write, probe, takes))
            }
            Either::Right(up) => {
                let (read, write) = tokio::io::split(up);
                (Either::Right(read), WsWriter::taking(write, probe, takes))
            }
        };
        Self {
            reader: FrameReader::new(read, pre, max),
            writer,
            _slot: slot,
        }
    }

    /// Write `buf` (after what a sender left unwritten in the write end, if anything), each write
    /// making progress within `patience` (see [`write_within`]). A socket with room takes the
    /// bytes at once; only the rest waits, in a boxed future (a session's task would otherwise
    /// carry a timer's size for it).
    pub async fn write(&mut self, buf: &[u8], patience: Duration) -> Result<(), WriteEnd> {
        let w = &mut self.writer;
        if buf.is_empty() {
            if !w.has_rest() {
                return Ok(());
            }
            return Box::pin(write_within(w, buf, patience)).await;
        }
        let rest = match w.write(buf).now_or_never() {
            None => buf,
            Some(Ok(n)) if n > 0 => buf.get(n..).unwrap_or_default(),
            Some(_) => return Err(WriteEnd::Failed),
        };
        if rest.is_empty() {
            return Ok(());
        }
        Box::pin(write_within(w, rest, patience)).await
    }

    /// End the socket (its write end: the client sees the end of the stream), within `patience`.
    pub async fn shutdown(&mut self, patience: Duration) {
        let _ = tokio::time::timeout(patience, self.writer.shutdown()).await;
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
            conn.shutdown(patience).await;
        }
    });
}
