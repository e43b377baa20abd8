//! script-store: turns a checked script into a stored version.
//!
//! Consumes `script.generated` (from the ai-generator) and `script.uploaded`
//! (a user's own script from the API). For each it takes the project's next
//! version atomically in MongoDB, puts `input/{slug}/{slug}_v{n}.py` with its
//! metadata, records the file and the project's new current version, and
//! publishes `script.stored`. A redelivered message reuses the version its
//! job already claimed, so it never creates a second version.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;

use bson::{doc, Bson};
use domain::documents::{AttemptVersions, FileMetadata, FileRecord, Job, JobTimings};
use domain::keys::object_metadata;
use domain::messages::{Reply, ScriptGenerated, ScriptSource, ScriptStored, ScriptUploaded};
use domain::{FileType, JobStage, Payload, ProjectSlug, RawEnvelope, S3Key, UserId};
use platform::bus::HandlerError;
use platform::config::{EnvReader, FromEnv};
use platform::dispatch::JobHandler;
use platform::jobs::{self, Advance, Origin};
use platform::mongo::Transition;
use platform::runtime::{CommonSettings, Deps, WorkerApp};
use platform::service::ServiceInfo;

pub const NAME: &str = "script-store";
pub const DEFAULT_PORT: u16 = 8082;

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
}

impl FromEnv for Settings {
    fn read(env: &mut EnvReader) -> Self {
        env.check_service(&domain::settings::script_store::SETTINGS);
        Self {
            common: CommonSettings::read(env, DEFAULT_PORT),
        }
    }
}

/// A script to version, whichever message brought it.
pub struct Incoming {
    slug: ProjectSlug,
    user_id: UserId,
    script: String,
    source: ScriptSource,
    prompt: String,
    repair_attempt: u32,
    /// The part spec of a compiled script, kept beside it.
    spec: Option<domain::spec::PartSpec>,
    /// What writing the script took, for the job's timings.
    generation_ms: Option<u64>,
    /// What the model must measure, recorded on the job.
    expected: Option<domain::verify::Expectations>,
    /// The assistant's reply, recorded with the version.
    reply: Option<Reply>,
}

impl From<ScriptGenerated> for Incoming {
    fn from(m: ScriptGenerated) -> Self {
        Self {
            slug: m.slug,
            user_id: m.user_id,
            script: m.script,
            source: m.source,
            prompt: m.prompt,
            repair_attempt: m.repair_attempt,
            spec: m.spec,
            generation_ms: m.generation_ms,
            expected: m.expected,
            reply: m.reply,
        }
    }
}

impl From<ScriptUploaded> for Incoming {
    fn from(m: ScriptUploaded) -> Self {
        Self {
            slug: m.slug,
            user_id: m.user_id,
            script: m.script,
            source: ScriptSource::Uploaded { file_name: m.file_name },
            prompt: String::new(),
            repair_attempt: 0,
            spec: None,
            generation_ms: None,
            expected: None,
            reply: None,
        }
    }
}

pub struct ScriptStore {
    deps: Deps,
}

impl ScriptStore {
    pub fn new(deps: Deps) -> Self {
        Self { deps }
    }

