//! Live job status for clients, without polling.
//!
//! Each gateway instance consumes `job.status` through its own broadcast
//! subscription (every instance hears every event) and fans the events out
//! in process to the Server-Sent-Event streams of the project they concern:
//! one tokio broadcast channel per project with listeners, dropped when the
//! last listener leaves.
//!
//! A stream first sends the current state of the project's jobs, so a client
//! that connects late still learns that its job finished; then every event
//! as it comes. Keep-alive comments go out on a fixed beat, and on each beat
//! the stream re-reads the jobs it is following, so an event lost while the
//! broker connection was down cannot leave a client waiting forever.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::web::Bytes;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc};

use domain::documents::Job;
use domain::messages::{JobStatus, Question};
use domain::{Diagnosis, JobId, JobStage, ProjectId, ProjectSlug, RawEnvelope, Version};
use platform::bus::{Handler, HandlerError};
use platform::mongo::{Db, PageRequest};
use platform::CancellationToken;

use crate::reads::ReadCache;

/// One `job.status`, as a stream sends it (`event: status`).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct StatusEvent {
    pub job_id: JobId,
    pub project_id: ProjectId,
    pub slug: ProjectSlug,
    pub stage: JobStage,
    /// "Generating script…", "Uploading to S3…", "FreeCAD processing…", "Model ready"…
    pub label: String,
    pub version: Option<Version>,
    /// The reason of a failure, or extra detail.
    pub detail: Option<String>,
    /// Whether the job is over (completed, failed, timeout, cancelled).
    pub terminal: bool,
    pub at: DateTime<Utc>,
    /// On a failed job's final event: class, script line, console and a
    /// suggestion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Diagnosis>,
    /// On the final event of a `needs_input` job: what it asks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question: Option<Question>,
}

crate::routes::docs::openapi_schema!(Response: StatusEvent);

impl StatusEvent {
    pub fn from_message(raw: &RawEnvelope, status: JobStatus) -> Self {
        Self {
            job_id: raw.job_id,
            project_id: raw.project_id.clone(),
            slug: status.slug,
            terminal: status.stage.is_terminal(),
            stage: status.stage,
            label: status.label,
            version: status.version,
            detail: status.detail,
            at: raw.created_at,
            diagnosis: status.diagnosis,
            question: status.question,
        }
    }

    /// The job's current state, as if its last event were sent again.
    pub fn from_job(job: &Job) -> Self {
        let last = job.history.last();
        Self {
            job_id: job.job_id,
            project_id: job.project_id.clone(),
            slug: job.slug.clone(),
            stage: job.stage,
            label: job.stage.label().to_owned(),
            version: job.version,
            detail: job.error.clone().or_else(|| last.and_then(|h| h.detail.clone())),
            terminal: job.stage.is_terminal(),
            at: last.map(|h| h.at).unwrap_or(job.updated_at),
            diagnosis: job.diagnosis.clone(),
            question: job.question.clone(),
        }
    }

    fn frame(&self) -> Bytes {
        let data = serde_json::to_string(self).unwrap_or_default();
        Bytes::from(format!(
            "id: {}:{}\nevent: status\ndata: {data}\n\n",
            self.job_id, self.stage
        ))
    }
}

/// The in-process fan-out: project → listeners.
#[derive(Default)]
pub struct Hub {
    channels: Mutex<HashMap<ProjectId, broadcast::Sender<Arc<StatusEvent>>>>,
    closed: CancellationToken,
}

impl Hub {
    const CAPACITY: usize = 64;

    pub fn subscribe(&self, project: &ProjectId) -> broadcast::Receiver<Arc<StatusEvent>> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels.retain(|_, tx| tx.receiver_count() > 0);
        channels
            .entry(project.clone())
            .or_insert_with(|| broadcast::channel(Self::CAPACITY).0)
            .subscribe()
    }

    pub fn publish(&self, event: StatusEvent) {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = channels.get(&event.project_id) {
            let project = event.project_id.clone();
            if tx.send(Arc::new(event)).is_err() {
                channels.remove(&project);
            }
        }
    }

    /// Number of projects with listeners (for tests and metrics).
    pub fn projects_listened(&self) -> usize {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|t| t.receiver_count() > 0)
            .count()
    }

    /// Ends every stream (shutdown).
    pub fn close(&self) {
        self.closed.cancel();
    }
}

