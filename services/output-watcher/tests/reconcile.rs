//! The output-watcher's outbox and reconciliation on the real stack: jobs
//! accepted while the broker was down are published, quiet jobs whose outputs are in
//! S3 (flat layout of external workers included) are completed, jobs being
//! repaired are left to their repair, and jobs that went nowhere time out.

mod common;

use std::time::Duration;

use bson::doc;
use common::{cube, job, processing, put_outputs, until};
use domain::{JobStage, ModelFormat, ProjectStatus, S3Key, Version};
use output_watcher::{build, Settings};
use platform::testkit::TestEnv;
use platform::CancellationToken;

async fn start(env: &TestEnv) -> CancellationToken {
    start_with_timeout(env, "3").await
}

async fn start_with_timeout(env: &TestEnv, job_timeout_secs: &str) -> CancellationToken {
    let settings: Settings = env.service_settings(&[
        ("RECONCILE_INTERVAL_SECS", "0.5"),
        ("RECONCILE_QUIET_SECS", "0.5"),
        ("JOB_TIMEOUT_SECS", job_timeout_secs),
    ]);
    let app = build(settings).await.expect("service starts");
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move { app.run_until_stopped(t).await.unwrap() });
    token
}

#[tokio::test]
async fn jobs_accepted_while_the_broker_was_down_are_published_by_the_outbox() {
    let env = TestEnv::new();
    let db = env.db().await;
    let bus = env.bus("driver");
    bus.declare_topology().await.unwrap();
    let (_, job) = job(&env, &db, "broker was down").await;
    // What `submit` leaves behind when publishing failed: stored, unpublished.
    db.jobs().insert(&job).await.unwrap();
    // Reconciliation far away: only the outbox can publish it in time.
    let settings: Settings = env.service_settings(&[
        ("RECONCILE_INTERVAL_SECS", "600"),
        ("RECONCILE_QUIET_SECS", "600"),
        ("OUTBOX_AFTER_SECS", "0.5"),
    ]);
    let app = build(settings).await.expect("service starts");
    let stop = CancellationToken::new();
    let t = stop.clone();
    tokio::spawn(async move { app.run_until_stopped(t).await.unwrap() });
    until(&db, job.job_id, |j| j.published).await;
    let waiting = env.drain(bus.as_ref(), "ai-generator.generation.requested").await;
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].job_id, job.job_id);
    stop.cancel();
    env.drop_db().await;
}

#[tokio::test]
async fn quiet_jobs_with_outputs_in_s3_complete_and_jobs_that_went_nowhere_time_out() {
    let env = TestEnv::new();
    let db = env.db().await;
    let store = env.store();

    // An external worker wrote the flat layout; no message ever came.
    let (found, found_job) = job(&env, &db, "external worker").await;
    db.jobs().insert(&found_job).await.unwrap();
    let v1 = Version::new(1).unwrap();
    db.jobs()
        .transition(
            found_job.job_id,
            JobStage::Processing,
            None,
            doc! { "version": 1, "published": true },
        )
        .await
        .unwrap();
    for format in ModelFormat::ALL {
        let key = S3Key::FlatOutput {
            slug: found.slug.clone(),
            format,
        }
        .to_string();
        store
            .put(&key, b"model".to_vec(), format.content_type(), &[])
            .await
            .unwrap();
    }

    // Nobody ever picks this one up.
    let (lost, lost_job) = job(&env, &db, "went nowhere").await;
    db.jobs().insert(&lost_job).await.unwrap();
    db.jobs()
        .set(lost_job.job_id, doc! { "published": true })
        .await
        .unwrap();

    let stop = start(&env).await;
    let done = until(&db, found_job.job_id, |j| j.stage.is_terminal()).await;
    assert_eq!(done.stage, JobStage::Completed);
    assert_eq!(done.outputs.len(), ModelFormat::ALL.len());
    assert!(store
        .head(&S3Key::processed(&found.slug, v1).to_string())
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        db.projects().get(&found.project_id).await.unwrap().unwrap().status,
        ProjectStatus::Completed
    );

    let timed_out = until(&db, lost_job.job_id, |j| j.stage.is_terminal()).await;
    assert_eq!(timed_out.stage, JobStage::Timeout);
    assert!(timed_out.error.unwrap().contains("no result"));
    // The project is marked right after the job moves: give it that moment.
    let mut status = ProjectStatus::Draft;
    for _ in 0..50 {
        status = db.projects().get(&lost.project_id).await.unwrap().unwrap().status;
        if status == ProjectStatus::Timeout {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, ProjectStatus::Timeout);

    stop.cancel();
    for slug in [&found.slug, &lost.slug] {
        for prefix in S3Key::project_prefixes(slug) {
            store.delete_prefix(&prefix).await.unwrap();
        }
    }
    env.drop_db().await;
}

#[tokio::test]
async fn outputs_found_in_s3_are_verified_with_the_measurements_the_worker_kept_on_them() {
    let env = TestEnv::new();
    let db = env.db().await;
    let store = env.store();
    let v1 = Version::new(1).unwrap();
    let measured = cube();

    // Two jobs whose `model.built` was lost after the worker wrote the
    // files: one asked for this 10 mm cube, the other for a 12 mm one.
    let mut jobs = Vec::new();
    for (name, side) in [("lost message right", 10.0), ("lost message wrong", 12.0)] {
        let (project, job) = processing(&env, &db, name, side).await;
        put_outputs(&store, &project.slug, v1, &measured).await;
        jobs.push((project, job));
    }

    let stop = start(&env).await;
    let right = until(&db, jobs[0].1.job_id, |j| j.stage.is_terminal()).await;
    assert_eq!(right.stage, JobStage::Completed, "{:?}", right.error);
    let verification = right.verification.expect("verified from the kept measurements");
    assert!(verification.passed, "{verification:?}");
    assert_eq!(right.metrics, Some(measured));

    let wrong = until(&db, jobs[1].1.job_id, |j| j.stage.is_terminal()).await;
    assert_eq!(wrong.stage, JobStage::Failed);
    assert!(
        wrong
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("verification failed"),
        "{:?}",
        wrong.error
    );
    assert!(!wrong.verification.expect("the failed checks are recorded").passed);

    stop.cancel();
    for (project, _) in &jobs {
        for prefix in S3Key::project_prefixes(&project.slug) {
            store.delete_prefix(&prefix).await.unwrap();
        }
    }
    env.drop_db().await;
}

#[tokio::test]
async fn a_job_being_repaired_is_not_settled_by_the_outputs_of_its_failed_version() {
    let env = TestEnv::new();
    let db = env.db().await;
    let store = env.store();
    let v1 = Version::new(1).unwrap();
    // Version 1 was built and failed its checks (a 10 mm cube for a 12 mm
    // one); its files stay in the bucket while a language model repairs
    // the script, which takes longer than the quiet period.
    let (project, job) = processing(&env, &db, "under repair", 12.0).await;
    db.jobs()
        .transition(job.job_id, JobStage::Generating, None, doc! { "repair_attempts": 1 })
        .await
        .unwrap();
    put_outputs(&store, &project.slug, v1, &cube()).await;

    let stop = start_with_timeout(&env, "60").await;
    // Several passes of reconciliation.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let still = db.jobs().get(job.job_id).await.unwrap().unwrap();
    assert_eq!(still.stage, JobStage::Generating, "{:?}", still.error);

    stop.cancel();
    for prefix in S3Key::project_prefixes(&project.slug) {
        store.delete_prefix(&prefix).await.unwrap();
    }
    env.drop_db().await;
}
