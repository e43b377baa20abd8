//! Generation requests: 202 at once, a project when none is given, the
//! user's message stored, the request published with its request id.

use serde_json::{json, Value};

use domain::{JobId, ProjectId};
use platform::mongo::PageRequest;

use crate::helpers::{error, spawn_app};

#[tokio::test]
async fn generate_code_creates_a_project_stores_the_prompt_and_publishes() {
    let app = spawn_app().await;
    let user = app.register().await;
    let prompt = "a 40 x 20 x 10 mm plate with a 6 mm through hole";
    let res = app
        .post("/api/ai/generate-code", &user)
        .header("x-request-id", "gen-req-1")
        .json(&json!({ "prompt": prompt }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let job_url = res.headers()["location"].to_str().unwrap().to_owned();
    let accepted: Value = res.json().await.unwrap();
    let slug = accepted["slug"].as_str().unwrap().to_owned();
    assert!(
        slug.starts_with("a-40-x-20-x-10-mm-plate-with-a-6-mm-through-hole"),
        "{slug}"
    );
    assert_eq!(job_url, accepted["links"]["job"].as_str().unwrap());

    let project_id = ProjectId::parse(accepted["project_id"].as_str().unwrap()).unwrap();
    let project = app.db.projects().get(&project_id).await.unwrap().unwrap();
    assert_eq!(project.project_name, prompt);
    assert_eq!(project.created_by.as_str(), user.user_id);
    let messages = app.db.messages().list(&project_id, PageRequest::all()).await.unwrap();
    assert_eq!(messages.total, 1);
    assert_eq!(messages.items[0].content, prompt);
    assert_eq!(messages.items[0].role, domain::documents::Role::User);
    let job_id = JobId::parse(accepted["job_id"].as_str().unwrap()).unwrap();
    assert_eq!(messages.items[0].job_id, Some(job_id));

    let sent = app
        .env
        .drain(app.bus.as_ref(), "ai-generator.generation.requested")
        .await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].job_id, job_id);
    assert_eq!(sent[0].request_id.as_deref(), Some("gen-req-1"));
    assert_eq!(sent[0].payload["prompt"], prompt);
    assert_eq!(sent[0].payload["slug"], slug.as_str());

    let job: Value = app.get(&job_url, &user).send().await.unwrap().json().await.unwrap();
    assert_eq!(job["stage"], "queued");
    assert_eq!(job["kind"], "generate");
    assert_eq!(job["request_id"], "gen-req-1");

    // Chat continues the same project (by slug here) and stores the message too.
    let res = app
        .post("/api/ai/chat", &user)
        .json(&json!({ "message": "make it 30 mm wide", "project_id": slug }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let chat: Value = res.json().await.unwrap();
    assert_eq!(chat["project_id"], accepted["project_id"]);
    assert_ne!(chat["job_id"], accepted["job_id"]);
    assert_eq!(app.db.messages().count(&project_id).await.unwrap(), 2);
    let sent = app
        .env
        .drain(app.bus.as_ref(), "ai-generator.generation.requested")
        .await;
    assert_eq!(sent.len(), 1);
    assert!(
        !sent[0].request_id.as_deref().unwrap_or_default().is_empty(),
        "a generated request id"
    );
    app.cleanup(&[&slug]).await;
}

#[tokio::test]
async fn generation_input_is_checked_at_the_edge() {
    let app = spawn_app().await;
    let user = app.register().await;
    let post = |path: &'static str, body: Value| app.post(path, &user).json(&body).send();

    let msg = error(
        post("/api/ai/generate-code", json!({ "prompt": "x".repeat(2001) }))
            .await
            .unwrap(),
        400,
        "bad_request",
    )
    .await;
    assert!(msg.starts_with("prompt"), "{msg}");
    assert_eq!(
        post("/api/ai/generate-code", json!({ "prompt": "é".repeat(2000) }))
            .await
            .unwrap()
            .status(),
        202,
        "2000 characters are fine"
    );
    let msg = error(
        post("/api/ai/chat", json!({ "message": "   " })).await.unwrap(),
        400,
        "bad_request",
    )
    .await;
    assert!(msg.starts_with("message"), "{msg}");
    let msg = error(
        post("/api/ai/generate-code", json!({ "promt": "typo" })).await.unwrap(),
        400,
        "bad_request",
    )
    .await;
    assert!(msg.contains("promt"), "{msg}");
    let msg = error(
        post("/api/ai/generate-code", json!({ "prompt": 5 })).await.unwrap(),
        400,
        "bad_request",
    )
    .await;
    assert!(msg.starts_with("body"), "{msg}");
    error(
        post(
            "/api/ai/generate-code",
            json!({ "prompt": "box", "project_id": "no-such" }),
        )
        .await
        .unwrap(),
        404,
        "not_found",
    )
    .await;
    let msg = error(
        post("/api/ai/generate-code", json!({ "prompt": "box", "base_version": 1 }))
            .await
            .unwrap(),
        400,
        "bad_request",
    )
    .await;
    assert!(msg.starts_with("base_version"), "{msg}");
    let res = app
        .post("/api/ai/generate-code", &user)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    error(res, 400, "bad_request").await;
    let res = app
        .post("/api/ai/generate-code", &user)
        .header("content-type", "text/plain")
        .body("box")
        .send()
        .await
        .unwrap();
    error(res, 415, "unsupported_media_type").await;
    let big = json!({ "prompt": "x".repeat(70 * 1024) });
    error(
        post("/api/ai/generate-code", big).await.unwrap(),
        413,
        "payload_too_large",
    )
    .await;
    let unauthenticated = app
        .http
        .post(app.url("/api/ai/generate-code"))
        .json(&json!({ "prompt": "box" }))
        .send()
        .await
        .unwrap();
    error(unauthenticated, 401, "unauthorized").await;
    let slugs: Vec<String> = app
        .db
        .projects()
        .list_by_owner(&domain::UserId::parse(&user.user_id).unwrap(), PageRequest::all())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|p| p.slug.to_string())
        .collect();
    app.cleanup(&slugs.iter().map(String::as_str).collect::<Vec<_>>()).await;
}
