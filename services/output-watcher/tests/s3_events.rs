//! Completion from S3 event notifications, on real services: moto's server
//! is the object store of these tests, because it sends real notifications
//! to its own SQS queues (the local store, Garage, sends none). As on AWS,
//! the bucket is told to send its `s3:ObjectCreated:*` events for `output/`
//! to a queue (one of the test's own), and the watcher reads that queue.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter, QueueConfiguration,
    S3KeyFilter,
};
use aws_sdk_sqs::types::QueueAttributeName;
use bson::doc;
use common::{cube, processing, put_outputs, until};
use domain::documents::{Job, Project};
use domain::messages::{ModelBuilt, ScriptSource, TEMPLATE_PROVIDER};
use domain::{Envelope, JobStage, ModelFormat, S3Key, Version};
use output_watcher::{build, Settings};
use platform::mongo::Db;
use platform::testkit::{stack_vars, TestEnv};
use platform::CancellationToken;

/// How long an event waits for the job's direct message here.
const GRACE: Duration = Duration::from_secs(2);

/// A bucket on moto's S3 that notifies a queue of its own.
struct Notifying {
    env: TestEnv,
    db: Db,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    queue: String,
    queue_url: String,
}

impl Notifying {
    async fn new() -> Self {
        let endpoint = stack_vars()
            .get("AWS_ENDPOINT_URL_SQS")
            .cloned()
            .expect("AWS_ENDPOINT_URL_SQS is set (run `make stack-up`)");
        let id = &uuid::Uuid::new_v4().simple().to_string()[..12];
        let bucket = format!("events-{id}");
        // A region moto knows: it makes buckets elsewhere only when told
        // where (the local store's region is its own name).
        let env = TestEnv::with(&[
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_BUCKET_NAME", bucket.as_str()),
            ("AWS_REGION", "us-east-1"),
        ]);
        env.store().ensure_bucket().await.expect("moto makes the bucket");
        let keys = aws_sdk_s3::config::Credentials::new(
            &env.s3.access_key_id,
            env.s3.secret_access_key.expose(),
            None,
            None,
            "test",
        );
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(env.s3.region.clone()))
            .credentials_provider(keys)
            .endpoint_url(&endpoint)
            .load()
            .await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&shared)
                .force_path_style(true)
                .build(),
        );
        let sqs = aws_sdk_sqs::Client::new(&shared);
        let queue = format!("test-{id}-s3-events");
        let queue_url = sqs
            .create_queue()
            .queue_name(&queue)
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_owned();
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .unwrap();
        // What an operator configures on AWS (docs/OPERATIONS.md).
        let outputs_only = S3KeyFilter::builder()
            .filter_rules(
                FilterRule::builder()
                    .name(FilterRuleName::Prefix)
                    .value("output/")
                    .build(),
            )
            .build();
        let to_queue = QueueConfiguration::builder()
            .queue_arn(arn)
            .events(Event::from("s3:ObjectCreated:*"))
            .filter(NotificationConfigurationFilter::builder().key(outputs_only).build())
            .build()
            .unwrap();
        s3.put_bucket_notification_configuration()
            .bucket(&bucket)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .queue_configurations(to_queue)
                    .build(),
            )
            .send()
            .await
            .expect("moto takes the notification configuration");
        let db = env.db().await;
        Self {
            env,
            db,
            s3,
            sqs,
            queue,
            queue_url,
        }
    }

    /// The watcher reading the queue, with reconciliation out of the way
    /// (it would complete the same jobs, later).
    async fn start(&self) -> CancellationToken {
        let grace = GRACE.as_secs().to_string();
        let settings: Settings = self.env.service_settings(&[
            ("S3_EVENTS_QUEUE", self.queue.as_str()),
            ("S3_EVENTS_GRACE_SECS", grace.as_str()),
            ("RECONCILE_INTERVAL_SECS", "3600"),
        ]);
        let app = build(settings).await.expect("the watcher starts");
        let token = CancellationToken::new();
        let t = token.clone();
        tokio::spawn(async move { app.run_until_stopped(t).await.unwrap() });
        token
    }

    async fn processing(&self, name: &str) -> (Project, Job) {
        processing(&self.env, &self.db, name, 10.0).await
    }

    async fn put_outputs(&self, project: &Project) -> BTreeMap<ModelFormat, S3Key> {
        put_outputs(&self.env.store(), &project.slug, Version::new(1).unwrap(), &cube()).await
    }

    /// The worker's `model.built` for version 1.
    fn model_built(project: &Project, job: &Job, outputs: BTreeMap<ModelFormat, S3Key>) -> Envelope<ModelBuilt> {
        let built = ModelBuilt {
            slug: project.slug.clone(),
            user_id: project.created_by.clone(),
            version: Version::new(1).unwrap(),
            outputs,
            output_sizes: BTreeMap::new(),
            log_key: S3Key::parse(&format!(
                "logs/{}/{}_info_20250101_000000_v1.log",
                project.slug, project.slug
            ))
            .expect("a log key"),
            metrics: cube(),
            duration_ms: 120,
            fetch_ms: 3,
            upload_ms: 7,
            worker_id: "test-worker".into(),
            exit_code: 0,
            source: ScriptSource::Generated {
                provider: TEMPLATE_PROVIDER.into(),
                model: "catalogue".into(),
            },
            prompt: "box 10 x 10 x 10 mm".into(),
            repair_attempt: 0,
        };
        Envelope::new(job.job_id, project.project_id.clone(), built)
    }

    /// Waits until every event of the queue was settled: nothing waiting,
    /// nothing in hand or hidden for later.
    async fn until_settled(&self) {
        let start = Instant::now();
        loop {
            let got = self
                .sqs
                .get_queue_attributes()
                .queue_url(&self.queue_url)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .send()
                .await
                .unwrap();
            let count = |name| {
                got.attributes()
                    .and_then(|a| a.get(&name))
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            let left = count(QueueAttributeName::ApproximateNumberOfMessages)
                + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible);
            if left == 0 {
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "{left} events never settled");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn output_records(&self, project: &Project) -> u64 {
        self.db
            .database()
            .collection::<bson::Document>("files")
            .count_documents(doc! { "project_id": project.project_id.as_str(), "file_type": "output" })
            .await
            .unwrap()
    }

    async fn clean(self) {
        let _ = self.env.store().delete_prefix("").await;
        let _ = self.s3.delete_bucket().bucket(&self.env.s3.bucket).send().await;
        let _ = self.sqs.delete_queue().queue_url(&self.queue_url).send().await;
        let bus = self.env.bus("cleaner");
        let _ = bus.delete_topology(platform::bus::TOPOLOGY).await;
        self.env.drop_db().await;
    }
}

fn completions(job: &Job) -> usize {
    job.history.iter().filter(|h| h.stage == JobStage::Completed).count()
}

#[tokio::test]
async fn a_job_whose_model_built_never_came_completes_from_the_buckets_events() {
    let n = Notifying::new().await;
    let stop = n.start().await;
    let (project, job) = n.processing("event completed").await;
    // The worker wrote its files, then died before its `model.built` left.
    let written = Instant::now();
    n.put_outputs(&project).await;

    let done = until(&n.db, job.job_id, |j| j.stage.is_terminal()).await;
    assert_eq!(done.stage, JobStage::Completed, "{:?}", done.error);
    assert!(
        written.elapsed() >= GRACE - Duration::from_millis(200),
        "the event waited its grace for the direct message"
    );
    assert_eq!(completions(&done), 1);
    assert_eq!(done.version, Version::new(1).ok());
    assert_eq!(done.outputs.len(), ModelFormat::ALL.len());
    let verification = done.verification.expect("verified with the worker's measurements");
    assert!(verification.passed, "{verification:?}");
    assert_eq!(done.metrics, Some(cube()));
    let marker = S3Key::processed(&project.slug, Version::new(1).unwrap()).to_string();
    assert!(n.env.store().head(&marker).await.unwrap().is_some());
    assert_eq!(n.output_records(&project).await, ModelFormat::ALL.len() as u64);

    // Every event (and S3's test event) was settled and deleted.
    n.until_settled().await;
    assert_eq!(completions(&n.db.jobs().get(job.job_id).await.unwrap().unwrap()), 1);
    stop.cancel();
    n.clean().await;
}

#[tokio::test]
async fn the_direct_message_and_the_events_complete_a_job_once_whichever_comes_first() {
    let n = Notifying::new().await;
    let bus = n.env.bus("worker");
    bus.declare_topology().await.unwrap();
    let stop = n.start().await;

    // The usual order: the worker's message right after its files; the
    // events find the job done when their grace is over.
    let (first, first_job) = n.processing("message first").await;
    let outputs = n.put_outputs(&first).await;
    let built = Notifying::model_built(&first, &first_job, outputs);
    bus.publish(&built.into_raw()).await.unwrap();
    let done = until(&n.db, first_job.job_id, |j| j.stage.is_terminal()).await;
    assert_eq!(done.stage, JobStage::Completed, "{:?}", done.error);
    assert_eq!(
        done.timings.freecad_ms,
        Some(120),
        "completed by the message, with its timings"
    );

    // The message late, after the events completed the job from S3.
    let (second, second_job) = n.processing("events first").await;
    let outputs = n.put_outputs(&second).await;
    let done = until(&n.db, second_job.job_id, |j| j.stage.is_terminal()).await;
    assert_eq!(done.stage, JobStage::Completed, "{:?}", done.error);
    assert_eq!(done.timings.freecad_ms, None, "completed from S3");
    let built = Notifying::model_built(&second, &second_job, outputs);
    bus.publish(&built.into_raw()).await.unwrap();

    n.until_settled().await;
    // The late message is handled in a moment and changes nothing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (project, job) in [(&first, &first_job), (&second, &second_job)] {
        let job = n.db.jobs().get(job.job_id).await.unwrap().unwrap();
        assert_eq!(job.stage, JobStage::Completed);
        assert_eq!(completions(&job), 1, "{:?}", job.history);
        assert_eq!(job.version, Version::new(1).ok());
        assert_eq!(
            n.output_records(project).await,
            ModelFormat::ALL.len() as u64,
            "one record per output"
        );
    }
    stop.cancel();
    n.clean().await;
}

#[tokio::test]
async fn a_queue_that_does_not_exist_is_named_at_start() {
    let n = Notifying::new().await;
    let settings: Settings = n
        .env
        .service_settings(&[("S3_EVENTS_QUEUE", "no-such-queue-for-cadscribe")]);
    let err = build(settings).await.err().expect("the watcher refuses to start");
    let text = format!("{err:#}");
    assert!(
        text.contains("S3_EVENTS_QUEUE") && text.contains("no SQS queue no-such-queue-for-cadscribe"),
        "{text}"
    );
    n.clean().await;
}
