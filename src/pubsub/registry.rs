//! The per-node channel registry (HIVE.md 8.2): templates, and cid -> live channel.
//!
//! One `BTreeMap` replaces the original's exact and prefix tables: "every channel at or below
//! `a.b`" is a range scan from `a.b` filtered at segment boundaries. Readers (publish, leave,
//! status) take the read lock directly and never wait on an actor; only the manager actor writes
//! (create/remove), which serialises channel creation. The lock is never held across `.await`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use ractor::{ActorId, ActorRef};

use super::cid::{is_at_or_below, prefix_of};
use super::metrics::PubsubCounters;
use super::msg::ChannelMsg;
use super::privilege::Privilege;
use super::subscriber::Payload;
use crate::HiveError;

/// A channel template (`pubsub.channels.<prefix>`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Template {
    pub(crate) privilege: Privilege,
    /// Idle lifetime in ms; 0 = never expires.
    pub(crate) timeout: u64,
}

/// One live channel.
#[derive(Debug, Clone)]
pub(crate) struct ChannelEntry {
    /// Level recorded at creation (the template's level then).
    pub(crate) privilege: Privilege,
    pub(crate) actor: ActorRef<ChannelMsg>,
    /// Subscriber count, maintained by the channel actor (read by `status`).
    pub(crate) subscribers: Arc<AtomicUsize>,
    /// Publishes the channel fanned out, counted by the channel actor (the monitor's rates).
    pub(crate) published: Arc<AtomicU64>,
    /// Fan-out shards the channel uses (0: its own loop), set by the channel actor.
    pub(crate) shards: Arc<AtomicUsize>,
    /// When the channel started.
    pub(crate) created: std::time::Instant,
}

/// One live channel as the monitor lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelStat {
    /// Channel id.
    pub cid: String,
    /// Live subscribers.
    pub subscribers: usize,
    /// Publishes fanned out since it started.
    pub published: u64,
    /// Fan-out shards it uses (0: it delivers in its own loop; see `pubsub::shard`).
    pub shards: usize,
    /// Its actor id (a restarted or re-created channel has a new one).
    pub actor_id: String,
    /// Time since it started.
    pub age: std::time::Duration,
}

/// Templates, live channels and counters of one node.
#[derive(Debug)]
pub(crate) struct Registry {
    pub(crate) templates: HashMap<String, Template>,
    channels: RwLock<BTreeMap<String, ChannelEntry>>,
    pub(crate) counters: PubsubCounters,
}

