//! `cadscribe migrate`: the legacy flat `chat_messages` collection to the
//! project-centric schema (`projects`, `messages`, `files`).
//!
//! 1. analyse every legacy message (malformed ones are reported, skipped);
//! 2. group them by `project_id`; orphans go to a default project per user;
//! 3. create the projects that do not exist yet, with metadata drawn from
//!    their messages (name, creator, times, AI model, latest version and
//!    S3 input, latest outputs);
//! 4. copy the messages into `messages`, linked to their project;
//! 5. record the files their metadata refers to (`s3_url`, `version`);
//! 6. verify counts and links.
//!
//! Ids derive from the legacy `_id`s (`legacy-{_id}`) and ids, so a second
//! run creates nothing twice. Everything a run creates carries its
//! `migration_id`, recorded in `migrations`, so `--rollback` removes exactly
//! that and nothing else. `--dry-run` writes nothing.

pub mod legacy;
pub mod plan;

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use anyhow::{bail, Context as _};
use bson::{doc, Bson, Document};
use chrono::Utc;
use futures::TryStreamExt;
use mongodb::{Collection, Database};

use domain::documents::{FileRecord, Message, Project};
use domain::{ProjectId, ProjectSlug, ProjectStatus};
use platform::mongo::Db;

use crate::progress::Progress;
use plan::{Analysis, ProblemKind, LEGACY};

pub const MIGRATIONS: &str = "migrations";
/// The field that tags every document a migration created.
pub const TAG: &str = "migration_id";
/// Problems printed in full; the rest are counted.
const SHOWN: usize = 50;
/// Skipped ids kept in the migration record.
const RECORDED: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    DryRun,
    Apply,
    /// `None`: the latest applied migration.
    Verify(Option<String>),
    Rollback {
        id: Option<String>,
        force: bool,
    },
}

/// What a run did, for people and tests.
#[derive(Debug, Default)]
pub struct Outcome {
    pub migration_id: Option<String>,
    pub text: String,
    /// False when verification found a mismatch.
    pub ok: bool,
}

pub async fn run(db: &Db, mode: Mode, batch: usize) -> anyhow::Result<Outcome> {
    let batch = batch.clamp(1, 5_000);
    match mode {
        Mode::DryRun => migrate(db, false, batch).await,
        Mode::Apply => migrate(db, true, batch).await,
        Mode::Verify(id) => {
            let record = find_record(db.database(), id.as_deref()).await?;
            let analysis = plan::analyse(db.database()).await?;
            let mismatches = verify(db.database(), &record, &analysis, batch).await?;
            let id = record.get_str("migration_id").unwrap_or_default().to_owned();
            let mut text = String::new();
            report_verify(&mut text, &id, &analysis, &mismatches);
            Ok(Outcome {
                migration_id: Some(id),
                text,
                ok: mismatches.is_empty(),
            })
        }
        Mode::Rollback { id, force } => rollback(db.database(), id.as_deref(), force).await,
    }
}

fn coll(db: &Database, name: &str) -> Collection<Document> {
    db.collection::<Document>(name)
}

/// Which of `values` of `field` exist in `coll`.
async fn existing(
    coll: &Collection<Document>,
    field: &str,
    values: &[String],
) -> mongodb::error::Result<HashSet<String>> {
    let mut found = HashSet::new();
    for chunk in values.chunks(1000) {
        let mut cursor = coll
            .find(doc! { field: { "$in": chunk } })
            .projection(doc! { field: 1, "_id": 0 })
            .await?;
        while let Some(d) = cursor.try_next().await? {
            if let Ok(v) = d.get_str(field) {
                found.insert(v.to_owned());
            }
        }
    }
    Ok(found)
}

