//! [`Envelope`]: one publish in the serde form a cluster backplane carries between nodes:
//! `{"privilege", "cids", "payload"}`, where the payload is neutral (`{"published": [items]}`,
//! encoded by each receiving node for its subscribers' wires) or internal events
//! (`{"events": [..]}`, dispatched by each subscriber). No wire's encoding crosses between nodes.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::privilege::Privilege;
use super::published::Published;
use super::subscriber::Payload;
use crate::events::Out;
use codec::event::{InternalEvent, internal_event_from_value};

/// One publish between nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// The publisher's privilege (each receiving node checks it against its channels).
    pub privilege: Privilege,
    /// The target cids.
    pub cids: Vec<String>,
    /// What is published.
    pub payload: Payload,
}

impl Envelope {
    /// The JSON text of the envelope.
    ///
    /// # Errors
    /// Serialisation errors (none for the payloads Hive builds).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// An envelope from its JSON text.
    ///
    /// # Errors
    /// Malformed text, or internal events that do not validate.
    pub fn from_json(text: &str) -> Result<Envelope, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// The serde form of a [`Payload`].
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Form {
    Published(Vec<Out>),
    Events(Vec<Value>),
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let form = match self {
            Payload::Published(p) => Form::Published(p.items().to_vec()),
            Payload::Events(e) => Form::Events(
                e.iter()
                    .map(serde_json::to_value)
                    .collect::<Result<_, _>>()
                    .map_err(serde::ser::Error::custom)?,
            ),
        };
        form.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Form::deserialize(d)? {
            Form::Published(items) => Payload::Published(Published::new(items)),
            Form::Events(values) => {
                let events = values
                    .iter()
                    .map(internal_event_from_value)
                    .collect::<Result<Vec<InternalEvent>, _>>()
                    .map_err(D::Error::custom)?;
                Payload::Events(events.into())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{AckId, Event};
    use crate::wire::Wire;
    use bytes::Bytes;
    use serde_json::json;

    #[test]
    fn a_neutral_publish_crosses_as_json_and_encodes_the_same() {
        let event = Event::with_text(
            json!({"name": "n", "args": [1]}),
            r#"{"name":"n","args":[1]}"#,
        )
        .with_ack(Some(AckId {
            id: 4,
            with_data: true,
        }))
        .in_namespace("/chat");
        let mut binary = Event::new(json!({"name": "b", "args": []}));
        binary.attachments.push(Bytes::from_static(&[1, 2, 3]));
        let items = vec![
            Out::Event(event),
            Out::Event(binary),
            Out::Raw(json!("2::")),
            Out::Json {
                data: json!({"a": 1}),
                ack: None,
            },
        ];
        let env = Envelope {
            privilege: Privilege::Public,
            cids: vec!["rooms.a".into()],
            payload: Published::new(items.clone()).into(),
        };
        let text = env.to_json().unwrap();
        let back = Envelope::from_json(&text).unwrap();
        assert_eq!(back.privilege, Privilege::Public);
        assert_eq!(back.cids, ["rooms.a"]);
        let Payload::Published(p) = back.payload else {
            panic!("not neutral: {text}")
        };
        assert_eq!(p.items(), items.as_slice());
        assert_eq!(
            p.encoded(&Wire::Sio09),
            Published::new(items).encoded(&Wire::Sio09)
        );
    }

    #[test]
    fn events_cross_too() {
        let events = vec![InternalEvent::new("reply", json!({"name": "x"}))];
        let env = Envelope {
            privilege: Privilege::Max,
            cids: vec!["a".into()],
            payload: Payload::events(events.clone()),
        };
        let back = Envelope::from_json(&env.to_json().unwrap()).unwrap();
        match back.payload {
            Payload::Events(e) => assert_eq!(&*e, events.as_slice()),
            other => panic!("{other:?}"),
        }
        assert!(
            Envelope::from_json(r#"{"privilege":"Max","cids":[],"payload":{"frames":["5:::{}"]}}"#)
                .is_err(),
            "pre-encoded frames never cross"
        );
        assert!(
            Envelope::from_json(r#"{"privilege":"Max","cids":[],"payload":{"events":[1]}}"#)
                .is_err()
        );
    }
}
