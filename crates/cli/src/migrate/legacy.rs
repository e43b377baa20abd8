//! Reading one legacy `chat_messages` document: every field checked, ids
//! mapped to the new schema's forms, deterministically.
//!
//! A legacy document is `{_id, user_id, project_id?, content, role,
//! metadata?, timestamp?, created_at?, updated_at?}`. One that lacks a
//! required field or has one of the wrong type is refused with the reason;
//! an unusable S3 reference in its metadata only costs the file record.

use bson::{Bson, Document};
use chrono::{DateTime, Utc};

use domain::documents::Role;
use domain::{FileType, ProjectId, S3Key, UserId, Version};

/// Namespace of the name-based UUIDs the migration derives ids from.
const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6361_6473_6372_6962_652d_6d69_6772_6174);

/// A checked legacy message.
#[derive(Debug, Clone)]
pub struct LegacyMessage {
    /// The legacy `_id` as text (ObjectId hex, or the string itself).
    pub legacy_id: String,
    pub user_id: UserId,
    /// The legacy user id when it had to be mapped.
    pub legacy_user_id: Option<String>,
    /// `None`: an orphan, which goes to its user's default project.
    pub project_id: Option<ProjectId>,
    pub legacy_project_id: Option<String>,
    pub role: Role,
    pub content: String,
    pub timestamp: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub metadata: Document,
    /// The S3 reference of its metadata, if it has one: usable or why not.
    pub file: Option<Result<FileRef, String>>,
}

/// An S3 object a message refers to (`metadata.s3_url`, `metadata.version`).
#[derive(Debug, Clone, PartialEq)]
pub struct FileRef {
    pub s3_url: String,
    pub key: String,
    pub key_kind: S3Key,
    pub file_type: FileType,
    pub version: Version,
}

impl LegacyMessage {
    /// The id of its copy in `messages`.
    pub fn message_id(&self) -> String {
        message_id(&self.legacy_id)
    }

    /// The project it goes to: its own, or its user's default project.
    pub fn target_project(&self) -> ProjectId {
        self.project_id
            .clone()
            .unwrap_or_else(|| default_project(&self.user_id))
    }

    pub fn source_model(&self) -> Option<&str> {
        self.metadata
            .get_str("source_model")
            .ok()
            .filter(|s| !s.trim().is_empty())
    }

    pub fn project_name(&self) -> Option<&str> {
        self.metadata
            .get_str("project_name")
            .ok()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
}

pub fn message_id(legacy_id: &str) -> String {
    format!("legacy-{legacy_id}")
}

/// The default project of a user's orphaned messages.
pub fn default_project(user: &UserId) -> ProjectId {
    let id = uuid::Uuid::new_v5(&NAMESPACE, format!("orphans:{user}").as_bytes());
    ProjectId::parse(&format!("project-orphans-{}", id.simple())).expect("a valid project id")
}

/// The text form of a legacy `_id`.
pub fn legacy_id(doc: &Document) -> Option<String> {
    match doc.get("_id")? {
        Bson::ObjectId(o) => Some(o.to_hex()),
        Bson::String(s) => Some(s.clone()),
        Bson::Int32(i) => Some(i.to_string()),
        Bson::Int64(i) => Some(i.to_string()),
        other => Some(other.to_string()),
    }
}

fn type_name(v: &Bson) -> &'static str {
    match v {
        Bson::Double(_) => "a number",
        Bson::String(_) => "a string",
        Bson::Array(_) => "an array",
        Bson::Document(_) => "a document",
        Bson::Boolean(_) => "a boolean",
        Bson::Null => "null",
        Bson::Int32(_) | Bson::Int64(_) => "an integer",
        Bson::DateTime(_) => "a date",
        Bson::ObjectId(_) => "an ObjectId",
        _ => "an unexpected type",
    }
}

/// Maps a legacy id to `{prefix}-…`: kept when it already has that form,
/// prefixed when its characters allow, else a name-based UUID. Returns the
/// id and whether it changed.
fn map_id(raw: &str, prefix: &str) -> (String, bool) {
    let ok_chars = |s: &str| {
        !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if raw
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('-'))
        .is_some_and(ok_chars)
    {
        return (raw.to_owned(), false);
    }
    if ok_chars(raw) {
        return (format!("{prefix}-{raw}"), true);
    }
    let id = uuid::Uuid::new_v5(&NAMESPACE, format!("{prefix}:{raw}").as_bytes());
    (format!("{prefix}-legacy-{}", id.simple()), true)
}

pub fn map_user(raw: &str) -> (UserId, bool) {
    let (id, changed) = map_id(raw, "user");
    (UserId::parse(&id).expect("mapped ids are valid"), changed)
}

pub fn map_project(raw: &str) -> (ProjectId, bool) {
    let (id, changed) = map_id(raw, "project");
    (ProjectId::parse(&id).expect("mapped ids are valid"), changed)
}

