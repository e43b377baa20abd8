//! The message bus: publish envelopes, consume them with retries and
//! dead-lettering, all behind one interface.
//!
//! Two backends implement the one [`Bus`] trait: RabbitMQ (`rabbit`, the
//! default) and Amazon SQS (`sqs`); `BUS_BACKEND` picks one in
//! [`from_settings`], and nothing outside this module names either. Both
//! follow one delivery rule, [`settle`]. A *work
//! queue* is one durable queue per consuming service and routing key, a
//! *broadcast* is a per-instance subscription (live status, heartbeats).

mod rabbit;
mod sqs;

pub(crate) use sqs::{connect as sqs_client, error_text as sqs_error_text, is_missing as sqs_queue_missing};

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::{MessageType, RawEnvelope};
use tokio_util::sync::CancellationToken;

use crate::config::{BusBackend, BusSettings};

/// The bus `settings` name, for the process called `instance` (its
/// connections and heartbeats carry the name). Nothing is contacted yet:
/// `declare_topology` or `ping` says whether the backend answers.
pub fn from_settings(settings: &BusSettings, instance: impl Into<String>) -> Arc<dyn Bus> {
    match &settings.backend {
        BusBackend::RabbitMq(rabbit) => Arc::new(rabbit::RabbitBus::new(settings.clone(), rabbit.clone(), instance)),
        BusBackend::Sqs(sqs) => Arc::new(sqs::SqsBus::new(settings.clone(), sqs.clone(), instance)),
    }
}

/// Where a dead-lettered message keeps why, where it came from and when
/// (an AMQP header or an SQS message attribute of these names).
pub const REASON_HEADER: &str = "x-cadscribe-reason";
pub const QUEUE_HEADER: &str = "x-cadscribe-queue";
pub const FAILED_AT_HEADER: &str = "x-cadscribe-failed-at";

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("message bus unavailable: {0}")]
    Unavailable(String),
    #[error("the broker refused the message: {0}")]
    Rejected(String),
}

/// How a handler failed, which decides what happens to the message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// May pass (network, 5xx, timeout): retried with backoff, then
    /// dead-lettered after the attempt limit.
    #[error("{0:#}")]
    Transient(anyhow::Error),
    /// Will never succeed (bad payload, broken invariant): dead-lettered at once.
    #[error("{0:#}")]
    Permanent(anyhow::Error),
    /// Not now: another user's work goes first (fair scheduling). The
    /// message goes to the back of its queue unchanged (no attempt is
    /// counted).
    #[error("deferred: {0}")]
    Defer(String),
}

impl HandlerError {
    pub fn transient(e: impl Into<anyhow::Error>) -> Self {
        Self::Transient(e.into())
    }
    pub fn permanent(e: impl Into<anyhow::Error>) -> Self {
        Self::Permanent(e.into())
    }
}

/// Why a message ended in the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadLetterReason {
    Unparseable(String),
    Permanent(String),
    AttemptsExhausted { attempts: u32, last_error: String },
}

impl std::fmt::Display for DeadLetterReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unparseable(e) => write!(f, "unparseable message: {e}"),
            Self::Permanent(e) => write!(f, "{e}"),
            Self::AttemptsExhausted { attempts, last_error } => {
                write!(f, "gave up after {attempts} attempts: {last_error}")
            }
        }
    }
}

#[async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn handle(&self, envelope: RawEnvelope) -> Result<(), HandlerError>;

    /// Called once a parseable message is dead-lettered, so the service can
    /// mark its job failed with the reason.
    async fn on_dead_letter(&self, _envelope: &RawEnvelope, _reason: &DeadLetterReason) {}
}

/// What a consumer listens to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    /// Shared, durable work queues `<service>.<key>`: each message is handled
    /// by one instance of the service.
    Work { service: String, keys: Vec<MessageType> },
    /// Every instance gets every message; nothing is kept while it is away.
    Broadcast { name: String, keys: Vec<MessageType> },
}

impl Subscription {
    pub fn work(service: impl Into<String>, keys: &[MessageType]) -> Self {
        Self::Work {
            service: service.into(),
            keys: keys.to_vec(),
        }
    }
    pub fn broadcast(name: impl Into<String>, keys: &[MessageType]) -> Self {
        Self::Broadcast {
            name: name.into(),
            keys: keys.to_vec(),
        }
    }
}

/// Depth and consumers of a queue, for monitoring and autoscaling.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueueStats {
    pub queue: String,
    /// Messages waiting for a consumer (not those in hand).
    pub messages: u64,
    /// Messages a consumer has taken and not settled yet; `None` where the
    /// backend cannot tell (RabbitMQ's protocol does not count them).
    pub in_flight: Option<u64>,
    /// `None` where the backend cannot tell (SQS has no consumers to count).
    pub consumers: Option<u64>,
}

