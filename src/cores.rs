//! The runtimes connections are spread over when Hive runs one single-threaded runtime per core
//! (`hive.cores`, see `src/main.rs`): each accepted connection, and so the session it opens, lives
//! and dies on one core, served in arrival order (no work stealing, no LIFO slot).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::Handle;

static CORES: OnceLock<Vec<Handle>> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Spread connections over `cores` from now on (once; later calls are ignored).
pub fn install(cores: Vec<Handle>) {
    let _ = CORES.set(cores);
}

/// The runtime the next connection goes to (`None`: the current one, there is no spread).
pub fn next() -> Option<&'static Handle> {
    let cores = CORES.get()?;
    let i = NEXT.fetch_add(1, Ordering::Relaxed);
    cores.get(i % cores.len().max(1))
}

/// This task's runtime when connections are spread over cores (`None` otherwise): where the
/// actors of the session this task serves are started.
pub fn here() -> Option<Handle> {
    CORES.get()?;
    Handle::try_current().ok()
}
