//! output-watcher: the last stage. It believes S3, not messages.
//!
//! - `model.built`: checks every output exists (HEAD), records the output
//!   and log files and the `logs` entry, completes the project, writes the
//!   `processed/…py.done` marker and completes the job.
//! - `model.failed`: an LLM script under the repair limit goes back to the
//!   ai-generator (`generation.repair`); anything else fails job and project.
//! - A reconciliation loop re-publishes jobs accepted while the broker was
//!   down, completes quiet jobs whose outputs are in S3 (including the flat
//!   layout of external workers) and times out jobs that went nowhere.
//! - With `S3_EVENTS_QUEUE`, the bucket's own notifications: an output
//!   created for a job still waiting for FreeCAD completes it from S3 once
//!   `S3_EVENTS_GRACE_SECS` have passed without its `model.built` (a lost
//!   message, an external worker), without waiting for reconciliation.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bson::doc;
use chrono::Utc;

use domain::documents::{FileMetadata, FileRecord, Job, JobTimings, LogMetadata, LogRecord};
use domain::keys::object_metadata;
use domain::messages::{GenerationRepair, ModelBuilt, ModelFailed, ModelMetrics, ScriptSource, METRICS_METADATA_KEY};
use domain::s3_event::ObjectEvent;
use domain::{
    Diagnosis, FileType, JobStage, ModelFormat, ProjectSlug, ProjectStatus, RawEnvelope, S3Key, UserId, Verification,
    Version,
};
use platform::bus::HandlerError;
use platform::config::{EnvReader, FromEnv};
use platform::dispatch::JobHandler;
use platform::jobs::{self, Advance, Origin};
use platform::mongo::Transition;
use platform::runtime::{CommonSettings, Deps, WorkerApp};
use platform::s3_events::{ObjectEventHandler, S3EventQueue, S3EventsSettings, Seen};
use platform::service::ServiceInfo;

pub const NAME: &str = "output-watcher";
pub const DEFAULT_PORT: u16 = 8084;

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
    /// A job with no result after this long becomes `timeout`.
    pub job_timeout: Duration,
    /// How often quiet jobs are checked against S3.
    pub reconcile_every: Duration,
    /// Repairs of a failing LLM script before the job fails.
    pub max_repairs: u32,
    /// A job not updated for this long is checked against S3.
    pub quiet_after: Duration,
    /// A job accepted this long ago that never reached the bus is published
    /// again; also how often that is looked for.
    pub outbox_after: Duration,
    /// Where the bucket sends its object-created events (`S3_EVENTS_QUEUE`);
    /// `None`: reconciliation alone finds what messages did not bring.
    pub s3_events: Option<S3EventsSettings>,
    /// How long an output's event waits for the job's `model.built`
    /// before the job is completed from S3.
    pub s3_events_grace: Duration,
}

impl FromEnv for Settings {
    fn read(env: &mut EnvReader) -> Self {
        use domain::settings::output_watcher::*;
        env.check_service(&SETTINGS);
        Self {
            common: CommonSettings::read(env, DEFAULT_PORT),
            job_timeout: env.secs(&JOB_TIMEOUT_SECS),
            reconcile_every: env.secs(&RECONCILE_INTERVAL_SECS),
            max_repairs: env.value(&MAX_REPAIRS),
            quiet_after: env.secs(&RECONCILE_QUIET_SECS),
            outbox_after: env.secs(&OUTBOX_AFTER_SECS),
            s3_events: S3EventsSettings::read(env),
            s3_events_grace: env.secs(&S3_EVENTS_GRACE_SECS),
        }
    }
}

/// What the run log said, for the `logs` record.
struct RunLog<'a> {
    key: &'a S3Key,
    summary: String,
    processing_time_s: f64,
    worker_id: &'a str,
    exit_code: i32,
}

/// The attempt a result belongs to: what a repair needs.
struct Attempt {
    slug: ProjectSlug,
    user_id: UserId,
    prompt: String,
    version: Version,
    source: ScriptSource,
    repair_attempt: u32,
}

