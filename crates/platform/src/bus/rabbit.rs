//! RabbitMQ backend of the bus (`lapin`).
//!
//! Topology: one durable topic exchange; per consuming service and routing
//! key a durable queue `<service>.<key>`; per service a dead-letter queue
//! `<service>.dlq`; per queue and backoff step a delay queue
//! `<queue>.retry.<ms>` whose messages expire back into the queue. Every
//! publish is persistent and waits for the broker's confirm. Connections are
//! re-established after any failure, for publishers and consumers alike.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use domain::{MessageType, RawEnvelope};

use super::{
    dead_letter_queue, message_span, service_queues, settle, work_queue, Bus, BusError, DeadLetterReason, Handler,
    QueueStats, Settle, Subscription, Taken, DEFER_PAUSE, FAILED_AT_HEADER, QUEUE_HEADER, REASON_HEADER, TOPOLOGY,
};
use crate::config::{BusSettings, RabbitSettings};
use crate::metrics;

const PERSISTENT: u8 = 2;

fn unavailable(e: lapin::Error) -> BusError {
    BusError::Unavailable(e.to_string())
}

pub(super) struct RabbitBus {
    settings: BusSettings,
    rabbit: RabbitSettings,
    /// Names this process's connections in the broker's management views
    /// (`<client name>/<role>`).
    client_name: String,
    publisher: Mutex<Option<(Connection, Channel)>>,
}

impl RabbitBus {
    pub(super) fn new(settings: BusSettings, rabbit: RabbitSettings, client_name: impl Into<String>) -> Self {
        Self {
            settings,
            rabbit,
            client_name: client_name.into(),
            publisher: Mutex::new(None),
        }
    }

    /// The full name of a queue, prefix included.
    fn full_name(&self, name: &str) -> String {
        format!("{}{name}", self.rabbit.queue_prefix)
    }

    async fn connect(&self, role: &str) -> Result<Connection, lapin::Error> {
        let name = format!("{}/{role}", self.client_name);
        let props = ConnectionProperties::default().with_connection_name(name.into());
        Connection::connect(self.rabbit.amqp_url.expose(), props).await
    }

    async fn confirming_channel(conn: &Connection) -> Result<Channel, lapin::Error> {
        let channel = conn.create_channel().await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        Ok(channel)
    }

    async fn declare_exchange(&self, channel: &Channel) -> Result<(), lapin::Error> {
        channel
            .exchange_declare(
                self.rabbit.exchange.as_str().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
    }

    async fn declare_durable(&self, channel: &Channel, queue: &str, args: FieldTable) -> Result<(), lapin::Error> {
        channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                args,
            )
            .await
            .map(|_| ())
    }

