//! Isolated resources on the real local stack, for tests of every crate.
//!
//! Each `TestEnv` owns a database name, an S3 key prefix, an exchange and a
//! queue prefix of its own (on either bus backend: `BUS_BACKEND` from the
//! environment or the test's overrides), so tests run in parallel and see
//! nothing of each other. The bucket is shared and slugs are unique per database only, so
//! tests that run at the same time (one test binary) give their projects
//! distinct names: two projects with one slug would share S3 prefixes. Settings come from the process environment, completed by the
//! stack's env file (`.local/stack.env`, written by `make stack-up`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::bus::{self, Bus};
use crate::config::{BusSettings, EnvReader, FromEnv, MongoSettings, S3Settings};
use crate::mongo::Db;
use crate::s3::ObjectStore;

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The process environment over the stack's env file.
pub fn stack_vars() -> HashMap<String, String> {
    let mut vars = HashMap::new();
    let file = repo_root().join(".local/stack.env");
    if let Ok(text) = std::fs::read_to_string(&file) {
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            if let Some((k, v)) = line.split_once('=') {
                vars.insert(k.trim().to_owned(), v.trim().trim_matches('"').to_owned());
            }
        }
    }
    vars.extend(std::env::vars());
    vars
}

fn settings<T: FromEnv>(vars: &HashMap<String, String>) -> T {
    T::from_reader(EnvReader::from_map(vars.clone()))
        .unwrap_or_else(|e| panic!("the local stack is not configured; run `make stack-up` first.\n{e}"))
}

pub struct TestEnv {
    pub id: String,
    pub vars: HashMap<String, String>,
    pub mongo: MongoSettings,
    pub s3: S3Settings,
    pub bus: BusSettings,
    /// Whether dropping this environment removes the test's database and
    /// queues; a copy made to start a second service ([`TestEnv::copy`])
    /// leaves them to the original.
    owner: bool,
}

impl TestEnv {
    pub fn new() -> Self {
        Self::with(&[])
    }

    /// A test environment whose settings are the stack's with `overrides`
    /// (a database server of the test's own, say).
    pub fn with(overrides: &[(&str, &str)]) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let mut vars = stack_vars();
        // Whether a test's gateway serves the web client is the test's
        // choice, not the local stack's (`make run` records its web root).
        vars.remove("WEB_ROOT");
        vars.insert("DATABASE_NAME".into(), format!("test_{id}"));
        vars.insert("AMQP_EXCHANGE".into(), format!("test-{id}"));
        vars.insert("AMQP_QUEUE_PREFIX".into(), format!("test-{id}."));
        vars.insert("SQS_QUEUE_PREFIX".into(), format!("test-{id}"));
        for (k, v) in overrides {
            vars.insert((*k).into(), (*v).into());
        }
        let mongo = settings(&vars);
        let s3 = settings(&vars);
        let bus = settings(&vars);
        Self {
            id,
            vars,
            mongo,
            s3,
            bus,
            owner: true,
        }
    }

    /// The same environment (same database, queues and prefixes), whose
    /// drop leaves them to the original.
    pub fn copy(&self) -> Self {
        Self {
            id: self.id.clone(),
            vars: self.vars.clone(),
            mongo: self.mongo.clone(),
            s3: self.s3.clone(),
            bus: self.bus.clone(),
            owner: false,
        }
    }

    /// The variables a service process of this test should get.
    pub fn service_env(&self) -> HashMap<String, String> {
        self.vars.clone()
    }

    /// A bus of this test's settings, whose instance (and RabbitMQ
    /// connection) name is `test-<id>-<client>`.
    pub fn bus(&self, client: &str) -> Arc<dyn Bus> {
        bus::from_settings(&self.bus, format!("test-{}-{client}", self.id))
    }

    pub async fn db(&self) -> Db {
        let db = Db::connect(&self.mongo)
            .await
            .expect("MongoDB answers (run `make stack-up`)");
        db.ensure_indexes().await.expect("indexes");
        db
    }

    pub fn store(&self) -> ObjectStore {
        ObjectStore::new(&self.s3)
    }

    /// A key prefix no other test uses.
    pub fn key_prefix(&self) -> String {
        format!("tests/{}/", self.id)
    }

    /// Drops the database (best effort).
    pub async fn drop_db(&self) {
        if let Ok(db) = Db::connect(&self.mongo).await {
            let _ = db.database().drop().await;
        }
    }
}

/// The test's database and queues go with its environment, also when the
/// test panics: on a thread of its own with connections of its own, since
/// the test's runtime may be unwinding or gone. Best effort, bounded.
impl Drop for TestEnv {
    fn drop(&mut self) {
        if !self.owner {
            return;
        }
        let (mongo, bus_settings) = (self.mongo.clone(), self.bus.clone());
        let name = format!("test-{}-cleanup", self.id);
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            runtime.block_on(async move {
                let limit = std::time::Duration::from_secs(10);
                let database = async {
                    if let Ok(db) = Db::connect(&mongo).await {
                        let _ = db.database().drop().await;
                    }
                };
                let queues = async {
                    let bus = bus::from_settings(&bus_settings, name);
                    let _ = bus.delete_topology(bus::TOPOLOGY).await;
                };
                let _ = tokio::time::timeout(limit, futures::future::join(database, queues)).await;
            });
        });
        let _ = cleanup.join();
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    /// Settings of a service under test: this test's isolation, port 0.
    pub fn service_settings<T: FromEnv>(&self, extra: &[(&str, &str)]) -> T {
        let mut vars = self.service_env();
        vars.insert("PORT".into(), "0".into());
        for (k, v) in extra {
            vars.insert((*k).into(), (*v).into());
        }
        settings(&vars)
    }

    /// A project owned by a fresh user, stored.
    pub async fn project(&self, db: &Db, name: &str) -> domain::documents::Project {
        let p = crate::jobs::new_project(name, &domain::UserId::generate()).expect("a valid name");
        db.projects().create(p).await.expect("project stored")
    }

    /// Takes every message waiting in a queue of this test (prefix added).
    pub async fn drain(&self, bus: &dyn Bus, queue: &str) -> Vec<domain::RawEnvelope> {
        let mut out = Vec::new();
        while let Some(taken) = bus.take_one(queue).await.expect("broker answers") {
            out.push(domain::RawEnvelope::from_slice(&taken.body).expect("an envelope"));
        }
        out
    }
}
