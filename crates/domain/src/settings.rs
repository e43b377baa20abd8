//! Every service's configuration, declared once as data.
//!
//! A [`Setting`] says what one environment variable is: its name, the form
//! its value takes, its default, when it is required and what it is for. A
//! service's reader checks its environment against its [`ServiceSettings`]
//! before it reads a value, and monitoring checks the same declarations
//! without linking the service: there is one list per service, so the
//! reader and the check cannot drift apart. Checks that need the file
//! system (a PEM file, a directory) are named here and made by
//! `platform::config`; everything else is a pure rule on the value.

use crate::messages::TEMPLATE_PROVIDER;

/// One environment variable.
#[derive(Debug)]
pub struct Setting {
    pub name: &'static str,
    pub kind: Kind,
    /// The value used when the variable is unset or empty.
    pub default: Option<&'static str>,
    pub need: Need,
    /// The setting matters only under this condition: it is neither
    /// required nor checked otherwise.
    pub when: Option<Condition>,
    /// Never shown, only said to be set or not.
    pub secret: bool,
    /// What it is for; said after "is not set" when it is missing.
    pub about: &'static str,
}

/// The form of a value.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Any text.
    Text,
    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    Flag,
    /// Seconds, fractions allowed, within `min..=max`.
    Seconds { min: f64, max: f64 },
    /// A whole number within `min..=max`.
    Count { min: u64, max: u64 },
    /// A URL with one of these schemes.
    Url(&'static [&'static str]),
    /// One of these words (case does not matter).
    OneOf(&'static [&'static str]),
    /// A PEM, inline or the path of a file holding one.
    Pem,
    /// The path of an existing directory.
    Directory,
    /// Any other rule on the value alone: `Err` says why it is refused.
    Rule(fn(&str) -> Result<(), String>),
}

/// When a setting must be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Optional,
    Required,
    /// Required unless the named variable is set.
    RequiredUnless(&'static str),
}

/// A setting that matters only when another one has one of some values.
#[derive(Debug, Clone, Copy)]
pub struct Condition {
    pub setting: &'static Setting,
    /// Compared without regard to case, with the setting's default when
    /// it is unset.
    pub any_of: &'static [&'static str],
}

impl Condition {
    /// Whether it holds, `value` being the other setting's value (if set).
    pub fn holds(&self, value: Option<&str>) -> bool {
        let value = value.or(self.setting.default).unwrap_or_default();
        self.any_of.iter().any(|v| v.eq_ignore_ascii_case(value))
    }
}

impl Setting {
    /// A text setting, optional, without default.
    pub const fn text(name: &'static str, about: &'static str) -> Self {
        Self {
            name,
            kind: Kind::Text,
            default: None,
            need: Need::Optional,
            when: None,
            secret: false,
            about,
        }
    }
    pub const fn kind(self, kind: Kind) -> Self {
        Self { kind, ..self }
    }
    pub const fn default(self, default: &'static str) -> Self {
        Self {
            default: Some(default),
            ..self
        }
    }
    pub const fn required(self) -> Self {
        Self {
            need: Need::Required,
            ..self
        }
    }
    pub const fn required_unless(self, other: &'static str) -> Self {
        Self {
            need: Need::RequiredUnless(other),
            ..self
        }
    }
    pub const fn when(self, setting: &'static Setting, any_of: &'static [&'static str]) -> Self {
        Self {
            when: Some(Condition { setting, any_of }),
            ..self
        }
    }
    pub const fn secret(self) -> Self {
        Self { secret: true, ..self }
    }

    /// Why `value` is refused, for the rules that need no I/O; `Ok` for
    /// [`Kind::Pem`] and [`Kind::Directory`], which `platform` checks.
    pub fn check(&self, value: &str) -> Result<(), String> {
        match self.kind {
            Kind::Text | Kind::Pem | Kind::Directory => Ok(()),
            Kind::Flag => parse_flag(value)
                .map(|_| ())
                .ok_or_else(|| format!("expected true or false (got {value:?})")),
            Kind::Seconds { min, max } => match value.parse::<f64>() {
                Ok(s) if (min..=max).contains(&s) => Ok(()),
                Ok(_) if max == f64::MAX => Err(format!("must be at least {min} (got {value:?})")),
                Ok(_) => Err(format!("seconds from {min} to {max} (got {value:?})")),
                Err(e) => Err(format!("{e} (got {value:?})")),
            },
            Kind::Count { min, max } => match value.parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(()),
                Ok(_) if max == u64::MAX => Err(format!("must be at least {min} (got {value:?})")),
                Ok(_) => Err(format!("a whole number from {min} to {max} (got {value:?})")),
                Err(e) => Err(format!("{e} (got {value:?})")),
            },
            Kind::Url(schemes) => {
                if schemes
                    .iter()
                    .any(|s| value.strip_prefix(s).is_some_and(|rest| rest.starts_with("://")))
                {
                    Ok(())
                } else {
                    Err(format!("expected a {} URL (got {value:?})", schemes.join(" or ")))
                }
            }
            Kind::OneOf(words) => {
                if words.iter().any(|w| w.eq_ignore_ascii_case(value)) {
                    Ok(())
                } else {
                    Err(format!("expected one of {} (got {value:?})", words.join(", ")))
                }
            }
            Kind::Rule(rule) => rule(value),
        }
    }
}

