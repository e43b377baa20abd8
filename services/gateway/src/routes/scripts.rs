//! Scripts and model outputs of a project: versions, raw scripts, uploads
//! of a user's own script, output files, time-limited download links and
//! the processing status.

use std::collections::{BTreeMap, HashMap};

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use domain::documents::JobKind;
use domain::messages::ScriptUploaded;
use domain::{
    Envelope, FileType, JobId, JobStage, ModelFormat, ProcessingStatus, ProjectSlug, ProjectStatus, S3Key, Version,
};
use platform::jobs::{self, Submitted};
use platform::mongo::PageRequest;

use super::docs::{openapi_schema, Table};
use super::{owned_project, polled_project, ProjectPath};
use crate::archive;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::reads::Freshness;
use crate::startup::AppState;
use crate::telemetry::RequestId;
use crate::views::{AcceptedView, JobLinks};

/// Largest upload body: a 256 KiB script, JSON-escaped.
pub const UPLOAD_BODY_LIMIT: usize = 3 * cadgen::check::MAX_SCRIPT_BYTES;

pub fn routes(t: &mut Table) {
    t.add::<__path_scripts, _, _>(scripts, None);
    t.add::<__path_script, _, _>(script, None);
    t.add::<__path_upload, _, _>(upload, None);
    t.add::<__path_outputs, _, _>(outputs, None);
    t.add::<__path_download, _, _>(download, None);
    t.add::<__path_version_archive, _, _>(version_archive, None);
    t.add::<__path_status, _, _>(status, None);
}

/// `{format}` in a path: a model format, in any case.
pub struct FormatValue;

impl schemars::JsonSchema for FormatValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FormatName".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // Each letter in either case: `stl`, `STL` and `Stl` all name STL.
        let any_case = |ext: &str| -> String {
            ext.chars()
                .map(|c| match c.is_ascii_alphabetic() {
                    true => format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase()),
                    false => c.to_string(),
                })
                .collect()
        };
        let names: Vec<String> = ModelFormat::ALL.iter().map(|f| any_case(f.extension())).collect();
        schemars::json_schema!({ "type": "string", "pattern": format!("^({})$", names.join("|")) })
    }
}

