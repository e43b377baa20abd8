//! gateway: the only door for web clients (actix-web, JWT).
//!
//! For now it checks its configuration, connects to its dependencies and
//! serves `/healthz`, `/readyz` and `/metrics`; the public API lands here.

use platform::config::{EnvReader, FromEnv, Secret};
use platform::runtime::{CommonSettings, Deps, WorkerApp};
use platform::service::ServiceInfo;
use platform::CancellationToken;

pub const NAME: &str = "gateway";
pub const DEFAULT_PORT: u16 = 8080;

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
    pub jwt_secret: Secret,
}

impl FromEnv for Settings {
    fn read(env: &mut EnvReader) -> Self {
        let common = CommonSettings::read(env, DEFAULT_PORT);
        let jwt_secret = env.secret("JWT_SECRET_KEY", "at least 32 characters");
        if !jwt_secret.expose().is_empty() && jwt_secret.expose().len() < 32 {
            env.malformed("JWT_SECRET_KEY", "must be at least 32 characters");
        }
        Self { common, jwt_secret }
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
