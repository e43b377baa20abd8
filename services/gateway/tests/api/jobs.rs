//! Jobs: look, list, cancel, retry.

use serde_json::{json, Value};

use domain::{JobId, JobStage, RawEnvelope};

use crate::helpers::{error, spawn_app};

#[tokio::test]
async fn cancel_and_retry() {
    let app = spawn_app().await;
    let user = app.register().await;
    let res = app
        .post("/api/ai/generate-code", &user)
        .json(&json!({ "prompt": "box 1 x 2 x 4 mm" }))
        .send()
        .await
        .unwrap();
    let accepted: Value = res.json().await.unwrap();
    let slug = accepted["slug"].as_str().unwrap().to_owned();
    let job_id = accepted["job_id"].as_str().unwrap().to_owned();
    let first: Vec<RawEnvelope> = app
        .env
        .drain(app.bus.as_ref(), "ai-generator.generation.requested")
        .await;
    assert_eq!(first.len(), 1);

    let res = app
        .post(&format!("/api/jobs/{job_id}/retry"), &user)
        .send()
        .await
        .unwrap();
    error(res, 409, "conflict").await;

    let res = app
        .post(&format!("/api/jobs/{job_id}/cancel"), &user)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cancelled: Value = res.json().await.unwrap();
    assert_eq!(cancelled["stage"], "cancelled");
    assert_eq!(cancelled["label"], "Cancelled");
    assert_eq!(cancelled["terminal"], true);
    assert_eq!(cancelled["history"][0]["stage"], "cancelled");
    let stored = app
        .db
        .jobs()
        .get(JobId::parse(&job_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.stage, JobStage::Cancelled);
    error(
        app.post(&format!("/api/jobs/{job_id}/cancel"), &user)
            .send()
            .await
            .unwrap(),
        409,
        "conflict",
    )
    .await;
    let status: Value = app
        .get(&format!("/api/projects/{slug}/status"), &user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "no_scripts");
    assert_eq!(status["latest_job"]["stage"], "cancelled");

    let res = app
        .post(&format!("/api/jobs/{job_id}/retry"), &user)
        .header("x-request-id", "retry-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let retried: Value = res.json().await.unwrap();
    assert_ne!(retried["job_id"], job_id.as_str());
    assert_eq!(retried["project_id"], accepted["project_id"]);
    let again = app
        .env
        .drain(app.bus.as_ref(), "ai-generator.generation.requested")
        .await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].payload, first[0].payload, "the same request");
    assert_eq!(again[0].request_id.as_deref(), Some("retry-1"));
    assert_eq!(again[0].job_id.to_string(), retried["job_id"].as_str().unwrap());

    let jobs: Value = app
        .get("/api/jobs?limit=10", &user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jobs["total"], 2);
    assert_eq!(jobs["items"][0]["job_id"], retried["job_id"], "newest first");
    let by_project: Value = app
        .get(&format!("/api/jobs?project={slug}"), &user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_project["total"], 2);

    let msg = error(
        app.get("/api/jobs/not-a-uuid", &user).send().await.unwrap(),
        400,
        "bad_request",
    )
    .await;
    assert!(msg.starts_with("job_id"), "{msg}");
    let unknown = JobId::generate();
    error(
        app.get(&format!("/api/jobs/{unknown}"), &user).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    error(
        app.post(&format!("/api/jobs/{unknown}/cancel"), &user)
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    app.cleanup(&[&slug]).await;
}
