//! freecad-worker: runs a stored script in a sandboxed headless FreeCAD.
//!
//! Consumes `script.stored`, downloads the script, runs it through the
//! `sandbox` crate (own process, limits, no network, private directory),
//! uploads every file of the version (`MyHeadlessModel.{FCStd,STEP,…,PNG}`,
//! [`domain::ModelFormat::ALL`]) to `output/{slug}/v{n}/` and the run log
//! to `logs/{slug}/…`, then publishes `model.built` with the
//! measured model, or `model.failed` with the reason. A worker killed in the
//! middle of a job never acks it, so the broker hands it to the next worker.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::Utc;

use domain::documents::{Job, JobTimings};
use domain::files::ModelName;
use domain::keys::object_metadata;
use domain::messages::{ModelBuilt, ModelFailed, ScriptStored, METRICS_METADATA_KEY};
use domain::settings::Setting;
use domain::{JobStage, RawEnvelope, S3Key};
use platform::bus::HandlerError;
use platform::config::{EnvReader, FromEnv};
use platform::dispatch::JobHandler;
use platform::jobs::{self, Advance, Origin, Turn};
use platform::metrics;
use platform::runtime::{CommonSettings, Deps, WorkerApp};
use platform::service::ServiceInfo;
use sandbox::{Executor, Limits, Outcome, Sandbox};

pub const NAME: &str = "freecad-worker";
pub const DEFAULT_PORT: u16 = 8083;

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
    /// `freecadcmd` to run (path or name on PATH).
    pub freecad_cmd: String,
    pub limits: Limits,
    /// Scripts run at once by this worker.
    pub concurrency: u16,
    /// How runs get a FreeCAD process (`FREECAD_EXECUTOR`, warm by default).
    pub executor: Executor,
    /// Names this worker in logs and records.
    pub worker_id: String,
}

impl FromEnv for Settings {
    fn read(env: &mut EnvReader) -> Self {
        use domain::settings::freecad_worker::*;
        env.check_service(&SETTINGS);
        let mut common = CommonSettings::read(env, DEFAULT_PORT);
        const MIB: u64 = 1024 * 1024;
        let d = Limits::default();
        // Unset: the sandbox's own limit.
        let mib = |s: &Setting, fallback: u64| {
            env.get(s)
                .and_then(|v| v.parse::<u64>().ok())
                .map_or(fallback, |n| n * MIB)
        };
        let secs = |s: &Setting, fallback| env.get(s).map_or(fallback, |_| env.secs(s));
        let limits = Limits {
            wall_time: secs(&FREECAD_TIMEOUT_SECS, d.wall_time),
            cpu_time: secs(&FREECAD_CPU_SECS, d.cpu_time),
            address_space: mib(&FREECAD_MEMORY_MB, d.address_space),
            file_size: mib(&FREECAD_FILE_SIZE_MB, d.file_size),
            processes: env
                .get(&FREECAD_MAX_PROCESSES)
                .and_then(|v| v.parse().ok())
                .unwrap_or(d.processes),
            output: mib(&FREECAD_OUTPUT_MB, d.output),
        };
        let concurrency = env.value::<u16>(&FREECAD_CONCURRENCY).max(1);
        let executor = env
            .get(&FREECAD_EXECUTOR)
            .and_then(|e| e.parse().ok())
            .unwrap_or(Executor::Warm);
        // A job spends several times longer around its FreeCAD run (its
        // stage write and script fetch before, its uploads, picture and
        // records after) than in it: take four messages per run at once so
        // that the runs follow each other (they wait for a slot, and at
        // most one job per slot waits for it with its turn taken).
        common.bus.prefetch = concurrency.saturating_mul(4);
        let worker_id = env.get(&WORKER_ID).unwrap_or_else(|| {
            let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "worker".into());
            format!("{}-{}", host.trim(), std::process::id())
        });
        Self {
            common,
            freecad_cmd: env.get(&FREECAD_CMD).unwrap_or_default(),
            limits,
            concurrency,
            executor,
            worker_id,
        }
    }
}