    async fn store(&self, raw: &RawEnvelope, mut inc: Incoming, job: Job) -> Result<(), HandlerError> {
        let Deps { db, store, bus } = &self.deps;
        let began = std::time::Instant::now();
        let origin = Origin::of(raw);
        // The generator's time is recorded with the stage change.
        let generated = JobTimings {
            generation_ms: inc.generation_ms,
            ..JobTimings::default()
        };
        let mut set = platform::mongo::timing_fields(&generated).map_err(HandlerError::transient)?;
        if let Some(expected) = &inc.expected {
            set.insert("expected", bson::to_bson(expected).map_err(HandlerError::permanent)?);
        }
        // The project's name, when the claim reads the project anyway.
        let mut project_name = None;
        let version = match job.versions.get(inc.repair_attempt) {
            Some(version) => {
                jobs::advance(
                    db,
                    bus.as_ref(),
                    &origin,
                    &inc.slug,
                    Advance::to(JobStage::Uploading).version(version).set(set).on(&job),
                )
                .await?;
                version
            }
            None => {
                // The claimant is the attempt: asked again after a crash, the
                // project hands out the same number.
                let claimant = raw.job_id.reply_message_id(inc.repair_attempt);
                let (candidate, project) = db
                    .projects()
                    .claim_next_version(&raw.project_id, &claimant)
                    .await
                    .map_err(|e| match e {
                        platform::mongo::DbError::NotFound(_) => HandlerError::permanent(e),
                        e => e.into(),
                    })?;
                project_name = Some(project.project_name);
                // The claim goes with the stage change, in one write.
                let field = AttemptVersions::field(inc.repair_attempt);
                let mut claim = set;
                claim.insert(field.as_str(), candidate.get());
                claim.insert("version", candidate.get());
                let step = Advance::to(JobStage::Uploading)
                    .version(candidate)
                    .set(claim)
                    .only_if(doc! { field.as_str(): Bson::Null })
                    .on(&job);
                match jobs::advance(db, bus.as_ref(), &origin, &inc.slug, step).await? {
                    Transition::Moved(_) => candidate,
                    // Claimed meanwhile (a duplicate delivery), or the job
                    // is past taking a script (cancelled): the claim on its
                    // own, so the number handed out is used, never skipped.
                    Transition::Unchanged(_) => {
                        db.jobs()
                            .claim_version(raw.job_id, inc.repair_attempt, candidate)
                            .await?
                    }
                }
            }
        };

        let input_key = S3Key::input(&inc.slug, version);
        let key = input_key.to_string();
        let now = Utc::now();
        let mut object_meta = object_metadata(&raw.project_id, version, raw.job_id, NAME);
        object_meta.push(("timestamp", now.to_rfc3339()));
        // The spec and the script go up at once: a version becomes visible
        // only through the records written below, once both are stored, so
        // a follow-up on it always finds its spec. The spec's record is
        // written with the script's, in one write.
        let mut records = Vec::with_capacity(2);
        let spec = match &inc.spec {
            Some(spec) => {
                let key = S3Key::spec(&inc.slug, version);
                Some((key, serde_json::to_vec_pretty(spec).map_err(HandlerError::permanent)?))
            }
            None => None,
        };
        if let Some((spec_key, body)) = &spec {
            records.push(FileRecord {
                project_id: raw.project_id.clone(),
                version,
                file_type: FileType::Spec,
                s3_path: store.uri(&spec_key.to_string()),
                s3_key: spec_key.to_string(),
                timestamp: now,
                metadata: FileMetadata {
                    file_name: Some(spec_key.file_name()),
                    file_size: Some(body.len() as i64),
                    content_type: Some("application/json".to_owned()),
                    job_id: Some(raw.job_id),
                    ..FileMetadata::default()
                },
                created_at: now,
                updated_at: now,
            });
        }
        let (generated_by, model) = match &inc.source {
            ScriptSource::Generated { provider, model } => (format!("cadscribe-ai/{provider}"), Some(model.clone())),
            ScriptSource::Uploaded { .. } => ("user".to_owned(), None),
        };
        let size = inc.script.len();
        let put_spec = async {
            match spec {
                Some((spec_key, body)) => {
                    store
                        .put(&spec_key.to_string(), body, "application/json", &object_meta)
                        .await
                }
                None => Ok(()),
            }
        };
        let put_script = store.put(
            &key,
            inc.script.into_bytes(),
            "text/x-python; charset=utf-8",
            &object_meta,
        );
        tokio::try_join!(put_spec, put_script)?;
        let uri = store.uri(&key);
        let metadata = FileMetadata {
            file_name: Some(S3Key::input(&inc.slug, version).file_name()),
            uploaded_by: Some(inc.user_id.clone()),
            generated_by: Some(generated_by),
            file_size: Some(size as i64),
            content_type: Some("text/x-python".to_owned()),
            job_id: Some(raw.job_id),
            ai_model: model.clone(),
            ..FileMetadata::default()
        };
        records.push(FileRecord {
            project_id: raw.project_id.clone(),
            version,
            file_type: FileType::Input,
            s3_path: uri.clone(),
            s3_key: key.clone(),
            timestamp: now,
            metadata,
            created_at: now,
            updated_at: now,
        });
        // The assistant's reply is recorded with the version its script
        // became; one an earlier generator recorded itself learns it.
        let conversation = db.messages();
        let (drafted, generated) = (inc.reply.take(), matches!(inc.source, ScriptSource::Generated { .. }));
        let (user, attempt, uri_ref) = (inc.user_id.clone(), inc.repair_attempt, &uri);
        let reply = async move {
            match drafted {
                Some(reply) => {
                    let mut message = reply.message(raw.job_id, raw.project_id.clone(), user, attempt);
                    message.metadata.version = Some(version.get());
                    message.metadata.s3_url = Some(uri_ref.clone());
                    conversation.insert(&message).await
                }
                None if generated => {
                    let id = raw.job_id.reply_message_id(attempt);
                    conversation.attach_version(&id, version, uri_ref).await
                }
                None => Ok(()),
            }
        };
        // Independent records, at once.
        let (files, projects) = (db.files(), db.projects());
        let (file, script, message) = tokio::join!(
            files.record_all(&records),
            projects.record_script(
                &raw.project_id,
                version,
                &uri,
                model.as_deref(),
                FileRecord::total_size(&records)
            ),
            reply,
        );
        file?;
        script?;
        message?;

        let stored = ScriptStored {
            slug: inc.slug,
            user_id: inc.user_id,
            version,
            input_key,
            source: inc.source,
            prompt: inc.prompt,
            repair_attempt: inc.repair_attempt,
            store_ms: Some(began.elapsed().as_millis() as u64),
            project_name,
        };
        bus.publish(&origin.message(stored).into_raw()).await?;
        tracing::info!(%version, "script stored");
        Ok(())
    }
}

/// Both messages bring a script to version.
#[async_trait]
impl<P: Payload + Into<Incoming>> JobHandler<P> for ScriptStore {
    async fn handle(&self, raw: &RawEnvelope, payload: P, job: Job) -> Result<(), HandlerError> {
        self.store(raw, payload.into(), job).await
    }
}

/// Builds the service: connects its dependencies and binds its port; run it
/// with `run_until_stopped`.
pub async fn build(settings: Settings) -> anyhow::Result<WorkerApp> {
    let deps = Deps::connect(&settings.common, NAME).await?;
    let handler = Arc::new(ScriptStore::new(deps.clone()));
    let app = WorkerApp::new(
        ServiceInfo::new(NAME, env!("CARGO_PKG_VERSION")),
        &deps,
        settings.common.port,
    )?
    .consume::<ScriptGenerated>(handler.clone())
    .consume::<ScriptUploaded>(handler);
    Ok(app)
}
