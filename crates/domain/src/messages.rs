//! Messages between services: one JSON envelope, one payload type per
//! routing key. The routing key of a message is its `type`.
//!
//! ```json
//! { "message_id": "uuid", "type": "script.stored", "job_id": "uuid",
//!   "project_id": "project-…", "attempt": 1, "created_at": "RFC 3339",
//!   "traceparent": "…", "request_id": "…", "payload": { … } }
//! ```

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::diagnosis::Diagnosis;
use crate::documents::{Message, MessageMetadata, Role};
use crate::spec::PartSpec;
use crate::verify::{Expectations, Verification};
use crate::{JobId, JobStage, ModelFormat, ProjectId, ProjectSlug, S3Key, UserId, Version};

/// Every routing key of the `cadscribe` exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum MessageType {
    #[serde(rename = "generation.requested")]
    GenerationRequested,
    #[serde(rename = "generation.repair")]
    GenerationRepair,
    #[serde(rename = "script.generated")]
    ScriptGenerated,
    #[serde(rename = "script.uploaded")]
    ScriptUploaded,
    #[serde(rename = "script.stored")]
    ScriptStored,
    #[serde(rename = "model.built")]
    ModelBuilt,
    #[serde(rename = "model.failed")]
    ModelFailed,
    #[serde(rename = "job.status")]
    JobStatus,
    #[serde(rename = "service.heartbeat")]
    ServiceHeartbeat,
}

impl MessageType {
    pub const ALL: [MessageType; 9] = [
        Self::GenerationRequested,
        Self::GenerationRepair,
        Self::ScriptGenerated,
        Self::ScriptUploaded,
        Self::ScriptStored,
        Self::ModelBuilt,
        Self::ModelFailed,
        Self::JobStatus,
        Self::ServiceHeartbeat,
    ];

    pub fn routing_key(self) -> &'static str {
        match self {
            Self::GenerationRequested => "generation.requested",
            Self::GenerationRepair => "generation.repair",
            Self::ScriptGenerated => "script.generated",
            Self::ScriptUploaded => "script.uploaded",
            Self::ScriptStored => "script.stored",
            Self::ModelBuilt => "model.built",
            Self::ModelFailed => "model.failed",
            Self::JobStatus => "job.status",
            Self::ServiceHeartbeat => "service.heartbeat",
        }
    }

    pub fn from_routing_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.routing_key() == key)
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.routing_key())
    }
}

/// A payload knows its own message type.
pub trait Payload: Serialize + DeserializeOwned + JsonSchema + Clone + Send + Sync + 'static {
    const TYPE: MessageType;
}

/// The envelope with its payload still as JSON: what the bus moves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RawEnvelope {
    pub message_id: uuid::Uuid,
    #[serde(rename = "type")]
    pub message_type: MessageType,
    pub job_id: JobId,
    pub project_id: ProjectId,
    /// 1 on first delivery; raised by the bus on each retry.
    pub attempt: u32,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// The HTTP request that started the job, to follow it across services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub payload: serde_json::Value,
}

/// A typed envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<P> {
    pub message_id: uuid::Uuid,
    pub job_id: JobId,
    pub project_id: ProjectId,
    pub attempt: u32,
    pub created_at: DateTime<Utc>,
    pub traceparent: Option<String>,
    pub request_id: Option<String>,
    pub payload: P,
}

#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("message is not a valid envelope: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("expected a {expected} message, got {got}")]
    WrongType { expected: MessageType, got: MessageType },
}

impl<P: Payload> Envelope<P> {
    pub fn new(job_id: JobId, project_id: ProjectId, payload: P) -> Self {
        Self {
            message_id: uuid::Uuid::new_v4(),
            job_id,
            project_id,
            attempt: 1,
            created_at: Utc::now(),
            traceparent: None,
            request_id: None,
            payload,
        }
    }

    /// A follow-up message in the same job, carrying its trace and request id.
    pub fn follow<Q: Payload>(&self, payload: Q) -> Envelope<Q> {
        Envelope {
            traceparent: self.traceparent.clone(),
            request_id: self.request_id.clone(),
            ..Envelope::new(self.job_id, self.project_id.clone(), payload)
        }
    }

    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }

    pub fn into_raw(self) -> RawEnvelope {
        RawEnvelope {
            message_id: self.message_id,
            message_type: P::TYPE,
            job_id: self.job_id,
            project_id: self.project_id,
            attempt: self.attempt,
            created_at: self.created_at,
            traceparent: self.traceparent,
            request_id: self.request_id,
            payload: serde_json::to_value(&self.payload).expect("payloads serialize"),
        }
    }

    pub fn from_raw(raw: RawEnvelope) -> Result<Self, EnvelopeError> {
        if raw.message_type != P::TYPE {
            return Err(EnvelopeError::WrongType {
                expected: P::TYPE,
                got: raw.message_type,
            });
        }
        Ok(Self {
            message_id: raw.message_id,
            job_id: raw.job_id,
            project_id: raw.project_id,
            attempt: raw.attempt,
            created_at: raw.created_at,
            traceparent: raw.traceparent,
            request_id: raw.request_id,
            payload: serde_json::from_value(raw.payload)?,
        })
    }
}

