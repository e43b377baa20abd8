//! Live status as Server-Sent Events: the current state first, then every
//! `job.status` of the project, on every gateway instance.

use std::time::Duration;

use serde_json::{json, Value};

use domain::messages::JobStatus;
use domain::{Envelope, JobId, JobStage, ProjectId, ProjectSlug};

use crate::helpers::{another_instance, error, spawn_app, Frame, Sse};

const SECS: Duration = Duration::from_secs(10);

async fn publish(app: &crate::helpers::TestApp, job: JobId, project: &Value, stage: JobStage, detail: Option<&str>) {
    let mut status = JobStatus::new(ProjectSlug::parse(project["slug"].as_str().unwrap()).unwrap(), stage);
    status.detail = detail.map(str::to_owned);
    let env = Envelope::new(
        job,
        ProjectId::parse(project["project_id"].as_str().unwrap()).unwrap(),
        status,
    );
    app.bus.publish(&env.into_raw()).await.unwrap();
}

#[tokio::test]
async fn a_stream_starts_with_the_current_state_then_follows_every_instance() {
    let app = spawn_app().await;
    let (second, stop_second) = another_instance(&app).await;
    let user = app.register().await;
    let res = app
        .post("/api/ai/generate-code", &user)
        .json(&json!({ "prompt": "box 1 x 2 x 5 mm" }))
        .send()
        .await
        .unwrap();
    let accepted: Value = res.json().await.unwrap();
    let job = JobId::parse(accepted["job_id"].as_str().unwrap()).unwrap();
    let project = json!({ "project_id": accepted["project_id"], "slug": accepted["slug"] });
    let events = accepted["links"]["events"].as_str().unwrap().to_owned();

    // One client per instance; the browser way (?access_token=) on the second.
    let res = app.get(&events, &user).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut a = Sse::new(res);
    let res = app
        .http
        .get(format!("{second}{events}?access_token={}", user.token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut b = Sse::new(res);
    for s in [&mut a, &mut b] {
        let first = s.status(SECS).await.expect("the current state first");
        assert_eq!(first["job_id"], job.to_string());
        assert_eq!(first["stage"], "queued");
    }

    // The broadcast consumers bind asynchronously; publish until both hear.
    let mut heard = (false, false);
    for _ in 0..50 {
        publish(&app, job, &project, JobStage::Generating, None).await;
        if !heard.0 {
            heard.0 = matches!(a.status(Duration::from_millis(200)).await, Some(v) if v["stage"] == "generating");
        }
        if !heard.1 {
            heard.1 = matches!(b.status(Duration::from_millis(200)).await, Some(v) if v["stage"] == "generating");
        }
        if heard == (true, true) {
            break;
        }
    }
    assert_eq!(heard, (true, true), "both instances stream the event");

    for (stage, label) in [
        (JobStage::Uploading, "Uploading to S3…"),
        (JobStage::Processing, "FreeCAD processing…"),
        (JobStage::Completed, "Model ready"),
    ] {
        publish(&app, job, &project, stage, None).await;
        for s in [&mut a, &mut b] {
            let got = s.status(SECS).await.expect("the event");
            assert_eq!(got["stage"], stage.as_str());
            assert_eq!(got["label"], label);
            assert_eq!(got["terminal"], stage == JobStage::Completed);
        }
    }
    // Events of another project do not show up; keep-alives do.
    publish(
        &app,
        JobId::generate(),
        &json!({ "project_id": ProjectId::generate().to_string(), "slug": "other" }),
        JobStage::Failed,
        Some("x"),
    )
    .await;
    match a.next(Duration::from_secs(3)).await {
        Some(Frame::Comment(c)) => assert_eq!(c, "keep-alive"),
        other => panic!("expected a keep-alive, got {other:?}"),
    }
    stop_second.cancel();
    app.cleanup(&[accepted["slug"].as_str().unwrap()]).await;
}

#[tokio::test]
async fn a_late_subscriber_learns_the_job_failed_and_why() {
    let app = spawn_app().await;
    let user = app.register().await;
    let res = app
        .post("/api/ai/generate-code", &user)
        .json(&json!({ "prompt": "a dragon" }))
        .send()
        .await
        .unwrap();
    let accepted: Value = res.json().await.unwrap();
    let job = JobId::parse(accepted["job_id"].as_str().unwrap()).unwrap();
    let origin_project = ProjectId::parse(accepted["project_id"].as_str().unwrap()).unwrap();
    let slug = ProjectSlug::parse(accepted["slug"].as_str().unwrap()).unwrap();
    let origin = platform::jobs::Origin {
        job_id: job,
        project_id: &origin_project,
        request_id: None,
        traceparent: None,
    };
    platform::jobs::fail(&app.db, app.bus.as_ref(), &origin, &slug, "the catalogue has no dragon")
        .await
        .unwrap();

    let mut s = Sse::new(
        app.get(accepted["links"]["events"].as_str().unwrap(), &user)
            .send()
            .await
            .unwrap(),
    );
    let first = s.status(SECS).await.expect("the state");
    assert_eq!(first["stage"], "failed");
    assert_eq!(first["terminal"], true);
    assert_eq!(first["detail"], "the catalogue has no dragon");
    app.cleanup(&[slug.as_str()]).await;
}

#[tokio::test]
async fn the_query_token_is_accepted_on_the_stream_only() {
    let app = spawn_app().await;
    let user = app.register().await;
    let project = app.project(&user, "tokens").await;
    let id = project["project_id"].as_str().unwrap();
    let res = app
        .http
        .get(app.url(&format!("/api/projects/{id}?access_token={}", user.token)))
        .send()
        .await
        .unwrap();
    error(res, 401, "unauthorized").await;
    let res = app
        .http
        .get(app.url(&format!("/api/projects/{id}/events")))
        .send()
        .await
        .unwrap();
    error(res, 401, "unauthorized").await;
    let res = app
        .http
        .get(app.url(&format!("/api/projects/{id}/events?access_token=nope")))
        .send()
        .await
        .unwrap();
    error(res, 401, "unauthorized").await;
    let res = app
        .http
        .get(app.url(&format!("/api/projects/{id}/events?access_token={}", user.token)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut s = Sse::new(res);
    assert!(
        matches!(s.next(Duration::from_secs(3)).await, Some(Frame::Comment(_))),
        "the stream opens"
    );
    app.cleanup(&[project["slug"].as_str().unwrap()]).await;
}
