//! S3 event notifications read from an SQS queue (`S3_EVENTS_QUEUE`): the
//! bucket tells, as soon as an object is written, what the output-watcher
//! would otherwise find only by looking (whichever bus carries the
//! services' own messages; S3 sends its events to SQS, not to RabbitMQ).
//!
//! The queue belongs to the deployment, not to CADScribe: it is checked at
//! start, never created (the bucket's notification configuration must name
//! it), and a message this process cannot read is dropped with a warning
//! rather than kept. Each object-created record of the bucket goes to an
//! [`ObjectEventHandler`], which may ask to see it again later
//! ([`Seen::Again`]: the message stays in the queue, hidden that long); a
//! transient failure leaves it to come back with a growing delay.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use aws_sdk_sqs::Client;
use chrono::{DateTime, Utc};
use domain::s3_event::{ObjectEvent, S3Notification};
use domain::settings::output_watcher;
use tokio_util::sync::CancellationToken;

use crate::bus::{backoff, sqs_error_text, sqs_queue_missing, HandlerError};
use crate::config::{EnvReader, FromEnv, SqsConnection};
use crate::metrics;

pub const QUEUE_VAR: &str = output_watcher::S3_EVENTS_QUEUE.name;

/// Where S3 sends the bucket's events: set means on.
#[derive(Debug, Clone)]
pub struct S3EventsSettings {
    /// The queue's name or URL.
    pub queue: String,
    pub connection: SqsConnection,
}

