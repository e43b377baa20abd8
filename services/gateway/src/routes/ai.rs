//! Generation: a prompt becomes a `generation.requested` job.
//!
//! Both routes answer `202 Accepted` at once with the job and where to
//! follow it; the work happens in the pipeline. Without a project, one is
//! created and named after the prompt. The user's words are stored in the
//! project's conversation before the job is published.

use actix_web::{web, HttpResponse};
use bson::doc;
use chrono::Utc;
use serde::Deserialize;

use domain::documents::{JobKind, Message, MessageMetadata, Project, Role};
use domain::messages::GenerationRequested;
use domain::spec::PartSpec;
use domain::{Envelope, JobId, Version};
use platform::jobs;

use super::docs::{openapi_schema, Table};
use super::owned_project;
use super::projects::create_project;
use super::scripts::accepted;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::startup::AppState;
use crate::telemetry::RequestId;
use crate::views::AcceptedView;

pub fn routes(t: &mut Table) {
    t.add::<__path_generate_code, _, _>(generate_code, None);
    t.add::<__path_chat, _, _>(chat, None);
}

openapi_schema!(Request: GenerateCode, Chat);

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateCode {
    /// What to model, in one sentence (at most 2000 characters).
    #[schemars(length(max = 2000), regex(pattern = r"\S"))]
    pub prompt: String,
    /// The project (id or slug) to add a version to; a new one when absent.
    #[schemars(regex(pattern = r"^(project-[A-Za-z0-9_-]{1,64}|[a-z0-9][a-z0-9_-]{0,62})$"))]
    pub project_id: Option<String>,
    /// Name of the new project; derived from the prompt when absent.
    #[schemars(length(max = 200), regex(pattern = super::projects::NAME_PATTERN))]
    pub project_name: Option<String>,
    /// Iterate on this version's script instead of the latest (needs
    /// `project_id`).
    #[serde(default, deserialize_with = "super::whole_number")]
    #[schemars(range(min = 1))]
    pub base_version: Option<u32>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Chat {
    /// The user's message (at most 2000 characters).
    #[schemars(length(max = 2000), regex(pattern = r"\S"))]
    pub message: String,
    /// The project (id or slug) of the conversation; a new one when absent.
    #[schemars(regex(pattern = r"^(project-[A-Za-z0-9_-]{1,64}|[a-z0-9][a-z0-9_-]{0,62})$"))]
    pub project_id: Option<String>,
    /// Name of the new project; derived from the message when absent.
    #[schemars(length(max = 200), regex(pattern = super::projects::NAME_PATTERN))]
    pub project_name: Option<String>,
    /// Iterate on this version's script instead of the latest (needs
    /// `project_id`).
    #[serde(default, deserialize_with = "super::whole_number")]
    #[schemars(range(min = 1))]
    pub base_version: Option<u32>,
}

#[utoipa::path(
    post,
    path = "/api/ai/generate-code",
    tag = "ai",
    summary = "Start a generation from a prompt",
    description = "Answers 202 at once. Without `project_id`, a project named after the prompt is created. The prompt is stored as the user's message.",
    request_body = GenerateCode,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "The job started.", body = AcceptedView),
        (status = 404, description = "No such project, or not yours (`not_found`).", body = ErrorBody),
        (status = 413, description = "Over the account's storage quota (`quota_exceeded`).", body = ErrorBody),
    ),
)]
async fn generate_code(
    state: web::Data<AppState>,
    user: AuthUser,
    request_id: RequestId,
    body: web::Json<GenerateCode>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    start(
        &state,
        &user,
        request_id,
        "prompt",
        b.prompt,
        b.project_id,
        b.project_name,
        b.base_version,
    )
    .await
}

#[utoipa::path(
    post,
    path = "/api/ai/chat",
    tag = "ai",
    summary = "Chat: the message becomes the next generation of the project",
    request_body = Chat,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "The job started.", body = AcceptedView),
        (status = 404, description = "No such project, or not yours (`not_found`).", body = ErrorBody),
        (status = 413, description = "Over the account's storage quota (`quota_exceeded`).", body = ErrorBody),
    ),
)]
async fn chat(
    state: web::Data<AppState>,
    user: AuthUser,
    request_id: RequestId,
    body: web::Json<Chat>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    start(
        &state,
        &user,
        request_id,
        "message",
        b.message,
        b.project_id,
        b.project_name,
        b.base_version,
    )
    .await
}