/// The words [`Kind::Flag`] takes.
pub fn parse_flag(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// One service's settings: the groups every service shares, then its own.
#[derive(Debug)]
pub struct ServiceSettings {
    pub service: &'static str,
    pub groups: &'static [&'static [Setting]],
}

impl ServiceSettings {
    pub fn settings(&self) -> impl Iterator<Item = &'static Setting> {
        self.groups.iter().flat_map(|g| g.iter())
    }
}

const SECONDS: Kind = Kind::Seconds {
    min: 0.0,
    max: f64::MAX,
};
const POSITIVE_SECONDS: Kind = Kind::Seconds {
    min: 0.001,
    max: f64::MAX,
};
const COUNT: Kind = Kind::Count { min: 0, max: u64::MAX };
const U32: Kind = Kind::Count {
    min: 0,
    max: u32::MAX as u64,
};
const HTTP: Kind = Kind::Url(&["http", "https"]);

/// Longest `SQS_QUEUE_PREFIX`: queue names are at most 80 characters and
/// the longest name the bus builds after the prefix is 40.
pub const SQS_PREFIX_MAX: usize = 40;

/// The shared groups, in the order their readers read them.
pub mod common {
    use super::*;

    pub const MONGODB_URI: Setting = Setting::text("MONGODB_URI", "e.g. mongodb://127.0.0.1:27017")
        .kind(Kind::Url(&["mongodb", "mongodb+srv"]))
        .required();
    pub const DATABASE_NAME: Setting = Setting::text("DATABASE_NAME", "the MongoDB database")
        .default("cadscribe")
        .kind(Kind::Rule(|v| {
            if v.len() <= 63 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                Ok(())
            } else {
                Err("use letters, digits, '_' or '-' (at most 63)".into())
            }
        }));
    pub const MONGODB_WRITE_CONCERN: Setting = Setting::text(
        "MONGODB_WRITE_CONCERN",
        "`majority`, a number of members, or a tag set name",
    )
    .default("majority")
    .kind(Kind::Rule(|w| {
        if w.parse::<i64>().is_ok_and(|n| n < 1) {
            Err("`majority`, a number of members of at least 1, or a tag set name; \
                         unacknowledged writes (0) would lose accepted jobs"
                .into())
        } else {
            Ok(())
        }
    }));
    pub const MONGODB_JOURNAL: Setting = Setting::text("MONGODB_JOURNAL", "writes wait for the journal")
        .kind(Kind::Flag)
        .default("true");
    pub const MONGODB_WRITE_TIMEOUT_MS: Setting =
        Setting::text("MONGODB_WRITE_TIMEOUT_MS", "how long a write may wait for its concern")
            .kind(COUNT)
            .default("10000");
    pub const FAIR_SHARE_JOBS: Setting = Setting::text(
        "FAIR_SHARE_JOBS",
        "jobs of one user let into the pipeline at a time; the others wait in the database, first come first served (0: no limit)",
    )
    .kind(COUNT)
    .default("8");
    pub const MONGO: &[Setting] = &[
        MONGODB_URI,
        DATABASE_NAME,
        MONGODB_WRITE_CONCERN,
        MONGODB_JOURNAL,
        MONGODB_WRITE_TIMEOUT_MS,
        FAIR_SHARE_JOBS,
    ];

    pub const AWS_ACCESS_KEY_ID: Setting = Setting::text("AWS_ACCESS_KEY_ID", "").required().secret();
    pub const AWS_SECRET_ACCESS_KEY: Setting = Setting::text("AWS_SECRET_ACCESS_KEY", "").required().secret();
    pub const AWS_BUCKET_NAME: Setting =
        Setting::text("AWS_BUCKET_NAME", "the bucket that holds input/, output/, logs/")
            .required()
            .kind(Kind::Rule(|b| {
                let valid = (3..=63).contains(&b.len())
                    && b.bytes()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.');
                if valid {
                    Ok(())
                } else {
                    Err("3 to 63 of a-z, 0-9, '-' and '.'".into())
                }
            }));
    pub const AWS_REGION: Setting = Setting::text("AWS_REGION", "").default("us-east-1");
    pub const AWS_ENDPOINT_URL: Setting =
        Setting::text("AWS_ENDPOINT_URL", "an S3-compatible server (path-style)").kind(HTTP);
    pub const PRESIGN_EXPIRY_SECS: Setting = Setting::text("PRESIGN_EXPIRY_SECS", "lifetime of download links")
        .kind(SECONDS)
        .default("900");
    pub const S3: &[Setting] = &[
        AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY,
        AWS_BUCKET_NAME,
        AWS_REGION,
        AWS_ENDPOINT_URL,
        PRESIGN_EXPIRY_SECS,
    ];

    pub const BUS_BACKEND: Setting = Setting::text("BUS_BACKEND", "the message bus")
        .kind(Kind::OneOf(&["rabbitmq", "sqs"]))
        .default("rabbitmq");
    pub const AMQP_URL: Setting = Setting::text("AMQP_URL", "e.g. amqp://guest:guest@127.0.0.1:5672/%2f")
        .kind(Kind::Url(&["amqp", "amqps"]))
        .required()
        .when(&BUS_BACKEND, &["rabbitmq"]);
    pub const AMQP_EXCHANGE: Setting = Setting::text("AMQP_EXCHANGE", "")
        .default("cadscribe")
        .when(&BUS_BACKEND, &["rabbitmq"]);
    pub const AMQP_QUEUE_PREFIX: Setting = Setting::text("AMQP_QUEUE_PREFIX", "prefixed to every queue name")
        .default("")
        .when(&BUS_BACKEND, &["rabbitmq"]);
    /// Read by the bus on SQS and by the S3 event queue, whichever bus.
    pub const AWS_ENDPOINT_URL_SQS: Setting =
        Setting::text("AWS_ENDPOINT_URL_SQS", "a local SQS-compatible server").kind(HTTP);
    pub const SQS_QUEUE_PREFIX: Setting = Setting::text("SQS_QUEUE_PREFIX", "starts every queue name")
        .default("cadscribe")
        .when(&BUS_BACKEND, &["sqs"])
        .kind(Kind::Rule(|p| {
            if p.len() <= SQS_PREFIX_MAX && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                Ok(())
            } else {
                Err(format!("use letters, digits or '-' (at most {SQS_PREFIX_MAX})"))
            }
        }));
    pub const SQS_VISIBILITY_TIMEOUT_SECS: Setting = Setting::text("SQS_VISIBILITY_TIMEOUT_SECS", "")
        .default("60")
        .when(&BUS_BACKEND, &["sqs"])
        .kind(Kind::Count { min: 1, max: 43_200 });
    pub const SQS_WAIT_TIME_SECS: Setting = Setting::text("SQS_WAIT_TIME_SECS", "long polling")
        .default("20")
        .when(&BUS_BACKEND, &["sqs"])
        .kind(Kind::Count { min: 0, max: 20 });
    pub const AMQP_PREFETCH: Setting = Setting::text("AMQP_PREFETCH", "deliveries handled at once")
        .default("8")
        .kind(Kind::Count {
            min: 1,
            max: u16::MAX as u64,
        });
    pub const AMQP_MAX_ATTEMPTS: Setting = Setting::text(
        "AMQP_MAX_ATTEMPTS",
        "deliveries of one message before it is dead-lettered",
    )
    .default("5")
    .kind(Kind::Count {
        min: 1,
        max: u32::MAX as u64,
    });
    pub const AMQP_RETRY_BASE_SECS: Setting = Setting::text("AMQP_RETRY_BASE_SECS", "first retry delay")
        .default("1")
        .kind(SECONDS);
    pub const AMQP_RETRY_MAX_SECS: Setting = Setting::text("AMQP_RETRY_MAX_SECS", "longest retry delay")
        .default("60")
        .kind(SECONDS);
    pub const BUS: &[Setting] = &[
        BUS_BACKEND,
        AMQP_URL,
        AMQP_EXCHANGE,
        AMQP_QUEUE_PREFIX,
        AWS_ENDPOINT_URL_SQS,
        SQS_QUEUE_PREFIX,
        SQS_VISIBILITY_TIMEOUT_SECS,
        SQS_WAIT_TIME_SECS,
        AMQP_PREFETCH,
        AMQP_MAX_ATTEMPTS,
        AMQP_RETRY_BASE_SECS,
        AMQP_RETRY_MAX_SECS,
    ];

    pub const PORT: Setting =
        Setting::text("PORT", "the HTTP port (each service has its own default)").kind(Kind::Count {
            min: 0,
            max: u16::MAX as u64,
        });
    pub const AWS_CREATE_BUCKET: Setting =
        Setting::text("AWS_CREATE_BUCKET", "create the bucket at start (local stacks)")
            .kind(Kind::Flag)
            .default("false");
    pub const HOST: Setting = Setting::text("HOST", "the interface to listen on").default("127.0.0.1");
    pub const HEARTBEAT_INTERVAL_SECS: Setting = Setting::text("HEARTBEAT_INTERVAL_SECS", "0 turns heartbeats off")
        .kind(SECONDS)
        .default("5");
    pub const DEBUG: Setting = Setting::text("DEBUG", "").kind(Kind::Flag).default("false");
    pub const LOG_FORMAT: Setting = Setting::text("LOG_FORMAT", "").kind(Kind::OneOf(&["json", "pretty"]));
    pub const RUST_LOG: Setting = Setting::text("RUST_LOG", "");
    pub const RUNTIME: &[Setting] = &[
        PORT,
        AWS_CREATE_BUCKET,
        HOST,
        HEARTBEAT_INTERVAL_SECS,
        DEBUG,
        LOG_FORMAT,
        RUST_LOG,
    ];

    /// Every group a service shares.
    pub const ALL: [&[Setting]; 4] = [MONGO, S3, BUS, RUNTIME];
}