/// The [`Attempt`] of a `model.built` or `model.failed` message (both
/// carry the same fields).
macro_rules! attempt_of {
    ($msg:expr) => {{
        let m = $msg;
        Attempt {
            slug: m.slug,
            user_id: m.user_id,
            prompt: m.prompt,
            version: m.version,
            source: m.source,
            repair_attempt: m.repair_attempt,
        }
    }};
}

/// What a completion records besides the job: the outputs, their sizes
/// where the worker reported them, the measurements and the timings.
struct Completion<'a> {
    outputs: &'a BTreeMap<ModelFormat, S3Key>,
    sizes: &'a BTreeMap<ModelFormat, u64>,
    measured: Option<(&'a ModelMetrics, &'a Verification)>,
    /// The worker's timings and when this service began, on a `model.built`.
    timings: Option<(JobTimings, std::time::Instant)>,
    /// The run log to record with the outputs, on a `model.built`.
    log: Option<RunLog<'a>>,
}

pub struct Watcher {
    deps: Deps,
    settings: Settings,
}

impl Watcher {
    pub fn new(deps: Deps, settings: Settings) -> Self {
        Self { deps, settings }
    }

    fn file(&self, job: &Job, version: Version, file_type: FileType, key: &str, metadata: FileMetadata) -> FileRecord {
        let now = Utc::now();
        FileRecord {
            project_id: job.project_id.clone(),
            version,
            file_type,
            s3_path: self.deps.store.uri(key),
            s3_key: key.to_owned(),
            timestamp: now,
            metadata,
            created_at: now,
            updated_at: now,
        }
    }

    async fn record_log(&self, job: &Job, version: Version, log: &RunLog<'_>) -> Result<(), HandlerError> {
        let db = &self.deps.db;
        let (file, record) = self.log_records(job, version, log);
        let (files, logs) = (db.files(), db.logs());
        let (file, log) = tokio::join!(files.record(&file), logs.record(&record));
        file?;
        log?;
        Ok(())
    }

    /// The run log's two records: its file and its summary.
    fn log_records(&self, job: &Job, version: Version, log: &RunLog<'_>) -> (FileRecord, LogRecord) {
        let key = log.key.to_string();
        let file = self.file(
            job,
            version,
            FileType::Log,
            &key,
            FileMetadata {
                file_name: Some(log.key.file_name()),
                content_type: Some("text/plain".to_owned()),
                ..FileMetadata::default()
            },
        );
        let now = Utc::now();
        let record = LogRecord {
            project_id: job.project_id.clone(),
            version,
            s3_log_path: self.deps.store.uri(&key),
            log_summary: log.summary.clone(),
            timestamp: now,
            metadata: LogMetadata {
                processing_time: Some(log.processing_time_s),
                worker_id: Some(log.worker_id.to_owned()),
                exit_code: Some(log.exit_code),
                job_id: Some(job.job_id),
                ..LogMetadata::default()
            },
            created_at: now,
            updated_at: now,
        };
        (file, record)
    }

