//! Unit tests of direct writes over real loopback sockets: a sender writes into an idle
//! connection's socket itself, a partial write keeps the queue's order (its rest goes first, later
//! frames queue behind it), control items and a busy connection still go through the queue, and
//! the lending future always gives the write end back. The peer decodes what it read as a client
//! (which refuses masked frames: server frames go out unmasked).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use codec::ws::{Incoming, Role, StreamDecoder};
use futures::FutureExt;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

use super::WsWriter;
use crate::client::ws_queue::{QueueFigures, Woken, WsOut, channel_counted};
use crate::metrics::{DeliveryProbe, Latency};
use crate::transport::ws_write::write_within;

fn frames(s: &str) -> WsOut {
    WsOut::Frames(vec![Arc::from(s)])
}

fn probe() -> Arc<DeliveryProbe> {
    Arc::new(DeliveryProbe::new(Arc::new(Latency::new())))
}

/// A connected loopback pair: the server's end (small send buffer) and the peer's (small receive
/// buffer), so that a large write cannot go through at once while the peer does not read.
async fn pair() -> (TcpStream, TcpStream) {
    let server = TcpSocket::new_v4().unwrap();
    server.set_send_buffer_size(4096).unwrap();
    server.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = server.listen(8).unwrap();
    let peer = TcpSocket::new_v4().unwrap();
    peer.set_recv_buffer_size(4096).unwrap();
    let (peer, accepted) = tokio::join!(peer.connect(listener.local_addr().unwrap()), async {
        listener.accept().await
    });
    (accepted.unwrap().0, peer.unwrap())
}

/// Everything the peer reads until the server's end closes, decoded as text frames.
async fn read_all(mut peer: TcpStream) -> Vec<String> {
    let mut bytes = Vec::new();
    peer.read_to_end(&mut bytes).await.unwrap();
    let mut dec = StreamDecoder::new(Role::Client, usize::MAX);
    let mut at = 0;
    let mut texts = Vec::new();
    loop {
        let (used, item) = dec
            .decode(&bytes[at..])
            .expect("valid unmasked server frames");
        at += used;
        match item {
            Some(Incoming::Text(t)) => texts.push(t),
            Some(other) => panic!("unexpected frame {other:?}"),
            None => break,
        }
    }
    assert_eq!(at, bytes.len(), "no partial frame at the end");
    texts
}

#[tokio::test]
async fn an_idle_connection_is_written_by_its_senders() {
    let (server, peer) = pair().await;
    let (_read, write) = server.into_split();
    let mut sock = WsWriter::new(write, probe());
    let figures = Arc::new(QueueFigures::default());
    let (tx, mut rx) = channel_counted(8, Arc::clone(&figures));
    {
        let mut lending = std::pin::pin!(rx.recv_lending(&mut sock, true));
        assert!(futures::poll!(lending.as_mut()).is_pending());
        for s in ["a", "b", "c"] {
            tx.try_send(frames(s)).unwrap();
            // Written, not queued: the connection has nothing to wake for.
            assert!(futures::poll!(lending.as_mut()).is_pending());
            assert_eq!(figures.items(), 0);
        }
        tx.try_send(WsOut::Shared(Arc::from([Arc::from("d"), Arc::from("e")])))
            .unwrap();
        assert!(futures::poll!(lending.as_mut()).is_pending());
    }
    // The lending future is gone: the write end is back, and the connection writes itself.
    assert!(!sock.has_rest());
    write_within(&mut sock, b"\x81\x01f", Duration::from_secs(5))
        .await
        .ok()
        .expect("the write end came back");
    drop(sock);
    assert_eq!(read_all(peer).await, ["a", "b", "c", "d", "e", "f"]);
}

