//! The web client end to end, in a real headless Chromium: the gateway (which
//! serves the built client from `web/dist`) and the pipeline services run as
//! their own processes on an isolated slice of the local stack, and the
//! browser script `web/e2e/run.mjs` walks a person's path through them:
//! register, describe a part, watch "Model ready" arrive live, check that the
//! 3D view draws the part from its GLB and that the version's picture shows
//! in the chat, beside the version picker and in the project list, make it thicker with a follow-up in the chat and
//! again with the Parameters form (the offline generator, no language model),
//! download the STL, read and diff scripts, read the logs, retry a failure,
//! rename and delete the project. The path runs on RabbitMQ and again on
//! SQS.
//!
//! Needs the client built and its packages installed (`make web`) and
//! Chromium (`web/scripts/ensure-chromium.sh`); `make test` does both.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use e2e::database_server::free_port;
use e2e::{Pipeline, Service, PIPELINE};
use platform::testkit::repo_root;

fn web_dir() -> PathBuf {
    repo_root().join("web")
}

/// Runs a helper script of the web client; its last line of output is the answer.
fn script(name: &str, vars: &HashMap<String, String>) -> String {
    let out = Command::new("bash")
        .arg(web_dir().join("scripts").join(name))
        .envs(vars)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().last().unwrap_or_default().trim().to_owned()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_describes_a_part_sees_it_in_3d_and_downloads_the_stl_in_a_real_browser() {
    browser_path("web-e2e", &[]).await;
}

/// The same path with every service on SQS: the gateway streams the live
/// status from its own broadcast queue.
#[tokio::test(flavor = "multi_thread")]
async fn the_same_path_in_a_real_browser_on_sqs() {
    browser_path("web-e2e-sqs", &[("BUS_BACKEND", "sqs"), ("SQS_WAIT_TIME_SECS", "2")]).await;
}

/// One browser at a time: two, each with its pipeline, would only slow
/// each other past their step timeouts on a small machine.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Screenshots go to `target/<artifacts>`.
async fn browser_path(artifacts: &str, overrides: &[(&str, &str)]) {
    let _turn = ONE_BROWSER.lock().await;
    let web = web_dir();
    let dist = web.join("dist");
    assert!(
        dist.join("index.html").is_file(),
        "the web client is not built ({} is missing); run `make web`",
        dist.join("index.html").display()
    );
    assert!(
        web.join("node_modules/playwright-core").is_dir(),
        "the web client's packages are not installed; run `make web`"
    );

    let mut pipeline = Pipeline::with(overrides).await;
    let vars = pipeline.env.service_env();
    let chromium = script("ensure-chromium.sh", &vars);
    // The browser fetches models from S3 through pre-signed URLs.
    script("ensure-s3-cors.sh", &vars);

    pipeline.start(&PIPELINE, &[]);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut gateway = Service::gateway(&vars, &pipeline.env.id, port, Some(&dist));
    gateway.wait_healthy(&base).await;

    let artifacts = repo_root().join("target").join(artifacts);
    let run = tokio::task::spawn_blocking({
        let web = web.clone();
        let base = base.clone();
        let artifacts = artifacts.clone();
        move || {
            Command::new("node")
                .current_dir(&web)
                .arg("e2e/run.mjs")
                .args(["--base-url", &base, "--chromium", &chromium, "--timeout", "120"])
                .arg("--artifacts")
                .arg(&artifacts)
                .stdin(Stdio::null())
                .output()
        }
    });
    let out = tokio::time::timeout(Duration::from_secs(600), run)
        .await
        .expect("the browser test finished within 10 minutes")
        .expect("the browser test thread")
        .expect("node runs (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");

    if !out.status.success() {
        let logs: Vec<String> = pipeline
            .services
            .iter()
            .chain(std::iter::once(&gateway))
            .map(|s| format!("--- {} ---\n{}", s.name, tail(&s.log_text(), 30)))
            .collect();
        panic!(
            "the browser test failed ({}); screenshots in {}\n{stdout}\n{stderr}\n{}",
            out.status,
            artifacts.display(),
            logs.join("\n")
        );
    }
    assert!(stdout.contains(" 0 failed"), "{stdout}");

    drop(gateway);
    pipeline.clean(&[]).await;
}