/// The JWT settings the gateway and monitoring both read.
pub mod jwt {
    use super::*;

    pub const JWT_PUBLIC_KEY_PEM: Setting =
        Setting::text("JWT_PUBLIC_KEY_PEM", "RS256: the public key, or the path of it").kind(Kind::Pem);
    pub const JWT_SECRET_KEY: Setting = Setting::text(
        "JWT_SECRET_KEY",
        "at least 32 characters, or set JWT_PUBLIC_KEY_PEM for RS256",
    )
    .secret()
    .required_unless("JWT_PUBLIC_KEY_PEM")
    .kind(Kind::Rule(|s| {
        if s.len() < 32 {
            Err("must be at least 32 characters".into())
        } else {
            Ok(())
        }
    }));
    pub const JWT_LEEWAY_SECS: Setting = Setting::text("JWT_LEEWAY_SECS", "clock skew tolerated")
        .kind(SECONDS)
        .default("30");
    pub const JWT_ISSUER: Setting = Setting::text("JWT_ISSUER", "checked when set");
    pub const JWT_AUDIENCE: Setting = Setting::text("JWT_AUDIENCE", "checked when set");
}

pub mod gateway {
    use super::jwt::*;
    use super::*;

    pub const JWT_PRIVATE_KEY_PEM: Setting =
        Setting::text("JWT_PRIVATE_KEY_PEM", "RS256: the key the gateway issues tokens with")
            .kind(Kind::Pem)
            .secret();
    pub const JWT_EXPIRY_SECS: Setting = Setting::text("JWT_EXPIRY_SECS", "lifetime of issued tokens")
        .kind(Kind::Seconds {
            min: 1.0,
            max: f64::MAX,
        })
        .default("3600");
    pub const RATE_LIMIT_PER_MINUTE: Setting = Setting::text("RATE_LIMIT_PER_MINUTE", "per user; 0 turns it off")
        .kind(U32)
        .default("300");
    pub const RATE_LIMIT_BURST: Setting = Setting::text("RATE_LIMIT_BURST", "").kind(U32).default("60");
    pub const QUOTA_JOBS_IN_FLIGHT: Setting = Setting::text("QUOTA_JOBS_IN_FLIGHT", "per user; 0 turns it off")
        .kind(COUNT)
        .default("50");
    pub const QUOTA_JOBS_PER_HOUR: Setting = Setting::text("QUOTA_JOBS_PER_HOUR", "per user; 0 turns it off")
        .kind(COUNT)
        .default("600");
    pub const QUOTA_STORAGE_MB: Setting = Setting::text("QUOTA_STORAGE_MB", "per user; 0 turns it off")
        .kind(Kind::Count {
            min: 0,
            max: u64::MAX / (1024 * 1024),
        })
        .default("2048");
    pub const SSE_KEEPALIVE_SECS: Setting = Setting::text("SSE_KEEPALIVE_SECS", "")
        .kind(Kind::Seconds {
            min: 0.1,
            max: f64::MAX,
        })
        .default("15");
    pub const READ_CACHE_SECS: Setting = Setting::text(
        "READ_CACHE_SECS",
        "how long polled reads are answered from memory; 0 turns it off",
    )
    .kind(SECONDS)
    .default("1");
    pub const MONITORING_URL: Setting = Setting::text("MONITORING_URL", "where /api/monitoring goes")
        .kind(HTTP)
        .default("http://127.0.0.1:8090");
    pub const WEB_ROOT: Setting = Setting::text("WEB_ROOT", "the built web client, served at /").kind(Kind::Directory);
    pub const ARGON2_MEMORY_KIB: Setting = Setting::text("ARGON2_MEMORY_KIB", "")
        .kind(Kind::Count {
            min: 8,
            max: u32::MAX as u64,
        })
        .default("19456");
    pub const ARGON2_ITERATIONS: Setting = Setting::text("ARGON2_ITERATIONS", "")
        .kind(Kind::Count {
            min: 1,
            max: u32::MAX as u64,
        })
        .default("2");
    pub const OWN: &[Setting] = &[
        JWT_PUBLIC_KEY_PEM,
        JWT_PRIVATE_KEY_PEM,
        JWT_SECRET_KEY,
        JWT_EXPIRY_SECS,
        JWT_LEEWAY_SECS,
        JWT_ISSUER,
        JWT_AUDIENCE,
        RATE_LIMIT_PER_MINUTE,
        RATE_LIMIT_BURST,
        QUOTA_JOBS_IN_FLIGHT,
        QUOTA_JOBS_PER_HOUR,
        QUOTA_STORAGE_MB,
        SSE_KEEPALIVE_SECS,
        READ_CACHE_SECS,
        MONITORING_URL,
        WEB_ROOT,
        ARGON2_MEMORY_KIB,
        ARGON2_ITERATIONS,
    ];
    pub const SETTINGS: ServiceSettings = ServiceSettings {
        service: "gateway",
        groups: &[common::MONGO, common::S3, common::BUS, common::RUNTIME, OWN],
    };
}

