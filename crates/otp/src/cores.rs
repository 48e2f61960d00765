//! One single-threaded runtime per core, and which of them the next piece of work goes to: for an
//! application that wants each connection (and the actors it starts) to live and die on one core,
//! served in arrival order (no work stealing, no LIFO slot). Used by Hive (`hive.cores`) and flood
//! (`--cores`).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::{Builder, Handle, Runtime};

static CORES: OnceLock<Vec<Handle>> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The process's runtime: tokio's work-stealing runtime (`cores` 0), or `cores` single-threaded
/// runtimes: the returned one (for the calling thread to drive) plus `cores - 1` threads named
/// `<name>-<i>`, all installed for [`next`] and [`here`].
pub fn runtime(cores: usize, name: &str) -> std::io::Result<Runtime> {
    if cores == 0 {
        return Builder::new_multi_thread().enable_all().build();
    }
    let main = Builder::new_current_thread().enable_all().build()?;
    let mut handles = vec![main.handle().clone()];
    for i in 1..cores {
        let rt = Builder::new_current_thread().enable_all().build()?;
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
