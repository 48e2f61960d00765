//! API URL parsing and the endpoint handlers of HIVE.md 9.2.
//!
//! Handlers return a [`Reply`]: a status and a body, plus the error when the request failed (the
//! server logs and counts it once).

use hyper::Method;
use serde_json::{Value, json};

use super::ApiCtx;
use crate::HiveError;
use crate::events::{Event, Out};
use crate::pubsub::{Payload, Privilege, Published};
use codec::event::{InternalEvent, parse_internal_events, validate_external_event};

/// API section (the first path segment after the hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Hive,
    Router,
    Clients,
    Pubsub,
}

/// A request path that matched one of the four route shapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route<'a> {
    pub(crate) hash: &'a str,
    pub(crate) section: Section,
    pub(crate) action: &'a str,
    /// The sid/cid segment (`clients` and `pubsub` only).
    pub(crate) arg: &'a str,
}

/// Match `path` against `/api/<hash>/{hive,router}/<action>[/]` and
/// `/api/<hash>/{clients,pubsub}/<action>/<id>[/]`; `None` is a 404.
pub(crate) fn parse_route(path: &str) -> Option<Route<'_>> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut it = path.split('/');
    if it.next() != Some("") || it.next() != Some("api") {
        return None;
    }
    let segs: Vec<&str> = it.collect();
    if segs.iter().any(|s| s.is_empty()) {
        return None;
    }
    match segs.as_slice() {
        [hash, section @ ("hive" | "router"), action] => Some(Route {
            hash,
            section: if *section == "hive" {
                Section::Hive
            } else {
                Section::Router
            },
            action,
            arg: "",
        }),
        [hash, section @ ("clients" | "pubsub"), action, arg] => Some(Route {
            hash,
            section: if *section == "clients" {
                Section::Clients
            } else {
                Section::Pubsub
            },
            action,
            arg,
        }),
        _ => None,
    }
}

/// A response, and the error behind it when the request failed.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) error: Option<HiveError>,
}

impl Reply {
    pub(crate) fn ok(body: impl Into<String>) -> Reply {
        Reply {
            status: 200,
            body: body.into(),
            error: None,
        }
    }

    pub(crate) fn err(status: u16, e: HiveError) -> Reply {
        Reply {
            status,
            body: e.to_reply_text(),
            error: Some(e),
        }
    }
}

fn bad_method(m: &Method, subscribe: bool) -> Reply {
    let what = if subscribe {
        "Hive API Server"
    } else {
        "Hive API"
    };
    Reply::err(
        405,
        HiveError::BadApiRequest(format!("Unsupported {what} access method: {m}.")),
    )
}

fn unknown_action(action: &str) -> Reply {
    Reply::err(
        501,
        HiveError::BadApiRequest(format!("Unhandled Hive API action: {action}")),
    )
}

/// Run the endpoint `route` names. The hash has already been checked.
///
/// `key`: the request's `Idempotency-Key` header (publishes with the same key are delivered once).
pub(crate) async fn dispatch(
    ctx: &ApiCtx,
    m: &Method,
    route: &Route<'_>,
    body: &[u8],
    key: Option<String>,
) -> Reply {
    let post = m == Method::POST;
    let c = &ctx.control;
    match (route.section, route.action) {
        (Section::Hive, "version") if m == Method::GET => Reply::ok(c.version()),
        (Section::Hive, "stop") if post => {
            c.stop();
            Reply::ok("")
        }
        (Section::Router, "enable") if post => {
            c.router_enable();
            Reply::ok("")
        }
        (Section::Router, "disable") if post => {
            c.router_disable();
            Reply::ok("")
        }
        (Section::Router, "terminate") if post => {
            c.router_terminate(String::from_utf8_lossy(body).into_owned());
            Reply::ok("")
        }
        (Section::Clients, "action") if post => clients_action(ctx, route.arg, body).await,
        (Section::Pubsub, "action") if post => pubsub_action(ctx, route.arg, body, key).await,
        (Section::Pubsub, "publish") if post => pubsub_publish(ctx, route.arg, body, key).await,
        (Section::Pubsub, "subscribe") if m == Method::GET => {
            match ctx.pubsub.status(route.arg).await {
                Ok(n) => Reply::ok(json!({"subscribed_clients": n}).to_string()),
                Err(e) => Reply::err(400, e),
            }
        }
        (Section::Pubsub, "subscribe") if post || m == Method::DELETE => {
            pubsub_subscribe(ctx, route.arg, body, post).await
        }
        (Section::Pubsub, "subscribe") => bad_method(m, true),
        (Section::Hive, "version" | "stop")
        | (Section::Router, "enable" | "disable" | "terminate")
        | (Section::Clients, "action")
        | (Section::Pubsub, "action" | "publish") => bad_method(m, false),
        (_, action) => unknown_action(action),
    }
}

