//! Property tests of the RFC 6455 frame codec: client-role encode -> server-role decode and
//! server-role encode -> client-role decode round trips (arbitrary messages, control frames
//! between fragments, fragmentation, mask keys and chunk splits of the byte stream), headers
//! round trip, and no input (random or a corrupted valid stream) makes a decoder panic, every
//! error mapping to close code 1002, 1007 or 1009.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use codec::ws::{
    Decoder, Header, Incoming, Role, WsError, close_code, close_payload, encode, opcode,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// A control frame: ping, pong or close (code and reason).
#[derive(Debug, Clone)]
enum Control {
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(u16, String)>),
}

/// Something sent: a data message cut into fragments with control frames between them, or a
/// control frame alone.
#[derive(Debug, Clone)]
enum Item {
    Data {
        text: bool,
        payload: Vec<u8>,
        /// Fragment cut points (taken modulo the payload length + 1, sorted).
        cuts: Vec<usize>,
        /// Control frames after fragment `i` (modulo the number of fragments - 1).
        between: Vec<(usize, Control)>,
    },
    Control(Control),
}

fn valid_code() -> impl Strategy<Value = u16> {
    prop_oneof![1000u16..=1003, 1007u16..=1014, 3000u16..=4999]
}

fn control() -> impl Strategy<Value = Control> {
    // A reason of at most 30 chars of at most 4 bytes: at most 123 bytes with the code.
    let close = proptest::option::of((valid_code(), "\\PC{0,30}"));
    prop_oneof![
        vec(any::<u8>(), 0..=125).prop_map(Control::Ping),
        vec(any::<u8>(), 0..=125).prop_map(Control::Pong),
        close.prop_map(Control::Close),
    ]
}

fn payload(text: bool) -> BoxedStrategy<Vec<u8>> {
    let len = prop_oneof![20 => 0usize..300, 1 => 65_530usize..70_000];
    if text {
        prop_oneof![
            "\\PC{0,200}".prop_map(String::into_bytes),
            len.prop_map(|n| "é€😀x"
                .chars()
                .cycle()
                .take(n / 3)
                .collect::<String>()
                .into_bytes()),
        ]
        .boxed()
    } else {
        prop_oneof![vec(any::<u8>(), 0..300), len.prop_map(|n| vec![0xA5; n])].boxed()
    }
}

fn item() -> impl Strategy<Value = Item> {
    let data = any::<bool>().prop_flat_map(|text| {
        let between = vec((any::<usize>(), control()), 0..3);
        (payload(text), vec(any::<usize>(), 0..4), between).prop_map(
            move |(payload, cuts, between)| Item::Data {
                text,
                payload,
                cuts,
                between,
            },
        )
    });
    prop_oneof![3 => data, 1 => control().prop_map(Item::Control)]
}

/// One frame to encode: FIN, opcode, payload.
type Frame = (bool, u8, Vec<u8>);

/// The frames of `items`, and what a decoder must give back.
fn frames(items: &[Item]) -> (Vec<Frame>, Vec<Incoming>) {
    let (mut out, mut want) = (Vec::new(), Vec::new());
    let control = |c: &Control, out: &mut Vec<_>, want: &mut Vec<_>| match c {
        Control::Ping(p) => {
            out.push((true, opcode::PING, p.clone()));
            want.push(Incoming::Ping(p.clone()));
        }
        Control::Pong(p) => {
            out.push((true, opcode::PONG, p.clone()));
            want.push(Incoming::Pong(p.clone()));
        }
        Control::Close(c) => {
            let p = c
                .as_ref()
                .map(|(code, r)| close_payload(*code, r.as_bytes()))
                .unwrap_or_default();
            out.push((true, opcode::CLOSE, p));
            want.push(Incoming::Close(c.as_ref().map(|(code, _)| *code)));
        }
    };
    for it in items {
        match it {
            Item::Control(c) => control(c, &mut out, &mut want),
            Item::Data {
                text,
                payload,
                cuts,
                between,
            } => {
                let mut at: Vec<usize> = cuts.iter().map(|c| c % (payload.len() + 1)).collect();
                at.sort_unstable();
                at.push(payload.len());
                let mut from = 0;
                for (i, to) in at.iter().enumerate() {
                    let op = match (i, text) {
                        (0, true) => opcode::TEXT,
                        (0, false) => opcode::BINARY,
                        _ => opcode::CONTINUATION,
                    };
                    let fin = i + 1 == at.len();
                    out.push((fin, op, payload[from..*to].to_vec()));
                    from = *to;
                    if !fin {
                        for (_, c) in between.iter().filter(|(j, _)| j % (at.len() - 1) == i) {
                            control(c, &mut out, &mut want);
                        }
                    }
                }
                want.push(if *text {
                    Incoming::Text(String::from_utf8(payload.clone()).unwrap())
                } else {
                    Incoming::Binary(payload.clone())
                });
            }
        }
    }
    (out, want)
}

