//! monitoring: one view of the whole system's health.
//!
//! For now it checks its configuration, connects to MongoDB, S3 and the
//! broker and serves `/healthz`, `/readyz` (every dependency) and
//! `/metrics`; the `/api/monitoring/*` views land here.

use platform::config::{EnvReader, FromEnv};
use platform::runtime::{CommonSettings, Deps, WorkerApp};
use platform::service::ServiceInfo;
use platform::CancellationToken;

pub const NAME: &str = "monitoring";
pub const DEFAULT_PORT: u16 = 8090;

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
}

impl FromEnv for Settings {
    fn read(env: &mut EnvReader) -> Self {
        Self { common: CommonSettings::read(env, DEFAULT_PORT) }
    }
}

pub struct Application {
    app: WorkerApp,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let deps = Deps::connect(&settings.common, NAME).await?;
        let app = WorkerApp::new(ServiceInfo::new(NAME, env!("CARGO_PKG_VERSION")), &deps, settings.common.port)?;
        Ok(Self { app })
    }

    pub fn port(&self) -> u16 {
        self.app.port()
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.app.run_until_stopped(shutdown).await
    }
}
