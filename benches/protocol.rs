//! Criterion benchmarks of the Socket.IO 0.9 codec: single frames, U+FFFD batches, event JSON.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use codec::{
    LengthUnit, Message, MsgId, decode, decode_payload, encode, encode_batch, encode_into,
    parse_external_event,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A typical chat event (as in the simple-chat example), with an ack id.
const EVENT: &str = r#"5:1+::{"name":"publish","args":[{"channel":"room.lobby","text":"Hello, zażółć gęślą jaźń 😀!"}]}"#;

fn event_msg() -> Message {
    decode(EVENT).unwrap()
}

fn ten() -> Vec<Message> {
    (0..10u64)
        .map(|i| event_msg().with_id(MsgId::Server(i)))
        .collect()
}

fn single(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame");
    g.throughput(Throughput::Bytes(EVENT.len() as u64));
    g.bench_function("decode_event", |b| b.iter(|| decode(black_box(EVENT))));
    let msg = event_msg();
    g.bench_function("encode_event", |b| b.iter(|| encode(black_box(&msg))));
    let mut buf = String::with_capacity(256);
    g.bench_function("encode_event_into_reused", |b| {
        b.iter(|| {
            buf.clear();
            encode_into(black_box(&msg), &mut buf);
            buf.len()
        })
    });
    g.finish();
}

fn batches(c: &mut Criterion) {
    let msgs = ten();
    let utf16 = encode_batch(&msgs, LengthUnit::Utf16);
    let bytes = encode_batch(&msgs, LengthUnit::Bytes);
    let mut g = c.benchmark_group("batch10");
    g.throughput(Throughput::Bytes(utf16.len() as u64));
    g.bench_function("encode_batch_utf16", |b| {
        b.iter(|| encode_batch(black_box(&msgs), LengthUnit::Utf16))
    });
    g.bench_function("encode_batch_bytes", |b| {
        b.iter(|| encode_batch(black_box(&msgs), LengthUnit::Bytes))
    });
    g.bench_function("decode_payload_utf16_auto", |b| {
        b.iter(|| decode_payload(black_box(&utf16), None))
    });
    g.bench_function("decode_payload_utf16_explicit", |b| {
        b.iter(|| decode_payload(black_box(&utf16), Some(LengthUnit::Utf16)))
    });
    g.bench_function("decode_payload_bytes_auto", |b| {
        b.iter(|| decode_payload(black_box(&bytes), None))
    });
    g.finish();
}

fn events(c: &mut Criterion) {
    let data = event_msg().data;
    c.bench_function("event/parse_external_event", |b| {
        b.iter(|| parse_external_event(black_box(&data)))
    });
}

criterion_group!(benches, single, batches, events);
criterion_main!(benches);
