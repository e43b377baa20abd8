//! Durable acknowledgements: an answer the system gave (a `202` for a job,
//! a version handed out) survives the database server being killed -9 right
//! after it. Each test runs its own database server, so killing it disturbs
//! no other test.

use std::time::Duration;

use domain::documents::JobKind;
use domain::messages::GenerationRequested;
use domain::{Envelope, JobId, JobStage, Version};
use e2e::database_server::{free_port, DatabaseServer};
use e2e::{Pipeline, Service, PIPELINE};
use platform::jobs;
use serde_json::{json, Value};

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn jobs_accepted_just_before_the_database_server_is_killed_exist_after_its_restart_and_complete() {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let mut server = DatabaseServer::start(&tag).await;
    let uri = server.uri();
    let mut p = Pipeline::with(&[("MONGODB_URI", uri.as_str())]).await;
    p.start(&PIPELINE, &[]);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut gateway = Service::gateway(&p.env.service_env(), &p.env.id, port, None);
    gateway.wait_healthy(&base).await;

    let http = reqwest::Client::new();
    let registered: Value = http
        .post(format!("{base}/api/auth/register"))
        .json(&json!({ "email": format!("durable-{tag}@example.com"), "password": "correct horse battery" }))
        .send()
        .await
        .expect("gateway answers")
        .json()
        .await
        .expect("json");
    let token = registered["access_token"].as_str().expect("a token").to_owned();

    // Several jobs in quick succession; the server dies right after the
    // last `202`, before any background flush could have saved it.
    let prompts = [
        "box 2 by 3 by 4 cm",
        "cylinder diameter 20mm height 50mm",
        "sphere radius 15 mm",
    ];
    let mut accepted = Vec::new();
    for (i, prompt) in prompts.iter().enumerate() {
        let res = http
            .post(format!("{base}/api/ai/generate-code"))
            .bearer_auth(&token)
            .json(&json!({ "prompt": prompt, "project_name": format!("durable {tag} {i}") }))
            .send()
            .await
            .expect("gateway answers");
        assert_eq!(res.status(), 202, "{prompt}: {}", res.text().await.unwrap_or_default());
        let body: Value = res.json().await.expect("json");
        let id: JobId = body["job_id"].as_str().expect("a job id").parse().expect("a job id");
        accepted.push((id, *prompt));
    }
    server.kill9();
    server.restart().await;

    for (id, prompt) in &accepted {
        let job = p.finished(*id, 3 * MINUTE).await;
        assert_eq!(job.stage, JobStage::Completed, "{prompt}: {:?}", job.error);
        // And the API, which answered 202, still knows it.
        let res = http
            .get(format!("{base}/api/jobs/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("gateway answers");
        assert_eq!(res.status(), 200, "{prompt}");
    }
    // The account the token belongs to survived too.
    let me = http
        .get(format!("{base}/api/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("gateway answers");
    assert_eq!(me.status(), 200);
    drop(gateway);
    p.services.clear();
}

#[tokio::test]
async fn a_version_handed_out_before_the_database_server_is_killed_is_never_handed_out_again() {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let mut server = DatabaseServer::start(&tag).await;
    let uri = server.uri();
    let p = Pipeline::with(&[("MONGODB_URI", uri.as_str())]).await;
    let project = p.project(&format!("claims {tag}")).await;
    let request = GenerationRequested {
        slug: project.slug.clone(),
        user_id: project.created_by.clone(),
        prompt: "box 2 by 3 by 4 cm".into(),
        base_version: None,
        spec: None,
    };
    let env = Envelope::new(JobId::generate(), project.project_id.clone(), request);
    let job = jobs::new_job(&project, &project.created_by, JobKind::Generate, &env);
    p.db.jobs().insert(&job).await.expect("job stored");

    // What script-store does for a job's first attempt.
    let v1 =
        p.db.projects()
            .next_version(&project.project_id, &job.job_id.reply_message_id(0))
            .await
            .expect("a version");
    assert_eq!(v1, Version::new(1).unwrap());
    let claimed = p.db.jobs().claim_version(job.job_id, 0, v1).await.expect("claimed");
    assert_eq!(claimed, v1);
    server.kill9();
    server.restart().await;

    let stored =
        p.db.jobs()
            .get(job.job_id)
            .await
            .expect("db answers")
            .expect("the job survived");
    assert_eq!(stored.versions.get(0), Some(v1), "the claim survived");
    // A redelivered message claims again: it gets the same version back…
    let again =
        p.db.jobs()
            .claim_version(job.job_id, 0, Version::new(7).unwrap())
            .await
            .expect("claimed");
    assert_eq!(again, v1);
    // …and the project's counter never hands out 1 a second time.
    let v2 =
        p.db.projects()
            .next_version(&project.project_id, "another job's attempt")
            .await
            .expect("a version");
    assert_eq!(v2, Version::new(2).unwrap());
}
