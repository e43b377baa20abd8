//! `GET /api/monitoring/config/validate` and `/config/summary`.
//!
//! Validation runs each service's own configuration rules (its `Settings`
//! through `FromEnv`) over the environment monitoring sees, so it reports
//! exactly what that service would refuse to start with. The summary lists
//! each service's variables; secrets only as set or not set, and URLs with
//! their password hidden.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::json;

use domain::messages::TEMPLATE_PROVIDER;
use platform::config::{ConfigErrors, EnvReader, FromEnv};

use crate::auth::Admin;
use crate::State;

/// A variable a service reads.
pub struct Var {
    pub name: &'static str,
    pub secret: bool,
    pub default: Option<&'static str>,
}

const fn var(name: &'static str, default: Option<&'static str>) -> Var {
    Var {
        name,
        secret: false,
        default,
    }
}

const fn secret(name: &'static str) -> Var {
    Var {
        name,
        secret: true,
        default: None,
    }
}

/// What every service reads (`CommonSettings`, telemetry, heartbeats).
pub const COMMON: &[Var] = &[
    var("MONGODB_URI", None),
    var("DATABASE_NAME", Some("cadscribe")),
    secret("AWS_ACCESS_KEY_ID"),
    secret("AWS_SECRET_ACCESS_KEY"),
    var("AWS_BUCKET_NAME", None),
    var("AWS_REGION", Some("us-east-1")),
    var("AWS_ENDPOINT_URL", None),
    var("AWS_CREATE_BUCKET", Some("false")),
    var("PRESIGN_EXPIRY_SECS", Some("900")),
    var("BUS_BACKEND", Some("rabbitmq")),
    var("AMQP_URL", None),
    var("AMQP_EXCHANGE", Some("cadscribe")),
    var("AMQP_QUEUE_PREFIX", Some("")),
    var("AMQP_PREFETCH", Some("8")),
    var("AMQP_MAX_ATTEMPTS", Some("5")),
    var("AMQP_RETRY_BASE_SECS", Some("1")),
    var("AMQP_RETRY_MAX_SECS", Some("60")),
    var("AWS_ENDPOINT_URL_SQS", None),
    var("SQS_QUEUE_PREFIX", Some("cadscribe")),
    var("SQS_VISIBILITY_TIMEOUT_SECS", Some("60")),
    var("SQS_WAIT_TIME_SECS", Some("20")),
    var("HOST", Some("127.0.0.1")),
    var("PORT", None),
    var("HEARTBEAT_INTERVAL_SECS", Some("5")),
    var("DEBUG", Some("false")),
    var("LOG_FORMAT", None),
    var("RUST_LOG", None),
];

const GATEWAY_VARS: &[Var] = &[
    secret("JWT_SECRET_KEY"),
    var("JWT_PUBLIC_KEY_PEM", None),
    secret("JWT_PRIVATE_KEY_PEM"),
    var("JWT_EXPIRY_SECS", Some("3600")),
    var("JWT_LEEWAY_SECS", Some("30")),
    var("JWT_ISSUER", None),
    var("JWT_AUDIENCE", None),
    var("RATE_LIMIT_PER_MINUTE", Some("300")),
    var("RATE_LIMIT_BURST", Some("60")),
    var("SSE_KEEPALIVE_SECS", Some("15")),
    var("MONITORING_URL", Some("http://127.0.0.1:8090")),
    var("WEB_ROOT", None),
    var("ARGON2_MEMORY_KIB", Some("19456")),
    var("ARGON2_ITERATIONS", Some("2")),
];
const AI_GENERATOR_VARS: &[Var] = &[
    var("AI_PROVIDER", Some(TEMPLATE_PROVIDER)),
    var("AI_MODEL", None),
    var("AI_BASE_URL", None),
    secret("OPENAI_API_KEY"),
    secret("OPENROUTER_API_KEY"),
    secret("GEMINI_API_KEY"),
    var("AI_TIMEOUT_SECS", Some("120")),
    var("AI_MAX_CHECK_RETRIES", Some("2")),
    var("AI_HISTORY_TURNS", Some("20")),
];
const FREECAD_WORKER_VARS: &[Var] = &[
    var("FREECAD_CMD", Some("freecadcmd")),
    var("FREECAD_TIMEOUT_SECS", None),
    var("FREECAD_CPU_SECS", None),
    var("FREECAD_MEMORY_MB", None),
    var("FREECAD_FILE_SIZE_MB", None),
    var("FREECAD_MAX_PROCESSES", None),
    var("FREECAD_CONCURRENCY", Some("1")),
    var("WORKER_ID", None),
];
const OUTPUT_WATCHER_VARS: &[Var] = &[
    var("JOB_TIMEOUT_SECS", Some("600")),
    var("RECONCILE_INTERVAL_SECS", Some("15")),
    var("MAX_REPAIRS", Some("2")),
    var("RECONCILE_QUIET_SECS", Some("30")),
];
const MONITORING_VARS: &[Var] = &[
    secret("JWT_SECRET_KEY"),
    var("JWT_PUBLIC_KEY_PEM", None),
    var("JWT_ISSUER", None),
    var("JWT_AUDIENCE", None),
    var("JWT_LEEWAY_SECS", Some("30")),
    var("HEARTBEAT_TIMEOUT_SECS", Some("30")),
    var("CHECK_TIMEOUT_SECS", Some("3")),
    var(
        "MONITORED_SERVICES",
        Some("gateway,ai-generator,script-store,freecad-worker,output-watcher"),
    ),
    var("S3_COUNT_CAP", Some("10000")),
    var("STUCK_AFTER_SECS", Some("120")),
];