pub mod ai_generator {
    use super::*;

    pub const AI_PROVIDER: Setting = Setting::text("AI_PROVIDER", "who writes the scripts")
        .kind(Kind::OneOf(&[
            TEMPLATE_PROVIDER,
            "openai",
            "openrouter",
            "gemini",
            "ollama",
            "vllm",
        ]))
        .default(TEMPLATE_PROVIDER);
    /// A language model's settings matter only when one is used.
    const LLMS: &[&str] = &["openai", "openrouter", "gemini", "ollama", "vllm"];
    pub const AI_BASE_URL: Setting = Setting::text("AI_BASE_URL", "an OpenAI-compatible server")
        .kind(HTTP)
        .when(&AI_PROVIDER, LLMS);
    /// Required only where the provider has no default model.
    pub const AI_MODEL: Setting = Setting::text("AI_MODEL", "the model the server serves")
        .required()
        .when(&AI_PROVIDER, &["vllm"]);
    pub const OPENAI_API_KEY: Setting = Setting::text("OPENAI_API_KEY", "needed by AI_PROVIDER=openai")
        .secret()
        .required_unless("AI_BASE_URL")
        .when(&AI_PROVIDER, &["openai"]);
    pub const OPENROUTER_API_KEY: Setting = Setting::text("OPENROUTER_API_KEY", "needed by AI_PROVIDER=openrouter")
        .secret()
        .required_unless("AI_BASE_URL")
        .when(&AI_PROVIDER, &["openrouter"]);
    pub const GEMINI_API_KEY: Setting = Setting::text("GEMINI_API_KEY", "needed by AI_PROVIDER=gemini")
        .secret()
        .required_unless("AI_BASE_URL")
        .when(&AI_PROVIDER, &["gemini"]);
    pub const AI_TIMEOUT_SECS: Setting = Setting::text("AI_TIMEOUT_SECS", "")
        .kind(POSITIVE_SECONDS)
        .default("120")
        .when(&AI_PROVIDER, LLMS);
    pub const AI_MAX_CHECK_RETRIES: Setting =
        Setting::text("AI_MAX_CHECK_RETRIES", "times a refused script goes back to the model")
            .kind(U32)
            .default("2");
    pub const AI_HISTORY_TURNS: Setting = Setting::text("AI_HISTORY_TURNS", "earlier turns sent with a prompt")
        .kind(U32)
        .default("20");
    pub const OWN: &[Setting] = &[
        AI_PROVIDER,
        AI_BASE_URL,
        AI_MODEL,
        OPENAI_API_KEY,
        OPENROUTER_API_KEY,
        GEMINI_API_KEY,
        AI_TIMEOUT_SECS,
        AI_MAX_CHECK_RETRIES,
        AI_HISTORY_TURNS,
    ];
    pub const SETTINGS: ServiceSettings = ServiceSettings {
        service: "ai-generator",
        groups: &[common::MONGO, common::S3, common::BUS, common::RUNTIME, OWN],
    };
}

