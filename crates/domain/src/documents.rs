//! The stored documents: the seed's project-centric schema (`projects`,
//! `messages`, `files`, `logs`) plus `jobs` and `users`.
//!
//! Field names follow the seed schema. Times are stored as BSON dates so that
//! indexes on them sort by time.

use std::collections::BTreeMap;

use bson::serde_helpers::chrono_datetime_as_bson_datetime as bson_dt;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::diagnosis::Diagnosis;
use crate::material::Material;
use crate::messages::{ModelMetrics, Question, ScriptSource};
use crate::verify::{Expectations, Verification};
use crate::{FileType, JobId, JobStage, ProjectId, ProjectSlug, ProjectStatus, UserId, Version};

mod opt_bson_dt {
    //! `Option<DateTime<Utc>>` as an optional BSON date.
    use bson::serde_helpers::chrono_datetime_as_bson_datetime as inner;
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(dt) => inner::serialize(dt, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "inner")] DateTime<Utc>);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub project_id: ProjectId,
    pub project_name: String,
    pub slug: ProjectSlug,
    pub created_by: UserId,
    #[serde(with = "bson_dt")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "bson_dt")]
    pub updated_at: DateTime<Utc>,
    /// Latest stored script version; 0 while the project has none.
    #[serde(default)]
    pub current_version: u32,
    /// The last version number handed out (atomic `$inc`); a version may be
    /// assigned before its script is stored.
    #[serde(default)]
    pub version_counter: u32,
    /// Who each of the last versions handed out went to, in order (the
    /// last entry got `version_counter`): a job's attempt asking again —
    /// redelivered after a crash between the hand-out and its own record —
    /// gets the same number back, so no version is skipped.
    #[serde(default)]
    pub version_claims: Vec<String>,
    #[serde(default)]
    pub ai_model_used: Option<String>,
    pub status: ProjectStatus,
    #[serde(default)]
    pub latest_s3_input: Option<String>,
    #[serde(default)]
    pub latest_s3_output: Vec<String>,
    /// Bytes of the files the project stores, by the version and stage
    /// that wrote them (`v3_in`: version 3's spec and script; `v3_out`:
    /// its outputs and run log). Each entry is set, never added to, so a
    /// redelivered record counts once; the storage quota sums them.
    #[serde(default)]
    pub stored_bytes: BTreeMap<String, u64>,
    /// What the part is made of; without one no mass is shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material: Option<Material>,
    #[serde(default)]
    pub metadata: ProjectMetadata,
}

/// Declares a metadata sub-document: typed, optional fields stored under
/// their own names (absent ones left out), and every other key kept as it
/// was stored in `other` (what an import or an older release wrote).
macro_rules! metadata {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            $(
                $(#[$fdoc])*
                #[serde(default, with = "lenient_opt", skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
            /// Keys this release does not write, kept as stored.
            #[serde(flatten)]
            pub other: bson::Document,
        }

        impl From<bson::Document> for $name {
            /// A stored sub-document: the known keys typed, the rest kept.
            fn from(stored: bson::Document) -> Self {
                bson::from_document(stored.clone()).unwrap_or(Self {
                    other: stored,
                    ..Self::default()
                })
            }
        }
    };
}

mod lenient_opt {
    //! A metadata value, written as itself (absent ones are left out) and
    //! read leniently: one of another type (a record an older release or an
    //! import wrote) reads as absent instead of making the whole document
    //! unreadable.
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
        let value = bson::Bson::deserialize(d)?;
        Ok(T::deserialize(bson::Deserializer::new(value)).ok())
    }
}

metadata!(
    /// A project's metadata.
    ProjectMetadata {
        /// What the project is for, in the owner's words.
        description: String,
    }
);

metadata!(
    /// A chat message's metadata.
    MessageMetadata {
        /// The job the message belongs to.
        job_id: JobId,
        /// The API request that sent it (a person's message).
        request_id: String,
        /// The model or generator that wrote it (an assistant's reply).
        source_model: String,
        /// The provider behind `source_model`.
        provider: String,
        /// Seconds the generator took.
        response_time: f64,
        prompt_tokens: u32,
        completion_tokens: u32,
        /// Which repair of the job's script this reply is (0: the first).
        repair_attempt: u32,
        /// The reply asks for a missing dimension instead of making a part.
        question: bool,
        /// The version the reply's script became, and where it is stored.
        version: u32,
        s3_url: String,
    }
);

metadata!(
    /// A file record's metadata.
    FileMetadata {
        file_name: String,
        /// Bytes.
        file_size: i64,
        content_type: String,
        /// The model format's extension, for outputs.
        format: String,
        /// The job that wrote the file.
        job_id: JobId,
        /// The user a script was stored for.
        uploaded_by: UserId,
        /// `cadscribe-ai/{provider}` or `user`, for scripts.
        generated_by: String,
        /// The language model that wrote a script.
        ai_model: String,
    }
);