#[tokio::test]
async fn a_partial_direct_write_keeps_the_order() {
    let (server, peer) = pair().await;
    let (_read, write) = server.into_split();
    let mut sock = WsWriter::new(write, probe());
    let (tx, mut rx) = channel_counted(8, Arc::default());
    let big = "x".repeat(8 << 20);
    {
        let mut lending = std::pin::pin!(rx.recv_lending(&mut sock, true));
        assert!(futures::poll!(lending.as_mut()).is_pending());
        tx.try_send(frames("first")).unwrap();
        // More than the socket's buffers hold while the peer does not read: written in part.
        tx.try_send(frames(&big)).unwrap();
        // The rest is not written yet: these queue behind it.
        tx.try_send(frames("after-1")).unwrap();
        tx.try_send(WsOut::Shared(Arc::from([Arc::from("after-2")])))
            .unwrap();
        match lending.as_mut().now_or_never() {
            Some(Woken::Rest) => {}
            other => panic!("expected the rest to finish, got {other:?}"),
        }
    }
    assert!(sock.has_rest());
    // The peer starts reading only now: the writer blocked meanwhile.
    let reader = tokio::spawn(read_all(peer));
    // What the connection does when woken: the rest first (a write with nothing of its own),
    // then the queued items in order.
    write_within(&mut sock, &[], Duration::from_secs(30))
        .await
        .ok()
        .expect("the rest is written");
    assert!(!sock.has_rest());
    for _ in 0..2 {
        let mut buf = Vec::new();
        match rx.recv().await {
            Some(WsOut::Frames(f)) => super::text_frames(&mut buf, &f),
            Some(WsOut::Shared(f)) => super::text_frames(&mut buf, &f),
            other => panic!("{other:?}"),
        }
        write_within(&mut sock, &buf, Duration::from_secs(30))
            .await
            .ok()
            .expect("written");
    }
    drop(sock);
    let texts = reader.await.unwrap();
    assert_eq!(texts.len(), 4);
    assert_eq!(texts[0], "first");
    assert!(texts[1] == big, "the big frame whole, second");
    assert_eq!(texts[2..], ["after-1", "after-2"]);
}

#[tokio::test]
async fn a_busy_connection_and_control_items_go_through_the_queue() {
    let (server, peer) = pair().await;
    let (_read, write) = server.into_split();
    let mut sock = WsWriter::new(write, probe());
    let (tx, mut rx) = channel_counted(8, Arc::default());
    // Not lent (a batching window): frames queue and wake the connection.
    {
        let mut waiting = std::pin::pin!(rx.recv_lending(&mut sock, false));
        assert!(futures::poll!(waiting.as_mut()).is_pending());
        tx.try_send(frames("queued")).unwrap();
        match waiting.as_mut().now_or_never() {
            Some(Woken::Item(Some(WsOut::Frames(f)))) => assert_eq!(&*f[0], "queued"),
            other => panic!("{other:?}"),
        }
    }
    // Lent, but a keep-alive is the connection's to write (it arms the pong deadline).
    {
        let mut lending = std::pin::pin!(rx.recv_lending(&mut sock, true));
        assert!(futures::poll!(lending.as_mut()).is_pending());
        tx.try_send(WsOut::KeepAlive).unwrap();
        // Frames after it queue behind it.
        tx.try_send(frames("behind")).unwrap();
        assert!(matches!(
            lending.as_mut().now_or_never(),
            Some(Woken::Item(Some(WsOut::KeepAlive)))
        ));
    }
    // Something queued when the connection comes to wait: it is taken, nothing is lent.
    {
        let mut lending = std::pin::pin!(rx.recv_lending(&mut sock, true));
        match lending.as_mut().now_or_never() {
            Some(Woken::Item(Some(WsOut::Frames(f)))) => assert_eq!(&*f[0], "behind"),
            other => panic!("{other:?}"),
        }
    }
    // Every sender gone: the lending future ends like `recv`, and gives the write end back.
    drop(tx);
    assert!(matches!(
        rx.recv_lending(&mut sock, true).await,
        Woken::Item(None)
    ));
    write_within(&mut sock, b"\x81\x03end", Duration::from_secs(5))
        .await
        .ok()
        .expect("the write end came back");
    drop(sock);
    assert_eq!(read_all(peer).await, ["end"]);
}

#[tokio::test]
async fn a_sender_writes_into_many_idle_sockets_in_one_poll() {
    // More sockets than tokio's cooperative budget (128 operations per task poll): a channel
    // fanning out to thousands of sessions writes to each in one go.
    const N: usize = 300;
    let mut peers = Vec::new();
    let mut socks = Vec::new();
    let mut queues = Vec::new();
    for _ in 0..N {
        let (server, peer) = pair().await;
        let (_read, write) = server.into_split();
        peers.push(peer);
        socks.push(WsWriter::new(write, probe()));
        queues.push(channel_counted(8, Arc::default()));
    }
    let senders: Vec<_> = queues.iter().map(|(tx, _)| tx.clone()).collect();
    {
        let mut lendings: Vec<_> = queues
            .iter_mut()
            .zip(socks.iter_mut())
            .map(|((_, rx), sock)| Box::pin(rx.recv_lending(sock, true)))
            .collect();
        for l in &mut lendings {
            assert!(futures::poll!(l.as_mut()).is_pending());
        }
        // One synchronous loop, as a channel's fan-out is.
        for tx in &senders {
            tx.try_send(frames("tick")).unwrap();
        }
        for (i, l) in lendings.iter_mut().enumerate() {
            assert!(
                futures::poll!(l.as_mut()).is_pending(),
                "socket {i} was written by the sender, not left to its connection"
            );
        }
    }
    assert!(socks.iter().all(|s| !s.has_rest()));
    drop((socks, senders, queues));
    for peer in peers {
        assert_eq!(read_all(peer).await, ["tick"]);
    }
}