fn date(doc: &Document, field: &str) -> Result<Option<DateTime<Utc>>, String> {
    match doc.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::DateTime(d)) => Ok(Some(d.to_chrono())),
        Some(Bson::String(s)) => DateTime::parse_from_rfc3339(s.trim())
            .map(|d| Some(d.with_timezone(&Utc)))
            .or_else(|_| {
                // Python's isoformat() without a zone: taken as UTC.
                chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S%.f").map(|n| Some(n.and_utc()))
            })
            .map_err(|_| format!("{field} {s:?} is not a date")),
        Some(other) => Err(format!("{field} is {} instead of a date", type_name(other))),
    }
}

fn version_of(v: &Bson) -> Result<Version, String> {
    let n = match v {
        Bson::Int32(i) => i64::from(*i),
        Bson::Int64(i) => *i,
        Bson::Double(d) if d.fract() == 0.0 => *d as i64,
        Bson::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("version {s:?} is not a number"))?,
        other => return Err(format!("version is {}", type_name(other))),
    };
    u32::try_from(n)
        .ok()
        .and_then(|n| Version::new(n).ok())
        .ok_or_else(|| format!("version {n} is not a version (1, 2, 3…)"))
}

/// The S3 reference of a message's metadata.
pub fn file_ref(metadata: &Document) -> Option<Result<FileRef, String>> {
    let url = match metadata.get("s3_url")? {
        Bson::Null => return None,
        Bson::String(s) if s.trim().is_empty() => return None,
        Bson::String(s) => s.trim().to_owned(),
        other => {
            return Some(Err(format!(
                "metadata.s3_url is {} instead of a string",
                type_name(other)
            )))
        }
    };
    Some(parse_file_ref(&url, metadata.get("version")))
}

fn parse_file_ref(url: &str, version: Option<&Bson>) -> Result<FileRef, String> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| format!("S3 URL {url:?} does not start with s3://"))?;
    let (bucket, key) = rest
        .split_once('/')
        .ok_or_else(|| format!("S3 URL {url:?} has no key"))?;
    if bucket.is_empty() || key.is_empty() {
        return Err(format!("S3 URL {url:?} has no bucket or no key"));
    }
    let kind = S3Key::parse(key).ok_or_else(|| format!("S3 key {key:?} is not in the CADScribe layout"))?;
    let file_type = match &kind {
        S3Key::Input { .. } => FileType::Input,
        S3Key::Spec { .. } => FileType::Spec,
        S3Key::Output { .. } | S3Key::FlatOutput { .. } => FileType::Output,
        S3Key::Log { .. } => FileType::Log,
        S3Key::Processed { .. } => FileType::Processed,
    };
    let from_meta = match version {
        None | Some(Bson::Null) => None,
        Some(v) => Some(version_of(v)?),
    };
    let version = match (kind.version(), from_meta) {
        (Some(k), Some(m)) if k != m => {
            return Err(format!("metadata.version {m} disagrees with the key's version {k}"));
        }
        (Some(v), _) | (None, Some(v)) => v,
        (None, None) => {
            return Err(format!(
                "S3 key {key:?} names no version and metadata.version is missing"
            ))
        }
    };
    Ok(FileRef {
        s3_url: url.to_owned(),
        key: key.to_owned(),
        key_kind: kind,
        file_type,
        version,
    })
}

