//! What every service is made of: its common settings, its connected
//! dependencies, and the worker application that runs consumers and
//! background loops beside the health server until shutdown.
//!
//! Every `WorkerApp` also publishes a `service.heartbeat` every few seconds
//! (`HEARTBEAT_INTERVAL_SECS`, 5 by default, 0 turns it off), which is how
//! monitoring knows which services are alive. A heartbeat belongs to no job:
//! its envelope carries a fresh job id and the reserved project id
//! [`SYSTEM_PROJECT`].

use std::future::Future;
use std::net::TcpListener;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{middleware::from_fn, web, App, HttpServer};
use anyhow::Context as _;
use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use domain::messages::ServiceHeartbeat;
use domain::{Envelope, JobId, MessageType, Payload, ProjectId, RawEnvelope};

use crate::bus::{self, Bus, DeadLetterReason, Handler, HandlerError, Subscription};
use crate::config::{http_port, BusSettings, EnvReader, FromEnv, MongoSettings, S3Settings};
use crate::dispatch::{JobHandler, Router};
use crate::metrics;
use crate::mongo::Db;
use crate::s3::ObjectStore;
use crate::service::{health_routes, Check, ServiceInfo};

/// The project id of messages that belong to no project (heartbeats).
pub const SYSTEM_PROJECT: &str = "project-system";

/// The settings all services share.
#[derive(Debug, Clone)]
pub struct CommonSettings {
    pub mongo: MongoSettings,
    pub s3: S3Settings,
    pub bus: BusSettings,
    pub port: u16,
    /// Create the bucket at start if it is missing (local stacks).
    pub create_bucket: bool,
}

impl CommonSettings {
    pub fn read(env: &mut EnvReader, default_port: u16) -> Self {
        Self {
            mongo: MongoSettings::read(env),
            s3: S3Settings::read(env),
            bus: BusSettings::read(env),
            port: http_port(env, default_port),
            create_bucket: {
                env.check(domain::settings::common::RUNTIME);
                env.flag(&domain::settings::common::AWS_CREATE_BUCKET)
            },
        }
    }
}

/// Connected dependencies.
#[derive(Clone)]
pub struct Deps {
    pub db: Db,
    pub store: ObjectStore,
    pub bus: Arc<dyn Bus>,
}

impl Deps {
    /// Connects to MongoDB (and creates the indexes), the bucket and the
    /// broker (and declares the topology); fails naming the one that did not
    /// answer.
    pub async fn connect(settings: &CommonSettings, client_name: &str) -> anyhow::Result<Self> {
        let db = Db::connect(&settings.mongo)
            .await
            .context("MongoDB (MONGODB_URI) does not answer")?;
        db.ensure_indexes().await.context("creating MongoDB indexes")?;
        let store = ObjectStore::new(&settings.s3);
        if settings.create_bucket {
            store.ensure_bucket().await.context("creating the bucket")?;
        }
        store
            .ping()
            .await
            .context("the S3 bucket (AWS_ENDPOINT_URL, AWS_BUCKET_NAME) does not answer")?;
        let instance = format!("{client_name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let bus = bus::from_settings(&settings.bus, instance);
        bus.declare_topology()
            .await
            .with_context(|| format!("{} does not answer", settings.bus.backend.describe()))?;
        Ok(Self { db, store, bus })
    }

    /// Readiness checks for `/readyz`.
    pub fn checks(&self) -> Vec<Check> {
        let db = self.db.clone();
        let store = self.store.clone();
        let bus = self.bus.clone();
        vec![
            Check::new("mongodb", move || {
                let db = db.clone();
                async move { db.ping().await.map_err(|e| e.to_string()) }
            }),
            Check::new("s3", move || {
                let store = store.clone();
                async move { store.ping().await.map_err(|e| e.to_string()) }
            }),
            Check::new("broker", move || {
                let bus = bus.clone();
                async move { bus.ping().await.map_err(|e| e.to_string()) }
            }),
        ]
    }
}

pub type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

type Routes = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// What an instance has done, for its heartbeats.
#[derive(Default)]
struct Counters {
    handled: AtomicU64,
    in_flight: AtomicU64,
}

/// Counts the work messages a handler takes (in flight, handled) for the
/// heartbeat and the in-flight gauge.
struct Counted {
    service: &'static str,
    inner: Arc<dyn Handler>,
    counters: Arc<Counters>,
}

#[async_trait]
impl Handler for Counted {
    async fn handle(&self, envelope: RawEnvelope) -> Result<(), HandlerError> {
        self.counters.in_flight.fetch_add(1, Ordering::Relaxed);
        metrics::in_flight(self.service, 1);
        // Decrements even if the handler's future is dropped mid-way.
        struct Done<'a>(&'a Counted);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
                metrics::in_flight(self.0.service, -1);
            }
        }
        let _done = Done(self);
        let result = self.inner.handle(envelope).await;
        self.counters.handled.fetch_add(1, Ordering::Relaxed);
        result
    }

    async fn on_dead_letter(&self, envelope: &RawEnvelope, reason: &DeadLetterReason) {
        self.inner.on_dead_letter(envelope, reason).await
    }
}

