//! The API against its own document: Schemathesis reads
//! `/api/openapi.json` from a gateway on an isolated slice of the local
//! stack and sends it what the document allows and what it forbids, checking
//! every answer (status, content type, headers, body schema, `405` with
//! `Allow`, auth) and, in its stateful phase, the links between operations
//! (create a project, then read, edit and delete it). It must find nothing.
//!
//! Schemathesis lives in the stack's Python venv (`deploy/stack.sh` installs
//! it; `make test` runs `make stack-up` first). Its settings, with why each
//! business refusal is accepted, are in `api_conformance/schemathesis.toml`.

use std::process::{Command, Stdio};
use std::time::Duration;

use e2e::database_server::free_port;
use e2e::{Pipeline, Service};
use platform::testkit::repo_root;

/// Test cases per operation and phase: enough to reach every documented
/// constraint, bounded so the run stays within a couple of minutes on two
/// cores.
const MAX_EXAMPLES: &str = "20";

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_difference_between_the_api_and_its_document() {
    let st = repo_root().join(".local/venv/bin/st");
    assert!(
        st.exists(),
        "Schemathesis is not installed ({} is missing); run `make stack-up`",
        st.display()
    );

    let pipeline = Pipeline::new().await;
    let mut vars = pipeline.env.service_env();
    // Schemathesis sends thousands of requests as one user; the limit would
    // only turn them into 429s.
    vars.insert("RATE_LIMIT_PER_MINUTE".into(), "0".into());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut gateway = Service::gateway(&vars, &pipeline.env.id, port, None);
    gateway.wait_healthy(&base).await;

    let registered: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/api/auth/register"))
        .json(&serde_json::json!({
            "email": format!("{}@conformance.example.com", pipeline.env.id),
            "password": "a long enough passphrase",
        }))
        .send()
        .await
        .expect("the gateway answers")
        .error_for_status()
        .expect("registration succeeds")
        .json()
        .await
        .expect("a token");
    let token = registered["access_token"].as_str().expect("access_token").to_owned();

    let config = repo_root().join("crates/e2e/tests/api_conformance/schemathesis.toml");
    // Schemathesis keeps a cache in its working directory: target/, not the tree.
    let workdir = repo_root().join("target/schemathesis");
    std::fs::create_dir_all(&workdir).expect("target/schemathesis");
    let run = tokio::task::spawn_blocking({
        let base = base.clone();
        move || {
            Command::new(&st)
                .current_dir(&workdir)
                .arg("--config-file")
                .arg(&config)
                .arg("run")
                .arg(format!("{base}/api/openapi.json"))
                .args(["--header", &format!("Authorization: Bearer {token}")])
                .args(["--checks", "all"])
                .args(["--phases", "examples,coverage,fuzzing,stateful"])
                .args(["--max-examples", MAX_EXAMPLES])
                // The same cases on every run: a failure reproduces, and a
                // pass is not luck.
                .arg("--generation-deterministic")
                // One worker: with two, Hypothesis parses sources in both
                // threads at once, and Python 3.11 before 3.11.8 counts AST
                // recursion per interpreter, not per thread, so the run may
                // crash with "AST constructor recursion depth mismatch"
                // (CPython issue 106905), which is no finding about the API.
                .args(["--workers", "1"])
                // `/api/monitoring/{path}` forwards to the monitoring
                // service, which this test does not start (it would need
                // every worker to report to it): every request would answer
                // 503, and monitoring's pages are not the gateway's to
                // describe. The gateway's own tests cover the proxy
                // (services/gateway/tests/api/monitoring.rs).
                .args(["--exclude-path-regex", "^/api/monitoring/"])
                .arg("--no-color")
                .stdin(Stdio::null())
                .output()
        }
    });
    let out = tokio::time::timeout(Duration::from_secs(600), run)
        .await
        .expect("Schemathesis finished within 10 minutes")
        .expect("the Schemathesis thread")
        .expect("Schemathesis runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);

    // Everything the run stored: its projects' objects and the database.
    let slugs: Vec<domain::ProjectSlug> = pipeline
        .db
        .database()
        .collection::<bson::Document>("projects")
        .distinct("slug", bson::doc! {})
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.as_str().and_then(|s| domain::ProjectSlug::parse(s).ok()))
        .collect();
    drop(gateway);
    pipeline.clean(&slugs.iter().collect::<Vec<_>>()).await;

    assert!(
        out.status.success(),
        "Schemathesis found differences between the API and its document ({}):\n{stdout}\n{stderr}",
        out.status
    );
    println!("{stdout}");
}
