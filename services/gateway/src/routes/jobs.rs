//! Jobs: list, look at, cancel, retry.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{web, HttpResponse};

use domain::documents::{Job, JobKind, Project};
use domain::material::Material;
use domain::messages::{GenerationRequested, ScriptUploaded};
use domain::{Envelope, JobId, JobStage, MessageType, ProjectStatus, RawEnvelope};
use platform::jobs::{self, Advance, Origin};
use platform::mongo::{PageRequest, Transition};

use super::docs::Table;
use super::scripts::accepted;
use super::{owned_project, page};
use super::{JobPath, PageParams};
use crate::auth::AuthUser;
use crate::error::ErrorBody;
use crate::error::{ApiError, ApiResult};
use crate::reads::Freshness;
use crate::startup::AppState;
use crate::telemetry::RequestId;
use crate::views::{AcceptedView, JobPage};
use crate::views::{JobView, PageView};

pub fn routes(t: &mut Table) {
    t.add::<__path_list, _, _>(list, None);
    t.add::<__path_get_job, _, _>(get_job, None);
    t.add::<__path_cancel, _, _>(cancel, None);
    t.add::<__path_retry, _, _>(retry, None);
}

/// `?project=`: only this project's jobs.
#[allow(dead_code)] // read by the document; the handler reads the query itself
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectParam {
    /// The project id (`project-…`) or its slug.
    #[param(pattern = r"^(project-[A-Za-z0-9_-]{1,64}|[a-z0-9][a-z0-9_-]{0,62})$")]
    pub project: Option<String>,
}

/// The caller's job, or 404 (another user's job looks missing).
async fn owned_job(state: &AppState, user: &AuthUser, id: &str) -> ApiResult<Job> {
    let job = find_job(state, user, id, Freshness::Fresh).await?;
    Ok(Arc::unwrap_or_clone(job))
}

async fn find_job(state: &AppState, user: &AuthUser, id: &str, freshness: Freshness) -> ApiResult<Arc<Job>> {
    let id = JobId::parse(id).map_err(|_| ApiError::bad_request("job_id", "expected a UUID"))?;
    state
        .reads
        .job(&state.db, id, freshness)
        .await?
        .filter(|j| j.user_id == user.user_id)
        .ok_or_else(|| ApiError::not_found(format!("job {id}")))
}

/// The caller's jobs, newest first; `?project=` (id or slug) narrows to one project.
#[utoipa::path(
    get,
    path = "/api/jobs",
    operation_id = "list_jobs",
    tag = "jobs",
    summary = "The caller's jobs, newest first",
    params(PageParams, ProjectParam),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of jobs.", body = JobPage),
        (status = 404, description = "No such project, or not yours (`not_found`).", body = ErrorBody),
    ),
)]
async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let page = page(&query)?;
    let mut materials = HashMap::new();
    let found = match query.get("project") {
        Some(key) => {
            let project = owned_project(&state, &user, key).await?;
            materials.insert(project.project_id.clone(), project.material);
            state.db.jobs().list_by_project(&project.project_id, page).await?
        }
        None => state.db.jobs().list_by_user(&user.user_id, page).await?,
    };
    for job in &found.items {
        if job.metrics.is_some() && !materials.contains_key(&job.project_id) {
            let material = material_of(&state, job, Freshness::Fresh).await?;
            materials.insert(job.project_id.clone(), material);
        }
    }
    let mut view = PageView::<JobView>::of(found);
    for job in &mut view.items {
        job.weigh(materials.get(&job.project_id).copied().flatten());
    }
    Ok(HttpResponse::Ok().json(view))
}

/// The material of the job's project, which its mass is given in.
async fn material_of(state: &AppState, job: &Job, freshness: Freshness) -> ApiResult<Option<Material>> {
    let project = state.reads.project(&state.db, &job.project_id, freshness).await?;
    Ok(project.and_then(|p| p.material))
}

#[utoipa::path(
    get,
    path = "/api/jobs/{job_id}",
    tag = "jobs",
    summary = "A job with its history",
    description = "A built job carries `metrics` (volume, area, bounding box, centre of mass, and the matrix of inertia about it for unit density in mm⁵) and, when its project has a material, `mass`.",
    params(JobPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The job.", body = JobView),
        (status = 404, description = "No such job, or not yours (`not_found`).", body = ErrorBody),
    ),
)]
async fn get_job(state: web::Data<AppState>, user: AuthUser, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let job = find_job(&state, &user, &path, Freshness::Recent).await?;
    let material = material_of(&state, &job, Freshness::Recent).await?;
    let mut view = JobView::from(&*job);
    view.weigh(material);
    Ok(HttpResponse::Ok().json(view))
}

fn finished(job: &Job) -> ApiError {
    ApiError::conflict(format!("the job is already {}", job.stage))
}

