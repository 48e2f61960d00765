//! socketioxide 0.18 peer for benches/load (Socket.IO 5/4 over Engine.IO 4/3): the same events as
//! benches/load/modern_server.js, so one flood scenario runs against Hive, socket.io@4.8 and this.
//!
//! Usage: `sioxide-bench <port>` (0 = any free port); prints `listening <port>` once it accepts.
//! Events on `/`: `echo` and `ping` are echoed (through the ack when the client asked for one,
//! else as an event of the same name); `authorize` answers `{"permission":"granted"}`;
//! `join_rooms` `{"rooms":[..]}` joins rooms `rooms.<room>`; `leave_rooms` leaves them;
//! `publish_msg` in Hive's `utils.dispatch` form broadcasts `event.args.name` with its args to
//! room `args.cids`, the plain form `{"channel","text"}` broadcasts `msg_published`.

use std::convert::Infallible;
use std::sync::Arc;

use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::handler::FromMessageParts;
use socketioxide::socket::Socket;

fn rooms(v: &Value) -> Vec<String> {
    v.get("rooms")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|r| format!("rooms.{r}"))
                .collect()
        })
        .unwrap_or_default()
}

async fn on_connect(s: SocketRef) {
    for name in ["echo", "ping"] {
        s.on(
            name,
            move |s: SocketRef, AckId(id), Data::<Value>(v), ack: AckSender| async move {
                if id.is_some() {
                    let _ = ack.send(&v);
                } else {
                    let _ = s.emit(name, &v);
                }
            },
        );
    }
    s.on("authorize", async |s: SocketRef| {
        let _ = s.emit("authorize", &json!({"permission": "granted"}));
    });
    s.on("join_rooms", async |s: SocketRef, Data::<Value>(v)| {
        s.join(rooms(&v))
    });
    s.on("leave_rooms", async |s: SocketRef, Data::<Value>(v)| {
        s.leave(rooms(&v))
    });
    s.on("publish_msg", async |s: SocketRef, Data::<Value>(a)| {
        if a.get("action").and_then(Value::as_str) == Some("publish") {
            let room = match &a["args"]["cids"] {
                Value::String(c) => c.clone(),
                other => other.to_string(),
            };
            let ev = &a["args"]["event"]["args"];
            let name = ev["name"].as_str().unwrap_or("message").to_owned();
            // One argument per element of `args`, as socket.io's emit(name, ...args).
            let args = ev["args"].as_array().cloned().unwrap_or_default();
            let _ = match args.as_slice() {
                [one] => s.within(room).emit(&name, one).await,
                _ => s.within(room).emit(&name, &args).await,
            };
        } else if let Some(ch) = a.get("channel").and_then(Value::as_str) {
            let msg = json!({"channel": ch, "text": a.get("text")});
            let _ = s.within(ch.to_owned()).emit("msg_published", &msg).await;
        }
    });
}

/// The event's ack id, if the client asked for an ack (`AckSender` does not tell).
struct AckId(Option<i64>);

impl<A: Adapter> FromMessageParts<A> for AckId {
    type Error = Infallible;
    fn from_message_parts(
        _: &Arc<Socket<A>>,
        _: &mut socketioxide_core::Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        Ok(Self(*ack_id))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (svc, io) = SocketIo::builder().build_svc();
    io.ns("/", on_connect);
    sioxide_bench::serve(svc).await
}