/// Checks one legacy document; `Err` says why it cannot be migrated.
pub fn parse(doc: &Document) -> Result<LegacyMessage, String> {
    let legacy_id = legacy_id(doc).ok_or("it has no _id")?;
    let string = |field: &str| -> Result<String, String> {
        match doc.get(field) {
            None | Some(Bson::Null) => Err(format!("{field} is missing")),
            Some(Bson::String(s)) => Ok(s.clone()),
            Some(other) => Err(format!("{field} is {} instead of a string", type_name(other))),
        }
    };
    let raw_user = string("user_id")?;
    if raw_user.trim().is_empty() {
        return Err("user_id is empty".into());
    }
    let content = string("content")?;
    let role = match string("role")?.trim().to_ascii_lowercase().as_str() {
        "user" | "human" => Role::User,
        "assistant" | "ai" => Role::Assistant,
        "system" => Role::System,
        other => return Err(format!("role {other:?} is not user, assistant or system")),
    };
    let raw_project = match doc.get("project_id") {
        None | Some(Bson::Null) => None,
        Some(Bson::String(s)) if s.trim().is_empty() => None,
        Some(Bson::String(s)) => Some(s.trim().to_owned()),
        Some(other) => return Err(format!("project_id is {} instead of a string", type_name(other))),
    };
    let metadata = match doc.get("metadata") {
        None | Some(Bson::Null) => Document::new(),
        Some(Bson::Document(d)) => d.clone(),
        Some(other) => return Err(format!("metadata is {} instead of a document", type_name(other))),
    };
    let timestamp = date(doc, "timestamp")?;
    let created = date(doc, "created_at")?;
    let updated = date(doc, "updated_at")?;
    let from_id = match doc.get("_id") {
        Some(Bson::ObjectId(o)) => Some(o.timestamp().to_chrono()),
        _ => None,
    };
    let timestamp = timestamp
        .or(created)
        .or(from_id)
        .ok_or("it has no timestamp, created_at or ObjectId time")?;

    let (user_id, user_mapped) = map_user(raw_user.trim());
    let (project_id, legacy_project_id) = match raw_project {
        None => (None, None),
        Some(raw) => {
            let (id, mapped) = map_project(&raw);
            (Some(id), mapped.then_some(raw))
        }
    };
    Ok(LegacyMessage {
        file: file_ref(&metadata),
        legacy_id,
        user_id,
        legacy_user_id: user_mapped.then(|| raw_user.trim().to_owned()),
        project_id,
        legacy_project_id,
        role,
        content,
        created_at: created.unwrap_or(timestamp),
        updated_at: updated.or(created).unwrap_or(timestamp),
        timestamp,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, oid::ObjectId};

    fn base() -> Document {
        doc! { "_id": ObjectId::new(), "user_id": "user-456", "project_id": "project-123", "content": "a gear", "role": "user" }
    }

    #[test]
    fn a_seed_style_message_is_kept_as_is() {
        let m = parse(&base()).unwrap();
        assert_eq!(m.user_id.as_str(), "user-456");
        assert_eq!(m.project_id.as_ref().unwrap().as_str(), "project-123");
        assert!(m.legacy_user_id.is_none() && m.legacy_project_id.is_none());
        assert!(m.message_id().starts_with("legacy-"));
    }

    #[test]
    fn foreign_ids_are_mapped_deterministically() {
        let mut d = base();
        d.insert("user_id", "65f0c0ffee00000000000001");
        d.insert("project_id", "Gearbox Assembly!");
        let a = parse(&d).unwrap();
        let b = parse(&d).unwrap();
        assert_eq!(a.user_id.as_str(), "user-65f0c0ffee00000000000001");
        assert!(a.project_id.as_ref().unwrap().as_str().starts_with("project-legacy-"));
        assert_eq!(a.project_id, b.project_id);
        assert_eq!(a.legacy_project_id.as_deref(), Some("Gearbox Assembly!"));
    }

    #[test]
    fn orphans_go_to_one_default_project_per_user() {
        let mut d = base();
        d.remove("project_id");
        let a = parse(&d).unwrap();
        d.insert("project_id", "");
        let b = parse(&d).unwrap();
        assert_eq!(a.target_project(), b.target_project());
        assert_ne!(
            a.target_project(),
            default_project(&UserId::parse("user-other").unwrap())
        );
    }

    #[test]
    fn malformed_documents_say_why() {
        let cases: Vec<(Document, &str)> = vec![
            (
                {
                    let mut d = base();
                    d.remove("content");
                    d
                },
                "content is missing",
            ),
            (
                {
                    let mut d = base();
                    d.insert("role", 3);
                    d
                },
                "role is an integer",
            ),
            (
                {
                    let mut d = base();
                    d.insert("role", "robot");
                    d
                },
                "role \"robot\"",
            ),
            (
                {
                    let mut d = base();
                    d.remove("user_id");
                    d
                },
                "user_id is missing",
            ),
            (
                {
                    let mut d = base();
                    d.insert("project_id", 7);
                    d
                },
                "project_id is an integer",
            ),
            (
                {
                    let mut d = base();
                    d.insert("metadata", "x");
                    d
                },
                "metadata is a string",
            ),
            (
                {
                    let mut d = base();
                    d.insert("timestamp", "yesterday");
                    d
                },
                "timestamp \"yesterday\" is not a date",
            ),
        ];
        for (d, want) in cases {
            let err = parse(&d).unwrap_err();
            assert!(err.contains(want), "{err} / {want}");
        }
    }

    #[test]
    fn s3_references() {
        let ok = file_ref(&doc! { "s3_url": "s3://b/input/gear/gear_v3.py", "version": 3 })
            .unwrap()
            .unwrap();
        assert_eq!((ok.file_type, ok.version.get()), (FileType::Input, 3));
        let flat = file_ref(&doc! { "s3_url": "s3://b/output/gear/MyHeadlessModel.STL", "version": 2i64 })
            .unwrap()
            .unwrap();
        assert_eq!((flat.file_type, flat.version.get()), (FileType::Output, 2));
        for bad in [
            doc! { "s3_url": "http://b/input/gear/gear_v3.py" },
            doc! { "s3_url": "s3://" },
            doc! { "s3_url": "s3://b/somewhere/else.txt" },
            doc! { "s3_url": "s3://b/output/gear/MyHeadlessModel.STL" },
            doc! { "s3_url": "s3://b/input/gear/gear_v3.py", "version": 4 },
            doc! { "s3_url": 12 },
        ] {
            assert!(file_ref(&bad).unwrap().is_err(), "{bad}");
        }
        assert!(file_ref(&doc! {}).is_none());
    }
}
