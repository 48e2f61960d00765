//! The name -> [`Counter`] table behind [`super::Metrics`], and [`LazyCounter`], a handle whose
//! name enters that table on its first increment.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, RwLock};

use super::counter::Counter;

/// Every registered metric by name.
#[derive(Debug, Default)]
pub(super) struct Names {
    map: RwLock<BTreeMap<String, Counter>>,
}

impl Names {
    /// The counter named `name`, entered at 0 on first use.
    pub(super) fn entry(&self, name: &str) -> Counter {
        if let Some(c) = self.map.read().unwrap_or_else(|e| e.into_inner()).get(name) {
            return c.clone();
        }
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        map.entry(name.to_string()).or_default().clone()
    }

    /// The counter named `name`, if registered.
    pub(super) fn find(&self, name: &str) -> Option<Counter> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Every metric as `(name, value)`, sorted by name.
    pub(super) fn snapshot(&self) -> Vec<(String, i64)> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.get()))
            .collect()
    }
}

/// A counter whose name is entered in the registry on its first increment, not when the handle is
/// built: per-event hook counters and `connectors.uses` are listed only once something counted
/// them. Clones share the registration.
#[derive(Debug, Clone)]
pub struct LazyCounter(Arc<Lazy>);

#[derive(Debug)]
struct Lazy {
    names: Arc<Names>,
    name: Box<str>,
    counter: OnceLock<Counter>,
}

impl LazyCounter {
    pub(super) fn new(names: &Arc<Names>, name: String) -> Self {
        Self(Arc::new(Lazy {
            names: Arc::clone(names),
            name: name.into_boxed_str(),
            counter: OnceLock::new(),
        }))
    }

    /// The registered counter (registering it the first time).
    fn counter(&self) -> &Counter {
        let l = &*self.0;
        l.counter.get_or_init(|| l.names.entry(&l.name))
    }

    /// Add one.
    pub fn inc(&self) {
        self.counter().inc();
    }

    /// Add `n` (registering the name, whatever `n`).
    pub fn add(&self, n: i64) {
        self.counter().add(n);
    }

    /// Read the value (0 while the name is not registered).
    pub fn get(&self) -> i64 {
        let l = &*self.0;
        match l.counter.get() {
            Some(c) => c.get(),
            None => l.names.find(&l.name).map_or(0, |c| c.get()),
        }
    }
}

/// What a `metric_group!` field can be: built from its name.
pub(super) trait Handle {
    fn register(names: &Arc<Names>, name: &'static str) -> Self;
}

impl Handle for Counter {
    fn register(names: &Arc<Names>, name: &'static str) -> Self {
        names.entry(name)
    }
}

impl Handle for LazyCounter {
    fn register(names: &Arc<Names>, name: &'static str) -> Self {
        LazyCounter::new(names, name.to_string())
    }
}
