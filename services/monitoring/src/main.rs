use monitoring::{Application, Settings, NAME};
use platform::config::FromEnv;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::telemetry::init(NAME);
    let app = Application::build(Settings::from_env()?).await?;
    app.run_until_stopped(platform::service::shutdown_token()).await
}
