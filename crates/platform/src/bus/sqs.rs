//! Amazon SQS backend of the bus (`aws-sdk-sqs`), for AWS deployments and
//! any SQS-compatible server (`AWS_ENDPOINT_URL_SQS`).
//!
//! Names: SQS allows letters, digits, `-` and `_`, so the work queue
//! `<service>.<key>` is `<prefix>_<service>_<key with - for .>` and the
//! dead-letter queue `<prefix>_<service>_dlq`. The prefix has no `_`, so the
//! first `_` ends it and a longer prefix (another deployment) never matches.
//!
//! SQS has no exchange: the publisher fans out. A message goes to the work
//! queue of every `TOPOLOGY` service that consumes its key (declared by this
//! process, so never missed), and to every other queue of the prefix whose
//! name says it consumes the key: tests' own services and broadcast queues,
//! found by listing the prefix (cached for [`LISTING_TTL`]; on AWS a new
//! queue can take a while to be listed, which only delays broadcasts).
//!
//! Broadcast (every gateway hears every `job.status`, monitoring every
//! heartbeat): each subscriber owns a queue per key,
//! `<prefix>_<name>_<key>_<8 hex>`, keeping messages for a minute at most.
//! It deletes its queues when it stops. SQS never deletes a queue by itself
//! soon enough, so each subscriber tags its queues with the time every
//! [`TOUCH_EVERY`], and every subscriber deletes, when it starts, broadcast
//! queues not touched for [`ABANDONED_AFTER`]: a crashed instance's.
//!
//! Delivery: long polling (`SQS_WAIT_TIME_SECS`); while a handler runs its
//! message's visibility timeout is extended every half timeout, so a slow
//! FreeCAD run is not handed to a second worker; a consumer that dies
//! mid-message leaves it to reappear after the timeout. A retry is a copy
//! with the next attempt number sent with a delay (the backoff rounded up to
//! whole seconds, at most 15 minutes), then the original is deleted, as the
//! RabbitMQ backend does. Dead letters carry the reason as message
//! attributes ([`REASON_HEADER`]). Every work queue also has a redrive
//! policy to the dead-letter queue, one receive after the consumer gives up
//! on a message that keeps coming back unanswered: the last net, without a
//! reason attribute.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_config::provider_config::ProviderConfig;
use aws_config::web_identity_token::WebIdentityTokenCredentialsProvider;
use aws_sdk_sqs::config::{Credentials, Region};
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{Message, MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use aws_sdk_sqs::Client;
use tokio::sync::{Mutex, OnceCell, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use domain::{MessageType, RawEnvelope};

use super::{
    dead_letter_queue, message_span, service_queues, settle, work_queue, Bus, BusError, DeadLetterReason, Handler,
    QueueStats, Settle, Subscription, Taken, DEFER_PAUSE, FAILED_AT_HEADER, QUEUE_HEADER, REASON_HEADER, TOPOLOGY,
};
use crate::config::{BusSettings, SqsConnection, SqsCredentials, SqsSettings};
use crate::metrics;

/// How long a listing of the prefix's queues is reused by the publisher.
const LISTING_TTL: Duration = Duration::from_secs(2);
/// The tag a broadcast subscriber refreshes: Unix seconds of its last sign.
const ALIVE_TAG: &str = "cadscribe-alive";
const TOUCH_EVERY: Duration = Duration::from_secs(60);
const ABANDONED_AFTER: Duration = Duration::from_secs(600);
/// SQS's longest message delay.
const MAX_DELAY_SECS: u64 = 900;
/// SQS's largest receive.
const MAX_BATCH: usize = 10;
/// Broadcast messages nobody took within this long are dropped.
const BROADCAST_RETENTION_SECS: u32 = 60;
/// Dead letters are kept as long as SQS allows (14 days).
const DLQ_RETENTION_SECS: u32 = 14 * 24 * 3600;

fn unavailable<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    op: &str,
    err: SdkError<E, R>,
) -> BusError {
    BusError::Unavailable(format!("SQS {op}: {}", error_text(&err)))
}

/// What went wrong with a call to SQS, in a few words.
pub(crate) fn error_text<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    err: &SdkError<E, R>,
) -> String {
    match err {
        SdkError::ServiceError(e) => format!(
            "{} {}",
            e.err().code().unwrap_or("error"),
            e.err().message().unwrap_or_default()
        ),
        SdkError::DispatchFailure(e) => format!("cannot reach SQS ({e:?})"),
        SdkError::TimeoutError(_) => "timed out".into(),
        other => format!("{other:?}"),
    }
}

