//! What the output-watcher's tests share: jobs as the gateway stores them,
//! model files as the worker leaves them, and waiting for a job to get
//! somewhere.

#![allow(dead_code)]

use std::time::Duration;

use std::collections::BTreeMap;

use domain::documents::{Job, JobKind, Project};
use domain::messages::{GenerationRequested, ModelMetrics, METRICS_METADATA_KEY};
use domain::{Envelope, JobId, ModelFormat, ProjectSlug, S3Key, Version};
use platform::jobs;
use platform::mongo::Db;
use platform::s3::ObjectStore;
use platform::testkit::TestEnv;

/// A project of its own and a job for it, not stored yet.
pub async fn job(env: &TestEnv, db: &Db, name: &str) -> (Project, Job) {
    let project = env.project(db, name).await;
    let msg = GenerationRequested {
        slug: project.slug.clone(),
        user_id: project.created_by.clone(),
        prompt: "box 1 x 1 x 1 mm".into(),
        base_version: None,
        spec: None,
    };
    let e = Envelope::new(JobId::generate(), project.project_id.clone(), msg);
    let job = jobs::new_job(&project, &project.created_by, JobKind::Generate, &e);
    (project, job)
}

/// A job FreeCAD is running version 1 of, as the worker leaves it, asked
/// for a cube of `side` mm.
pub async fn processing(env: &TestEnv, db: &Db, name: &str, side: f64) -> (Project, Job) {
    let (project, job) = job(env, db, name).await;
    db.jobs().insert(&job).await.unwrap();
    let expected = domain::Expectations {
        volume_mm3: Some(side * side * side),
        bbox_mm: Some([side; 3]),
        solids: Some(1),
        ..domain::Expectations::default()
    };
    let set = bson::doc! { "version": 1, "published": true, "expected": bson::to_bson(&expected).unwrap() };
    db.jobs()
        .transition(job.job_id, domain::JobStage::Processing, None, set)
        .await
        .unwrap();
    (project, job)
}

/// The job once `what` holds (twenty seconds at most).
pub async fn until(db: &Db, id: JobId, what: impl Fn(&Job) -> bool) -> Job {
    for _ in 0..200 {
        let j = db.jobs().get(id).await.unwrap().unwrap();
        if what(&j) {
            return j;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {id} never got there: {:?}", db.jobs().get(id).await.unwrap());
}

/// What the worker measures of a 10 mm cube.
pub fn cube() -> ModelMetrics {
    ModelMetrics {
        volume: 1000.0,
        surface_area: 600.0,
        bounding_box: [0.0, 0.0, 0.0, 10.0, 10.0, 10.0],
        solids: 1,
        valid: true,
        through_holes: Some(0),
        center_of_mass: None,
        inertia: None,
    }
}

/// Every model file of a version, put as the worker puts them (its
/// measurements on each); the keys by format.
pub async fn put_outputs(
    store: &ObjectStore,
    slug: &ProjectSlug,
    version: Version,
    measured: &ModelMetrics,
) -> BTreeMap<ModelFormat, S3Key> {
    let meta = [(METRICS_METADATA_KEY, serde_json::to_string(measured).unwrap())];
    let mut keys = BTreeMap::new();
    for format in ModelFormat::ALL {
        let key = S3Key::output(slug, version, format);
        store
            .put(&key.to_string(), b"model".to_vec(), format.content_type(), &meta)
            .await
            .unwrap();
        keys.insert(format, key);
    }
    keys
}
