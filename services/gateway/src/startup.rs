//! Builds the gateway from its settings: connects the dependencies, starts
//! the live-status feed and binds the HTTP server. `port()` says where it
//! listens (port 0 in tests), `run_until_stopped` serves until the token is
//! cancelled.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::{web, App, HttpServer};
use anyhow::Context as _;

use domain::MessageType;
use platform::bus::{Bus, Subscription};
use platform::mongo::Db;
use platform::runtime::Deps;
use platform::s3::ObjectStore;
use platform::service::{health_routes, ServiceInfo};
use platform::CancellationToken;

use crate::auth::{JwtKeys, PasswordHashing};
use crate::error::{json_error, path_error, query_error, render_plain_errors};
use crate::events::{Hub, HubFeed};
use crate::ratelimit::RateLimiter;
use crate::reads::{forget_writers, ReadCache};
use crate::settings::{QuotaSettings, Settings};
use crate::{routes, telemetry, NAME};

/// What every handler can reach.
pub struct AppState {
    pub db: Db,
    pub store: ObjectStore,
    pub bus: Arc<dyn Bus>,
    pub jwt: JwtKeys,
    pub passwords: PasswordHashing,
    pub limiter: RateLimiter,
    pub quota: QuotaSettings,
    pub hub: Arc<Hub>,
    /// The documents behind polled reads, kept a moment (`reads`).
    pub reads: Arc<ReadCache>,
    pub presign_expiry: Duration,
    pub sse_keepalive: Duration,
    pub monitoring_url: String,
    pub http: reqwest::Client,
}

/// Largest JSON body outside script uploads.
pub const JSON_LIMIT: usize = 64 * 1024;

pub struct Application {
    server: Server,
    port: u16,
    bus: Arc<dyn Bus>,
    hub: Arc<Hub>,
    reads: Arc<ReadCache>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let jwt = JwtKeys::new(&settings.jwt)?;
        let deps = Deps::connect(&settings.common, NAME).await?;
        let listener = TcpListener::bind((settings.host.as_str(), settings.common.port)).with_context(|| {
            format!(
                "cannot listen on {}:{} (HOST, PORT)",
                settings.host, settings.common.port
            )
        })?;
        let port = listener.local_addr()?.port();
        let hub = Arc::new(Hub::default());
        let reads = Arc::new(ReadCache::new(settings.read_cache));
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        let state = web::Data::new(AppState {
            db: deps.db.clone(),
            store: deps.store.clone(),
            bus: deps.bus.clone(),
            jwt,
            passwords: PasswordHashing::new(settings.argon2_memory_kib, settings.argon2_iterations),
            limiter: RateLimiter::new(settings.rate_limit),
            quota: settings.quota,
            hub: hub.clone(),
            reads: reads.clone(),
            presign_expiry: settings.common.s3.presign_expiry,
            sse_keepalive: settings.sse_keepalive,
            monitoring_url: settings.monitoring_url.clone(),
            http,
        });
        let info = deps
            .checks()
            .into_iter()
            .fold(ServiceInfo::new(NAME, env!("CARGO_PKG_VERSION")), ServiceInfo::check);
        let info = web::Data::new(info);
        let web_root = settings.web_root.clone();
        let server = HttpServer::new(move || {
            let app = App::new()
                .app_data(state.clone())
                .app_data(info.clone())
                .app_data(web::JsonConfig::default().limit(JSON_LIMIT).error_handler(json_error))
                .app_data(web::PathConfig::default().error_handler(path_error))
                .app_data(web::QueryConfig::default().error_handler(query_error))
                .wrap(ErrorHandlers::new().default_handler(render_plain_errors))
                .wrap(from_fn(forget_writers))
                .wrap(from_fn(telemetry::observe))
                .configure(health_routes)
                .configure(routes::api);
            match &web_root {
                Some(root) => app.service(routes::web_client(root)),
                None => app,
            }
        })
        .disable_signals()
        .shutdown_timeout(10)
        .listen(listener)?
        .run();
        Ok(Self {
            server,
            port,
            bus: deps.bus,
            hub,
            reads,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` is cancelled; live streams end with it.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        // Every instance hears every job.status and fans it out to its own
        // streams, so any instance can serve any client.
        let feed = {
            let bus = self.bus.clone();
            let feed = HubFeed {
                hub: self.hub.clone(),
                reads: self.reads.clone(),
            };
            let token = shutdown.clone();
            tokio::spawn(async move {
                let sub = Subscription::broadcast(NAME, &[MessageType::JobStatus]);
                bus.consume(sub, Arc::new(feed), token).await
            })
        };
        // Monitoring counts the gateway among the services it expects.
        let mut env = platform::EnvReader::from_env();
        if let Some(every) = platform::runtime::heartbeat_interval(&mut env) {
            let beat = platform::runtime::publish_heartbeats(
                self.bus.clone(),
                NAME,
                env!("CARGO_PKG_VERSION"),
                every,
                shutdown.clone(),
            );
            tokio::spawn(beat);
        }
        tracing::info!(service = NAME, port = self.port, "started");
        shutdown.cancelled().await;
        self.hub.close();
        handle.stop(true).await;
        let _ = server.await;
        let _ = feed.await;
        tracing::info!(service = NAME, "stopped");
        Ok(())
    }
}