/// The queue is gone (deleted, or never made).
pub(crate) fn is_missing<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(
        err.code(),
        Some("QueueDoesNotExist" | "AWS.SimpleQueueService.NonExistentQueue")
    )
}

fn already_exists<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err.code(), Some("QueueNameExists" | "QueueAlreadyExists"))
}

/// `<service>.<key>` → `<service>_<key with - for .>`.
fn sqs_name(name: &str) -> String {
    match name.split_once('.') {
        Some((owner, rest)) => format!("{owner}_{}", rest.replace('.', "-")),
        None => name.to_owned(),
    }
}

fn key_part(routing_key: &str) -> String {
    routing_key.replace('.', "-")
}

/// The key a queue of the prefix consumes, from the rest of its name:
/// `<service>_<key>` (a work queue) or `<name>_<key>_<id>` (a broadcast).
fn consumed_key(rest: &str) -> Option<&str> {
    let parts: Vec<&str> = rest.split('_').collect();
    match parts.as_slice() {
        [_, "dlq"] => None,
        [_, key] | [_, key, _] => Some(key),
        _ => None,
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn string_attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("data type and value are set")
}

/// A client of the SQS that `connection` names (also the S3 event queue's).
pub(crate) async fn connect(connection: &SqsConnection) -> Client {
    let region = Region::new(connection.region.clone());
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).region(region.clone());
    match &connection.credentials {
        SqsCredentials::Static(id, secret) => {
            let keys = Credentials::new(id, secret.expose(), None, None, "cadscribe-config");
            loader = loader.credentials_provider(keys);
        }
        SqsCredentials::WebIdentity => {
            let config = ProviderConfig::default().with_region(Some(region));
            loader = loader.credentials_provider(
                WebIdentityTokenCredentialsProvider::builder()
                    .configure(&config)
                    .build(),
            );
        }
        SqsCredentials::DefaultChain => {}
    }
    let shared = loader.load().await;
    let mut config = aws_sdk_sqs::config::Builder::from(&shared);
    if let Some(url) = &connection.endpoint_url {
        config = config.endpoint_url(url);
    }
    Client::from_conf(config.build())
}

/// Queues of the prefix as (full name, URL).
type Listed = Vec<(String, String)>;

/// A queue a consumer polls.
#[derive(Debug, Clone)]
struct Queue {
    name: String,
    url: String,
    /// The service of a work queue; `None` for a broadcast queue.
    service: Option<String>,
    /// Queue attributes it is (re)created with.
    attributes: HashMap<QueueAttributeName, String>,
}

pub(super) struct SqsBus {
    inner: Arc<Inner>,
}

struct Inner {
    settings: BusSettings,
    sqs: SqsSettings,
    instance: String,
    client: OnceCell<Client>,
    /// URLs of queues this process made or looked up, by full name.
    urls: Mutex<HashMap<String, String>>,
    /// The last listing of the prefix's queues (full name, URL), and when.
    listing: Mutex<Option<(Instant, Listed)>>,
}

impl SqsBus {
    pub(super) fn new(settings: BusSettings, sqs: SqsSettings, instance: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                sqs,
                instance: instance.into(),
                client: OnceCell::new(),
                urls: Mutex::new(HashMap::new()),
                listing: Mutex::new(None),
            }),
        }
    }
}

impl Inner {
    /// The client, configured on first use (loading the default credential
    /// chain is asynchronous).
    async fn client(&self) -> &Client {
        self.client.get_or_init(|| connect(&self.sqs.connection)).await
    }

    fn full_name(&self, name: &str) -> String {
        format!("{}_{}", self.sqs.queue_prefix, sqs_name(name))
    }

    fn list_prefix(&self) -> String {
        format!("{}_", self.sqs.queue_prefix)
    }

