//! What concurrent publishers' frames must look like to their subscribers: each publisher's
//! `"<p>:<i>"` frames in order, and one order of the channel for every subscriber.
#![allow(dead_code, unreachable_pub)]

/// Checks one subscriber's frames (`"<publisher>:<index>"`, `publishers` x `each`): every
/// publisher's in order, and the same sequence as the first subscriber's (kept in `first`).
pub fn check(got: Vec<String>, publishers: usize, each: usize, first: &mut Option<Vec<String>>) {
    for p in 0..publishers {
        let mine: Vec<usize> = got
            .iter()
            .filter_map(|t| t.strip_prefix(&format!("{p}:")))
            .map(|i| i.parse().expect("a frame index"))
            .collect();
        assert_eq!(
            mine,
            (0..each).collect::<Vec<_>>(),
            "publisher {p} in order"
        );
    }
    match first {
        None => *first = Some(got),
        Some(f) => assert_eq!(&got, f, "every subscriber sees the channel's one order"),
    }
}