metadata!(
    /// A run log record's metadata.
    LogMetadata {
        /// Seconds FreeCAD ran.
        processing_time: f64,
        worker_id: String,
        exit_code: i32,
        job_id: JobId,
    }
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Assistant,
    System,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub message_id: String,
    pub project_id: ProjectId,
    pub user_id: UserId,
    pub role: Role,
    pub content: String,
    #[serde(with = "bson_dt")]
    pub timestamp: DateTime<Utc>,
    #[serde(default)]
    pub job_id: Option<JobId>,
    #[serde(default)]
    pub metadata: MessageMetadata,
    #[serde(with = "bson_dt")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "bson_dt")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    pub project_id: ProjectId,
    pub version: Version,
    pub file_type: FileType,
    /// `s3://bucket/key`
    pub s3_path: String,
    /// The bare key inside the bucket.
    pub s3_key: String,
    #[serde(with = "bson_dt")]
    pub timestamp: DateTime<Utc>,
    #[serde(default)]
    pub metadata: FileMetadata,
    #[serde(with = "bson_dt")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "bson_dt")]
    pub updated_at: DateTime<Utc>,
}

impl FileRecord {
    /// The bytes these files take in the object store (0 for a file whose
    /// size was not recorded).
    pub fn total_size(files: &[FileRecord]) -> u64 {
        files
            .iter()
            .filter_map(|f| f.metadata.file_size)
            .map(|n| u64::try_from(n).unwrap_or(0))
            .sum()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    pub project_id: ProjectId,
    pub version: Version,
    pub s3_log_path: String,
    pub log_summary: String,
    #[serde(with = "bson_dt")]
    pub timestamp: DateTime<Utc>,
    #[serde(default)]
    pub metadata: LogMetadata,
    #[serde(with = "bson_dt")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "bson_dt")]
    pub updated_at: DateTime<Utc>,
}

/// What kind of work a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Generate,
    Upload,
}

/// One stage entered, with its time: the job's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageEntry {
    pub stage: JobStage,
    #[serde(with = "bson_dt")]
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub detail: Option<String>,
}

/// Milliseconds each service spent on its own work for a job; the rest of
/// a stage is waiting (the bus, a queue, a free slot). Fields are set as the
/// job passes each service; a job that never reached one leaves it unset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobTimings {
    /// ai-generator: reading the prompt and writing the script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_ms: Option<u64>,
    /// script-store: claiming the version and putting the script in S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_ms: Option<u64>,
    /// freecad-worker: reading the script from S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch_ms: Option<u64>,
    /// freecad-worker: the FreeCAD run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freecad_ms: Option<u64>,
    /// freecad-worker: putting the run log and the outputs in S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_ms: Option<u64>,
    /// output-watcher: verifying the model and recording its files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_ms: Option<u64>,
}

/// The version each attempt of a job claimed: attempt 0 is the first run,
/// 1 the first repair, and so on. Stored as a document keyed by the
/// attempt's decimal number (`{"0": 4, "1": 5}`), since document keys are
/// strings; [`AttemptVersions::field`] names one entry for an update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptVersions(BTreeMap<u32, Version>);

impl AttemptVersions {
    /// The stored field of `attempt`'s version, for a claim by update.
    pub fn field(attempt: u32) -> String {
        format!("versions.{attempt}")
    }

    pub fn get(&self, attempt: u32) -> Option<Version> {
        self.0.get(&attempt).copied()
    }

    pub fn insert(&mut self, attempt: u32, version: Version) -> Option<Version> {
        self.0.insert(attempt, version)
    }