pub mod script_store {
    use super::*;

    pub const SETTINGS: ServiceSettings = ServiceSettings {
        service: "script-store",
        groups: &[common::MONGO, common::S3, common::BUS, common::RUNTIME],
    };
}

pub mod freecad_worker {
    use super::*;

    pub const FREECAD_CMD: Setting =
        Setting::text("FREECAD_CMD", "freecadcmd to run (path or name on PATH)").default("freecadcmd");
    pub const FREECAD_TIMEOUT_SECS: Setting = Setting::text(
        "FREECAD_TIMEOUT_SECS",
        "wall time of a run (the sandbox's default when unset)",
    )
    .kind(SECONDS);
    pub const FREECAD_CPU_SECS: Setting = Setting::text(
        "FREECAD_CPU_SECS",
        "CPU time of a run (the sandbox's default when unset)",
    )
    .kind(SECONDS);
    pub const FREECAD_MEMORY_MB: Setting = Setting::text(
        "FREECAD_MEMORY_MB",
        "address space of a run (the sandbox's default when unset)",
    )
    .kind(COUNT);
    pub const FREECAD_FILE_SIZE_MB: Setting = Setting::text(
        "FREECAD_FILE_SIZE_MB",
        "largest file a run writes (the sandbox's default when unset)",
    )
    .kind(COUNT);
    pub const FREECAD_MAX_PROCESSES: Setting = Setting::text(
        "FREECAD_MAX_PROCESSES",
        "processes of a run (the sandbox's default when unset)",
    )
    .kind(COUNT);
    pub const FREECAD_OUTPUT_MB: Setting = Setting::text(
        "FREECAD_OUTPUT_MB",
        "output a run may print (the sandbox's default when unset)",
    )
    .kind(COUNT);
    pub const FREECAD_CONCURRENCY: Setting = Setting::text("FREECAD_CONCURRENCY", "scripts run at once")
        .kind(Kind::Count {
            min: 0,
            max: u16::MAX as u64,
        })
        .default("1");
    pub const FREECAD_EXECUTOR: Setting = Setting::text("FREECAD_EXECUTOR", "how runs get a FreeCAD process")
        .kind(Kind::OneOf(&["warm", "cold"]))
        .default("warm");
    pub const WORKER_ID: Setting = Setting::text("WORKER_ID", "names this worker (host and pid when unset)");
    pub const OWN: &[Setting] = &[
        FREECAD_CMD,
        FREECAD_TIMEOUT_SECS,
        FREECAD_CPU_SECS,
        FREECAD_MEMORY_MB,
        FREECAD_FILE_SIZE_MB,
        FREECAD_MAX_PROCESSES,
        FREECAD_OUTPUT_MB,
        FREECAD_CONCURRENCY,
        FREECAD_EXECUTOR,
        WORKER_ID,
    ];
    pub const SETTINGS: ServiceSettings = ServiceSettings {
        service: "freecad-worker",
        groups: &[common::MONGO, common::S3, common::BUS, common::RUNTIME, OWN],
    };
}

