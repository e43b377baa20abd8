//! script-store against the real stack: versions are assigned once per job
//! attempt, contiguously, even under redelivery and concurrency.

use std::time::Duration;

use domain::documents::{Job, JobKind, Project};
use domain::messages::{Reply, ScriptGenerated, ScriptSource, ScriptStored};
use domain::verify::Expectations;
use domain::{Envelope, FileType, JobId, JobStage, RawEnvelope};
use platform::bus::Bus;
use platform::jobs;
use platform::mongo::PageRequest;
use platform::testkit::TestEnv;
use platform::CancellationToken;
use script_store::{build, Settings};

fn generated(slug: &domain::ProjectSlug, user: &domain::UserId, n: usize) -> ScriptGenerated {
    ScriptGenerated {
        slug: slug.clone(),
        user_id: user.clone(),
        prompt: format!("box {n} x 1 x 1 mm"),
        script: format!("# script {n}\nimport FreeCAD as App\n"),
        source: ScriptSource::Generated {
            provider: "template".into(),
            model: "catalogue".into(),
        },
        repair_attempt: 0,
        spec: None,
        generation_ms: Some(7),
        expected: None,
        reply: Some(Reply {
            content: format!("box {n}"),
            at: chrono::Utc::now(),
            source_model: "catalogue".into(),
            provider: "template".into(),
            response_time: 0.007,
            prompt_tokens: 0,
            completion_tokens: 0,
        }),
    }
}

/// The generator's message for script `n` of a new job of `project`, and
/// that job as the gateway stores it (not yet in the database).
fn request(project: &Project, n: usize) -> (Envelope<ScriptGenerated>, Job) {
    let e = Envelope::new(
        JobId::generate(),
        project.project_id.clone(),
        generated(&project.slug, &project.created_by, n),
    );
    let job = jobs::new_job(project, &project.created_by, JobKind::Generate, &e);
    (e, job)
}

async fn start(env: &TestEnv) -> CancellationToken {
    let app = build(env.service_settings::<Settings>(&[]))
        .await
        .expect("service starts");
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move { app.run_until_stopped(t).await.unwrap() });
    token
}