    /// Attempt and version, first attempt first.
    pub fn iter(&self) -> impl Iterator<Item = (u32, Version)> + '_ {
        self.0.iter().map(|(a, v)| (*a, *v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for AttemptVersions {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (attempt, version) in &self.0 {
            map.serialize_entry(&attempt.to_string(), version)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for AttemptVersions {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = BTreeMap::<String, Version>::deserialize(d)?;
        raw.into_iter()
            .map(|(key, version)| {
                let attempt = key
                    .parse::<u32>()
                    .map_err(|_| serde::de::Error::custom(format!("attempt {key:?} is not a number")))?;
                Ok((attempt, version))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub job_id: JobId,
    pub project_id: ProjectId,
    pub slug: ProjectSlug,
    pub user_id: UserId,
    pub kind: JobKind,
    pub stage: JobStage,
    #[serde(default)]
    pub history: Vec<StageEntry>,
    /// The request as accepted (prompt or uploaded script), kept so the job
    /// can be re-published if the broker was down when it was accepted.
    pub request: bson::Document,
    /// Whether the first message of the job reached the broker.
    #[serde(default)]
    pub published: bool,
    /// Held back for its turn: its user already had as many jobs in the
    /// pipeline as the fair share allows; it is published when one of them
    /// ends (oldest held first).
    #[serde(default)]
    pub held: bool,
    /// When a held job was let into the pipeline; its time limit counts
    /// from then.
    #[serde(default, with = "opt_bson_dt", skip_serializing_if = "Option::is_none")]
    pub released_at: Option<DateTime<Utc>>,
    /// The latest version this job produced.
    #[serde(default)]
    pub version: Option<Version>,
    /// The version claimed by each attempt, so a redelivered message reuses
    /// its version instead of taking a new one.
    #[serde(default)]
    pub versions: AttemptVersions,
    #[serde(default)]
    pub source: Option<ScriptSource>,
    #[serde(default)]
    pub repair_attempts: u32,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub metrics: Option<ModelMetrics>,
    /// What the model must measure, set by the generator (from the part
    /// spec, or from the prompt for a raw script).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expectations>,
    /// The comparison of the built model with `expected`; a job completes
    /// only with a passing one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// Why the job failed, by class and line (failed jobs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Diagnosis>,
    /// What the job asked instead of guessing (`needs_input` jobs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<Question>,
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    /// Where the job's time went, as the services measured their own work.
    #[serde(default)]
    pub timings: JobTimings,
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(with = "bson_dt")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "bson_dt")]
    pub updated_at: DateTime<Utc>,
    #[serde(default, with = "opt_bson_dt", skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    User,
    Admin,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub user_id: UserId,
    pub email: String,
    pub password_hash: String,
    pub role: UserRole,
    #[serde(with = "bson_dt")]
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_keeps_the_keys_it_does_not_know_and_writes_the_known_ones_under_their_names() {
        let job = JobId::generate();
        let stored = bson::doc! {
            "file_size": 12i32,
            "job_id": job.to_string(),
            "legacy_message_id": "m-7",
            "imported_at": bson::DateTime::from_millis(1_000),
        };
        let meta = FileMetadata::from(stored.clone());
        assert_eq!(meta.file_size, Some(12), "an older 32-bit size reads");
        assert_eq!(meta.job_id, Some(job));
        assert_eq!(meta.other.get_str("legacy_message_id"), Ok("m-7"));
        let written = bson::to_document(&meta).unwrap();
        assert_eq!(written.get_i64("file_size"), Ok(12));
        assert_eq!(written.get_str("job_id"), Ok(job.to_string().as_str()));
        assert_eq!(written.get("imported_at"), stored.get("imported_at"));
        assert!(!written.contains_key("content_type"), "absent fields are left out");
    }

    #[test]
    fn a_metadata_value_of_another_type_reads_as_absent_not_as_an_unreadable_record() {
        let stored = bson::doc! { "version": "three", "source_model": "m", "question": true };
        let meta: MessageMetadata = bson::from_document(stored).unwrap();
        assert_eq!(meta.version, None);
        assert_eq!(meta.source_model.as_deref(), Some("m"));
        assert_eq!(meta.question, Some(true));
        let record = bson::doc! {
            "project_id": ProjectId::generate().as_str(), "version": 1, "s3_log_path": "s3://b/k",
            "log_summary": "ok", "timestamp": bson::DateTime::now(),
            "metadata": { "exit_code": "0", "worker_id": "w1" },
            "created_at": bson::DateTime::now(), "updated_at": bson::DateTime::now(),
        };
        let log: LogRecord = bson::from_document(record).expect("the record reads");
        assert_eq!(
            (log.metadata.exit_code, log.metadata.worker_id.as_deref()),
            (None, Some("w1"))
        );
    }

    #[test]
    fn attempt_versions_are_stored_keyed_by_the_attempt_number() {
        let mut versions = AttemptVersions::default();
        versions.insert(0, Version::new(4).unwrap());
        versions.insert(1, Version::new(5).unwrap());
        let stored = bson::to_bson(&versions).unwrap();
        let doc = stored.as_document().expect("a document");
        assert_eq!(doc.keys().collect::<Vec<_>>(), ["0", "1"]);
        assert_eq!(
            doc.get("1").and_then(|v| v.as_i64().or(v.as_i32().map(i64::from))),
            Some(5)
        );
        let back: AttemptVersions = bson::from_bson(stored).unwrap();
        assert_eq!(back, versions);
        assert_eq!(AttemptVersions::field(1), "versions.1");
        let bad = bson::from_bson::<AttemptVersions>(bson::Bson::Document(bson::doc! { "first": 4_i64 }));
        assert!(bad.unwrap_err().to_string().contains("\"first\" is not a number"));
    }
}
