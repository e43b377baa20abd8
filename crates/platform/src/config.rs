//! Configuration from environment variables, checked once at start.
//!
//! Every problem is collected before failing, so a service that cannot start
//! says at once *every* variable that is missing or malformed, by name.
//! What a variable may hold is declared once, in `domain::settings`: a
//! reader first [`EnvReader::check`]s its declarations, then takes values
//! that are known to be good ([`EnvReader::get`], [`EnvReader::value`]).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use domain::settings::{common, Kind, Need, ServiceSettings, Setting};

/// A value that must not appear in logs: Debug and Display print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set{hint}")]
    Missing { name: String, hint: String },
    #[error("{name} is malformed: {reason}")]
    Malformed { name: String, reason: String },
}

impl ConfigError {
    pub fn name(&self) -> &str {
        match self {
            Self::Missing { name, .. } | Self::Malformed { name, .. } => name,
        }
    }
}

/// All configuration problems of one start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration ({} problem(s)):", self.0.len())?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Reads variables from a snapshot of the environment and collects errors.
pub struct EnvReader {
    vars: HashMap<String, String>,
    errors: Vec<ConfigError>,
}

impl EnvReader {
    pub fn from_env() -> Self {
        Self::from_map(std::env::vars().collect())
    }

    pub fn from_map(vars: HashMap<String, String>) -> Self {
        Self {
            vars,
            errors: Vec::new(),
        }
    }

    /// A non-empty value, or `None`.
    pub fn optional(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&mut self, name: &str, hint: &str) -> String {
        match self.optional(name) {
            Some(v) => v,
            None => {
                let hint = if hint.is_empty() {
                    String::new()
                } else {
                    format!(" ({hint})")
                };
                self.push(ConfigError::Missing {
                    name: name.to_owned(),
                    hint,
                });
                String::new()
            }
        }
    }

    pub fn secret(&mut self, name: &str, hint: &str) -> Secret {
        Secret(self.required(name, hint))
    }

    pub fn malformed(&mut self, name: &str, reason: impl Into<String>) {
        self.push(ConfigError::Malformed {
            name: name.to_owned(),
            reason: reason.into(),
        });
    }

    /// Settings that share variables (the SQS connection of the bus and of
    /// the S3 event queue) read them twice: each problem is told once.
    fn push(&mut self, error: ConfigError) {
        if !self.errors.contains(&error) {
            self.errors.push(error);
        }
    }