pub mod output_watcher {
    use super::*;

    pub const JOB_TIMEOUT_SECS: Setting =
        Setting::text("JOB_TIMEOUT_SECS", "a job with no result after this long times out")
            .kind(SECONDS)
            .default("600");
    pub const RECONCILE_INTERVAL_SECS: Setting =
        Setting::text("RECONCILE_INTERVAL_SECS", "how often quiet jobs are checked against S3")
            .kind(SECONDS)
            .default("15");
    pub const MAX_REPAIRS: Setting = Setting::text("MAX_REPAIRS", "repairs of a failing script")
        .kind(U32)
        .default("2");
    pub const RECONCILE_QUIET_SECS: Setting =
        Setting::text("RECONCILE_QUIET_SECS", "a job quiet this long is checked against S3")
            .kind(SECONDS)
            .default("30");
    pub const OUTBOX_AFTER_SECS: Setting = Setting::text(
        "OUTBOX_AFTER_SECS",
        "a job accepted this long ago and still not on the bus (the broker was down) is published again",
    )
    .kind(SECONDS)
    .default("2");
    pub const S3_EVENTS_QUEUE: Setting =
        Setting::text("S3_EVENTS_QUEUE", "the SQS queue the bucket sends its events to").kind(Kind::Rule(|queue| {
            let name = match queue.split_once("://") {
                Some(("http" | "https", rest)) => rest.rsplit('/').next().unwrap_or_default(),
                Some(_) => return Err(format!("a queue name or its http(s) URL (got {queue:?})")),
                None => queue,
            };
            if name.ends_with(".fifo") {
                Err("S3 sends event notifications to standard queues only, not to a FIFO queue".into())
            } else if !(1..=80).contains(&name.len())
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                Err(format!(
                    "a queue name is 1 to 80 letters, digits, '-' or '_' (got {name:?})"
                ))
            } else {
                Ok(())
            }
        }));
    pub const S3_EVENTS_GRACE_SECS: Setting = Setting::text(
        "S3_EVENTS_GRACE_SECS",
        "how long an output's event waits for model.built",
    )
    .kind(SECONDS)
    .default("10");
    pub const OWN: &[Setting] = &[
        JOB_TIMEOUT_SECS,
        RECONCILE_INTERVAL_SECS,
        MAX_REPAIRS,
        RECONCILE_QUIET_SECS,
        OUTBOX_AFTER_SECS,
        S3_EVENTS_QUEUE,
        S3_EVENTS_GRACE_SECS,
    ];
    pub const SETTINGS: ServiceSettings = ServiceSettings {
        service: "output-watcher",
        groups: &[common::MONGO, common::S3, common::BUS, common::RUNTIME, OWN],
    };
}

