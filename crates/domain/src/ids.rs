//! Identifiers and checked values: project ids, S3-safe slugs, versions, job
//! and user ids. Raw strings stop at the edge; past it, these types are proof
//! that a value was checked.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("slug must not be empty")]
    EmptySlug,
    #[error("slug is longer than {max} characters")]
    SlugTooLong { max: usize },
    #[error("slug must start with a lowercase letter or digit")]
    SlugBadStart,
    #[error("slug may contain only a-z, 0-9, '-' and '_' (found {0:?})")]
    SlugBadChar(char),
    #[error("name {0:?} has no letters or digits to make a slug from")]
    NothingToSlug(String),
    #[error("version must be a whole number from 1 (got {0:?})")]
    BadVersion(String),
    #[error("{kind} id {value:?} is malformed")]
    BadId { kind: &'static str, value: String },
}

/// The S3-safe name of a project: `^[a-z0-9][a-z0-9_-]{0,62}$`.
///
/// Nothing that is not a valid slug ever reaches a key, so a slug can never
/// carry `..`, `/`, whitespace or look-alike unicode into the bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct ProjectSlug(#[schemars(regex(pattern = r"^[a-z0-9][a-z0-9_-]{0,62}$"))] String);

impl ProjectSlug {
    pub const MAX_LEN: usize = 63;