pub struct Worker {
    deps: Deps,
    sandbox: Sandbox,
    /// FreeCAD runs at once (`FREECAD_CONCURRENCY`); the worker holds four
    /// times as many jobs, the others fetching or uploading meanwhile.
    slots: tokio::sync::Semaphore,
    /// Jobs with their turn taken and not yet running: one per slot.
    next: tokio::sync::Semaphore,
    /// Whose turn it is on FreeCAD, shared by this worker's jobs.
    turns: jobs::Turns,
    worker_id: String,
}

#[async_trait]
impl JobHandler<ScriptStored> for Worker {
    async fn defer(&self, raw: &RawEnvelope, msg: &ScriptStored) -> Option<String> {
        let theirs = self.turns.passes_over(raw.job_id, &msg.user_id).await;
        theirs.then(|| "another user's job goes first".into())
    }

    async fn handle(&self, raw: &RawEnvelope, msg: ScriptStored, job: Job) -> Result<(), HandlerError> {
        let Deps { db, store, bus } = &self.deps;
        let origin = Origin::of(raw);
        // The turn is taken as late as can be: at most one job per slot
        // waits for FreeCAD with its turn taken; the others wait here
        // undecided, so a job of a less recently served user that comes
        // meanwhile still goes before them.
        let next = self.next.acquire().await.map_err(HandlerError::transient)?;
        // A job already started (a redelivery after a crash) runs again at
        // once; a new one waits its turn among users.
        let turn = if job.stage == JobStage::Processing {
            Turn::Free
        } else {
            self.turns.turn(&job).await?
        };
        if turn == Turn::Theirs {
            return Err(HandlerError::Defer("another user's job goes first".into()));
        }
        // Independent round trips, at once: the turn recorded (when others
        // wait), the stage moved, the script fetched, the project's name read.
        let projects = db.projects();
        // The script store's time goes with this stage change.
        let stored = JobTimings {
            store_ms: msg.store_ms,
            ..JobTimings::default()
        };
        let timings = platform::mongo::timing_fields(&stored).map_err(HandlerError::transient)?;
        let fetching = std::time::Instant::now();
        let (started, moved, script, project) = tokio::join!(
            self.turns.started(&job, turn),
            jobs::advance(
                db,
                bus.as_ref(),
                &origin,
                &msg.slug,
                Advance::to(JobStage::Processing)
                    .version(msg.version)
                    .set(timings)
                    .on(&job),
            ),
            async {
                let script = store.get(&msg.input_key.to_string()).await;
                (script, fetching.elapsed())
            },
            async {
                match &msg.project_name {
                    Some(name) => Ok::<_, platform::mongo::DbError>(Some(name.clone())),
                    None => Ok(projects.get(&job.project_id).await?.map(|p| p.project_name)),
                }
            },
        );
        let (script, fetched) = script;
        started?;
        moved?;
        let script = script?
            .ok_or_else(|| HandlerError::transient(anyhow::anyhow!("script {} is not in the bucket", msg.input_key)))?;
        let script = String::from_utf8(script.bytes)
            .map_err(|_| HandlerError::permanent(anyhow::anyhow!("script {} is not UTF-8", msg.input_key)))?;

        // The model is named after its project inside its files (a project
        // deleted meanwhile still builds, named after its slug).
        let project_name = project?.unwrap_or_default();
        let model_name = ModelName::derive(&project_name, &msg.slug);

        let slot = self.slots.acquire().await.map_err(HandlerError::transient)?;
        drop(next);
        let started = Utc::now();
        let mut report = self
            .sandbox
            .build_named(&script, &model_name)
            .await
            .map_err(HandlerError::transient)?;
        drop(slot);
        let seconds = report.duration.as_secs_f64();
        metrics::operation("freecad_run", outcome_reason(&report.outcome), seconds);

        let meta = |extra: Vec<(&'static str, String)>| {
            let mut m = object_metadata(&raw.project_id, msg.version, raw.job_id, NAME);
            m.push(("worker-id", self.worker_id.clone()));
            m.extend(extra);
            m
        };
        let log_key = S3Key::log(&msg.slug, started, msg.version);
        let log_object = log_key.to_string();
        let log_text = |outcome: &Outcome| {
            format!(
                "CADScribe FreeCAD run\nproject: {}\nslug: {}\nversion: {}\njob: {}\nworker: {}\nstarted: {}\nduration: {:.3} s\nexit code: {:?}\nsignal: {:?}\ncontainment: {}\noutcome: {}\n\n{}",
                raw.project_id,
                msg.slug,
                msg.version,
                raw.job_id,
                self.worker_id,
                started.to_rfc3339(),
                seconds,
                report.exit_code,
                report.signal,
                report.containment.describe(),
                outcome_reason(outcome),
                report.log
            )
            .into_bytes()
        };
        let log_meta = meta(vec![]);
        const LOG_TYPE: &str = "text/plain; charset=utf-8";
        let duration_ms = report.duration.as_millis() as u64;

        if let Outcome::Built { metrics: m, files } = &report.outcome {
            let measured = serde_json::to_string(m).map_err(HandlerError::permanent)?;
            let output_meta = |format: domain::ModelFormat| {
                meta(vec![
                    ("format", format.to_string()),
                    (METRICS_METADATA_KEY, measured.clone()),
                ])
            };
            let (slug, version, store) = (&msg.slug, msg.version, &store);
            let put_file = |format: domain::ModelFormat, path: std::path::PathBuf| {
                let metadata = output_meta(format);
                async move {
                    let bytes = tokio::fs::read(&path)
                        .await
                        .with_context(|| format!("reading the exported {format}"))
                        .map_err(HandlerError::transient)?;
                    let key = S3Key::output(slug, version, format);
                    let size = bytes.len() as u64;
                    store
                        .put(&key.to_string(), bytes, format.content_type(), &metadata)
                        .await?;
                    Ok::<_, HandlerError>((format, key, size))
                }
            };
            let uploads: Vec<_> = files.iter().map(|(f, path)| put_file(*f, path.clone())).collect();
            // The picture is drawn from the STL while the other files upload.
            let picture = async {
                match self.sandbox.draw_picture(files).await {
                    Ok(png) => put_file(domain::ModelFormat::Png, png).await.map(Ok),
                    Err(error) => Ok(Err(error)),
                }
            };
            // The log, every output and the picture at once.
            let uploading = std::time::Instant::now();
            let (logged, uploaded, picture) = tokio::join!(
                store.put(&log_object, log_text(&report.outcome), LOG_TYPE, &log_meta),
                futures::future::try_join_all(uploads),
                picture,
            );
            let upload_ms = uploading.elapsed().as_millis() as u64;
            logged?;
            let mut uploaded = uploaded?;
            match picture? {
                Ok(png) => {
                    uploaded.push(png);
                    let mut outputs = BTreeMap::new();
                    let mut output_sizes = BTreeMap::new();
                    for (format, key, size) in uploaded {
                        outputs.insert(format, key);
                        output_sizes.insert(format, size);
                    }
                    let built = ModelBuilt {
                        slug: msg.slug.clone(),
                        user_id: msg.user_id.clone(),
                        version: msg.version,
                        outputs,
                        output_sizes,
                        log_key,
                        metrics: m.clone(),
                        duration_ms,
                        fetch_ms: fetched.as_millis() as u64,
                        upload_ms,
                        worker_id: self.worker_id.clone(),
                        exit_code: report.exit_code.unwrap_or(0),
                        source: msg.source.clone(),
                        prompt: msg.prompt.clone(),
                        repair_attempt: msg.repair_attempt,
                    };
                    bus.publish(&origin.message(built).into_raw()).await?;
                    metrics::event("freecad_exit", "built");
                    tracing::info!(volume = m.volume, ms = duration_ms, "model built");
                    return Ok(());
                }
                Err(error) => {
                    // A model without its picture is not complete: its files
                    // go, so nothing (reconciliation included) takes the
                    // version for built, and it fails with the reason.
                    for (_, key, _) in &uploaded {
                        store.delete(&key.to_string()).await?;
                    }
                    report.outcome = sandbox::picture_failed(error);
                }
            }
        }

        let Outcome::Failed {
            kind,
            error,
            traceback_tail,
            diagnosis,
        } = &report.outcome
        else {
            unreachable!("a built model was published above")
        };
        let reason = outcome_reason(&report.outcome);
        metrics::event("freecad_exit", reason);
        store
            .put(&log_object, log_text(&report.outcome), LOG_TYPE, &log_meta)
            .await?;
        let failed = ModelFailed {
            slug: msg.slug.clone(),
            user_id: msg.user_id.clone(),
            version: msg.version,
            kind: *kind,
            error: error.clone(),
            traceback_tail: traceback_tail.clone(),
            log_key: Some(log_key),
            duration_ms,
            worker_id: self.worker_id.clone(),
            source: msg.source.clone(),
            prompt: msg.prompt.clone(),
            repair_attempt: msg.repair_attempt,
            diagnosis: Some(diagnosis.clone()),
        };
        bus.publish(&origin.message(failed).into_raw()).await?;
        tracing::info!(kind = %reason, %error, "model failed");
        Ok(())
    }
}

