//! What the API answers: JSON views of the stored documents.
//!
//! Stored documents keep BSON dates and free-form BSON metadata; views carry
//! RFC 3339 times and plain JSON, and add what a client needs next (the
//! processing status, the links to follow a job). Each view describes its
//! own schema for the OpenAPI document.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use domain::documents::{FileRecord, Job, LogRecord, Message, Project, User};
use domain::material::Material;
use domain::messages::{ModelMetrics, Question};
use domain::verify::{Expectations, Verification};
use domain::{
    Diagnosis, FileType, JobId, JobStage, ProcessingStatus, ProjectId, ProjectSlug, ProjectStatus, UserId, Version,
};

/// Free-form stored metadata as plain JSON.
/// A stored metadata sub-document as JSON (dates and the like in relaxed
/// extended JSON, as stored).
pub fn metadata_json<M: Serialize>(metadata: &M) -> serde_json::Value {
    bson::to_bson(metadata).map_or(serde_json::Value::Null, bson::Bson::into_relaxed_extjson)
}

fn snake<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[derive(Debug, Serialize, JsonSchema)]
// One schema per item type: a single `PageView` would describe every list
// as a page of whichever item was documented first.
#[schemars(rename = "{T}Page")]
pub struct PageView<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

impl<T> PageView<T> {
    pub fn of<D>(page: platform::mongo::Page<D>) -> Self
    where
        T: for<'a> From<&'a D>,
    {
        Self {
            items: page.items.iter().map(T::from).collect(),
            total: page.total,
            limit: page.limit,
            offset: page.offset,
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UserView {
    pub user_id: UserId,
    pub email: String,
    /// `user` or `admin`.
    pub role: String,
    pub created_at: Option<DateTime<Utc>>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            user_id: u.user_id.clone(),
            email: u.email.clone(),
            role: snake(&u.role),
            created_at: Some(u.created_at),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TokenView {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
    pub user: UserView,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ProjectView {
    pub project_id: ProjectId,
    pub project_name: String,
    /// The S3-safe name used in keys and in the scripts API.
    pub slug: ProjectSlug,
    pub description: Option<String>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Latest stored script version; 0 while there is none.
    pub current_version: u32,
    pub status: ProjectStatus,
    pub processing_status: ProcessingStatus,
    pub ai_model_used: Option<String>,
    pub latest_s3_input: Option<String>,
    pub latest_s3_output: Vec<String>,
    /// What the part is made of (`PUT /api/projects/{project}` sets it);
    /// absent when none was chosen, and then no mass is shown.
    pub material: Option<MaterialView>,
    /// The mass of the newest model, on single-project reads (`GET` and
    /// `PUT /api/projects/{project}`), when there is a material and a
    /// measured model; absent from lists.
    pub mass: Option<MassView>,
    pub metadata: serde_json::Value,
}

/// A material of the density table.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MaterialView {
    /// The key: `steel`, `stainless_steel`, `aluminium`, `brass`,
    /// `titanium`, `pla`, `abs`, `petg`, `nylon` or `wood`.
    pub material: Material,
    /// "Stainless steel", "PLA"…
    pub name: String,
    pub density_g_cm3: f64,
}

impl From<Material> for MaterialView {
    fn from(m: Material) -> Self {
        Self {
            material: m,
            name: m.name().to_owned(),
            density_g_cm3: m.density_g_cm3(),
        }
    }
}

/// What a model weighs in its project's material: volume (mm³) × density
/// (g/cm³) / 1000.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MassView {
    pub grams: f64,
    pub material: MaterialView,
}

impl MassView {
    pub fn of(metrics: &ModelMetrics, material: Material) -> Self {
        Self {
            grams: material.mass_g(metrics.volume),
            material: material.into(),
        }
    }
}

impl ProjectView {
    /// The view with the mass of `newest`, the project's newest measured model.
    pub fn with_model(mut self, newest: Option<&ModelMetrics>, material: Option<Material>) -> Self {
        self.mass = newest.zip(material).map(|(m, material)| MassView::of(m, material));
        self
    }
}

impl From<&Project> for ProjectView {
    fn from(p: &Project) -> Self {
        Self {
            project_id: p.project_id.clone(),
            project_name: p.project_name.clone(),
            slug: p.slug.clone(),
            description: p.metadata.description.clone(),
            created_by: p.created_by.clone(),
            created_at: p.created_at,
            updated_at: p.updated_at,
            current_version: p.current_version,
            status: p.status,
            processing_status: ProcessingStatus::of(Some(p.current_version), p.status),
            ai_model_used: p.ai_model_used.clone(),
            latest_s3_input: p.latest_s3_input.clone(),
            latest_s3_output: p.latest_s3_output.clone(),
            material: p.material.map(MaterialView::from),
            mass: None,
            metadata: metadata_json(&p.metadata),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MessageView {
    pub message_id: String,
    pub project_id: ProjectId,
    pub user_id: UserId,
    /// `user`, `assistant` or `system`.
    pub role: String,
    pub content: String,
    pub timestamp: DateTime<Utc>,
    pub job_id: Option<JobId>,
    pub metadata: serde_json::Value,
}

impl From<&Message> for MessageView {
    fn from(m: &Message) -> Self {
        Self {
            message_id: m.message_id.clone(),
            project_id: m.project_id.clone(),
            user_id: m.user_id.clone(),
            role: snake(&m.role),
            content: m.content.clone(),
            timestamp: m.timestamp,
            job_id: m.job_id,
            metadata: metadata_json(&m.metadata),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FileView {
    pub project_id: ProjectId,
    pub version: Version,
    pub file_type: FileType,
    pub file_name: String,
    pub s3_path: String,
    pub s3_key: String,
    pub size: Option<i64>,
    pub content_type: Option<String>,
    pub timestamp: DateTime<Utc>,
    pub metadata: serde_json::Value,
}

impl From<&FileRecord> for FileView {
    fn from(f: &FileRecord) -> Self {
        Self {
            project_id: f.project_id.clone(),
            version: f.version,
            file_type: f.file_type,
            file_name: f.s3_key.rsplit('/').next().unwrap_or_default().to_owned(),
            s3_path: f.s3_path.clone(),
            s3_key: f.s3_key.clone(),
            size: f.metadata.file_size,
            content_type: f.metadata.content_type.clone(),
            timestamp: f.timestamp,
            metadata: metadata_json(&f.metadata),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LogView {
    pub project_id: ProjectId,
    pub version: Version,
    pub s3_log_path: String,
    pub log_summary: String,
    pub timestamp: DateTime<Utc>,
    pub metadata: serde_json::Value,
}

impl From<&LogRecord> for LogView {
    fn from(l: &LogRecord) -> Self {
        Self {
            project_id: l.project_id.clone(),
            version: l.version,
            s3_log_path: l.s3_log_path.clone(),
            log_summary: l.log_summary.clone(),
            timestamp: l.timestamp,
            metadata: metadata_json(&l.metadata),
        }
    }
}

/// Where to follow a job.
#[derive(Debug, Serialize, JsonSchema)]
pub struct JobLinks {
    /// `GET`: the job.
    pub job: String,
    /// `GET`: Server-Sent Events of the project's jobs.
    pub events: String,
    /// `GET`: the project's processing status.
    pub status: String,
}

impl JobLinks {
    pub fn new(job: JobId, project: &ProjectId, slug: &ProjectSlug) -> Self {
        Self {
            job: format!("/api/jobs/{job}"),
            events: format!("/api/projects/{project}/events"),
            status: format!("/api/projects/{slug}/status"),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StageView {
    pub stage: JobStage,
    pub label: String,
    pub at: DateTime<Utc>,
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct JobView {
    pub job_id: JobId,
    pub project_id: ProjectId,
    pub slug: ProjectSlug,
    /// `generate` or `upload`.
    pub kind: String,
    pub stage: JobStage,
    /// What a person sees: "Generating script…", "Model ready"…
    pub label: String,
    pub terminal: bool,
    pub version: Option<Version>,
    pub error: Option<String>,
    pub history: Vec<StageView>,
    pub repair_attempts: u32,
    /// Volume, area, bounding box, centre of mass and inertia (unit
    /// density, mm⁵) of the model.
    pub metrics: Option<ModelMetrics>,
    /// The model's mass in its project's material; absent while the
    /// project has no material or the job no measured model.
    pub mass: Option<MassView>,
    /// What the model must measure (from the part spec or the prompt).
    pub expected: Option<Expectations>,
    /// Each check of the built model against `expected`; a completed job
    /// always carries a passing one.
    pub verification: Option<Verification>,
    /// "Verified · volume 44 108 mm³ ✓ · 80 × 80 × 10 mm ✓".
    pub verification_summary: Option<String>,
    /// Why a failed job failed: class, script line and its text, FreeCAD's
    /// console messages and a suggestion.
    pub diagnosis: Option<Diagnosis>,
    /// What a `needs_input` job asks; the project's next message answers it.
    pub question: Option<Question>,
    /// Format → S3 key of each model file.
    pub outputs: BTreeMap<String, String>,
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub links: JobLinks,
}

impl From<&Job> for JobView {
    fn from(j: &Job) -> Self {
        Self {
            job_id: j.job_id,
            project_id: j.project_id.clone(),
            slug: j.slug.clone(),
            kind: snake(&j.kind),
            stage: j.stage,
            label: j.stage.label().to_owned(),
            terminal: j.stage.is_terminal(),
            version: j.version,
            error: j.error.clone(),
            history: j
                .history
                .iter()
                .map(|h| StageView {
                    stage: h.stage,
                    label: h.stage.label().to_owned(),
                    at: h.at,
                    detail: h.detail.clone(),
                })
                .collect(),
            repair_attempts: j.repair_attempts,
            metrics: j.metrics.clone(),
            mass: None,
            expected: j.expected.clone(),
            verification: j.verification.clone(),
            verification_summary: j
                .verification
                .as_ref()
                .zip(j.metrics.as_ref())
                .map(|(v, m)| v.summary(m)),
            diagnosis: j.diagnosis.clone(),
            question: j.question.clone(),
            outputs: j.outputs.clone(),
            request_id: j.request_id.clone(),
            created_at: j.created_at,
            updated_at: j.updated_at,
            finished_at: j.finished_at,
            links: JobLinks::new(j.job_id, &j.project_id, &j.slug),
        }
    }
}

impl JobView {
    /// Adds the mass of the model in `material`, its project's.
    pub fn weigh(&mut self, material: Option<Material>) {
        self.mass = self
            .metrics
            .as_ref()
            .zip(material)
            .map(|(m, material)| MassView::of(m, material));
    }
}

/// The answer to a request that started a job (`202 Accepted`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct AcceptedView {
    pub job_id: JobId,
    pub project_id: ProjectId,
    pub slug: ProjectSlug,
    pub stage: JobStage,
    /// Whether the request reached the broker now; when false, the job is
    /// stored and will be published as soon as the broker is back.
    pub published: bool,
    pub links: JobLinks,
}

/// The pages the API answers, by name for the OpenAPI document.
pub type ProjectPage = PageView<ProjectView>;
pub type MessagePage = PageView<MessageView>;
pub type FilePage = PageView<FileView>;
pub type JobPage = PageView<JobView>;

crate::routes::docs::openapi_schema!(
    Response: ProjectPage,
    MessagePage,
    FilePage,
    JobPage,
    UserView,
    TokenView,
    ProjectView,
    MessageView,
    FileView,
    JobView,
    AcceptedView,
);
