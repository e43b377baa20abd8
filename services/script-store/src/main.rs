use platform::config::FromEnv;
use script_store::{build, Settings, NAME};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::telemetry::init(NAME);
    let app = build(Settings::from_env()?).await?;
    app.run_until_stopped(platform::service::shutdown_token()).await
}
