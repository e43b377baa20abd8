//! Typed job handlers: the scaffolding every worker shares, written once.
//!
//! A worker service implements [`JobHandler<P>`] for each message type it
//! takes and registers it with `WorkerApp::consume::<P>`. The [`Router`]
//! behind them does the rest, the same way for every service: it picks the
//! handler by the envelope's message type (a type nobody registered is a
//! permanent error), decodes the payload (a payload that does not decode is
//! a permanent error), drops a message whose job is finished or unknown
//! (acked, so a cancelled job's late messages go nowhere), and fails the job
//! with the reason when one of its messages is dead-lettered.

use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;

use domain::documents::Job;
use domain::{MessageType, Payload, RawEnvelope};

use crate::bus::{Bus, DeadLetterReason, Handler, HandlerError};
use crate::jobs;
use crate::mongo::Db;

/// What a service does with one message type of a live job. `raw` is the
/// envelope (ids, trace, request id), `payload` its decoded body and `job`
/// the job as it stands, never finished.
#[async_trait]
pub trait JobHandler<P: Payload>: Send + Sync + 'static {
    async fn handle(&self, raw: &RawEnvelope, payload: P, job: Job) -> Result<(), HandlerError>;

    /// Whether the message waits, decided before its job is read: `Some(why)`
    /// sends it to the back of its queue (fair scheduling passing over
    /// another user's job costs no database read). Never, by default.
    async fn defer(&self, _raw: &RawEnvelope, _payload: &P) -> Option<String> {
        None
    }
}

/// One registered message type, its payload type erased.
#[async_trait]
trait Route: Send + Sync {
    async fn handle(&self, db: &Db, raw: RawEnvelope) -> Result<(), HandlerError>;
}

struct Typed<P: Payload> {
    handler: Arc<dyn JobHandler<P>>,
    _payload: PhantomData<fn() -> P>,
}

#[async_trait]
impl<P: Payload> Route for Typed<P> {
    async fn handle(&self, db: &Db, raw: RawEnvelope) -> Result<(), HandlerError> {
        let payload = raw.clone().decode::<P>().map_err(HandlerError::permanent)?.payload;
        if let Some(why) = self.handler.defer(&raw, &payload).await {
            return Err(HandlerError::Defer(why));
        }
        let Some(job) = jobs::live_job(db, raw.job_id).await? else {
            tracing::info!(job_id = %raw.job_id, message_type = %raw.message_type, "job is finished or unknown; message dropped");
            return Ok(());
        };
        self.handler.handle(&raw, payload, job).await
    }
}

/// A service's job handlers by message type, as one bus [`Handler`].
pub struct Router {
    service: &'static str,
    db: Db,
    bus: Arc<dyn Bus>,
    routes: Vec<(MessageType, Box<dyn Route>)>,
}

impl Router {
    pub fn new(service: &'static str, db: Db, bus: Arc<dyn Bus>) -> Self {
        Self {
            service,
            db,
            bus,
            routes: Vec::new(),
        }
    }

    /// Sends messages of type `P` to `handler` (replacing an earlier one).
    pub fn route<P: Payload>(&mut self, handler: Arc<dyn JobHandler<P>>) {
        self.routes.retain(|(t, _)| *t != P::TYPE);
        let typed = Typed {
            handler,
            _payload: PhantomData,
        };
        self.routes.push((P::TYPE, Box::new(typed)));
    }

    /// The message types routed, in the order they were registered.
    pub fn message_types(&self) -> Vec<MessageType> {
        self.routes.iter().map(|(t, _)| *t).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

#[async_trait]
impl Handler for Router {
    async fn handle(&self, raw: RawEnvelope) -> Result<(), HandlerError> {
        match self.routes.iter().find(|(t, _)| *t == raw.message_type) {
            Some((_, route)) => route.handle(&self.db, raw).await,
            None => Err(HandlerError::permanent(anyhow::anyhow!(
                "{} does not handle {}",
                self.service,
                raw.message_type
            ))),
        }
    }

    async fn on_dead_letter(&self, raw: &RawEnvelope, reason: &DeadLetterReason) {
        jobs::fail_dead_lettered(&self.db, self.bus.as_ref(), raw, &reason.to_string()).await;
    }
}
