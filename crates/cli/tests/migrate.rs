//! `cadscribe migrate` on a generated legacy collection of 1051 messages,
//! with orphans, foreign ids, malformed documents and unusable S3
//! references, in an isolated database: dry run, migration, verification,
//! a second run, tampering, and a rollback that restores the database
//! exactly.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use bson::{doc, oid::ObjectId, Bson, Document};
use chrono::{Duration, TimeZone, Utc};
use futures::TryStreamExt;

use cadscribe_cli::migrate::{default_project_of, message_id_of};
use platform::testkit::TestEnv;

const COLLECTIONS: [&str; 6] = ["chat_messages", "projects", "messages", "files", "migrations", "users"];

fn cadscribe(env: &TestEnv, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cadscribe"))
        .env_clear()
        .envs(env.service_env())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(args)
        .output()
        .expect("cadscribe runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

type Snapshot = BTreeMap<&'static str, Vec<Document>>;

async fn snapshot(db: &mongodb::Database) -> Snapshot {
    let mut out = BTreeMap::new();
    for c in COLLECTIONS {
        let docs: Vec<Document> = db
            .collection::<Document>(c)
            .find(doc! {})
            .sort(doc! { "_id": 1 })
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        out.insert(c, docs);
    }
    out
}

/// What the fixture holds, to check the migration against.
struct Fixture {
    total: usize,
    valid: usize,
    malformed: Vec<String>,
    orphan_users: Vec<String>,
    bad_s3: usize,
}

fn user_of(i: usize) -> String {
    // Seed-style ids and ObjectId-style ids (mapped to user-…).
    if i.is_multiple_of(2) {
        format!("user-{i}")
    } else {
        format!("65f0c0ffee0000000000000{i}")
    }
}

fn legacy_project(p: usize) -> String {
    match p % 3 {
        0 => format!("project-{p}"),
        1 => format!("gearbox_{p}"),
        _ => format!("Legacy Project #{p}"),
    }
}

async fn fixture(db: &mongodb::Database) -> Fixture {
    let legacy = db.collection::<Document>("chat_messages");
    let t0 = Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap();
    let mut docs = Vec::new();
    let mut n = 0i64;
    let mut at = || {
        n += 1;
        t0 + Duration::seconds(n * 7)
    };
    // 30 projects of 30 messages: a conversation with 3 script versions and
    // two outputs (one flat, one per version) of the last.
    for p in 0..30 {
        let slug = format!("legacy-gear-{p}");
        let user = user_of(p % 6);
        let mut k = 0;
        for i in 0..30usize {
            let ts = at();
            let mut d = doc! { "_id": ObjectId::new(), "user_id": &user, "project_id": legacy_project(p) };
            if i.is_multiple_of(2) {
                d.insert("role", "user");
                d.insert("content", format!("make gear {p} with {} teeth please", 10 + i));
                if i == 0 && p.is_multiple_of(5) {
                    d.insert("metadata", doc! { "project_name": format!("Gearbox Assembly {p}") });
                }
            } else {
                d.insert("role", "assistant");
                d.insert("content", format!("Generated CAD model {i}"));
                let mut meta = doc! { "source_model": if i < 20 { "Gemini" } else { "gpt-4o" }, "response_time": 2.45, "confidence": 0.9 };
                match i {
                    1 | 3 | 5 => {
                        k += 1;
                        meta.insert("s3_url", format!("s3://cadscribe/input/{slug}/{slug}_v{k}.py"));
                        meta.insert("version", k);
                    }
                    7 => {
                        meta.insert("s3_url", format!("s3://cadscribe/output/{slug}/MyHeadlessModel.STL"));
                        meta.insert("version", 3i64);
                    }
                    9 => {
                        meta.insert(
                            "s3_url",
                            format!("s3://cadscribe/output/{slug}/v3/MyHeadlessModel.STEP"),
                        );
                    }
                    _ => {}
                }
                d.insert("metadata", meta);
            }
            // Timestamps as dates, as ISO strings, or only in created_at.
            match i % 3 {
                0 => d.insert("timestamp", bson::DateTime::from_chrono(ts)),
                1 => d.insert("timestamp", ts.to_rfc3339()),
                _ => d.insert("created_at", bson::DateTime::from_chrono(ts)),
            };
            docs.push(d);
        }
    }
    // 120 orphans of 4 users: no project_id, null, or "".
    let orphan_users: Vec<String> = (0..4).map(|u| user_of(u + 10)).collect();
    for i in 0..120 {
        let mut d = doc! { "_id": ObjectId::new(), "user_id": &orphan_users[i % 4], "role": if i.is_multiple_of(2) { "user" } else { "assistant" },
        "content": format!("loose message {i}"), "timestamp": bson::DateTime::from_chrono(at()) };
        match i % 3 {
            0 => {}
            1 => {
                d.insert("project_id", Bson::Null);
            }
            _ => {
                d.insert("project_id", "");
            }
        }
        docs.push(d);
    }
    // 25 malformed documents.
    let mut malformed = Vec::new();
    let base = |at: chrono::DateTime<Utc>| {
        doc! { "_id": ObjectId::new(), "user_id": "user-1", "project_id": "project-0", "role": "user", "content": "x",
        "timestamp": bson::DateTime::from_chrono(at) }
    };
    type Breaker = fn(&mut Document);
    let breakers: [(usize, Breaker); 7] = [
        (5, |d| {
            d.remove("content");
        }),
        (4, |d| {
            d.insert("role", 42);
        }),
        (3, |d| {
            d.insert("role", "robot");
        }),
        (4, |d| {
            d.remove("user_id");
        }),
        (3, |d| {
            d.insert("project_id", 7);
        }),
        (3, |d| {
            d.insert("metadata", "oops");
        }),
        (3, |d| {
            d.insert("timestamp", "not a date");
        }),
    ];
    for (count, breaker) in breakers {
        for _ in 0..count {
            let mut d = base(at());
            breaker(&mut d);
            malformed.push(d.get_object_id("_id").unwrap().to_hex());
            docs.push(d);
        }
    }
    // 6 messages with S3 references that cannot become file records.
    let bad_urls: [Document; 6] = [
        doc! { "s3_url": "http://cadscribe/input/x/x_v1.py" },
        doc! { "s3_url": "s3://" },
        doc! { "s3_url": "s3://cadscribe/weird/key.txt" },
        doc! { "s3_url": 12 },
        doc! { "s3_url": "s3://cadscribe/input/legacy-gear-0/legacy-gear-0_v9.py", "version": 2 },
        doc! { "s3_url": "s3://cadscribe/output/legacy-gear-0/MyHeadlessModel.OBJ" },
    ];
    for meta in bad_urls {
        let mut d = base(at());
        d.insert("role", "assistant");
        d.insert("metadata", meta);
        docs.push(d);
    }
    let total = docs.len();
    legacy.insert_many(docs).await.unwrap();
    Fixture {
        total,
        valid: total - malformed.len(),
        malformed,
        orphan_users,
        bad_s3: 6,
    }
}

#[tokio::test]
async fn migrate_dry_run_verify_rerun_and_rollback_on_a_legacy_fixture() {
    let env = TestEnv::new();
    let platform_db = env.db().await;
    let db = platform_db.database().clone();
    // The new system already has project-6 (its legacy messages join it) and
    // an unrelated project with a message and a file.
    let existing = env.project(&platform_db, "already here").await;
    db.collection::<Document>("projects")
        .update_one(
            doc! { "project_id": existing.project_id.as_str() },
            doc! { "$set": { "project_id": "project-6" } },
        )
        .await
        .unwrap();
    let other = env.project(&platform_db, "unrelated").await;
    db.collection::<Document>("messages")
        .insert_one(doc! { "message_id": "new-1", "project_id": other.project_id.as_str(), "user_id": "user-x", "role": "user",
                           "content": "hi", "timestamp": bson::DateTime::now(), "created_at": bson::DateTime::now(), "updated_at": bson::DateTime::now(), "metadata": {} })
        .await
        .unwrap();
    db.collection::<Document>("files")
        .insert_one(doc! { "project_id": other.project_id.as_str(), "version": 1, "file_type": "input", "s3_key": "input/unrelated/unrelated_v1.py",
                           "s3_path": "s3://cadscribe/input/unrelated/unrelated_v1.py", "timestamp": bson::DateTime::now(), "metadata": {},
                           "created_at": bson::DateTime::now(), "updated_at": bson::DateTime::now() })
        .await
        .unwrap();
    let f = fixture(&db).await;
    assert!(f.total >= 1000);
    let before = snapshot(&db).await;

    // Dry run: counts per step and every problem; nothing written.
    let out = cadscribe(&env, &["migrate", "--dry-run"]);
    let t = text(&out);
    println!("{t}");
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains(&format!(
            "1 analyse: {} legacy messages: {} valid, {} malformed (skipped), {} unusable S3 references",
            f.total,
            f.valid,
            f.malformed.len(),
            f.bad_s3
        )),
        "{t}"
    );
    assert!(t.contains("3 projects: 33 to create, 1 already exist"), "{t}");
    assert!(
        t.contains(&format!("4 messages: {} to copy, 0 already migrated", f.valid)),
        "{t}"
    );
    assert!(t.contains("5 files: 150 to record, 0 already recorded"), "{t}");
    for id in &f.malformed {
        assert!(
            t.contains(&format!("chat_messages {id}: skipped:")),
            "{id} not reported:\n{t}"
        );
    }
    assert_eq!(snapshot(&db).await, before, "a dry run writes nothing");

    // The migration.
    let out = cadscribe(&env, &["migrate"]);
    let t = text(&out);
    println!("{t}");
    assert!(out.status.success(), "{t}");
    assert!(t.contains("3 projects: 33 created, 1 already exist"), "{t}");
    assert!(
        t.contains(&format!("4 messages: {} copied, 0 already migrated", f.valid)),
        "{t}"
    );
    assert!(t.contains("5 files: 150 recorded"), "{t}");
    assert!(t.contains(": ok ("), "{t}");
    let record = db
        .collection::<Document>("migrations")
        .find_one(doc! {})
        .await
        .unwrap()
        .expect("a migration record");
    let id = record.get_str("migration_id").unwrap().to_owned();
    assert_eq!(record.get_str("status").unwrap(), "applied");

    // No message lost silently: each legacy message is migrated, or skipped
    // and listed in the record.
    let skipped: Vec<String> = record
        .get_array("skipped")
        .unwrap()
        .iter()
        .map(|s| s.as_document().unwrap().get_str("legacy_id").unwrap().to_owned())
        .collect();
    let messages = db.collection::<Document>("messages");
    let legacy: Vec<Document> = db
        .collection::<Document>("chat_messages")
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    for d in &legacy {
        let lid = d.get_object_id("_id").unwrap().to_hex();
        let migrated = messages
            .find_one(doc! { "message_id": message_id_of(&lid) })
            .await
            .unwrap();
        assert!(
            migrated.is_some() != skipped.contains(&lid),
            "{lid}: migrated {} skipped {}",
            migrated.is_some(),
            skipped.contains(&lid)
        );
    }
    assert_eq!(skipped.len(), f.malformed.len());

    // Projects carry what their messages said.
    let projects = db.collection::<Document>("projects");
    let p0 = projects
        .find_one(doc! { "project_id": "project-0" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p0.get_str("project_name").unwrap(), "Gearbox Assembly 0");
    assert_eq!(p0.get_str("slug").unwrap(), "legacy-gear-0");
    assert_eq!(p0.get_str("created_by").unwrap(), "user-0");
    assert_eq!(
        p0.get_i64("current_version")
            .or_else(|_| p0.get_i32("current_version").map(i64::from))
            .unwrap(),
        3
    );
    assert_eq!(
        p0.get_str("latest_s3_input").unwrap(),
        "s3://cadscribe/input/legacy-gear-0/legacy-gear-0_v3.py"
    );
    assert_eq!(p0.get_array("latest_s3_output").unwrap().len(), 2);
    assert_eq!(p0.get_str("ai_model_used").unwrap(), "gpt-4o");
    assert_eq!(p0.get_str("status").unwrap(), "completed");
    assert_eq!(
        p0.get_datetime("created_at").unwrap().to_chrono(),
        Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 7).unwrap()
    );
    let p1 = projects
        .find_one(doc! { "project_id": "project-gearbox_1" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p1.get_str("project_name").unwrap(), "make gear 1 with 10 teeth please");
    assert_eq!(p1.get_str("created_by").unwrap(), format!("user-{}", user_of(1)));
    assert_eq!(
        p1.get_document("metadata")
            .unwrap()
            .get_str("legacy_project_id")
            .unwrap(),
        "gearbox_1"
    );
    let p2 = projects
        .find_one(doc! { "metadata.legacy_project_id": "Legacy Project #2" })
        .await
        .unwrap()
        .unwrap();
    assert!(p2.get_str("project_id").unwrap().starts_with("project-legacy-"));
    // Orphans: one default project per user, holding all their messages.
    for u in &f.orphan_users {
        let user = cadscribe_cli::migrate::legacy::map_user(u).0;
        let default = default_project_of(&user);
        let p = projects
            .find_one(doc! { "project_id": default.as_str() })
            .await
            .unwrap()
            .expect("a default project");
        assert_eq!(p.get_str("project_name").unwrap(), "Legacy chats");
        assert_eq!(p.get_str("created_by").unwrap(), user.as_str());
        assert_eq!(
            messages
                .count_documents(doc! { "project_id": default.as_str() })
                .await
                .unwrap(),
            30
        );
    }
    // The project that already existed is untouched and holds its messages.
    let p6 = projects
        .find_one(doc! { "project_id": "project-6" })
        .await
        .unwrap()
        .unwrap();
    assert!(p6.get("migration_id").is_none());
    assert_eq!(p6.get_str("project_name").unwrap(), "already here");
    assert_eq!(
        messages
            .count_documents(doc! { "project_id": "project-6" })
            .await
            .unwrap(),
        30
    );
    // Files: three inputs and two outputs per project, linked.
    let files = db.collection::<Document>("files");
    assert_eq!(files.count_documents(doc! { "migration_id": &id }).await.unwrap(), 150);
    let flat = files
        .find_one(doc! { "s3_key": "output/legacy-gear-4/MyHeadlessModel.STL" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(flat.get_str("file_type").unwrap(), "output");
    assert_eq!(flat.get_str("project_id").unwrap(), "project-gearbox_4");
    // The stored documents read back as the domain types.
    let typed = platform_db
        .messages()
        .list(
            &domain::ProjectId::parse("project-0").unwrap(),
            platform::mongo::PageRequest::all(),
        )
        .await
        .unwrap();
    assert_eq!(
        typed.total,
        30 + 6,
        "its conversation and the six messages with unusable S3 references"
    );
    let _: Vec<domain::documents::Project> = db
        .collection("projects")
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .expect("projects decode");
    let _: Vec<domain::documents::FileRecord> = db
        .collection("files")
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .expect("files decode");

    // Verify passes; a second run adds nothing.
    let out = cadscribe(&env, &["migrate", "--verify"]);
    assert!(out.status.success(), "{}", text(&out));
    let migrated = snapshot(&db).await;
    let out = cadscribe(&env, &["migrate"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("nothing to migrate"), "{t}");
    assert!(
        t.contains(&format!("4 messages: 0 copied, {} already migrated", f.valid)),
        "{t}"
    );
    assert_eq!(snapshot(&db).await, migrated, "a second run changes nothing");

    // Verify finds a lost message and exits non-zero.
    let victim = messages
        .find_one_and_delete(doc! { "migration_id": &id })
        .await
        .unwrap()
        .unwrap();
    let out = cadscribe(&env, &["migrate", "--verify", &id]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(
        t.contains(&format!("message {} (legacy", victim.get_str("message_id").unwrap())),
        "{t}"
    );
    assert!(t.contains("is missing"), "{t}");
    messages.insert_one(victim).await.unwrap();
    assert!(cadscribe(&env, &["migrate", "--verify", &id]).status.success());

    // Rollback refuses to orphan documents created since, unless forced.
    let later = doc! { "message_id": "new-2", "project_id": "project-0", "user_id": "user-0", "role": "user", "content": "later",
    "timestamp": bson::DateTime::now(), "created_at": bson::DateTime::now(), "updated_at": bson::DateTime::now(), "metadata": {} };
    messages.insert_one(later).await.unwrap();
    let out = cadscribe(&env, &["migrate", "--rollback", &id]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("--force"), "{t}");
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1, "one line: {t}");
    messages.delete_one(doc! { "message_id": "new-2" }).await.unwrap();

    // Rollback restores the database exactly.
    let out = cadscribe(&env, &["migrate", "--rollback", &id]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains(&format!("messages: {} removed", f.valid)), "{t}");
    assert_eq!(
        snapshot(&db).await,
        before,
        "the rollback restores the pre-migration state"
    );
    let out = cadscribe(&env, &["migrate", "--verify"]);
    assert!(!out.status.success(), "nothing left to verify");
    env.drop_db().await;
}
