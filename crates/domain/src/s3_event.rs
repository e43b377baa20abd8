//! S3 event notifications as a queue receives them: the JSON body S3 sends
//! to SQS when an object is created (`Records[].s3.object.key`), the
//! `s3:TestEvent` it sends once when a notification configuration is saved,
//! and either of them wrapped in an SNS notification (S3 → SNS → SQS without
//! raw message delivery). Parsed here once; the output-watcher acts on keys.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::S3Key;

/// One message of an S3 event queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Notification {
    /// S3 checking that it may send to the queue; carries no object.
    Test { bucket: String },
    /// What happened to objects: usually one record per message.
    Records(Vec<ObjectEvent>),
}

/// What happened to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    /// As S3 names it: `ObjectCreated:Put`, `ObjectRemoved:Delete`…
    pub name: String,
    pub bucket: String,
    /// The object's key, decoded (S3 sends it URL-encoded).
    pub key: String,
    /// When S3 says it happened.
    pub time: Option<DateTime<Utc>>,
}

impl ObjectEvent {
    /// An object was created (put, copied, a multipart upload completed).
    pub fn is_created(&self) -> bool {
        self.name.trim_start_matches("s3:").starts_with("ObjectCreated:")
    }

    /// The key in CADScribe's layout; `None` for anything outside it.
    pub fn s3_key(&self) -> Option<S3Key> {
        S3Key::parse(&self.key)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S3EventError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("neither S3 event records nor an s3:TestEvent")]
    NotAnEvent,
    #[error("an object key that is not URL-encoded UTF-8: {0:?}")]
    BadKey(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Body {
    Records {
        #[serde(rename = "Records")]
        records: Vec<Record>,
    },
    Test {
        #[serde(rename = "Event")]
        event: String,
        #[serde(rename = "Bucket", default)]
        bucket: String,
    },
    Sns {
        #[serde(rename = "Type")]
        kind: String,
        #[serde(rename = "Message")]
        message: String,
    },
}

#[derive(Deserialize)]
struct Record {
    #[serde(rename = "eventName")]
    name: String,
    #[serde(rename = "eventTime", default)]
    time: Option<DateTime<Utc>>,
    s3: Entity,
}

#[derive(Deserialize)]
struct Entity {
    bucket: Named,
    object: Object,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct Object {
    key: String,
}

impl S3Notification {
    pub fn parse(body: &str) -> Result<Self, S3EventError> {
        let body: Body = serde_json::from_str(body).map_err(|e| {
            if serde_json::from_str::<serde_json::Value>(body).is_ok() {
                S3EventError::NotAnEvent
            } else {
                S3EventError::NotJson(e.to_string())
            }
        })?;
        match body {
            Body::Records { records } => records
                .into_iter()
                .map(|r| {
                    Ok(ObjectEvent {
                        name: r.name,
                        bucket: r.s3.bucket.name,
                        key: decode_key(&r.s3.object.key)?,
                        time: r.time,
                    })
                })
                .collect::<Result<_, _>>()
                .map(Self::Records),
            Body::Test { event, bucket } if event == "s3:TestEvent" => Ok(Self::Test { bucket }),
            Body::Sns { kind, message } if kind == "Notification" => Self::parse(&message),
            _ => Err(S3EventError::NotAnEvent),
        }
    }
}

/// S3 encodes keys in events as in an HTML form: `%XX` escapes and `+` for
/// a space.
fn decode_key(encoded: &str) -> Result<String, S3EventError> {
    let bad = || S3EventError::BadKey(encoded.to_owned());
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = encoded.get(i + 1..i + 3).ok_or_else(bad)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ModelFormat, ProjectSlug, Version};

    /// The example of the S3 user guide ("Event message structure"),
    /// trimmed of fields nobody reads.
    const AWS_PUT: &str = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-west-2",
        "eventTime":"1970-01-01T00:00:00.000Z","eventName":"ObjectCreated:Put",
        "userIdentity":{"principalId":"AIDAJDPLRKLG7UEXAMPLE"},
        "requestParameters":{"sourceIPAddress":"127.0.0.1"},
        "responseElements":{"x-amz-request-id":"C3D13FE58DE4C810","x-amz-id-2":"FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
        "s3":{"s3SchemaVersion":"1.0","configurationId":"testConfigRule",
          "bucket":{"name":"cadscribe","ownerIdentity":{"principalId":"A3NL1KOZZKExample"},"arn":"arn:aws:s3:::cadscribe"},
          "object":{"key":"output/plate/v3/MyHeadlessModel.STEP","size":1024,"eTag":"d41d8cd98f00b204e9800998ecf8427e","sequencer":"0055AED6DCD90281E5"}}}]}"#;

