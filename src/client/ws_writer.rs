//! [`WsWriter`]: the write end of a 0.9 WebSocket connection's socket, which the connection lends
//! to its queue's senders while it waits idle, so that a channel (or the client actor) writes ready
//! frames into the socket itself: no queue push, no wake, no task poll.
//!
//! The connection task owns the writer and writes through it (it is an [`AsyncWrite`]). While the
//! task waits with nothing queued and nothing to write, it lends it to the queue
//! ([`super::ws_queue::WsReceiver::recv_lending`]); a sender then frames its messages with the
//! codec and makes one non-blocking write ([`WsWriter::write_now`], under the queue's lock). What
//! the socket does not take at once stays in the writer as its *rest*, and the sender wakes the
//! task, which takes the writer back and writes the rest before anything else: every write
//! through the writer starts with the rest, so frames never interleave.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};
use std::time::Instant;

use codec::ws::{encode_frame, frame_len, opcode};
use tokio::io::AsyncWrite;
use tokio_util::either::Either;

use crate::metrics::DeliveryProbe;

/// A socket's write end as the writer keeps it, unboxed for a TCP socket (the common case): the
/// writer's parts, lent to the connection queue, sit in the queue's own allocation, so a direct
/// write reaches the socket with one pointer fewer. Any other stream's is boxed. tokio-util's
/// `Either` writes through whichever it holds.
pub type SocketEnd = Either<tokio::net::tcp::OwnedWriteHalf, Box<dyn WsIo>>;

/// A socket's write end as the writer uses it: an [`AsyncWrite`] for the connection task, and for
/// a sender's direct write, when the stream is a plain TCP socket, one non-blocking `send(2)` on
/// its fd that skips tokio's readiness slot (tokio learns of a "would block" on its own next
/// write: that write gets it from the kernel and waits for the socket as usual).
pub trait WsIo: AsyncWrite + Send + Unpin {
    /// One non-blocking write straight to the socket; `None` when this stream has no fd to
    /// write (the writer polls it instead).
    fn send_now(&self, _buf: &[u8]) -> Option<io::Result<usize>> {
        None
    }

    /// This write end as the writer keeps it.
    fn into_end(self) -> SocketEnd
    where
        Self: Sized + 'static,
    {
        Either::Right(Box::new(self))
    }
}

impl WsIo for tokio::net::tcp::OwnedWriteHalf {
    fn send_now(&self, buf: &[u8]) -> Option<io::Result<usize>> {
        let stream: &tokio::net::TcpStream = self.as_ref();
        let flags = rustix::net::SendFlags::DONTWAIT | rustix::net::SendFlags::NOSIGNAL;
        Some(rustix::net::send(stream, buf, flags).map_err(io::Error::from))
    }

    fn into_end(self) -> SocketEnd {
        Either::Left(self)
    }
}

impl<T: AsyncWrite + Send> WsIo for tokio::io::WriteHalf<T> {}

impl WsIo for SocketEnd {
    fn send_now(&self, buf: &[u8]) -> Option<io::Result<usize>> {
        match self {
            Either::Left(w) => w.send_now(buf),
            Either::Right(w) => w.send_now(buf),
        }
    }
}

/// A sender's scratch buffer that grew past this is given back.
const SCRATCH_KEEP: usize = 16 * 1024;

thread_local! {
    /// Where a sender frames its messages before its write (one per thread, reused).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The write end of one connection: with the task, or lent to its queue (see the module docs).
pub struct WsWriter(Option<Inner>);

/// The writer's parts, moved (not boxed) into the queue's state when lent: a direct write finds
/// them in the line it locks.
pub(super) struct Inner {
    /// Bytes a sender could not write at once: written before anything else.
    rest: Vec<u8>,
    /// The publish time of a sampled delivery in `rest` (recorded once it is written).
    timed: Option<Instant>,
    probe: Arc<DeliveryProbe>,
    /// Which frames a sender may write itself (the others are queued for the connection task,
    /// which completes or rewrites them).
    takes: fn(&str) -> bool,
    io: SocketEnd,
}

/// What [`Inner::write_now`] did with the frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wrote {
    /// All of them went into the socket.
    All,
    /// Part (or none) of them did: the rest waits in the writer for the connection task.
    Part,
    /// The socket failed: nothing was written, the connection task will see the failure.
    Failed,
}

impl WsWriter {
    /// A writer over `io`, timing sampled deliveries in `probe`.
    pub fn new(io: impl WsIo + 'static, probe: Arc<DeliveryProbe>) -> Self {
        Self::taking(io, probe, |_| true)
    }

    /// A writer over `io` whose senders write only the frames `takes` accepts (a sender's other
    /// frames are queued, as while the writer is not lent).
    pub fn taking(
        io: impl WsIo + 'static,
        probe: Arc<DeliveryProbe>,
        takes: fn(&str) -> bool,
    ) -> Self {
        Self(Some(Inner {
            rest: Vec::new(),
            timed: None,
            probe,
            takes,
            io: io.into_end(),
        }))
    }