/// The bus handler that feeds the hub, after the read cache has forgotten
/// the project the event concerns (so a client that hears of a change
/// reads it).
pub struct HubFeed {
    pub hub: Arc<Hub>,
    pub reads: Arc<ReadCache>,
}

#[async_trait]
impl Handler for HubFeed {
    async fn handle(&self, raw: RawEnvelope) -> Result<(), HandlerError> {
        let status = raw
            .clone()
            .decode::<JobStatus>()
            .map_err(HandlerError::permanent)?
            .payload;
        self.reads.forget_project(&raw.project_id);
        self.hub.publish(StatusEvent::from_message(&raw, status));
        Ok(())
    }
}

/// The jobs a new stream reports first: every live one and the latest.
async fn snapshot(db: &Db, project: &ProjectId) -> Vec<Job> {
    let jobs = match db.jobs().list_by_project(project, PageRequest::new(50, 0)).await {
        Ok(page) => page.items,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the project's jobs for a stream");
            return Vec::new();
        }
    };
    let mut picked: Vec<Job> = jobs
        .iter()
        .enumerate()
        .filter(|(i, j)| *i == 0 || !j.stage.is_terminal())
        .map(|(_, j)| j.clone())
        .collect();
    picked.reverse(); // oldest first, as they happened
    picked
}

/// Starts the stream of `project`; the returned channel yields its frames
/// and ends when the client goes away or the gateway stops.
pub fn stream(db: Db, hub: Arc<Hub>, project: ProjectId, keepalive: Duration) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel::<Bytes>(32);
    // Subscribe before reading the snapshot: an event in between is then
    // seen twice at worst, never missed.
    let mut events = hub.subscribe(&project);
    let closed = hub.closed.clone();
    tokio::spawn(async move {
        let mut seen: HashMap<JobId, JobStage> = HashMap::new();
        let send = |event: &StatusEvent, seen: &mut HashMap<JobId, JobStage>| {
            let changed = seen.insert(event.job_id, event.stage) != Some(event.stage);
            changed.then(|| event.frame())
        };
        if tx
            .send(Bytes::from_static(b"retry: 3000\n: connected\n\n"))
            .await
            .is_err()
        {
            return;
        }
        for job in snapshot(&db, &project).await {
            if let Some(frame) = send(&StatusEvent::from_job(&job), &mut seen) {
                if tx.send(frame).await.is_err() {
                    return;
                }
            }
        }
        let mut beat = tokio::time::interval(keepalive);
        beat.tick().await;
        loop {
            let frames: Vec<Bytes> = tokio::select! {
                _ = tx.closed() => return,
                _ = closed.cancelled() => return,
                got = events.recv() => match got {
                    Ok(event) => send(&event, &mut seen).into_iter().collect(),
                    Err(broadcast::error::RecvError::Lagged(_)) => resync(&db, &project, &mut seen, &send).await,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = beat.tick() => {
                    let mut frames = resync(&db, &project, &mut seen, &send).await;
                    frames.push(Bytes::from_static(b": keep-alive\n\n"));
                    frames
                }
            };
            for frame in frames {
                if tx.send(frame).await.is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// Re-reads the jobs the stream follows (and any new one) and returns the
/// frames of what changed.
async fn resync<F>(db: &Db, project: &ProjectId, seen: &mut HashMap<JobId, JobStage>, send: &F) -> Vec<Bytes>
where
    F: Fn(&StatusEvent, &mut HashMap<JobId, JobStage>) -> Option<Bytes>,
{
    let mut current = Vec::new();
    let followed: Vec<JobId> = seen
        .iter()
        .filter(|(_, s)| !s.is_terminal())
        .map(|(id, _)| *id)
        .collect();
    for id in followed {
        if let Ok(Some(job)) = db.jobs().get(id).await {
            current.push(StatusEvent::from_job(&job));
        }
    }
    for job in snapshot(db, project).await {
        if !seen.contains_key(&job.job_id) {
            current.push(StatusEvent::from_job(&job));
        }
    }
    // The store is never behind the events (a stage is stored before it is
    // announced), but the stream may be ahead of a read: only move forward.
    let mut frames = Vec::new();
    for event in &current {
        if seen.get(&event.job_id).is_none_or(|s| rank(event.stage) > rank(*s)) {
            frames.extend(send(event, seen));
        }
    }
    frames
}

fn rank(stage: JobStage) -> u8 {
    match stage {
        JobStage::Queued => 0,
        JobStage::Generating => 1,
        JobStage::Uploading => 2,
        JobStage::Processing => 3,
        _ => 4,
    }
}