/// A script sent as `text/x-python`: the body itself, never empty.
#[allow(dead_code)] // documents the raw body; the handler reads the bytes
#[derive(schemars::JsonSchema)]
#[schemars(transparent)]
pub struct PythonScript(#[schemars(length(min = 1))] String);

openapi_schema!(Request: PythonScript);

/// `?version=`: a version, 1, 2, 3…
#[allow(dead_code)] // read by the document; the handler reads the query itself
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionParam {
    /// A version; the latest (with outputs) by default.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 4294967295_u64)]
    pub version: Option<u32>,
}

/// `?redirect=`
#[allow(dead_code)] // read by the document; the handler reads the query itself
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RedirectParam {
    /// `true`: answer 307 to the link instead of JSON.
    pub redirect: Option<bool>,
}

/// `?file_name=`, for a script sent as text.
#[allow(dead_code)] // read by the document; the handler reads the query itself
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FileNameParam {
    /// A name to remember the script by (as in the JSON form).
    #[param(pattern = r"^([A-Za-z0-9_-][A-Za-z0-9._-]{0,96}\.py)?$")]
    pub file_name: Option<String>,
}

openapi_schema!(Request: ScriptUpload, FormatValue);
openapi_schema!(Response: ScriptsView, OutputsView, DownloadView, StatusView);

fn parse_version(s: &str, field: &str) -> ApiResult<Version> {
    s.parse::<Version>().map_err(|e| ApiError::bad_request(field, e))
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ScriptVersionView {
    pub version: Version,
    pub file_name: String,
    pub s3_key: String,
    pub size: Option<i64>,
    /// `user` for uploads, `cadscribe-ai/{provider}` for generated scripts.
    pub generated_by: Option<String>,
    pub job_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// `GET`: the raw script.
    pub url: String,
    /// `GET`: the part spec the script was compiled from, with its named
    /// dimensions; absent for uploaded and language-model scripts.
    pub spec_url: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ScriptsView {
    pub project_id: domain::ProjectId,
    pub slug: ProjectSlug,
    pub current_version: u32,
    /// Newest first.
    pub versions: Vec<ScriptVersionView>,
}

#[utoipa::path(
    get,
    path = "/api/projects/{project}/scripts",
    tag = "scripts",
    summary = "Every script version",
    params(ProjectPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The versions, newest first.", body = ScriptsView),
        (status = 404, description = "No such project, or not yours (`not_found`).", body = ErrorBody),
    ),
)]
async fn scripts(state: web::Data<AppState>, user: AuthUser, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let project = owned_project(&state, &user, &path).await?;
    let inputs = state
        .db
        .files()
        .list(&project.project_id, Some(FileType::Input), PageRequest::all())
        .await?;
    let with_spec: std::collections::BTreeSet<Version> = state
        .db
        .files()
        .list(&project.project_id, Some(FileType::Spec), PageRequest::all())
        .await?
        .items
        .iter()
        .map(|f| f.version)
        .collect();
    let versions = inputs
        .items
        .iter()
        .map(|f| ScriptVersionView {
            version: f.version,
            file_name: S3Key::input(&project.slug, f.version).file_name(),
            s3_key: f.s3_key.clone(),
            size: f.metadata.file_size,
            generated_by: f.metadata.generated_by.clone(),
            job_id: f.metadata.job_id.map(|id| id.to_string()),
            created_at: f.created_at,
            url: format!("/api/projects/{}/script/{}", project.slug, f.version),
            spec_url: with_spec
                .contains(&f.version)
                .then(|| format!("/api/projects/{}/spec?version={}", project.slug, f.version)),
        })
        .collect();
    Ok(HttpResponse::Ok().json(ScriptsView {
        project_id: project.project_id.clone(),
        slug: project.slug.clone(),
        current_version: project.current_version,
        versions,
    }))
}

#[utoipa::path(
    get,
    path = "/api/projects/{project}/script/{version}",
    tag = "scripts",
    summary = "The raw script of a version",
    params(ProjectPath, ("version" = u64, Path, minimum = 1, maximum = 4294967295_u64, description = "1, 2, 3…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The script.", content_type = "text/x-python", body = String,
            headers(("X-Script-Version" = u32, description = "The version."))),
        (status = 404, description = "No such project or version (`not_found`).", body = ErrorBody),
    ),
)]
async fn script(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (key, version) = path.into_inner();
    let version = parse_version(&version, "version")?;
    let project = owned_project(&state, &user, &key).await?;
    let s3_key = S3Key::input(&project.slug, version).to_string();
    let object = state
        .store
        .get(&s3_key)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("script version {version}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/x-python; charset=utf-8")
        .insert_header(("X-Script-Version", version.to_string()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "inline; filename=\"{}\"",
                S3Key::input(&project.slug, version).file_name()
            ),
        ))
        .body(object.bytes))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptUpload {
    /// The FreeCAD Python script (at most 256 KiB).
    #[schemars(length(min = 1, max = 65536), regex(pattern = r"\S"))]
    pub script: String,
    /// A name to remember it by (`[A-Za-z0-9._-]`, ending in `.py`, up to
    /// 100 characters); `script.py` when absent or empty.
    #[schemars(regex(pattern = r"^([A-Za-z0-9_-][A-Za-z0-9._-]{0,96}\.py)?$"))]
    pub file_name: Option<String>,
}

fn check_file_name(name: Option<&str>) -> ApiResult<String> {
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Ok("script.py".into());
    };
    let ok = name.len() <= 100
        && name.ends_with(".py")
        && name.len() > 3
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(name.to_owned())
    } else {
        Err(ApiError::bad_request(
            "file_name",
            "use up to 100 of A-Z, a-z, 0-9, '.', '_', '-', ending in .py",
        ))
    }
}

