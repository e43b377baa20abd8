//! ai-generator: turns a prompt into a checked FreeCAD script.
//!
//! Consumes `generation.requested` and `generation.repair`. The provider
//! (the offline template catalogue by default, or an OpenAI-compatible
//! model, asked for a part spec first and for a script only when the spec
//! cannot express the part) writes a script with the expectations the
//! built model is verified against; every script is checked (it parses, imports only
//! the allow-list, touches no file, process, network or dynamic code) and an
//! LLM script that fails the check goes back to the model with the reasons,
//! a bounded number of times. The assistant's message is recorded and the
//! script leaves as `script.generated`.

pub mod providers;

use std::sync::Arc;

use async_trait::async_trait;
use bson::doc;
use chrono::Utc;

use domain::documents::{Job, Role};
use domain::messages::{
    GenerationRepair, GenerationRequested, Question, Reply, ScriptGenerated, ScriptSource, TEMPLATE_PROVIDER,
};
use domain::settings::ai_generator;
use domain::spec::PartSpec;
use domain::{JobStage, Payload, ProjectSlug, ProjectStatus, RawEnvelope, S3Key, UserId, Version};
use platform::bus::HandlerError;
use platform::config::{EnvReader, FromEnv};
use platform::dispatch::JobHandler;
use platform::jobs::{self, Advance, Origin};
use platform::metrics;
use platform::runtime::{CommonSettings, Deps, WorkerApp};
use platform::service::ServiceInfo;

use providers::{ChatSettings, Draft, OpenAiCompatible, Provider, ProviderError, Request, Template, Turn};

pub const NAME: &str = "ai-generator";
pub const DEFAULT_PORT: u16 = 8081;

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
    /// `None`: the template catalogue.
    pub chat: Option<ChatSettings>,
    /// Times a script rejected by the checker is sent back to the model.
    pub max_check_retries: u32,
    /// Earlier turns of the conversation sent with a prompt.
    pub history_turns: u32,
}

impl FromEnv for Settings {
    fn read(env: &mut EnvReader) -> Self {
        env.check_service(&ai_generator::SETTINGS);
        Self {
            common: CommonSettings::read(env, DEFAULT_PORT),
            chat: ChatSettings::read(env),
            max_check_retries: env.value(&ai_generator::AI_MAX_CHECK_RETRIES),
            history_turns: env.value(&ai_generator::AI_HISTORY_TURNS),
        }
    }
}

/// What to write a script for, from either message.
pub struct Task {
    slug: ProjectSlug,
    user_id: UserId,
    prompt: String,
    repair_attempt: u32,
    /// The failed version and its error, for a repair.
    failed: Option<(Version, String)>,
    /// A spec to build as it is (a parameter edit).
    spec: Option<PartSpec>,
    /// When generation began, for the job's timings.
    began: Option<std::time::Instant>,
    /// The version a follow-up iterates on, when the request names one.
    base_version: Option<Version>,
}

impl From<GenerationRequested> for Task {
    fn from(m: GenerationRequested) -> Self {
        Self {
            slug: m.slug,
            user_id: m.user_id,
            prompt: m.prompt,
            repair_attempt: 0,
            failed: None,
            spec: m.spec,
            began: None,
            base_version: m.base_version,
        }
    }
}

impl From<GenerationRepair> for Task {
    fn from(m: GenerationRepair) -> Self {
        Self {
            slug: m.slug,
            user_id: m.user_id,
            prompt: m.prompt,
            repair_attempt: m.repair_attempt,
            failed: Some((m.failed_version, m.error)),
            spec: None,
            began: None,
            base_version: None,
        }
    }
}

pub struct Generator {
    deps: Deps,
    provider: Box<dyn Provider>,
    max_check_retries: u32,
    history_turns: u32,
}

impl Generator {
    pub fn new(deps: Deps, settings: &Settings) -> Self {
        let provider: Box<dyn Provider> = match &settings.chat {
            Some(chat) => Box::new(OpenAiCompatible::new(chat)),
            None => Box::new(Template),
        };
        Self {
            deps,
            provider,
            max_check_retries: settings.max_check_retries,
            history_turns: settings.history_turns,
        }
    }

    async fn script_of(&self, slug: &ProjectSlug, version: Version) -> Result<Option<String>, HandlerError> {
        let key = S3Key::input(slug, version).to_string();
        Ok(self
            .deps
            .store
            .get(&key)
            .await?
            .map(|o| String::from_utf8_lossy(&o.bytes).into_owned()))
    }

    /// The part spec stored beside a version's script, if it has one.
    async fn spec_of(&self, slug: &ProjectSlug, version: Version) -> Result<Option<PartSpec>, HandlerError> {
        let key = S3Key::spec(slug, version).to_string();
        let Some(object) = self.deps.store.get(&key).await? else {
            return Ok(None);
        };
        match serde_json::from_slice(&object.bytes) {
            Ok(spec) => Ok(Some(spec)),
            Err(e) => {
                // An unreadable spec only costs the follow-up its base.
                tracing::warn!(%key, error = %e, "the stored part spec does not parse; ignoring it");
                Ok(None)
            }
        }
    }