    fn secs(d: Duration) -> i32 {
        i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
    }

    /// Creates a queue, or brings an existing one's attributes up to date
    /// (CreateQueue refuses other attributes than the queue has).
    async fn create_queue(
        &self,
        name: &str,
        attributes: &HashMap<QueueAttributeName, String>,
        tags: Option<HashMap<String, String>>,
    ) -> Result<String, BusError> {
        let client = self.client().await;
        let made = client
            .create_queue()
            .queue_name(name)
            .set_attributes(Some(attributes.clone()))
            .set_tags(tags)
            .send()
            .await;
        let url = match made {
            Ok(out) => out.queue_url().unwrap_or_default().to_owned(),
            Err(e) if already_exists(&e) => {
                let url = self.lookup(name).await?.ok_or_else(|| unavailable("CreateQueue", e))?;
                client
                    .set_queue_attributes()
                    .queue_url(&url)
                    .set_attributes(Some(attributes.clone()))
                    .send()
                    .await
                    .map_err(|e| unavailable("SetQueueAttributes", e))?;
                url
            }
            Err(e) => return Err(unavailable("CreateQueue", e)),
        };
        self.urls.lock().await.insert(name.to_owned(), url.clone());
        Ok(url)
    }

    /// The URL of a queue by full name; `None` if there is no such queue.
    async fn lookup(&self, name: &str) -> Result<Option<String>, BusError> {
        if let Some(url) = self.urls.lock().await.get(name) {
            return Ok(Some(url.clone()));
        }
        match self.client().await.get_queue_url().queue_name(name).send().await {
            Ok(out) => {
                let url = out.queue_url().unwrap_or_default().to_owned();
                self.urls.lock().await.insert(name.to_owned(), url.clone());
                Ok(Some(url))
            }
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(unavailable("GetQueueUrl", e)),
        }
    }

    async fn forget(&self, name: &str) {
        self.urls.lock().await.remove(name);
        *self.listing.lock().await = None;
    }

    fn work_attributes(&self, redrive: &str) -> HashMap<QueueAttributeName, String> {
        HashMap::from([
            (
                QueueAttributeName::VisibilityTimeout,
                Self::secs(self.sqs.visibility_timeout).to_string(),
            ),
            (
                QueueAttributeName::ReceiveMessageWaitTimeSeconds,
                Self::secs(self.sqs.wait_time).to_string(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive.to_owned()),
        ])
    }

    /// Creates the dead-letter queue and the work queues of one service.
    async fn declare_service(&self, service: &str, keys: &[MessageType]) -> Result<Vec<Queue>, BusError> {
        let dlq = self.full_name(&dead_letter_queue(service));
        let retention = HashMap::from([(
            QueueAttributeName::MessageRetentionPeriod,
            DLQ_RETENTION_SECS.to_string(),
        )]);
        let dlq_url = self.create_queue(&dlq, &retention, None).await?;
        let got = self
            .client()
            .await
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| unavailable("GetQueueAttributes", e))?;
        let arn = got
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .ok_or_else(|| BusError::Unavailable(format!("SQS did not say the ARN of {dlq}")))?;
        // One receive more than the consumer allows before it dead-letters
        // a message itself, with the reason.
        let redrive = serde_json::json!({
            "deadLetterTargetArn": arn,
            "maxReceiveCount": self.settings.max_attempts + 1,
        })
        .to_string();
        let attributes = self.work_attributes(&redrive);
        let mut queues = Vec::new();
        for key in keys {
            let name = self.full_name(&work_queue(service, *key));
            let url = self.create_queue(&name, &attributes, None).await?;
            queues.push(Queue {
                name,
                url,
                service: Some(service.to_owned()),
                attributes: attributes.clone(),
            });
        }
        Ok(queues)
    }

