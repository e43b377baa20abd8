//! The whole way through the public API: the pipeline services run as
//! their own processes on this test's slice of the stack, the gateway runs
//! in-process on the same slice. Register, ask for a plate, follow the
//! live stream to "Model ready", download the STL with a plain HTTP client
//! and measure it.

use std::f64::consts::PI;
use std::time::Duration;

use serde_json::{json, Value};

use e2e::{stl, Pipeline, PIPELINE};

use crate::helpers::{same_env, spawn_on, Sse};

#[tokio::test]
async fn a_sentence_becomes_a_downloadable_model_followed_live() {
    let mut pipeline = Pipeline::new().await;
    pipeline.start(&PIPELINE, &[]);
    let app = spawn_on(same_env(&pipeline.env), &[]).await;
    let user = app.register().await;

    let prompt = "a 40 x 20 x 10 mm plate with a 6 mm through hole";
    let res = app
        .post("/api/ai/generate-code", &user)
        .json(&json!({ "prompt": prompt }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let accepted: Value = res.json().await.unwrap();
    let slug = accepted["slug"].as_str().unwrap().to_owned();
    let events = accepted["links"]["events"].as_str().unwrap();
    let res = app
        .http
        .get(app.url(&format!("{events}?access_token={}", user.token)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut stream = Sse::new(res);

    let mut labels = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    let last = loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(event) = stream.status(left).await else {
            let logs: Vec<String> = pipeline
                .services
                .iter()
                .map(|s| format!("--- {} ---\n{}", s.name, s.log_text()))
                .collect();
            panic!(
                "no \"Model ready\" within 3 minutes; saw {labels:?}\n{}",
                logs.join("\n")
            );
        };
        assert_eq!(event["job_id"], accepted["job_id"]);
        labels.push(event["label"].as_str().unwrap().to_owned());
        if event["terminal"] == true {
            break event;
        }
    };
    assert_eq!(last["stage"], "completed", "{last}");
    assert_eq!(last["label"], "Model ready");
    let order = [
        "Queued…",
        "Generating script…",
        "Uploading to S3…",
        "FreeCAD processing…",
        "Model ready",
    ];
    let positions: Vec<usize> = labels
        .iter()
        .map(|l| order.iter().position(|o| o == l).expect("a known label"))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "in order, none twice: {labels:?}"
    );

    let status: Value = app
        .get(&format!("/api/projects/{slug}/status"), &user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "completed");
    let res = app
        .get(&format!("/api/projects/{slug}/download/STL"), &user)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let download: Value = res.json().await.unwrap();
    assert_eq!(download["version"], 1);
    let bytes = reqwest::get(download["url"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let volume = stl::volume(&bytes).expect("an STL");
    let expected = 40.0 * 20.0 * 10.0 - PI * 3.0 * 3.0 * 10.0; // ≈ 7717.3 mm³
    assert!(
        (volume - expected).abs() / expected < 0.01,
        "volume {volume:.1} vs {expected:.1}"
    );

    // The conversation has the user's prompt and the assistant's reply.
    let messages: Value = app
        .get(&format!("/api/projects/{slug}/messages"), &user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let roles: Vec<&str> = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant"]);
    let scripts: Value = app
        .get(&format!("/api/projects/{slug}/scripts"), &user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(scripts["versions"].as_array().unwrap().len(), 1);
    app.cleanup(&[&slug]).await;
}