/// Inserts documents whose unique keys were checked just before; one that
/// appeared meanwhile is left alone. Returns how many were inserted.
async fn insert_all(coll: &Collection<Document>, docs: Vec<Document>) -> mongodb::error::Result<u64> {
    if docs.is_empty() {
        return Ok(0);
    }
    let n = docs.len() as u64;
    match coll.insert_many(docs.clone()).await {
        Ok(_) => Ok(n),
        Err(_) => {
            // Fall back to one at a time, skipping duplicates.
            let mut inserted = 0;
            for d in docs {
                match coll.insert_one(d).await {
                    Ok(_) => inserted += 1,
                    Err(e) if e.to_string().contains("E11000") || is_duplicate(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(inserted)
        }
    }
}

fn is_duplicate(e: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == 11000,
        ErrorKind::Command(c) => c.code == 11000,
        _ => false,
    }
}

fn tagged<T: serde::Serialize>(value: &T, migration_id: &str) -> anyhow::Result<Document> {
    let mut d = bson::to_document(value)?;
    d.insert(TAG, migration_id);
    Ok(d)
}

/// Counts of one step: new, and already there.
#[derive(Debug, Default, Clone, Copy)]
struct Step {
    new: u64,
    existing: u64,
}

async fn migrate(db: &Db, write: bool, batch: usize) -> anyhow::Result<Outcome> {
    let database = db.database();
    let migration_id = format!(
        "migration-{}-{}",
        Utc::now().format("%Y%m%dT%H%M%SZ"),
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    );
    let analysis = plan::analyse(database).await.context("reading chat_messages")?;
    if write {
        db.ensure_indexes().await.context("creating the indexes")?;
        coll(database, MIGRATIONS)
            .insert_one(doc! {
                "migration_id": &migration_id,
                "kind": "chat_messages_to_projects",
                "status": "running",
                "started_at": bson::DateTime::now(),
                "source_count": analysis.total as i64,
            })
            .await?;
    }
    let result = async {
        let projects = create_projects(database, &analysis, write, &migration_id).await?;
        let messages = copy_messages(database, write, batch, &migration_id).await?;
        let files = record_files(database, &analysis, write, &migration_id).await?;
        anyhow::Ok((projects, messages, files))
    }
    .await;
    let (projects, messages, files) = match result {
        Ok(r) => r,
        Err(e) => {
            if write {
                let _ = coll(database, MIGRATIONS)
                    .update_one(
                        doc! { "migration_id": &migration_id },
                        doc! { "$set": { "status": "failed", "error": e.to_string() } },
                    )
                    .await;
                bail!("{e:#}; what was written is tagged {migration_id} (`cadscribe migrate --rollback {migration_id}` removes it)");
            }
            return Err(e);
        }
    };

    let mut text = String::new();
    report_plan(&mut text, write, &analysis, projects, messages, files);
    let created = projects.new + messages.new + files.new;
    if !write {
        let _ = writeln!(text, "6 verify: after a real run (dry run: nothing was written)");
        return Ok(Outcome {
            migration_id: None,
            text,
            ok: true,
        });
    }
    if created == 0 {
        coll(database, MIGRATIONS)
            .delete_one(doc! { "migration_id": &migration_id })
            .await?;
        let _ = writeln!(
            text,
            "nothing to migrate: everything is already migrated; no migration recorded"
        );
        return Ok(Outcome {
            migration_id: None,
            text,
            ok: true,
        });
    }
    let skipped: Vec<Document> = analysis
        .skipped()
        .take(RECORDED)
        .map(|p| doc! { "legacy_id": &p.legacy_id, "reason": &p.reason })
        .collect();
    coll(database, MIGRATIONS)
        .update_one(
            doc! { "migration_id": &migration_id },
            doc! { "$set": {
                "status": "applied",
                "finished_at": bson::DateTime::now(),
                "created": { "projects": projects.new as i64, "messages": messages.new as i64, "files": files.new as i64 },
                "skipped": skipped,
                "skipped_count": analysis.skipped_count() as i64,
                "file_problems": analysis.problems.iter().filter(|p| p.kind == ProblemKind::FileSkipped).count() as i64,
            } },
        )
        .await?;
    let record = find_record(database, Some(&migration_id)).await?;
    let mismatches = verify(database, &record, &analysis, batch).await?;
    report_verify(&mut text, &migration_id, &analysis, &mismatches);
    Ok(Outcome {
        migration_id: Some(migration_id),
        text,
        ok: mismatches.is_empty(),
    })
}

/// A slug for a new project: its S3 keys' slug, else one derived from its
/// name; made unique against stored projects and this run's.
async fn unique_slug(
    projects: &Collection<Document>,
    taken: &mut HashSet<String>,
    wanted: ProjectSlug,
) -> mongodb::error::Result<ProjectSlug> {
    let mut slug = wanted.clone();
    for n in 2u32.. {
        if !taken.contains(slug.as_str()) && projects.find_one(doc! { "slug": slug.as_str() }).await?.is_none() {
            break;
        }
        slug = wanted.with_suffix(n);
    }
    taken.insert(slug.to_string());
    Ok(slug)
}

/// Step 3.
async fn create_projects(db: &Database, analysis: &Analysis, write: bool, migration_id: &str) -> anyhow::Result<Step> {
    let projects = coll(db, "projects");
    let ids: Vec<String> = analysis.projects.keys().map(|p| p.to_string()).collect();
    let exist = existing(&projects, "project_id", &ids).await?;
    let mut step = Step {
        existing: exist.len() as u64,
        ..Step::default()
    };
    let mut taken = HashSet::new();
    let mut progress = Progress::new("creating projects", (ids.len() - exist.len()) as u64);
    for plan in analysis
        .projects
        .values()
        .filter(|p| !exist.contains(p.project_id.as_str()))
    {
        let name = plan::project_name(plan);
        let wanted = plan
            .slug_hint
            .clone()
            .or_else(|| ProjectSlug::derive(&name).ok())
            .unwrap_or_else(|| ProjectSlug::parse("legacy-project").expect("a valid slug"));
        let (input, outputs) = analysis.latest_files(&plan.project_id);
        let mut metadata = doc! { "migrated_from": LEGACY, "legacy_messages": plan.messages as i64 };
        if let Some(l) = &plan.legacy_project_id {
            metadata.insert("legacy_project_id", l.as_str());
        }
        if plan.orphans_of.is_some() {
            metadata.insert("description", "Messages of the legacy chat that belonged to no project");
        }
        let mut project = Project {
            project_id: plan.project_id.clone(),
            project_name: name,
            slug: wanted.clone(),
            created_by: plan.creator.clone(),
            created_at: plan.first_at,
            updated_at: plan.last_at,
            current_version: input.as_ref().map(|(v, _)| v.get()).unwrap_or(0),
            version_counter: input.as_ref().map(|(v, _)| v.get()).unwrap_or(0),
            version_claims: Vec::new(),
            ai_model_used: plan.model.as_ref().map(|(_, m)| m.clone()),
            status: if outputs.is_empty() {
                ProjectStatus::Draft
            } else {
                ProjectStatus::Completed
            },
            latest_s3_input: input.map(|(_, url)| url),
            latest_s3_output: outputs,
            // The legacy files carry no sizes.
            stored_bytes: Default::default(),
            material: None,
            metadata: metadata.into(),
        };
        if write {
            project.slug = unique_slug(&projects, &mut taken, wanted).await?;
            match projects.insert_one(tagged(&project, migration_id)?).await {
                Ok(_) => step.new += 1,
                // Created by someone else meanwhile: theirs stays.
                Err(e)
                    if is_duplicate(&e)
                        && projects
                            .find_one(doc! { "project_id": project.project_id.as_str() })
                            .await?
                            .is_some() =>
                {
                    step.existing += 1
                }
                Err(e) => return Err(e).with_context(|| format!("creating project {}", project.project_id)),
            }
        } else {
            step.new += 1;
        }
        progress.add(1);
    }
    progress.finish();
    Ok(step)
}

/// Step 4: the second pass over the legacy collection, in batches.
async fn copy_messages(db: &Database, write: bool, batch: usize, migration_id: &str) -> anyhow::Result<Step> {
    let legacy = coll(db, LEGACY);
    let messages = coll(db, "messages");
    let total = legacy.count_documents(doc! {}).await?;
    let mut progress = Progress::new("copying messages", total);
    let mut cursor = legacy.find(doc! {}).sort(doc! { "_id": 1 }).await?;
    let mut step = Step::default();
    let mut pending: Vec<Message> = Vec::with_capacity(batch);
    loop {
        let next = cursor.try_next().await?;
        let done = next.is_none();
        if let Some(d) = next {
            progress.add(1);
            if let Ok(m) = legacy::parse(&d) {
                pending.push(to_message(&m));
            }
        }
        if pending.len() >= batch || (done && !pending.is_empty()) {
            let ids: Vec<String> = pending.iter().map(|m| m.message_id.clone()).collect();
            let exist = existing(&messages, "message_id", &ids).await?;
            step.existing += exist.len() as u64;
            let fresh: Vec<Document> = pending
                .drain(..)
                .filter(|m| !exist.contains(&m.message_id))
                .map(|m| tagged(&m, migration_id))
                .collect::<anyhow::Result<_>>()?;
            if write {
                let n = fresh.len() as u64;
                let inserted = insert_all(&messages, fresh).await?;
                step.new += inserted;
                step.existing += n - inserted;
            } else {
                step.new += fresh.len() as u64;
            }
        }
        if done {
            break;
        }
    }
    progress.finish();
    Ok(step)
}

/// The `messages` document of a legacy message.
pub fn to_message(m: &legacy::LegacyMessage) -> Message {
    let mut metadata = m.metadata.clone();
    metadata.insert("legacy_id", m.legacy_id.as_str());
    if let Some(u) = &m.legacy_user_id {
        metadata.insert("legacy_user_id", u.as_str());
    }
    if let Some(p) = &m.legacy_project_id {
        metadata.insert("legacy_project_id", p.as_str());
    }
    Message {
        message_id: m.message_id(),
        project_id: m.target_project(),
        user_id: m.user_id.clone(),
        role: m.role,
        content: m.content.clone(),
        timestamp: m.timestamp,
        job_id: None,
        metadata: metadata.into(),
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// Step 5.
async fn record_files(db: &Database, analysis: &Analysis, write: bool, migration_id: &str) -> anyhow::Result<Step> {
    let files = coll(db, "files");
    let keys: Vec<String> = analysis.files.keys().cloned().collect();
    let exist = existing(&files, "s3_key", &keys).await?;
    let mut step = Step {
        existing: exist.len() as u64,
        ..Step::default()
    };
    let fresh: Vec<Document> = analysis
        .files
        .values()
        .filter(|f| !exist.contains(&f.file.key))
        .map(|f| {
            let file_name = f.file.key.rsplit('/').next().unwrap_or_default();
            let content_type = match f.file.file_type {
                domain::FileType::Input | domain::FileType::Processed => "text/x-python",
                domain::FileType::Log => "text/plain",
                domain::FileType::Spec => "application/json",
                domain::FileType::Output => "application/octet-stream",
            };
            let mut metadata = doc! {
                "file_name": file_name,
                "uploaded_by": f.uploaded_by.as_str(),
                "generated_by": "legacy",
                "content_type": content_type,
                "legacy_message_id": &f.legacy_id,
            };
            if let Some(m) = &f.ai_model {
                metadata.insert("ai_model", m.as_str());
            }
            let record = FileRecord {
                project_id: f.project_id.clone(),
                version: f.file.version,
                file_type: f.file.file_type,
                s3_path: f.file.s3_url.clone(),
                s3_key: f.file.key.clone(),
                timestamp: f.at,
                metadata: metadata.into(),
                created_at: f.at,
                updated_at: f.at,
            };
            tagged(&record, migration_id)
        })
        .collect::<anyhow::Result<_>>()?;
    if write {
        let n = fresh.len() as u64;
        let inserted = insert_all(&files, fresh).await?;
        step.new = inserted;
        step.existing += n - inserted;
    } else {
        step.new = fresh.len() as u64;
    }
    Ok(step)
}

/// The record of `id`, or of the latest applied migration.
async fn find_record(db: &Database, id: Option<&str>) -> anyhow::Result<Document> {
    let migrations = coll(db, MIGRATIONS);
    let found = match id {
        Some(id) => migrations.find_one(doc! { "migration_id": id }).await?,
        None => {
            migrations
                .find_one(doc! { "status": "applied" })
                .sort(doc! { "started_at": -1 })
                .await?
        }
    };
    match (found, id) {
        (Some(r), _) => Ok(r),
        (None, Some(id)) => bail!("no migration {id} is recorded"),
        (None, None) => bail!("no applied migration is recorded"),
    }
}

fn count_of(record: &Document, what: &str) -> i64 {
    record
        .get_document("created")
        .ok()
        .and_then(|c| c.get(what))
        .and_then(|v| match v {
            Bson::Int32(i) => Some(i64::from(*i)),
            Bson::Int64(i) => Some(*i),
            _ => None,
        })
        .unwrap_or(0)
}

/// Step 6: compares the database with what the legacy collection implies.
/// Every mismatch is one line.
async fn verify(db: &Database, record: &Document, analysis: &Analysis, batch: usize) -> anyhow::Result<Vec<String>> {
    let id = record.get_str("migration_id").unwrap_or_default();
    let mut out = Vec::new();
    let messages = coll(db, "messages");
    let projects = coll(db, "projects");
    let files = coll(db, "files");

    // Every valid legacy message is in `messages`, in its project, unchanged.
    let mut cursor = coll(db, LEGACY).find(doc! {}).sort(doc! { "_id": 1 }).await?;
    let mut expected: Vec<Message> = Vec::new();
    let mut progress = Progress::new("verifying messages", analysis.total);
    loop {
        let next = cursor.try_next().await?;
        let done = next.is_none();
        if let Some(d) = next {
            progress.add(1);
            if let Ok(m) = legacy::parse(&d) {
                expected.push(to_message(&m));
            }
        }
        if expected.len() >= batch || (done && !expected.is_empty()) {
            let ids: Vec<&str> = expected.iter().map(|m| m.message_id.as_str()).collect();
            let mut found: BTreeMap<String, Document> = BTreeMap::new();
            let mut c = messages.find(doc! { "message_id": { "$in": ids } }).await?;
            while let Some(d) = c.try_next().await? {
                found.insert(d.get_str("message_id").unwrap_or_default().to_owned(), d);
            }
            for m in expected.drain(..) {
                match found.get(&m.message_id) {
                    None => out.push(format!(
                        "message {} (legacy {}) is missing",
                        m.message_id,
                        legacy_of(&m)
                    )),
                    Some(d) => {
                        if d.get_str("project_id").ok() != Some(m.project_id.as_str()) {
                            out.push(format!(
                                "message {} is linked to {:?}, not {}",
                                m.message_id,
                                d.get_str("project_id").ok(),
                                m.project_id
                            ));
                        }
                        if d.get_str("content").ok() != Some(m.content.as_str()) {
                            out.push(format!("message {} differs from its legacy content", m.message_id));
                        }
                    }
                }
            }
        }
        if done {
            break;
        }
    }
    progress.finish();

    // Every project and file the legacy data implies exists.
    let ids: Vec<String> = analysis.projects.keys().map(|p| p.to_string()).collect();
    let have = existing(&projects, "project_id", &ids).await?;
    for p in ids.iter().filter(|p| !have.contains(*p)) {
        out.push(format!("project {p} is missing"));
    }
    let keys: Vec<String> = analysis.files.keys().cloned().collect();
    let mut found_files: BTreeMap<String, String> = BTreeMap::new();
    for chunk in keys.chunks(1000) {
        let mut c = files.find(doc! { "s3_key": { "$in": chunk } }).await?;
        while let Some(d) = c.try_next().await? {
            found_files.insert(
                d.get_str("s3_key").unwrap_or_default().to_owned(),
                d.get_str("project_id").unwrap_or_default().to_owned(),
            );
        }
    }
    for (key, plan) in &analysis.files {
        match found_files.get(key) {
            None => out.push(format!("file record of {key} is missing")),
            Some(p) if p != plan.project_id.as_str() => {
                out.push(format!("file record of {key} belongs to {p}, not {}", plan.project_id))
            }
            Some(_) => {}
        }
    }

    // What this migration created links to projects that exist.
    for (name, c) in [("messages", &messages), ("files", &files)] {
        let linked: Vec<String> = c
            .distinct("project_id", doc! { TAG: id })
            .await?
            .into_iter()
            .filter_map(|b| b.as_str().map(str::to_owned))
            .collect();
        let have = existing(&projects, "project_id", &linked).await?;
        for p in linked.iter().filter(|p| !have.contains(*p)) {
            out.push(format!(
                "{name} of this migration refer to project {p}, which does not exist"
            ));
        }
    }

    // The counts recorded are the counts present.
    for what in ["projects", "messages", "files"] {
        let present = coll(db, what).count_documents(doc! { TAG: id }).await? as i64;
        let recorded = count_of(record, what);
        if present != recorded {
            out.push(format!("{what}: {recorded} created by {id}, {present} present"));
        }
    }
    // Every legacy message is accounted for: migrated (checked above), or
    // skipped and listed in the record.
    let recorded_skips = match record.get("skipped_count") {
        Some(Bson::Int32(i)) => i64::from(*i),
        Some(Bson::Int64(i)) => *i,
        _ => 0,
    };
    if recorded_skips != analysis.skipped_count() as i64 {
        out.push(format!(
            "{} legacy messages are malformed now, {recorded_skips} were when {id} ran",
            analysis.skipped_count()
        ));
    }
    Ok(out)
}

fn legacy_of(m: &Message) -> &str {
    m.metadata.other.get_str("legacy_id").unwrap_or("?")
}

async fn rollback(db: &Database, id: Option<&str>, force: bool) -> anyhow::Result<Outcome> {
    let migrations = coll(db, MIGRATIONS);
    let record = match id {
        Some(_) => find_record(db, id).await?,
        None => migrations
            .find_one(doc! {})
            .sort(doc! { "started_at": -1 })
            .await?
            .context("no migration is recorded")?,
    };
    let id = record.get_str("migration_id").unwrap_or_default().to_owned();
    // Documents created since, in the projects of this migration, would be
    // left without their project.
    let created_projects: Vec<String> = coll(db, "projects")
        .distinct("project_id", doc! { TAG: &id })
        .await?
        .into_iter()
        .filter_map(|b| b.as_str().map(str::to_owned))
        .collect();
    let mut dependants = 0;
    if !created_projects.is_empty() {
        for name in ["messages", "files", "logs", "jobs"] {
            dependants += coll(db, name)
                .count_documents(doc! { "project_id": { "$in": &created_projects }, TAG: { "$ne": &id } })
                .await?;
        }
    }
    if dependants > 0 && !force {
        bail!(
            "{dependants} document(s) created after {id} belong to its projects; rolling back would orphan them (--force removes the migration's documents anyway, leaving those)"
        );
    }
    let mut text = String::new();
    let _ = writeln!(text, "rolling back {id}");
    for name in ["files", "messages", "projects"] {
        let n = coll(db, name).delete_many(doc! { TAG: &id }).await?.deleted_count;
        let _ = writeln!(text, "  {name}: {n} removed");
    }
    migrations.delete_one(doc! { "migration_id": &id }).await?;
    let _ = writeln!(text, "  migration record removed");
    Ok(Outcome {
        migration_id: Some(id),
        text,
        ok: true,
    })
}

fn report_plan(text: &mut String, write: bool, a: &Analysis, projects: Step, messages: Step, files: Step) {
    let verb = if write { "created" } else { "to create" };
    let file_problems = a.problems.iter().filter(|p| p.kind == ProblemKind::FileSkipped).count();
    let defaults = a.projects.values().filter(|p| p.orphans_of.is_some()).count();
    let _ = writeln!(
        text,
        "{}",
        if write {
            "migration"
        } else {
            "dry run: nothing is written"
        }
    );
    let _ = writeln!(
        text,
        "1 analyse: {} legacy messages: {} valid, {} malformed (skipped), {} unusable S3 references",
        a.total,
        a.valid,
        a.skipped_count(),
        file_problems
    );
    let _ = writeln!(
        text,
        "2 group: {} projects, {} of them default projects for {} orphaned messages; {} user ids and {} project ids mapped to the new id form",
        a.projects.len(),
        defaults,
        a.orphans,
        a.remapped_users.len(),
        a.remapped_projects.len()
    );
    let _ = writeln!(
        text,
        "3 projects: {} {verb}, {} already exist",
        projects.new, projects.existing
    );
    let _ = writeln!(
        text,
        "4 messages: {} {}, {} already migrated",
        messages.new,
        if write { "copied" } else { "to copy" },
        messages.existing
    );
    let _ = writeln!(
        text,
        "5 files: {} {}, {} already recorded",
        files.new,
        if write { "recorded" } else { "to record" },
        files.existing
    );
    if !a.problems.is_empty() {
        let _ = writeln!(text, "problems ({}):", a.problems.len());
        for p in a.problems.iter().take(SHOWN) {
            let what = match p.kind {
                ProblemKind::Skipped => "skipped",
                ProblemKind::FileSkipped => "no file record",
            };
            let _ = writeln!(text, "  chat_messages {}: {what}: {}", p.legacy_id, p.reason);
        }
        if a.problems.len() > SHOWN {
            let _ = writeln!(text, "  … and {} more", a.problems.len() - SHOWN);
        }
    }
}

fn report_verify(text: &mut String, id: &str, a: &Analysis, mismatches: &[String]) {
    if mismatches.is_empty() {
        let _ = writeln!(
            text,
            "6 verify {id}: ok ({} messages, {} projects, {} files checked; {} malformed legacy messages skipped)",
            a.valid,
            a.projects.len(),
            a.files.len(),
            a.skipped_count()
        );
    } else {
        let _ = writeln!(text, "6 verify {id}: {} mismatch(es)", mismatches.len());
        for m in mismatches.iter().take(SHOWN) {
            let _ = writeln!(text, "  {m}");
        }
        if mismatches.len() > SHOWN {
            let _ = writeln!(text, "  … and {} more", mismatches.len() - SHOWN);
        }
    }
}

/// For tests: the id a legacy `_id` gets in `messages`.
pub fn message_id_of(legacy_id: &str) -> String {
    legacy::message_id(legacy_id)
}

/// For tests and tools: the default project of a user's orphans.
pub fn default_project_of(user: &domain::UserId) -> ProjectId {
    legacy::default_project(user)
}