    /// Declares the work queues and the dead-letter queue of one service.
    async fn declare_service(
        &self,
        channel: &Channel,
        service: &str,
        keys: &[MessageType],
    ) -> Result<(), lapin::Error> {
        self.declare_durable(
            channel,
            &self.full_name(&dead_letter_queue(service)),
            FieldTable::default(),
        )
        .await?;
        for key in keys {
            let queue = self.full_name(&work_queue(service, *key));
            self.declare_durable(channel, &queue, FieldTable::default()).await?;
            channel
                .queue_bind(
                    queue.as_str().into(),
                    self.rabbit.exchange.as_str().into(),
                    key.routing_key().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }

    /// The publisher channel, connecting when there is none.
    async fn publisher_channel(&self) -> Result<Channel, lapin::Error> {
        let mut guard = self.publisher.lock().await;
        if let Some((conn, channel)) = guard.as_ref() {
            if conn.status().connected() && channel.status().connected() {
                return Ok(channel.clone());
            }
        }
        *guard = None;
        let conn = self.connect("publisher").await?;
        let channel = Self::confirming_channel(&conn).await?;
        self.declare_exchange(&channel).await?;
        *guard = Some((conn, channel.clone()));
        Ok(channel)
    }

    async fn forget_publisher(&self) {
        *self.publisher.lock().await = None;
    }

    /// Publishes and waits for the broker's confirm.
    async fn publish_confirmed(
        channel: &Channel,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<Result<(), BusError>, lapin::Error> {
        let confirm = channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                body,
                properties,
            )
            .await?
            .await?;
        Ok(if confirm.is_nack() {
            Err(BusError::Rejected(format!(
                "broker nacked the message to {routing_key:?}"
            )))
        } else {
            Ok(())
        })
    }

    fn properties(envelope: &RawEnvelope) -> BasicProperties {
        BasicProperties::default()
            .with_delivery_mode(PERSISTENT)
            .with_content_type("application/json".into())
            .with_message_id(envelope.message_id.to_string().into())
            .with_type(envelope.message_type.routing_key().into())
    }

    /// Sends `next` to the delay queue of its queue for `delay`, whence it
    /// expires back into the queue.
    async fn schedule_retry(
        &self,
        channel: &Channel,
        queue: &str,
        next: &RawEnvelope,
        delay: Duration,
    ) -> Result<(), lapin::Error> {
        let ms = delay.as_millis().max(1) as u32;
        let retry_queue = format!("{queue}.retry.{ms}");
        let mut args = FieldTable::default();
        args.insert("x-message-ttl".into(), AMQPValue::LongUInt(ms));
        args.insert("x-dead-letter-exchange".into(), AMQPValue::LongString("".into()));
        args.insert("x-dead-letter-routing-key".into(), AMQPValue::LongString(queue.into()));
        // Unused delay queues go away; messages expire long before that.
        args.insert(
            "x-expires".into(),
            AMQPValue::LongUInt(ms.saturating_mul(2).saturating_add(60_000)),
        );
        self.declare_durable(channel, &retry_queue, args).await?;
        match Self::publish_confirmed(channel, "", &retry_queue, &next.to_vec(), Self::properties(next)).await? {
            Ok(()) => Ok(()),
            Err(e) => Err(lapin::Error::from(std::io::Error::other(e.to_string()))),
        }
    }

    async fn dead_letter(
        &self,
        channel: &Channel,
        service: &str,
        queue: &str,
        body: &[u8],
        reason: &DeadLetterReason,
    ) -> Result<(), lapin::Error> {
        let mut headers = FieldTable::default();
        headers.insert(
            REASON_HEADER.into(),
            AMQPValue::LongString(LongString::from(reason.to_string())),
        );
        headers.insert(QUEUE_HEADER.into(), AMQPValue::LongString(LongString::from(queue)));
        headers.insert(
            FAILED_AT_HEADER.into(),
            AMQPValue::LongString(LongString::from(chrono::Utc::now().to_rfc3339())),
        );
        let props = BasicProperties::default()
            .with_delivery_mode(PERSISTENT)
            .with_headers(headers);
        let dlq = self.full_name(&dead_letter_queue(service));
        match Self::publish_confirmed(channel, "", &dlq, body, props).await? {
            Ok(()) => Ok(()),
            Err(e) => Err(lapin::Error::from(std::io::Error::other(e.to_string()))),
        }
    }

    /// Handles one delivery: decode, call, then ack, retry or dead-letter.
    /// An `Err` means the channel failed; the delivery is then redelivered.
    async fn process(
        &self,
        channel: &Channel,
        subscription: &Subscription,
        queue: String,
        delivery: Delivery,
        handler: &Arc<dyn Handler>,
    ) -> Result<(), lapin::Error> {
        let raw = match RawEnvelope::from_slice(&delivery.data) {
            Ok(raw) => raw,
            Err(e) => {
                tracing::warn!(error = %e, %queue, "unparseable message");
                if let Subscription::Work { service, .. } = subscription {
                    metrics::bus_message(&queue, "dead_lettered");
                    self.dead_letter(
                        channel,
                        service,
                        &queue,
                        &delivery.data,
                        &DeadLetterReason::Unparseable(e.to_string()),
                    )
                    .await?;
                }
                delivery.ack(BasicAckOptions::default()).await?;
                return Ok(());
            }
        };
        let span = message_span(&raw);
        let Subscription::Work { service, .. } = subscription else {
            if let Err(e) = handler.handle(raw).instrument(span).await {
                tracing::warn!(error = %e, "broadcast handler failed");
            }
            delivery.ack(BasicAckOptions::default()).await?;
            return Ok(());
        };
        metrics::bus_message(&queue, "consumed");
        let result = handler.handle(raw.clone()).instrument(span.clone()).await;
        let _enter = span.enter();
        let reason = match settle(result, &raw, &self.settings) {
            Settle::Ack => {
                delivery.ack(BasicAckOptions::default()).await?;
                metrics::bus_message(&queue, "acked");
                return Ok(());
            }
            Settle::Retry { next, delay } => {
                self.schedule_retry(channel, &queue, &next, delay).await?;
                delivery.ack(BasicAckOptions::default()).await?;
                metrics::bus_message(&queue, "retried");
                return Ok(());
            }
            Settle::Defer => {
                tokio::time::sleep(DEFER_PAUSE).await;
                match Self::publish_confirmed(channel, "", &queue, &delivery.data, Self::properties(&raw)).await? {
                    Ok(()) => {
                        delivery.ack(BasicAckOptions::default()).await?;
                        metrics::bus_message(&queue, "deferred");
                    }
                    // Not requeued by us: the broker redelivers it.
                    Err(e) => return Err(lapin::Error::from(std::io::Error::other(e.to_string()))),
                }
                return Ok(());
            }
            Settle::DeadLetter(reason) => reason,
        };
        tracing::error!(%reason, "dead-lettering message");
        self.dead_letter(channel, service, &queue, &delivery.data, &reason)
            .await?;
        handler.on_dead_letter(&raw, &reason).await;
        delivery.ack(BasicAckOptions::default()).await?;
        metrics::bus_message(&queue, "dead_lettered");
        Ok(())
    }

    /// One connection's worth of consuming; returns `Ok` on shutdown and
    /// `Err` when the connection or channel failed.
    async fn consume_once(
        &self,
        subscription: &Subscription,
        handler: &Arc<dyn Handler>,
        shutdown: &CancellationToken,
    ) -> Result<(), lapin::Error> {
        let role = match subscription {
            Subscription::Work { service, .. } => format!("consumer:{service}"),
            Subscription::Broadcast { name, .. } => format!("broadcast:{name}"),
        };
        let conn = self.connect(&role).await?;
        let channel = Self::confirming_channel(&conn).await?;
        channel
            .basic_qos(self.settings.prefetch, BasicQosOptions::default())
            .await?;
        self.declare_exchange(&channel).await?;

        let queues: Vec<String> = match subscription {
            Subscription::Work { service, keys } => {
                self.declare_service(&channel, service, keys).await?;
                keys.iter().map(|k| self.full_name(&work_queue(service, *k))).collect()
            }
            Subscription::Broadcast { keys, .. } => {
                let q = channel
                    .queue_declare(
                        "".into(),
                        QueueDeclareOptions {
                            exclusive: true,
                            auto_delete: true,
                            ..Default::default()
                        },
                        FieldTable::default(),
                    )
                    .await?;
                for key in keys {
                    channel
                        .queue_bind(
                            q.name().clone(),
                            self.rabbit.exchange.as_str().into(),
                            key.routing_key().into(),
                            QueueBindOptions::default(),
                            FieldTable::default(),
                        )
                        .await?;
                }
                vec![q.name().to_string()]
            }
        };
        let mut consumers = Vec::new();
        for q in &queues {
            let tag: ShortString = format!("{}-{}", self.client_name, uuid::Uuid::new_v4().simple()).into();
            let consumer = channel
                .basic_consume(
                    q.as_str().into(),
                    tag,
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            let q = q.clone();
            consumers.push(consumer.map_ok(move |d| (q.clone(), d)));
        }
        tracing::info!(?queues, "consuming");
        let result = futures::stream::select_all(consumers)
            .take_until(shutdown.cancelled())
            .try_for_each_concurrent(usize::from(self.settings.prefetch), |(queue, delivery)| {
                self.process(&channel, subscription, queue, delivery, handler)
            })
            .await;
        if shutdown.is_cancelled() {
            // Unstarted prefetched deliveries go back to the queue on close.
            let _ = channel.close(200, "shutting down".into()).await;
            let _ = conn.close(200, "shutting down".into()).await;
            return Ok(());
        }
        result?;
        Err(lapin::Error::from(std::io::Error::other("consumer stream ended")))
    }
}

/// A consumer that ran this long before losing the broker had connected
/// fine: its next reconnect starts from the shortest backoff.
const HEALTHY_CONSUMER: Duration = Duration::from_secs(10);

#[async_trait]
impl Bus for RabbitBus {
    async fn publish(&self, envelope: &RawEnvelope) -> Result<(), BusError> {
        let body = envelope.to_vec();
        let mut last = String::new();
        for attempt in 0..4u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
            }
            let channel = match self.publisher_channel().await {
                Ok(c) => c,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            let key = envelope.message_type.routing_key();
            match Self::publish_confirmed(&channel, &self.rabbit.exchange, key, &body, Self::properties(envelope)).await
            {
                Ok(result) => return result,
                Err(e) => {
                    tracing::warn!(error = %e, "publish failed; reconnecting");
                    last = e.to_string();
                    self.forget_publisher().await;
                }
            }
        }
        Err(BusError::Unavailable(last))
    }

    async fn consume(&self, subscription: Subscription, handler: Arc<dyn Handler>, shutdown: CancellationToken) {
        let mut delay = Duration::from_millis(250);
        while !shutdown.is_cancelled() {
            let began = std::time::Instant::now();
            match self.consume_once(&subscription, &handler, &shutdown).await {
                Ok(()) => return,
                Err(e) => {
                    // The backoff grows while reconnecting fails, not over a
                    // day of broker restarts: a consumer that was up for a
                    // while starts again from the shortest wait.
                    if began.elapsed() >= HEALTHY_CONSUMER {
                        delay = Duration::from_millis(250);
                    }
                    tracing::warn!(error = %e, retry_in = ?delay, "consumer lost the broker; reconnecting");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.cancelled() => return,
                    }
                    // At most a second: a restarted broker is served again
                    // within a second of its return, for the price of one
                    // connection attempt a second while it is away.
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    async fn declare_services(&self, services: &[(&str, &[MessageType])]) -> Result<(), BusError> {
        let channel = self.publisher_channel().await.map_err(unavailable)?;
        for (service, keys) in services {
            self.declare_service(&channel, service, keys)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn queue_stats(&self) -> Result<Vec<QueueStats>, BusError> {
        let conn = self.connect("stats").await.map_err(unavailable)?;
        let channel = conn.create_channel().await.map_err(unavailable)?;
        let mut stats = Vec::new();
        for (service, keys) in TOPOLOGY {
            for name in service_queues(service, keys) {
                let name = self.full_name(&name);
                let q = channel
                    .queue_declare(
                        name.as_str().into(),
                        QueueDeclareOptions {
                            passive: true,
                            ..Default::default()
                        },
                        FieldTable::default(),
                    )
                    .await
                    .map_err(unavailable)?;
                stats.push(QueueStats {
                    queue: name,
                    messages: u64::from(q.message_count()),
                    in_flight: None,
                    consumers: Some(u64::from(q.consumer_count())),
                });
            }
        }
        let _ = conn.close(200, "done".into()).await;
        Ok(stats)
    }

    async fn ping(&self) -> Result<(), BusError> {
        self.publisher_channel().await.map(|_| ()).map_err(unavailable)
    }

    fn instance(&self) -> &str {
        &self.client_name
    }

    fn queue_name(&self, name: &str) -> String {
        self.full_name(name)
    }

    async fn publish_bytes(&self, routing_key: &str, body: &[u8]) -> Result<(), BusError> {
        let channel = self.publisher_channel().await.map_err(unavailable)?;
        let props = BasicProperties::default().with_delivery_mode(PERSISTENT);
        Self::publish_confirmed(&channel, &self.rabbit.exchange, routing_key, body, props)
            .await
            .map_err(unavailable)?
    }

    async fn take_one(&self, queue: &str) -> Result<Option<Taken>, BusError> {
        let channel = self.publisher_channel().await.map_err(unavailable)?;
        let got = channel
            .basic_get(
                self.full_name(queue).as_str().into(),
                lapin::options::BasicGetOptions { no_ack: true },
            )
            .await
            .map_err(unavailable)?;
        Ok(got.map(|m| {
            let reason = m
                .delivery
                .properties
                .headers()
                .as_ref()
                .and_then(|h| h.inner().get(REASON_HEADER).cloned())
                .and_then(|v| v.as_long_string().map(|s| s.to_string()));
            Taken {
                body: m.delivery.data,
                reason,
            }
        }))
    }

    /// Also deletes the exchange; delay queues are left to expire.
    async fn delete_topology(&self, services: &[(&str, &[MessageType])]) -> Result<(), BusError> {
        let channel = self.publisher_channel().await.map_err(unavailable)?;
        for (service, keys) in services {
            for name in service_queues(service, keys) {
                channel
                    .queue_delete(self.full_name(&name).as_str().into(), Default::default())
                    .await
                    .map_err(unavailable)?;
            }
        }
        channel
            .exchange_delete(self.rabbit.exchange.as_str().into(), Default::default())
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