pub struct ServiceConfig {
    pub name: &'static str,
    check: fn(EnvReader) -> Result<(), ConfigErrors>,
    pub vars: &'static [Var],
}

fn check<T: FromEnv>(env: EnvReader) -> Result<(), ConfigErrors> {
    T::from_reader(env).map(|_| ())
}

/// Every service, with its own rules and its own variables.
pub fn services() -> Vec<ServiceConfig> {
    vec![
        ServiceConfig {
            name: gateway::NAME,
            check: check::<gateway::Settings>,
            vars: GATEWAY_VARS,
        },
        ServiceConfig {
            name: ai_generator::NAME,
            check: check::<ai_generator::Settings>,
            vars: AI_GENERATOR_VARS,
        },
        ServiceConfig {
            name: script_store::NAME,
            check: check::<script_store::Settings>,
            vars: &[],
        },
        ServiceConfig {
            name: freecad_worker::NAME,
            check: check::<freecad_worker::Settings>,
            vars: FREECAD_WORKER_VARS,
        },
        ServiceConfig {
            name: output_watcher::NAME,
            check: check::<output_watcher::Settings>,
            vars: OUTPUT_WATCHER_VARS,
        },
        ServiceConfig {
            name: crate::NAME,
            check: check::<crate::Settings>,
            vars: MONITORING_VARS,
        },
    ]
}

#[derive(Debug, Serialize)]
pub struct Problem {
    pub variable: String,
    pub problem: String,
}

/// Each service's problems under `env`: empty when it would start.
pub fn validate_all(env: &HashMap<String, String>) -> Vec<(&'static str, Vec<Problem>)> {
    services()
        .into_iter()
        .map(|s| {
            let problems = match (s.check)(EnvReader::from_map(env.clone())) {
                Ok(()) => Vec::new(),
                Err(errors) => errors
                    .0
                    .iter()
                    .map(|e| Problem {
                        variable: e.name().to_owned(),
                        problem: e.to_string(),
                    })
                    .collect(),
            };
            (s.name, problems)
        })
        .collect()
}

/// A URL with its password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let hidden = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_owned()
            };
            format!("{scheme}://{hidden}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

fn shown(var: &Var, env: &HashMap<String, String>) -> serde_json::Value {
    let value = env.get(var.name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut v = json!({ "name": var.name, "set": value.is_some(), "secret": var.secret });
    if !var.secret {
        if let Some(value) = value {
            v["value"] = json!(if value.contains("://") {
                redact_url(value)
            } else {
                value.to_owned()
            });
        } else if let Some(d) = var.default {
            v["default"] = json!(d);
        }
    }
    v
}

pub async fn validate(_: Admin, state: web::Data<State>) -> HttpResponse {
    let results = validate_all(&state.config_env);
    let valid = results.iter().all(|(_, p)| p.is_empty());
    let services: Vec<serde_json::Value> = results
        .into_iter()
        .map(|(name, problems)| json!({ "service": name, "valid": problems.is_empty(), "problems": problems }))
        .collect();
    HttpResponse::Ok().json(json!({
        "valid": valid,
        "source": "the monitoring service's environment",
        "services": services,
    }))
}

pub async fn summary(_: Admin, state: web::Data<State>) -> HttpResponse {
    let env = &state.config_env;
    let validity: HashMap<&str, bool> = validate_all(env).into_iter().map(|(n, p)| (n, p.is_empty())).collect();
    let services: Vec<serde_json::Value> = services()
        .into_iter()
        .map(|s| {
            json!({
                "service": s.name,
                "valid": validity.get(s.name).copied().unwrap_or(false),
                "variables": s.vars.iter().map(|v| shown(v, env)).collect::<Vec<_>>(),
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({
        "source": "the monitoring service's environment",
        "common": COMMON.iter().map(|v| shown(v, env)).collect::<Vec<_>>(),
        "services": services,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact_url("amqp://guest:guest@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(
            redact_url("mongodb://127.0.0.1:27017/?x=1"),
            "mongodb://127.0.0.1:27017/?x=1"
        );
        assert_eq!(redact_url("mongodb://u:p@w@h/db"), "mongodb://u:***@h/db");
    }

    #[test]
    fn secrets_show_only_whether_they_are_set() {
        let env: HashMap<String, String> = [("AWS_SECRET_ACCESS_KEY".to_owned(), "hunter2".to_owned())].into();
        let v = shown(&secret("AWS_SECRET_ACCESS_KEY"), &env);
        assert_eq!(v["set"], true);
        assert!(!v.to_string().contains("hunter2"));
    }

    #[test]
    fn an_empty_environment_names_the_missing_variables() {
        let results = validate_all(&HashMap::new());
        let (_, problems) = results.iter().find(|(n, _)| *n == "monitoring").unwrap();
        assert!(problems.iter().any(|p| p.variable == "JWT_SECRET_KEY"));
        assert!(problems.iter().any(|p| p.variable == "MONGODB_URI"));
    }
}
