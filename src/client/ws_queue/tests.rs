//! Unit tests of the WebSocket output queue: order, bound, both ends going away, wake-ups,
//! cancellation, and memory given back after a burst.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use super::*;

fn frames(s: &str) -> WsOut {
    WsOut::Frames(vec![Arc::from(s)])
}

fn text(m: Option<WsOut>) -> String {
    match m {
        Some(WsOut::Frames(f)) => f.iter().map(|x| x.to_string()).collect(),
        other => format!("{other:?}"),
    }
}

#[tokio::test]
async fn order_and_bound() {
    let (tx, mut rx) = channel(3);
    for s in ["a", "b", "c"] {
        tx.try_send(frames(s)).unwrap();
    }
    assert!(matches!(
        tx.try_send(frames("d")),
        Err(TrySendError::Full(_))
    ));
    assert_eq!(text(rx.recv().await), "a");
    assert_eq!(text(rx.try_recv()), "b");
    tx.try_send(frames("d")).unwrap();
    assert_eq!(text(rx.recv().await), "c");
    assert_eq!(text(rx.recv().await), "d");
    assert!(rx.try_recv().is_none());
}

#[tokio::test]
async fn sender_gone_ends_after_the_queued_items() {
    let (tx, mut rx) = channel(8);
    tx.try_send(frames("last")).unwrap();
    drop(tx);
    assert_eq!(text(rx.recv().await), "last");
    assert!(rx.recv().await.is_none());
}

#[tokio::test]
async fn receiver_gone_closes_the_queue() {
    let (tx, rx) = channel(8);
    drop(rx);
    assert!(matches!(
        tx.try_send(WsOut::Close),
        Err(TrySendError::Closed(WsOut::Close))
    ));
}

#[tokio::test]
async fn recv_wakes_on_send_and_on_sender_drop() {
    let (tx, mut rx) = channel(8);
    let waiter = tokio::spawn(async move {
        let first = rx.recv().await;
        let second = rx.recv().await;
        (text(first), second.is_none())
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    tx.try_send(frames("x")).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(tx);
    let (first, ended) = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the receiver was woken")
        .unwrap();
    assert_eq!(first, "x");
    assert!(ended);
}

#[tokio::test]
async fn cancelled_recv_loses_nothing() {
    let (tx, mut rx) = channel(8);
    // A recv cancelled while waiting, then items: all arrive, in order.
    assert!(
        tokio::time::timeout(Duration::from_millis(10), rx.recv())
            .await
            .is_err()
    );
    tx.try_send(frames("1")).unwrap();
    tx.try_send(frames("2")).unwrap();
    assert_eq!(text(rx.recv().await), "1");
    assert_eq!(text(rx.recv().await), "2");
}

#[tokio::test]
async fn a_drained_burst_gives_its_memory_back() {
    let (tx, mut rx) = channel(256);
    for i in 0..200 {
        tx.try_send(frames(&i.to_string())).unwrap();
    }
    assert!(rx.0.lock().items.capacity() >= 200);
    while rx.try_recv().is_some() {}
    assert!(rx.0.lock().items.capacity() <= KEEP);
}

#[tokio::test]
async fn ends_only_when_every_sender_is_gone() {
    let (tx, mut rx) = channel(4);
    let shortcut = tx.clone();
    drop(tx);
    shortcut.try_send(frames("x")).unwrap();
    assert_eq!(text(rx.recv().await), "x");
    assert!(rx.try_recv().is_none());
    let waiting = tokio::spawn(async move { rx.recv().await.is_none() });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiting.is_finished(), "one sender is still alive");
    drop(shortcut);
    assert!(waiting.await.unwrap());
}
