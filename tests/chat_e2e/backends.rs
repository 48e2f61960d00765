//! The chat backends (Rust, `examples/chat/src/backend/`, and Python, `examples/chat/backend/backend.py`)
//! spoken to directly over HTTP with Hive Protocol documents, their Hive API calls captured by a
//! real recording HTTP server. Seed walkthrough, "The backend", with the seed's bugs fixed
//! (HIVE.md 15.2 "Bugs and quirks").

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};

use super::demo::server;
use super::harness::{Recorder, http_post, spawn_python_backend};

/// A Hive Protocol request document.
fn doc(sid: &str, trigger: Value, state: Value) -> Value {
    json!({"sid": sid, "trigger": trigger, "trigger_id": "", "state": state})
}

fn event(name: &str, arg: Value) -> Value {
    json!({"name": name, "args": [arg]})
}

fn reply(name: &str, arg: Value) -> Value {
    json!({"action": "reply", "args": {"name": name, "args": [arg]}})
}

/// The `authorize` event of `nick`.
fn authorize(nick: &str) -> Value {
    event("authorize", json!({"nick": nick}))
}

/// The backend at `base`, and the recorder standing at the Hive API's place.
struct Client<'a> {
    base: &'a str,
    rec: &'a mut Recorder,
}

impl Client<'_> {
    /// POST session `sid`'s request document (`trigger`, `state`) to `endpoint`, then return
    /// (status, parsed reply or Null, publishes seen).
    async fn post(
        &mut self,
        endpoint: &str,
        sid: &str,
        trigger: Value,
        state: &Value,
    ) -> (u16, Value, Vec<(String, Value)>) {
        let body = doc(sid, trigger, state.clone());
        let (status, text) = http_post(&format!("{}{endpoint}", self.base), body.to_string()).await;
        let reply = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("reply is JSON")
        };
        (status, reply, self.rec.drain())
    }
}

