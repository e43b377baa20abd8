//! Live status as Server-Sent Events: the current state first, then every
//! `job.status` of the project, on every gateway instance.

use std::time::Duration;

use serde_json::{json, Value};

use domain::messages::JobStatus;
use domain::{Envelope, JobId, JobStage, ProjectId, ProjectSlug};

use platform::testkit::TestEnv;

use crate::helpers::{another_instance, error, spawn_app, spawn_on, Frame, Sse, TestApp};

const SECS: Duration = Duration::from_secs(10);

/// The stream's URL with a new ticket, as a browser gets it.
pub async fn ticket_url(app: &crate::helpers::TestApp, user: &crate::helpers::TestUser, project: &str) -> String {
    let res = app
        .post(&format!("/api/projects/{project}/events/ticket"), user)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["ticket"].as_str().unwrap().len(), 64, "{body}");
    assert_eq!(body["expires_in"], 60);
    body["url"].as_str().unwrap().to_owned()
}

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
    streams_follow_every_instance(spawn_app().await).await;
}

/// On SQS each gateway instance hears every `job.status` through broadcast
/// queues of its own.
#[tokio::test]
async fn on_sqs_a_stream_follows_every_instance_too() {
    let env = TestEnv::with(&[("BUS_BACKEND", "sqs"), ("SQS_WAIT_TIME_SECS", "1")]);
    streams_follow_every_instance(spawn_on(env, &[]).await).await;
}

async fn streams_follow_every_instance(app: TestApp) {
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

    // One client per instance; the browser way on the second: a ticket the
    // first instance issued.
    let res = app.get(&events, &user).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut a = Sse::new(res);
    let with_ticket = ticket_url(&app, &user, accepted["project_id"].as_str().unwrap()).await;
    let res = app.http.get(format!("{second}{with_ticket}")).send().await.unwrap();
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
async fn the_stream_takes_a_ticket_once_and_never_the_token_in_the_url() {
    let app = spawn_app().await;
    let user = app.register().await;
    let other = app.register().await;
    let project = app.project(&user, "tickets").await;
    let second = app.project(&user, "tickets two").await;
    let id = project["project_id"].as_str().unwrap();
    let events = format!("/api/projects/{id}/events");
    let (http, base) = (&app.http, app.url(""));
    let open = |url: String| {
        let request = http.get(format!("{base}{url}"));
        async move { request.send().await.unwrap() }
    };
    // The long-lived token is refused in the URL, on the stream too.
    error(
        open(format!("{events}?access_token={}", user.token)).await,
        401,
        "unauthorized",
    )
    .await;
    error(open(events.clone()).await, 401, "unauthorized").await;
    // A ticket of the wrong shape is the client's mistake, with a token or
    // without; a well-formed one nobody issued opens nothing.
    error(open(format!("{events}?ticket=nope")).await, 400, "bad_request").await;
    let with_token = http
        .get(format!("{base}{events}?ticket=S"))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    error(with_token, 400, "bad_request").await;
    error(
        open(format!("{events}?ticket={}", "0".repeat(64))).await,
        401,
        "unauthorized",
    )
    .await;
    // A ticket opens its own project's stream once.
    let url = ticket_url(&app, &user, id).await;
    let res = open(url.clone()).await;
    assert_eq!(res.status(), 200);
    let mut s = Sse::new(res);
    assert!(
        matches!(s.next(Duration::from_secs(3)).await, Some(Frame::Comment(_))),
        "the stream opens"
    );
    error(open(url).await, 401, "unauthorized").await;
    // Not another project's, even the same user's.
    let url = ticket_url(&app, &user, second["project_id"].as_str().unwrap()).await;
    error(
        open(url.replace(second["project_id"].as_str().unwrap(), id)).await,
        401,
        "unauthorized",
    )
    .await;
    // Nobody gets a ticket for a project that is not theirs.
    let res = app
        .post(&format!("/api/projects/{id}/events/ticket"), &other)
        .send()
        .await
        .unwrap();
    error(res, 404, "not_found").await;
    app.cleanup(&[project["slug"].as_str().unwrap(), second["slug"].as_str().unwrap()])
        .await;
}