    /// Bytes a sender began writing wait to be written.
    pub fn has_rest(&self) -> bool {
        self.0.as_ref().is_some_and(|i| !i.rest.is_empty())
    }

    /// Lend the parts (none while they are lent).
    pub(super) fn lend(&mut self) -> Option<Inner> {
        self.0.take()
    }

    /// Take lent parts back.
    pub(super) fn give_back(&mut self, inner: Option<Inner>) {
        if inner.is_some() {
            self.0 = inner;
        }
    }
}

impl Inner {
    /// Nothing waits to be written after a sender's partial write.
    pub(super) fn idle(&self) -> bool {
        self.rest.is_empty()
    }

    /// A sender may write every frame of `groups` itself.
    pub(super) fn takes(&self, groups: &[&[Arc<str>]]) -> bool {
        groups.iter().all(|g| g.iter().all(|f| (self.takes)(f)))
    }

    /// Sender side: frame every group of `groups` in turn (one text frame per message; several
    /// groups are several publishes a fan-out shard had waiting for this socket) and write them
    /// with one non-blocking write; keep what the socket does not take.
    pub(super) fn write_now(&mut self, groups: &[&[Arc<str>]]) -> Wrote {
        SCRATCH.with_borrow_mut(|buf| {
            buf.clear();
            for frames in groups {
                text_frames(buf, frames);
            }
            // On "would block" the connection task, woken through the queue, polls the socket
            // itself (with its own waker) to finish the rest.
            let n = match self.io.send_now(buf) {
                Some(Ok(n)) => n,
                Some(Err(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) =>
                {
                    0
                }
                Some(Err(_)) => return Wrote::Failed,
                // Not a plain TCP socket: polled with a waker that does nothing, outside tokio's
                // cooperative budget (a channel writes to thousands of sockets in one poll, and a
                // spent budget would make every write after the 128th "would block").
                None => {
                    let mut cx = Context::from_waker(Waker::noop());
                    let io = &mut self.io;
                    let write = tokio::task::unconstrained(std::future::poll_fn(|cx| {
                        Pin::new(&mut *io).poll_write(cx, buf)
                    }));
                    match std::pin::pin!(write).poll(&mut cx) {
                        Poll::Ready(Ok(n)) => n,
                        Poll::Ready(Err(_)) => return Wrote::Failed,
                        Poll::Pending => 0,
                    }
                }
            };
            let wrote = match buf.get(n..) {
                Some(rest) if !rest.is_empty() => {
                    self.rest.extend_from_slice(rest);
                    self.timed = timed(&self.probe, groups);
                    Wrote::Part
                }
                _ => {
                    if let Some(at) = timed(&self.probe, groups) {
                        self.probe.record(at);
                    }
                    Wrote::All
                }
            };
            if buf.capacity() > SCRATCH_KEEP {
                *buf = Vec::new();
            }
            wrote
        })
    }

    /// Write the rest, if any.
    fn poll_rest(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.rest.is_empty() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.rest.drain(..n.min(self.rest.len()));
        }
        if self.rest.capacity() > 0 {
            self.rest = Vec::new();
        }
        if let Some(at) = self.timed.take() {
            self.probe.record(at);
        }
        Poll::Ready(Ok(()))
    }
}

/// The publish time of a sampled delivery among `groups`.
fn timed(probe: &DeliveryProbe, groups: &[&[Arc<str>]]) -> Option<Instant> {
    groups.iter().find_map(|g| probe.check_all(g))
}

/// One text frame per message, appended to `buf`.
pub fn text_frames(buf: &mut Vec<u8>, frames: &[Arc<str>]) {
    buf.reserve(frames.iter().map(|f| frame_len(f.len())).sum());
    for f in frames {
        encode_frame(buf, opcode::TEXT, f.as_bytes());
    }
}

/// The writer's parts are lent: only reachable through a bug (the lending future gives them back
/// before the task can write).
fn lent() -> io::Error {
    io::Error::other("the websocket write end is lent to its queue")
}

impl AsyncWrite for WsWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let Some(inner) = self.get_mut().0.as_mut() else {
            return Poll::Ready(Err(lent()));
        };
        ready!(inner.poll_rest(cx))?;
        Pin::new(&mut inner.io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(inner) = self.get_mut().0.as_mut() else {
            return Poll::Ready(Err(lent()));
        };
        ready!(inner.poll_rest(cx))?;
        Pin::new(&mut inner.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(inner) = self.get_mut().0.as_mut() else {
            return Poll::Ready(Err(lent()));
        };
        ready!(inner.poll_rest(cx))?;
        Pin::new(&mut inner.io).poll_shutdown(cx)
    }
}

impl std::fmt::Debug for WsWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsWriter")
            .field("lent", &self.0.is_none())
            .field("rest", &self.0.as_ref().map_or(0, |i| i.rest.len()))
            .finish()
    }
}

#[cfg(test)]
mod tests;