    #[test]
    fn an_object_created_record_names_its_key_in_the_layout() {
        let S3Notification::Records(records) = S3Notification::parse(AWS_PUT).unwrap() else {
            panic!("records")
        };
        assert_eq!(records.len(), 1);
        let e = &records[0];
        assert!(e.is_created());
        assert_eq!(e.bucket, "cadscribe");
        assert_eq!(e.time, Some(DateTime::UNIX_EPOCH));
        let slug = ProjectSlug::parse("plate").unwrap();
        assert_eq!(
            e.s3_key(),
            Some(S3Key::output(&slug, Version::new(3).unwrap(), ModelFormat::Step))
        );
    }

    #[test]
    fn keys_are_decoded_as_s3_encodes_them() {
        // As an S3-compatible server sends it: even `/` escaped.
        let body = r#"{"Records":[{"eventName":"ObjectCreated:CompleteMultipartUpload",
            "s3":{"bucket":{"name":"b"},"object":{"key":"output%2Fa+b%2Fv1%2Fx%2By%C3%A9.STL"}}}]}"#;
        let S3Notification::Records(r) = S3Notification::parse(body).unwrap() else {
            panic!("records")
        };
        assert_eq!(r[0].key, "output/a b/v1/x+yé.STL");
        assert!(r[0].is_created());
        assert_eq!(r[0].time, None);
        assert_eq!(r[0].s3_key(), None, "not a slug");
        for bad in ["%zz", "%4", "%ff"] {
            let body = format!(
                r#"{{"Records":[{{"eventName":"ObjectCreated:Put","s3":{{"bucket":{{"name":"b"}},"object":{{"key":"{bad}"}}}}}}]}}"#
            );
            assert_eq!(S3Notification::parse(&body), Err(S3EventError::BadKey(bad.into())));
        }
    }

    #[test]
    fn removals_are_not_creations() {
        let body = AWS_PUT.replace("ObjectCreated:Put", "ObjectRemoved:Delete");
        let S3Notification::Records(r) = S3Notification::parse(&body).unwrap() else {
            panic!("records")
        };
        assert!(!r[0].is_created());
    }

    #[test]
    fn the_test_event_and_sns_wrapped_notifications() {
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2025-01-01T00:00:00.000Z",
            "Bucket":"cadscribe","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}"#;
        assert_eq!(
            S3Notification::parse(test),
            Ok(S3Notification::Test {
                bucket: "cadscribe".into()
            })
        );
        let sns = serde_json::json!({ "Type": "Notification", "MessageId": "m", "Message": AWS_PUT }).to_string();
        assert_eq!(S3Notification::parse(&sns), S3Notification::parse(AWS_PUT));
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        assert!(matches!(
            S3Notification::parse("not json"),
            Err(S3EventError::NotJson(_))
        ));
        for body in [
            r#"{"message_id":"x","type":"model.built"}"#,
            r#"{"Event":"s3:Other"}"#,
            r#"{"Type":"SubscriptionConfirmation","Message":"{}"}"#,
        ] {
            assert_eq!(S3Notification::parse(body), Err(S3EventError::NotAnEvent), "{body}");
        }
    }
}