    /// The request for the provider: the conversation so far, the script to
    /// iterate on, the failure to repair.
    async fn request(&self, raw: &RawEnvelope, task: &Task) -> Result<Request, HandlerError> {
        let db = &self.deps.db;
        let failed = match &task.failed {
            Some((v, error)) => Some((self.script_of(&task.slug, *v).await?.unwrap_or_default(), error.clone())),
            None => None,
        };
        if !self.provider.reads_context(&task.prompt) {
            return Ok(Request {
                prompt: task.prompt.clone(),
                history: Vec::new(),
                base_script: None,
                base_spec: None,
                failed,
            });
        }
        let (messages, projects) = (db.messages(), db.projects());
        let (latest, project) = tokio::try_join!(
            messages.latest(&raw.project_id, self.history_turns),
            projects.get(&raw.project_id)
        )?;
        let history = latest
            .into_iter()
            .filter(|m| m.job_id != Some(raw.job_id) && m.role != Role::System)
            .map(|m| Turn {
                from_user: m.role == Role::User,
                content: m.content,
            })
            .collect();
        let current = project.and_then(|p| Version::new(p.current_version).ok());
        let (base_script, base_spec) = match task.base_version.or(current) {
            Some(v) if task.failed.is_none() => {
                tokio::try_join!(self.script_of(&task.slug, v), self.spec_of(&task.slug, v))?
            }
            _ => (None, None),
        };
        Ok(Request {
            prompt: task.prompt.clone(),
            history,
            base_script,
            base_spec,
            failed,
        })
    }

    async fn generate(&self, raw: &RawEnvelope, mut task: Task, job: &Job) -> Result<(), HandlerError> {
        let Deps { db, bus, .. } = &self.deps;
        let origin = Origin::of(raw);
        let step = Advance::to(JobStage::Generating).on(job);
        jobs::advance(db, bus.as_ref(), &origin, &task.slug, step).await?;
        task.began = Some(std::time::Instant::now());
        if let Some(spec) = task.spec.take() {
            return self.build_spec(raw, task, spec).await;
        }
        if task.repair_attempt == 0 {
            if let Some(question) = self.open_question(raw).await? {
                // The message answers the project's open question: the
                // request it completes is what is generated.
                task.prompt = question.answered(&task.prompt);
                tracing::info!(prompt = %task.prompt, "continuing the request with the user's answer");
            }
        }
        let mut request = self.request(raw, &task).await?;
        let provider = self.provider.name().to_owned();
        let label = format!("{provider}/{}", self.provider.model());

        let mut checks = 0;
        let draft = loop {
            let draft = match self.provider.generate(&request).await {
                Ok(d) => d,
                Err(ProviderError::NotUnderstood(message)) => {
                    metrics::event("ai_request", &format!("{label}:not_understood"));
                    return jobs::fail(db, bus.as_ref(), &origin, &task.slug, &message).await;
                }
                Err(ProviderError::Question { question }) => {
                    metrics::event("ai_request", &format!("{label}:question"));
                    return self.ask(raw, &task, question).await;
                }
                Err(e @ ProviderError::Unavailable(_)) => {
                    metrics::event("ai_request", &format!("{label}:failed"));
                    return Err(HandlerError::transient(e));
                }
            };
            metrics::operation("ai_response", &label, draft.response_time.as_secs_f64());
            match cadgen::check_script(&draft.script) {
                Ok(()) => break draft,
                Err(violations) => {
                    let findings: Vec<String> = violations.iter().map(ToString::to_string).collect();
                    let findings = findings.join("\n");
                    checks += 1;
                    metrics::event("ai_request", &format!("{label}:rejected"));
                    if provider == TEMPLATE_PROVIDER || checks > self.max_check_retries {
                        let reason = format!("the generated script was rejected by the safety check:\n{findings}");
                        let diagnosis = cadgen::diagnose(&violations, &draft.script);
                        return jobs::fail_with(db, bus.as_ref(), &origin, &task.slug, &reason, Some(&diagnosis)).await;
                    }
                    tracing::info!(checks, "script rejected by the checker; asking the model again");
                    request.failed = Some((
                        draft.script,
                        format!("It was rejected by the safety check:\n{findings}"),
                    ));
                }
            }
        };
        metrics::event("ai_request", &format!("{label}:ok"));
        if task.repair_attempt > 0 {
            metrics::event("ai_repair", &label);
        }
        self.publish(raw, task, draft, provider).await
    }

    /// The question the project's previous job ended with, if it did: the
    /// message of this job answers it.
    async fn open_question(&self, raw: &RawEnvelope) -> Result<Option<Question>, HandlerError> {
        let previous = self
            .deps
            .db
            .jobs()
            .previous_in_project(&raw.project_id, raw.job_id, raw.created_at)
            .await?;
        Ok(previous
            .filter(|j| j.stage == JobStage::NeedsInput)
            .and_then(|j| j.question))
    }

