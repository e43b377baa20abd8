//! The read cache behind polled reads: a project's status and a job come
//! from memory until a `job.status` of the project or a write of the
//! caller says they changed.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use domain::messages::JobStatus;
use domain::{Envelope, JobId, JobStage, ProjectId, ProjectSlug};

use crate::helpers::{spawn_app_with, TestApp, TestUser};

/// The job's stage as `GET /api/jobs/{id}` and the project's status show it.
async fn shown(app: &TestApp, user: &TestUser, job: JobId, slug: &str) -> (String, String) {
    let job = app.get_json(&format!("/api/jobs/{job}"), user).await;
    let status = app.get_json(&format!("/api/projects/{slug}/status"), user).await;
    (
        job["stage"].as_str().unwrap().to_owned(),
        status["latest_job"]["stage"].as_str().unwrap().to_owned(),
    )
}

/// Moves the job in the database only, announcing nothing.
async fn move_to(app: &TestApp, job: JobId, stage: JobStage) {
    app.db
        .jobs()
        .transition(job, stage, None, Default::default())
        .await
        .unwrap();
}

fn both(stage: &str) -> (String, String) {
    (stage.to_owned(), stage.to_owned())
}

#[tokio::test]
async fn polled_reads_are_kept_until_a_job_status_or_a_write_of_the_caller() {
    // A lifetime far longer than the test: only forgetting can refresh.
    // The polls below are many: no rate limit.
    let app = spawn_app_with(&[("READ_CACHE_SECS", "3600"), ("RATE_LIMIT_PER_MINUTE", "0")]).await;
    let user = app.register().await;
    let accepted = app.generate(&user, "box 1 x 2 x 5 mm").await;
    let job = JobId::parse(accepted["job_id"].as_str().unwrap()).unwrap();
    let slug = accepted["slug"].as_str().unwrap().to_owned();
    let project = ProjectId::parse(accepted["project_id"].as_str().unwrap()).unwrap();
    assert_eq!(shown(&app, &user, job, &slug).await, both("queued"));

    // The database moves on behind the gateway's back, announcing nothing:
    // the polls are answered from memory.
    move_to(&app, job, JobStage::Generating).await;
    assert_eq!(
        shown(&app, &user, job, &slug).await,
        both("queued"),
        "served from memory"
    );

    // A job.status of the project makes every instance forget it. The
    // broadcast consumer binds asynchronously: announce until it is heard.
    let status = JobStatus::new(ProjectSlug::parse(&slug).unwrap(), JobStage::Generating);
    let announce = Envelope::new(job, project.clone(), status).into_raw();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        app.bus.publish(&announce).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        if shown(&app, &user, job, &slug).await == both("generating") {
            break;
        }
        assert!(Instant::now() < deadline, "the job.status was never heard");
    }

    // Behind its back again, then the owner writes something (a rename):
    // the owner's next poll reads the database.
    move_to(&app, job, JobStage::Uploading).await;
    assert_eq!(shown(&app, &user, job, &slug).await, both("generating"));
    let res = app
        .put(&format!("/api/projects/{slug}"), &user)
        .json(&json!({ "project_name": "renamed box" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(shown(&app, &user, job, &slug).await, both("uploading"));

    // Another user's write forgets nothing of the first user's.
    move_to(&app, job, JobStage::Processing).await;
    let other = app.register().await;
    let res = app
        .post("/api/projects", &other)
        .json(&json!({ "project_name": "elsewhere" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let elsewhere: Value = res.json().await.unwrap();
    assert_eq!(shown(&app, &user, job, &slug).await, both("uploading"));

    app.cleanup(&[&slug, elsewhere["slug"].as_str().unwrap()]).await;
}

#[tokio::test]
async fn with_the_cache_off_every_poll_reads_the_database() {
    let app = spawn_app_with(&[("READ_CACHE_SECS", "0")]).await;
    let user = app.register().await;
    let accepted = app.generate(&user, "box 1 x 2 x 5 mm").await;
    let job = JobId::parse(accepted["job_id"].as_str().unwrap()).unwrap();
    let slug = accepted["slug"].as_str().unwrap().to_owned();
    assert_eq!(shown(&app, &user, job, &slug).await, both("queued"));
    move_to(&app, job, JobStage::Generating).await;
    assert_eq!(shown(&app, &user, job, &slug).await, both("generating"));
    app.cleanup(&[&slug]).await;
}
