//! The gateway's configuration, read once from the environment.
//!
//! Beyond the settings every service shares it needs the JWT keys, the
//! per-user rate limit, the live-stream keep-alive, where the monitoring
//! service answers, and optionally a directory of static web files. What
//! each variable may hold is declared in `domain::settings::gateway`.

use std::path::PathBuf;
use std::time::Duration;

use domain::settings::common::HOST;
use domain::settings::gateway::*;
use domain::settings::jwt::*;
use platform::config::{EnvReader, FromEnv, Secret};
use platform::runtime::CommonSettings;

pub const DEFAULT_PORT: u16 = 8080;

/// How tokens are signed and checked. Exactly one algorithm is accepted.
#[derive(Debug, Clone)]
pub enum JwtKeySettings {
    /// HS256 with a shared secret; the gateway issues tokens itself.
    Hs256 { secret: Secret },
    /// RS256 verified with an identity provider's public key (PEM). The
    /// gateway issues tokens only when it also has the private key.
    Rs256 {
        public_pem: String,
        private_pem: Option<Secret>,
    },
}

#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub keys: JwtKeySettings,
    /// Lifetime of the tokens the gateway issues.
    pub expiry: Duration,
    /// Clock skew tolerated on `exp` (and `nbf`).
    pub leeway: Duration,
    /// Checked when set; written into issued tokens.
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct RateLimitSettings {
    /// Sustained requests per minute per user (0 turns the limit off).
    pub per_minute: u32,
    /// Requests a user may make at once above the sustained rate.
    pub burst: u32,
}

/// What one user may have the system do; 0 turns a limit off. Admins are
/// not limited (the operator's override: give a user the admin role).
#[derive(Debug, Clone, Copy)]
pub struct QuotaSettings {
    /// Jobs not over yet (queued to processing).
    pub jobs_in_flight: u64,
    /// Jobs started in the last hour.
    pub jobs_per_hour: u64,
    /// Bytes of stored files (scripts, models, logs) across the user's projects.
    pub storage_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
    /// Interface the API listens on (`0.0.0.0` in containers).
    pub host: String,
    pub jwt: JwtSettings,
    pub rate_limit: RateLimitSettings,
    pub quota: QuotaSettings,
    /// Interval of keep-alive comments (and state re-checks) on live streams.
    pub sse_keepalive: Duration,
    /// How long the documents behind polled reads are kept (zero: not at all).
    pub read_cache: Duration,
    /// Where `/api/monitoring/*` is forwarded.
    pub monitoring_url: String,
    /// Static web client served at `/` when set.
    pub web_root: Option<PathBuf>,
    /// Argon2 memory cost in KiB (tests lower it; the default is OWASP's).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
}

impl FromEnv for Settings {
    fn read(env: &mut EnvReader) -> Self {
        env.check_service(&SETTINGS);
        let common = CommonSettings::read(env, DEFAULT_PORT);
        let keys = match env.pem(&JWT_PUBLIC_KEY_PEM) {
            Some(public_pem) => JwtKeySettings::Rs256 {
                public_pem,
                private_pem: env.pem(&JWT_PRIVATE_KEY_PEM).map(Secret::new),
            },
            None => JwtKeySettings::Hs256 {
                secret: Secret::new(env.get(&JWT_SECRET_KEY).unwrap_or_default()),
            },
        };
        let jwt = JwtSettings {
            keys,
            expiry: env.secs(&JWT_EXPIRY_SECS),
            leeway: env.secs(&JWT_LEEWAY_SECS),
            issuer: env.get(&JWT_ISSUER),
            audience: env.get(&JWT_AUDIENCE),
        };
        Self {
            common,
            host: env.get(&HOST).unwrap_or_default(),
            jwt,
            rate_limit: RateLimitSettings {
                per_minute: env.value(&RATE_LIMIT_PER_MINUTE),
                burst: env.value(&RATE_LIMIT_BURST),
            },
            quota: QuotaSettings {
                jobs_in_flight: env.value(&QUOTA_JOBS_IN_FLIGHT),
                jobs_per_hour: env.value(&QUOTA_JOBS_PER_HOUR),
                storage_bytes: env.value::<u64>(&QUOTA_STORAGE_MB) * 1024 * 1024,
            },
            sse_keepalive: env.secs(&SSE_KEEPALIVE_SECS),
            read_cache: env.secs(&READ_CACHE_SECS),
            monitoring_url: env
                .get(&MONITORING_URL)
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_owned(),
            web_root: env.get(&WEB_ROOT).map(PathBuf::from),
            argon2_memory_kib: env.value(&ARGON2_MEMORY_KIB),
            argon2_iterations: env.value(&ARGON2_ITERATIONS),
        }
    }
}