impl Registry {
    pub(crate) fn new(templates: HashMap<String, Template>, counters: PubsubCounters) -> Self {
        Self {
            templates,
            channels: RwLock::default(),
            counters,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, ChannelEntry>> {
        // A panic while holding this lock leaves a consistent map (single inserts/removes).
        self.channels.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, ChannelEntry>> {
        self.channels.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The template of `cid`'s prefix.
    ///
    /// # Errors
    /// `bad_channel_id` when the prefix has no template.
    pub(crate) fn template(&self, cid: &str) -> Result<Template, HiveError> {
        let prefix = prefix_of(cid);
        self.templates.get(prefix).copied().ok_or_else(|| {
            HiveError::BadChannelId(format!(
                "Requested Hive Pub-Sub Channel prefix is undefined: {prefix}"
            ))
        })
    }

    /// Privilege check of every cid (HIVE.md 8.4); the first failure wins. `Max` skips it.
    pub(crate) fn check(&self, p: Privilege, cids: &[String]) -> Result<(), HiveError> {
        if p == Privilege::Max {
            return Ok(());
        }
        let map = self.read();
        for cid in cids {
            let target = match map.get(cid) {
                Some(e) => e.privilege,
                None => self.template(cid)?.privilege,
            };
            if !p.allows(target) {
                return Err(HiveError::AccessDenied(format!(
                    "Tried accessing a Hive Pub-Sub Channel with insufficient privilege level: {cid}"
                )));
            }
        }
        Ok(())
    }

    /// The channel with exactly this id.
    pub(crate) fn get(&self, cid: &str) -> Option<ChannelEntry> {
        self.read().get(cid).cloned()
    }

    /// Register a new channel (manager only). Returns the entry it replaced, if any.
    pub(crate) fn insert(&self, cid: String, entry: ChannelEntry) -> Option<ChannelEntry> {
        self.write().insert(cid, entry)
    }

    /// Drop `cid` if it still maps to actor `id`; true when it did (manager only).
    pub(crate) fn remove_if(&self, cid: &str, id: ActorId) -> bool {
        let mut map = self.write();
        if map.get(cid).is_some_and(|e| e.actor.get_id() == id) {
            map.remove(cid);
            true
        } else {
            false
        }
    }

    /// Call `f` for every channel whose id equals `scope` or lies below it.
    pub(crate) fn for_each_at_or_below(&self, scope: &str, mut f: impl FnMut(&str, &ChannelEntry)) {
        let map = self.read();
        let upper = format!("{scope}/"); // '/' is the byte after '.'
        let range = map.range::<str, _>((Bound::Included(scope), Bound::Excluded(upper.as_str())));
        for (cid, entry) in range {
            if is_at_or_below(cid, scope) {
                f(cid, entry);
            }
        }
    }

    /// Subscriber count of every channel at or below `scope`; `None` when there is none.
    pub(crate) fn status(&self, scope: &str) -> Option<usize> {
        let mut found = false;
        let mut n = 0;
        self.for_each_at_or_below(scope, |_, e| {
            found = true;
            n += e.subscribers.load(Ordering::Relaxed);
        });
        found.then_some(n)
    }

    /// Every channel at or below `scope` (every channel for `""`) with its subscriber count, in id
    /// order (the monitor's `/channels`).
    pub(crate) fn list(&self, scope: &str) -> Vec<(String, usize)> {
        let count = |e: &ChannelEntry| e.subscribers.load(Ordering::Relaxed);
        if scope.is_empty() {
            return self
                .read()
                .iter()
                .map(|(c, e)| (c.clone(), count(e)))
                .collect();
        }
        let mut out = Vec::new();
        self.for_each_at_or_below(scope, |c, e| out.push((c.to_owned(), count(e))));
        out
    }

    /// Every channel at or below `scope` (every channel for `""`) with its figures, in id order.
    pub(crate) fn stats(&self, scope: &str) -> Vec<ChannelStat> {
        let stat = |c: &str, e: &ChannelEntry| ChannelStat {
            cid: c.to_owned(),
            subscribers: e.subscribers.load(Ordering::Relaxed),
            published: e.published.load(Ordering::Relaxed),
            shards: e.shards.load(Ordering::Relaxed),
            actor_id: e.actor.get_id().to_string(),
            age: e.created.elapsed(),
        };
        if scope.is_empty() {
            return self.read().iter().map(|(c, e)| stat(c, e)).collect();
        }
        let mut out = Vec::new();
        self.for_each_at_or_below(scope, |c, e| out.push(stat(c, e)));
        out
    }

    /// Every channel with its actor (the monitor asks each about one subscriber).
    pub(crate) fn actors(&self) -> Vec<(String, ActorRef<ChannelMsg>)> {
        self.read()
            .iter()
            .map(|(c, e)| (c.clone(), e.actor.clone()))
            .collect()
    }

    /// HIVE.md 8.3 publish on this node: privilege-check (failures are logged and dropped), then
    /// hand `payload` to every channel at or below each cid for which `keep(channel id)` holds
    /// (all of them, except for a cluster's shard reader, which keeps its shard's), once per
    /// channel. Never waits.
    pub(crate) fn publish_where(
        &self,
        p: Privilege,
        cids: &[String],
        payload: Payload,
        keep: &dyn Fn(&str) -> bool,
    ) {
        let c = &self.counters;
        let n = payload.len() as i64;
        c.node.requests.inc();
        c.node.publish.inc();
        c.node.published_events.add(n);
        if let Payload::Published(pb) = &payload
            && let Some(at) = c.probe.sample()
        {
            pb.stamp(at, Arc::clone(&c.probe));
        }
        if let Err(e) = self.check(p, cids) {
            c.error(cids.first().map(String::as_str).unwrap_or(""));
            tracing::warn!(error = %e, code = e.code(), "pubsub publish dropped");
            return;
        }
        let mut seen = HashSet::new();
        let mut targets: Vec<ActorRef<ChannelMsg>> = Vec::new();
        for cid in cids {
            if let Some(pc) = c.prefix(cid) {
                pc.requests.inc();
                pc.publish.inc();
                pc.published_events.add(n);
            }
            self.for_each_at_or_below(cid, |id, e| {
                if keep(id) && seen.insert(e.actor.get_id()) {
                    targets.push(e.actor.clone());
                }
            });
        }
        for t in targets {
            // A channel that just stopped drops the delivery; it had no subscribers.
            let _ = t.cast(ChannelMsg::Publish(payload.clone()));
        }
    }

    /// Unregister every channel (node shutdown), returning them.
    pub(crate) fn drain(&self) -> Vec<ChannelEntry> {
        std::mem::take(&mut *self.write()).into_values().collect()
    }

    /// Number of live channels.
    pub(crate) fn len(&self) -> usize {
        self.read().len()
    }
}
