use ai_generator::{build, Settings, NAME};
use platform::config::FromEnv;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::telemetry::init(NAME);
    let app = build(Settings::from_env()?).await?;
    app.run_until_stopped(platform::service::shutdown_token()).await
}