impl RawEnvelope {
    pub fn from_slice(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        Ok(serde_json::from_slice(bytes)?)
    }

    pub fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("envelopes serialize")
    }

    pub fn decode<P: Payload>(self) -> Result<Envelope<P>, EnvelopeError> {
        Envelope::from_raw(self)
    }
}

/// Where a script came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ScriptSource {
    /// Written by an AI provider (`template`, `openai`, …) and model.
    Generated { provider: String, model: String },
    /// Uploaded by the user through the API.
    Uploaded { file_name: String },
}

/// The provider name of the embedded offline generator (`AI_PROVIDER`).
pub const TEMPLATE_PROVIDER: &str = "template";

impl ScriptSource {
    /// Only LLM scripts are sent back for repair; the template generator is
    /// deterministic and a user's script is theirs.
    pub fn is_repairable(&self) -> bool {
        matches!(self, Self::Generated { provider, .. } if provider != TEMPLATE_PROVIDER)
    }
}

/// `generation.requested`: a prompt to turn into a script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GenerationRequested {
    pub slug: ProjectSlug,
    pub user_id: UserId,
    pub prompt: String,
    /// Iterate on this version's script ("make the holes bigger").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_version: Option<Version>,
    /// A part spec to build as it is (a parameter edited in the client):
    /// compiled without any model, whatever the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<PartSpec>,
}

impl Payload for GenerationRequested {
    const TYPE: MessageType = MessageType::GenerationRequested;
}

/// `generation.repair`: a generated script failed in FreeCAD; try again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GenerationRepair {
    pub slug: ProjectSlug,
    pub user_id: UserId,
    pub prompt: String,
    pub failed_version: Version,
    pub error: String,
    /// 1 for the first repair.
    pub repair_attempt: u32,
}

impl Payload for GenerationRepair {
    const TYPE: MessageType = MessageType::GenerationRepair;
}

/// `script.generated`: a checked script, ready to be versioned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScriptGenerated {
    pub slug: ProjectSlug,
    pub user_id: UserId,
    pub prompt: String,
    pub script: String,
    pub source: ScriptSource,
    #[serde(default)]
    pub repair_attempt: u32,
    /// The part spec the script was compiled from, stored beside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<PartSpec>,
    /// Milliseconds spent writing the script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_ms: Option<u64>,
    /// What the model must measure (from the spec, or from the prompt for
    /// a language model's script); the script store records it on the job
    /// with the stage change to uploading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expectations>,
    /// The assistant's reply that came with the script: the script store
    /// records it in the conversation with the version the script became,
    /// in one write. Without it (a message from an earlier generator, which
    /// recorded its reply itself) the store notes the version on that one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<Reply>,
}

/// An assistant's reply, as the generator wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Reply {
    pub content: String,
    /// When it was written.
    pub at: DateTime<Utc>,
    /// The model or generator that wrote it, and the provider behind it.
    pub source_model: String,
    pub provider: String,
    /// Seconds the generator took.
    pub response_time: f64,
    #[serde(default)]
    pub prompt_tokens: u32,
    #[serde(default)]
    pub completion_tokens: u32,
}

impl Reply {
    /// The reply as a message of job `job`'s conversation, for its attempt
    /// `repair_attempt` (one message per attempt, by its id).
    pub fn message(self, job: JobId, project: ProjectId, user: UserId, repair_attempt: u32) -> Message {
        Message {
            message_id: job.reply_message_id(repair_attempt),
            project_id: project,
            user_id: user,
            role: Role::Assistant,
            content: self.content,
            timestamp: self.at,
            job_id: Some(job),
            metadata: MessageMetadata {
                source_model: Some(self.source_model),
                provider: Some(self.provider),
                response_time: Some(self.response_time),
                prompt_tokens: Some(self.prompt_tokens),
                completion_tokens: Some(self.completion_tokens),
                repair_attempt: Some(repair_attempt),
                job_id: Some(job),
                ..MessageMetadata::default()
            },
            created_at: self.at,
            updated_at: self.at,
        }
    }
}

impl Payload for ScriptGenerated {
    const TYPE: MessageType = MessageType::ScriptGenerated;
}