/// A user's own script: checked here (422 with every violation), then
/// versioned by the script-store through a `script.uploaded` job.
#[utoipa::path(
    post,
    path = "/api/projects/{project}/upload-script",
    tag = "scripts",
    summary = "Upload your own script as the next version",
    description = "Send JSON `{\"script\": \"…\", \"file_name\": \"mine.py\"}`, or the script itself as `text/x-python` (with `?file_name=`). The script is checked against the script contract first (422 lists every violation), then versioned, run by FreeCAD and followed like a generation.",
    params(ProjectPath, FileNameParam),
    request_body(content((ScriptUpload = "application/json"), (PythonScript = "text/x-python"))),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "The job started.", body = AcceptedView),
        (status = 400, description = "A malformed body or value; the message names the field (`bad_request`).", body = ErrorBody),
        (status = 413, description = "Over 256 KiB, or over the account's storage quota (`quota_exceeded`).", body = ErrorBody),
        (status = 415, description = "Neither JSON nor Python text (`unsupported_media_type`).", body = ErrorBody),
        (status = 422, description = "The script breaks the script contract; `details.violations` lists why (`unprocessable`).", body = ErrorBody),
        (status = 404, description = "No such project, or not yours (`not_found`).", body = ErrorBody),
    ),
)]
async fn upload(
    state: web::Data<AppState>,
    user: AuthUser,
    request_id: RequestId,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> ApiResult<HttpResponse> {
    let mime = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let is_json = mime == "application/json";
    let is_text = matches!(
        mime.as_str(),
        "text/x-python" | "text/plain" | "application/x-python" | "text/x-script.python"
    );
    if !is_json && !is_text {
        return Err(ApiError::unsupported_media_type(
            "send the script as application/json ({\"script\": …}) or as text/x-python",
        ));
    }
    let bytes = body
        .to_bytes_limited(UPLOAD_BODY_LIMIT)
        .await
        .map_err(|_| too_big())?
        .map_err(|_| unreadable())?;
    let (script, file_name) = if is_json {
        let upload: ScriptUpload = serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request("body", e))?;
        (upload.script, upload.file_name)
    } else {
        let query = web::Query::<HashMap<String, String>>::from_query(req.query_string())
            .map(|q| q.into_inner())
            .unwrap_or_default();
        let text =
            String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::bad_request("body", "the script is not UTF-8"))?;
        (text, query.get("file_name").cloned())
    };
    let file_name = check_file_name(file_name.as_deref())?;
    if script.len() > cadgen::check::MAX_SCRIPT_BYTES {
        return Err(too_big());
    }
    if script.trim().is_empty() {
        return Err(ApiError::bad_request("script", "must not be empty"));
    }
    let project = owned_project(&state, &user, &path).await?;
    let checked = {
        let script = script.clone();
        web::block(move || cadgen::check_script(&script)).await?
    };
    if let Err(violations) = checked {
        let details: Vec<serde_json::Value> = violations
            .iter()
            .map(|v| serde_json::json!({ "line": v.line, "kind": format!("{:?}", v.kind), "message": v.message }))
            .collect();
        return Err(ApiError::unprocessable(format!(
            "the script breaks {} rule(s) of the script contract",
            violations.len()
        ))
        .with_details(serde_json::json!({ "violations": details })));
    }
    crate::quota::admit(&state, &user).await?;
    let message = ScriptUploaded {
        slug: project.slug.clone(),
        user_id: user.user_id.clone(),
        file_name,
        script,
    };
    let env = Envelope::new(JobId::generate(), project.project_id.clone(), message).with_request_id(Some(request_id.0));
    let job = jobs::new_job(&project, &user.user_id, JobKind::Upload, &env);
    let submitted = jobs::submit(&state.db, state.bus.as_ref(), &job).await?;
    Ok(accepted(job.job_id, &project, submitted))
}

fn unreadable() -> ApiError {
    ApiError::bad_request("body", "could not read the body")
}

fn too_big() -> ApiError {
    ApiError::too_large(format!(
        "the script is larger than {} KiB",
        cadgen::check::MAX_SCRIPT_BYTES / 1024
    ))
}