pub mod monitoring {
    use super::jwt::*;
    use super::*;

    pub const HEARTBEAT_TIMEOUT_SECS: Setting =
        Setting::text("HEARTBEAT_TIMEOUT_SECS", "a service not heard from this long is down")
            .kind(POSITIVE_SECONDS)
            .default("30");
    pub const CHECK_TIMEOUT_SECS: Setting = Setting::text("CHECK_TIMEOUT_SECS", "bound of every dependency check")
        .kind(POSITIVE_SECONDS)
        .default("3");
    pub const MONITORED_SERVICES: Setting = Setting::text(
        "MONITORED_SERVICES",
        "the services expected to send heartbeats, comma-separated",
    )
    .default("gateway,ai-generator,script-store,freecad-worker,output-watcher");
    pub const S3_COUNT_CAP: Setting = Setting::text("S3_COUNT_CAP", "objects counted per prefix at most")
        .kind(COUNT)
        .default("10000");
    pub const STUCK_AFTER_SECS: Setting =
        Setting::text("STUCK_AFTER_SECS", "a live job in one stage this long is stuck")
            .kind(SECONDS)
            .default("120");
    pub const OWN: &[Setting] = &[
        JWT_PUBLIC_KEY_PEM,
        JWT_SECRET_KEY,
        JWT_ISSUER,
        JWT_AUDIENCE,
        JWT_LEEWAY_SECS,
        HEARTBEAT_TIMEOUT_SECS,
        CHECK_TIMEOUT_SECS,
        MONITORED_SERVICES,
        S3_COUNT_CAP,
        STUCK_AFTER_SECS,
    ];
    pub const SETTINGS: ServiceSettings = ServiceSettings {
        service: "monitoring",
        groups: &[common::MONGO, common::S3, common::BUS, common::RUNTIME, OWN],
    };
}

