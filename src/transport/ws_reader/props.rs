//! Property test of the reader's IO around the codec: any client frames, delivered in any read
//! sizes (so the buffer's compaction and the direct reads of large payloads are both taken),
//! give what the codec's whole-buffer decoder gives, error included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use codec::ws::{Decoder, Role, encode_masked, opcode};
use proptest::collection::vec;
use proptest::prelude::*;
use tokio::io::{AsyncRead, ReadBuf};

use super::*;

/// A stream that returns its chunks one read at a time (less when the reader has less room).
struct Chunks(VecDeque<Vec<u8>>);

impl AsyncRead for Chunks {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(front) = self.0.front_mut() {
            let n = front.len().min(out.remaining());
            out.put_slice(&front[..n]);
            front.drain(..n);
            if front.is_empty() {
                self.0.pop_front();
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// A frame: FIN, opcode (valid or not), payload length (some over the buffer), mask key.
fn frame() -> impl Strategy<Value = (bool, u8, usize, [u8; 4])> {
    let op = prop_oneof![
        8 => prop_oneof![Just(opcode::TEXT), Just(opcode::BINARY), Just(opcode::CONTINUATION)],
        2 => prop_oneof![Just(opcode::PING), Just(opcode::PONG)],
        1 => 0u8..16,
    ];
    let len = prop_oneof![4 => 0usize..130, 2 => 200usize..2000, 1 => 60_000usize..70_000];
    (prop::bool::weighted(0.7), op, len, any::<[u8; 4]>())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn reader_matches_the_codec(
        frames in vec(frame(), 1..8),
        sizes in vec(1usize..3000, 1..6),
        max in prop_oneof![Just(1usize << 20), 100usize..5000],
    ) {
        let mut wire = Vec::new();
        for (i, (fin, op, len, key)) in frames.iter().enumerate() {
            // ASCII text, so only the frame rules and limits can fail.
            let payload: Vec<u8> = (0..*len).map(|j| b'a' + ((i + j) % 26) as u8).collect();
            encode_masked(&mut wire, *fin, *op, *key, &payload);
        }
        let mut want = Vec::new();
        let mut d = Decoder::new(Role::Server, max);
        d.push(&wire);
        let want_err = loop {
            match d.next_item() {
                Ok(Some(m)) => want.push(m),
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        let mut chunks = VecDeque::new();
        let mut rest = &wire[..];
        for s in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (now, later) = rest.split_at((*s).min(rest.len()));
            chunks.push_back(now.to_vec());
            rest = later;
        }
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (got, end) = rt.block_on(async {
            let mut r = FrameReader::new(Chunks(chunks), &[], max);
            let mut got = Vec::new();
            loop {
                match r.next().await {
                    Ok(m) => got.push(m),
                    Err(e) => return (got, e),
                }
            }
        });
        prop_assert_eq!(got, want);
        match (end, want_err) {
            (ReadError::Eof, None) => {}
            (ReadError::Ws(e), Some(w)) => prop_assert_eq!(e, w),
            (e, w) => prop_assert!(false, "reader ended with {e:?}, codec with {w:?}"),
        }
    }
}