    /// Completes a job whose outputs are all in S3: records, marker,
    /// project, job. Safe to repeat.
    async fn complete(
        &self,
        origin: &Origin<'_>,
        job: &Job,
        slug: &ProjectSlug,
        version: Version,
        done: Completion<'_>,
    ) -> Result<(), HandlerError> {
        let Deps { db, store, bus } = &self.deps;
        let Completion {
            outputs,
            sizes,
            measured,
            timings,
            log,
        } = done;
        // Every output's record, the store asked only for sizes the worker
        // did not report.
        let records = outputs.iter().map(|(format, key)| async move {
            let file_name = key.file_name();
            let key = key.to_string();
            let (size, content_type) = match sizes.get(format) {
                Some(&size) => (size, format.content_type().to_owned()),
                None => {
                    let info = store.head(&key).await?.ok_or_else(|| {
                        HandlerError::transient(anyhow::anyhow!("output {key} is not in the bucket yet"))
                    })?;
                    let content_type = info.content_type.unwrap_or_else(|| format.content_type().to_owned());
                    (info.size, content_type)
                }
            };
            let meta = FileMetadata {
                file_name: Some(file_name),
                format: Some(format.extension().to_owned()),
                file_size: Some(size as i64),
                content_type: Some(content_type),
                job_id: Some(job.job_id),
                ..FileMetadata::default()
            };
            Ok::<_, HandlerError>(self.file(job, version, FileType::Output, &key, meta))
        });
        // The marker, at the same time.
        let marker = async {
            let key = S3Key::processed(slug, version);
            let body = serde_json::json!({
                "job_id": job.job_id,
                "project_id": job.project_id,
                "version": version,
                "outputs": outputs,
                "completed_at": Utc::now(),
            });
            let meta = object_metadata(&job.project_id, version, job.job_id, NAME);
            let marker = key.to_string();
            store
                .put(&marker, body.to_string().into_bytes(), "application/json", &meta)
                .await?;
            Ok::<_, HandlerError>(self.file(
                job,
                version,
                FileType::Processed,
                &marker,
                FileMetadata {
                    file_name: Some(key.file_name().to_owned()),
                    ..FileMetadata::default()
                },
            ))
        };
        let (mut files, marker) = tokio::try_join!(futures::future::try_join_all(records), marker)?;
        let uris: Vec<String> = files.iter().map(|f| f.s3_path.clone()).collect();
        // Then every file record in one write (the server commits each write
        // to its journal on its own), beside the run log's summary; the job
        // is completed only once all are written.
        files.push(marker);
        let run_log = log.as_ref().map(|log| self.log_records(job, version, log));
        let summary = run_log.as_ref().map(|(_, summary)| summary);
        files.extend(run_log.as_ref().map(|(file, _)| file.clone()));
        let (file_records, log_records) = (db.files(), db.logs());
        tokio::try_join!(file_records.record_all(&files), async {
            match summary {
                Some(summary) => log_records.record(summary).await,
                None => Ok(()),
            }
        })?;
        db.projects()
            .mark_completed(&job.project_id, version, &uris, FileRecord::total_size(&files))
            .await?;

        let mut set = doc! { "outputs": bson::to_bson(&outputs.iter().map(|(f, k)| (f.extension().to_owned(), k.to_string())).collect::<BTreeMap<_, _>>()).map_err(HandlerError::permanent)? };
        if let Some((m, v)) = measured {
            set.insert("metrics", bson::to_bson(m).map_err(HandlerError::permanent)?);
            set.insert("verification", bson::to_bson(v).map_err(HandlerError::permanent)?);
        }
        if let Some((mut timings, began)) = timings {
            timings.completion_ms = Some(began.elapsed().as_millis() as u64);
            set.extend(platform::mongo::timing_fields(&timings).map_err(HandlerError::transient)?);
        }
        let mut step = Advance::to(JobStage::Completed).version(version);
        if let Some((m, v)) = measured {
            step = step.detail(v.summary(m));
        }
        let step = step.set(set).on(job);
        if let Transition::Moved(_) = jobs::advance(db, bus.as_ref(), origin, slug, step).await? {
            tracing::info!(%version, "job completed");
        }
        Ok(())
    }

    async fn on_built(&self, raw: &RawEnvelope, msg: ModelBuilt, job: Job) -> Result<(), HandlerError> {
        let began = std::time::Instant::now();
        let timings = JobTimings {
            fetch_ms: Some(msg.fetch_ms),
            freecad_ms: Some(msg.duration_ms),
            upload_ms: Some(msg.upload_ms),
            ..JobTimings::default()
        };
        // Every model is checked: against the generator's expectations where
        // it has them, and always for one valid closed solid.
        let expected = job.expected.clone().unwrap_or_default();
        let verification = Verification::of(&expected, &msg.metrics);
        let summary = format!(
            "Model generated successfully: {:.1} mm³, {} solid(s), {}. {}",
            msg.metrics.volume,
            msg.metrics.solids,
            if msg.metrics.valid { "valid" } else { "INVALID shape" },
            verification.summary(&msg.metrics)
        );
        let log = RunLog {
            key: &msg.log_key,
            summary,
            processing_time_s: msg.duration_ms as f64 / 1000.0,
            worker_id: &msg.worker_id,
            exit_code: msg.exit_code,
        };
        if !verification.passed {
            self.record_log(&job, msg.version, &log).await?;
            return self.verification_failed(raw, &job, msg, verification).await;
        }
        self.complete(
            &Origin::of(raw),
            &job,
            &msg.slug,
            msg.version,
            Completion {
                outputs: &msg.outputs,
                sizes: &msg.output_sizes,
                measured: Some((&msg.metrics, &verification)),
                timings: Some((timings, began)),
                log: Some(log),
            },
        )
        .await
    }