    /// Parses an optional value, falling back to `default` when unset.
    pub fn parse_or<T>(&mut self, name: &str, default: T) -> T
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.optional(name) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|e| {
                self.malformed(name, format!("{e} (got {v:?})"));
                default
            }),
        }
    }

    pub fn bool_or(&mut self, name: &str, default: bool) -> bool {
        match self.optional(name).as_deref().map(str::to_ascii_lowercase).as_deref() {
            None => default,
            Some("1" | "true" | "yes" | "on") => true,
            Some("0" | "false" | "no" | "off") => false,
            Some(other) => {
                self.malformed(name, format!("expected true or false (got {other:?})"));
                default
            }
        }
    }

    pub fn secs_or(&mut self, name: &str, default: Duration) -> Duration {
        Duration::from_secs_f64(self.parse_or(name, default.as_secs_f64()))
    }

    /// A URL whose scheme is one of `schemes`.
    pub fn url(&mut self, name: &str, schemes: &[&str], hint: &str) -> String {
        let v = self.required(name, hint);
        if !v.is_empty() && !schemes.iter().any(|s| v.starts_with(&format!("{s}://"))) {
            self.malformed(name, format!("expected a {} URL (got {v:?})", schemes.join(" or ")));
        }
        v
    }

    /// Records every problem of `settings` under this environment: a
    /// required one unset, a value its declaration refuses. A setting
    /// whose condition does not hold is skipped.
    pub fn check<'a>(&mut self, settings: impl IntoIterator<Item = &'a Setting>) {
        for s in settings {
            if let Some(when) = &s.when {
                if !when.holds(self.optional(when.setting.name).as_deref()) {
                    continue;
                }
            }
            match self.optional(s.name) {
                None => {
                    let needed = match s.need {
                        Need::Optional => false,
                        Need::Required => true,
                        Need::RequiredUnless(other) => self.optional(other).is_none(),
                    };
                    if needed {
                        self.required(s.name, s.about);
                    }
                }
                Some(v) => {
                    let verdict = match s.kind {
                        Kind::Pem => read_pem(&v).map(|_| ()),
                        Kind::Directory if !std::path::Path::new(&v).is_dir() => Err(format!("{v} is not a directory")),
                        _ => s.check(&v),
                    };
                    if let Err(reason) = verdict {
                        self.malformed(s.name, reason);
                    }
                }
            }
        }
    }

    /// Checks every setting of a service.
    pub fn check_service(&mut self, service: &ServiceSettings) {
        self.check(service.settings());
    }

    /// The value of `s`, or its declared default; `None` when neither.
    pub fn get(&self, s: &Setting) -> Option<String> {
        self.optional(s.name).or_else(|| s.default.map(str::to_owned))
    }

    /// The value of `s` (or its default) parsed; a value [`Self::check`]
    /// refused falls back to the default, then to `T::default()`.
    pub fn value<T: FromStr + Default>(&self, s: &Setting) -> T {
        self.optional(s.name)
            .and_then(|v| v.parse().ok())
            .or_else(|| s.default.and_then(|d| d.parse().ok()))
            .unwrap_or_default()
    }

    /// A [`Kind::Seconds`] setting.
    pub fn secs(&self, s: &Setting) -> Duration {
        Duration::from_secs_f64(self.value::<f64>(s).clamp(0.0, 1e12))
    }

    /// A [`Kind::Flag`] setting.
    pub fn flag(&self, s: &Setting) -> bool {
        self.get(s)
            .and_then(|v| domain::settings::parse_flag(&v))
            .unwrap_or(false)
    }

    /// A [`Kind::Pem`] setting: the PEM itself, read from its file when
    /// the value is a path; `None` when unset or refused.
    pub fn pem(&self, s: &Setting) -> Option<String> {
        read_pem(&self.optional(s.name)?).ok()
    }

    pub fn finish(self) -> Result<(), ConfigErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(self.errors))
        }
    }
}

/// A PEM given inline (`\n` escapes allowed) or as the path of a file
/// holding one.
fn read_pem(value: &str) -> Result<String, String> {
    if value.contains("-----BEGIN") {
        return Ok(value.replace("\\n", "\n"));
    }
    match std::fs::read_to_string(value) {
        Ok(text) if text.contains("-----BEGIN") => Ok(text),
        Ok(_) => Err("the file holds no PEM block".into()),
        Err(e) => Err(format!("expected a PEM or the path of one ({e})")),
    }
}

/// Settings a service builds from the environment.
pub trait FromEnv: Sized {
    fn read(env: &mut EnvReader) -> Self;

    /// Reads and checks in one go: `Err` names every bad variable.
    fn from_env() -> Result<Self, ConfigErrors> {
        Self::from_reader(EnvReader::from_env())
    }

    fn from_reader(mut env: EnvReader) -> Result<Self, ConfigErrors> {
        let s = Self::read(&mut env);
        env.finish().map(|()| s)
    }
}

#[derive(Debug, Clone)]
pub struct MongoSettings {
    pub uri: String,
    pub database: String,
    /// The write concern of every write: an answer or an ack never rests on
    /// a write the server has not made durable.
    pub durability: Durability,
    /// Jobs of one user let into the pipeline at a time (`FAIR_SHARE_JOBS`;
    /// 0: no limit): see [`crate::jobs::submit`].
    pub fair_share: u32,
}

/// `MONGODB_WRITE_CONCERN` and `MONGODB_JOURNAL`: how durable a write must
/// be before the server acknowledges it. The default, `majority` with the
/// journal, holds on a standalone server and on a replica set alike; a
/// replica set may ask for a number of members or a tag set name instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Durability {
    /// `majority`, a number of members (at least 1), or a tag set name.
    pub w: String,
    pub journal: bool,
    /// How long a write may wait for its concern before it fails.
    pub timeout: Duration,
}

impl Default for Durability {
    fn default() -> Self {
        Self {
            w: "majority".into(),
            journal: true,
            timeout: Duration::from_secs(10),
        }
    }
}

