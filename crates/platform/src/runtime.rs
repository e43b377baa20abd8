//! What every service is made of: its common settings, its connected
//! dependencies, and the worker application that runs consumers and
//! background loops beside the health server until shutdown.

use std::future::Future;
use std::net::TcpListener;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use crate::bus::{Bus, Handler, RabbitBus, Subscription};
use crate::config::{http_port, BusSettings, EnvReader, FromEnv, MongoSettings, S3Settings};
use crate::mongo::Db;
use crate::s3::ObjectStore;
use crate::service::{serve_health, Check, ServiceInfo};

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
            create_bucket: env.bool_or("AWS_CREATE_BUCKET", false),
        }
    }
}

/// Connected dependencies.
#[derive(Clone)]
pub struct Deps {
    pub db: Db,
    pub store: ObjectStore,
    pub bus: Arc<RabbitBus>,
}

impl Deps {
    /// Connects to MongoDB (and creates the indexes), the bucket and the
    /// broker (and declares the topology); fails naming the one that did not
    /// answer.
    pub async fn connect(settings: &CommonSettings, client_name: &str) -> anyhow::Result<Self> {
        let db = Db::connect(&settings.mongo).await.context("MongoDB (MONGODB_URI) does not answer")?;
        db.ensure_indexes().await.context("creating MongoDB indexes")?;
        let store = ObjectStore::new(&settings.s3);
        if settings.create_bucket {
            store.ensure_bucket().await.context("creating the bucket")?;
        }
        store.ping().await.context("the S3 bucket (AWS_ENDPOINT_URL, AWS_BUCKET_NAME) does not answer")?;
        let instance = format!("{client_name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let bus = Arc::new(RabbitBus::new(settings.bus.clone(), instance));
        bus.declare_topology().await.context("the message broker (AMQP_URL) does not answer")?;
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

/// A worker service: consumers and background loops next to its health
/// server. Build it, read `port()`, then `run_until_stopped`.
pub struct WorkerApp {
    listener: TcpListener,
    info: ServiceInfo,
    bus: Arc<RabbitBus>,
    consumers: Vec<(Subscription, Arc<dyn Handler>)>,
    loops: Vec<Box<dyn FnOnce(CancellationToken) -> Task + Send>>,
}

impl WorkerApp {
    pub fn new(info: ServiceInfo, deps: &Deps, port: u16) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .or_else(|_| TcpListener::bind(("0.0.0.0", port)))
            .with_context(|| format!("cannot listen on port {port} (PORT)"))?;
        let info = deps.checks().into_iter().fold(info, ServiceInfo::check);
        Ok(Self { listener, info, bus: deps.bus.clone(), consumers: Vec::new(), loops: Vec::new() })
    }

    pub fn consume(mut self, subscription: Subscription, handler: Arc<dyn Handler>) -> Self {
        self.consumers.push((subscription, handler));
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
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let name = self.info.name;
        let server = serve_health(self.info, self.listener)?;
        let server_handle = server.handle();
        let server_task = tokio::spawn(server);
        let mut tasks = Vec::new();
        for (sub, handler) in self.consumers {
            let bus = self.bus.clone();
            let token = shutdown.clone();
            tasks.push(tokio::spawn(async move { bus.consume(sub, handler, token).await }));
        }
        for f in self.loops {
            tasks.push(tokio::spawn(f(shutdown.clone())));
        }
        tracing::info!(service = name, "started");
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
