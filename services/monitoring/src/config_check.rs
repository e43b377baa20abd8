//! `GET /api/monitoring/config/validate` and `/config/summary`.
//!
//! Validation checks each service's declared settings
//! (`domain::settings::SERVICES`, the same declarations the service's own
//! reader checks at start) against the environment monitoring sees, so it
//! reports what that service would refuse to start with, without linking
//! the service. The summary lists each service's variables; secrets only as
//! set or not set, and URLs with their password hidden.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::json;

use domain::settings::{common, ServiceSettings, Setting, SERVICES};
use platform::config::EnvReader;

use crate::auth::Admin;
use crate::State;

#[derive(Debug, Serialize)]
pub struct Problem {
    pub variable: String,
    pub problem: String,
}

/// What `service` would refuse under `env`: empty when it would start.
pub fn validate(service: &ServiceSettings, env: &HashMap<String, String>) -> Vec<Problem> {
    let mut reader = EnvReader::from_map(env.clone());
    reader.check_service(service);
    match reader.finish() {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .0
            .iter()
            .map(|e| Problem {
                variable: e.name().to_owned(),
                problem: e.to_string(),
            })
            .collect(),
    }
}

/// Each service's problems under `env`.
pub fn validate_all(env: &HashMap<String, String>) -> Vec<(&'static str, Vec<Problem>)> {
    SERVICES.iter().map(|s| (s.service, validate(s, env))).collect()
}

/// A service's own settings: those of the groups every service shares are
/// shown once, as `common`.
fn own(service: &ServiceSettings) -> impl Iterator<Item = &'static Setting> {
    service
        .settings()
        .filter(|s| !common::ALL.iter().flat_map(|g| g.iter()).any(|c| c.name == s.name))
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

fn shown(var: &Setting, env: &HashMap<String, String>) -> serde_json::Value {
    let value = env.get(var.name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut v = json!({ "name": var.name, "set": value.is_some(), "secret": var.secret, "about": var.about });
    if !var.secret {
        if let Some(value) = value {
            v["value"] = json!(if value.contains("://") {
                redact_url(value)
            } else {
                value.to_owned()
            });
        } else if let Some(d) = var.default.filter(|d| !d.is_empty()) {
            v["default"] = json!(d);
        }
    }
    v
}

pub async fn validate_view(_: Admin, state: web::Data<State>) -> HttpResponse {
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
    let services: Vec<serde_json::Value> = SERVICES
        .iter()
        .map(|s| {
            json!({
                "service": s.service,
                "valid": validity.get(s.service).copied().unwrap_or(false),
                "variables": own(s).map(|v| shown(v, env)).collect::<Vec<_>>(),
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({
        "source": "the monitoring service's environment",
        "common": common::ALL.iter().flat_map(|g| g.iter()).map(|v| shown(v, env)).collect::<Vec<_>>(),
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
        let v = shown(&common::AWS_SECRET_ACCESS_KEY, &env);
        assert_eq!(v["set"], true);
        assert!(!v.to_string().contains("hunter2"));
    }

    #[test]
    fn a_service_lists_only_its_own_variables_beside_the_common_ones() {
        let names = |s: &ServiceSettings| own(s).map(|v| v.name).collect::<Vec<_>>();
        assert!(names(&domain::settings::script_store::SETTINGS).is_empty());
        let gateway = names(&domain::settings::gateway::SETTINGS);
        assert!(
            gateway.contains(&"WEB_ROOT") && !gateway.contains(&"MONGODB_URI"),
            "{gateway:?}"
        );
    }

    #[test]
    fn an_empty_environment_names_the_missing_variables() {
        let results = validate_all(&HashMap::new());
        let (_, problems) = results.iter().find(|(n, _)| *n == "monitoring").unwrap();
        assert!(problems.iter().any(|p| p.variable == "JWT_SECRET_KEY"));
        assert!(problems.iter().any(|p| p.variable == "MONGODB_URI"));
    }
}