    /// Accepts exactly the slug grammar; anything else is an error.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let first = s.chars().next().ok_or(IdError::EmptySlug)?;
        if s.len() > Self::MAX_LEN || s.chars().count() > Self::MAX_LEN {
            return Err(IdError::SlugTooLong { max: Self::MAX_LEN });
        }
        if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
            return Err(IdError::SlugBadStart);
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
        {
            return Err(IdError::SlugBadChar(bad));
        }
        Ok(Self(s.to_owned()))
    }

    /// Derives a slug from a free-text project name: ASCII letters and digits
    /// are kept (lowercased), every other run of characters becomes one `-`,
    /// and the result is trimmed to the maximum length. Non-ASCII characters
    /// (accents, full-width look-alikes, zero-width spaces) never survive.
    pub fn derive(name: &str) -> Result<Self, IdError> {
        let mut out = String::with_capacity(name.len().min(Self::MAX_LEN));
        let mut pending_sep = false;
        for c in name.chars() {
            if c.is_ascii_alphanumeric() {
                if pending_sep && !out.is_empty() {
                    out.push('-');
                }
                pending_sep = false;
                out.push(c.to_ascii_lowercase());
            } else if c == '_' && !out.is_empty() && !pending_sep {
                out.push('_');
            } else {
                pending_sep = true;
            }
            if out.len() >= Self::MAX_LEN {
                break;
            }
        }
        out.truncate(Self::MAX_LEN);
        let trimmed = out.trim_end_matches(['-', '_']);
        if trimmed.is_empty() {
            return Err(IdError::NothingToSlug(name.to_owned()));
        }
        Self::parse(trimmed)
    }

    /// The slug with a numeric suffix (`gear-2`), still within the length
    /// limit; used to make a derived slug unique.
    pub fn with_suffix(&self, n: u32) -> Self {
        let suffix = format!("-{n}");
        let keep = Self::MAX_LEN - suffix.len();
        let base = if self.0.len() > keep { &self.0[..keep] } else { &self.0 };
        Self(format!("{}{}", base.trim_end_matches(['-', '_']), suffix))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ProjectSlug {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for ProjectSlug {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A script version: 1, 2, 3… assigned atomically per project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Version(#[schemars(range(min = 1))] u32);

impl Version {
    pub const FIRST: Version = Version(1);

    pub fn new(n: u32) -> Result<Self, IdError> {
        if n == 0 {
            Err(IdError::BadVersion(n.to_string()))
        } else {
            Ok(Self(n))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Version {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Digits only: no sign, no whitespace, no leading zero; the whole
        // u32 range, as a JSON body may carry it.
        if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0') {
            return Err(IdError::BadVersion(s.to_owned()));
        }
        Self::new(s.parse().map_err(|_| IdError::BadVersion(s.to_owned()))?)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u32::deserialize(d)?;
        Self::new(n).map_err(serde::de::Error::custom)
    }
}

/// Defines a string id of the form `{prefix}-{32 hex}` with parse and
/// generate; ids from the outside are parsed, never trusted.
macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate() -> Self {
                Self(format!("{}-{}", $prefix, uuid::Uuid::new_v4().simple()))
            }

            /// Accepts `{prefix}-` followed by 1 to 64 characters of
            /// `[A-Za-z0-9_-]` (legacy ids such as `project-123` included).
            pub fn parse(s: &str) -> Result<Self, IdError> {
                let ok = s
                    .strip_prefix(concat!($prefix, "-"))
                    .is_some_and(|rest| {
                        !rest.is_empty()
                            && rest.len() <= 64
                            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    });
                if ok {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(IdError::BadId { kind: stringify!($name), value: s.chars().take(80).collect() })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_id!(
    /// A project's stable id (`project-…`), the key that links messages,
    /// files, logs and jobs.
    ProjectId,
    "project"
);
prefixed_id!(
    /// A user's id (`user-…`).
    UserId,
    "user"
);

/// A job's id: one generation or upload, followed from request to model.
/// Always serialized as its hyphenated text, in JSON and in BSON alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema)]
#[schemars(transparent)]
pub struct JobId(uuid::Uuid);

impl Serialize for JobId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for JobId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl JobId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    /// The id of the chat message that asked for this job: a redelivered
    /// request writes the same record.
    pub fn request_message_id(&self) -> String {
        format!("{self}-user")
    }

    /// The id of the assistant's reply to attempt `attempt` (0 for the
    /// first, then each repair): script-store attaches the stored version
    /// to it.
    pub fn reply_message_id(&self, attempt: u32) -> String {
        format!("{self}-{attempt}")
    }
    pub fn parse(s: &str) -> Result<Self, IdError> {
        uuid::Uuid::parse_str(s).map(Self).map_err(|_| IdError::BadId {
            kind: "JobId",
            value: s.chars().take(80).collect(),
        })
    }
    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for JobId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slug_parse_rejects_traversal_and_tricks() {
        for bad in [
            "",
            "../etc",
            "a/b",
            "A",
            "-lead",
            "_lead",
            "a b",
            "a.b",
            "ａｂｃ",
            "abc\u{200b}",
            "café",
            "a\0b",
        ] {
            assert!(ProjectSlug::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ProjectSlug::parse(&"a".repeat(64)).is_err());
        assert!(ProjectSlug::parse(&"a".repeat(63)).is_ok());
        assert_eq!(ProjectSlug::parse("gear_box-2").unwrap().as_str(), "gear_box-2");
    }

    #[test]
    fn slug_derive_from_names() {
        let d = |s| ProjectSlug::derive(s).map(|s| s.to_string());
        assert_eq!(d("Gearbox Assembly").unwrap(), "gearbox-assembly");
        assert_eq!(d("  ../../etc/passwd ").unwrap(), "etc-passwd");
        assert_eq!(d("Café Table!").unwrap(), "caf-table");
        assert_eq!(d("my_part v2").unwrap(), "my_part-v2");
        assert!(d("ｐｒｏｊｅｃｔ").is_err(), "full-width letters are not ASCII");
        assert!(d("").is_err());
        assert!(d("///").is_err());
        assert_eq!(d(&"x".repeat(500)).unwrap().len(), 63);
    }

    #[test]
    fn slug_suffix_stays_valid() {
        let long = ProjectSlug::parse(&"a".repeat(63)).unwrap();
        let s = long.with_suffix(12);
        assert!(s.as_str().ends_with("-12"));
        assert!(ProjectSlug::parse(s.as_str()).is_ok());
    }

    #[test]
    fn version_parsing() {
        assert_eq!("3".parse::<Version>().unwrap().get(), 3);
        for bad in ["0", "-1", "01", "", "1.5", " 1", "abc", "99999999999"] {
            assert!(bad.parse::<Version>().is_err(), "{bad:?} accepted");
        }
        assert!(serde_json::from_str::<Version>("0").is_err());
    }

    #[test]
    fn prefixed_ids() {
        assert!(ProjectId::parse("project-123").is_ok());
        assert!(ProjectId::parse(ProjectId::generate().as_str()).is_ok());
        assert!(ProjectId::parse("user-1").is_err());
        assert!(ProjectId::parse("project-").is_err());
        assert!(ProjectId::parse("project-a/b").is_err());
        assert!(JobId::parse("nope").is_err());
    }

    proptest! {
        #[test]
        fn derived_slugs_always_parse(name in ".{0,200}") {
            if let Ok(slug) = ProjectSlug::derive(&name) {
                prop_assert!(ProjectSlug::parse(slug.as_str()).is_ok());
                prop_assert!(slug.as_str().len() <= ProjectSlug::MAX_LEN);
                prop_assert!(!slug.as_str().contains(".."));
            }
        }

        #[test]
        fn derive_is_identity_on_valid_slugs(s in "[a-z0-9][a-z0-9-]{0,62}") {
            // A valid slug without '_' or trailing '-' derives to itself.
            let trimmed = s.trim_end_matches('-');
            let parsed = ProjectSlug::parse(trimmed).unwrap();
            let collapsed = ProjectSlug::derive(trimmed).unwrap();
            // Runs of '-' collapse to one, nothing else changes.
            let mut expect = String::new();
            for c in parsed.as_str().chars() {
                if c == '-' && expect.ends_with('-') { continue; }
                expect.push(c);
            }
            prop_assert_eq!(collapsed.as_str(), expect.as_str());
        }
    }
}
