//! The S3 key layout, as values that build keys and parse them back.
//!
//! ```text
//! input/{slug}/{slug}_v{n}.py
//! input/{slug}/{slug}_v{n}.json                        (the part spec, when there is one)
//! output/{slug}/v{n}/MyHeadlessModel.{FCStd|STEP|STL|OBJ}
//! output/{slug}/MyHeadlessModel.{ext}                 (flat, external workers)
//! logs/{slug}/{slug}_info_{YYYYMMDD_HHMMSS}[_v{n}].log
//! processed/{slug}/{slug}_v{n}.py.done
//! ```
//!
//! A key that does not parse is not ours: the watcher and the API ignore it.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::{JobId, ModelFormat, ProjectId, ProjectSlug, Version};

pub const MODEL_BASENAME: &str = "MyHeadlessModel";
const LOG_TS: &str = "%Y%m%d_%H%M%S";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum S3Key {
    Input {
        slug: ProjectSlug,
        version: Version,
    },
    /// The part spec the version's script was compiled from.
    Spec {
        slug: ProjectSlug,
        version: Version,
    },
    Output {
        slug: ProjectSlug,
        version: Version,
        format: ModelFormat,
    },
    FlatOutput {
        slug: ProjectSlug,
        format: ModelFormat,
    },
    /// A run log; the version suffix is ours (two runs of one project in the
    /// same second would otherwise share a key); logs without it parse too.
    Log {
        slug: ProjectSlug,
        at: NaiveDateTime,
        version: Option<Version>,
    },
    Processed {
        slug: ProjectSlug,
        version: Version,
    },
}

impl S3Key {
    pub fn input(slug: &ProjectSlug, version: Version) -> Self {
        Self::Input {
            slug: slug.clone(),
            version,
        }
    }
    pub fn spec(slug: &ProjectSlug, version: Version) -> Self {
        Self::Spec {
            slug: slug.clone(),
            version,
        }
    }
    pub fn output(slug: &ProjectSlug, version: Version, format: ModelFormat) -> Self {
        Self::Output {
            slug: slug.clone(),
            version,
            format,
        }
    }
    pub fn log(slug: &ProjectSlug, at: DateTime<Utc>, version: Version) -> Self {
        // Keys have second resolution; drop the rest so build/parse round-trips.
        let at = at.naive_utc().and_utc().timestamp();
        let at = DateTime::from_timestamp(at, 0).expect("in range").naive_utc();
        Self::Log {
            slug: slug.clone(),
            at,
            version: Some(version),
        }
    }
    pub fn processed(slug: &ProjectSlug, version: Version) -> Self {
        Self::Processed {
            slug: slug.clone(),
            version,
        }
    }

    /// The prefix under which all of a project's objects of one kind live.
    pub fn project_prefixes(slug: &ProjectSlug) -> [String; 4] {
        [
            format!("input/{slug}/"),
            format!("output/{slug}/"),
            format!("logs/{slug}/"),
            format!("processed/{slug}/"),
        ]
    }

    pub fn output_prefix(slug: &ProjectSlug, version: Version) -> String {
        format!("output/{slug}/v{version}/")
    }

    pub fn slug(&self) -> &ProjectSlug {
        match self {
            Self::Input { slug, .. }
            | Self::Spec { slug, .. }
            | Self::Output { slug, .. }
            | Self::FlatOutput { slug, .. }
            | Self::Log { slug, .. }
            | Self::Processed { slug, .. } => slug,
        }
    }

    pub fn version(&self) -> Option<Version> {
        match self {
            Self::Input { version, .. }
            | Self::Spec { version, .. }
            | Self::Output { version, .. }
            | Self::Processed { version, .. } => Some(*version),
            Self::Log { version, .. } => *version,
            Self::FlatOutput { .. } => None,
        }
    }

    pub fn file_name(&self) -> String {
        let key = self.to_string();
        key.rsplit('/').next().unwrap_or_default().to_owned()
    }