    /// The queues of a subscription, created.
    async fn subscribe(&self, subscription: &Subscription) -> Result<Vec<Queue>, BusError> {
        match subscription {
            Subscription::Work { service, keys } => self.declare_service(service, keys).await,
            Subscription::Broadcast { name, keys } => {
                self.delete_abandoned().await;
                let owner: String = name
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
                    .take(12)
                    .collect();
                let attributes = HashMap::from([
                    (
                        QueueAttributeName::MessageRetentionPeriod,
                        BROADCAST_RETENTION_SECS.to_string(),
                    ),
                    (
                        QueueAttributeName::VisibilityTimeout,
                        Self::secs(self.sqs.visibility_timeout).to_string(),
                    ),
                    (
                        QueueAttributeName::ReceiveMessageWaitTimeSeconds,
                        Self::secs(self.sqs.wait_time).to_string(),
                    ),
                ]);
                let id = &uuid::Uuid::new_v4().simple().to_string()[..8];
                let mut queues = Vec::new();
                for key in keys {
                    let name = format!("{}_{owner}_{}_{id}", self.sqs.queue_prefix, key_part(key.routing_key()));
                    let tags = HashMap::from([(ALIVE_TAG.to_owned(), unix_now().to_string())]);
                    let url = self.create_queue(&name, &attributes, Some(tags)).await?;
                    queues.push(Queue {
                        name,
                        url,
                        service: None,
                        attributes: attributes.clone(),
                    });
                }
                // This process's own publisher hears its new queues at once.
                *self.listing.lock().await = None;
                Ok(queues)
            }
        }
    }

    /// Deletes broadcast queues whose subscriber stopped signing (best
    /// effort: another subscriber tries again at its start).
    async fn delete_abandoned(&self) {
        let Ok(listed) = self.listing(true).await else { return };
        let client = self.client().await;
        let prefix = self.list_prefix();
        for (name, url) in listed {
            let rest = name.strip_prefix(&prefix).unwrap_or_default();
            if rest.split('_').count() != 3 {
                continue;
            }
            let Ok(tags) = client.list_queue_tags().queue_url(&url).send().await else {
                continue;
            };
            let alive = tags
                .tags()
                .and_then(|t| t.get(ALIVE_TAG))
                .and_then(|v| v.parse::<u64>().ok());
            if alive.is_some_and(|t| unix_now().saturating_sub(t) > ABANDONED_AFTER.as_secs()) {
                tracing::info!(queue = %name, "deleting an abandoned broadcast queue");
                let _ = client.delete_queue().queue_url(&url).send().await;
            }
        }
    }

    /// The prefix's queues (full name, URL); `fresh` skips the cache.
    async fn listing(&self, fresh: bool) -> Result<Listed, BusError> {
        let mut cached = self.listing.lock().await;
        if let Some((at, queues)) = cached.as_ref() {
            if !fresh && at.elapsed() < LISTING_TTL {
                return Ok(queues.clone());
            }
        }
        let client = self.client().await;
        let mut queues = Vec::new();
        let mut token = None;
        loop {
            let out = client
                .list_queues()
                .queue_name_prefix(self.list_prefix())
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| unavailable("ListQueues", e))?;
            for url in out.queue_urls() {
                let name = url.rsplit('/').next().unwrap_or_default().to_owned();
                queues.push((name, url.clone()));
            }
            token = out.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        *cached = Some((Instant::now(), queues.clone()));
        Ok(queues)
    }

    /// Every queue that consumes `routing_key`, as (full name, URL, whether
    /// it must exist).
    async fn targets(&self, routing_key: &str) -> Result<Vec<(String, String, bool)>, BusError> {
        let mut out: Vec<(String, String, bool)> = Vec::new();
        for (service, keys) in TOPOLOGY {
            if let Some(key) = keys.iter().find(|k| k.routing_key() == routing_key) {
                let name = self.full_name(&work_queue(service, *key));
                let url = match self.lookup(&name).await? {
                    Some(url) => url,
                    None => {
                        self.declare_service(service, keys).await?;
                        self.lookup(&name)
                            .await?
                            .ok_or_else(|| BusError::Unavailable(format!("{name} was not created")))?
                    }
                };
                out.push((name, url, true));
            }
        }
        let wanted = key_part(routing_key);
        let prefix = self.list_prefix();
        for (name, url) in self.listing(false).await? {
            let consumes = name.strip_prefix(&prefix).and_then(consumed_key) == Some(wanted.as_str());
            if consumes && !out.iter().any(|(n, _, _)| *n == name) {
                out.push((name, url, false));
            }
        }
        Ok(out)
    }

