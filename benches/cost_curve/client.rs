//! The cost curve's client side: Socket.IO 0.9 WebSocket sessions (handshake and upgrade from
//! `fanout_e2e/load.rs`) that join a room and count what they receive, echoers that run closed
//! loops of `echo`, and a publisher that broadcasts to the room with a `publish_msg` event (Hive's
//! `utils.dispatch` form, which `benches/load/reference_server.js` understands too). Every session
//! answers heartbeats (`2::`), so the idle phase measures the servers' real keep-alive cost.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fastwebsockets::{Frame, OpCode, Payload};
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};

use crate::load;

/// The room every member joins (Hive channel `rooms.curve`).
pub const ROOM: &str = "curve";

/// What the members report.
#[derive(Default)]
pub struct Counts {
    /// Events received by all members.
    pub received: AtomicU64,
    /// Members that received at least one event (the join is proven by a delivery).
    pub reached: AtomicU64,
    /// Heartbeats answered (`2::` packets and WebSocket pings).
    pub heartbeats: AtomicU64,
}

fn text(s: String) -> Frame<'static> {
    Frame::text(Payload::Owned(s.into_bytes()))
}

/// A member: open from the local address `src`, wait for `1::`, join [`ROOM`], then count every event until the connection
/// ends. `ready` gets the outcome of the join request.
pub async fn member(
    addr: SocketAddr,
    src: std::net::IpAddr,
    counts: Arc<Counts>,
    ready: mpsc::Sender<Result<(), String>>,
    permit: OwnedSemaphorePermit,
) {
    let mut permit = Some(permit);
    let mut ws = match load::open_from(addr, Some(src)).await {
        Ok(ws) => ws,
        Err(e) => {
            let _ = ready.send(Err(e)).await;
            return;
        }
    };
    // Pings are answered here (fastwebsockets' auto-pong would hide them from the count).
    ws.set_auto_pong(false);
    let mut joined = false;
    let mut got_any = false;
    loop {
        let Ok(frame) = ws.read_frame().await else {
            if !joined {
                let _ = ready.send(Err("closed before 1::".into())).await;
            }
            return;
        };
        match frame.opcode {
            OpCode::Close => return,
            // Hive's keep-alive on a WebSocket is a ping frame; Node's is the `2::` packet below.
            OpCode::Ping => {
                counts.heartbeats.fetch_add(1, Ordering::Relaxed);
                let pong = Frame::pong(Payload::Owned(frame.payload.to_vec()));
                if ws.write_frame(pong).await.is_err() {
                    return;
                }
                continue;
            }
            OpCode::Text => {}
            _ => continue,
        }
        let p: &[u8] = &frame.payload;
        if p.starts_with(b"5:") {
            counts.received.fetch_add(1, Ordering::Relaxed);
            if !got_any {
                got_any = true;
                counts.reached.fetch_add(1, Ordering::Relaxed);
            }
        } else if p.starts_with(b"2:") {
            counts.heartbeats.fetch_add(1, Ordering::Relaxed);
            if ws.write_frame(text("2::".into())).await.is_err() {
                return;
            }
        } else if p.starts_with(b"1:") && !joined {
            let join = format!(r#"5:::{{"name":"join_rooms","args":[{{"rooms":["{ROOM}"]}}]}}"#);
            if ws.write_frame(text(join)).await.is_err() {
                return;
            }
            joined = true;
            drop(permit.take());
            let _ = ready.send(Ok(())).await;
        } else if p.starts_with(b"0:") {
            return;
        }
    }
}

/// Open a session and wait for its `1::`.
async fn connected(addr: SocketAddr) -> Result<load::Ws, String> {
    let mut ws = load::open(addr).await?;
    loop {
        let f = ws.read_frame().await.map_err(|e| e.to_string())?;
        if f.opcode == OpCode::Text && f.payload.starts_with(b"1:") {
            return Ok(ws);
        }
    }
}

/// An echoer: `rounds` closed-loop `echo` round trips (emit, wait for the echoed event, emit the
/// next), started when `go` turns true. Returns the round trips done.
pub async fn echoer(addr: SocketAddr, rounds: u64, mut go: watch::Receiver<bool>) -> u64 {
    let Ok(mut ws) = connected(addr).await else {
        return 0;
    };
    if go.wait_for(|g| *g).await.is_err() {
        return 0;
    }
    let mut done = 0;
    while done < rounds {
        let msg = format!(r#"5:::{{"name":"echo","args":[{done}]}}"#);
        if ws.write_frame(text(msg)).await.is_err() {
            return done;
        }
        loop {
            let Ok(f) = ws.read_frame().await else {
                return done;
            };
            if f.opcode != OpCode::Text {
                continue;
            }
            if f.payload.starts_with(b"5:") {
                break;
            }
            if f.payload.starts_with(b"2:") && ws.write_frame(text("2::".into())).await.is_err() {
                return done;
            }
        }
        done += 1;
    }
    let _ = ws.write_frame(Frame::close(1000, b"")).await;
    done
}

/// The publisher: a session whose `publish_msg` events broadcast `tick` to [`ROOM`].
pub struct Publisher {
    ws: load::Ws,
}

impl Publisher {
    pub async fn open(addr: SocketAddr) -> Result<Publisher, String> {
        let mut last = String::new();
        for _ in 0..5 {
            match connected(addr).await {
                Ok(ws) => return Ok(Publisher { ws }),
                Err(e) => {
                    eprintln!("publisher: {e}");
                    last = e;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        Err(last)
    }

    /// Broadcast one `tick` with `seq` to the room.
    pub async fn publish(&mut self, seq: u64) -> Result<(), String> {
        let msg = format!(
            r#"5:::{{"name":"publish_msg","args":[{{"action":"publish","args":{{"cids":"rooms.{ROOM}","event":{{"action":"reply","args":{{"name":"tick","args":[{seq}]}}}}}}}}]}}"#
        );
        self.ws
            .write_frame(text(msg))
            .await
            .map_err(|e| e.to_string())
    }
}