/// A message taken off a queue by [`Bus::take_one`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    pub body: Vec<u8>,
    /// [`REASON_HEADER`] of a dead-lettered message.
    pub reason: Option<String>,
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Publishes durably: returns once the broker has taken responsibility.
    async fn publish(&self, envelope: &RawEnvelope) -> Result<(), BusError>;

    /// Consumes until `shutdown` is cancelled, reconnecting after failures.
    /// Finishes the messages in hand before returning.
    async fn consume(&self, subscription: Subscription, handler: Arc<dyn Handler>, shutdown: CancellationToken);

    /// Declares the work and dead-letter queues of `services`; returns once
    /// they exist (the mirror of [`Bus::delete_topology`]).
    async fn declare_services(&self, services: &[(&str, &[MessageType])]) -> Result<(), BusError>;

    /// Declares every work queue of the system so no message is unroutable,
    /// whichever service starts first.
    async fn declare_topology(&self) -> Result<(), BusError> {
        self.declare_services(TOPOLOGY).await
    }

    async fn queue_stats(&self) -> Result<Vec<QueueStats>, BusError>;

    async fn ping(&self) -> Result<(), BusError>;

    /// This process's name on the bus (its heartbeats' instance).
    fn instance(&self) -> &str;

    /// The backend's full name of a queue named by [`work_queue`] or
    /// [`dead_letter_queue`], prefix included (as [`QueueStats`] names it).
    fn queue_name(&self, name: &str) -> String;

    /// Publishes raw bytes under a routing key (tools and tests: a message
    /// that is not an envelope must still be handled).
    async fn publish_bytes(&self, routing_key: &str, body: &[u8]) -> Result<(), BusError>;

    /// Takes one message off a queue without a consumer (inspection of
    /// dead-letter queues); `None` when it is empty.
    async fn take_one(&self, queue: &str) -> Result<Option<Taken>, BusError>;

    /// Deletes the work and dead-letter queues of `services`: test teardown.
    async fn delete_topology(&self, services: &[(&str, &[MessageType])]) -> Result<(), BusError>;
}

/// Who consumes what: one work queue per service and routing key
/// (ARCHITECTURE.md, "Services and stages").
pub const TOPOLOGY: &[(&str, &[MessageType])] = &[
    (
        "ai-generator",
        &[MessageType::GenerationRequested, MessageType::GenerationRepair],
    ),
    (
        "script-store",
        &[MessageType::ScriptGenerated, MessageType::ScriptUploaded],
    ),
    ("freecad-worker", &[MessageType::ScriptStored]),
    ("output-watcher", &[MessageType::ModelBuilt, MessageType::ModelFailed]),
];

/// The work queue of a service for a routing key.
pub fn work_queue(service: &str, key: MessageType) -> String {
    format!("{service}.{}", key.routing_key())
}

pub fn dead_letter_queue(service: &str) -> String {
    format!("{service}.dlq")
}

/// Every queue of a service: its work queues, then its dead-letter queue.
pub fn service_queues(service: &str, keys: &[MessageType]) -> Vec<String> {
    keys.iter()
        .map(|k| work_queue(service, *k))
        .chain([dead_letter_queue(service)])
        .collect()
}

/// What becomes of a work message once its handler answered.
#[derive(Debug)]
enum Settle {
    Ack,
    /// Send `next` (the next attempt) after `delay`, then drop the original.
    Retry {
        next: RawEnvelope,
        delay: Duration,
    },
    /// Back to its queue unchanged, no attempt counted.
    Defer,
    DeadLetter(DeadLetterReason),
}

/// The delivery rule of every backend: a transient failure is retried with
/// backoff until `max_attempts`, a permanent one dead-lettered at once.
fn settle(result: Result<(), HandlerError>, raw: &RawEnvelope, settings: &BusSettings) -> Settle {
    match result {
        Ok(()) => Settle::Ack,
        Err(HandlerError::Transient(e)) if raw.attempt < settings.max_attempts => {
            tracing::warn!(error = %format!("{e:#}"), "handler failed; retrying later");
            let mut next = raw.clone();
            next.attempt += 1;
            Settle::Retry {
                next,
                delay: backoff(raw.attempt, settings.retry_base, settings.retry_max),
            }
        }
        Err(HandlerError::Defer(why)) => {
            tracing::debug!(%why, "deferred to the back of the queue");
            Settle::Defer
        }
        Err(HandlerError::Transient(e)) => Settle::DeadLetter(DeadLetterReason::AttemptsExhausted {
            attempts: raw.attempt,
            last_error: format!("{e:#}"),
        }),
        Err(HandlerError::Permanent(e)) => Settle::DeadLetter(DeadLetterReason::Permanent(format!("{e:#}"))),
    }
}

/// The span a message is handled in.
fn message_span(raw: &RawEnvelope) -> tracing::Span {
    tracing::info_span!(
        "message",
        message_type = %raw.message_type,
        job_id = %raw.job_id,
        project_id = %raw.project_id,
        attempt = raw.attempt,
        request_id = raw.request_id.as_deref().unwrap_or(""),
    )
}

/// Pause before a deferred message goes back to its queue, so a queue of
/// deferrable work is not spun through faster than the work it waits for.
const DEFER_PAUSE: Duration = Duration::from_millis(20);

/// Retry delay before delivery number `attempt + 1`: `base · 2^(attempt-1)`,
/// capped.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
    base.saturating_mul(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Duration::from_millis(100);
        let m = Duration::from_secs(1);
        let got: Vec<_> = (1..=6).map(|a| backoff(a, b, m).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn every_consumed_key_has_one_producer_path() {
        for (service, keys) in TOPOLOGY {
            for k in *keys {
                assert_eq!(work_queue(service, *k), format!("{service}.{k}"));
            }
        }
    }
}