impl FromEnv for MongoSettings {
    fn read(env: &mut EnvReader) -> Self {
        env.check(common::MONGO);
        Self {
            uri: env.get(&common::MONGODB_URI).unwrap_or_default(),
            database: env.get(&common::DATABASE_NAME).unwrap_or_default(),
            durability: Durability {
                w: env.get(&common::MONGODB_WRITE_CONCERN).unwrap_or_default(),
                journal: env.flag(&common::MONGODB_JOURNAL),
                timeout: Duration::from_millis(env.value::<u64>(&common::MONGODB_WRITE_TIMEOUT_MS).max(1)),
            },
            fair_share: env.value::<u32>(&common::FAIR_SHARE_JOBS),
        }
    }
}

#[derive(Debug, Clone)]
pub struct S3Settings {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub bucket: String,
    pub region: String,
    /// For S3-compatible servers; path-style addressing is used with it.
    pub endpoint_url: Option<String>,
    pub presign_expiry: Duration,
}

impl FromEnv for S3Settings {
    fn read(env: &mut EnvReader) -> Self {
        env.check(common::S3);
        Self {
            access_key_id: env.get(&common::AWS_ACCESS_KEY_ID).unwrap_or_default(),
            secret_access_key: Secret(env.get(&common::AWS_SECRET_ACCESS_KEY).unwrap_or_default()),
            bucket: env.get(&common::AWS_BUCKET_NAME).unwrap_or_default(),
            region: env.get(&common::AWS_REGION).unwrap_or_default(),
            endpoint_url: env.get(&common::AWS_ENDPOINT_URL),
            presign_expiry: env.secs(&common::PRESIGN_EXPIRY_SECS),
        }
    }
}

/// The message bus: which backend (`BUS_BACKEND`, read here once) and the
/// delivery rules every backend follows.
#[derive(Debug, Clone)]
pub struct BusSettings {
    pub backend: BusBackend,
    /// Deliveries handled at once per consumer.
    pub prefetch: u16,
    /// Deliveries of one message before it is dead-lettered.
    pub max_attempts: u32,
    /// First retry delay; doubled on each further attempt.
    pub retry_base: Duration,
    pub retry_max: Duration,
}

/// `BUS_BACKEND`: `rabbitmq` (the default) or `sqs`, with the settings only
/// that backend reads.
#[derive(Debug, Clone)]
pub enum BusBackend {
    RabbitMq(RabbitSettings),
    Sqs(SqsSettings),
}

impl BusBackend {
    /// What to name when the bus does not answer at start.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::RabbitMq(_) => "the message broker (AMQP_URL)",
            Self::Sqs(_) => "SQS (AWS_ENDPOINT_URL_SQS, AWS_REGION, credentials)",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RabbitSettings {
    pub amqp_url: Secret,
    pub exchange: String,
    /// Prefixed to every queue name (isolated test runs, shared brokers).
    pub queue_prefix: String,
}

impl FromEnv for RabbitSettings {
    fn read(env: &mut EnvReader) -> Self {
        env.check([&common::AMQP_URL, &common::AMQP_EXCHANGE, &common::AMQP_QUEUE_PREFIX]);
        Self {
            amqp_url: Secret(env.get(&common::AMQP_URL).unwrap_or_default()),
            exchange: env.get(&common::AMQP_EXCHANGE).unwrap_or_default(),
            queue_prefix: env.get(&common::AMQP_QUEUE_PREFIX).unwrap_or_default(),
        }
    }
}

pub use domain::settings::SQS_PREFIX_MAX;

#[derive(Debug, Clone)]
pub struct SqsSettings {
    pub connection: SqsConnection,
    /// Starts every queue name, followed by `_` (several deployments in one
    /// account; `_` appears nowhere else before the service name).
    pub queue_prefix: String,
    /// How long a received message stays hidden from other consumers; the
    /// bus extends it while the handler runs.
    pub visibility_timeout: Duration,
    /// Long polling: how long one receive waits for a message.
    pub wait_time: Duration,
}

/// The keys SQS is called with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqsCredentials {
    /// The IAM role of the service account (EKS sets `AWS_ROLE_ARN` and
    /// `AWS_WEB_IDENTITY_TOKEN_FILE`), even where S3 keys are set too.
    WebIdentity,
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    Static(String, Secret),
    /// The SDK's default chain (profile, instance or task role...).
    DefaultChain,
}

