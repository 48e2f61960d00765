//! The report of a chaos run: per kind of fault, what the probes saw inside and outside its blast
//! radius (supervisor-trees.md), messages published against delivered, restarts per supervisor,
//! latency before/during/after and the time back to normal.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write;

use serde_json::Value;

use crate::probe::Ev;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Client,
    Channel,
    Worker,
    Pool,
    PubSub,
    Router,
    Redis,
    Backend,
}

/// What a fault may affect, as supervisor-trees.md documents it.
#[derive(Debug, Clone)]
pub enum Radius {
    /// One session (a client actor: its session ends).
    Session(String),
    /// One channel's deliveries and subscriptions (a channel actor).
    Channel(String),
    /// Requests in flight on a pool (a worker or the whole pool): they fail.
    PoolCalls(String),
    /// Every channel and subscription (pubsub_sup one_for_all); sessions survive.
    Subscriptions,
    /// Every session (router_sup one_for_all).
    AllSessions,
    /// Hook calls that read or write `sm.redis` state while Redis is down (they fail).
    StateCalls,
    /// Hook calls to the HTTP backend while it is down (they fail).
    BackendCalls,
}

impl Radius {
    fn doc(&self) -> &'static str {
        match self {
            Radius::Session(_) => "that session ends",
            Radius::Channel(_) => "that channel's subscribers lose it (re-join needed)",
            Radius::PoolCalls(_) => "requests in flight on it fail",
            Radius::Subscriptions => "every subscription is lost; sessions survive",
            Radius::AllSessions => "every session ends",
            Radius::StateCalls => "state calls fail until Redis is back",
            Radius::BackendCalls => "backend calls fail until it is back",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub t: f64,
    pub kind: Kind,
    pub target: String,
    pub radius: Radius,
}

impl Fault {
    pub fn new(t: f64, kind: Kind, target: String, radius: Radius) -> Self {
        Self {
            t,
            kind,
            target,
            radius,
        }
    }
}

/// One session of a probe: joined at, sid, lost at (infinity while alive), clean end.
type Span = (f64, String, f64, Option<bool>);

/// Seconds around a fault in which what a probe sees is attributed to it.
const WINDOW: f64 = 5.0;
/// Seconds a delivery may take before it counts as lost.
const GRACE: f64 = 3.0;

fn p99(mut v: Vec<f64>) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64) * 0.99).ceil() as usize;
    format!("{:.0} ms (n={})", v[i.min(v.len()) - 1] * 1000.0, v.len())
}

