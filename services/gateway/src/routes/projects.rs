//! Projects and their data: CRUD, messages, files, logs, the complete view
//! and the summary.

use std::collections::{BTreeMap, HashMap};

use actix_web::{web, HttpResponse};
use bson::doc;
use serde::{Deserialize, Serialize};

use domain::documents::{Job, Project};
use domain::material::Material;
use domain::{FileType, JobStage, ProcessingStatus, ProjectSlug, ProjectStatus, S3Key};
use platform::jobs::{self, Advance, Origin};
use platform::mongo::PageRequest;

use super::docs::{openapi_schema, Table};
use super::{owned_project, page, PageParams, ProjectPath};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::startup::AppState;
use crate::views::{FilePage, FileView, LogView, MessagePage, MessageView, PageView, ProjectPage, ProjectView};

pub fn routes(t: &mut Table) {
    t.add::<__path_list, _, _>(list, None);
    t.add::<__path_create, _, _>(create, None);
    t.alias("/api/projects", "/api/projects/");
    t.add::<__path_get_project, _, _>(get_project, None);
    t.add::<__path_update, _, _>(update, None);
    t.add::<__path_delete, _, _>(delete, None);
    t.add::<__path_messages, _, _>(messages, None);
    t.add::<__path_files, _, _>(files, None);
    t.add::<__path_logs, _, _>(logs, None);
    t.add::<__path_complete, _, _>(complete, None);
    t.add::<__path_summary, _, _>(summary, None);
}

/// `?file_type=`: only files of that type.
#[allow(dead_code)] // read by the document; the handler reads the query itself
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FileTypeParam {
    /// `input`, `output`, `log` or `processed`.
    #[param(inline)]
    pub file_type: Option<FileTypeValue>,
}

/// A [`FileType`] in the document.
#[allow(dead_code)] // a shape for the document only
#[derive(schemars::JsonSchema)]
#[schemars(transparent)]
pub struct FileTypeValue(FileType);

openapi_schema!(Request: FileTypeValue);

/// Every material key, or `""` to clear it.
fn material_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut keys: Vec<serde_json::Value> = vec![serde_json::Value::Null, "".into()];
    keys.extend(Material::ALL.iter().map(|m| m.key().into()));
    schemars::json_schema!({ "type": ["string", "null"], "enum": keys })
}

type Query = web::Query<HashMap<String, String>>;

const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 2000;

pub fn check_name(raw: &str) -> ApiResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "project_name",
            format!("must be 1 to {MAX_NAME} printable characters"),
        ));
    }
    Ok(name.to_owned())
}

fn check_description(raw: &str) -> ApiResult<String> {
    if raw.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::bad_request(
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(raw.trim().to_owned())
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    #[schemars(length(max = 200), regex(pattern = NAME_PATTERN))]
    pub project_name: String,
    #[schemars(length(max = 2000))]
    pub description: Option<String>,
    /// The S3-safe name; derived from the name when absent (and then made
    /// unique with a suffix). A slug given here must be free (409 if not).
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9_-]{0,62}$"))]
    pub slug: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
// At least one field with a value: `null` counts as absent, so
// `{"material": null}` alone is as empty as `{}` (400).
#[schemars(extend("anyOf" = [
    {"required": ["project_name"], "properties": {"project_name": {"type": "string"}}},
    {"required": ["description"], "properties": {"description": {"type": "string"}}},
    {"required": ["material"], "properties": {"material": {"type": "string"}}},
]))]
pub struct ProjectUpdate {
    /// The slug stays as it is: S3 keys are built from it.
    #[schemars(length(max = 200), regex(pattern = NAME_PATTERN))]
    pub project_name: Option<String>,
    #[schemars(length(max = 2000))]
    pub description: Option<String>,
    /// What the part is made of, for its mass: `steel`, `stainless_steel`,
    /// `aluminium`, `brass`, `titanium`, `pla`, `abs`, `petg`, `nylon` or
    /// `wood`; an empty string clears it (no mass shown).
    #[serde(default)]
    #[schemars(schema_with = "material_schema")]
    pub material: Option<String>,
}