#[utoipa::path(
    post,
    path = "/api/jobs/{job_id}/cancel",
    tag = "jobs",
    summary = "Cancel a job",
    params(JobPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The cancelled job.", body = JobView),
        (status = 404, description = "No such job, or not yours (`not_found`).", body = ErrorBody),
        (status = 409, description = "The job is already over (`conflict`).", body = ErrorBody),
    ),
)]
async fn cancel(state: web::Data<AppState>, user: AuthUser, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let job = owned_job(&state, &user, &path).await?;
    if job.stage.is_terminal() {
        return Err(finished(&job));
    }
    let step = Advance::to(JobStage::Cancelled).detail("cancelled by the user");
    let moved = jobs::advance(&state.db, state.bus.as_ref(), &Origin::of_job(&job), &job.slug, step)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "cancelling a job failed");
            ApiError::unavailable("the job store or the broker")
        })?;
    let job = match moved {
        Transition::Moved(job) => *job,
        Transition::Unchanged(job) => return Err(finished(&job)),
    };
    settle_project(&state, &job).await?;
    Ok(HttpResponse::Ok().json(JobView::from(&job)))
}

/// After a cancel, a project with no other live job stops showing
/// `processing`: completed if an earlier version has a model, else draft
/// (nothing stored yet) or error (a script without a model).
async fn settle_project(state: &AppState, job: &Job) -> ApiResult<()> {
    let live = state
        .db
        .jobs()
        .list_by_project(&job.project_id, PageRequest::new(50, 0))
        .await?;
    if live.items.iter().any(|j| !j.stage.is_terminal()) {
        return Ok(());
    }
    let Some(project) = state.db.projects().get(&job.project_id).await? else {
        return Ok(());
    };
    if project.status != ProjectStatus::Processing && project.status != ProjectStatus::Draft {
        return Ok(());
    }
    let status = if !project.latest_s3_output.is_empty() {
        ProjectStatus::Completed
    } else if project.current_version == 0 {
        ProjectStatus::Draft
    } else {
        ProjectStatus::Error
    };
    state.db.projects().set_status(&project.project_id, status).await?;
    Ok(())
}

/// A new job with the same request as a finished one.
#[utoipa::path(
    post,
    path = "/api/jobs/{job_id}/retry",
    tag = "jobs",
    summary = "Start a new job with the same request",
    params(JobPath),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "The job started.", body = AcceptedView),
        (status = 404, description = "No such job, or not yours (`not_found`).", body = ErrorBody),
        (status = 409, description = "The job is still running (`conflict`).", body = ErrorBody),
        (status = 413, description = "Over the account's storage quota (`quota_exceeded`).", body = ErrorBody),
    ),
)]
async fn retry(
    state: web::Data<AppState>,
    user: AuthUser,
    request_id: RequestId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let old = owned_job(&state, &user, &path).await?;
    if !old.stage.is_terminal() {
        return Err(ApiError::conflict(format!(
            "the job is still {}; cancel it first",
            old.stage
        )));
    }
    let project: Project = state
        .db
        .projects()
        .get(&old.project_id)
        .await?
        .filter(|p| p.created_by == user.user_id)
        .ok_or_else(|| ApiError::not_found("the job's project"))?;
    let raw: RawEnvelope = bson::from_document(old.request.clone()).map_err(|e| {
        tracing::error!(job_id = %old.job_id, error = %e, "stored request is not an envelope");
        ApiError::internal()
    })?;
    crate::quota::admit(&state, &user).await?;
    let new_id = JobId::generate();
    let rid = Some(request_id.0);
    let undecodable = |e: domain::messages::EnvelopeError| {
        tracing::error!(error = %e, "stored request does not decode");
        ApiError::internal()
    };
    let job = match raw.message_type {
        MessageType::GenerationRequested => {
            let payload = raw.decode::<GenerationRequested>().map_err(undecodable)?.payload;
            let env = Envelope::new(new_id, project.project_id.clone(), payload).with_request_id(rid);
            jobs::new_job(&project, &user.user_id, JobKind::Generate, &env)
        }
        MessageType::ScriptUploaded => {
            let payload = raw.decode::<ScriptUploaded>().map_err(undecodable)?.payload;
            let env = Envelope::new(new_id, project.project_id.clone(), payload).with_request_id(rid);
            jobs::new_job(&project, &user.user_id, JobKind::Upload, &env)
        }
        other => {
            tracing::error!(message_type = %other, "a job started by an unexpected message");
            return Err(ApiError::internal());
        }
    };
    let submitted = jobs::submit(&state.db, state.bus.as_ref(), &job).await?;
    tracing::info!(job_id = %new_id, retry_of = %old.job_id, "job retried");
    Ok(accepted(new_id, &project, submitted))
}