/// `202 Accepted` for a started job, with where to follow it.
pub fn accepted(job_id: JobId, project: &domain::documents::Project, submitted: Submitted) -> HttpResponse {
    let links = JobLinks::new(job_id, &project.project_id, &project.slug);
    HttpResponse::Accepted()
        .insert_header((header::LOCATION, links.job.clone()))
        .json(AcceptedView {
            job_id,
            project_id: project.project_id.clone(),
            slug: project.slug.clone(),
            stage: JobStage::Queued,
            published: submitted == Submitted::Published,
            links,
        })
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct OutputView {
    pub version: Version,
    pub format: ModelFormat,
    pub file_name: String,
    pub s3_key: String,
    pub size: Option<i64>,
    pub content_type: Option<String>,
    pub created_at: DateTime<Utc>,
    /// `GET`: a pre-signed download link for this file.
    pub download: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct OutputsView {
    pub project_id: domain::ProjectId,
    pub slug: ProjectSlug,
    /// The newest version with outputs.
    pub latest_version: Option<Version>,
    /// Newest version first.
    pub outputs: Vec<OutputView>,
    /// The same, by version.
    pub by_version: BTreeMap<String, Vec<OutputView>>,
}

/// The recorded model files of a project, newest version first.
async fn output_files(state: &AppState, project: &domain::documents::Project) -> ApiResult<Vec<OutputView>> {
    let files = state
        .db
        .files()
        .list(&project.project_id, Some(FileType::Output), PageRequest::all())
        .await?;
    let mut out: Vec<OutputView> = files
        .items
        .iter()
        .filter_map(|f| {
            let format = match S3Key::parse(&f.s3_key)? {
                S3Key::Output { format, .. } | S3Key::FlatOutput { format, .. } => format,
                _ => return None,
            };
            Some(OutputView {
                version: f.version,
                format,
                file_name: f.s3_key.rsplit('/').next().unwrap_or_default().to_owned(),
                s3_key: f.s3_key.clone(),
                size: f.metadata.file_size,
                content_type: f.metadata.content_type.clone(),
                created_at: f.created_at,
                download: format!(
                    "/api/projects/{}/download/{}?version={}",
                    project.slug, format, f.version
                ),
            })
        })
        .collect();
    out.sort_by(|a, b| b.version.cmp(&a.version).then(a.format.cmp(&b.format)));
    Ok(out)
}

#[utoipa::path(
    get,
    path = "/api/projects/{project}/outputs",
    tag = "scripts",
    summary = "The model files of every version",
    params(ProjectPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Output files.", body = OutputsView),
        (status = 404, description = "No such project, or not yours (`not_found`).", body = ErrorBody),
    ),
)]
async fn outputs(state: web::Data<AppState>, user: AuthUser, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let project = owned_project(&state, &user, &path).await?;
    let outputs = output_files(&state, &project).await?;
    let mut by_version: BTreeMap<String, Vec<OutputView>> = BTreeMap::new();
    for o in &outputs {
        by_version.entry(o.version.to_string()).or_default().push(o.clone());
    }
    Ok(HttpResponse::Ok().json(OutputsView {
        project_id: project.project_id.clone(),
        slug: project.slug.clone(),
        latest_version: outputs.first().map(|o| o.version),
        outputs,
        by_version,
    }))
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DownloadView {
    /// Pre-signed GET URL; fetch it with any HTTP client, no token needed.
    pub url: String,
    pub expires_in: u64,
    pub expires_at: DateTime<Utc>,
    pub format: ModelFormat,
    pub version: Version,
    pub file_name: String,
    pub size: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/projects/{project}/download/{format}",
    tag = "scripts",
    summary = "A time-limited download link for a model file",
    params(ProjectPath, ("format" = inline(FormatValue), Path, description = "FCStd, STEP, STL, OBJ, GLB, 3MF or PNG, in any case."), VersionParam, RedirectParam),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A pre-signed URL.", body = DownloadView),
        (status = 307, description = "With `redirect=true`: to the pre-signed URL.",
            headers(("Location" = String, description = "The pre-signed URL."))),
        (status = 404, description = "No such project or output (`not_found`).", body = ErrorBody),
    ),
)]
async fn download(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, String)>,
    query: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let (key, format) = path.into_inner();
    let format: ModelFormat = format.parse().map_err(|e: String| ApiError::bad_request("format", e))?;
    let version = query.get("version").map(|v| parse_version(v, "version")).transpose()?;
    let redirect = match query.get("redirect").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::bad_request("redirect", "expected true or false")),
    };
    let project = owned_project(&state, &user, &key).await?;
    let file = output_files(&state, &project)
        .await?
        .into_iter()
        .find(|o| o.format == format && version.is_none_or(|v| o.version == v))
        .ok_or_else(|| match version {
            Some(v) => ApiError::not_found(format!("{format} output of version {v}")),
            None => ApiError::not_found(format!("{format} output")),
        })?;
    let expires_in = state.presign_expiry;
    let url = state.store.presign_get(&file.s3_key, expires_in).await?;
    if redirect {
        return Ok(HttpResponse::TemporaryRedirect()
            .insert_header((header::LOCATION, url))
            .finish());
    }
    Ok(HttpResponse::Ok().json(DownloadView {
        url,
        expires_in: expires_in.as_secs(),
        expires_at: Utc::now() + chrono::Duration::from_std(expires_in).unwrap_or_default(),
        format,
        version: file.version,
        file_name: file.file_name,
        size: file.size,
    }))
}