/// A worker service: consumers and background loops next to its health
/// server. Build it, read `port()`, then `run_until_stopped`.
pub struct WorkerApp {
    listener: TcpListener,
    info: ServiceInfo,
    bus: Arc<dyn Bus>,
    consumers: Vec<(Subscription, Arc<dyn Handler>)>,
    /// The typed job handlers, on the service's work queues; `None` without
    /// MongoDB ([`WorkerApp::with_bus`]).
    router: Option<Router>,
    /// Types given to `consume` on an app without a router.
    unroutable: Vec<MessageType>,
    loops: Vec<Box<dyn FnOnce(CancellationToken) -> Task + Send>>,
    routes: Vec<Routes>,
    heartbeat_every: Option<Duration>,
    counters: Arc<Counters>,
}

impl WorkerApp {
    pub fn new(info: ServiceInfo, deps: &Deps, port: u16) -> anyhow::Result<Self> {
        let info = deps.checks().into_iter().fold(info, ServiceInfo::check);
        let mut app = Self::with_bus(info, deps.bus.clone(), port)?;
        app.router = Some(Router::new(app.info.name, deps.db.clone(), deps.bus.clone()));
        Ok(app)
    }

    /// A worker application that needs only the bus (and whatever checks
    /// `info` carries): for a service that must start while MongoDB or S3
    /// are down, such as monitoring.
    pub fn with_bus(info: ServiceInfo, bus: Arc<dyn Bus>, port: u16) -> anyhow::Result<Self> {
        let mut env = EnvReader::from_env();
        let heartbeat_every = heartbeat_interval(&mut env);
        // Loopback by default; containers set HOST=0.0.0.0 to be probed.
        env.check([&domain::settings::common::HOST]);
        let host = env.get(&domain::settings::common::HOST).unwrap_or_default();
        env.finish()?;
        let listener = TcpListener::bind((host.as_str(), port))
            .with_context(|| format!("cannot listen on {host}:{port} (HOST, PORT)"))?;
        Ok(Self {
            listener,
            info,
            bus,
            consumers: Vec::new(),
            router: None,
            unroutable: Vec::new(),
            loops: Vec::new(),
            routes: Vec::new(),
            heartbeat_every,
            counters: Arc::default(),
        })
    }

    /// Handles the messages of type `P` of live jobs, from the service's
    /// work queue for `P` (`<service>.<type>`): decoding, the live-job guard
    /// and failing the job of a dead-lettered message are done here, once
    /// for every service (see [`crate::dispatch`]). Needs MongoDB: an app
    /// made [`WorkerApp::with_bus`] refuses to run with typed handlers.
    pub fn consume<P: Payload>(mut self, handler: Arc<dyn JobHandler<P>>) -> Self {
        match &mut self.router {
            Some(router) => router.route(handler),
            None => self.unroutable.push(P::TYPE),
        }
        self
    }

    /// Hands every message of `subscription` to `handler` as it arrives,
    /// for consumers that are not job handlers (heartbeats, broadcasts).
    pub fn subscribe(mut self, subscription: Subscription, handler: Arc<dyn Handler>) -> Self {
        let handler: Arc<dyn Handler> = match subscription {
            Subscription::Work { .. } => Arc::new(Counted {
                service: self.info.name,
                inner: handler,
                counters: self.counters.clone(),
            }),
            Subscription::Broadcast { .. } => handler,
        };
        self.consumers.push((subscription, handler));
        self
    }

    /// More routes on the service's HTTP server, beside `/healthz`,
    /// `/readyz` and `/metrics`; every request is counted in the
    /// `cadscribe_http_request_seconds` histogram.
    pub fn routes<F>(mut self, f: F) -> Self
    where
        F: Fn(&mut web::ServiceConfig) + Send + Sync + 'static,
    {
        self.routes.push(Arc::new(f));
        self
    }

    /// How often to publish heartbeats (`None`: never), overriding
    /// `HEARTBEAT_INTERVAL_SECS`.
    pub fn heartbeat_every(mut self, every: Option<Duration>) -> Self {
        self.heartbeat_every = every.filter(|d| !d.is_zero());
        self
    }

