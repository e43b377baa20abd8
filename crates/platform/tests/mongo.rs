//! MongoDB adapter against the real MongoDB-compatible server.

use std::collections::HashSet;

use bson::doc;
use chrono::Utc;
use futures::TryStreamExt;

use domain::documents::{Job, JobKind, Project, User, UserRole};
use domain::{JobId, JobStage, ProjectId, ProjectSlug, ProjectStatus, UserId, Version};
use platform::mongo::{index_plan, retired_indexes, DbError, LiveJobs, PageRequest, Transition};
use platform::testkit::TestEnv;

fn project(name: &str, owner: &UserId) -> Project {
    let now = Utc::now();
    Project {
        project_id: ProjectId::generate(),
        project_name: name.into(),
        slug: ProjectSlug::derive(name).unwrap(),
        created_by: owner.clone(),
        created_at: now,
        updated_at: now,
        current_version: 0,
        version_counter: 0,
        version_claims: Vec::new(),
        ai_model_used: None,
        status: ProjectStatus::Draft,
        latest_s3_input: None,
        latest_s3_output: vec![],
        stored_bytes: Default::default(),
        material: None,
        metadata: Default::default(),
    }
}

fn job(p: &Project) -> Job {
    let now = Utc::now();
    Job {
        job_id: JobId::generate(),
        project_id: p.project_id.clone(),
        slug: p.slug.clone(),
        user_id: p.created_by.clone(),
        kind: JobKind::Generate,
        stage: JobStage::Queued,
        history: vec![],
        request: doc! { "prompt": "box 1 x 2 x 3 mm" },
        published: false,
        held: false,
        released_at: None,
        version: None,
        versions: Default::default(),
        source: None,
        repair_attempts: 0,
        error: None,
        metrics: None,
        expected: None,
        verification: None,
        diagnosis: None,
        question: None,
        outputs: Default::default(),
        timings: Default::default(),
        request_id: None,
        created_at: now,
        updated_at: now,
        finished_at: None,
    }
}