    /// Parses a key back; `None` for anything outside the layout.
    pub fn parse(key: &str) -> Option<Self> {
        let parts: Vec<&str> = key.split('/').collect();
        match parts.as_slice() {
            ["input", slug, file] => {
                let slug = ProjectSlug::parse(slug).ok()?;
                if let Some(version) = strip_versioned(file, &slug, ".json") {
                    return Some(Self::Spec { slug, version });
                }
                let version = strip_versioned(file, &slug, ".py")?;
                Some(Self::Input { slug, version })
            }
            ["processed", slug, file] => {
                let slug = ProjectSlug::parse(slug).ok()?;
                let version = strip_versioned(file, &slug, ".py.done")?;
                Some(Self::Processed { slug, version })
            }
            ["output", slug, v, file] => {
                let slug = ProjectSlug::parse(slug).ok()?;
                let version = v.strip_prefix('v')?.parse().ok()?;
                let format = model_file(file)?;
                Some(Self::Output { slug, version, format })
            }
            ["output", slug, file] => {
                let slug = ProjectSlug::parse(slug).ok()?;
                Some(Self::FlatOutput {
                    slug,
                    format: model_file(file)?,
                })
            }
            ["logs", slug, file] => {
                let slug = ProjectSlug::parse(slug).ok()?;
                let rest = file.strip_prefix(slug.as_str())?.strip_prefix("_info_")?;
                let rest = rest.strip_suffix(".log")?;
                let (ts, version) = match rest.len() {
                    15 => (rest, None),
                    n if n > 17 && rest.as_bytes()[15..17] == *b"_v" => (&rest[..15], Some(rest[17..].parse().ok()?)),
                    _ => return None,
                };
                if !ts
                    .bytes()
                    .enumerate()
                    .all(|(i, b)| if i == 8 { b == b'_' } else { b.is_ascii_digit() })
                {
                    return None;
                }
                let at = NaiveDateTime::parse_from_str(ts, LOG_TS).ok()?;
                Some(Self::Log { slug, at, version })
            }
            _ => None,
        }
    }
}

/// In messages a key travels as its string; one outside the layout is
/// refused when the message is read, not when the key is used.
impl serde::Serialize for S3Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for S3Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let key = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Self::parse(&key)
            .ok_or_else(|| serde::de::Error::custom(format!("{key:?} is not an object key of the bucket layout")))
    }
}

impl schemars::JsonSchema for S3Key {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "S3Key".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "An object key of the bucket layout: input/{slug}/{slug}_v{n}.py, output/{slug}/v{n}/MyHeadlessModel.{ext}, logs/{slug}/{slug}_info_{YYYYMMDD_HHMMSS}_v{n}.log …",
            "pattern": "^(input|output|logs|processed)/[a-z0-9][a-z0-9_-]{0,62}/"
        })
    }
}

fn strip_versioned(file: &str, slug: &ProjectSlug, suffix: &str) -> Option<Version> {
    let n = file
        .strip_prefix(slug.as_str())?
        .strip_prefix("_v")?
        .strip_suffix(suffix)?;
    n.parse().ok()
}

fn model_file(file: &str) -> Option<ModelFormat> {
    let ext = file.strip_prefix(MODEL_BASENAME)?.strip_prefix('.')?;
    ModelFormat::from_extension(ext)
}

impl fmt::Display for S3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Input { slug, version } => write!(f, "input/{slug}/{slug}_v{version}.py"),
            Self::Spec { slug, version } => write!(f, "input/{slug}/{slug}_v{version}.json"),
            Self::Output { slug, version, format } => {
                write!(f, "output/{slug}/v{version}/{MODEL_BASENAME}.{format}")
            }
            Self::FlatOutput { slug, format } => write!(f, "output/{slug}/{MODEL_BASENAME}.{format}"),
            Self::Log { slug, at, version } => {
                write!(f, "logs/{slug}/{slug}_info_{}", at.format(LOG_TS))?;
                if let Some(v) = version {
                    write!(f, "_v{v}")?;
                }
                f.write_str(".log")
            }
            Self::Processed { slug, version } => write!(f, "processed/{slug}/{slug}_v{version}.py.done"),
        }
    }
}