    /// A model that does not measure what was asked: a language model's
    /// script goes back for repair with the failed checks as the reason; a
    /// spec-built or uploaded one fails with the checks shown.
    async fn verification_failed(
        &self,
        raw: &RawEnvelope,
        job: &Job,
        msg: ModelBuilt,
        verification: Verification,
    ) -> Result<(), HandlerError> {
        let db = &self.deps.db;
        let origin = Origin::of(raw);
        let reason = format!(
            "the model does not match what was asked (verification failed): {}",
            verification.failures()
        );
        let recorded = doc! {
            "verification": bson::to_bson(&verification).map_err(HandlerError::permanent)?,
            "metrics": bson::to_bson(&msg.metrics).map_err(HandlerError::permanent)?,
        };
        db.jobs().set(job.job_id, recorded).await?;
        let attempt = attempt_of!(msg);
        let diagnosis = verification.diagnosis();
        let error = format!("{reason}\n  suggestion: {}", diagnosis.suggestion);
        self.repair_or_fail(&origin, attempt, &reason, error, Some(diagnosis))
            .await
    }

    /// A language-model script under the repair limit goes back to the
    /// generator with `error`; anything else fails the job with `reason`.
    async fn repair_or_fail(
        &self,
        origin: &Origin<'_>,
        attempt: Attempt,
        reason: &str,
        error: String,
        diagnosis: Option<Diagnosis>,
    ) -> Result<(), HandlerError> {
        let Deps { db, bus, .. } = &self.deps;
        if attempt.source.is_repairable() && attempt.repair_attempt < self.settings.max_repairs {
            let next = attempt.repair_attempt + 1;
            let step = Advance::to(JobStage::Generating)
                .version(attempt.version)
                .detail(format!("Repairing the script (attempt {next}): {reason}"))
                .set(doc! { "repair_attempts": next });
            if let Transition::Moved(_) = jobs::advance(db, bus.as_ref(), origin, &attempt.slug, step).await? {
                let repair = GenerationRepair {
                    slug: attempt.slug,
                    user_id: attempt.user_id,
                    prompt: attempt.prompt,
                    failed_version: attempt.version,
                    error,
                    repair_attempt: next,
                };
                bus.publish(&origin.message(repair).into_raw()).await?;
            }
            return Ok(());
        }
        jobs::fail_with(db, bus.as_ref(), origin, &attempt.slug, reason, diagnosis.as_ref()).await
    }

    async fn on_failed(&self, raw: &RawEnvelope, msg: ModelFailed, job: Job) -> Result<(), HandlerError> {
        let origin = Origin::of(raw);
        if let Some(key) = &msg.log_key {
            let log = RunLog {
                key,
                summary: format!("{}: {}", msg.kind.as_str(), msg.error),
                processing_time_s: msg.duration_ms as f64 / 1000.0,
                worker_id: &msg.worker_id,
                exit_code: 1,
            };
            self.record_log(&job, msg.version, &log).await?;
        }
        let reason = match &msg.diagnosis {
            Some(d) => format!("{} ({})", d.headline(), msg.kind.as_str()),
            None => format!("{} ({})", msg.error, msg.kind.as_str()),
        };
        // The repairing model reads the class, the line and its text, the
        // console, the suggestion, then the traceback.
        let mut error = match &msg.diagnosis {
            Some(d) => d.for_repair(),
            None => msg.error.clone(),
        };
        if !msg.traceback_tail.is_empty() {
            error = format!("{error}\n{}", msg.traceback_tail);
        }
        let diagnosis = msg.diagnosis.clone();
        let attempt = attempt_of!(msg);
        self.repair_or_fail(&origin, attempt, &reason, error, diagnosis).await
    }

