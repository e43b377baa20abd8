//! The shell every service binary runs in: a small HTTP side with
//! `/healthz` (alive), `/readyz` (dependencies answer) and `/metrics`, and a
//! shutdown token cancelled by SIGTERM or Ctrl-C so consumers can finish the
//! message in hand before the process exits.

use std::future::Future;
use std::net::TcpListener;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use tokio_util::sync::CancellationToken;

use crate::metrics;

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A named readiness check: MongoDB ping, broker connection, bucket HEAD…
#[derive(Clone)]
pub struct Check {
    pub name: &'static str,
    run: Arc<dyn Fn() -> CheckFuture + Send + Sync>,
}

impl Check {
    pub fn new<F, Fut>(name: &'static str, f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Self {
            name,
            run: Arc::new(move || Box::pin(f())),
        }
    }

    /// Runs the check with a bound, so a hanging dependency cannot hang
    /// the probe.
    pub async fn run(&self, timeout: Duration) -> Result<(), String> {
        match tokio::time::timeout(timeout, (self.run)()).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {timeout:?}")),
        }
    }
}

#[derive(Clone)]
pub struct ServiceInfo {
    pub name: &'static str,
    pub version: &'static str,
    pub started: Instant,
    pub checks: Vec<Check>,
}

impl ServiceInfo {
    pub fn new(name: &'static str, version: &'static str) -> Self {
        Self {
            name,
            version,
            started: Instant::now(),
            checks: Vec::new(),
        }
    }

    pub fn check(mut self, check: Check) -> Self {
        self.checks.push(check);
        self
    }
}

async fn healthz(info: web::Data<ServiceInfo>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "service": info.name,
        "version": info.version,
        "uptime_s": info.started.elapsed().as_secs(),
    }))
}

async fn readyz(info: web::Data<ServiceInfo>) -> HttpResponse {
    let results = futures::future::join_all(
        info.checks
            .iter()
            .map(|c| async move { (c.name, c.run(Duration::from_secs(3)).await) }),
    )
    .await;
    let ready = results.iter().all(|(_, r)| r.is_ok());
    let checks: serde_json::Map<_, _> = results
        .into_iter()
        .map(|(name, r)| {
            let v = match r {
                Ok(()) => serde_json::json!({ "status": "up" }),
                Err(e) => serde_json::json!({ "status": "down", "reason": e }),
            };
            (name.to_owned(), v)
        })
        .collect();
    let body = serde_json::json!({ "status": if ready { "ready" } else { "not_ready" }, "service": info.name, "checks": checks });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn metrics_text() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics::render())
}

/// The health routes, for services that add their own on the same server.
pub fn health_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics_text));
}

/// Binds the health server of a worker service; port 0 picks a free port.
pub fn serve_health(info: ServiceInfo, listener: TcpListener) -> std::io::Result<Server> {
    let data = web::Data::new(info);
    Ok(
        HttpServer::new(move || App::new().app_data(data.clone()).configure(health_routes))
            .workers(1)
            .disable_signals()
            .listen(listener)?
            .run(),
    )
}

/// Cancelled on SIGTERM or Ctrl-C.
pub fn shutdown_token() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested; finishing the work in hand");
        t.cancel();
    });
    token
}