impl S3EventsSettings {
    /// `None` when `S3_EVENTS_QUEUE` is unset: no events are read.
    pub fn read(env: &mut EnvReader) -> Option<Self> {
        let queue = env.optional(QUEUE_VAR)?;
        env.check([&output_watcher::S3_EVENTS_QUEUE]);
        Some(Self {
            connection: SqsConnection::read(env),
            queue,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum S3EventsError {
    #[error("{QUEUE_VAR}: there is no SQS queue {0} (create it, and have the bucket send its s3:ObjectCreated:* events for output/ to it)")]
    NoSuchQueue(String),
    #[error("{QUEUE_VAR}: SQS does not answer for {queue} ({reason}; check AWS_ENDPOINT_URL_SQS, AWS_REGION and the credentials)")]
    Unreachable { queue: String, reason: String },
}

/// What became of an object event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Nothing more to do with it.
    Done,
    /// Show it again after this long.
    Again(Duration),
}

#[async_trait]
pub trait ObjectEventHandler: Send + Sync + 'static {
    /// An object of the bucket was created. A transient error shows the
    /// event again later; a permanent one drops it.
    async fn created(&self, event: &ObjectEvent) -> Result<Seen, HandlerError>;
}

/// The SQS queue S3 sends the bucket's events to, found.
pub struct S3EventQueue {
    client: Client,
    url: String,
    /// The queue's name, for logs and metrics.
    name: String,
    /// Events of other buckets (a queue shared by several) are skipped.
    bucket: String,
}

/// SQS's longest visibility timeout.
const MAX_HIDDEN: Duration = Duration::from_secs(12 * 3600);
/// SQS's longest long poll.
const WAIT_SECS: i32 = 20;

impl S3EventQueue {
    /// Finds the queue of `settings` for the events of `bucket`; the error
    /// names `S3_EVENTS_QUEUE` and what is wrong.
    pub async fn open(settings: &S3EventsSettings, bucket: &str) -> Result<Self, S3EventsError> {
        let client = crate::bus::sqs_client(&settings.connection).await;
        let queue = settings.queue.clone();
        let unreachable = |reason: String| S3EventsError::Unreachable {
            queue: queue.clone(),
            reason,
        };
        let url = if queue.contains("://") {
            queue.clone()
        } else {
            match client.get_queue_url().queue_name(&queue).send().await {
                Ok(out) => out.queue_url().unwrap_or_default().to_owned(),
                Err(e) if sqs_queue_missing(&e) => return Err(S3EventsError::NoSuchQueue(queue)),
                Err(e) => return Err(unreachable(sqs_error_text(&e))),
            }
        };
        // Asking for an attribute proves the URL names a queue we may read.
        match client
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if sqs_queue_missing(&e) => return Err(S3EventsError::NoSuchQueue(queue)),
            Err(e) => return Err(unreachable(sqs_error_text(&e))),
        }
        let name = url.rsplit('/').next().unwrap_or_default().to_owned();
        Ok(Self {
            client,
            url,
            name,
            bucket: bucket.to_owned(),
        })
    }

    /// Reads events until `shutdown`, finishing the messages in hand.
    pub async fn run(&self, handler: Arc<dyn ObjectEventHandler>, shutdown: CancellationToken) {
        tracing::info!(queue = %self.name, bucket = %self.bucket, "reading S3 event notifications");
        let mut delay = Duration::from_millis(250);
        loop {
            let receive = self
                .client
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .wait_time_seconds(WAIT_SECS)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
                .send();
            // A receive cut short may have taken messages: they come back
            // after the queue's visibility timeout.
            let got = tokio::select! {
                got = receive => got,
                _ = shutdown.cancelled() => return,
            };
            match got {
                Ok(out) => {
                    delay = Duration::from_millis(250);
                    let messages = out.messages.unwrap_or_default();
                    futures::future::join_all(messages.iter().map(|m| self.process(m, handler.as_ref()))).await;
                }
                Err(e) => {
                    tracing::warn!(queue = %self.name, error = %sqs_error_text(&e), retry_in = ?delay, "cannot receive S3 events");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.cancelled() => return,
                    }
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    /// Handles one message's records, then deletes it, hides it for
    /// later, or leaves it to come back.
    async fn process(&self, message: &Message, handler: &dyn ObjectEventHandler) {
        let Some(receipt) = message.receipt_handle() else {
            return;
        };
        let attribute = |name: MessageSystemAttributeName| message.attributes().and_then(|a| a.get(&name));
        metrics::bus_message(&self.name, "consumed");
        let records = match S3Notification::parse(message.body().unwrap_or_default()) {
            Ok(S3Notification::Test { bucket }) => {
                tracing::info!(queue = %self.name, %bucket, "S3 test event: the bucket's notifications reach this queue");
                Vec::new()
            }
            Ok(S3Notification::Records(records)) => records,
            Err(e) => {
                tracing::warn!(queue = %self.name, error = %e, "not an S3 event notification; dropped");
                metrics::bus_message(&self.name, "discarded");
                Vec::new()
            }
        };
        // S3 always says when; a hand-made event may not, and then the
        // message's arrival stands in.
        let sent = attribute(MessageSystemAttributeName::SentTimestamp)
            .and_then(|ms| ms.parse::<i64>().ok())
            .and_then(DateTime::<Utc>::from_timestamp_millis);
        let mut again = None::<Duration>;
        let mut failed = false;
        for mut event in records {
            if !event.is_created() || event.bucket != self.bucket {
                continue;
            }
            event.time = event.time.or(sent);
            match handler.created(&event).await {
                Ok(Seen::Done) => {}
                Ok(Seen::Again(after)) => again = Some(again.map_or(after, |a| a.max(after))),
                Err(HandlerError::Permanent(e)) => {
                    tracing::warn!(key = %event.key, error = %format!("{e:#}"), "S3 event dropped");
                }
                Err(e) => {
                    tracing::warn!(key = %event.key, error = %e, "S3 event failed; it will come again");
                    failed = true;
                }
            }
        }
        let received = attribute(MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(1);
        let hide = if failed {
            Some(backoff(received, Duration::from_secs(1), Duration::from_secs(60)))
        } else {
            again
        };
        if let Some(after) = hide {
            let secs = after.min(MAX_HIDDEN).as_secs_f64().ceil() as i32;
            let hidden = self
                .client
                .change_message_visibility()
                .queue_url(&self.url)
                .receipt_handle(receipt)
                .visibility_timeout(secs)
                .send()
                .await;
            if let Err(e) = hidden {
                tracing::warn!(queue = %self.name, error = %sqs_error_text(&e), "could not postpone an S3 event; it comes back after the queue's visibility timeout");
            }
            metrics::bus_message(&self.name, if failed { "retried" } else { "deferred" });
            return;
        }
        match self
            .client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
        {
            Ok(_) => metrics::bus_message(&self.name, "acked"),
            Err(e) => {
                tracing::warn!(queue = %self.name, error = %sqs_error_text(&e), "could not delete an S3 event; it will come again")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<Option<S3EventsSettings>, crate::ConfigErrors> {
        let mut env = EnvReader::from_map(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        let s = S3EventsSettings::read(&mut env);
        env.finish().map(|()| s)
    }

    #[test]
    fn off_unless_a_queue_is_named() {
        assert!(read(&[]).unwrap().is_none());
        let s = read(&[(QUEUE_VAR, "cadscribe-s3-events")]).unwrap().unwrap();
        assert_eq!(s.queue, "cadscribe-s3-events");
        let url = "https://sqs.eu-west-1.amazonaws.com/123456789012/cadscribe-s3-events";
        assert_eq!(read(&[(QUEUE_VAR, url)]).unwrap().unwrap().queue, url);
    }

    #[test]
    fn a_bad_queue_is_named_with_the_reason() {
        for (bad, why) in [
            ("events.fifo", "FIFO"),
            ("https://sqs.local/1/events.fifo", "FIFO"),
            ("my events", "1 to 80"),
            ("ftp://host/q", "http(s) URL"),
        ] {
            let err = read(&[(QUEUE_VAR, bad)]).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains("S3_EVENTS_QUEUE is malformed") && text.contains(why),
                "{bad}: {text}"
            );
        }
        let err = read(&[(QUEUE_VAR, "events"), ("AWS_ENDPOINT_URL_SQS", "localhost:9324")]).unwrap_err();
        assert!(err.to_string().contains("AWS_ENDPOINT_URL_SQS is malformed"), "{err}");
    }
}