    /// One pass of reconciliation; returns (completed, timed out, let in
    /// from the fair-share hold). Jobs that never reached the bus are the
    /// outbox's, on its own clock (`OUTBOX_AFTER_SECS`).
    pub async fn reconcile(&self) -> Result<(usize, usize, usize), HandlerError> {
        let Deps { db, bus, .. } = &self.deps;
        let released = jobs::release_all_held(db, bus.as_ref()).await?;
        let quiet_since = Utc::now() - chrono::Duration::from_std(self.settings.quiet_after).unwrap_or_default();
        let live = [
            JobStage::Queued,
            JobStage::Generating,
            JobStage::Uploading,
            JobStage::Processing,
        ];
        let (mut completed, mut timed_out) = (0, 0);
        for job in db.jobs().stale(&live, quiet_since, 200).await? {
            // Only a job waiting for FreeCAD has outputs to look for: one
            // being repaired still names its failed version.
            if let (JobStage::Processing, Some(version)) = (job.stage, job.version) {
                if self.complete_from_s3(&job, version).await? {
                    completed += 1;
                    continue;
                }
            }
            let entered = job.released_at.unwrap_or(job.created_at);
            let age = (Utc::now() - entered).to_std().unwrap_or_default();
            if age >= self.settings.job_timeout {
                let detail = format!("no result after {} s", self.settings.job_timeout.as_secs());
                let t = jobs::advance(
                    db,
                    bus.as_ref(),
                    &Origin::of_job(&job),
                    &job.slug,
                    Advance::to(JobStage::Timeout).detail(detail),
                )
                .await?;
                if matches!(t, Transition::Moved(_)) {
                    db.projects()
                        .set_status(&job.project_id, ProjectStatus::Timeout)
                        .await?;
                    timed_out += 1;
                }
            }
        }
        Ok((completed, timed_out, released))
    }

    /// Settles a job waiting for FreeCAD from what is in the bucket, as if
    /// its `model.built` had arrived: the worker's measurements travel with
    /// its files, so the job is verified the same way (files of external
    /// workers carry none and complete as they are). `false` while not
    /// every output of `version` is there.
    async fn complete_from_s3(&self, job: &Job, version: Version) -> Result<bool, HandlerError> {
        let Deps { db, bus, .. } = &self.deps;
        let Some((outputs, metrics)) = self.outputs_in_s3(&job.slug, version).await? else {
            return Ok(false);
        };
        let origin = Origin::of_job(job);
        let verification = metrics
            .as_ref()
            .map(|m| Verification::of(&job.expected.clone().unwrap_or_default(), m));
        match (&metrics, &verification) {
            (Some(m), Some(v)) if !v.passed => {
                let reason = format!(
                    "the model does not match what was asked (verification failed): {}",
                    v.failures()
                );
                let recorded = doc! {
                    "verification": bson::to_bson(v).map_err(HandlerError::permanent)?,
                    "metrics": bson::to_bson(m).map_err(HandlerError::permanent)?,
                };
                db.jobs().set(job.job_id, recorded).await?;
                let diagnosis = v.diagnosis();
                jobs::fail_with(db, bus.as_ref(), &origin, &job.slug, &reason, Some(&diagnosis)).await?;
            }
            _ => {
                let measured = metrics.as_ref().zip(verification.as_ref());
                let done = Completion {
                    outputs: &outputs,
                    sizes: &BTreeMap::new(),
                    measured,
                    timings: None,
                    log: None,
                };
                self.complete(&origin, job, &job.slug, version, done).await?;
            }
        }
        Ok(true)
    }

    /// All four outputs of a version, per-version layout first, then the
    /// flat layout external workers write.
    async fn outputs_in_s3(
        &self,
        slug: &ProjectSlug,
        version: Version,
    ) -> Result<Option<(BTreeMap<ModelFormat, S3Key>, Option<ModelMetrics>)>, HandlerError> {
        let store = &self.deps.store;
        for layout in [Some(version), None] {
            let mut found = BTreeMap::new();
            let mut metrics = None;
            for format in ModelFormat::ALL {
                let key = match layout {
                    Some(v) => S3Key::output(slug, v, format),
                    None => S3Key::FlatOutput {
                        slug: slug.clone(),
                        format,
                    },
                };
                if let Some(info) = store.head(&key.to_string()).await? {
                    if let Some(json) = info.metadata.get(METRICS_METADATA_KEY) {
                        metrics = metrics.or_else(|| serde_json::from_str(json).ok());
                    }
                    found.insert(format, key);
                }
            }
            if found.len() == ModelFormat::ALL.len() {
                return Ok(Some((found, metrics)));
            }
        }
        Ok(None)
    }
}