/// A name: printable, with something besides spaces.
pub const NAME_PATTERN: &str =
    r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$";

openapi_schema!(Request: NewProject, ProjectUpdate);
openapi_schema!(Response: DeletedView, LogsView, CompleteView, SummaryView);

#[utoipa::path(
    get,
    path = "/api/projects/",
    operation_id = "list_projects",
    tag = "projects",
    summary = "The caller's projects, newest activity first",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of projects.", body = ProjectPage),
    ),
)]
async fn list(state: web::Data<AppState>, user: AuthUser, query: Query) -> ApiResult<HttpResponse> {
    let page = page(&query)?;
    let found = state.db.projects().list_by_owner(&user.user_id, page).await?;
    Ok(HttpResponse::Ok().json(PageView::<ProjectView>::of(found)))
}

/// Creates and stores a project of `owner`.
pub async fn create_project(
    state: &AppState,
    user: &AuthUser,
    name: &str,
    description: Option<String>,
    slug: Option<ProjectSlug>,
) -> ApiResult<Project> {
    let mut project = jobs::new_project(name, &user.user_id)
        .or_else(|_| jobs::new_project(&format!("project {name}"), &user.user_id))
        .or_else(|_| jobs::new_project("untitled", &user.user_id))
        .map_err(|e| ApiError::bad_request("project_name", e))?;
    project.project_name = name.to_owned();
    project.metadata.description = description.filter(|d| !d.is_empty());
    if let Some(slug) = slug {
        if state.db.projects().get_by_slug(&slug).await?.is_some() {
            return Err(ApiError::conflict(format!("the slug {slug} is taken")));
        }
        project.slug = slug;
    }
    Ok(state.db.projects().create(project).await?)
}

#[utoipa::path(
    post,
    path = "/api/projects/",
    tag = "projects",
    summary = "Create a project",
    request_body = NewProject,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The project; `Location` is its URL.", body = ProjectView,
            headers(("Location" = String, description = "The project's URL.")),
            links(("project" = (operation_id = "get_project", parameters(("project" = "$response.body#/project_id")))))),
        (status = 409, description = "The slug is taken (`conflict`).", body = ErrorBody),
    ),
)]
async fn create(state: web::Data<AppState>, user: AuthUser, body: web::Json<NewProject>) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let name = check_name(&body.project_name)?;
    let description = body.description.as_deref().map(check_description).transpose()?;
    let slug = body
        .slug
        .as_deref()
        .map(|s| ProjectSlug::parse(s).map_err(|e| ApiError::bad_request("slug", e)))
        .transpose()?;
    let project = create_project(&state, &user, &name, description, slug).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/projects/{}", project.project_id)))
        .json(ProjectView::from(&project)))
}

#[utoipa::path(
    get,
    path = "/api/projects/{project}",
    tag = "projects",
    summary = "A project",
    params(ProjectPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The project.", body = ProjectView),
        (status = 404, description = "No such project, or not yours (`not_found`).", body = ErrorBody),
    ),
)]
async fn get_project(state: web::Data<AppState>, user: AuthUser, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let project = owned_project(&state, &user, &path).await?;
    Ok(HttpResponse::Ok().json(weighed(&state, &project).await?))
}

/// The project's view with the mass of its newest measured model.
async fn weighed(state: &AppState, project: &Project) -> ApiResult<ProjectView> {
    let view = ProjectView::from(project);
    if project.material.is_none() {
        return Ok(view);
    }
    let recent = state
        .db
        .jobs()
        .list_by_project(&project.project_id, PageRequest::new(20, 0))
        .await?;
    let newest = recent
        .items
        .iter()
        .filter(|j| j.stage == JobStage::Completed)
        .find_map(|j| j.metrics.as_ref());
    Ok(view.with_model(newest, project.material))
}

