//! Fair share at admission, against the real database server and broker: a
//! user has at most `FAIR_SHARE_JOBS` jobs in the pipeline; the rest are
//! stored held and let in, oldest first, as earlier ones end.

use domain::documents::{Job, JobKind, Project};
use domain::messages::GenerationRequested;
use domain::{Envelope, JobId, JobStage, UserId};
use platform::bus::TOPOLOGY;
use platform::jobs::{self, Advance, Origin, Submitted, Turn};
use platform::mongo::Db;
use platform::testkit::TestEnv;

fn request(project: &Project, user: &UserId) -> Job {
    let msg = GenerationRequested {
        slug: project.slug.clone(),
        user_id: user.clone(),
        prompt: "a 10 mm cube".into(),
        base_version: None,
        spec: None,
    };
    let first = Envelope::new(JobId::generate(), project.project_id.clone(), msg);
    jobs::new_job(project, user, JobKind::Generate, &first)
}

async fn stored(db: &Db, job: &Job) -> Job {
    db.jobs().get(job.job_id).await.unwrap().expect("the job is stored")
}

#[tokio::test]
async fn a_users_jobs_beyond_the_share_wait_and_go_in_oldest_first_as_earlier_ones_end() {
    let env = TestEnv::with(&[("FAIR_SHARE_JOBS", "2")]);
    let db = env.db().await;
    assert_eq!(db.fair_share(), 2, "the setting reaches the database handle");
    let bus = env.bus("fair-share");
    bus.declare_topology().await.expect("the broker answers");

    let (busy, other) = (UserId::generate(), UserId::generate());
    let project = db
        .projects()
        .create(jobs::new_project("fair share busy", &busy).unwrap())
        .await
        .unwrap();
    let theirs = db
        .projects()
        .create(jobs::new_project("fair share other", &other).unwrap())
        .await
        .unwrap();

    let mut submitted = Vec::new();
    for _ in 0..5 {
        let job = request(&project, &busy);
        let how = jobs::submit(&db, bus.as_ref(), &job).await.unwrap();
        submitted.push((job, how));
    }
    let hows: Vec<Submitted> = submitted.iter().map(|(_, how)| *how).collect();
    assert_eq!(
        hows,
        [
            Submitted::Published,
            Submitted::Published,
            Submitted::Held,
            Submitted::Held,
            Submitted::Held
        ]
    );
    for (job, how) in &submitted {
        let now = stored(&db, job).await;
        assert_eq!(now.held, *how == Submitted::Held);
        assert_eq!(now.published, *how == Submitted::Published);
        assert_eq!(now.stage, JobStage::Queued);
    }
    // Another user is not held back by the busy one's backlog.
    let small = request(&theirs, &other);
    assert_eq!(
        jobs::submit(&db, bus.as_ref(), &small).await.unwrap(),
        Submitted::Published
    );

    // Held jobs are waiting, not lost: reconciliation neither republishes
    // nor times them out, and its sweep lets none in while the share is full.
    let future = chrono::Utc::now() + chrono::Duration::hours(1);
    let stale = db.jobs().stale(&[JobStage::Queued], future, 100).await.unwrap();
    assert!(stale.iter().all(|j| !j.held), "held jobs are not stale");
    assert_eq!(
        jobs::republish_unpublished(&db, bus.as_ref(), std::time::Duration::ZERO)
            .await
            .unwrap(),
        0
    );
    assert_eq!(jobs::release_all_held(&db, bus.as_ref()).await.unwrap(), 0);

    // The first job ends: the oldest held job goes in, and only that one.
    let first = &submitted[0].0;
    let step = Advance::to(JobStage::Cancelled).detail("test");
    jobs::advance(&db, bus.as_ref(), &Origin::of_job(first), &first.slug, step)
        .await
        .unwrap();
    let third = stored(&db, &submitted[2].0).await;
    assert!(
        !third.held && third.published,
        "the oldest held job was let in: {third:?}"
    );
    assert!(third.released_at.is_some(), "its time limit counts from now");
    assert!(stored(&db, &submitted[3].0).await.held, "the share is full again");
    assert!(stored(&db, &submitted[4].0).await.held);

    // A held job freed by a service that stopped before letting it in is
    // let in by the sweep: two places free, two jobs in.
    for job in [&submitted[1].0, &submitted[2].0] {
        db.jobs()
            .transition(job.job_id, JobStage::Cancelled, None, bson::Document::new())
            .await
            .unwrap();
    }
    assert!(stored(&db, &submitted[3].0).await.held, "nobody let it in yet");
    assert_eq!(jobs::release_all_held(&db, bus.as_ref()).await.unwrap(), 2);
    for job in [&submitted[3].0, &submitted[4].0] {
        let now = stored(&db, job).await;
        assert!(!now.held && now.published, "{now:?}");
    }

    bus.delete_topology(TOPOLOGY).await.ok();
    env.drop_db().await;
}

#[tokio::test]
async fn a_share_of_zero_holds_nothing() {
    let env = TestEnv::with(&[("FAIR_SHARE_JOBS", "0")]);
    let db = env.db().await;
    let bus = env.bus("fair-share-off");
    bus.declare_topology().await.expect("the broker answers");
    let user = UserId::generate();
    let project = db
        .projects()
        .create(jobs::new_project("no share", &user).unwrap())
        .await
        .unwrap();
    for _ in 0..4 {
        let job = request(&project, &user);
        assert_eq!(
            jobs::submit(&db, bus.as_ref(), &job).await.unwrap(),
            Submitted::Published
        );
    }
    bus.delete_topology(TOPOLOGY).await.ok();
    env.drop_db().await;
}

/// A job of `user`'s waiting for FreeCAD (its script stored).
async fn waiting(db: &Db, user: &UserId) {
    let project = db
        .projects()
        .create(jobs::new_project("fair turns", user).unwrap())
        .await
        .unwrap();
    let mut job = request(&project, user);
    job.stage = JobStage::Uploading;
    db.jobs().insert(&job).await.unwrap();
}

#[tokio::test]
async fn a_user_alone_runs_without_a_recorded_turn_and_among_others_the_least_recently_served_goes_first() {
    let env = TestEnv::new();
    let db = env.db().await;
    let (a, b) = (UserId::generate(), UserId::generate());
    let last = |users: Vec<UserId>| {
        let db = db.clone();
        async move {
            let users: Vec<&UserId> = users.iter().collect();
            db.schedule().last_started(&users).await.unwrap()
        }
    };

    // Alone: A's jobs run and nothing is written.
    waiting(&db, &a).await;
    assert_eq!(jobs::turn(&db, &a).await.unwrap(), Turn::Free);
    assert!(last(vec![a.clone(), b.clone()]).await.is_empty());

    // B arrives: neither was served among others, so each runs when asked,
    // and the turn taken is recorded.
    waiting(&db, &b).await;
    assert_eq!(jobs::turn(&db, &a).await.unwrap(), Turn::Mine);
    db.schedule().started(&a).await.unwrap();
    assert_eq!(jobs::turn(&db, &b).await.unwrap(), Turn::Mine);
    db.schedule().started(&b).await.unwrap();
    assert_eq!(last(vec![a.clone(), b.clone()]).await.len(), 2);

    // Now A was served less recently than B: A runs, B lets A go first.
    assert_eq!(jobs::turn(&db, &a).await.unwrap(), Turn::Mine);
    assert_eq!(jobs::turn(&db, &b).await.unwrap(), Turn::Theirs);
    env.drop_db().await;
}
