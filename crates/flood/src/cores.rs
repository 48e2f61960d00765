//! The single-threaded runtimes users are spread over when flood runs one runtime per core
//! (`flood --cores N`): each user (its actor and its transport's reader task) lives on one core,
//! whose ready tasks are served in arrival order (no work stealing, no LIFO slot), so no user's
//! answers wait in its socket while others on the same core are served again and again.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::Handle;

static CORES: OnceLock<Vec<Handle>> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Spread users over `cores` from now on (once; later calls are ignored).
pub fn install(cores: Vec<Handle>) {
    let _ = CORES.set(cores);
}

/// The runtime the next user goes to (`None`: the current one, there is no spread).
pub fn next() -> Option<Handle> {
    let cores = CORES.get()?;
    let i = NEXT.fetch_add(1, Ordering::Relaxed);
    cores.get(i % cores.len().max(1)).cloned()
}