/// Which faults' radius covers an event at `t` of a session `sid` (joined at `since`) of room
/// channel `cid`: a session end (`session_end`) or a lost delivery. Radii that lose state
/// (a channel, every subscription, every session) cover what happens after the fault to sessions
/// that existed before it, however late; radii of failed calls cover WINDOW seconds.
fn covering<'a>(
    faults: &'a [Fault],
    t: f64,
    sids: &[&str],
    cid: &str,
    since: f64,
    session_end: bool,
) -> Vec<&'a Fault> {
    faults
        .iter()
        .filter(|f| f.t <= t + 0.5)
        .filter(|f| match &f.radius {
            Radius::Session(s) => sids.contains(&s.as_str()),
            Radius::Channel(c) => !session_end && c.split('#').next() == Some(cid) && since <= f.t,
            Radius::Subscriptions => !session_end && since <= f.t,
            Radius::AllSessions => since <= f.t,
            // Both pools are on a probe message's path: `database` (sm.redis) and `backend`.
            Radius::PoolCalls(p) => {
                !session_end && (p == "backend" || p == "database") && t - f.t <= WINDOW
            }
            Radius::StateCalls | Radius::BackendCalls => !session_end && t - f.t <= WINDOW,
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
pub fn report(
    events: &[Ev],
    faults: &[Fault],
    before_end: f64,
    during_end: f64,
    end: f64,
    restarts_before: &BTreeMap<String, u64>,
    restarts_after: &BTreeMap<String, u64>,
    flood: &Value,
) -> String {
    let mut out = String::new();
    // Sessions of each probe over time: (joined at, sid, lost at, clean).
    let mut sessions: HashMap<usize, Vec<Span>> = HashMap::new();
    let mut published: Vec<(usize, u64, f64)> = Vec::new();
    let mut received: HashSet<(usize, usize, u64)> = HashSet::new();
    let mut rtts: Vec<(f64, f64)> = Vec::new();
    let mut errors: Vec<(usize, f64)> = Vec::new();
    let mut lost: Vec<(usize, f64, bool)> = Vec::new();
    let mut refusals: BTreeMap<String, u64> = BTreeMap::new();
    let phase = |t: f64| {
        if t < before_end {
            "before"
        } else if t < during_end {
            "during"
        } else {
            "after"
        }
    };
    for e in events {
        match e {
            Ev::Joined { p, t, sid } => {
                sessions
                    .entry(*p)
                    .or_default()
                    .push((*t, sid.clone(), f64::INFINITY, None))
            }
            Ev::Lost { p, t, clean } => {
                lost.push((*p, *t, *clean));
                if let Some(last) = sessions.entry(*p).or_default().last_mut()
                    && last.2.is_infinite()
                {
                    last.2 = *t;
                    last.3 = Some(*clean);
                }
            }
            Ev::Published { p, t, seq } => published.push((*p, *seq, *t)),
            Ev::Received {
                p,
                t,
                from,
                seq,
                sent,
            } => {
                received.insert((*p, *from, *seq));
                if p == from {
                    rtts.push((*sent, t - sent));
                }
            }
            Ev::Error { p, t } => errors.push((*p, *t)),
            Ev::Refused { t, what, .. } => {
                *refusals
                    .entry(format!("{what} ({})", phase(*t)))
                    .or_default() += 1
            }
        }
    }
    let sid_at = |p: usize, t: f64| -> Option<&str> {
        sessions
            .get(&p)?
            .iter()
            .find(|s| s.0 <= t && t <= s.2)
            .map(|s| s.1.as_str())
    };
    let probes: HashSet<usize> = sessions.keys().copied().collect();

    // Session losses.
    let mut outside_lost_sessions = Vec::new();
    let mut inside_by_kind: BTreeMap<Kind, (usize, usize)> = BTreeMap::new(); // (clean, unclean)
    for (p, t, clean) in &lost {
        let span = sessions
            .get(p)
            .and_then(|v| v.iter().rev().find(|s| s.2 == *t));
        let sid = span.map(|s| s.1.as_str()).unwrap_or("");
        let since = span.map(|s| s.0).unwrap_or(*t);
        let cid = crate::probe_channel(p / 10);
        let cover = covering(faults, *t, &[sid], &cid, since, true);
        match cover.first() {
            Some(f) => {
                let e = inside_by_kind.entry(f.kind).or_default();
                if *clean { e.0 += 1 } else { e.1 += 1 }
            }
            None => {
                let near: Vec<String> = faults
                    .iter()
                    .filter(|f| f.t <= t + 0.5 && t - f.t <= WINDOW)
                    .map(|f| format!("{:?} {} at {:.1}s", f.kind, f.target, f.t))
                    .collect();
                outside_lost_sessions.push(format!(
                    "probe {p} lost its session at {t:.1}s ({}), faults in the window: {near:?}",
                    if *clean { "clean" } else { "unclean" }
                ));
            }
        }
    }

    // Messages: every publish that got no error (and whose publisher kept its session) within
    // GRACE, to every other probe of its room whose session covered [t, t + GRACE].
    let mut outside_lost_msgs = Vec::new();
    let mut per_kind_msgs: BTreeMap<String, (u64, u64)> = BTreeMap::new(); // (expected, delivered)
    let mut total = (0u64, 0u64);
    for (s, seq, t) in &published {
        if *t + GRACE > end - 1.0 {
            continue;
        }
        // An error back, or the publisher's own session ending, within GRACE: the publisher knows
        // its publish may not have been taken (a publish written into a connection that is being
        // closed, e.g. ~5 s after a router kill, is never read by the server).
        if errors
            .iter()
            .any(|(p, te)| p == s && *te >= *t && *te <= t + GRACE)
            || lost
                .iter()
                .any(|(p, tl, _)| p == s && *tl >= *t && *tl <= t + GRACE)
        {
            continue;
        }
        let Some(s_sid) = sid_at(*s, *t) else {
            continue;
        };
        let cid = crate::probe_channel(s / 10);
        for r in probes.iter().filter(|r| *r / 10 == s / 10 && *r != s) {
            let Some(span) = sessions
                .get(r)
                .and_then(|v| v.iter().find(|x| x.0 + 0.5 <= *t && t + GRACE <= x.2))
            else {
                continue;
            };
            let got = received.contains(&(*r, *s, *seq));
            total.0 += 1;
            total.1 += u64::from(got);
            let cover = covering(faults, *t, &[s_sid, span.1.as_str()], &cid, span.0, false);
            let key = cover
                .first()
                .map(|f| format!("{:?}", f.kind))
                .unwrap_or_else(|| "no fault".into());
            let e = per_kind_msgs.entry(key).or_default();
            e.0 += 1;
            e.1 += u64::from(got);
            if !got && cover.is_empty() {
                outside_lost_msgs.push(format!(
                    "probe {r} never got {s}:{seq} published at {t:.1}s"
                ));
            }
        }
    }

    // Time back to normal: from the fault until every probe has had its own message round trip
    // published after it.
    let back = |f: &Fault| -> Option<f64> {
        let mut worst: f64 = 0.0;
        for p in &probes {
            let first = events.iter().find_map(|e| match e {
                Ev::Received {
                    p: q,
                    from,
                    sent,
                    t,
                    ..
                } if q == p && from == p && *sent > f.t => Some(*t),
                _ => None,
            })?;
            worst = worst.max(first - f.t);
        }
        Some(worst)
    };

    let _ = writeln!(out, "\n## Faults\n");
    let _ = writeln!(
        out,
        "| kind | count | blast radius (supervisor-trees.md) | probe sessions lost inside (clean / unclean) | messages expected / delivered in its windows | time back to normal (s, max) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    let mut kinds: BTreeMap<Kind, Vec<&Fault>> = BTreeMap::new();
    for f in faults {
        kinds.entry(f.kind).or_default().push(f);
    }
    for (k, fs) in &kinds {
        let (c, u) = inside_by_kind.get(k).copied().unwrap_or_default();
        let (e, d) = per_kind_msgs
            .get(&format!("{k:?}"))
            .copied()
            .unwrap_or_default();
        let backs: Vec<f64> = fs.iter().filter_map(|f| back(f)).collect();
        let b = backs.iter().copied().fold(f64::NAN, f64::max);
        let _ = writeln!(
            out,
            "| {k:?} | {} | {} | {c} / {u} | {e} / {d} | {} |",
            fs.len(),
            fs[0].radius.doc(),
            if b.is_nan() {
                "-".into()
            } else {
                format!("{b:.1}")
            }
        );
    }
    let (e, d) = per_kind_msgs.get("no fault").copied().unwrap_or_default();
    let _ = writeln!(
        out,
        "| (no fault in the window) | - | - | - | {e} / {d} | - |"
    );
    let _ = writeln!(
        out,
        "\nAll probe messages: {} expected deliveries to surviving subscribers, {} delivered.",
        total.0, total.1
    );
    let _ = writeln!(
        out,
        "\nOutside every radius: {} probe sessions lost, {} messages lost (target 0 and 0).",
        outside_lost_sessions.len(),
        outside_lost_msgs.len()
    );
    for l in outside_lost_sessions.iter().take(20) {
        let _ = writeln!(out, "- {l}");
    }
    for l in outside_lost_msgs.iter().take(20) {
        let _ = writeln!(out, "- {l}");
    }
    let joins: BTreeMap<&str, usize> = events.iter().fold(BTreeMap::new(), |mut m, e| {
        if let Ev::Joined { t, .. } = e {
            *m.entry(phase(*t)).or_default() += 1;
        }
        m
    });
    let _ = writeln!(
        out,
        "\nProbe sessions joined per phase: {joins:?}; failed probe connection attempts: {refusals:?}; probe hive_error events: {}",
        errors.len()
    );
    let _ = writeln!(
        out,
        "\n## Latency (probe's own message round trip: publish_msg -> backend -> API publish -> channel -> probe)\n"
    );
    let w = |a: f64, b: f64| {
        rtts.iter()
            .filter(|(s, _)| *s >= a && *s < b)
            .map(|x| x.1)
            .collect::<Vec<_>>()
    };
    let _ = writeln!(out, "| before faults | during | after |\n|---|---|---|");
    let _ = writeln!(
        out,
        "| {} | {} | {} |",
        p99(w(0.0, before_end)),
        p99(w(before_end, during_end)),
        p99(w(during_end, end))
    );
    let _ = writeln!(out, "\n## Restarts per supervisor (during the run)\n");
    for (sup, after) in restarts_after {
        let b = restarts_before.get(sup).copied().unwrap_or(0);
        if *after > b {
            let _ = writeln!(out, "- {sup}: {}", after - b);
        }
    }
    let _ = writeln!(out, "\n## Faults in order\n");
    for f in faults {
        let _ = writeln!(out, "- {:.1}s {:?} {}", f.t, f.kind, f.target);
    }
    let c = &flood["counters"];
    let _ = writeln!(
        out,
        "\n## flood\n\nusers {} connected at the end {}, authorized {}, messages sent {} received {}, hive_errors {}, errors {}",
        c["all_users"],
        c["connected_users"],
        c["authorized"],
        c["sent"],
        c["msgs"],
        c["hive_errors"],
        flood["errors"]
    );
    out
}