    /// Ends the job with a question instead of a guess: the question is the
    /// assistant's reply in the chat and the job's final state.
    async fn ask(&self, raw: &RawEnvelope, task: &Task, question: Question) -> Result<(), HandlerError> {
        let Deps { db, bus, .. } = &self.deps;
        let mut message = Reply {
            content: question.text.clone(),
            at: Utc::now(),
            source_model: self.provider.model().to_owned(),
            provider: self.provider.name().to_owned(),
            response_time: task.began.map_or(0.0, |t| t.elapsed().as_secs_f64()),
            prompt_tokens: 0,
            completion_tokens: 0,
        }
        .message(
            raw.job_id,
            raw.project_id.clone(),
            task.user_id.clone(),
            task.repair_attempt,
        );
        message.metadata.question = Some(true);
        db.messages().insert(&message).await?;
        let set = doc! { "question": bson::to_bson(&question).map_err(HandlerError::permanent)? };
        let step = Advance::to(JobStage::NeedsInput).detail(question.text.clone()).set(set);
        let moved = jobs::advance(db, bus.as_ref(), &Origin::of(raw), &task.slug, step).await?;
        if matches!(moved, platform::mongo::Transition::Moved(_)) {
            // Nothing runs while the question waits: the project shows what
            // it has (its last model, or nothing yet).
            let has_version = db
                .projects()
                .get(&raw.project_id)
                .await?
                .is_some_and(|p| p.current_version > 0);
            let status = if has_version {
                ProjectStatus::Completed
            } else {
                ProjectStatus::Draft
            };
            db.projects().set_status(&raw.project_id, status).await?;
        }
        Ok(())
    }

    /// A spec edited by the user (a parameter changed in the client): the
    /// compiler builds it as it is, whatever the provider.
    async fn build_spec(&self, raw: &RawEnvelope, task: Task, spec: PartSpec) -> Result<(), HandlerError> {
        let started = std::time::Instant::now();
        match cadgen::compile(&spec) {
            Ok(g) => {
                let mut draft = Draft::compiled(g, started);
                draft.reply = format!("{} {}", task.prompt, draft.reply);
                self.publish(raw, task, draft, Template.name().to_owned()).await
            }
            Err(e) => {
                let origin = Origin::of(raw);
                jobs::fail(
                    &self.deps.db,
                    self.deps.bus.as_ref(),
                    &origin,
                    &task.slug,
                    &e.to_string(),
                )
                .await
            }
        }
    }

    /// Hands the draft's script to the script store, with the assistant's
    /// reply and the expectations, which it records with the version.
    async fn publish(&self, raw: &RawEnvelope, task: Task, draft: Draft, provider: String) -> Result<(), HandlerError> {
        let Deps { bus, .. } = &self.deps;
        let origin = Origin::of(raw);
        let reply = Reply {
            content: draft.reply,
            at: Utc::now(),
            source_model: draft.model.clone(),
            provider: provider.clone(),
            response_time: draft.response_time.as_secs_f64(),
            prompt_tokens: draft.prompt_tokens,
            completion_tokens: draft.completion_tokens,
        };
        let generated = ScriptGenerated {
            slug: task.slug,
            user_id: task.user_id,
            prompt: task.prompt,
            script: draft.script,
            source: ScriptSource::Generated {
                provider,
                model: draft.model,
            },
            repair_attempt: task.repair_attempt,
            spec: draft.spec,
            generation_ms: task.began.map(|t| t.elapsed().as_millis() as u64),
            expected: draft.expected,
            reply: Some(reply),
        };
        bus.publish(&origin.message(generated).into_raw()).await?;
        Ok(())
    }
}

/// A request and a repair both write a script.
#[async_trait]
impl<P: Payload + Into<Task>> JobHandler<P> for Generator {
    async fn handle(&self, raw: &RawEnvelope, payload: P, job: Job) -> Result<(), HandlerError> {
        self.generate(raw, payload.into(), &job).await
    }
}

/// Builds the service: connects its dependencies and binds its port; run it
/// with `run_until_stopped`.
pub async fn build(settings: Settings) -> anyhow::Result<WorkerApp> {
    let deps = Deps::connect(&settings.common, NAME).await?;
    let generator = Arc::new(Generator::new(deps.clone(), &settings));
    tracing::info!(
        provider = generator.provider.name(),
        model = generator.provider.model(),
        "AI provider"
    );
    let app = WorkerApp::new(
        ServiceInfo::new(NAME, env!("CARGO_PKG_VERSION")),
        &deps,
        settings.common.port,
    )?
    .consume::<GenerationRequested>(generator.clone())
    .consume::<GenerationRepair>(generator);
    Ok(app)
}