/// Several publishes a fan-out shard had waiting go into an idle socket with one write, in
/// order; while an item is queued (the connection is busy) they are refused whole, so that the
/// caller queues them one by one behind it.
#[tokio::test]
async fn publishes_that_waited_together_are_written_together_or_not_at_all() {
    let (server, peer) = pair().await;
    let (_read, write) = server.into_split();
    let mut sock = WsWriter::new(write, probe());
    let figures = Arc::new(QueueFigures::default());
    let (tx, mut rx) = channel_counted(8, Arc::clone(&figures));
    let one: Arc<[Arc<str>]> = Arc::from([Arc::from("p1")]);
    let two: Arc<[Arc<str>]> = Arc::from([Arc::from("p2a"), Arc::from("p2b")]);
    let three: Arc<[Arc<str>]> = Arc::from([Arc::from("p3")]);
    // Not lent yet (the connection is not waiting): refused, nothing written.
    assert!(!tx.try_write_all(&[&one[..], &two[..]]));
    {
        let mut lending = std::pin::pin!(rx.recv_lending(&mut sock, true));
        assert!(futures::poll!(lending.as_mut()).is_pending());
        assert!(tx.try_write_all(&[&one[..], &two[..], &three[..]]));
        assert!(futures::poll!(lending.as_mut()).is_pending());
        assert_eq!(figures.items(), 0, "written, not queued");
    }
    // A control item waits in the queue: the connection has work first, so refused whole.
    tx.try_send(WsOut::KeepAlive).unwrap();
    {
        let mut lending = std::pin::pin!(rx.recv_lending(&mut sock, true));
        assert!(!tx.try_write_all(&[&one[..]]));
        assert!(matches!(
            lending.as_mut().now_or_never(),
            Some(Woken::Item(Some(WsOut::KeepAlive)))
        ));
    }
    drop(sock);
    assert_eq!(read_all(peer).await, ["p1", "p2a", "p2b", "p3"]);
}

#[tokio::test]
async fn senders_write_only_the_frames_the_writer_takes() {
    let (server, peer) = pair().await;
    let (_read, write) = server.into_split();
    let mut sock = WsWriter::taking(write, probe(), |f| !f.starts_with('!'));
    let (tx, mut rx) = channel_counted(8, Arc::default());
    {
        let mut lending = std::pin::pin!(rx.recv_lending(&mut sock, true));
        assert!(futures::poll!(lending.as_mut()).is_pending());
        tx.try_send(frames("a")).unwrap();
        // Taken: written by the sender.
        assert!(futures::poll!(lending.as_mut()).is_pending());
        // Not taken: queued for the connection, and what follows it queues behind it.
        tx.try_send(frames("!b")).unwrap();
        tx.try_send(frames("c")).unwrap();
        // A group with one frame the writer does not take is queued whole.
        tx.try_send(WsOut::Frames(vec![Arc::from("d"), Arc::from("!e")]))
            .unwrap();
        match lending.as_mut().await {
            Woken::Item(Some(WsOut::Frames(f))) => assert_eq!(&*f[0], "!b"),
            other => panic!("expected the queued frame, got {other:?}"),
        }
    }
    let mut buf = Vec::new();
    for _ in 0..2 {
        match rx.try_recv() {
            Some(WsOut::Frames(f)) => super::text_frames(&mut buf, &f),
            other => panic!("expected queued frames, got {other:?}"),
        }
    }
    assert!(rx.try_recv().is_none());
    // The connection writes what was queued, in order, after the sender's frame.
    let mut first = Vec::new();
    super::text_frames(&mut first, &[Arc::from("!b")]);
    first.extend_from_slice(&buf);
    write_within(&mut sock, &first, Duration::from_secs(5))
        .await
        .ok()
        .expect("the write end came back");
    drop(sock);
    assert_eq!(read_all(peer).await, ["a", "!b", "c", "d", "!e"]);
}