/// Every file of one version in one ZIP (`{slug}_v{n}.zip` holding
/// `{slug}_v{n}.{ext}` of each format), built in memory within
/// [`archive::MAX_BYTES`].
#[utoipa::path(
    get,
    path = "/api/projects/{project}/archive",
    tag = "scripts",
    summary = "Every file of a version in one ZIP",
    description = "`{slug}_v{n}.zip` holding `{slug}_v{n}.{ext}` for each format of the version (the model files and the picture). Built on request, up to 256 MiB of files; larger versions are downloaded one file at a time.",
    params(ProjectPath, VersionParam),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The archive.", content_type = "application/zip", body = Vec<u8>),
        (status = 404, description = "No such project, or no outputs (of that version) (`not_found`).", body = ErrorBody),
        (status = 413, description = "The version's files are over 256 MiB together (`payload_too_large`).", body = ErrorBody),
    ),
)]
async fn version_archive(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let version = query.get("version").map(|v| parse_version(v, "version")).transpose()?;
    let project = owned_project(&state, &user, &path).await?;
    let outputs = output_files(&state, &project).await?;
    let Some(version) = version.or_else(|| outputs.first().map(|o| o.version)) else {
        return Err(ApiError::not_found("output"));
    };
    let files: Vec<OutputView> = outputs.into_iter().filter(|o| o.version == version).collect();
    if files.is_empty() {
        return Err(ApiError::not_found(format!("output of version {version}")));
    }
    let too_large = || {
        ApiError::too_large(format!(
            "the files of version {version} are over the archive limit of {} MiB; download them one by one",
            archive::MAX_BYTES >> 20
        ))
    };
    let declared: i64 = files.iter().filter_map(|f| f.size).sum();
    if declared as u64 > archive::MAX_BYTES {
        return Err(too_large());
    }
    let stem = format!("{}_v{}", project.slug, version);
    let fetched = futures::future::try_join_all(files.iter().map(|f| async {
        let object = state.store.get(&f.s3_key).await?;
        Ok::<_, ApiError>(object.map(|o| archive::Entry {
            name: format!("{stem}.{}", f.format.extension()),
            bytes: o.bytes,
        }))
    }))
    .await?;
    let entries: Vec<archive::Entry> = fetched.into_iter().flatten().collect();
    if entries.is_empty() {
        return Err(ApiError::not_found(format!("output of version {version}")));
    }
    if entries.iter().map(|e| e.bytes.len() as u64).sum::<u64>() > archive::MAX_BYTES {
        return Err(too_large());
    }
    let modified = files.iter().map(|f| f.created_at).max().unwrap_or_else(Utc::now);
    let zip = tokio::task::spawn_blocking(move || archive::zip(&entries, modified))
        .await
        .map_err(|e| {
            tracing::error!(%e, "building an archive stopped");
            ApiError::internal()
        })?
        .map_err(|e| {
            tracing::error!(%e, "building an archive failed");
            ApiError::internal()
        })?;
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{stem}.zip\""),
        ))
        .body(zip))
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct LatestJobView {
    pub job_id: JobId,
    pub stage: JobStage,
    pub label: String,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StatusView {
    pub project_id: domain::ProjectId,
    pub slug: ProjectSlug,
    /// `no_scripts`, `processing`, `completed`, `timeout` or `error`.
    pub status: ProcessingStatus,
    pub project_status: ProjectStatus,
    pub current_version: u32,
    pub latest_job: Option<LatestJobView>,
}

#[utoipa::path(
    get,
    path = "/api/projects/{project}/status",
    tag = "scripts",
    summary = "Processing status: no_scripts, processing, completed, timeout or error",
    params(ProjectPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The status.", body = StatusView),
        (status = 404, description = "No such project, or not yours (`not_found`).", body = ErrorBody),
    ),
)]
async fn status(state: web::Data<AppState>, user: AuthUser, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let project = polled_project(&state, &user, &path).await?;
    let latest = state
        .reads
        .latest_job(&state.db, &project.project_id, Freshness::Recent)
        .await?;
    let latest_job = latest.as_ref().map(|j| LatestJobView {
        job_id: j.job_id,
        stage: j.stage,
        label: j.stage.label().to_owned(),
        error: j.error.clone(),
    });
    Ok(HttpResponse::Ok().json(StatusView {
        project_id: project.project_id.clone(),
        slug: project.slug.clone(),
        // A job under way is processing, even before its first script exists.
        status: match latest_job.as_ref() {
            Some(j) if !j.stage.is_terminal() => ProcessingStatus::Processing,
            _ => ProcessingStatus::of(Some(project.current_version), project.status),
        },
        project_status: project.status,
        current_version: project.current_version,
        latest_job,
    }))
}