/// Every behaviour of the seed's backend, fixed, against the backend at `base`.
async fn check_backend(base: &str, rec: &mut Recorder) {
    let mut b = Client { base, rec };
    let nobody = json!({"nick": null, "rooms": []});

    // /authorize: a free nick is granted and stored.
    let (status, body, publishes) = b
        .post("/authorize", "s1", authorize("alice"), &nobody)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!([reply("authorize", json!({"permission": "granted"})), {"action": "store", "args": {"nick": "alice"}}])
    );
    assert!(publishes.is_empty());

    // A taken nick is refused (permission null), an invalid one too.
    let (_, body, _) = b
        .post("/authorize", "s2", authorize("alice"), &nobody)
        .await;
    assert_eq!(
        body,
        json!([reply(
            "authorize",
            json!({"permission": null, "reason": "taken"})
        )])
    );
    let (_, body, _) = b.post("/authorize", "s2", authorize("null"), &nobody).await;
    assert_eq!(
        body,
        json!([reply(
            "authorize",
            json!({"permission": null, "reason": "invalid"})
        )])
    );

    // /join of several rooms announces every room (seed bug 1), de-duplicated (bug 3).
    let alice = json!({"nick": "alice", "rooms": []});
    let (status, body, publishes) = b
        .post(
            "/join",
            "s1",
            event("join_rooms", json!({"rooms": ["main", "games", "main"]})),
            &alice,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!([{"action": "store", "args": {"rooms": ["main", "games"]}}])
    );
    assert_eq!(
        publishes,
        vec![
            (
                "rooms.main".to_owned(),
                json!([reply(
                    "dude_joins",
                    json!({"channel": "rooms.main", "nick": "alice"})
                )])
            ),
            (
                "rooms.games".to_owned(),
                json!([reply(
                    "dude_joins",
                    json!({"channel": "rooms.games", "nick": "alice"})
                )])
            ),
        ]
    );

    // /join with an empty list answers a valid event list (seed bug 2) and announces nothing.
    let alice_in = json!({"nick": "alice", "rooms": ["main", "games"]});
    let (status, body, publishes) = b
        .post(
            "/join",
            "s1",
            event("join_rooms", json!({"rooms": []})),
            &alice_in,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!([{"action": "store", "args": {"rooms": ["main", "games"]}}])
    );
    assert!(publishes.is_empty());

    // /publish by a member goes to the room; to a room not joined it does not (bug 6).
    let msg = json!({"channel": "rooms.games", "text": "hi there"});
    let (status, body, publishes) = b
        .post("/publish", "s1", event("publish_msg", msg), &alice_in)
        .await;
    assert_eq!((status, body), (200, Value::Null));
    assert_eq!(
        publishes,
        vec![(
            "rooms.games".to_owned(),
            json!([reply(
                "msg_published",
                json!({"channel": "rooms.games", "nick": "alice", "text": "hi there"})
            )])
        )]
    );
    let stranger = json!({"channel": "rooms.secret", "text": "psst"});
    let (_, _, publishes) = b
        .post("/publish", "s1", event("publish_msg", stranger), &alice_in)
        .await;
    assert!(publishes.is_empty());

    // /leave keeps the rooms not left (seed's inverted filter, bug 11) and announces the left ones.
    let (status, body, publishes) = b
        .post(
            "/leave",
            "s1",
            event("leave_rooms", json!({"rooms": ["games"]})),
            &alice_in,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!([{"action": "store", "args": {"rooms": ["main"]}}])
    );
    assert_eq!(
        publishes,
        vec![(
            "rooms.games".to_owned(),
            json!([reply(
                "dude_leaves",
                json!({"channel": "rooms.games", "nick": "alice"})
            )])
        )]
    );

    // /leave on disconnect (trigger null) announces every room in the state, empty reply.
    let (status, body, publishes) = b.post("/leave", "s1", Value::Null, &alice_in).await;
    assert_eq!((status, body), (200, Value::Null));
    let cids: Vec<&str> = publishes.iter().map(|(cid, _)| cid.as_str()).collect();
    assert_eq!(cids, ["rooms.main", "rooms.games"]);

    // An unauthorized client's disconnect announces nothing; /cleanup of null/unknown is fine (bug 4).
    let (_, _, publishes) = b
        .post(
            "/leave",
            "s2",
            Value::Null,
            &json!({"nick": null, "rooms": ["main"]}),
        )
        .await;
    assert!(publishes.is_empty());
    let (status, _, _) = b.post("/cleanup", "s2", Value::Null, &nobody).await;
    assert_eq!(status, 200);
    let (status, _, _) = b
        .post(
            "/cleanup",
            "s3",
            Value::Null,
            &json!({"nick": "ghost", "rooms": []}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _, _) = b.post("/cleanup", "s4", Value::Null, &json!([])).await;
    assert_eq!(status, 200);

    // /cleanup releases the nick: another session gets it.
    let (status, _, _) = b.post("/cleanup", "s1", Value::Null, &alice).await;
    assert_eq!(status, 200);
    let (_, body, _) = b
        .post("/authorize", "s5", authorize("alice"), &nobody)
        .await;
    assert_eq!(body[0]["args"]["args"][0]["permission"], "granted");

    // Re-authorizing with another nick releases the previous one (bug 5).
    let (_, body, _) = b
        .post(
            "/authorize",
            "s5",
            authorize("alicia"),
            &json!({"nick": "alice", "rooms": []}),
        )
        .await;
    assert_eq!(body[0]["args"]["args"][0]["permission"], "granted");
    let (_, body, _) = b
        .post("/authorize", "s6", authorize("alice"), &nobody)
        .await;
    assert_eq!(body[0]["args"]["args"][0]["permission"], "granted");

    // Unknown endpoints answer 404 with Hive's error shape.
    let (status, body, _) = b.post("/nope", "s1", Value::Null, &nobody).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "bad_request");
}

/// The Rust backend behaves as the seed describes, with its bugs fixed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_backend_speaks_the_seed_protocol() {
    let mut rec = Recorder::start().await;
    let backend = server::start(SocketAddr::from(([127, 0, 0, 1], 0)), &rec.api_url())
        .await
        .expect("backend starts");
    let base = format!("http://{}", backend.addr());
    check_backend(&base, &mut rec).await;
    backend.shutdown().await;
}

/// The Python backend behaves exactly like the Rust one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_backend_speaks_the_seed_protocol() {
    let mut rec = Recorder::start().await;
    let python = spawn_python_backend(&rec.api_url(), Duration::from_secs(10));
    check_backend(&python.base_url(), &mut rec).await;
}