/// The metadata every object a job writes carries, so an object found in
/// the bucket says which project, version and job it belongs to and which
/// service wrote it; a writer adds its own entries after these.
pub fn object_metadata(
    project_id: &ProjectId,
    version: Version,
    job_id: JobId,
    service: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("project-id", project_id.to_string()),
        ("version", version.to_string()),
        ("job-id", job_id.to_string()),
        ("service", service.to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn slug(s: &str) -> ProjectSlug {
        ProjectSlug::parse(s).unwrap()
    }

    #[test]
    fn layout_matches_architecture() {
        let s = slug("project_gearbox");
        let v = Version::new(3).unwrap();
        assert_eq!(
            S3Key::input(&s, v).to_string(),
            "input/project_gearbox/project_gearbox_v3.py"
        );
        assert_eq!(
            S3Key::spec(&s, v).to_string(),
            "input/project_gearbox/project_gearbox_v3.json"
        );
        assert_eq!(
            S3Key::parse("input/project_gearbox/project_gearbox_v3.json"),
            Some(S3Key::spec(&s, v))
        );
        assert_eq!(
            S3Key::output(&s, v, ModelFormat::FcStd).to_string(),
            "output/project_gearbox/v3/MyHeadlessModel.FCStd"
        );
        assert_eq!(
            S3Key::processed(&s, v).to_string(),
            "processed/project_gearbox/project_gearbox_v3.py.done"
        );
        let at = DateTime::parse_from_rfc3339("2025-10-11T12:24:35.789Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            S3Key::log(&s, at, v).to_string(),
            "logs/project_gearbox/project_gearbox_info_20251011_122435_v3.log"
        );
    }

    #[test]
    fn foreign_keys_do_not_parse() {
        for k in [
            "input/../x_v1.py",
            "input/gear/other_v1.py",
            "input/gear/gear_v0.py",
            "input/gear/gear_v01.py",
            "input/gear/gear_v1.txt",
            "input/Gear/Gear_v1.py",
            "output/gear/v1/Model.STL",
            "output/gear/v1/MyHeadlessModel.stl",
            "output/gear/vx/MyHeadlessModel.STL",
            "output/gear/v1/x/MyHeadlessModel.STL",
            "logs/gear/gear_info_2025.log",
            "logs/gear/gear_info_20251311_122435.log",
            "processed/gear/gear_v1.py",
            "random/thing",
            "",
        ] {
            assert_eq!(S3Key::parse(k), None, "{k} parsed");
        }
    }

    #[test]
    fn seed_formats_parse() {
        assert_eq!(
            S3Key::parse("output/gear/MyHeadlessModel.STEP"),
            Some(S3Key::FlatOutput {
                slug: slug("gear"),
                format: ModelFormat::Step
            })
        );
        let log = S3Key::parse("logs/gear/gear_info_20251011_122435.log").unwrap();
        assert_eq!(log.version(), None);
    }

    fn any_slug() -> impl Strategy<Value = ProjectSlug> {
        "[a-z0-9][a-z0-9_-]{0,62}".prop_map(|s| ProjectSlug::parse(&s).unwrap())
    }

    fn any_key() -> impl Strategy<Value = S3Key> {
        let v = (1u32..1_000_000).prop_map(|n| Version::new(n).unwrap());
        let f = prop::sample::select(ModelFormat::ALL.to_vec());
        let ts = (0i64..4_000_000_000).prop_map(|t| DateTime::from_timestamp(t, 0).unwrap().naive_utc());
        prop_oneof![
            (any_slug(), v.clone()).prop_map(|(slug, version)| S3Key::Input { slug, version }),
            (any_slug(), v.clone(), f.clone()).prop_map(|(slug, version, format)| S3Key::Output {
                slug,
                version,
                format
            }),
            (any_slug(), f).prop_map(|(slug, format)| S3Key::FlatOutput { slug, format }),
            (any_slug(), ts, prop::option::of(v.clone())).prop_map(|(slug, at, version)| S3Key::Log {
                slug,
                at,
                version
            }),
            (any_slug(), v).prop_map(|(slug, version)| S3Key::Processed { slug, version }),
        ]
    }

    proptest! {
        #[test]
        fn keys_round_trip(key in any_key()) {
            let text = key.to_string();
            prop_assert_eq!(S3Key::parse(&text), Some(key));
        }

        #[test]
        fn parsed_keys_rebuild_exactly(s in "[a-zA-Z0-9_./-]{0,80}") {
            if let Some(k) = S3Key::parse(&s) {
                prop_assert_eq!(k.to_string(), s);
            }
        }
    }
}
