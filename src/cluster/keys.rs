//! Redis key names of a cluster and the shard of a channel id: pure functions, no IO.
//!
//! Every key starts with the cluster's name. A publish stream is `<name>:{<name>.<shard>}:stream`:
//! the braces are a Redis Cluster hash tag, so the shards spread over the cluster's masters while a
//! shard's keys stay together.
//!
//! The shard of a channel is a hash (FNV-1a) of its first two segments (`rooms.main` for
//! `rooms.main` and for `rooms.main.x`): a publish to a cid of two or more segments reaches only
//! channels of one shard, so it is one stream entry, ordered with every other publish to those
//! channels. A publish to a bare prefix (`rooms`, HIVE.md 8.3) may reach channels of every shard:
//! it is appended to every shard, and each shard's copy is delivered only to the channels of that
//! shard, so each channel gets it once, in order with the single-channel publishes of its shard.

use std::collections::BTreeMap;

/// The shard of channel `cid` among `shards`.
pub fn shard_of(cid: &str, shards: u32) -> u32 {
    let head = match cid.match_indices('.').nth(1) {
        Some((i, _)) => &cid[..i],
        None => cid,
    };
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in head.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % u64::from(shards.max(1))) as u32
}

/// True for a bare prefix (one segment): its publishes go to every shard.
pub fn is_bare_prefix(cid: &str) -> bool {
    !cid.contains('.')
}

/// The cids of one publish grouped by the shard they are appended to.
pub fn split(cids: &[String], shards: u32) -> BTreeMap<u32, Vec<String>> {
    let mut out: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for cid in cids {
        if is_bare_prefix(cid) {
            for s in 0..shards.max(1) {
                push_once(out.entry(s).or_default(), cid);
            }
        } else {
            push_once(out.entry(shard_of(cid, shards)).or_default(), cid);
        }
    }
    out
}

fn push_once(v: &mut Vec<String>, cid: &str) {
    if !v.iter().any(|c| c == cid) {
        v.push(cid.to_string());
    }
}

/// The node tag of a sid, when it carries one: the first 8 characters, lowercase hex, of a 0.9
/// sid (40 hex digits) or of a cluster node's Engine.IO sid (8 hex digits, then 16 characters of
/// URL-safe base64). `None` for a sid of a single node or a malformed one.
pub fn sid_tag(sid: &str) -> Option<&str> {
    let tag = sid.get(..8)?;
    let hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let tagged = match sid.len() {
        40 => hex(sid),
        EIO_SID_LEN => sid[8..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        _ => false,
    };
    (tagged && hex(tag)).then_some(tag)
}

/// Length of a cluster node's Engine.IO sid: its 8-hex-digit tag and 12 random bytes in URL-safe
/// base64 (a single node's sids are 20 characters, so they never look tagged).
pub const EIO_SID_LEN: usize = 24;

/// The key names of one cluster.
#[derive(Debug, Clone)]
pub struct Keys {
    name: String,
}

impl Keys {
    /// The keys of cluster `name`.
    pub fn new(name: &str) -> Keys {
        Keys {
            name: name.to_string(),
        }
    }

    /// Publish stream of `shard`.
    pub fn stream(&self, shard: u32) -> String {
        format!("{n}:{{{n}.{shard}}}:stream", n = self.name)
    }

    /// The shard of a stream key (`None` for another key).
    pub fn shard_of_stream(&self, key: &str) -> Option<u32> {
        let rest = key.strip_prefix(&format!("{n}:{{{n}.", n = self.name))?;
        rest.strip_suffix("}:stream")?.parse().ok()
    }

    /// The marker of publish `id` (its first append wins; a repeat is not appended again).
    pub fn published(&self, id: &str) -> String {
        format!("{}:published:{id}", self.name)
    }

    /// The membership record of the node tagged `tag` (expires when the node stops beating).
    pub fn node(&self, tag: &str) -> String {
        format!("{}:node:{tag}", self.name)
    }

    /// The gone marker of the node tagged `tag`: set by a survivor that saw its record expire, read
    /// by that node when it resumes (it then rejoins under a new tag).
    pub fn gone(&self, tag: &str) -> String {
        format!("{}:gone:{tag}", self.name)
    }

    /// The set of every tag seen (the monitor's list; a tag without a record is gone).
    pub fn tags(&self) -> String {
        format!("{}:tags", self.name)
    }

    /// The epoch key: a random value set once; a different or missing value means Redis lost data.
    pub fn epoch(&self) -> String {
        format!("{}:epoch", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_and_its_subchannels_share_a_shard() {
        for n in [1, 3, 8, 64] {
            assert_eq!(shard_of("rooms.main", n), shard_of("rooms.main.x.y", n));
            assert!(shard_of("rooms.main", n) < n);
        }
        let spread: std::collections::HashSet<u32> = (0..100)
            .map(|i| shard_of(&format!("rooms.{i}"), 8))
            .collect();
        assert!(
            spread.len() > 4,
            "channels spread over the shards: {spread:?}"
        );
    }

    #[test]
    fn split_sends_bare_prefixes_everywhere() {
        let cids = vec![
            "rooms".to_string(),
            "rooms.a".to_string(),
            "rooms.a".to_string(),
        ];
        let g = split(&cids, 4);
        assert_eq!(g.len(), 4);
        let home = shard_of("rooms.a", 4);
        assert_eq!(g[&home], ["rooms", "rooms.a"]);
        for (s, v) in &g {
            if *s != home {
                assert_eq!(v, &["rooms"]);
            }
        }
    }

    #[test]
    fn sid_tags_are_read_from_both_sid_forms() {
        let old = format!("0123abcd{}", "f".repeat(32));
        assert_eq!(sid_tag(&old), Some("0123abcd"));
        assert_eq!(sid_tag("0123abcdAbC-_xyz0123456_"), Some("0123abcd"));
        // A single node's Engine.IO sid (20 characters) and malformed ones carry no tag.
        assert_eq!(sid_tag("AbC-_xyz0123456_AbC-"), None);
        assert_eq!(sid_tag("0123ABCDAbC-_xyz0123456_"), None);
        assert_eq!(sid_tag("0123abcdAbC-_xyz0123456/"), None);
        assert_eq!(sid_tag(&format!("0123abcd{}", "g".repeat(32))), None);
        assert_eq!(sid_tag("0123"), None);
    }

    #[test]
    fn stream_keys_round_trip() {
        let k = Keys::new("hive");
        assert_eq!(k.stream(3), "hive:{hive.3}:stream");
        assert_eq!(k.shard_of_stream(&k.stream(3)), Some(3));
        assert_eq!(k.shard_of_stream("hive:epoch"), None);
    }
}
