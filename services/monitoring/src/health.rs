//! `GET /api/monitoring/health`: one answer for the whole system.
//!
//! - `unhealthy` (HTTP 503): a dependency (MongoDB, the broker, S3) is down;
//! - `degraded` (HTTP 200): every dependency answers but an expected
//!   service has not sent a heartbeat within `HEARTBEAT_TIMEOUT_SECS`;
//! - `healthy` (HTTP 200): everything answers.
//!
//! Each part carries its reason. Dependency checks run at once, each bounded
//! by `CHECK_TIMEOUT_SECS`, so the answer never waits longer than that.

use std::time::Instant;

use actix_web::{web, HttpResponse};
use bson::doc;
use serde::Serialize;
use serde_json::json;

use platform::service::Check;

use crate::auth::Admin;
use crate::heartbeats::ServiceState;
use crate::State;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Overall {
    Healthy,
    Degraded,
    Unhealthy,
}

fn dependency_checks(state: &State) -> Vec<Check> {
    let db = state.db.clone();
    let store = state.store.clone();
    let bus = state.bus.clone();
    vec![
        Check::new("mongodb", move || {
            let db = db.clone();
            async move {
                db.run_command(doc! { "ping": 1 })
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        }),
        Check::new("broker", move || {
            let bus = bus.clone();
            async move { bus.ping().await.map_err(|e| e.to_string()) }
        }),
        Check::new("s3", move || {
            let store = store.clone();
            async move { store.ping().await.map_err(|e| e.to_string()) }
        }),
    ]
}

/// The whole report, and its overall status.
pub async fn report(state: &State) -> (Overall, serde_json::Value) {
    let started = Instant::now();
    let timeout = state.settings.check_timeout;
    let checks = dependency_checks(state);
    let results = futures::future::join_all(checks.iter().map(|c| async move {
        let t = Instant::now();
        let r = c.run(timeout).await;
        (c.name, r, t.elapsed())
    }))
    .await;

    let mut reasons = Vec::new();
    let mut dependencies = serde_json::Map::new();
    let mut any_dependency_down = false;
    for (name, result, took) in results {
        let ms = (took.as_secs_f64() * 10_000.0).round() / 10.0;
        let v = match result {
            Ok(()) => json!({ "status": "up", "latency_ms": ms }),
            Err(e) => {
                any_dependency_down = true;
                reasons.push(format!("{name} is down: {e}"));
                json!({ "status": "down", "latency_ms": ms, "reason": e })
            }
        };
        dependencies.insert(name.to_owned(), v);
    }

    let services = state.tracker.services();
    let mut any_service_down = false;
    for s in services.iter().filter(|s| s.expected && s.status == ServiceState::Down) {
        any_service_down = true;
        reasons.push(format!("{} is down: {}", s.service, s.reason));
    }
    let overall = if any_dependency_down {
        Overall::Unhealthy
    } else if any_service_down {
        Overall::Degraded
    } else {
        Overall::Healthy
    };
    let body = json!({
        "status": overall,
        "reasons": reasons,
        "dependencies": dependencies,
        "services": services,
        "heartbeat_timeout_s": state.tracker.timeout().as_secs_f64(),
        "checked_at": chrono::Utc::now().to_rfc3339(),
        "duration_ms": started.elapsed().as_millis() as u64,
    });
    (overall, body)
}

pub async fn health(_: Admin, state: web::Data<State>) -> HttpResponse {
    let (overall, body) = report(&state).await;
    match overall {
        Overall::Unhealthy => HttpResponse::ServiceUnavailable().json(body),
        _ => HttpResponse::Ok().json(body),
    }
}