    async fn send(
        &self,
        url: &str,
        body: &str,
        delay: Duration,
        attributes: Option<HashMap<String, MessageAttributeValue>>,
    ) -> Result<(), SdkError<aws_sdk_sqs::operation::send_message::SendMessageError>> {
        let delay = delay.as_millis().div_ceil(1000).min(u128::from(MAX_DELAY_SECS)) as i32;
        self.client()
            .await
            .send_message()
            .queue_url(url)
            .message_body(body)
            .delay_seconds(delay)
            .set_message_attributes(attributes)
            .send()
            .await
            .map(|_| ())
    }

    /// Sends `body` to every queue that consumes `routing_key`, retrying
    /// the queues that failed; a queue that is gone and need not exist (a
    /// stopped instance's broadcast queue) is skipped.
    async fn fan_out(&self, routing_key: &str, body: &[u8]) -> Result<(), BusError> {
        let body = std::str::from_utf8(body)
            .map_err(|_| BusError::Rejected("SQS carries text only; the body is not UTF-8".into()))?;
        let mut done: Vec<String> = Vec::new();
        let mut last = String::new();
        for attempt in 0..4u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
            }
            let targets = match self.targets(routing_key).await {
                Ok(t) => t,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            let mut failed = false;
            for (name, url, required) in &targets {
                if done.contains(name) {
                    continue;
                }
                match self.send(url, body, Duration::ZERO, None).await {
                    Ok(()) => done.push(name.clone()),
                    Err(e) if is_missing(&e) && !required => {
                        self.forget(name).await;
                        done.push(name.clone());
                    }
                    Err(e) => {
                        if is_missing(&e) {
                            self.forget(name).await;
                        }
                        let e = unavailable("SendMessage", e);
                        tracing::warn!(queue = %name, error = %e, "publish failed; retrying");
                        last = format!("{name}: {e}");
                        failed = true;
                    }
                }
            }
            if !failed {
                if targets.is_empty() {
                    tracing::debug!(routing_key, "no queue consumes this key; the message is dropped");
                }
                return Ok(());
            }
        }
        Err(BusError::Unavailable(format!("SQS did not take the message ({last})")))
    }

    async fn dead_letter(
        &self,
        service: &str,
        queue: &str,
        body: &str,
        reason: &DeadLetterReason,
    ) -> Result<(), BusError> {
        let dlq = self.full_name(&dead_letter_queue(service));
        let url = self
            .lookup(&dlq)
            .await?
            .ok_or_else(|| BusError::Unavailable(format!("{dlq} is gone")))?;
        // Attributes count toward the message size: keep the reason short.
        let mut why = reason.to_string();
        if why.len() > 4000 {
            let cut = (0..=4000).rev().find(|i| why.is_char_boundary(*i)).unwrap_or(0);
            why.truncate(cut);
        }
        let attributes = HashMap::from([
            (REASON_HEADER.to_owned(), string_attribute(&why)),
            (QUEUE_HEADER.to_owned(), string_attribute(queue)),
            (
                FAILED_AT_HEADER.to_owned(),
                string_attribute(&chrono::Utc::now().to_rfc3339()),
            ),
        ]);
        self.send(&url, body, Duration::ZERO, Some(attributes))
            .await
            .map_err(|e| unavailable("SendMessage", e))
    }

    /// Keeps a message hidden from other consumers; never returns.
    async fn keep_invisible(&self, queue: &Queue, receipt: &str) {
        let timeout = self.sqs.visibility_timeout;
        let every = (timeout / 2).max(Duration::from_millis(500));
        loop {
            tokio::time::sleep(every).await;
            let extended = self
                .client()
                .await
                .change_message_visibility()
                .queue_url(&queue.url)
                .receipt_handle(receipt)
                .visibility_timeout(Self::secs(timeout))
                .send()
                .await;
            if let Err(e) = extended {
                tracing::warn!(queue = %queue.name, error = %unavailable("ChangeMessageVisibility", e), "could not extend the visibility timeout");
            }
        }
    }

    /// Handles one message, extending its visibility meanwhile, and
    /// deletes it once it is settled.
    async fn process(&self, queue: &Queue, message: Message, handler: &Arc<dyn Handler>) {
        let Some(receipt) = message.receipt_handle().map(str::to_owned) else {
            return;
        };
        let received = message
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(1);
        let body = message.body().unwrap_or_default();
        let settled = tokio::select! {
            biased;
            settled = self.settle_message(queue, body, received, handler) => settled,
            () = self.keep_invisible(queue, &receipt) => false,
        };
        if !settled {
            // It reappears after the visibility timeout.
            return;
        }
        let deleted = self
            .client()
            .await
            .delete_message()
            .queue_url(&queue.url)
            .receipt_handle(&receipt)
            .send()
            .await;
        if let Err(e) = deleted {
            tracing::warn!(queue = %queue.name, error = %unavailable("DeleteMessage", e), "could not delete a handled message; it will come again");
        }
    }

    /// Decodes, calls, then retries, defers or dead-letters; `true` when
    /// the message may be deleted.
    async fn settle_message(&self, queue: &Queue, body: &str, received: u32, handler: &Arc<dyn Handler>) -> bool {
        let raw = match RawEnvelope::from_slice(body.as_bytes()) {
            Ok(raw) => raw,
            Err(e) => {
                tracing::warn!(error = %e, queue = %queue.name, "unparseable message");
                if let Some(service) = &queue.service {
                    let reason = DeadLetterReason::Unparseable(e.to_string());
                    if let Err(e) = self.dead_letter(service, &queue.name, body, &reason).await {
                        tracing::warn!(error = %e, "could not dead-letter; it will come again");
                        return false;
                    }
                    metrics::bus_message(&queue.name, "dead_lettered");
                }
                return true;
            }
        };
        let span = message_span(&raw);
        let Some(service) = &queue.service else {
            if let Err(e) = handler.handle(raw).instrument(span).await {
                tracing::warn!(error = %e, "broadcast handler failed");
            }
            return true;
        };
        metrics::bus_message(&queue.name, "consumed");
        async {
            let outcome = if received > self.settings.max_attempts {
                // Its consumers stopped mid-message that often (killed,
                // out of memory): give up before the redrive policy does,
                // so the job learns why.
                Settle::DeadLetter(DeadLetterReason::AttemptsExhausted {
                    attempts: received,
                    last_error: "received again and again without an answer (its consumer stopped mid-message)"
                        .into(),
                })
            } else {
                settle(handler.handle(raw.clone()).await, &raw, &self.settings)
            };
            let reason = match outcome {
                Settle::Ack => {
                    metrics::bus_message(&queue.name, "acked");
                    return true;
                }
                Settle::Retry { next, delay } => {
                    let sent = self.send(&queue.url, &String::from_utf8_lossy(&next.to_vec()), delay, None).await;
                    return match sent {
                        Ok(()) => {
                            metrics::bus_message(&queue.name, "retried");
                            true
                        }
                        Err(e) => {
                            tracing::warn!(error = %unavailable("SendMessage", e), "could not schedule the retry; it will come again");
                            false
                        }
                    };
                }
                Settle::Defer => {
                    tokio::time::sleep(DEFER_PAUSE).await;
                    return match self.send(&queue.url, body, Duration::ZERO, None).await {
                        Ok(()) => {
                            metrics::bus_message(&queue.name, "deferred");
                            true
                        }
                        Err(_) => false,
                    };
                }
                Settle::DeadLetter(reason) => reason,
            };
            tracing::error!(%reason, "dead-lettering message");
            if let Err(e) = self.dead_letter(service, &queue.name, body, &reason).await {
                tracing::warn!(error = %e, "could not dead-letter; it will come again");
                return false;
            }
            handler.on_dead_letter(&raw, &reason).await;
            metrics::bus_message(&queue.name, "dead_lettered");
            true
        }
        .instrument(span)
        .await
    }

    /// Receives from one queue until shutdown, handling up to the shared
    /// `slots` at once; then finishes the messages in hand.
    async fn poll(
        self: Arc<Self>,
        mut queue: Queue,
        handler: Arc<dyn Handler>,
        slots: Arc<Semaphore>,
        shutdown: CancellationToken,
    ) {
        // Dropping the set (the consumer's task aborted) drops the handlers
        // and stops extending their messages' visibility.
        let mut in_hand = JoinSet::new();
        let mut delay = Duration::from_millis(250);
        let mut touched = Instant::now();
        let wait = Self::secs(self.sqs.wait_time);
        loop {
            while in_hand.try_join_next().is_some() {}
            if queue.service.is_none() && touched.elapsed() >= TOUCH_EVERY {
                touched = Instant::now();
                let _ = self
                    .client()
                    .await
                    .tag_queue()
                    .queue_url(&queue.url)
                    .tags(ALIVE_TAG, unix_now().to_string())
                    .send()
                    .await;
            }
            let first = tokio::select! {
                permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                _ = shutdown.cancelled() => break,
            };
            let mut permits = vec![first];
            while permits.len() < MAX_BATCH {
                match slots.clone().try_acquire_owned() {
                    Ok(p) => permits.push(p),
                    Err(_) => break,
                }
            }
            let receive = self
                .client()
                .await
                .receive_message()
                .queue_url(&queue.url)
                .max_number_of_messages(permits.len() as i32)
                .wait_time_seconds(wait)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .message_attribute_names("All")
                .send();
            // A receive cut short by shutdown may have taken messages: they
            // reappear after the visibility timeout.
            let got = tokio::select! {
                got = receive => got,
                _ = shutdown.cancelled() => break,
            };
            match got {
                Ok(out) => {
                    delay = Duration::from_millis(250);
                    for (message, permit) in out.messages.unwrap_or_default().into_iter().zip(permits) {
                        let (me, queue, handler) = (self.clone(), queue.clone(), handler.clone());
                        in_hand.spawn(async move {
                            me.process(&queue, message, &handler).await;
                            drop(permit);
                        });
                    }
                }
                Err(e) => {
                    if is_missing(&e) {
                        // Deleted under us (a janitor, a teardown): make it again.
                        self.forget(&queue.name).await;
                        let tags = queue
                            .service
                            .is_none()
                            .then(|| HashMap::from([(ALIVE_TAG.to_owned(), unix_now().to_string())]));
                        if let Ok(url) = self.create_queue(&queue.name, &queue.attributes, tags).await {
                            queue.url = url;
                        }
                    }
                    tracing::warn!(queue = %queue.name, error = %unavailable("ReceiveMessage", e), retry_in = ?delay, "receive failed");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.cancelled() => break,
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        while in_hand.join_next().await.is_some() {}
    }
}

#[async_trait]
impl Bus for SqsBus {
    async fn publish(&self, envelope: &RawEnvelope) -> Result<(), BusError> {
        self.inner
            .fan_out(envelope.message_type.routing_key(), &envelope.to_vec())
            .await
    }

    async fn consume(&self, subscription: Subscription, handler: Arc<dyn Handler>, shutdown: CancellationToken) {
        let mut delay = Duration::from_millis(250);
        let queues = loop {
            match self.inner.subscribe(&subscription).await {
                Ok(queues) => break queues,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?delay, "cannot set up the queues; trying again");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.cancelled() => return,
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        };
        let names: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
        tracing::info!(queues = ?names, "consuming");
        let slots = Arc::new(Semaphore::new(usize::from(self.inner.settings.prefetch)));
        let mut polls = JoinSet::new();
        for queue in &queues {
            let inner = self.inner.clone();
            polls.spawn(inner.poll(queue.clone(), handler.clone(), slots.clone(), shutdown.clone()));
        }
        while polls.join_next().await.is_some() {}
        if matches!(subscription, Subscription::Broadcast { .. }) {
            // Nobody else reads an instance's broadcast queues.
            let client = self.inner.client().await;
            for queue in &queues {
                let _ = client.delete_queue().queue_url(&queue.url).send().await;
                self.inner.forget(&queue.name).await;
            }
        }
    }

    async fn declare_services(&self, services: &[(&str, &[MessageType])]) -> Result<(), BusError> {
        for (service, keys) in services {
            self.inner.declare_service(service, keys).await?;
        }
        Ok(())
    }

    async fn queue_stats(&self) -> Result<Vec<QueueStats>, BusError> {
        let client = self.inner.client().await;
        let mut stats = Vec::new();
        for (service, keys) in TOPOLOGY {
            for name in service_queues(service, keys) {
                let name = self.inner.full_name(&name);
                let url = self
                    .inner
                    .lookup(&name)
                    .await?
                    .ok_or_else(|| BusError::Unavailable(format!("no queue {name}")))?;
                let got = client
                    .get_queue_attributes()
                    .queue_url(&url)
                    .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                    .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                    .send()
                    .await
                    .map_err(|e| unavailable("GetQueueAttributes", e))?;
                let count = |attribute| {
                    got.attributes()
                        .and_then(|a| a.get(&attribute))
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0)
                };
                // Received and not deleted: in a handler's hands (or its
                // consumer died and it waits out its visibility timeout).
                stats.push(QueueStats {
                    queue: name,
                    messages: count(QueueAttributeName::ApproximateNumberOfMessages),
                    in_flight: Some(count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)),
                    consumers: None,
                });
            }
        }
        Ok(stats)
    }

    async fn ping(&self) -> Result<(), BusError> {
        self.inner
            .client()
            .await
            .list_queues()
            .queue_name_prefix(self.inner.list_prefix())
            .max_results(1)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| unavailable("ListQueues", e))
    }

    fn instance(&self) -> &str {
        &self.inner.instance
    }

    fn queue_name(&self, name: &str) -> String {
        self.inner.full_name(name)
    }

    async fn publish_bytes(&self, routing_key: &str, body: &[u8]) -> Result<(), BusError> {
        self.inner.fan_out(routing_key, body).await
    }

    async fn take_one(&self, queue: &str) -> Result<Option<Taken>, BusError> {
        let Some(url) = self.inner.lookup(&self.inner.full_name(queue)).await? else {
            return Ok(None);
        };
        let client = self.inner.client().await;
        let got = client
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(1)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| unavailable("ReceiveMessage", e))?;
        let Some(message) = got.messages.unwrap_or_default().into_iter().next() else {
            return Ok(None);
        };
        if let Some(receipt) = message.receipt_handle() {
            client
                .delete_message()
                .queue_url(&url)
                .receipt_handle(receipt)
                .send()
                .await
                .map_err(|e| unavailable("DeleteMessage", e))?;
        }
        let reason = message
            .message_attributes()
            .and_then(|a| a.get(REASON_HEADER))
            .and_then(|v| v.string_value())
            .map(str::to_owned);
        Ok(Some(Taken {
            body: message.body().unwrap_or_default().as_bytes().to_vec(),
            reason,
        }))
    }

    async fn delete_topology(&self, services: &[(&str, &[MessageType])]) -> Result<(), BusError> {
        let client = self.inner.client().await;
        for (service, keys) in services {
            for name in service_queues(service, keys) {
                let name = self.inner.full_name(&name);
                if let Some(url) = self.inner.lookup(&name).await? {
                    match client.delete_queue().queue_url(&url).send().await {
                        Ok(_) => {}
                        Err(e) if is_missing(&e) => {}
                        Err(e) => return Err(unavailable("DeleteQueue", e)),
                    }
                }
                self.inner.forget(&name).await;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rules_of_sqs() {
        assert_eq!(
            sqs_name("ai-generator.generation.requested"),
            "ai-generator_generation-requested"
        );
        assert_eq!(sqs_name("ai-generator.dlq"), "ai-generator_dlq");
        for (service, keys) in TOPOLOGY {
            for name in service_queues(service, keys) {
                let full = format!("{}_{}", "p".repeat(crate::config::SQS_PREFIX_MAX), sqs_name(&name));
                assert!(full.len() <= 80, "{full}");
                assert!(full
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            }
        }
    }

    #[test]
    fn a_queue_name_says_which_key_it_consumes() {
        assert_eq!(
            consumed_key("ai-generator_generation-requested"),
            Some("generation-requested")
        );
        assert_eq!(consumed_key("gateway_job-status_0a1b2c3d"), Some("job-status"));
        assert_eq!(consumed_key("ai-generator_dlq"), None);
        assert_eq!(consumed_key("a_b_c_d"), None);
        assert_eq!(consumed_key("lonely"), None);
    }
}