/// `script.uploaded`: a user's own script from the API, already checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScriptUploaded {
    pub slug: ProjectSlug,
    pub user_id: UserId,
    pub file_name: String,
    pub script: String,
}

impl Payload for ScriptUploaded {
    const TYPE: MessageType = MessageType::ScriptUploaded;
}

/// `script.stored`: version `version` is in S3 at `input_key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScriptStored {
    pub slug: ProjectSlug,
    pub user_id: UserId,
    pub version: Version,
    pub input_key: S3Key,
    pub source: ScriptSource,
    #[serde(default)]
    pub prompt: String,
    #[serde(default)]
    pub repair_attempt: u32,
    /// Milliseconds the script store spent (claiming the version, putting
    /// the files, recording them); the worker records it on the job with
    /// its own stage change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_ms: Option<u64>,
    /// The project's name, when the script store read it with the version
    /// it claimed: the worker names the model after it without a read of
    /// its own (it reads the project when this is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_name: Option<String>,
}

impl Payload for ScriptStored {
    const TYPE: MessageType = MessageType::ScriptStored;
}

/// The S3 object metadata key under which the worker keeps the
/// [`ModelMetrics`] (as JSON) on every model file it writes, so a job whose
/// `model.built` message was lost can still be verified from the bucket.
pub const METRICS_METADATA_KEY: &str = "model-metrics";

/// What the worker measured of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelMetrics {
    /// mm³
    pub volume: f64,
    /// mm²
    pub surface_area: f64,
    /// [xmin, ymin, zmin, xmax, ymax, zmax] in mm
    pub bounding_box: [f64; 6],
    pub solids: u32,
    pub valid: bool,
    /// Through holes (the genus of the solid), where the worker measured it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through_holes: Option<u32>,
    /// [x, y, z] in mm, over every solid of the model (absent from models
    /// measured before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub center_of_mass: Option<[f64; 3]>,
    /// The 3 × 3 matrix of inertia about the centre of mass for unit
    /// density, in mm⁵ (rows x, y, z; the diagonal holds Ixx, Iyy, Izz, the
    /// rest the products of inertia). Times the density (g/mm³) it gives
    /// g·mm².
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inertia: Option<[[f64; 3]; 3]>,
}

/// `model.built`: the four model files and the log are in S3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelBuilt {
    pub slug: ProjectSlug,
    pub user_id: UserId,
    pub version: Version,
    pub outputs: BTreeMap<ModelFormat, S3Key>,
    /// Bytes of each output as stored, so the completion records them
    /// without asking the store again (absent from older workers: then
    /// the store is asked).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub output_sizes: BTreeMap<ModelFormat, u64>,
    pub log_key: S3Key,
    pub metrics: ModelMetrics,
    /// The FreeCAD run, in milliseconds.
    pub duration_ms: u64,
    /// Reading the script from S3 and putting the log and outputs there,
    /// in milliseconds.
    #[serde(default)]
    pub fetch_ms: u64,
    #[serde(default)]
    pub upload_ms: u64,
    pub worker_id: String,
    pub exit_code: i32,
    pub source: ScriptSource,
    /// The request, for a repair when the model fails verification.
    #[serde(default)]
    pub prompt: String,
    #[serde(default)]
    pub repair_attempt: u32,
}

impl Payload for ModelBuilt {
    const TYPE: MessageType = MessageType::ModelBuilt;
}

/// Why a FreeCAD run failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The script raised an exception or made no solid.
    ScriptError,
    /// Wall-clock or CPU time limit.
    Timeout,
    /// Address-space limit.
    MemoryLimit,
    /// File-size limit.
    FileSizeLimit,
    /// Process-count limit, network or file-system escape attempts.
    SandboxViolation,
    /// FreeCAD itself crashed (signal, no result).
    Crashed,
    /// The script printed more than the output limit.
    OutputLimit,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ScriptError => "script_error",
            Self::Timeout => "timeout",
            Self::MemoryLimit => "memory_limit",
            Self::FileSizeLimit => "file_size_limit",
            Self::SandboxViolation => "sandbox_violation",
            Self::Crashed => "crashed",
            Self::OutputLimit => "output_limit",
        }
    }
}

/// `model.failed`: the script did not produce a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelFailed {
    pub slug: ProjectSlug,
    pub user_id: UserId,
    pub version: Version,
    pub kind: FailureKind,
    pub error: String,
    /// The last lines of the traceback, if any.
    #[serde(default)]
    pub traceback_tail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_key: Option<S3Key>,
    pub duration_ms: u64,
    pub worker_id: String,
    pub source: ScriptSource,
    #[serde(default)]
    pub prompt: String,
    #[serde(default)]
    pub repair_attempt: u32,
    /// The failure's class, line, console and suggestion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Diagnosis>,
}

