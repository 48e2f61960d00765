//! One single-threaded runtime per core, and which of them the next piece of work goes to: for an
//! application that wants each connection (and the actors it starts) to live and die on one core,
//! served in arrival order (no work stealing, no LIFO slot). Used by Hive (`hive.cores`) and flood
//! (`--cores`).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::{Builder, Handle, Runtime};

static CORES: OnceLock<Vec<Handle>> = OnceLock::new();

/// The default cap on IO events a worker that still has tasks takes per poll of the driver
/// (tokio's `max_io_events_per_busy_tick`; tokio's own default is 1024). A busy worker polls the
/// driver every 61 tasks, and every task a poll wakes goes to its local queue of 256; with 1024
/// events per poll the rest overflows to the global queue, which a busy worker serves one task
/// per 61, so under saturation a minority of sessions waits there for a second or more while the
/// rest cycle in milliseconds. 61 events per 61 tasks keeps the queue from overflowing: ready
/// sockets beyond it wait in the kernel's ready list, in arrival order. Measured in
/// `benches/README.md` ("The runtime's IO batches").
pub const IO_EVENTS_PER_BUSY_TICK: usize = 61;

/// The cap on IO events per poll of a worker about to sleep, when the busy cap is set: a local
/// queue's 256, so even an idle worker's poll does not overflow.
const IO_EVENTS_PER_TICK: usize = 256;

fn builder(mut b: Builder, io_busy: usize) -> Builder {
    b.enable_all();
    if io_busy > 0 {
        b.max_io_events_per_tick(IO_EVENTS_PER_TICK.max(io_busy));
        b.max_io_events_per_busy_tick(io_busy);
    }
    b
}
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The process's runtime: tokio's work-stealing runtime (`cores` 0), or `cores` single-threaded
/// runtimes: the returned one (for the calling thread to drive) plus `cores - 1` threads named
/// `<name>-<i>`, all installed for [`next`] and [`here`]. `io_busy`: the most IO events a worker
/// with tasks left takes per poll ([`IO_EVENTS_PER_BUSY_TICK`]; 0 = tokio's defaults).
pub fn runtime(cores: usize, name: &str, io_busy: usize) -> std::io::Result<Runtime> {
    if cores == 0 {
        return builder(Builder::new_multi_thread(), io_busy).build();
    }
    let main = builder(Builder::new_current_thread(), io_busy).build()?;
    let mut handles = vec![main.handle().clone()];
    for i in 1..cores {
        let rt = builder(Builder::new_current_thread(), io_busy).build()?;
        handles.push(rt.handle().clone());
        std::thread::Builder::new()
            .name(format!("{name}-{i}"))
            .spawn(move || rt.block_on(std::future::pending::<()>()))?;
    }
    install(handles);
    Ok(main)
}

/// Spread work over `cores` from now on (once; later calls are ignored).
pub fn install(cores: Vec<Handle>) {
    let _ = CORES.set(cores);
}

/// The runtime the next connection or user goes to, round-robin (`None`: the current one, there
/// is no spread).
pub fn next() -> Option<Handle> {
    let cores = CORES.get()?;
    let i = NEXT.fetch_add(1, Ordering::Relaxed);
    cores.get(i % cores.len().max(1)).cloned()
}

/// This task's runtime when work is spread over cores (`None` otherwise): where the actors of the
/// connection this task serves are started.
pub fn here() -> Option<Handle> {
    CORES.get()?;
    Handle::try_current().ok()
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// With a small busy batch, sockets that become ready together beyond the batch stay in the
    /// kernel's ready list and are all served: none is lost to the cap.
    #[test]
    fn small_io_batches_serve_every_ready_socket() {
        let rt = super::runtime(0, "test-core", 4).expect("runtime");
        let served = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            let server = tokio::spawn(async move {
                let mut conns = Vec::new();
                for _ in 0..300 {
                    let (mut s, _) = listener.accept().await.expect("accept");
                    conns.push(tokio::spawn(async move {
                        let mut b = [0u8; 1];
                        s.read_exact(&mut b).await.expect("read");
                        s.write_all(&b).await.expect("write");
                    }));
                }
                for c in conns {
                    c.await.expect("conn");
                }
            });
            let mut clients = Vec::new();
            for _ in 0..300 {
                clients.push(tokio::net::TcpStream::connect(addr).await.expect("connect"));
            }
            // All 300 requests at once: 300 sockets ready for a runtime that takes 4 per poll.
            for c in &mut clients {
                c.write_all(b"x").await.expect("send");
            }
            let mut served = 0;
            for c in &mut clients {
                let mut b = [0u8; 1];
                c.read_exact(&mut b).await.expect("answer");
                served += usize::from(b[0] == b'x');
            }
            server.await.expect("server");
            served
        });
        assert_eq!(served, 300);
    }
}