/// A project name from the first words of a prompt.
pub fn name_from_prompt(prompt: &str) -> String {
    const MAX: usize = 60;
    let mut name = String::new();
    for word in prompt.split_whitespace() {
        if !name.is_empty() && name.chars().count() + 1 + word.chars().count() > MAX {
            break;
        }
        if !name.is_empty() {
            name.push(' ');
        }
        name.push_str(word);
    }
    let name: String = name.chars().take(MAX).collect();
    let name = name.trim_end_matches(|c: char| c.is_ascii_punctuation()).to_owned();
    if name.is_empty() {
        "Untitled".into()
    } else {
        name
    }
}

#[allow(clippy::too_many_arguments)]
async fn start(
    state: &AppState,
    user: &AuthUser,
    request_id: RequestId,
    field: &str,
    prompt: String,
    project_key: Option<String>,
    project_name: Option<String>,
    base_version: Option<u32>,
) -> ApiResult<HttpResponse> {
    let prompt = prompt.trim().to_owned();
    if prompt.is_empty() {
        return Err(ApiError::bad_request(field, "must not be empty"));
    }
    if prompt.chars().count() > cadgen::MAX_PROMPT_CHARS {
        return Err(ApiError::bad_request(
            field,
            format!("must be at most {} characters", cadgen::MAX_PROMPT_CHARS),
        ));
    }
    let base_version = base_version
        .map(|v| Version::new(v).map_err(|e| ApiError::bad_request("base_version", e)))
        .transpose()?;
    let project_name = project_name.as_deref().map(super::projects::check_name).transpose()?;
    // Before a project is made for the job: a refused request leaves none.
    crate::quota::admit(state, user).await?;
    let project: Project = match project_key.as_deref() {
        Some(key) => owned_project(state, user, key).await?,
        None => {
            if base_version.is_some() {
                return Err(ApiError::bad_request("base_version", "needs a project_id"));
            }
            let name = project_name.unwrap_or_else(|| name_from_prompt(&prompt));
            create_project(state, user, &name, None, None).await?
        }
    };
    if let Some(v) = base_version {
        if v.get() > project.current_version {
            return Err(ApiError::bad_request(
                "base_version",
                format!("the project has no version {v}"),
            ));
        }
    }

    submit(state, user, request_id, &project, prompt, base_version, None).await
}

/// Stores the user's words in the conversation and accepts a generation job
/// for `project`; `spec`, when given, is built as it is. The caller has
/// admitted the job (`quota::admit`).
pub(super) async fn submit(
    state: &AppState,
    user: &AuthUser,
    request_id: RequestId,
    project: &Project,
    prompt: String,
    base_version: Option<Version>,
    spec: Option<PartSpec>,
) -> ApiResult<HttpResponse> {
    let job_id = JobId::generate();
    let now = Utc::now();
    state
        .db
        .messages()
        .insert(&Message {
            message_id: job_id.request_message_id(),
            project_id: project.project_id.clone(),
            user_id: user.user_id.clone(),
            role: Role::User,
            content: prompt.clone(),
            timestamp: now,
            job_id: Some(job_id),
            metadata: MessageMetadata {
                request_id: Some(request_id.0.clone()),
                job_id: Some(job_id),
                ..MessageMetadata::default()
            },
            created_at: now,
            updated_at: now,
        })
        .await?;
    let message = GenerationRequested {
        slug: project.slug.clone(),
        user_id: user.user_id.clone(),
        prompt,
        base_version,
        spec,
    };
    let env = Envelope::new(job_id, project.project_id.clone(), message).with_request_id(Some(request_id.0));
    let job = jobs::new_job(project, &user.user_id, JobKind::Generate, &env);
    let submitted = jobs::submit(&state.db, state.bus.as_ref(), &job).await?;
    tracing::info!(%job_id, project_id = %project.project_id, "generation accepted");
    Ok(accepted(job_id, project, submitted))
}

#[cfg(test)]
mod tests {
    use super::name_from_prompt;

    #[test]
    fn names_come_from_the_first_words() {
        assert_eq!(
            name_from_prompt("a 40 x 20 x 10 mm plate with a 6 mm through hole"),
            "a 40 x 20 x 10 mm plate with a 6 mm through hole"
        );
        let long = "word ".repeat(40);
        assert!(name_from_prompt(&long).chars().count() <= 60);
        assert_eq!(name_from_prompt("   "), "Untitled");
        assert_eq!(name_from_prompt("gear!!!"), "gear");
    }
}