impl Payload for ModelFailed {
    const TYPE: MessageType = MessageType::ModelFailed;
}

/// A question a generator asks instead of guessing: the prompt names a part
/// but lacks a dimension it needs. The job ends in `needs_input`; the
/// user's next message in the project answers it and continues the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Question {
    /// "What outside diameter should the flange have?"
    pub text: String,
    /// The dimension asked for ("outside diameter"), when the generator
    /// knows it; the answer is read as that dimension.
    #[serde(default)]
    pub what: String,
    /// The request the answer completes.
    pub prompt: String,
}

impl Question {
    /// The request with `answer` in it: "a flange with six bolt holes,
    /// outside diameter 80 mm". A bare value ("80 mm") is named by the
    /// dimension asked for; anything longer is added as it is.
    pub fn answered(&self, answer: &str) -> String {
        let answer = answer.trim().trim_end_matches(['.', '!']);
        let bare =
            answer.split_whitespace().count() <= 2 && answer.starts_with(|c: char| c.is_ascii_digit() || c == '.');
        let prompt = self.prompt.trim().trim_end_matches('.');
        if bare && !self.what.is_empty() {
            format!("{prompt}, {} {answer}", self.what)
        } else if self.what.is_empty() {
            format!("{prompt}. {} {answer}", self.text)
        } else {
            format!("{prompt}, {answer}")
        }
    }
}

/// `job.status`: a job entered a stage; what clients see live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobStatus {
    pub slug: ProjectSlug,
    pub stage: JobStage,
    /// "Generating script…", "Model ready", …
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    /// The reason of a failure, or extra detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// On the final event of a built model: each check of the model
    /// against what was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// On the final event of a failed job: why, by class and line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Diagnosis>,
    /// On the final event of a job that needs input: the question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<Question>,
}

impl JobStatus {
    pub fn new(slug: ProjectSlug, stage: JobStage) -> Self {
        Self {
            slug,
            stage,
            label: stage.label().to_owned(),
            version: None,
            detail: None,
            verification: None,
            diagnosis: None,
            question: None,
        }
    }
}

impl Payload for JobStatus {
    const TYPE: MessageType = MessageType::JobStatus;
}

/// `service.heartbeat`: a service instance is alive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceHeartbeat {
    pub service: String,
    pub instance: String,
    pub version: String,
    pub uptime_s: u64,
    pub jobs_handled: u64,
    pub in_flight: u64,
}

impl Payload for ServiceHeartbeat {
    const TYPE: MessageType = MessageType::ServiceHeartbeat;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_completes_the_request() {
        let q = Question {
            text: "What outside diameter should the flange have?".into(),
            what: "outside diameter".into(),
            prompt: "a flange with six bolt holes".into(),
        };
        assert_eq!(
            q.answered("80 mm"),
            "a flange with six bolt holes, outside diameter 80 mm"
        );
        assert_eq!(
            q.answered(" 3 in. "),
            "a flange with six bolt holes, outside diameter 3 in"
        );
        assert_eq!(
            q.answered("make it 80 mm across"),
            "a flange with six bolt holes, make it 80 mm across"
        );
        let open = Question {
            what: String::new(),
            ..q
        };
        assert_eq!(
            open.answered("80 mm"),
            "a flange with six bolt holes. What outside diameter should the flange have? 80 mm"
        );
    }

    #[test]
    fn envelope_round_trip_and_type_check() {
        let env = Envelope::new(
            JobId::generate(),
            ProjectId::generate(),
            JobStatus::new(ProjectSlug::parse("gear").unwrap(), JobStage::Generating),
        );
        let raw = env.clone().into_raw();
        let bytes = raw.to_vec();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["type"], "job.status");
        assert_eq!(json["payload"]["label"], "Generating script…");
        let back: Envelope<JobStatus> = RawEnvelope::from_slice(&bytes).unwrap().decode().unwrap();
        assert_eq!(back, env);
        let wrong = RawEnvelope::from_slice(&bytes).unwrap().decode::<ScriptStored>();
        assert!(matches!(wrong, Err(EnvelopeError::WrongType { .. })));
    }

    #[test]
    fn garbage_is_malformed() {
        assert!(RawEnvelope::from_slice(b"not json").is_err());
        assert!(RawEnvelope::from_slice(br#"{"type":"script.stored"}"#).is_err());
    }

    #[test]
    fn only_llm_scripts_are_repairable() {
        let gen = |p: &str| ScriptSource::Generated {
            provider: p.into(),
            model: "m".into(),
        };
        assert!(gen("openai").is_repairable());
        assert!(!gen("template").is_repairable());
        assert!(!ScriptSource::Uploaded {
            file_name: "a.py".into()
        }
        .is_repairable());
    }
}
