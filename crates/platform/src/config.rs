//! Configuration from environment variables, checked once at start.
//!
//! Every problem is collected before failing, so a service that cannot start
//! says at once *every* variable that is missing or malformed, by name.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

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

    pub fn finish(self) -> Result<(), ConfigErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(self.errors))
        }
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
        let uri = env.url(
            "MONGODB_URI",
            &["mongodb", "mongodb+srv"],
            "e.g. mongodb://127.0.0.1:27017",
        );
        let database = env.optional("DATABASE_NAME").unwrap_or_else(|| "cadscribe".into());
        if !database
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            || database.len() > 63
        {
            env.malformed("DATABASE_NAME", "use letters, digits, '_' or '-' (at most 63)");
        }
        let defaults = Durability::default();
        let w = env
            .optional("MONGODB_WRITE_CONCERN")
            .unwrap_or_else(|| defaults.w.clone());
        if w.parse::<i64>().is_ok_and(|n| n < 1) {
            env.malformed(
                "MONGODB_WRITE_CONCERN",
                "`majority`, a number of members of at least 1, or a tag set name; \
                 unacknowledged writes (0) would lose accepted jobs",
            );
        }
        let journal = env.bool_or("MONGODB_JOURNAL", defaults.journal);
        let timeout_ms = env.parse_or("MONGODB_WRITE_TIMEOUT_MS", defaults.timeout.as_millis() as u64);
        Self {
            uri,
            database,
            durability: Durability {
                w,
                journal,
                timeout: Duration::from_millis(timeout_ms.max(1)),
            },
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
        let access_key_id = env.required("AWS_ACCESS_KEY_ID", "");
        let secret_access_key = env.secret("AWS_SECRET_ACCESS_KEY", "");
        let bucket = env.required("AWS_BUCKET_NAME", "the bucket that holds input/, output/, logs/");
        let valid_bucket = bucket.len() >= 3
            && bucket.len() <= 63
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket.is_empty() && !valid_bucket {
            env.malformed("AWS_BUCKET_NAME", "3 to 63 of a-z, 0-9, '-' and '.'");
        }
        let region = env.optional("AWS_REGION").unwrap_or_else(|| "us-east-1".into());
        let endpoint_url = env.optional("AWS_ENDPOINT_URL");
        if let Some(e) = &endpoint_url {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                env.malformed("AWS_ENDPOINT_URL", format!("expected an http(s) URL (got {e:?})"));
            }
        }
        let presign_expiry = env.secs_or("PRESIGN_EXPIRY_SECS", Duration::from_secs(15 * 60));
        Self {
            access_key_id,
            secret_access_key,
            bucket,
            region,
            endpoint_url,
            presign_expiry,
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
        let amqp_url = Secret(env.url(
            "AMQP_URL",
            &["amqp", "amqps"],
            "e.g. amqp://guest:guest@127.0.0.1:5672/%2f",
        ));
        Self {
            amqp_url,
            exchange: env.optional("AMQP_EXCHANGE").unwrap_or_else(|| "cadscribe".into()),
            queue_prefix: env.optional("AMQP_QUEUE_PREFIX").unwrap_or_default(),
        }
    }
}

/// Longest `SQS_QUEUE_PREFIX`: queue names are at most 80 characters and
/// the longest name the bus builds after the prefix is 40.
pub const SQS_PREFIX_MAX: usize = 40;

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
        let endpoint_var = ["AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL"]
            .into_iter()
            .find(|name| env.optional(name).is_some());
        let endpoint_url = endpoint_var.and_then(|name| {
            let url = env.optional(name)?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                env.malformed(name, format!("expected an http(s) URL (got {url:?})"));
            }
            Some(url)
        });
        let region = env.optional("AWS_REGION").unwrap_or_else(|| "us-east-1".into());
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
        let queue_prefix = env.optional("SQS_QUEUE_PREFIX").unwrap_or_else(|| "cadscribe".into());
        if queue_prefix.len() > SQS_PREFIX_MAX || !queue_prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            env.malformed(
                "SQS_QUEUE_PREFIX",
                format!("use letters, digits or '-' (at most {SQS_PREFIX_MAX})"),
            );
        }
        let visibility = env.parse_or("SQS_VISIBILITY_TIMEOUT_SECS", 60u64);
        if !(1..=43_200).contains(&visibility) {
            env.malformed(
                "SQS_VISIBILITY_TIMEOUT_SECS",
                "whole seconds from 1 to 43200 (12 hours)",
            );
        }
        let wait = env.parse_or("SQS_WAIT_TIME_SECS", 20u64);
        if wait > 20 {
            env.malformed("SQS_WAIT_TIME_SECS", "whole seconds from 0 to 20");
        }
        Self {
            connection,
            queue_prefix,
            visibility_timeout: Duration::from_secs(visibility.clamp(1, 43_200)),
            wait_time: Duration::from_secs(wait.min(20)),
        }
    }
}

impl FromEnv for BusSettings {
    fn read(env: &mut EnvReader) -> Self {
        let backend = match env.optional("BUS_BACKEND").map(|b| b.to_ascii_lowercase()).as_deref() {
            None | Some("rabbitmq") => BusBackend::RabbitMq(RabbitSettings::read(env)),
            Some("sqs") => BusBackend::Sqs(SqsSettings::read(env)),
            Some(other) => {
                env.malformed("BUS_BACKEND", format!("expected rabbitmq or sqs (got {other:?})"));
                // Never used: `finish` refuses the configuration.
                BusBackend::RabbitMq(RabbitSettings {
                    amqp_url: Secret::new(""),
                    exchange: String::new(),
                    queue_prefix: String::new(),
                })
            }
        };
        let prefetch = env.parse_or("AMQP_PREFETCH", 8u16);
        if prefetch == 0 {
            env.malformed("AMQP_PREFETCH", "must be at least 1");
        }
        let max_attempts = env.parse_or("AMQP_MAX_ATTEMPTS", 5u32);
        if max_attempts == 0 {
            env.malformed("AMQP_MAX_ATTEMPTS", "must be at least 1");
        }
        let retry_base = env.secs_or("AMQP_RETRY_BASE_SECS", Duration::from_secs(1));
        let retry_max = env.secs_or("AMQP_RETRY_MAX_SECS", Duration::from_secs(60));
        Self {
            backend,
            prefetch,
            max_attempts,
            retry_base,
            retry_max,
        }
    }
}

/// The port a service's HTTP side (health, metrics, API) listens on.
pub fn http_port(env: &mut EnvReader, default: u16) -> u16 {
    env.parse_or("PORT", default)
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
