//! The job-handler router against the real MongoDB-compatible server and
//! broker: typed dispatch, the live-job guard and the dead-letter hook that
//! every worker service relies on.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use domain::documents::{Job, JobKind};
use domain::messages::{GenerationRepair, GenerationRequested};
use domain::{Envelope, JobStage, MessageType, ProjectStatus, RawEnvelope, Version};
use platform::bus::{DeadLetterReason, Handler, HandlerError};
use platform::dispatch::{JobHandler, Router};
use platform::jobs;
use platform::testkit::TestEnv;

/// Remembers the prompt and job stage of every message it is handed.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(String, JobStage)>>,
}

#[async_trait]
impl JobHandler<GenerationRequested> for Recorder {
    async fn handle(&self, _raw: &RawEnvelope, payload: GenerationRequested, job: Job) -> Result<(), HandlerError> {
        self.seen.lock().unwrap().push((payload.prompt, job.stage));
        Ok(())
    }
}

#[tokio::test]
async fn routes_by_type_drops_finished_jobs_and_fails_dead_lettered_ones() {
    let env = TestEnv::new();
    let db = env.db().await;
    let bus = env.bus("dispatch");
    bus.declare_topology().await.expect("broker answers");
    let project = env.project(&db, "Dispatch plate").await;
    let request = |job_id| {
        Envelope::new(
            job_id,
            project.project_id.clone(),
            GenerationRequested {
                slug: project.slug.clone(),
                user_id: project.created_by.clone(),
                prompt: "a 10 mm cube".into(),
                base_version: None,
                spec: None,
            },
        )
    };
    let first = request(domain::JobId::generate());
    let job = jobs::new_job(&project, &project.created_by, JobKind::Generate, &first);
    db.jobs().insert(&job).await.unwrap();

    let recorder = Arc::new(Recorder::default());
    let mut router = Router::new("dispatch-test", db.clone(), bus.clone());
    router.route::<GenerationRequested>(recorder.clone());
    assert_eq!(router.message_types(), vec![MessageType::GenerationRequested]);

    // A live job's message reaches the handler, decoded, with its job.
    router.handle(first.clone().into_raw()).await.unwrap();
    assert_eq!(
        *recorder.seen.lock().unwrap(),
        vec![("a 10 mm cube".to_owned(), JobStage::Queued)]
    );

    // An unknown job's message is acked and dropped.
    router
        .handle(request(domain::JobId::generate()).into_raw())
        .await
        .unwrap();
    assert_eq!(recorder.seen.lock().unwrap().len(), 1);

    // A type nobody registered, or a payload that does not decode, never
    // succeeds.
    let repair = Envelope::new(
        job.job_id,
        project.project_id.clone(),
        GenerationRepair {
            slug: project.slug.clone(),
            user_id: project.created_by.clone(),
            prompt: "a 10 mm cube".into(),
            failed_version: Version::new(1).unwrap(),
            error: "boom".into(),
            repair_attempt: 1,
        },
    );
    assert!(matches!(
        router.handle(repair.into_raw()).await,
        Err(HandlerError::Permanent(_))
    ));
    let mut garbled = first.clone().into_raw();
    garbled.payload = serde_json::json!({ "slug": project.slug.as_str() });
    assert!(matches!(router.handle(garbled).await, Err(HandlerError::Permanent(_))));

    // A dead-lettered message fails its job with the reason, and the
    // project shows the error.
    let reason = DeadLetterReason::Permanent("the script could not be stored".into());
    router.on_dead_letter(&first.clone().into_raw(), &reason).await;
    let failed = db.jobs().get(job.job_id).await.unwrap().unwrap();
    assert_eq!(failed.stage, JobStage::Failed);
    assert_eq!(
        failed.history.last().and_then(|h| h.detail.as_deref()),
        Some("the script could not be stored")
    );
    let project_now = db.projects().get(&project.project_id).await.unwrap().unwrap();
    assert_eq!(project_now.status, ProjectStatus::Error);

    // Once the job is finished, its late messages are dropped too.
    router.handle(first.into_raw()).await.unwrap();
    assert_eq!(recorder.seen.lock().unwrap().len(), 1);

    env.drop_db().await;
}
