//! Fair share at admission, against the real database server and broker: a
//! user has at most `FAIR_SHARE_JOBS` jobs in the pipeline; the rest are
//! stored held and let in, oldest first, as earlier ones end.

use std::time::Duration;

use domain::documents::{Job, JobKind, Project};
use domain::messages::GenerationRequested;
use domain::{Envelope, JobId, JobStage, UserId};
use platform::bus::TOPOLOGY;
use platform::jobs::{self, Advance, Origin, Submitted, Turn, Turns};
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
        jobs::republish_unpublished(&db, bus.as_ref(), Duration::ZERO)
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
async fn waiting(db: &Db, user: &UserId) -> Job {
    let project = db
        .projects()
        .create(jobs::new_project("fair turns", user).unwrap())
        .await
        .unwrap();
    let mut job = request(&project, user);
    job.stage = JobStage::Uploading;
    db.jobs().insert(&job).await.unwrap();
    job
}

#[tokio::test]
async fn a_user_alone_runs_without_a_recorded_turn_and_among_others_the_least_recently_served_goes_first() {
    let env = TestEnv::new();
    let db = env.db().await;
    let turns = Turns::with_timing(db.clone(), Duration::ZERO, Duration::ZERO);
    let (a, b) = (UserId::generate(), UserId::generate());
    let last = |users: Vec<UserId>| {
        let db = db.clone();
        async move {
            let users: Vec<&UserId> = users.iter().collect();
            db.schedule().last_started(&users).await.unwrap()
        }
    };

    // Alone: A's jobs run and nothing is written.
    let a1 = waiting(&db, &a).await;
    let a2 = waiting(&db, &a).await;
    assert_eq!(turns.turn(&a1).await.unwrap(), Turn::Free);
    turns.started(&a1, Turn::Free).await.unwrap();
    assert!(last(vec![a.clone(), b.clone()]).await.is_empty());

    // B arrives: neither was served among others, so each runs when asked,
    // and the turn taken is recorded.
    let b1 = waiting(&db, &b).await;
    let b2 = waiting(&db, &b).await;
    assert_eq!(turns.turn(&a2).await.unwrap(), Turn::Mine);
    turns.started(&a2, Turn::Mine).await.unwrap();
    assert_eq!(turns.turn(&b1).await.unwrap(), Turn::Mine);
    turns.started(&b1, Turn::Mine).await.unwrap();
    assert_eq!(last(vec![a.clone(), b.clone()]).await.len(), 2);

    // Now A was served less recently than B: A runs, B lets A go first.
    let a3 = waiting(&db, &a).await;
    assert_eq!(turns.turn(&a3).await.unwrap(), Turn::Mine);
    assert_eq!(turns.turn(&b2).await.unwrap(), Turn::Theirs);
    env.drop_db().await;
}

/// Users A (two jobs waiting) and B (one), seen by a worker whose view is
/// read again only when a job it does not hold asks, after A's first job
/// started: neither had been served, so it took its turn.
struct TwoUsers {
    env: TestEnv,
    db: Db,
    turns: Turns,
    a: UserId,
    b: UserId,
    a2: Job,
    b1: Job,
}

impl TwoUsers {
    async fn after_as_first_turn(settle: Duration) -> Self {
        let env = TestEnv::new();
        let db = env.db().await;
        let turns = Turns::with_timing(db.clone(), Duration::from_secs(3600), settle);
        let (a, b) = (UserId::generate(), UserId::generate());
        let a1 = waiting(&db, &a).await;
        let a2 = waiting(&db, &a).await;
        let b1 = waiting(&db, &b).await;
        assert_eq!(turns.turn(&a1).await.unwrap(), Turn::Mine);
        turns.started(&a1, Turn::Mine).await.unwrap();
        Self {
            env,
            db,
            turns,
            a,
            b,
            a2,
            b1,
        }
    }
}

/// A worker passing over many jobs asks the database once per view: its
/// own starts keep the view current until it is read again, and a job the
/// view does not hold has it read at once.
#[tokio::test]
async fn a_worker_keeps_its_view_of_the_turns_current_with_its_own_starts() {
    let TwoUsers {
        env,
        db,
        turns,
        a,
        b,
        a2,
        b1,
    } = TwoUsers::after_as_first_turn(Duration::ZERO).await;
    // The view, not read again, knows A was just served: B goes first, and
    // A's job is passed over before it is even read.
    assert_eq!(turns.turn(&a2).await.unwrap(), Turn::Theirs);
    assert!(turns.passes_over(a2.job_id, &a).await);
    assert!(!turns.passes_over(b1.job_id, &b).await);
    assert_eq!(turns.turn(&b1).await.unwrap(), Turn::Mine);
    turns.started(&b1, Turn::Mine).await.unwrap();
    // B's job no longer waits: A alone again, A's job runs freely.
    assert_eq!(turns.turn(&a2).await.unwrap(), Turn::Free);

    // A new user's job, unknown to the view, has it read again: C was never
    // served, so C's job goes before A's.
    let c = UserId::generate();
    let c1 = waiting(&db, &c).await;
    assert_eq!(turns.turn(&c1).await.unwrap(), Turn::Mine);
    assert_eq!(turns.turn(&a2).await.unwrap(), Turn::Theirs);
    env.drop_db().await;
}

/// A job waits for FreeCAD from when the script store takes it, before its
/// message is in the queue: it holds another user's job back only once the
/// worker has come across it, or once it has settled.
#[tokio::test]
async fn another_users_job_holds_back_once_it_is_surely_in_the_queue() {
    let hour = Duration::from_secs(3600);
    let t = TwoUsers::after_as_first_turn(hour).await;
    // B was never served, but its job is new and unseen: maybe still being
    // stored. A's job does not wait for it.
    assert_eq!(t.turns.turn(&t.a2).await.unwrap(), Turn::Mine);
    // The worker comes across B's job: from now on it goes first.
    assert!(!t.turns.passes_over(t.b1.job_id, &t.b).await);
    assert_eq!(t.turns.turn(&t.a2).await.unwrap(), Turn::Theirs);

    // With nothing seen, a job that has settled holds back all the same.
    let settled = Turns::with_timing(t.db.clone(), hour, Duration::ZERO);
    assert_eq!(settled.turn(&t.a2).await.unwrap(), Turn::Theirs);
    t.env.drop_db().await;
}
