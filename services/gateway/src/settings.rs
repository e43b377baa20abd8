//! The gateway's configuration, read once from the environment.
//!
//! Beyond the settings every service shares it needs the JWT keys, the
//! per-user rate limit, the live-stream keep-alive, where the monitoring
//! service answers, and optionally a directory of static web files.

use std::path::PathBuf;
use std::time::Duration;

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
    /// Where `/api/monitoring/*` is forwarded.
    pub monitoring_url: String,
    /// Static web client served at `/` when set.
    pub web_root: Option<PathBuf>,
    /// Argon2 memory cost in KiB (tests lower it; the default is OWASP's).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
}

/// A PEM given inline or as a path to a file holding it.
fn pem(env: &mut EnvReader, name: &str) -> Option<String> {
    let value = env.optional(name)?;
    if value.contains("-----BEGIN") {
        return Some(value.replace("\\n", "\n"));
    }
    match std::fs::read_to_string(&value) {
        Ok(text) if text.contains("-----BEGIN") => Some(text),
        Ok(_) => {
            env.malformed(name, "the file holds no PEM block");
            None
        }
        Err(e) => {
            env.malformed(name, format!("expected a PEM or the path of one ({e})"));
            None
        }
    }
}

impl FromEnv for Settings {
    fn read(env: &mut EnvReader) -> Self {
        let common = CommonSettings::read(env, DEFAULT_PORT);
        let host = env.optional("HOST").unwrap_or_else(|| "127.0.0.1".into());

        let keys = match pem(env, "JWT_PUBLIC_KEY_PEM") {
            Some(public_pem) => {
                let private_pem = pem(env, "JWT_PRIVATE_KEY_PEM").map(Secret::new);
                JwtKeySettings::Rs256 {
                    public_pem,
                    private_pem,
                }
            }
            None => {
                let secret = env.secret(
                    "JWT_SECRET_KEY",
                    "at least 32 characters, or set JWT_PUBLIC_KEY_PEM for RS256",
                );
                if !secret.expose().is_empty() && secret.expose().len() < 32 {
                    env.malformed("JWT_SECRET_KEY", "must be at least 32 characters");
                }
                JwtKeySettings::Hs256 { secret }
            }
        };
        let expiry = env.secs_or("JWT_EXPIRY_SECS", Duration::from_secs(3600));
        if expiry < Duration::from_secs(1) {
            env.malformed("JWT_EXPIRY_SECS", "must be at least 1 second");
        }
        let jwt = JwtSettings {
            keys,
            expiry,
            leeway: env.secs_or("JWT_LEEWAY_SECS", Duration::from_secs(30)),
            issuer: env.optional("JWT_ISSUER"),
            audience: env.optional("JWT_AUDIENCE"),
        };

        let rate_limit = RateLimitSettings {
            per_minute: env.parse_or("RATE_LIMIT_PER_MINUTE", 300u32),
            burst: env.parse_or("RATE_LIMIT_BURST", 60u32),
        };
        let quota = QuotaSettings {
            jobs_in_flight: env.parse_or("QUOTA_JOBS_IN_FLIGHT", 50u64),
            jobs_per_hour: env.parse_or("QUOTA_JOBS_PER_HOUR", 600u64),
            storage_bytes: env.parse_or("QUOTA_STORAGE_MB", 2048u64) * 1024 * 1024,
        };
        let sse_keepalive = env.secs_or("SSE_KEEPALIVE_SECS", Duration::from_secs(15));
        if sse_keepalive < Duration::from_millis(100) {
            env.malformed("SSE_KEEPALIVE_SECS", "must be at least 0.1");
        }
        let monitoring_url = env
            .optional("MONITORING_URL")
            .unwrap_or_else(|| "http://127.0.0.1:8090".into())
            .trim_end_matches('/')
            .to_owned();
        if !(monitoring_url.starts_with("http://") || monitoring_url.starts_with("https://")) {
            env.malformed(
                "MONITORING_URL",
                format!("expected an http(s) URL (got {monitoring_url:?})"),
            );
        }
        let web_root = env.optional("WEB_ROOT").map(PathBuf::from);
        if let Some(root) = &web_root {
            if !root.is_dir() {
                env.malformed("WEB_ROOT", format!("{} is not a directory", root.display()));
            }
        }
        let argon2_memory_kib = env.parse_or("ARGON2_MEMORY_KIB", 19_456u32);
        if argon2_memory_kib < 8 {
            env.malformed("ARGON2_MEMORY_KIB", "must be at least 8");
        }
        let argon2_iterations = env.parse_or("ARGON2_ITERATIONS", 2u32);
        if argon2_iterations < 1 {
            env.malformed("ARGON2_ITERATIONS", "must be at least 1");
        }
        Self {
            common,
            host,
            jwt,
            rate_limit,
            quota,
            sse_keepalive,
            monitoring_url,
            web_root,
            argon2_memory_kib,
            argon2_iterations,
        }
    }
}