/// What a run's log and metrics call its outcome.
fn outcome_reason(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Built { .. } => "built",
        Outcome::Failed { kind, .. } => kind.as_str(),
    }
}

/// Builds the service: connects its dependencies and binds its port; run it
/// with `run_until_stopped`.
pub async fn build(settings: Settings) -> anyhow::Result<WorkerApp> {
    let sandbox = Sandbox::new(&settings.freecad_cmd)
        .context("FreeCAD is required (FREECAD_CMD); install freecad-python3 or run `make stack-up`")?
        .with_limits(settings.limits)
        .with_executor(settings.executor);
    announce_executor(&sandbox, settings.concurrency);
    // A worker killed mid-run leaves its job directory behind; sweep
    // those no run can still own.
    let swept = sweep_stale(
        sandbox.work_root(),
        settings.limits.wall_time * 2 + Duration::from_secs(60),
    );
    if swept > 0 {
        tracing::info!(swept, "removed job directories left by stopped workers");
    }
    let deps = Deps::connect(&settings.common, NAME).await?;
    let worker = Arc::new(Worker {
        deps: deps.clone(),
        sandbox,
        slots: tokio::sync::Semaphore::new(usize::from(settings.concurrency)),
        next: tokio::sync::Semaphore::new(usize::from(settings.concurrency)),
        turns: jobs::Turns::new(deps.db.clone()),
        worker_id: settings.worker_id.clone(),
    });
    let app = WorkerApp::new(
        ServiceInfo::new(NAME, env!("CARGO_PKG_VERSION")),
        &deps,
        settings.common.port,
    )?
    .consume::<ScriptStored>(worker);
    Ok(app)
}

/// Say which executor runs jobs and why; start the warm FreeCAD processes,
/// one per concurrent run, in the background so the first jobs find them.
fn announce_executor(sandbox: &Sandbox, concurrency: u16) {
    match sandbox.executor() {
        Executor::Cold => tracing::info!(
            executor = "cold",
            "FREECAD_EXECUTOR=cold: a fresh freecadcmd per job (about 0.3 s more per job than warm)"
        ),
        _ => {
            tracing::info!(
                executor = "warm",
                processes = concurrency,
                "FreeCAD loaded once per slot, a contained child forked per job (FREECAD_EXECUTOR=cold to start one per job)"
            );
            let sandbox = sandbox.clone();
            tokio::spawn(async move {
                if let Err(err) = sandbox.warm_up(usize::from(concurrency)).await {
                    tracing::warn!(%err, "the warm FreeCAD processes did not start; each job will try again and run cold if they cannot");
                }
            });
        }
    }
}

/// Removes `job-*` directories under `root` untouched for longer than
/// `older_than`; returns how many went.
fn sweep_stale(root: &std::path::Path, older_than: Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else { return 0 };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("job-"))
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > older_than)
        })
        .filter(|e| std::fs::remove_dir_all(e.path()).is_ok())
        .count()
}