#[utoipa::path(
    put,
    path = "/api/projects/{project}",
    tag = "projects",
    summary = "Rename or describe a project, or set its material",
    description = "`material` is a key of the density table (steel 7.85, stainless_steel 7.93, aluminium 2.70, brass 8.50, titanium 4.43, pla 1.24, abs 1.04, petg 1.27, nylon 1.14, wood 0.70 g/cm³); an empty string clears it. With a material, the project and its jobs show `mass` (grams = volume in mm³ × density / 1000); without one, none. Fields left out stay as they are; at least one is needed.",
    params(ProjectPath),
    request_body = ProjectUpdate,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated project.", body = ProjectView),
        (status = 404, description = "No such project, or not yours (`not_found`).", body = ErrorBody),
    ),
)]
async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: web::Json<ProjectUpdate>,
) -> ApiResult<HttpResponse> {
    let project = owned_project(&state, &user, &path).await?;
    let body = body.into_inner();
    let mut set = doc! {};
    if let Some(name) = &body.project_name {
        set.insert("project_name", check_name(name)?);
    }
    if let Some(d) = &body.description {
        set.insert("metadata.description", check_description(d)?);
    }
    if let Some(m) = body.material.as_deref() {
        let material = match m {
            "" => bson::Bson::Null,
            key => {
                let material: Material = key.parse().map_err(|e| ApiError::bad_request("material", e))?;
                material.key().into()
            }
        };
        set.insert("material", material);
    }
    if set.is_empty() {
        return Err(ApiError::bad_request(
            "body",
            "nothing to update; give project_name, description or material",
        ));
    }
    state.db.projects().update_fields(&project.project_id, set).await?;
    let updated = state
        .db
        .projects()
        .get(&project.project_id)
        .await?
        .ok_or_else(|| ApiError::not_found("project"))?;
    Ok(HttpResponse::Ok().json(weighed(&state, &updated).await?))
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DeletedView {
    pub project_id: domain::ProjectId,
    pub slug: ProjectSlug,
    pub cancelled_jobs: u64,
    pub messages: u64,
    pub files: u64,
    pub logs: u64,
    pub jobs: u64,
    pub s3_objects: u64,
}

#[utoipa::path(
    delete,
    path = "/api/projects/{project}",
    tag = "projects",
    summary = "Delete a project with everything it has",
    description = "Cancels its live jobs, then removes its messages, files, logs, jobs and every S3 object under its prefixes.",
    params(ProjectPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What was removed.", body = DeletedView),
        (status = 404, description = "No such project, or not yours (`not_found`).", body = ErrorBody),
    ),
)]
async fn delete(state: web::Data<AppState>, user: AuthUser, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let project = owned_project(&state, &user, &path).await?;
    let db = &state.db;
    // Live jobs are cancelled first, so workers drop their late messages
    // instead of writing into a project that is going away.
    let mut cancelled = 0;
    for job in all_jobs(&state, &project)
        .await?
        .iter()
        .filter(|j| !j.stage.is_terminal())
    {
        let step = Advance::to(JobStage::Cancelled).detail("the project was deleted");
        let moved = jobs::advance(db, state.bus.as_ref(), &Origin::of_job(job), &project.slug, step).await;
        match moved {
            Ok(platform::mongo::Transition::Moved(_)) => cancelled += 1,
            Ok(_) => {}
            Err(e) => tracing::warn!(job_id = %job.job_id, error = %e, "could not cancel a job of a deleted project"),
        }
    }
    // The records go before the objects they name, so a reader never finds a
    // file listed whose object is gone; the project goes last, so a deletion
    // cut short is finished by asking again.
    let id = &project.project_id;
    let mut view = DeletedView {
        project_id: id.clone(),
        slug: project.slug.clone(),
        cancelled_jobs: cancelled,
        messages: db.messages().delete_by_project(id).await?,
        files: db.files().delete_by_project(id).await?,
        logs: db.logs().delete_by_project(id).await?,
        jobs: db.jobs().delete_by_project(id).await?,
        s3_objects: 0,
    };
    for prefix in S3Key::project_prefixes(&project.slug) {
        view.s3_objects += state.store.delete_prefix(&prefix).await? as u64;
    }
    db.projects().delete(id).await?;
    tracing::info!(project_id = %id, "project deleted");
    Ok(HttpResponse::Ok().json(view))
}