    /// A background loop; it must return soon after the token is cancelled.
    pub fn spawn_loop<F, Fut>(mut self, f: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.loops.push(Box::new(move |t| Box::pin(f(t))));
        self
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    /// Runs until `shutdown` is cancelled, then lets the consumers finish
    /// the messages in hand.
    pub async fn run_until_stopped(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        if !self.unroutable.is_empty() {
            anyhow::bail!(
                "{} has job handlers ({:?}) but no MongoDB to check jobs against: build it with WorkerApp::new",
                self.info.name,
                self.unroutable
            );
        }
        if let Some(router) = self.router.take().filter(|r| !r.is_empty()) {
            let subscription = Subscription::work(self.info.name, &router.message_types());
            self = self.subscribe(subscription, Arc::new(router));
        }
        let name = self.info.name;
        let port = self.port();
        let heartbeat = self.heartbeat_every.map(|every| Heartbeat {
            bus: self.bus.clone(),
            service: name,
            version: self.info.version,
            started: self.info.started,
            instance: self.bus.instance().to_owned(),
            counters: self.counters.clone(),
            every,
        });
        let data = web::Data::new(self.info);
        let routes = self.routes;
        let server = HttpServer::new(move || {
            let mut app = App::new()
                .app_data(data.clone())
                .wrap(from_fn(metrics::record_http))
                .configure(health_routes);
            for r in &routes {
                app = app.configure(|cfg| r(cfg));
            }
            app
        })
        .workers(1)
        .disable_signals()
        .listen(self.listener)?
        .run();
        let server_handle = server.handle();
        let server_task = tokio::spawn(server);
        let mut tasks = Vec::new();
        if let Some(hb) = heartbeat {
            tasks.push(tokio::spawn(hb.run(shutdown.clone())));
        }
        for (sub, handler) in self.consumers {
            let bus = self.bus.clone();
            let token = shutdown.clone();
            tasks.push(tokio::spawn(async move { bus.consume(sub, handler, token).await }));
        }
        for f in self.loops {
            tasks.push(tokio::spawn(f(shutdown.clone())));
        }
        tracing::info!(service = name, port, "started");
        shutdown.cancelled().await;
        for t in tasks {
            let _ = t.await;
        }
        server_handle.stop(true).await;
        let _ = server_task.await;
        tracing::info!(service = name, "stopped");
        Ok(())
    }
}

/// Publishes `service.heartbeat` every `every` until `shutdown`, for a
/// service that does not run in a [`WorkerApp`] (which does this itself):
/// `tokio::spawn(publish_heartbeats(bus, NAME, env!("CARGO_PKG_VERSION"), every, token))`.
/// Its instance name is the bus's client name; it reports no jobs.
pub async fn publish_heartbeats(
    bus: Arc<dyn Bus>,
    service: &'static str,
    version: &'static str,
    every: Duration,
    shutdown: CancellationToken,
) {
    let instance = bus.instance().to_owned();
    let hb = Heartbeat {
        bus,
        service,
        version,
        started: std::time::Instant::now(),
        instance,
        counters: Arc::default(),
        every,
    };
    hb.run(shutdown).await
}

/// `HEARTBEAT_INTERVAL_SECS` (5 s by default); `None` when set to 0.
pub fn heartbeat_interval(env: &mut EnvReader) -> Option<Duration> {
    env.check([&domain::settings::common::HEARTBEAT_INTERVAL_SECS]);
    let every = env.secs(&domain::settings::common::HEARTBEAT_INTERVAL_SECS);
    (!every.is_zero()).then_some(every)
}

/// Publishes `service.heartbeat` until shutdown.
struct Heartbeat {
    bus: Arc<dyn Bus>,
    service: &'static str,
    version: &'static str,
    started: std::time::Instant,
    instance: String,
    counters: Arc<Counters>,
    every: Duration,
}

impl Heartbeat {
    fn message(&self) -> RawEnvelope {
        let beat = ServiceHeartbeat {
            service: self.service.to_owned(),
            instance: self.instance.clone(),
            version: self.version.to_owned(),
            uptime_s: self.started.elapsed().as_secs(),
            jobs_handled: self.counters.handled.load(Ordering::Relaxed),
            in_flight: self.counters.in_flight.load(Ordering::Relaxed),
        };
        let system = ProjectId::parse(SYSTEM_PROJECT).expect("the system project id is valid");
        Envelope::new(JobId::generate(), system, beat).into_raw()
    }

    async fn run(self, shutdown: CancellationToken) {
        loop {
            // Bounded, so a hanging broker never delays shutdown for long.
            let bound = self.every.max(Duration::from_secs(1));
            let beat = self.message();
            let sent = tokio::select! {
                r = tokio::time::timeout(bound, self.bus.publish(&beat)) => r,
                _ = shutdown.cancelled() => return,
            };
            match sent {
                Ok(Ok(())) => metrics::heartbeat("sent"),
                Ok(Err(e)) => {
                    metrics::heartbeat("failed");
                    tracing::debug!(error = %e, "heartbeat not sent");
                }
                Err(_) => metrics::heartbeat("failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.every) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_project_id_parses() {
        assert!(ProjectId::parse(SYSTEM_PROJECT).is_ok());
    }
}
