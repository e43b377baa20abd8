//! Drives the whole pipeline from outside: starts service binaries as their
//! own processes on an isolated slice of the local stack (`TestEnv`),
//! submits jobs the way the gateway does, and waits for them to finish.

pub mod chaos;
pub mod chat;
pub mod database_server;
pub mod stl;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::documents::{Job, JobKind, Project};
use domain::messages::{GenerationRequested, ScriptUploaded};
use domain::{Envelope, JobId, ProjectSlug};
use platform::bus::Bus;
use platform::jobs;
use platform::mongo::Db;
use platform::testkit::{repo_root, TestEnv};

pub const PIPELINE: [&str; 4] = ["ai-generator", "script-store", "freecad-worker", "output-watcher"];

/// The built binary of a service (`cargo build --workspace --bins`).
pub fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    let path = target.join(profile).join(name);
    assert!(
        path.exists(),
        "{} is not built; run `cargo build --workspace --bins` (make test does)",
        path.display()
    );
    path
}

/// A running service process; killed when dropped.
pub struct Service {
    pub name: String,
    pub child: Child,
    pub log: PathBuf,
}

impl Service {
    /// Starts `name` with `vars` as its whole environment (plus PATH), on
    /// port 0.
    pub fn start(name: &str, vars: &HashMap<String, String>, tag: &str) -> Self {
        let mut vars = vars.clone();
        vars.insert("PORT".into(), "0".into());
        Self::spawn(name, &vars, tag)
    }

    fn spawn(name: &str, vars: &HashMap<String, String>, tag: &str) -> Self {
        let logs = repo_root().join(".local/logs/tests");
        std::fs::create_dir_all(&logs).expect("log dir");
        let log = logs.join(format!("{tag}-{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(binary(name))
            .env_clear()
            .envs(vars)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LOG_FORMAT", "pretty")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self {
            name: name.into(),
            child,
            log,
        }
    }

    /// The gateway on `port` of 127.0.0.1, serving `web_root` if given.
    pub fn gateway(vars: &HashMap<String, String>, tag: &str, port: u16, web_root: Option<&Path>) -> Self {
        let mut vars = vars.clone();
        vars.insert("HOST".into(), "127.0.0.1".into());
        vars.insert("PORT".into(), port.to_string());
        if let Some(root) = web_root {
            vars.insert("WEB_ROOT".into(), root.display().to_string());
        }
        Self::spawn("gateway", &vars, tag)
    }

    /// Waits until `{base}/healthz` answers; panics with the log if the
    /// process exits or a minute passes.
    pub async fn wait_healthy(&mut self, base: &str) {
        let client = reqwest::Client::new();
        let start = Instant::now();
        loop {
            if let Ok(res) = client.get(format!("{base}/healthz")).send().await {
                if res.status().is_success() {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}):\n{}", self.name, self.log_text());
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{} did not answer within a minute:\n{}",
                self.name,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM (graceful stop).
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An isolated pipeline: its own database, exchange and queues.
pub struct Pipeline {
    pub env: TestEnv,
    pub db: Db,
    pub bus: Arc<dyn Bus>,
    pub services: Vec<Service>,
}

impl Pipeline {
    pub async fn new() -> Self {
        Self::with(&[]).await
    }

    /// A pipeline whose settings are the stack's with `overrides`.
    pub async fn with(overrides: &[(&str, &str)]) -> Self {
        let env = TestEnv::with(overrides);
        let db = env.db().await;
        let bus = env.bus("driver");
        // As every service does at start: no message is unroutable, even
        // one published before the consuming service is up.
        bus.declare_topology().await.expect("the bus answers");
        Self {
            env,
            db,
            bus,
            services: Vec::new(),
        }
    }

    /// Starts services with this pipeline's settings plus `extra`.
    pub fn start(&mut self, names: &[&str], extra: &[(&str, &str)]) {
        let mut vars = self.env.service_env();
        vars.insert("RECONCILE_INTERVAL_SECS".into(), "2".into());
        for (k, v) in extra {
            vars.insert((*k).into(), (*v).into());
        }
        for name in names {
            self.services.push(Service::start(name, &vars, &self.env.id));
        }
    }

    /// A stored project; objects an earlier, interrupted run left under
    /// its slug are removed first, so counts in S3 start from zero.
    pub async fn project(&self, name: &str) -> Project {
        let project = self.env.project(&self.db, name).await;
        let store = self.env.store();
        for prefix in domain::S3Key::project_prefixes(&project.slug) {
            let _ = store.delete_prefix(&prefix).await;
        }
        project
    }

    /// Accepts a generation job the way the gateway does.
    pub async fn generate(&self, project: &Project, prompt: &str) -> JobId {
        let msg = GenerationRequested {
            slug: project.slug.clone(),
            user_id: project.created_by.clone(),
            prompt: prompt.into(),
            base_version: None,
            spec: None,
        };
        let env = Envelope::new(JobId::generate(), project.project_id.clone(), msg);
        let job = jobs::new_job(project, &project.created_by, JobKind::Generate, &env);
        jobs::submit(&self.db, self.bus.as_ref(), &job)
            .await
            .expect("job accepted");
        job.job_id
    }

    /// Accepts a user's own script.
    pub async fn upload(&self, project: &Project, script: &str) -> JobId {
        let msg = ScriptUploaded {
            slug: project.slug.clone(),
            user_id: project.created_by.clone(),
            file_name: "mine.py".into(),
            script: script.into(),
        };
        let env = Envelope::new(JobId::generate(), project.project_id.clone(), msg);
        let job = jobs::new_job(project, &project.created_by, JobKind::Upload, &env);
        jobs::submit(&self.db, self.bus.as_ref(), &job)
            .await
            .expect("job accepted");
        job.job_id
    }

    /// Waits until the job is terminal; panics with the service logs if not.
    pub async fn finished(&self, id: JobId, within: Duration) -> Job {
        let start = Instant::now();
        loop {
            if let Some(job) = self.db.jobs().get(id).await.expect("db answers") {
                if job.stage.is_terminal() {
                    return job;
                }
            }
            if start.elapsed() > within {
                let logs: Vec<String> = self
                    .services
                    .iter()
                    .map(|s| format!("--- {} ---\n{}", s.name, tail(&s.log_text(), 40)))
                    .collect();
                panic!("job {id} did not finish within {within:?}\n{}", logs.join("\n"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Removes this pipeline's objects and database.
    pub async fn clean(&self, slugs: &[&ProjectSlug]) {
        let store = self.env.store();
        for slug in slugs {
            for prefix in domain::S3Key::project_prefixes(slug) {
                let _ = store.delete_prefix(&prefix).await;
            }
        }
        self.env.drop_db().await;
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