/// Waits until `queue` has received `n` messages.
async fn collect(env: &TestEnv, bus: &dyn Bus, queue: &str, n: usize) -> Vec<RawEnvelope> {
    let mut got = Vec::new();
    for _ in 0..300 {
        got.extend(env.drain(bus, queue).await);
        if got.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    got
}

#[tokio::test]
async fn a_redelivered_script_generated_does_not_create_a_second_version() {
    let env = TestEnv::new();
    let db = env.db().await;
    let bus = env.bus("driver");
    let stop = start(&env).await;
    let project = env.project(&db, "redelivery").await;
    let (mut env0, job) = request(&project, 1);
    let expected = Expectations {
        volume_mm3: Some(1.0),
        bbox_mm: Some([1.0, 1.0, 1.0]),
        ..Expectations::default()
    };
    env0.payload.expected = Some(expected.clone());
    db.jobs().insert(&job).await.unwrap();

    let raw = env0.into_raw();
    bus.publish(&raw).await.unwrap();
    let first = collect(&env, bus.as_ref(), "freecad-worker.script.stored", 1).await;
    bus.publish(&raw).await.unwrap(); // the same message again, as after a lost ack
    let second = collect(&env, bus.as_ref(), "freecad-worker.script.stored", 1).await;

    let v = |m: &RawEnvelope| m.clone().decode::<ScriptStored>().unwrap().payload.version.get();
    assert_eq!((first.len(), second.len()), (1, 1));
    assert_eq!((v(&first[0]), v(&second[0])), (1, 1));
    let told = first[0].clone().decode::<ScriptStored>().unwrap().payload;
    assert!(told.store_ms.is_some(), "the store's time travels to the worker");
    assert_eq!(
        told.project_name.as_deref(),
        Some(project.project_name.as_str()),
        "the name read with the claim travels to the worker"
    );
    // Asked again, the version is known from the job: no claim, no read.
    let again = second[0].clone().decode::<ScriptStored>().unwrap().payload;
    assert_eq!(again.project_name, None);
    // The reply is in the conversation once, with the version it made.
    let said = db
        .messages()
        .list(&project.project_id, PageRequest::all())
        .await
        .unwrap();
    assert_eq!(said.total, 1, "{:?}", said.items);
    let reply = &said.items[0];
    assert_eq!(
        (reply.content.as_str(), reply.job_id, reply.metadata.version),
        ("box 1", Some(job.job_id), Some(1))
    );
    assert_eq!(reply.message_id, job.job_id.reply_message_id(0));
    assert!(reply.metadata.s3_url.as_deref().is_some_and(|u| u.ends_with("_v1.py")));
    assert_eq!(reply.metadata.provider.as_deref(), Some("template"));
    // The claim, the stage and the generator's time were written together.
    let stored_job = db.jobs().get(job.job_id).await.unwrap().unwrap();
    assert_eq!(stored_job.stage, JobStage::Uploading);
    assert_eq!(stored_job.versions.get(0).map(|v| v.get()), Some(1));
    assert_eq!(stored_job.version.map(|v| v.get()), Some(1));
    assert_eq!(stored_job.timings.generation_ms, Some(7));
    assert_eq!(
        stored_job.expected,
        Some(expected),
        "the expectations go with the stage change"
    );
    let p = db.projects().get(&project.project_id).await.unwrap().unwrap();
    assert_eq!(
        (p.version_counter, p.current_version),
        (1, 1),
        "no second version was taken"
    );
    let files = db
        .files()
        .list(&project.project_id, Some(FileType::Input), PageRequest::all())
        .await
        .unwrap();
    assert_eq!(files.total, 1);
    let store = env.store();
    let listed = store.list(&format!("input/{}/", project.slug)).await.unwrap();
    assert_eq!(listed.len(), 1);
    let obj = store.get(&listed[0].key).await.unwrap().unwrap();
    assert_eq!(obj.info.metadata.get("version").map(String::as_str), Some("1"));
    assert_eq!(obj.info.metadata.get("job-id"), Some(&job.job_id.to_string()));
    assert!(obj.info.content_type.unwrap().starts_with("text/x-python"));
    assert!(p
        .latest_s3_input
        .unwrap()
        .ends_with(&format!("input/{0}/{0}_v1.py", project.slug)));

    stop.cancel();
    store.delete_prefix(&format!("input/{}/", project.slug)).await.unwrap();
    env.drop_db().await;
}

#[tokio::test]
async fn fifty_jobs_at_once_get_versions_one_to_fifty() {
    let env = TestEnv::new();
    let db = env.db().await;
    let bus = env.bus("driver");
    let stop = start(&env).await;
    let project = env.project(&db, "fifty at once").await;
    let mut raws = Vec::new();
    for n in 0..50 {
        let (e, job) = request(&project, n);
        db.jobs().insert(&job).await.unwrap();
        raws.push(e.into_raw());
    }
    futures::future::try_join_all(raws.iter().map(|r| bus.publish(r)))
        .await
        .unwrap();
    let stored = collect(&env, bus.as_ref(), "freecad-worker.script.stored", 50).await;
    let mut versions: Vec<u32> = stored
        .iter()
        .map(|m| m.clone().decode::<ScriptStored>().unwrap().payload.version.get())
        .collect();
    versions.sort();
    assert_eq!(versions, (1..=50).collect::<Vec<_>>());
    let p = db.projects().get(&project.project_id).await.unwrap().unwrap();
    assert_eq!(p.current_version, 50);
    let inputs = env.store().list(&format!("input/{}/", project.slug)).await.unwrap();
    assert_eq!(inputs.len(), 50);
    stop.cancel();
    env.store()
        .delete_prefix(&format!("input/{}/", project.slug))
        .await
        .unwrap();
    env.drop_db().await;
}

#[tokio::test]
async fn a_job_that_cannot_move_to_uploading_still_uses_the_version_it_was_given() {
    // As a job cancelled between the message's delivery and the store's
    // write: the stage cannot move, and the version handed out must not be
    // skipped. (A job already over is dropped at delivery.)
    let env = TestEnv::new();
    let db = env.db().await;
    let bus = env.bus("driver");
    let stop = start(&env).await;
    let project = env.project(&db, "cannot move").await;
    let (e, mut job) = request(&project, 1);
    job.stage = JobStage::Processing;
    db.jobs().insert(&job).await.unwrap();
    bus.publish(&e.into_raw()).await.unwrap();
    let stored = collect(&env, bus.as_ref(), "freecad-worker.script.stored", 1).await;
    assert_eq!(stored.len(), 1);

    // The stage stays; the number handed out is the job's and is stored.
    let after = db.jobs().get(job.job_id).await.unwrap().unwrap();
    assert_eq!(after.stage, JobStage::Processing);
    assert_eq!(after.versions.get(0).map(|v| v.get()), Some(1));
    let p = db.projects().get(&project.project_id).await.unwrap().unwrap();
    assert_eq!((p.version_counter, p.current_version), (1, 1), "no version skipped");
    stop.cancel();
    env.store()
        .delete_prefix(&format!("input/{}/", project.slug))
        .await
        .unwrap();
    env.drop_db().await;
}
