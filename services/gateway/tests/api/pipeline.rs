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
    let events = crate::events::ticket_url(&app, &user, accepted["project_id"].as_str().unwrap()).await;
    let res = app.http.get(app.url(&events)).send().await.unwrap();
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

/// Waits until the job is over; returns its view.
async fn finished(app: &crate::helpers::TestApp, user: &crate::helpers::TestUser, accepted: &Value) -> Value {
    let job = accepted["links"]["job"].as_str().expect("a job link").to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let view = app.get_json(&job, user).await;
        if view["terminal"] == true {
            return view;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job not over in 3 minutes: {view}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Starts a job; asserts `202`.
async fn accepted(res: reqwest::Response) -> Value {
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 202, "{body}");
    body
}

fn height(job: &Value) -> f64 {
    let b = &job["metrics"]["bounding_box"];
    b[5].as_f64().unwrap() - b[2].as_f64().unwrap()
}

#[tokio::test]
async fn a_follow_up_a_parameter_edit_and_undo_make_verified_versions_without_a_language_model() {
    let mut pipeline = Pipeline::new().await;
    pipeline.start(&PIPELINE, &[]);
    let app = spawn_on(same_env(&pipeline.env), &[]).await;
    let user = app.register().await;

    let first = app
        .post("/api/ai/generate-code", &user)
        .json(&json!({ "prompt": "a flange 80 mm across and 10 mm thick with six 8 mm holes on a 60 mm bolt circle" }))
        .send()
        .await
        .unwrap();
    let first = accepted(first).await;
    let slug = first["slug"].as_str().unwrap().to_owned();
    let v1 = finished(&app, &user, &first).await;
    assert_eq!(v1["stage"], "completed", "{v1}");
    assert_eq!(v1["verification"]["passed"], true, "{v1}");
    assert!((height(&v1) - 10.0).abs() < 0.01);
    let summary = v1["verification_summary"].as_str().unwrap();
    assert!(
        summary.starts_with("Verified") && summary.contains("80 × 80 × 10 mm ✓"),
        "{summary}"
    );

    // A follow-up in the conversation is applied to version 1's spec.
    let chat = |message: &str| {
        app.post("/api/ai/chat", &user)
            .json(&json!({ "message": message, "project_id": slug }))
            .send()
    };
    let v2 = finished(&app, &user, &accepted(chat("make it 15 mm thick").await.unwrap()).await).await;
    assert_eq!(v2["stage"], "completed", "{v2}");
    assert_eq!(v2["version"], 2);
    assert!((height(&v2) - 15.0).abs() < 0.01, "{v2}");
    assert_eq!(v2["verification"]["passed"], true, "{v2}");
    let messages: Value = app.get_json(&format!("/api/projects/{slug}/messages"), &user).await;
    let replies: Vec<&str> = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert!(
        replies.iter().any(|r| r.contains("10 → 15")),
        "the reply says what changed: {replies:?}"
    );

    // The named dimensions of version 2, and an edit of one of them.
    let spec: Value = app.get_json(&format!("/api/projects/{slug}/spec"), &user).await;
    assert_eq!(spec["version"], 2, "{spec}");
    let parameters = spec["parameters"].as_array().unwrap();
    let thickness = parameters
        .iter()
        .find(|p| p["value"].as_f64() == Some(15.0))
        .unwrap_or_else(|| panic!("a 15 mm parameter: {spec}"));
    let name = thickness["name"].as_str().unwrap().to_owned();
    let edit = |values: Value| {
        app.post(&format!("/api/projects/{slug}/parameters"), &user)
            .json(&json!({ "values": values }))
            .send()
    };
    let bad = edit(json!({ "no_such_dimension": 3.0 })).await.unwrap();
    let message = crate::helpers::error(bad, 400, "bad_request").await;
    assert!(message.contains("no_such_dimension"), "{message}");
    let bad = edit(json!({ name.clone(): -2.0 })).await.unwrap();
    let message = crate::helpers::error(bad, 400, "bad_request").await;
    assert!(message.contains("positive"), "{message}");

    let v3 = finished(
        &app,
        &user,
        &accepted(edit(json!({ name.clone(): 12.0 })).await.unwrap()).await,
    )
    .await;
    assert_eq!(v3["stage"], "completed", "{v3}");
    assert_eq!(v3["version"], 3);
    assert!((height(&v3) - 12.0).abs() < 0.01, "{v3}");
    assert_eq!(v3["verification"]["passed"], true, "{v3}");

    // Undo returns to version 2's part.
    let v4 = finished(&app, &user, &accepted(chat("undo").await.unwrap()).await).await;
    assert_eq!(v4["stage"], "completed", "{v4}");
    assert!((height(&v4) - 15.0).abs() < 0.01, "{v4}");

    // A follow-up it cannot apply fails and leaves version 4 the current one.
    let nonsense = finished(&app, &user, &accepted(chat("paint it blue").await.unwrap()).await).await;
    assert_eq!(nonsense["stage"], "failed", "{nonsense}");
    let project: Value = app.get_json(&format!("/api/projects/{slug}"), &user).await;
    assert_eq!(project["current_version"], 4, "{project}");

    // Every spec-built version lists its spec beside its script.
    let scripts: Value = app.get_json(&format!("/api/projects/{slug}/scripts"), &user).await;
    let versions = scripts["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 4);
    assert!(versions.iter().all(|v| v["spec_url"].is_string()), "{scripts}");
    app.cleanup(&[&slug]).await;
}
