//! A system of a test's own, for the short soak in `make test`: its own
//! database server, its own database name, exchange and queues on the
//! shared broker, and `instances` processes of each pipeline worker. Only
//! what belongs to the test is broken (its service processes and its
//! database server): the shared broker and object store serve other tests
//! at the same time.

use std::collections::HashMap;

use anyhow::bail;

use super::{Cluster, FaultKind, Rng};
use crate::database_server::DatabaseServer;
use crate::{Pipeline, Service, PIPELINE};

pub struct IsolatedSystem {
    pub pipeline: Pipeline,
    pub server: DatabaseServer,
    /// Each process's name and environment, in the order of
    /// `pipeline.services`, to start it again the same way.
    started: Vec<(String, HashMap<String, String>, String)>,
    /// The index of the process the last service fault killed.
    killed: Option<usize>,
}

impl IsolatedSystem {
    /// Starts a database server and `instances` of each pipeline worker.
    pub async fn start(instances: u32) -> Self {
        let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let server = DatabaseServer::start(&format!("chaos-{tag}")).await;
        let uri = server.uri();
        let mut pipeline = Pipeline::with(&[("MONGODB_URI", uri.as_str())]).await;
        let mut started = Vec::new();
        for name in PIPELINE {
            for i in 1..=instances {
                let mut vars = pipeline.env.service_env();
                vars.insert("RECONCILE_INTERVAL_SECS".into(), "2".into());
                vars.insert("WORKER_ID".into(), format!("{name}-{i}"));
                let log_tag = format!("{}-{i}", pipeline.env.id);
                pipeline.services.push(Service::start(name, &vars, &log_tag));
                started.push((name.to_owned(), vars, log_tag));
            }
        }
        Self {
            pipeline,
            server,
            started,
            killed: None,
        }
    }
}

impl Cluster for IsolatedSystem {
    fn kinds(&self) -> Vec<FaultKind> {
        vec![FaultKind::Service, FaultKind::Database]
    }

    async fn break_one(&mut self, kind: FaultKind, rng: &mut Rng) -> anyhow::Result<String> {
        match kind {
            FaultKind::Service => {
                let i = rng.below(self.pipeline.services.len());
                self.pipeline.services[i].kill();
                self.killed = Some(i);
                Ok(self.started[i].1["WORKER_ID"].clone())
            }
            FaultKind::Database => {
                self.server.kill9();
                Ok("database server".into())
            }
            other => bail!("{} is not injected in an isolated system", other.as_str()),
        }
    }

    async fn mend(&mut self, kind: FaultKind) -> anyhow::Result<()> {
        match kind {
            FaultKind::Service => {
                if let Some(i) = self.killed.take() {
                    let (name, vars, log_tag) = &self.started[i];
                    self.pipeline.services[i] = Service::start(name, vars, &format!("{log_tag}-again"));
                }
            }
            FaultKind::Database => self.server.restart().await,
            _ => {}
        }
        Ok(())
    }

    async fn heal_all(&mut self) -> anyhow::Result<()> {
        // Faults are mended one by one as they happen; nothing stays down.
        Ok(())
    }
}
