//! monitoring: one view of the whole system for administrators.
//!
//! It starts even when MongoDB, S3 or the broker are down (reporting on
//! them is its job), listens to every service's heartbeat, and answers under
//! `/api/monitoring/*` (the gateway forwards that prefix unchanged):
//! system health, S3 status and a write probe, AI provider metrics, a
//! project's processing status, queue depths and configuration checks.
//! Everything but `/live` needs an administrator's JWT. Every dependency
//! call is bounded, so a hanging dependency never hangs an answer.

pub mod auth;
pub mod config_check;
pub mod error;
pub mod health;
pub mod heartbeats;
pub mod views;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use anyhow::Context as _;
use mongodb::options::ClientOptions;

use domain::MessageType;
use platform::bus::{self, Bus, Subscription};
use platform::config::{EnvReader, FromEnv, MongoSettings};
use platform::runtime::{CommonSettings, WorkerApp};
use platform::s3::ObjectStore;
use platform::service::ServiceInfo;
use platform::CancellationToken;

use crate::error::ApiError;
use crate::heartbeats::Tracker;

pub const NAME: &str = "monitoring";
pub const DEFAULT_PORT: u16 = 8090;

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
    /// How the gateway signs tokens: monitoring checks admin tokens itself.
    pub jwt: auth::JwtSettings,
    /// A service not heard from for this long is `down`.
    pub heartbeat_timeout: Duration,
    /// Bound of every dependency check and query.
    pub check_timeout: Duration,
    pub services: Vec<String>,
    /// Objects counted per prefix at most, in the S3 status.
    pub s3_count_cap: usize,
    /// A live job in one stage for longer than this is reported stuck.
    pub stuck_after: Duration,
}

impl FromEnv for Settings {
    fn read(env: &mut EnvReader) -> Self {
        use domain::settings::monitoring::*;
        env.check_service(&SETTINGS);
        let common = CommonSettings::read(env, DEFAULT_PORT);
        let jwt = auth::JwtSettings::read(env);
        Self {
            common,
            jwt,
            heartbeat_timeout: env.secs(&HEARTBEAT_TIMEOUT_SECS),
            check_timeout: env.secs(&CHECK_TIMEOUT_SECS),
            services: env
                .get(&MONITORED_SERVICES)
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            s3_count_cap: env.value::<usize>(&S3_COUNT_CAP).max(1),
            stuck_after: env.secs(&STUCK_AFTER_SECS),
        }
    }
}

/// What every handler works with.
pub struct State {
    pub settings: Settings,
    /// Not pinged at start: the driver connects when asked and every use is
    /// bounded by `check_timeout`.
    pub db: mongodb::Database,
    pub store: ObjectStore,
    pub bus: Arc<dyn Bus>,
    pub tracker: Arc<Tracker>,
    /// The environment the configuration views read.
    pub config_env: HashMap<String, String>,
}

impl State {
    /// Runs `f` with the check timeout; `Err` names `what` when it did not
    /// answer in time or failed.
    pub async fn bounded<T, E, F>(&self, what: &str, f: F) -> Result<T, ApiError>
    where
        F: std::future::Future<Output = Result<T, E>>,
        E: std::fmt::Display,
    {
        match tokio::time::timeout(self.settings.check_timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(ApiError::unavailable(what, e)),
            Err(_) => Err(ApiError::unavailable(
                what,
                format!("no answer within {:?}", self.settings.check_timeout),
            )),
        }
    }
}

/// A client for `settings` that does not need the server to answer yet.
async fn lazy_database(settings: &MongoSettings, timeout: Duration) -> anyhow::Result<mongodb::Database> {
    let mut opts = ClientOptions::parse(&settings.uri)
        .await
        .context("MONGODB_URI cannot be used")?;
    opts.app_name.get_or_insert_with(|| "cadscribe-monitoring".into());
    opts.server_selection_timeout.get_or_insert(timeout);
    opts.connect_timeout.get_or_insert(timeout.min(Duration::from_secs(2)));
    Ok(mongodb::Client::with_options(opts)?.database(&settings.database))
}

pub struct Application {
    app: WorkerApp,
}

impl Application {
    /// Builds monitoring; the configuration views read this process's
    /// environment.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_env(settings, std::env::vars().collect()).await
    }

    /// Builds monitoring with the environment its configuration views read.
    pub async fn build_with_env(settings: Settings, config_env: HashMap<String, String>) -> anyhow::Result<Self> {
        let db = lazy_database(&settings.common.mongo, settings.check_timeout).await?;
        let store = ObjectStore::new(&settings.common.s3);
        let instance = format!("{NAME}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let bus = bus::from_settings(&settings.common.bus, instance);
        let tracker = Arc::new(Tracker::new(settings.heartbeat_timeout, settings.services.clone()));
        let verifier = web::Data::new(auth::Verifier::new(&settings.jwt)?);
        let port = settings.common.port;
        let state = web::Data::new(State {
            settings,
            db,
            store,
            bus: bus.clone(),
            tracker: tracker.clone(),
            config_env,
        });
        let app = WorkerApp::with_bus(ServiceInfo::new(NAME, env!("CARGO_PKG_VERSION")), bus, port)?
            .subscribe(Subscription::broadcast(NAME, &[MessageType::ServiceHeartbeat]), tracker)
            .routes(move |cfg| {
                cfg.app_data(state.clone()).app_data(verifier.clone());
                routes(cfg);
            });
        Ok(Self { app })
    }

    pub fn port(&self) -> u16 {
        self.app.port()
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.app.run_until_stopped(shutdown).await
    }
}

/// `/api/monitoring/*`, and JSON errors for everything else.
pub fn routes(cfg: &mut web::ServiceConfig) {
    error::json_config(cfg);
    let get = |path: &str, r: actix_web::Route| {
        web::resource(path)
            .route(r)
            .default_service(web::to(method_not_allowed))
    };
    cfg.service(
        web::scope("/api/monitoring")
            .service(get("/live", web::get().to(views::live)))
            .service(get("/health", web::get().to(health::health)))
            .service(get("/s3/status", web::get().to(views::s3_status)))
            .service(get("/test/s3-upload", web::post().to(views::s3_probe)))
            .service(get("/ai/metrics", web::get().to(views::ai_metrics)))
            .service(get(
                "/projects/{slug}/processing-status",
                web::get().to(views::processing_status),
            ))
            .service(get("/config/validate", web::get().to(config_check::validate_view)))
            .service(get("/config/summary", web::get().to(config_check::summary)))
            .service(get("/queues", web::get().to(views::queues))),
    )
    .default_service(web::to(not_found));
}

async fn not_found(req: actix_web::HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found(format!(
        "no such endpoint: {} {}",
        req.method(),
        req.path()
    )))
}

async fn method_not_allowed(req: actix_web::HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::new(
        actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", req.method(), req.path()),
    ))
}