/// Every job of a project, page by page.
async fn all_jobs(state: &AppState, project: &Project) -> ApiResult<Vec<Job>> {
    let mut out = Vec::new();
    loop {
        let page = state
            .db
            .jobs()
            .list_by_project(&project.project_id, PageRequest::new(200, out.len() as u64))
            .await?;
        let done = page.items.len() < 200;
        out.extend(page.items);
        if done {
            return Ok(out);
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/projects/{project}/messages",
    tag = "project data",
    summary = "The conversation, oldest first",
    params(ProjectPath, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of messages.", body = MessagePage),
        (status = 404, description = "No such project, or not yours (`not_found`).", body = ErrorBody),
    ),
)]
async fn messages(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    query: Query,
) -> ApiResult<HttpResponse> {
    let page = page(&query)?;
    let project = owned_project(&state, &user, &path).await?;
    let found = state.db.messages().list(&project.project_id, page).await?;
    Ok(HttpResponse::Ok().json(PageView::<MessageView>::of(found)))
}

pub fn file_type(query: &HashMap<String, String>) -> ApiResult<Option<FileType>> {
    query
        .get("file_type")
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<FileType>().map_err(|e| ApiError::bad_request("file_type", e)))
        .transpose()
}

#[utoipa::path(
    get,
    path = "/api/projects/{project}/files",
    tag = "project data",
    summary = "The project's files, newest version first",
    params(ProjectPath, PageParams, FileTypeParam),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of files.", body = FilePage),
        (status = 404, description = "No such project, or not yours (`not_found`).", body = ErrorBody),
    ),
)]
async fn files(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    query: Query,
) -> ApiResult<HttpResponse> {
    let page = page(&query)?;
    let file_type = file_type(&query)?;
    let project = owned_project(&state, &user, &path).await?;
    let found = state.db.files().list(&project.project_id, file_type, page).await?;
    Ok(HttpResponse::Ok().json(PageView::<FileView>::of(found)))
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct LogFileView {
    pub key: String,
    pub file_name: String,
    pub size: u64,
    pub version: Option<domain::Version>,
    /// A pre-signed GET of the whole log, valid as long as download links.
    pub url: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct LogsView {
    pub project_id: domain::ProjectId,
    pub slug: ProjectSlug,
    /// The `logs` records (newest first, paged).
    pub items: Vec<LogView>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
    /// The run-log files under `logs/{slug}/` in S3.
    pub log_files: Vec<LogFileView>,
}

/// The processing logs: the records in MongoDB and the log files in S3.
#[utoipa::path(
    get,
    path = "/api/projects/{project}/logs",
    tag = "project data",
    summary = "Processing logs: the records and the run-log files in S3",
    params(ProjectPath, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Log records and log files.", body = LogsView),
        (status = 404, description = "No such project, or not yours (`not_found`).", body = ErrorBody),
    ),
)]
async fn logs(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    query: Query,
) -> ApiResult<HttpResponse> {
    let page = page(&query)?;
    let project = owned_project(&state, &user, &path).await?;
    let found = state.db.logs().list(&project.project_id, page).await?;
    let expires_in = state.presign_expiry;
    let mut log_files = Vec::new();
    for object in state.store.list(&format!("logs/{}/", project.slug)).await? {
        let Some(key) = S3Key::parse(&object.key) else { continue };
        log_files.push(LogFileView {
            file_name: key.file_name(),
            version: key.version(),
            url: state.store.presign_get(&object.key, expires_in).await?,
            key: object.key,
            size: object.size,
        });
    }
    log_files.sort_by(|a, b| b.key.cmp(&a.key));
    Ok(HttpResponse::Ok().json(LogsView {
        project_id: project.project_id.clone(),
        slug: project.slug.clone(),
        items: found.items.iter().map(LogView::from).collect(),
        total: found.total,
        limit: found.limit,
        offset: found.offset,
        log_files,
    }))
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CompleteView {
    pub project: ProjectView,
    /// Oldest first (at most 200).
    pub messages: Vec<MessageView>,
    /// Newest version first (at most 200).
    pub files: Vec<FileView>,
    /// The same files by `file_type`: `input`, `output`, `log`, `processed`.
    pub files_by_type: BTreeMap<String, Vec<FileView>>,
    /// Newest first (at most 200).
    pub logs: Vec<LogView>,
}

#[utoipa::path(
    get,
    path = "/api/projects/{project}/complete",
    tag = "project data",
    summary = "The project with its messages, files (also by type) and logs",
    params(ProjectPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Everything.", body = CompleteView),
        (status = 404, description = "No such project, or not yours (`not_found`).", body = ErrorBody),
    ),
)]
async fn complete(state: web::Data<AppState>, user: AuthUser, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let project = owned_project(&state, &user, &path).await?;
    let id = &project.project_id;
    let all = PageRequest::all();
    let messages = state.db.messages().list(id, all).await?;
    let files = state.db.files().list(id, None, all).await?;
    let logs = state.db.logs().list(id, all).await?;
    let mut files_by_type: BTreeMap<String, Vec<FileView>> =
        [FileType::Input, FileType::Output, FileType::Log, FileType::Processed]
            .iter()
            .map(|t| (t.as_str().to_owned(), Vec::new()))
            .collect();
    for f in &files.items {
        files_by_type
            .entry(f.file_type.as_str().to_owned())
            .or_default()
            .push(FileView::from(f));
    }
    Ok(HttpResponse::Ok().json(CompleteView {
        project: ProjectView::from(&project),
        messages: messages.items.iter().map(MessageView::from).collect(),
        files: files.items.iter().map(FileView::from).collect(),
        files_by_type,
        logs: logs.items.iter().map(LogView::from).collect(),
    }))
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SummaryView {
    pub project: ProjectView,
    pub status: ProjectStatus,
    pub processing_status: ProcessingStatus,
    pub current_version: u32,
    pub counts: Counts,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Counts {
    pub messages: u64,
    pub files: u64,
    /// Files by `file_type`.
    pub files_by_type: BTreeMap<String, u64>,
    pub logs: u64,
    pub jobs: u64,
}

#[utoipa::path(
    get,
    path = "/api/projects/{project}/summary",
    tag = "project data",
    summary = "Counts of the project's data",
    params(ProjectPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The summary.", body = SummaryView),
        (status = 404, description = "No such project, or not yours (`not_found`).", body = ErrorBody),
    ),
)]
async fn summary(state: web::Data<AppState>, user: AuthUser, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let project = owned_project(&state, &user, &path).await?;
    let id = &project.project_id;
    let one = PageRequest::new(1, 0);
    let mut files_by_type = BTreeMap::new();
    for t in [FileType::Input, FileType::Output, FileType::Log, FileType::Processed] {
        files_by_type.insert(
            t.as_str().to_owned(),
            state.db.files().list(id, Some(t), one).await?.total,
        );
    }
    let counts = Counts {
        messages: state.db.messages().count(id).await?,
        files: state.db.files().count(id).await?,
        files_by_type,
        logs: state.db.logs().count(id).await?,
        jobs: state.db.jobs().list_by_project(id, one).await?.total,
    };
    Ok(HttpResponse::Ok().json(SummaryView {
        status: project.status,
        processing_status: ProcessingStatus::of(Some(project.current_version), project.status),
        current_version: project.current_version,
        project: ProjectView::from(&project),
        counts,
    }))
}