fn utf8<'a>(body: &'a [u8], what: &str) -> Result<&'a str, HiveError> {
    std::str::from_utf8(body)
        .map_err(|_| HiveError::InvalidJson(format!("{what}: {}.", String::from_utf8_lossy(body))))
}

/// The body of `/clients/action` and `/pubsub/action`: internal events.
pub(crate) fn parse_internal(body: &[u8]) -> Result<Vec<InternalEvent>, HiveError> {
    Ok(parse_internal_events(utf8(body, "Bad internal event")?)?)
}

/// The body of `/pubsub/publish`: one external event, kept with its text.
pub(crate) fn parse_external(body: &[u8]) -> Result<Event, HiveError> {
    let text = utf8(body, "Bad external event")?;
    let v: Value = serde_json::from_str(text)
        .map_err(|_| HiveError::InvalidJson(format!("Bad external event: {text}.")))?;
    validate_external_event(&v)?;
    Ok(Event::with_text(v, text))
}

/// The body of `/pubsub/subscribe`: a non-empty JSON array of cid strings. The original only
/// checks the first element; all must be strings here (a non-string cid can never name a
/// channel).
pub(crate) fn parse_cids(body: &[u8]) -> Result<Vec<String>, HiveError> {
    let invalid = || {
        HiveError::BadRequest(format!(
            "Hive API Server received invalid data: {}",
            String::from_utf8_lossy(body)
        ))
    };
    match serde_json::from_str::<Value>(&String::from_utf8_lossy(body)) {
        Ok(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(invalid),
        _ => Err(invalid()),
    }
}

/// A per-session call about a sid this node does not know (`e`: its `bad_session_id`). In a
/// cluster, a sid of another node that is up is forwarded to that node's API and its answer
/// relayed; a sid of a gone node keeps `bad_session_id` at once, without contacting it; Redis
/// unreachable is 503 `backplane_unavailable`.
async fn elsewhere(
    ctx: &ApiCtx,
    sid: &str,
    e: HiveError,
    method: &'static str,
    path: &str,
    body: &[u8],
) -> Reply {
    let (HiveError::BadSessionId(_), Some(cluster)) = (&e, &ctx.cluster) else {
        return Reply::err(500, e);
    };
    match crate::cluster::owner(cluster, sid).await {
        Ok(crate::cluster::Owner::Node(owner)) => {
            let path = format!("/api/{}/{path}/{sid}", ctx.hash);
            match crate::cluster::forward_api(&owner, method, path, body.to_vec()).await {
                Ok((status, text)) => Reply {
                    status,
                    body: text,
                    error: None,
                },
                Err(e) => Reply::err(503, e),
            }
        }
        Ok(_) => Reply::err(500, e),
        Err(e) => Reply::err(503, e),
    }
}

/// `POST /clients/action/<sid>`: parse errors answer 500 like the original (HIVE.md 16.7 #3).
async fn clients_action(ctx: &ApiCtx, sid: &str, body: &[u8]) -> Reply {
    let events = match parse_internal(body) {
        Ok(ev) => ev,
        Err(e) => return Reply::err(500, e),
    };
    match ctx.control.route_events(sid, events) {
        Ok(()) => Reply::ok(""),
        Err(e) => elsewhere(ctx, sid, e, "POST", "clients/action", body).await,
    }
}

/// Publish through the backplane and answer once it accepted the publish: 503
/// `backplane_unavailable` when it cannot (Redis unreachable: nothing was delivered).
async fn publish(ctx: &ApiCtx, cid: &str, payload: Payload, key: Option<String>) -> Reply {
    let cids = [cid.to_string()];
    match ctx
        .pubsub
        .publish_acked(Privilege::Max, &cids, payload, key)
        .await
    {
        Ok(()) => Reply::ok(""),
        Err(e @ HiveError::BackplaneUnavailable(_)) => Reply::err(503, e),
        Err(e) => Reply::err(500, e),
    }
}

/// `POST /pubsub/action/<cid>`: publish internal events with the API's privilege (skips checks).
async fn pubsub_action(ctx: &ApiCtx, cid: &str, body: &[u8], key: Option<String>) -> Reply {
    let events = match parse_internal(body) {
        Ok(ev) => ev,
        Err(e) => return Reply::err(400, e),
    };
    let payload: Payload = match ctx.control.plain_events(&events) {
        Some(items) => Published::new(items).into(),
        None => Payload::events(events),
    };
    publish(ctx, cid, payload, key).await
}

/// `POST /pubsub/publish/<cid>`: the body must be an external event; subscribers get it as an
/// event, with the body bytes verbatim (0.9: `5:::<body>`).
async fn pubsub_publish(ctx: &ApiCtx, cid: &str, body: &[u8], key: Option<String>) -> Reply {
    match parse_external(body) {
        Ok(event) => {
            let payload = Published::new(vec![Out::Event(event)]).into();
            publish(ctx, cid, payload, key).await
        }
        Err(e) => Reply::err(400, e),
    }
}

/// `POST`/`DELETE /pubsub/subscribe/<sid>`: a JSON array of cid strings, routed to the session
/// (in a cluster, to the node that holds it).
async fn pubsub_subscribe(ctx: &ApiCtx, sid: &str, body: &[u8], join: bool) -> Reply {
    let cids = match parse_cids(body) {
        Ok(cids) => cids,
        Err(e) => return Reply::err(400, e),
    };
    let counted = cids.clone();
    match ctx.control.subscribe(sid, cids, join) {
        Ok(()) => {
            ctx.pubsub.count_api_subscription(&counted, join);
            Reply::ok("")
        }
        Err(e) => {
            let method = if join { "POST" } else { "DELETE" };
            let forwarded = elsewhere(ctx, sid, e, method, "pubsub/subscribe", body).await;
            if forwarded.error.is_some() {
                // Not forwarded: counted here, as a request this node answered.
                ctx.pubsub.count_api_subscription(&counted, join);
            }
            forwarded
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_shapes() {
        let r = parse_route("/api/h/hive/version").map(|r| (r.hash, r.section, r.action, r.arg));
        assert_eq!(r, Some(("h", Section::Hive, "version", "")));
        let r = parse_route("/api/h/pubsub/subscribe/rooms.main/").map(|r| (r.section, r.arg));
        assert_eq!(r, Some((Section::Pubsub, "rooms.main")));
        for bad in [
            "/",
            "/api",
            "/api/h",
            "/api/h/hive",
            "/api/h/hive/version/x",
            "/api/h/clients/action",
            "/api/h/foo/bar",
            "/api//hive/version",
            "/api/h/pubsub/action//",
            "/x/h/hive/version",
        ] {
            assert!(parse_route(bad).is_none(), "{bad}");
        }
    }
}