/// Feed `wire` to a decoder of `role` in chunks of the given sizes (cycled).
fn decode_chunked(role: Role, wire: &[u8], chunks: &[usize]) -> Result<Vec<Incoming>, WsError> {
    let mut d = Decoder::new(role, 1 << 20);
    let mut got = Vec::new();
    let mut rest = wire;
    for size in chunks.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (now, later) = rest.split_at((*size).min(rest.len()));
        got.extend(d.feed(now)?);
        rest = later;
    }
    assert_eq!(d.buffered(), 0, "bytes left over");
    Ok(got)
}

fn assert_close_code(e: &WsError) {
    let code = e.close_code();
    let want = match e {
        WsError::Protocol(_) => close_code::PROTOCOL,
        WsError::TooBig(_) => close_code::TOO_BIG,
        WsError::BadUtf8 => close_code::INVALID_DATA,
    };
    assert_eq!(code, want, "{e:?}");
    assert!([1002, 1007, 1009].contains(&code));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn client_frames_round_trip_through_the_server_role(
        items in vec(item(), 0..8),
        keys in vec(any::<[u8; 4]>(), 1..6),
        chunks in vec(1usize..700, 1..8),
    ) {
        let (frames, want) = frames(&items);
        let mut wire = Vec::new();
        for ((fin, op, p), key) in frames.iter().zip(keys.iter().cycle()) {
            encode(&mut wire, *fin, *op, Some(*key), p);
        }
        prop_assert_eq!(decode_chunked(Role::Server, &wire, &chunks), Ok(want.clone()));
        // The client role refuses masked frames.
        if !wire.is_empty() {
            let e = decode_chunked(Role::Client, &wire, &chunks).unwrap_err();
            prop_assert_eq!(e, WsError::Protocol("server frame is masked"));
        }
    }

    #[test]
    fn server_frames_round_trip_through_the_client_role(
        items in vec(item(), 0..8),
        chunks in vec(1usize..700, 1..8),
    ) {
        let (frames, want) = frames(&items);
        let mut wire = Vec::new();
        for (fin, op, p) in &frames {
            encode(&mut wire, *fin, *op, None, p);
        }
        prop_assert_eq!(decode_chunked(Role::Client, &wire, &chunks), Ok(want));
        if !wire.is_empty() {
            let e = decode_chunked(Role::Server, &wire, &chunks).unwrap_err();
            prop_assert_eq!(e, WsError::Protocol("client frame is not masked"));
        }
    }

    #[test]
    fn headers_round_trip(
        fin in any::<bool>(),
        op in prop_oneof![0u8..=2, 8u8..=10],
        mask in proptest::option::of(any::<[u8; 4]>()),
        len in prop_oneof![0u64..=125, 126u64..=0xFFFF, 0x1_0000u64..(1 << 63)],
    ) {
        let h = Header { fin, opcode: op, mask, len };
        let control = opcode::is_control(op);
        prop_assume!(!control || (fin && len <= 125));
        let mut b = Vec::new();
        h.write(&mut b);
        prop_assert_eq!(b.len(), h.size());
        let role = if mask.is_some() { Role::Server } else { Role::Client };
        prop_assert_eq!(Header::parse(&b, role), Ok(Some((h, b.len()))));
    }

    #[test]
    fn random_bytes_never_panic_and_errors_have_close_codes(
        bytes in vec(any::<u8>(), 0..400),
        max in prop_oneof![0usize..64, Just(1 << 20)],
        chunks in vec(1usize..50, 1..5),
    ) {
        for role in [Role::Server, Role::Client] {
            let mut d = Decoder::new(role, max);
            let mut rest = &bytes[..];
            for size in chunks.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (now, later) = rest.split_at((*size).min(rest.len()));
                rest = later;
                if let Err(e) = d.feed(now) {
                    assert_close_code(&e);
                    break;
                }
            }
            if let Ok(Some((h, used))) = Header::parse(&bytes, role) {
                prop_assert_eq!(used, h.size());
            }
        }
    }

    #[test]
    fn corrupted_streams_never_panic_and_errors_have_close_codes(
        items in vec(item(), 1..4),
        key in any::<[u8; 4]>(),
        flips in vec((any::<usize>(), any::<u8>()), 1..4),
        max in prop_oneof![0usize..300, Just(1 << 20)],
    ) {
        let (frames, _) = frames(&items);
        for role in [Role::Server, Role::Client] {
            let mask = (role == Role::Server).then_some(key);
            let mut wire = Vec::new();
            for (fin, op, p) in &frames {
                encode(&mut wire, *fin, *op, mask, p);
            }
            // Flip bits in the first bytes (headers are there) or anywhere.
            for (i, x) in &flips {
                let n = wire.len().min(if x & 1 == 0 { 16 } else { usize::MAX });
                let at = i % n;
                wire[at] ^= x | 1;
            }
            match Decoder::new(role, max).feed(&wire) {
                Ok(_) => {}
                Err(e) => assert_close_code(&e),
            }
        }
    }
}