/// Every service, in pipeline order, monitoring last.
pub const SERVICES: [&ServiceSettings; 6] = [
    &gateway::SETTINGS,
    &ai_generator::SETTINGS,
    &script_store::SETTINGS,
    &freecad_worker::SETTINGS,
    &output_watcher::SETTINGS,
    &monitoring::SETTINGS,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_declares_each_variable_once_and_its_defaults_pass_its_own_rules() {
        for service in SERVICES {
            let mut seen = std::collections::HashSet::new();
            for s in service.settings() {
                assert!(seen.insert(s.name), "{}: {} twice", service.service, s.name);
                if let Some(d) = s.default.filter(|d| !d.is_empty()) {
                    assert_eq!(s.check(d), Ok(()), "{}: the default of {}", service.service, s.name);
                }
            }
        }
    }

    #[test]
    fn rules_name_what_is_wrong() {
        assert!(common::AMQP_URL.check("http://x").unwrap_err().contains("amqp"));
        assert!(common::AMQP_PREFETCH.check("0").is_err());
        assert!(common::AMQP_PREFETCH.check("lots").is_err());
        assert!(output_watcher::S3_EVENTS_QUEUE.check("events.fifo").is_err());
        assert_eq!(output_watcher::S3_EVENTS_QUEUE.check("http://sqs/1/events"), Ok(()));
        assert!(common::BUS_BACKEND.check("SQS").is_ok());
    }
}