/// Where SQS is and who calls it: the bus on SQS and the S3 event queue
/// (whichever bus) share it.
#[derive(Debug, Clone)]
pub struct SqsConnection {
    /// A local SQS-compatible server; `None` is AWS itself.
    pub endpoint_url: Option<String>,
    pub region: String,
    /// Where the keys come from.
    pub credentials: SqsCredentials,
}

impl FromEnv for SqsConnection {
    fn read(env: &mut EnvReader) -> Self {
        env.check([&common::AWS_ENDPOINT_URL_SQS, &common::AWS_ENDPOINT_URL]);
        let endpoint_url = env
            .get(&common::AWS_ENDPOINT_URL_SQS)
            .or_else(|| env.get(&common::AWS_ENDPOINT_URL));
        let region = env.get(&common::AWS_REGION).unwrap_or_default();
        let web_identity =
            env.optional("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() && env.optional("AWS_ROLE_ARN").is_some();
        let credentials = match (env.optional("AWS_ACCESS_KEY_ID"), env.optional("AWS_SECRET_ACCESS_KEY")) {
            _ if web_identity => SqsCredentials::WebIdentity,
            (Some(id), Some(secret)) => SqsCredentials::Static(id, Secret(secret)),
            _ => SqsCredentials::DefaultChain,
        };
        Self {
            endpoint_url,
            region,
            credentials,
        }
    }
}

impl FromEnv for SqsSettings {
    fn read(env: &mut EnvReader) -> Self {
        let connection = SqsConnection::read(env);
        env.check([
            &common::SQS_QUEUE_PREFIX,
            &common::SQS_VISIBILITY_TIMEOUT_SECS,
            &common::SQS_WAIT_TIME_SECS,
        ]);
        Self {
            connection,
            queue_prefix: env.get(&common::SQS_QUEUE_PREFIX).unwrap_or_default(),
            visibility_timeout: Duration::from_secs(
                env.value::<u64>(&common::SQS_VISIBILITY_TIMEOUT_SECS).clamp(1, 43_200),
            ),
            wait_time: Duration::from_secs(env.value::<u64>(&common::SQS_WAIT_TIME_SECS).min(20)),
        }
    }
}

impl FromEnv for BusSettings {
    fn read(env: &mut EnvReader) -> Self {
        // Every bus setting, in declared order (the backend's own only
        // when it is the one named).
        env.check(common::BUS);
        let backend = match env.get(&common::BUS_BACKEND).map(|b| b.to_ascii_lowercase()).as_deref() {
            Some("sqs") => BusBackend::Sqs(SqsSettings::read(env)),
            // Anything else but rabbitmq was refused by the check.
            _ => BusBackend::RabbitMq(RabbitSettings::read(env)),
        };
        Self {
            backend,
            prefetch: env.value(&common::AMQP_PREFETCH),
            max_attempts: env.value(&common::AMQP_MAX_ATTEMPTS),
            retry_base: env.secs(&common::AMQP_RETRY_BASE_SECS),
            retry_max: env.secs(&common::AMQP_RETRY_MAX_SECS),
        }
    }
}

/// The port a service's HTTP side (health, metrics, API) listens on.
pub fn http_port(env: &mut EnvReader, default: u16) -> u16 {
    env.check([&common::PORT]);
    env.optional(common::PORT.name)
        .and_then(|p| p.parse().ok())
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(pairs: &[(&str, &str)]) -> EnvReader {
        EnvReader::from_map(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn names_every_missing_variable() {
        let err = S3Settings::from_reader(reader(&[("AWS_BUCKET_NAME", "ok-bucket")])).unwrap_err();
        let names: Vec<_> = err.0.iter().map(ConfigError::name).collect();
        assert_eq!(names, ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
        assert!(err.to_string().contains("AWS_ACCESS_KEY_ID is not set"));
    }

    #[test]
    fn names_malformed_variables() {
        let err =
            BusSettings::from_reader(reader(&[("AMQP_URL", "http://nope"), ("AMQP_PREFETCH", "many")])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("AMQP_URL is malformed"), "{text}");
        assert!(text.contains("AMQP_PREFETCH is malformed"), "{text}");
    }

    #[test]
    fn the_bus_backend_is_rabbitmq_unless_sqs_is_named() {
        let amqp = ("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f");
        let s = BusSettings::from_reader(reader(&[amqp])).unwrap();
        assert!(matches!(s.backend, BusBackend::RabbitMq(_)));

        let s = BusSettings::from_reader(reader(&[
            ("BUS_BACKEND", "sqs"),
            ("AWS_ENDPOINT_URL", "http://s3.local:3900"),
            ("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9324"),
            ("SQS_WAIT_TIME_SECS", "1"),
        ]))
        .unwrap();
        let BusBackend::Sqs(sqs) = s.backend else {
            panic!("not sqs")
        };
        assert_eq!(sqs.connection.endpoint_url.as_deref(), Some("http://127.0.0.1:9324"));
        assert_eq!(sqs.queue_prefix, "cadscribe");
        assert_eq!(sqs.wait_time, Duration::from_secs(1));
        assert_eq!(sqs.connection.credentials, SqsCredentials::DefaultChain, "no keys");

        let sqs_with = |extra: &[(&str, &str)]| {
            let mut vars = vec![
                ("BUS_BACKEND", "sqs"),
                ("AWS_ACCESS_KEY_ID", "id"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
            ];
            vars.extend_from_slice(extra);
            match BusSettings::from_reader(reader(&vars)).unwrap().backend {
                BusBackend::Sqs(sqs) => sqs.connection.credentials,
                BusBackend::RabbitMq(_) => panic!("not sqs"),
            }
        };
        assert_eq!(
            sqs_with(&[]),
            SqsCredentials::Static("id".into(), Secret::new("secret"))
        );
        let eks = [
            ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/token"),
        ];
        assert_eq!(
            sqs_with(&eks),
            SqsCredentials::WebIdentity,
            "the role wins over S3's keys"
        );

        let err = BusSettings::from_reader(reader(&[amqp, ("BUS_BACKEND", "kafka")])).unwrap_err();
        assert!(err.to_string().contains("BUS_BACKEND is malformed"), "{err}");
    }

    #[test]
    fn sqs_settings_name_every_bad_variable() {
        let err = BusSettings::from_reader(reader(&[
            ("BUS_BACKEND", "sqs"),
            ("AWS_ENDPOINT_URL_SQS", "127.0.0.1:9324"),
            ("SQS_QUEUE_PREFIX", "my_prefix"),
            ("SQS_VISIBILITY_TIMEOUT_SECS", "0"),
            ("SQS_WAIT_TIME_SECS", "30"),
        ]))
        .unwrap_err();
        let names: Vec<_> = err.0.iter().map(ConfigError::name).collect();
        assert_eq!(
            names,
            [
                "AWS_ENDPOINT_URL_SQS",
                "SQS_QUEUE_PREFIX",
                "SQS_VISIBILITY_TIMEOUT_SECS",
                "SQS_WAIT_TIME_SECS"
            ]
        );
    }

    #[test]
    fn writes_are_durable_by_default_and_unacknowledged_writes_are_refused() {
        let uri = ("MONGODB_URI", "mongodb://127.0.0.1:27017");
        let s = MongoSettings::from_reader(reader(&[uri])).unwrap();
        assert_eq!(s.durability, Durability::default());
        assert_eq!(s.durability.w, "majority");
        assert!(s.durability.journal);

        let s = MongoSettings::from_reader(reader(&[
            uri,
            ("MONGODB_WRITE_CONCERN", "2"),
            ("MONGODB_JOURNAL", "false"),
        ]))
        .unwrap();
        assert_eq!((s.durability.w.as_str(), s.durability.journal), ("2", false));

        for bad in ["0", "-1"] {
            let err = MongoSettings::from_reader(reader(&[uri, ("MONGODB_WRITE_CONCERN", bad)])).unwrap_err();
            assert!(
                err.to_string().contains("MONGODB_WRITE_CONCERN is malformed"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let s = S3Settings::from_reader(reader(&[
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "hunter2"),
            ("AWS_BUCKET_NAME", "bucket"),
        ]))
        .unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.secret_access_key.expose(), "hunter2");
    }
}