async fn indexes_of(db: &platform::mongo::Db, collection: &str) -> Vec<mongodb::IndexModel> {
    db.database()
        .collection::<bson::Document>(collection)
        .list_indexes()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn indexes_exist_with_the_seed_keys_and_creation_is_idempotent() {
    let env = TestEnv::new();
    let db = env.db().await;
    // A database an earlier release set up carries the retired indexes too.
    for (collection, keys) in retired_indexes() {
        db.database()
            .collection::<bson::Document>(collection)
            .create_index(mongodb::IndexModel::builder().keys(keys).build())
            .await
            .unwrap();
    }
    db.ensure_indexes().await.expect("second run is harmless");
    db.ensure_indexes()
        .await
        .expect("and so is a third, with nothing to drop");
    for (collection, keys) in retired_indexes() {
        let found = indexes_of(&db, collection).await;
        assert!(
            found.iter().all(|i| i.keys != keys),
            "{collection}: the retired index on {keys} is still there"
        );
    }
    for (collection, wanted) in index_plan() {
        let found = indexes_of(&db, collection).await;
        for (keys, unique) in wanted {
            let idx = found.iter().find(|i| i.keys == keys);
            let idx = idx.unwrap_or_else(|| panic!("{collection}: no index on {keys}"));
            let is_unique = idx.options.as_ref().and_then(|o| o.unique).unwrap_or(false);
            assert_eq!(is_unique, unique, "{collection} {keys} unique");
        }
    }
    // The seed's keys, spelled out, so a change of the plan cannot hide one.
    let projects: Vec<_> = index_plan().into_iter().find(|(c, _)| *c == "projects").unwrap().1;
    assert!(projects.contains(&(doc! { "created_by": 1, "updated_at": -1 }, false)));
    assert!(projects.contains(&(doc! { "project_id": 1 }, true)));
    env.drop_db().await;
}

#[tokio::test]
async fn two_hundred_concurrent_next_versions_are_all_distinct_and_contiguous() {
    let env = TestEnv::new();
    let db = env.db().await;
    let owner = UserId::generate();
    let p = db
        .projects()
        .create(project("Concurrent Versions", &owner))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let projects = db.projects();
            let id = p.project_id.clone();
            tokio::spawn(async move {
                projects
                    .next_version(&id, &uuid::Uuid::new_v4().to_string())
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap().get());
    }
    let unique: HashSet<_> = got.iter().copied().collect();
    assert_eq!(unique.len(), 200, "duplicate versions handed out");
    assert_eq!(unique, (1..=200).collect());
    env.drop_db().await;
}

#[tokio::test]
async fn a_claimant_asking_again_gets_its_version_back_and_none_is_skipped() {
    let env = TestEnv::new();
    let db = env.db().await;
    let owner = UserId::generate();
    let p = db.projects().create(project("Claims", &owner)).await.unwrap();
    let projects = db.projects();
    let v = |n: u32| domain::Version::new(n).unwrap();
    assert_eq!(projects.next_version(&p.project_id, "job-a-0").await.unwrap(), v(1));
    assert_eq!(projects.next_version(&p.project_id, "job-b-0").await.unwrap(), v(2));
    // job-a crashed before recording its claim and asks again: still 1.
    assert_eq!(projects.next_version(&p.project_id, "job-a-0").await.unwrap(), v(1));
    assert_eq!(projects.next_version(&p.project_id, "job-c-0").await.unwrap(), v(3));
    assert_eq!(projects.next_version(&p.project_id, "job-b-0").await.unwrap(), v(2));
    assert_eq!(projects.get(&p.project_id).await.unwrap().unwrap().version_counter, 3);
    env.drop_db().await;
}

#[tokio::test]
async fn a_project_keeps_only_its_latest_version_claims_and_still_answers_them() {
    let env = TestEnv::new();
    let db = env.db().await;
    let owner = UserId::generate();
    let p = db.projects().create(project("Many Versions", &owner)).await.unwrap();
    let projects = db.projects();
    let kept = platform::mongo::VERSION_CLAIMS_KEPT as u32;
    let total = kept + 40;
    for n in 1..=total {
        assert_eq!(
            projects
                .next_version(&p.project_id, &format!("job-{n}-0"))
                .await
                .unwrap()
                .get(),
            n
        );
    }
    let stored = projects.get(&p.project_id).await.unwrap().unwrap();
    assert_eq!(stored.version_counter, total);
    assert_eq!(stored.version_claims.len(), kept as usize, "the claims are bounded");
    assert_eq!(
        stored.version_claims.last().map(String::as_str),
        Some(format!("job-{total}-0").as_str())
    );
    // Recent claimants asking again get their own numbers back, and no
    // number is handed out twice or skipped.
    for n in [total, total - 1, total - kept + 1] {
        assert_eq!(
            projects
                .next_version(&p.project_id, &format!("job-{n}-0"))
                .await
                .unwrap()
                .get(),
            n
        );
    }
    assert_eq!(
        projects.next_version(&p.project_id, "job-new-0").await.unwrap().get(),
        total + 1
    );
    env.drop_db().await;
}

#[tokio::test]
async fn stored_bytes_count_each_versions_files_once_and_only_the_newest_version_is_current() {
    let env = TestEnv::new();
    let db = env.db().await;
    let owner = UserId::generate();
    let a = db.projects().create(project("Bytes A", &owner)).await.unwrap();
    let b = db.projects().create(project("Bytes B", &owner)).await.unwrap();
    let other = db
        .projects()
        .create(project("Bytes C", &UserId::generate()))
        .await
        .unwrap();
    let projects = db.projects();
    let v = |n: u32| domain::Version::new(n).unwrap();
    let outputs = |n: u32| vec![format!("s3://b/output/{n}.step")];

    // A script stored (its model) or a model built, with the bytes of its files.
    enum Step<'a> {
        Script(&'a Project, u32, Option<&'a str>, u64),
        Built(&'a Project, u32, u64),
    }
    use Step::{Built, Script};
    let steps = [
        Script(&a, 1, None, 100),
        Built(&a, 1, 1_000),
        // Redelivered: set again, not added again.
        Script(&a, 1, None, 100),
        Built(&a, 1, 1_000),
        // Version 3 stored before version 2: 2 stays behind, its bytes count.
        Script(&a, 3, Some("m"), 30),
        Script(&a, 2, None, 20),
        Built(&a, 3, 3_000),
        Built(&a, 2, 2_000),
        Script(&b, 1, None, 7),
        Script(&other, 1, None, 999_999),
    ];
    for step in steps {
        match step {
            Script(p, n, model, bytes) => {
                let uri = format!("s3://b/in/{}/{n}.py", p.slug);
                projects
                    .record_script(&p.project_id, v(n), &uri, model, bytes)
                    .await
                    .unwrap();
            }
            Built(p, n, bytes) => projects
                .mark_completed(&p.project_id, v(n), &outputs(n), bytes)
                .await
                .unwrap(),
        }
    }

    let stored = projects.get(&a.project_id).await.unwrap().unwrap();
    assert_eq!(stored.current_version, 3);
    assert_eq!(stored.latest_s3_input, Some(format!("s3://b/in/{}/3.py", a.slug)));
    assert_eq!(
        stored.latest_s3_output,
        outputs(3),
        "version 2's result came last but is not current"
    );
    assert_eq!(stored.ai_model_used.as_deref(), Some("m"));
    assert_eq!(stored.stored_bytes.len(), 6);
    assert_eq!(
        projects.stored_bytes_of_owner(&owner).await.unwrap(),
        100 + 1_000 + 20 + 2_000 + 30 + 3_000 + 7
    );
    assert_eq!(projects.stored_bytes_of_owner(&UserId::generate()).await.unwrap(), 0);
    env.drop_db().await;
}

#[tokio::test]
async fn a_model_is_shown_the_latest_turns_oldest_first_and_a_job_its_predecessor() {
    let env = TestEnv::new();
    let db = env.db().await;
    let owner = UserId::generate();
    let p = db.projects().create(project("Turns", &owner)).await.unwrap();
    let start = Utc::now() - chrono::Duration::minutes(5);
    for i in 0..6i64 {
        let at = start + chrono::Duration::seconds(i);
        db.messages()
            .insert(&domain::documents::Message {
                message_id: format!("m{i}"),
                project_id: p.project_id.clone(),
                user_id: owner.clone(),
                role: domain::documents::Role::User,
                content: format!("turn {i}"),
                timestamp: at,
                job_id: None,
                metadata: Default::default(),
                created_at: at,
                updated_at: at,
            })
            .await
            .unwrap();
    }
    let latest: Vec<String> = db
        .messages()
        .latest(&p.project_id, 3)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(latest, ["turn 3", "turn 4", "turn 5"]);
    assert!(db.messages().latest(&p.project_id, 0).await.unwrap().is_empty());

    let (mut first, mut second, mut third) = (job(&p), job(&p), job(&p));
    first.created_at = start;
    second.created_at = start + chrono::Duration::seconds(1);
    third.created_at = start + chrono::Duration::seconds(2);
    for j in [&first, &second, &third] {
        db.jobs().insert(j).await.unwrap();
    }
    let jobs = db.jobs();
    let previous = |j: &Job| jobs.previous_in_project(&p.project_id, j.job_id, j.created_at);
    assert_eq!(previous(&third).await.unwrap().map(|j| j.job_id), Some(second.job_id));
    assert_eq!(previous(&second).await.unwrap().map(|j| j.job_id), Some(first.job_id));
    assert!(previous(&first).await.unwrap().is_none());
    env.drop_db().await;
}

#[tokio::test]
async fn slugs_are_unique_and_lists_are_paged_newest_first() {
    let env = TestEnv::new();
    let db = env.db().await;
    let owner = UserId::generate();
    let a = db.projects().create(project("Gear Box", &owner)).await.unwrap();
    let b = db.projects().create(project("gear box", &owner)).await.unwrap();
    assert_eq!(a.slug.as_str(), "gear-box");
    assert_eq!(b.slug.as_str(), "gear-box-2");
    for i in 0..5 {
        db.projects()
            .create(project(&format!("part {i}"), &owner))
            .await
            .unwrap();
    }
    db.projects()
        .update_fields(&a.project_id, doc! { "project_name": "touched" })
        .await
        .unwrap();
    let page = db
        .projects()
        .list_by_owner(&owner, PageRequest::new(3, 0))
        .await
        .unwrap();
    assert_eq!(page.total, 7);
    assert_eq!(page.items.len(), 3);
    assert_eq!(page.items[0].project_id, a.project_id, "most recently updated first");
    let rest = db
        .projects()
        .list_by_owner(&owner, PageRequest::new(10, 3))
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 4);
    let other = db
        .projects()
        .list_by_owner(&UserId::generate(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(other.total, 0);
    env.drop_db().await;
}

/// A queued job of a new project of a new user, stored.
async fn queued_job(db: &platform::mongo::Db, name: &str) -> Job {
    let p = db.projects().create(project(name, &UserId::generate())).await.unwrap();
    let j = job(&p);
    db.jobs().insert(&j).await.unwrap();
    j
}

#[tokio::test]
async fn a_stage_change_applied_to_the_callers_job_equals_the_job_read_back() {
    let env = TestEnv::new();
    let db = env.db().await;
    let j = queued_job(&db, "applied").await;
    let mut read = db.jobs().get(j.job_id).await.unwrap().unwrap();
    // Plain fields, fields of embedded documents (new and existing), a
    // claim by attempt and a terminal stage's fields, one step after another.
    let steps = [
        (JobStage::Generating, None, doc! {}, doc! {}),
        (
            JobStage::Uploading,
            None,
            doc! { "timings.generation_ms": 12_i64, "versions.0": 4_i64, "version": 4_i64 },
            doc! { "versions.0": null },
        ),
        (JobStage::Processing, None, doc! { "timings.store_ms": 3_i64 }, doc! {}),
        (
            JobStage::Failed,
            Some("boom".to_owned()),
            doc! { "timings.completion_ms": 5_i64, "repair_attempts": 1_i32 },
            doc! {},
        ),
    ];
    for (stage, detail, set, only_if) in steps {
        let moved = db
            .jobs()
            .transition_where(j.job_id, stage, detail, set, only_if, Some(&read))
            .await
            .unwrap();
        let Transition::Moved(applied) = moved else {
            panic!("{stage} did not move")
        };
        let stored = db.jobs().get(j.job_id).await.unwrap().unwrap();
        assert_eq!(*applied, stored, "{stage}");
        read = stored;
    }
    assert_eq!(read.versions.get(0).map(|v| v.get()), Some(4));
    assert_eq!(read.timings.store_ms, Some(3));
    // A job that does not move is read, whatever the caller knew.
    let stale = db
        .jobs()
        .transition_where(j.job_id, JobStage::Generating, None, doc! {}, doc! {}, Some(&j))
        .await
        .unwrap();
    assert!(matches!(stale, Transition::Unchanged(ref job) if job.stage == JobStage::Failed));
    env.drop_db().await;
}

#[tokio::test]
async fn job_transitions_are_atomic_and_legal_only() {
    let env = TestEnv::new();
    let db = env.db().await;
    let j = queued_job(&db, "jobs").await;
    assert!(matches!(db.jobs().insert(&j).await, Err(DbError::Duplicate(_))));

    let moved = db
        .jobs()
        .transition(j.job_id, JobStage::Generating, None, doc! {})
        .await
        .unwrap();
    assert!(matches!(moved, Transition::Moved(ref job) if job.stage == JobStage::Generating));
    // A redelivery asking again changes nothing.
    let again = db
        .jobs()
        .transition(j.job_id, JobStage::Generating, None, doc! {})
        .await
        .unwrap();
    assert!(matches!(again, Transition::Unchanged(_)));
    db.jobs()
        .transition(j.job_id, JobStage::Processing, None, doc! {})
        .await
        .unwrap();
    // Backwards is refused.
    let back = db
        .jobs()
        .transition(j.job_id, JobStage::Uploading, None, doc! {})
        .await
        .unwrap();
    assert!(matches!(back, Transition::Unchanged(ref job) if job.stage == JobStage::Processing));
    let done = db
        .jobs()
        .transition(j.job_id, JobStage::Failed, Some("boom".into()), doc! {})
        .await
        .unwrap();
    let Transition::Moved(done) = done else {
        panic!("not moved")
    };
    assert_eq!(done.error.as_deref(), Some("boom"));
    assert!(done.finished_at.is_some());
    assert_eq!(
        done.history.iter().map(|h| h.stage).collect::<Vec<_>>(),
        [JobStage::Generating, JobStage::Processing, JobStage::Failed]
    );
    env.drop_db().await;
}

#[tokio::test]
async fn a_users_live_released_and_held_jobs_are_counted_apart_from_finished_ones() {
    let env = TestEnv::new();
    let db = env.db().await;
    let owner = UserId::generate();
    let p = db.projects().create(project("counts", &owner)).await.unwrap();
    let other = db
        .projects()
        .create(project("someone else", &UserId::generate()))
        .await
        .unwrap();
    let start = Utc::now() - chrono::Duration::minutes(10);
    let mut held_ids = Vec::new();
    // Finished, running, held (oldest first), and another user's live job.
    let plan = [
        (JobStage::Completed, false),
        (JobStage::Failed, false),
        (JobStage::Processing, false),
        (JobStage::Generating, false),
        (JobStage::Queued, false),
        (JobStage::Queued, true),
        (JobStage::Queued, true),
        (JobStage::Queued, true),
    ];
    for (i, (stage, held)) in plan.into_iter().enumerate() {
        let mut j = job(&p);
        j.stage = stage;
        j.held = held;
        j.created_at = start + chrono::Duration::seconds(i as i64);
        if held {
            held_ids.push(j.job_id);
        }
        db.jobs().insert(&j).await.unwrap();
    }
    db.jobs().insert(&job(&other)).await.unwrap();

    assert_eq!(db.jobs().count_live_by_user(&owner).await.unwrap(), 6);
    assert_eq!(
        db.jobs().live_of_user(&owner).await.unwrap(),
        LiveJobs { released: 3, held: 3 }
    );
    let released = db
        .jobs()
        .release_oldest_held(&owner)
        .await
        .unwrap()
        .expect("a held job");
    assert_eq!(released.job_id, held_ids[0], "the oldest held job goes first");
    assert!(!released.held);
    assert_eq!(
        db.jobs().live_of_user(&owner).await.unwrap(),
        LiveJobs { released: 4, held: 2 }
    );
    assert_eq!(db.jobs().count_live_by_user(&owner).await.unwrap(), 6);
    env.drop_db().await;
}

#[tokio::test]
async fn releasers_at_once_let_each_held_job_in_once_and_return_it_as_stored() {
    let env = TestEnv::new();
    let db = env.db().await;
    let owner = UserId::generate();
    let p = db.projects().create(project("held", &owner)).await.unwrap();
    let start = Utc::now() - chrono::Duration::minutes(10);
    let mut held = Vec::new();
    for i in 0..8 {
        let mut j = job(&p);
        j.held = true;
        j.created_at = start + chrono::Duration::seconds(i);
        held.push(j.job_id);
        db.jobs().insert(&j).await.unwrap();
    }
    // Twelve releasers race for eight held jobs.
    let jobs = db.jobs();
    let released: Vec<Job> = futures::future::join_all((0..12).map(|_| jobs.release_oldest_held(&owner)))
        .await
        .into_iter()
        .filter_map(|r| r.unwrap())
        .collect();
    let mut ids: Vec<_> = released.iter().map(|j| j.job_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8, "each held job released exactly once: {released:?}");
    assert_eq!(released.len(), 8, "no releaser returned a job another one released");
    for j in &released {
        let stored = db.jobs().get(j.job_id).await.unwrap().unwrap();
        assert!(!stored.held && !j.held);
        assert_eq!(stored.released_at, j.released_at, "the returned job is the stored one");
        assert_eq!(stored.updated_at, j.updated_at);
        assert_eq!(stored.request, j.request);
    }
    assert_eq!(
        db.jobs().live_of_user(&owner).await.unwrap(),
        LiveJobs { released: 8, held: 0 }
    );
    assert!(db.jobs().release_oldest_held(&owner).await.unwrap().is_none());
    env.drop_db().await;
}

#[tokio::test]
async fn page_all_reads_past_the_largest_client_page() {
    let env = TestEnv::new();
    let db = env.db().await;
    let p = db
        .projects()
        .create(project("many jobs", &UserId::generate()))
        .await
        .unwrap();
    let n = PageRequest::MAX_LIMIT as usize + 5;
    for _ in 0..n {
        db.jobs().insert(&job(&p)).await.unwrap();
    }
    let all = db
        .jobs()
        .list_by_project(&p.project_id, PageRequest::all())
        .await
        .unwrap();
    assert_eq!(all.items.len(), n);
    assert_eq!(all.total, n as u64);
    let page = db
        .jobs()
        .list_by_project(&p.project_id, PageRequest::new(10_000, 0))
        .await
        .unwrap();
    assert_eq!(
        page.items.len(),
        PageRequest::MAX_LIMIT as usize,
        "a client's page stays capped"
    );
    env.drop_db().await;
}

#[tokio::test]
async fn version_claims_are_idempotent_per_job() {
    let env = TestEnv::new();
    let db = env.db().await;
    let p = db
        .projects()
        .create(project("claims", &UserId::generate()))
        .await
        .unwrap();
    let j = job(&p);
    db.jobs().insert(&j).await.unwrap();
    let v1 = Version::new(1).unwrap();
    let v2 = Version::new(2).unwrap();
    assert_eq!(db.jobs().claim_version(j.job_id, 0, v1).await.unwrap(), v1);
    assert_eq!(
        db.jobs().claim_version(j.job_id, 0, v2).await.unwrap(),
        v1,
        "a second claim keeps the first"
    );
    // A repair attempt is a new slot with its own version.
    assert_eq!(db.jobs().claim_version(j.job_id, 1, v2).await.unwrap(), v2);
    let stored = db.jobs().get(j.job_id).await.unwrap().unwrap();
    assert_eq!(stored.version, Some(v2));
    assert_eq!(stored.versions.len(), 2);
    env.drop_db().await;
}

#[tokio::test]
async fn users_are_unique_by_email() {
    let env = TestEnv::new();
    let db = env.db().await;
    let user = User {
        user_id: UserId::generate(),
        email: "ada@example.com".into(),
        password_hash: "x".into(),
        role: UserRole::User,
        created_at: Utc::now(),
    };
    db.users().create(&user).await.unwrap();
    let twin = User {
        user_id: UserId::generate(),
        ..user.clone()
    };
    assert!(matches!(db.users().create(&twin).await, Err(DbError::Duplicate(_))));
    assert_eq!(
        db.users().by_email("ada@example.com").await.unwrap().unwrap().user_id,
        user.user_id
    );
    env.drop_db().await;
}

#[tokio::test]
async fn a_users_jobs_are_listed_across_projects_newest_first_and_only_theirs() {
    let env = TestEnv::new();
    let db = env.db().await;
    let (alice, bob) = (UserId::generate(), UserId::generate());
    let mut ids = Vec::new();
    for (i, owner) in [&alice, &alice, &bob, &alice].into_iter().enumerate() {
        let p = db
            .projects()
            .create(project(&format!("jobs of {i}"), owner))
            .await
            .unwrap();
        let mut j = job(&p);
        j.created_at = Utc::now() + chrono::Duration::seconds(i as i64);
        db.jobs().insert(&j).await.unwrap();
        if owner == &alice {
            ids.push(j.job_id);
        }
    }
    let page = db.jobs().list_by_user(&alice, PageRequest::new(2, 0)).await.unwrap();
    assert_eq!(page.total, 3);
    let got: Vec<JobId> = page.items.iter().map(|j| j.job_id).collect();
    assert_eq!(got, [ids[2], ids[1]], "newest first, paged");
    let rest = db.jobs().list_by_user(&alice, PageRequest::new(2, 2)).await.unwrap();
    assert_eq!(rest.items.iter().map(|j| j.job_id).collect::<Vec<_>>(), [ids[0]]);
    assert_eq!(db.jobs().list_by_user(&bob, PageRequest::all()).await.unwrap().total, 1);
    env.drop_db().await;
}

#[tokio::test]
async fn files_recorded_together_are_one_record_per_key_and_recording_again_replaces_them() {
    use domain::documents::{FileMetadata, FileRecord};
    use domain::FileType;
    let env = TestEnv::new();
    let db = env.db().await;
    let owner = UserId::generate();
    let p = db.projects().create(project("record all", &owner)).await.unwrap();
    let v1 = Version::new(1).unwrap();
    let file = |key: &str, size: i64| {
        let now = Utc::now();
        FileRecord {
            project_id: p.project_id.clone(),
            version: v1,
            file_type: FileType::Output,
            s3_path: format!("s3://bucket/{key}"),
            s3_key: key.to_owned(),
            timestamp: now,
            metadata: FileMetadata {
                file_size: Some(size),
                ..FileMetadata::default()
            },
            created_at: now,
            updated_at: now,
        }
    };
    let first = [file("output/a/v1/m.STL", 1), file("output/a/v1/m.STEP", 2)];
    db.files().record_all(&first).await.unwrap();
    // Done again with one key already recorded and one new: the recorded
    // one is replaced, the new one added, nothing doubled.
    let again = [file("output/a/v1/m.STL", 10), file("output/a/v1/m.OBJ", 3)];
    db.files().record_all(&again).await.unwrap();
    db.files().record_all(&[]).await.unwrap();
    let stored = db
        .files()
        .of_version(&p.project_id, v1, FileType::Output)
        .await
        .unwrap();
    let sizes: Vec<(String, Option<i64>)> = stored
        .iter()
        .map(|f| (f.s3_key.clone(), f.metadata.file_size))
        .collect();
    assert_eq!(
        sizes,
        [
            ("output/a/v1/m.OBJ".to_owned(), Some(3)),
            ("output/a/v1/m.STEP".to_owned(), Some(2)),
            ("output/a/v1/m.STL".to_owned(), Some(10)),
        ]
    );
    env.drop_db().await;
}