#[async_trait]
impl JobHandler<ModelBuilt> for Watcher {
    async fn handle(&self, raw: &RawEnvelope, msg: ModelBuilt, job: Job) -> Result<(), HandlerError> {
        self.on_built(raw, msg, job).await
    }
}

#[async_trait]
impl JobHandler<ModelFailed> for Watcher {
    async fn handle(&self, raw: &RawEnvelope, msg: ModelFailed, job: Job) -> Result<(), HandlerError> {
        self.on_failed(raw, msg, job).await
    }
}

/// An object created in the bucket. Only a model file of a job waiting for
/// FreeCAD means anything; the worker's `model.built` usually follows its
/// uploads within a moment and completes the job with its timings and run
/// log, so the event gives it `s3_events_grace` first. Completing twice is
/// harmless (the job moves once), so the two paths need no lock.
#[async_trait]
impl ObjectEventHandler for Watcher {
    async fn created(&self, event: &ObjectEvent) -> Result<Seen, HandlerError> {
        let (slug, version) = match event.s3_key() {
            Some(S3Key::Output { slug, version, .. }) => (slug, Some(version)),
            Some(S3Key::FlatOutput { slug, .. }) => (slug, None),
            _ => return Ok(Seen::Done),
        };
        let Some(job) = self.deps.db.jobs().awaiting_output(&slug, version).await? else {
            return Ok(Seen::Done);
        };
        let age = event
            .time
            .map_or(Duration::MAX, |at| (Utc::now() - at).to_std().unwrap_or_default());
        if age < self.settings.s3_events_grace {
            return Ok(Seen::Again(self.settings.s3_events_grace - age));
        }
        let Some(version) = version.or(job.version) else {
            return Ok(Seen::Done);
        };
        if self.complete_from_s3(&job, version).await? {
            tracing::info!(job_id = %job.job_id, %slug, %version, key = %event.key, "settled from an S3 event");
        }
        Ok(Seen::Done)
    }
}

/// Builds the service: connects its dependencies and binds its port; run it
/// with `run_until_stopped`.
pub async fn build(settings: Settings) -> anyhow::Result<WorkerApp> {
    let deps = Deps::connect(&settings.common, NAME).await?;
    let events = match &settings.s3_events {
        Some(s3_events) => Some(S3EventQueue::open(s3_events, deps.store.bucket()).await?),
        None => None,
    };
    let every = settings.reconcile_every;
    let outbox_after = settings.outbox_after;
    let outbox = deps.clone();
    let watcher = Arc::new(Watcher::new(deps.clone(), settings.clone()));
    let reconciler = watcher.clone();
    let notified = watcher.clone();
    let mut app = WorkerApp::new(
        ServiceInfo::new(NAME, env!("CARGO_PKG_VERSION")),
        &deps,
        settings.common.port,
    )?
    .consume::<ModelBuilt>(watcher.clone())
    .consume::<ModelFailed>(watcher)
    .spawn_loop(move |shutdown| async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.cancelled() => return,
            }
            match reconciler.reconcile().await {
                Ok((0, 0, 0)) => {}
                Ok((completed, timed_out, released)) => {
                    tracing::info!(completed, timed_out, released, "reconciled")
                }
                Err(e) => tracing::warn!(error = %e, "reconciliation failed; trying again later"),
            }
        }
    })
    // The outbox, on its own short clock: a job accepted while the broker
    // was down goes out within seconds of its return, not at the next
    // reconciliation of quiet jobs.
    .spawn_loop(move |shutdown| async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(outbox_after) => {}
                _ = shutdown.cancelled() => return,
            }
            match jobs::republish_unpublished(&outbox.db, outbox.bus.as_ref(), outbox_after).await {
                Ok(0) => {}
                Ok(republished) => tracing::info!(republished, "accepted jobs published"),
                Err(e) => tracing::warn!(error = %e, "looking for unpublished jobs failed; trying again later"),
            }
        }
    });
    if let Some(queue) = events {
        app = app.spawn_loop(move |shutdown| async move { queue.run(notified, shutdown).await });
    }
    Ok(app)
}
