//! MongoDB: the project-centric schema's collections, their indexes, and one
//! repository per collection.
//!
//! Indexes are created at start, idempotently. Versions are handed out by an
//! atomic `findOneAndUpdate` with `$inc` on the project, so no two scripts of
//! a project ever get the same number.

use std::collections::HashMap;
use std::time::Duration;

use bson::{doc, Bson, Document};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::options::{Acknowledgment, ClientOptions, IndexOptions, UpdateOptions, WriteConcern};
use mongodb::{Client, Collection, Database, IndexModel};
use serde::de::DeserializeOwned;
use serde::Serialize;

use domain::auth::StreamTicket;
use domain::documents::{AttemptVersions, FileRecord, Job, JobTimings, LogRecord, Message, Project, User};
use domain::{FileType, JobId, JobStage, ProjectId, ProjectSlug, ProjectStatus, UserId, Version};

use crate::config::{Durability, MongoSettings};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Driver(#[from] mongodb::error::Error),
    #[error("stored document is malformed: {0}")]
    Decode(#[from] bson::de::Error),
    #[error("document cannot be stored: {0}")]
    Encode(#[from] bson::ser::Error),
    #[error("{0} already exists")]
    Duplicate(String),
    #[error("{0} not found")]
    NotFound(String),
}

/// The server's code for a write that would duplicate a unique key.
const DUPLICATE_KEY: i32 = 11000;

impl DbError {
    fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
        use mongodb::error::{ErrorKind, WriteFailure};
        match e.kind.as_ref() {
            ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == DUPLICATE_KEY,
            ErrorKind::Command(c) => c.code == DUPLICATE_KEY,
            ErrorKind::InsertMany(m) => m
                .write_errors
                .as_ref()
                .is_some_and(|ws| ws.iter().any(|w| w.code == DUPLICATE_KEY)),
            _ => e.to_string().contains("E11000"),
        }
    }

    /// Unreachable server, timeouts: worth a retry.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Driver(e) => {
                use mongodb::error::ErrorKind;
                matches!(
                    e.kind.as_ref(),
                    ErrorKind::Io(_) | ErrorKind::ServerSelection { .. } | ErrorKind::ConnectionPoolCleared { .. }
                ) || e.contains_label("RetryableWriteError")
                    || e.contains_label("TransientTransactionError")
            }
            _ => false,
        }
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// The driver's write concern for `d`: set once on the client, so every
/// write of every repository (users, projects, jobs, version claims,
/// messages, files, logs) waits until it is durable.
fn write_concern(d: &Durability) -> WriteConcern {
    let w = match d.w.parse::<u32>() {
        Ok(n) => Acknowledgment::Nodes(n),
        Err(_) if d.w == "majority" => Acknowledgment::Majority,
        Err(_) => Acknowledgment::Custom(d.w.clone()),
    };
    WriteConcern::builder()
        .w(w)
        .journal(d.journal)
        .w_timeout(d.timeout)
        .build()
}

/// A page request: `limit` items after skipping `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct PageRequest {
    pub limit: u32,
    pub offset: u64,
}

impl PageRequest {
    pub const MAX_LIMIT: u32 = 200;

    pub fn new(limit: u32, offset: u64) -> Self {
        Self {
            limit: limit.clamp(1, Self::MAX_LIMIT),
            offset,
        }
    }

    /// Every item, in one page (`limit` 0, as MongoDB reads it): for reads
    /// that must see every record (a quota's sum, a project's whole file
    /// list, a soak's check), never a client's page, which stays within
    /// [`PageRequest::MAX_LIMIT`].
    pub fn all() -> Self {
        Self { limit: 0, offset: 0 }
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::new(50, 0)
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

/// A connected database with its repositories.
#[derive(Clone)]
pub struct Db {
    db: Database,
    fair_share: u32,
}

impl Db {
    /// Connects and pings, so a wrong URI fails at start, not at first use.
    pub async fn connect(settings: &MongoSettings) -> DbResult<Self> {
        let mut opts = ClientOptions::parse(&settings.uri).await?;
        opts.app_name.get_or_insert_with(|| "cadscribe".into());
        opts.server_selection_timeout.get_or_insert(Duration::from_secs(10));
        opts.connect_timeout.get_or_insert(Duration::from_secs(5));
        opts.write_concern = Some(write_concern(&settings.durability));
        let client = Client::with_options(opts)?;
        let db = Self {
            db: client.database(&settings.database),
            fair_share: settings.fair_share,
        };
        db.ping().await?;
        Ok(db)
    }

    /// The write concern every collection of this database writes with.
    pub fn write_concern(&self) -> Option<&WriteConcern> {
        self.db.write_concern()
    }

    pub async fn ping(&self) -> DbResult<()> {
        self.db.run_command(doc! { "ping": 1 }).await?;
        Ok(())
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Jobs of one user let into the pipeline at a time (0: no limit).
    pub fn fair_share(&self) -> u32 {
        self.fair_share
    }

    /// The same database with another fair share (tests).
    pub fn with_fair_share(mut self, jobs: u32) -> Self {
        self.fair_share = jobs;
        self
    }

    pub fn projects(&self) -> Projects {
        Projects(self.db.collection("projects"))
    }
    pub fn messages(&self) -> Messages {
        Messages(self.db.collection("messages"))
    }
    pub fn files(&self) -> Files {
        Files(self.db.collection("files"))
    }
    pub fn logs(&self) -> Logs {
        Logs(self.db.collection("logs"))
    }
    pub fn jobs(&self) -> Jobs {
        Jobs(self.db.collection("jobs"))
    }
    pub fn schedule(&self) -> Schedule {
        Schedule(self.db.collection("schedule"))
    }
    pub fn users(&self) -> Users {
        Users(self.db.collection("users"))
    }
    pub fn stream_tickets(&self) -> StreamTickets {
        StreamTickets(self.db.collection("stream_tickets"))
    }

    /// Creates every index of the schema and drops the retired ones; safe
    /// to run at every start.
    pub async fn ensure_indexes(&self) -> DbResult<()> {
        for (collection, indexes) in index_plan() {
            let models: Vec<IndexModel> = indexes
                .into_iter()
                .map(|(keys, unique)| {
                    IndexModel::builder()
                        .keys(keys)
                        .options(unique.then(|| IndexOptions::builder().unique(true).build()))
                        .build()
                })
                .collect();
            self.db
                .collection::<Document>(collection)
                .create_indexes(models)
                .await?;
        }
        // Found by their keys, whatever they were named.
        let retired = retired_indexes();
        let mut collections: Vec<&str> = retired.iter().map(|(c, _)| *c).collect();
        collections.sort_unstable();
        collections.dedup();
        for collection in collections {
            let coll = self.db.collection::<Document>(collection);
            let found: Vec<IndexModel> = coll.list_indexes().await?.try_collect().await?;
            for index in found {
                let name = index.options.and_then(|o| o.name);
                if let Some(name) = name.filter(|_| retired.contains(&(collection, index.keys))) {
                    coll.drop_index(name).await?;
                }
            }
        }
        Ok(())
    }
}

/// Single-field indexes of the seed schema that an earlier release created
/// and no query needs: where a query looks a project or an owner up, a
/// compound index of [`index_plan`] leads with that field; no query looks
/// up a version, a file type, a message's user or a log's time alone. Each
/// index costs every insert, and on the document server every query's
/// choice of index, so [`Db::ensure_indexes`] drops them.
pub fn retired_indexes() -> Vec<(&'static str, Document)> {
    vec![
        ("projects", doc! { "created_by": 1 }),
        ("messages", doc! { "project_id": 1 }),
        ("messages", doc! { "user_id": 1 }),
        ("files", doc! { "project_id": 1 }),
        ("files", doc! { "version": 1 }),
        ("files", doc! { "file_type": 1 }),
        ("logs", doc! { "project_id": 1 }),
        ("logs", doc! { "version": 1 }),
        ("logs", doc! { "timestamp": -1 }),
    ]
}

/// Every collection's indexes: the seed schema's, less the single-field
/// ones no query needs ([`retired_indexes`]), plus what jobs, users and
/// idempotent writes need. `(keys, unique)`. Messages keep `timestamp`
/// alone for the AI metrics, which scan every project's replies by time.
pub fn index_plan() -> Vec<(&'static str, Vec<(Document, bool)>)> {
    vec![
        (
            "projects",
            vec![
                (doc! { "project_id": 1 }, true),
                (doc! { "slug": 1 }, true),
                (doc! { "updated_at": -1 }, false),
                (doc! { "created_by": 1, "updated_at": -1 }, false),
            ],
        ),
        (
            "messages",
            vec![
                (doc! { "timestamp": 1 }, false),
                (doc! { "project_id": 1, "timestamp": 1 }, false),
                (doc! { "message_id": 1 }, true),
            ],
        ),
        (
            "files",
            vec![
                (doc! { "project_id": 1, "version": -1 }, false),
                (doc! { "project_id": 1, "file_type": 1 }, false),
                (doc! { "s3_key": 1 }, true),
            ],
        ),
        (
            "logs",
            vec![
                (doc! { "project_id": 1, "timestamp": -1 }, false),
                (doc! { "s3_log_path": 1 }, true),
            ],
        ),
        (
            "jobs",
            vec![
                (doc! { "job_id": 1 }, true),
                (doc! { "project_id": 1, "created_at": -1 }, false),
                (doc! { "stage": 1, "updated_at": 1 }, false),
                (doc! { "user_id": 1, "created_at": -1 }, false),
                // A user's live and held jobs (quotas, fair share) without
                // walking their finished ones.
                (doc! { "user_id": 1, "stage": 1, "held": 1 }, false),
                (doc! { "slug": 1, "stage": 1 }, false),
            ],
        ),
        (
            "users",
            vec![(doc! { "user_id": 1 }, true), (doc! { "email": 1 }, true)],
        ),
        ("schedule", vec![(doc! { "user_id": 1 }, false)]),
        (
            "stream_tickets",
            vec![(doc! { "ticket": 1 }, true), (doc! { "expires_at": 1 }, false)],
        ),
    ]
}

/// Live-stream tickets: issued, then redeemed once.
pub struct StreamTickets(Collection<StreamTicket>);

impl StreamTickets {
    /// Stores a new ticket; expired ones go at the same time.
    pub async fn issue(&self, ticket: &StreamTicket) -> DbResult<()> {
        self.0.delete_many(doc! { "expires_at": { "$lt": now() } }).await?;
        self.0.insert_one(ticket).await?;
        Ok(())
    }

    /// The ticket, removed in the same step so it is used once; `None`
    /// when it is unknown, used or expired.
    pub async fn redeem(&self, ticket: &str) -> DbResult<Option<StreamTicket>> {
        Ok(self
            .0
            .find_one_and_delete(doc! { "ticket": ticket, "expires_at": { "$gt": now() } })
            .await?)
    }
}

/// `$set` fields (`timings.<name>`) for the timings that are set.
pub fn timing_fields(timings: &JobTimings) -> DbResult<Document> {
    let mut set = Document::new();
    if let Bson::Document(fields) = to_bson(timings)? {
        for (name, value) in fields {
            set.insert(format!("timings.{name}"), value);
        }
    }
    Ok(set)
}

fn now() -> bson::DateTime {
    bson::DateTime::from_chrono(Utc::now())
}

fn to_bson<T: Serialize>(v: &T) -> DbResult<Bson> {
    Ok(bson::to_bson(v)?)
}

async fn collect<T: DeserializeOwned + Send + Sync>(
    coll: &Collection<T>,
    filter: Document,
    sort: Document,
    page: PageRequest,
) -> DbResult<Page<T>> {
    let total = coll.count_documents(filter.clone()).await?;
    let items = coll
        .find(filter)
        .sort(sort)
        .skip(page.offset)
        .limit(i64::from(page.limit)) // 0: no limit
        .await?
        .try_collect()
        .await?;
    Ok(Page {
        items,
        total,
        limit: page.limit,
        offset: page.offset,
    })
}

/// Inserts or replaces the document whose `field` is `value`, keeping the
/// first `created_at`: records that a redelivered message writes again.
async fn upsert_by<T: Serialize + Send + Sync>(
    coll: &Collection<T>,
    field: &str,
    value: &str,
    document: &T,
    created_at: DateTime<Utc>,
) -> DbResult<()> {
    let mut set = bson::to_document(document)?;
    set.remove("created_at");
    coll.update_one(
        doc! { field: value },
        doc! { "$set": set, "$setOnInsert": { "created_at": bson::DateTime::from_chrono(created_at) } },
    )
    .upsert(true)
    .await?;
    Ok(())
}

async fn count_of<T: Send + Sync>(coll: &Collection<T>, project: &ProjectId) -> DbResult<u64> {
    Ok(coll.count_documents(doc! { "project_id": project.as_str() }).await?)
}

async fn delete_of<T: Send + Sync>(coll: &Collection<T>, project: &ProjectId) -> DbResult<u64> {
    Ok(coll
        .delete_many(doc! { "project_id": project.as_str() })
        .await?
        .deleted_count)
}

async fn insert_unique<T: Serialize + Send + Sync>(coll: &Collection<T>, doc: &T, what: String) -> DbResult<()> {
    match coll.insert_one(doc).await {
        Ok(_) => Ok(()),
        Err(e) if DbError::is_duplicate_key(&e) => Err(DbError::Duplicate(what)),
        Err(e) => Err(e.into()),
    }
}

/// The key under `stored_bytes` of a version's files written at one stage
/// (`in`: its spec and script, `out`: its outputs and log): set, never
/// added to, so recording the same files again counts them once.
fn stored_key(version: Version, stage: &str) -> String {
    format!("stored_bytes.v{}_{stage}", version.get())
}

fn bytes_bson(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// A user's jobs that are not over yet ([`Jobs::live_of_user`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveJobs {
    /// In the pipeline.
    pub released: u64,
    /// Held back for their turn.
    pub held: u64,
}

#[derive(Clone)]
pub struct Projects(Collection<Project>);

/// How many of its latest version claims a project keeps (see
/// [`Projects::claim_next_version`]).
pub const VERSION_CLAIMS_KEPT: i32 = 256;

impl Projects {
    /// Inserts the project; when its slug is taken, tries `slug-2`, `slug-3`…
    /// and returns the project as stored.
    pub async fn create(&self, mut project: Project) -> DbResult<Project> {
        let base = project.slug.clone();
        for n in 2..=1000u32 {
            match self.0.insert_one(&project).await {
                Ok(_) => return Ok(project),
                Err(e) if DbError::is_duplicate_key(&e) => {
                    if self.get(&project.project_id).await?.is_some() {
                        return Err(DbError::Duplicate(format!("project {}", project.project_id)));
                    }
                    project.slug = base.with_suffix(n);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(DbError::Duplicate(format!("slug {base}")))
    }

    pub async fn get(&self, id: &ProjectId) -> DbResult<Option<Project>> {
        Ok(self.0.find_one(doc! { "project_id": id.as_str() }).await?)
    }

    pub async fn get_by_slug(&self, slug: &ProjectSlug) -> DbResult<Option<Project>> {
        Ok(self.0.find_one(doc! { "slug": slug.as_str() }).await?)
    }

    /// A user's projects, newest activity first.
    pub async fn list_by_owner(&self, owner: &UserId, page: PageRequest) -> DbResult<Page<Project>> {
        collect(
            &self.0,
            doc! { "created_by": owner.as_str() },
            doc! { "updated_at": -1, "_id": -1 },
            page,
        )
        .await
    }

    pub async fn all(&self, page: PageRequest) -> DbResult<Page<Project>> {
        collect(&self.0, doc! {}, doc! { "updated_at": -1, "_id": -1 }, page).await
    }

    /// Hands out the next version number of a project to `claimant` (a
    /// job's attempt), atomically and once: the increment and the claimant
    /// are recorded in one update, so asked again — a redelivery after a
    /// crash before the job recorded its claim — it answers the same
    /// number, and no version is skipped.
    ///
    /// An update, then a read: each claim moves the counter once, so a
    /// claim's place from the end of the claims is its distance from the
    /// counter, whatever other claims came since. (Not one
    /// `findAndModify`: the local server walks the whole collection for
    /// one, where an update goes through the index.)
    pub async fn next_version(&self, id: &ProjectId, claimant: &str) -> DbResult<Version> {
        Ok(self.claim_next_version(id, claimant).await?.0)
    }

    /// [`Self::next_version`], with the project as read for the claim.
    ///
    /// The project keeps only the last [`VERSION_CLAIMS_KEPT`] claims, so
    /// its record stays small however many versions it has. A claimant reads
    /// its claim right after making it, or asks again within seconds (a
    /// redelivery); that many claims on one project in between would take
    /// 32 script-store instances each handling its 8 deliveries at once.
    pub async fn claim_next_version(&self, id: &ProjectId, claimant: &str) -> DbResult<(Version, Project)> {
        self.0
            .update_one(
                doc! { "project_id": id.as_str(), "version_claims": { "$ne": claimant } },
                doc! {
                    "$inc": { "version_counter": 1 },
                    "$push": { "version_claims": { "$each": [claimant], "$slice": -VERSION_CLAIMS_KEPT } },
                    "$set": { "updated_at": now() },
                },
            )
            .await?;
        let counter_error = || DbError::NotFound(format!("version counter of project {id}"));
        let project = self
            .get(id)
            .await?
            .ok_or_else(|| DbError::NotFound(format!("project {id}")))?;
        let at = project
            .version_claims
            .iter()
            .position(|c| c == claimant)
            .ok_or_else(counter_error)?;
        let behind = (project.version_claims.len() - 1 - at) as u32;
        let version = Version::new(project.version_counter.saturating_sub(behind)).map_err(|_| counter_error())?;
        Ok((version, project))
    }

    /// Records a stored script of `bytes` (its files together): the
    /// project's current version and latest input only move up. One write
    /// unless a newer version was recorded first.
    pub async fn record_script(
        &self,
        id: &ProjectId,
        version: Version,
        s3_input: &str,
        ai_model: Option<&str>,
        bytes: u64,
    ) -> DbResult<()> {
        let mut set = doc! {
            "status": to_bson(&ProjectStatus::Processing)?,
            "updated_at": now(),
            stored_key(version, "in"): bytes_bson(bytes),
        };
        if let Some(m) = ai_model {
            set.insert("ai_model_used", m);
        }
        let mut newest = set.clone();
        newest.insert("current_version", version.get());
        newest.insert("latest_s3_input", s3_input);
        let moved = self
            .0
            .update_one(
                doc! { "project_id": id.as_str(), "current_version": { "$lte": version.get() } },
                doc! { "$set": newest },
            )
            .await?;
        if moved.matched_count == 0 {
            self.0
                .update_one(doc! { "project_id": id.as_str() }, doc! { "$set": set })
                .await?;
        }
        Ok(())
    }

    pub async fn set_status(&self, id: &ProjectId, status: ProjectStatus) -> DbResult<()> {
        self.0
            .update_one(
                doc! { "project_id": id.as_str() },
                doc! { "$set": { "status": to_bson(&status)?, "updated_at": now() } },
            )
            .await?;
        Ok(())
    }

    /// Marks the project completed with the outputs of `version` (`bytes`
    /// of files together), unless a newer version has been stored since
    /// (its result will follow); the bytes are counted either way.
    pub async fn mark_completed(
        &self,
        id: &ProjectId,
        version: Version,
        outputs: &[String],
        bytes: u64,
    ) -> DbResult<()> {
        let stored = stored_key(version, "out");
        let done = self
            .0
            .update_one(
                doc! { "project_id": id.as_str(), "current_version": { "$lte": version.get() } },
                doc! { "$set": {
                    "status": to_bson(&ProjectStatus::Completed)?,
                    "latest_s3_output": outputs,
                    "updated_at": now(),
                    &stored: bytes_bson(bytes),
                } },
            )
            .await?;
        if done.matched_count == 0 {
            self.0
                .update_one(
                    doc! { "project_id": id.as_str() },
                    doc! { "$set": { &stored: bytes_bson(bytes) } },
                )
                .await?;
        }
        Ok(())
    }

    /// The bytes an owner's projects store, from the counts each project
    /// keeps of its versions' files (see `Project::stored_bytes`): one read
    /// of the owner's projects, however many files they hold.
    pub async fn stored_bytes_of_owner(&self, owner: &UserId) -> DbResult<u64> {
        let mut cursor = self
            .0
            .clone_with_type::<Document>()
            .find(doc! { "created_by": owner.as_str() })
            .projection(doc! { "stored_bytes": 1, "_id": 0 })
            .await?;
        let mut total = 0u64;
        while let Some(project) = cursor.try_next().await? {
            if let Ok(counts) = project.get_document("stored_bytes") {
                total += counts
                    .values()
                    .filter_map(|v| v.as_i64().or_else(|| v.as_i32().map(i64::from)))
                    .map(|n| u64::try_from(n).unwrap_or(0))
                    .sum::<u64>();
            }
        }
        Ok(total)
    }

    /// Updates name, description or other plain fields.
    pub async fn update_fields(&self, id: &ProjectId, mut set: Document) -> DbResult<bool> {
        set.insert("updated_at", now());
        let r = self
            .0
            .update_one(doc! { "project_id": id.as_str() }, doc! { "$set": set })
            .await?;
        Ok(r.matched_count == 1)
    }

    pub async fn delete(&self, id: &ProjectId) -> DbResult<bool> {
        Ok(self
            .0
            .delete_one(doc! { "project_id": id.as_str() })
            .await?
            .deleted_count
            == 1)
    }
}

#[derive(Clone)]
pub struct Messages(Collection<Message>);

impl Messages {
    /// Idempotent on `message_id`: a redelivered insert is a no-op.
    pub async fn insert(&self, message: &Message) -> DbResult<()> {
        match insert_unique(&self.0, message, format!("message {}", message.message_id)).await {
            Err(DbError::Duplicate(_)) => Ok(()),
            other => other,
        }
    }

    /// Notes on a message the version its script became and where it is.
    pub async fn attach_version(&self, message_id: &str, version: Version, s3_url: &str) -> DbResult<()> {
        self.0
            .update_one(
                doc! { "message_id": message_id },
                doc! { "$set": { "metadata.version": version.get(), "metadata.s3_url": s3_url, "updated_at": now() } },
            )
            .await?;
        Ok(())
    }

    /// A project's conversation, oldest first.
    pub async fn list(&self, project: &ProjectId, page: PageRequest) -> DbResult<Page<Message>> {
        collect(
            &self.0,
            doc! { "project_id": project.as_str() },
            doc! { "timestamp": 1, "_id": 1 },
            page,
        )
        .await
    }

    /// The project's last `n` messages, oldest first: what a model is
    /// shown of the conversation. One query, no count.
    pub async fn latest(&self, project: &ProjectId, n: u32) -> DbResult<Vec<Message>> {
        if n == 0 {
            return Ok(Vec::new()); // 0 would be no limit to the server
        }
        let mut newest: Vec<Message> = self
            .0
            .find(doc! { "project_id": project.as_str() })
            .sort(doc! { "timestamp": -1, "_id": -1 })
            .limit(i64::from(n))
            .await?
            .try_collect()
            .await?;
        newest.reverse();
        Ok(newest)
    }

    pub async fn count(&self, project: &ProjectId) -> DbResult<u64> {
        count_of(&self.0, project).await
    }

    pub async fn delete_by_project(&self, project: &ProjectId) -> DbResult<u64> {
        delete_of(&self.0, project).await
    }
}

#[derive(Clone)]
pub struct Files(Collection<FileRecord>);

impl Files {
    /// Records a file; recording the same key again replaces the record.
    pub async fn record(&self, file: &FileRecord) -> DbResult<()> {
        upsert_by(&self.0, "s3_key", &file.s3_key, file, file.created_at).await
    }

    /// Records files together, as [`Files::record`] each. New keys (the
    /// usual case) go in one write: the server makes one durable commit for
    /// it, where separate writes, even sent at once, cost a commit each.
    /// Keys recorded before (a completion done again) are then replaced one
    /// by one.
    pub async fn record_all(&self, files: &[FileRecord]) -> DbResult<()> {
        if files.is_empty() {
            return Ok(());
        }
        let Err(e) = self.0.insert_many(files).ordered(false).await else {
            return Ok(());
        };
        let recorded_before: Vec<usize> = match e.kind.as_ref() {
            mongodb::error::ErrorKind::InsertMany(mongodb::error::InsertManyError {
                write_errors: Some(errors),
                write_concern_error: None,
                ..
            }) if errors.iter().all(|w| w.code == DUPLICATE_KEY) => errors.iter().map(|w| w.index).collect(),
            _ => return Err(e.into()),
        };
        for i in recorded_before {
            if let Some(file) = files.get(i) {
                self.record(file).await?;
            }
        }
        Ok(())
    }

    /// A project's files, newest version first, optionally of one type.
    pub async fn list(
        &self,
        project: &ProjectId,
        file_type: Option<FileType>,
        page: PageRequest,
    ) -> DbResult<Page<FileRecord>> {
        let mut filter = doc! { "project_id": project.as_str() };
        if let Some(t) = file_type {
            filter.insert("file_type", t.as_str());
        }
        collect(&self.0, filter, doc! { "version": -1, "s3_key": 1 }, page).await
    }

    pub async fn latest_by_type(&self, project: &ProjectId, file_type: FileType) -> DbResult<Option<FileRecord>> {
        Ok(self
            .0
            .find_one(doc! { "project_id": project.as_str(), "file_type": file_type.as_str() })
            .sort(doc! { "version": -1, "timestamp": -1 })
            .await?)
    }

    pub async fn of_version(
        &self,
        project: &ProjectId,
        version: Version,
        file_type: FileType,
    ) -> DbResult<Vec<FileRecord>> {
        Ok(self
            .0
            .find(doc! { "project_id": project.as_str(), "version": version.get(), "file_type": file_type.as_str() })
            .sort(doc! { "s3_key": 1 })
            .await?
            .try_collect()
            .await?)
    }

    pub async fn count(&self, project: &ProjectId) -> DbResult<u64> {
        count_of(&self.0, project).await
    }

    /// Bytes stored for these projects' files, as their records state
    /// (`metadata.file_size`; quotas).
    pub async fn delete_by_project(&self, project: &ProjectId) -> DbResult<u64> {
        delete_of(&self.0, project).await
    }
}

#[derive(Clone)]
pub struct Logs(Collection<LogRecord>);

impl Logs {
    /// Idempotent on the log's S3 path.
    pub async fn record(&self, log: &LogRecord) -> DbResult<()> {
        upsert_by(&self.0, "s3_log_path", &log.s3_log_path, log, log.created_at).await
    }

    /// Newest first.
    pub async fn list(&self, project: &ProjectId, page: PageRequest) -> DbResult<Page<LogRecord>> {
        collect(
            &self.0,
            doc! { "project_id": project.as_str() },
            doc! { "timestamp": -1, "_id": -1 },
            page,
        )
        .await
    }

    pub async fn count(&self, project: &ProjectId) -> DbResult<u64> {
        count_of(&self.0, project).await
    }

    pub async fn delete_by_project(&self, project: &ProjectId) -> DbResult<u64> {
        delete_of(&self.0, project).await
    }
}

/// `job` with an update's `$set` (dotted paths name fields of embedded
/// documents, as the server reads them) and one history entry pushed, as the
/// server applies them.
fn applied(job: &Job, set: &Document, entry: Document) -> DbResult<Job> {
    fn set_path(doc: &mut Document, path: &str, value: Bson) {
        match path.split_once('.') {
            None => {
                doc.insert(path, value);
            }
            Some((head, rest)) => {
                if !matches!(doc.get(head), Some(Bson::Document(_))) {
                    doc.insert(head, Document::new());
                }
                if let Some(Bson::Document(inner)) = doc.get_mut(head) {
                    set_path(inner, rest, value);
                }
            }
        }
    }
    let mut doc = bson::to_document(job)?;
    for (path, value) in set {
        set_path(&mut doc, path, value.clone());
    }
    match doc.get_mut("history") {
        Some(Bson::Array(history)) => history.push(Bson::Document(entry)),
        _ => {
            doc.insert("history", vec![Bson::Document(entry)]);
        }
    }
    Ok(bson::from_document(doc)?)
}

/// The outcome of asking to move a job to a stage.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// The job moved; here it is, updated.
    Moved(Box<Job>),
    /// The job was already there or past it (a redelivery): nothing changed.
    Unchanged(Box<Job>),
}

#[derive(Clone)]
pub struct Jobs(Collection<Job>);

impl Jobs {
    pub async fn insert(&self, job: &Job) -> DbResult<()> {
        insert_unique(&self.0, job, format!("job {}", job.job_id)).await
    }

    pub async fn get(&self, id: JobId) -> DbResult<Option<Job>> {
        Ok(self.0.find_one(doc! { "job_id": id.to_string() }).await?)
    }

    /// Moves a job to `to` if that is a legal transition from where it is,
    /// atomically: the update matches only a legal predecessor stage. The
    /// job comes back as read just after.
    pub async fn transition(
        &self,
        id: JobId,
        to: JobStage,
        detail: Option<String>,
        set: Document,
    ) -> DbResult<Transition> {
        self.transition_where(id, to, detail, set, Document::new(), None).await
    }

    /// [`Jobs::transition`] only if the job also matches `only_if`. With
    /// `known`, the job as the caller last read it, a job that moved comes
    /// back as `known` with this change applied, without reading it again
    /// (a change made by someone else in between is not in it); one that
    /// did not move is read.
    pub async fn transition_where(
        &self,
        id: JobId,
        to: JobStage,
        detail: Option<String>,
        mut set: Document,
        only_if: Document,
        known: Option<&Job>,
    ) -> DbResult<Transition> {
        let from: Vec<Bson> = JobStage::predecessors(to)
            .iter()
            .map(to_bson)
            .collect::<DbResult<_>>()?;
        let at = now();
        set.insert("stage", to_bson(&to)?);
        set.insert("updated_at", at);
        if to.is_terminal() {
            set.insert("finished_at", at);
        }
        if let Some(d) = &detail {
            if matches!(to, JobStage::Failed | JobStage::Timeout | JobStage::Cancelled) {
                set.insert("error", d.as_str());
            }
        }
        let entry = doc! { "stage": to_bson(&to)?, "at": at, "detail": detail.clone() };
        let mut filter = only_if;
        filter.insert("job_id", id.to_string());
        filter.insert("stage", doc! { "$in": from });
        // An update, then a read: the update alone decides whether the job
        // moved, and the pair costs the server about 40 % less than one
        // findAndModify (which returns the job from the same write). The
        // job read may show a change made just after this one.
        let moved = self
            .0
            .update_one(
                filter,
                doc! { "$set": set.clone(), "$push": { "history": entry.clone() } },
            )
            .await?
            .matched_count
            == 1;
        if let (true, Some(known)) = (moved, known) {
            return Ok(Transition::Moved(Box::new(applied(known, &set, entry)?)));
        }
        let job = self
            .get(id)
            .await?
            .ok_or_else(|| DbError::NotFound(format!("job {id}")))?;
        Ok(if moved {
            Transition::Moved(Box::new(job))
        } else {
            Transition::Unchanged(Box::new(job))
        })
    }

    /// Sets plain fields without a stage change.
    pub async fn set(&self, id: JobId, mut set: Document) -> DbResult<()> {
        set.insert("updated_at", now());
        self.0
            .update_one(doc! { "job_id": id.to_string() }, doc! { "$set": set })
            .await?;
        Ok(())
    }

    /// Claims `candidate` as the version of attempt `slot` of the job unless
    /// that attempt already has one; returns the attempt's version either way.
    pub async fn claim_version(&self, id: JobId, slot: u32, candidate: Version) -> DbResult<Version> {
        let field = AttemptVersions::field(slot);
        // A plain update: whether it matched says whether the claim is ours
        // (findAndModify would also fetch the job, for nothing).
        let claimed = self
            .0
            .update_one(
                doc! { "job_id": id.to_string(), field.as_str(): Bson::Null },
                doc! { "$set": { field.as_str(): candidate.get(), "version": candidate.get(), "updated_at": now() } },
            )
            .await?;
        if claimed.matched_count == 1 {
            return Ok(candidate);
        }
        self.get(id)
            .await?
            .and_then(|j| j.versions.get(slot))
            .ok_or_else(|| DbError::NotFound(format!("job {id}")))
    }

    pub async fn list_by_project(&self, project: &ProjectId, page: PageRequest) -> DbResult<Page<Job>> {
        collect(
            &self.0,
            doc! { "project_id": project.as_str() },
            doc! { "created_at": -1, "_id": -1 },
            page,
        )
        .await
    }

    /// The project's newest job: one query, no count.
    pub async fn latest_by_project(&self, project: &ProjectId) -> DbResult<Option<Job>> {
        Ok(self
            .0
            .find_one(doc! { "project_id": project.as_str() })
            .sort(doc! { "created_at": -1, "_id": -1 })
            .await?)
    }

    /// The newest job of the project created before `job` (at `at`) and
    /// other than it: one query, no count.
    pub async fn previous_in_project(
        &self,
        project: &ProjectId,
        job: JobId,
        at: DateTime<Utc>,
    ) -> DbResult<Option<Job>> {
        Ok(self
            .0
            .find_one(doc! {
                "project_id": project.as_str(),
                "job_id": { "$ne": job.to_string() },
                "created_at": { "$lte": bson::DateTime::from_chrono(at) },
            })
            .sort(doc! { "created_at": -1, "_id": -1 })
            .await?)
    }

    /// Jobs in one of `stages` not updated since `before` (reconciliation).
    pub async fn stale(&self, stages: &[JobStage], before: DateTime<Utc>, limit: i64) -> DbResult<Vec<Job>> {
        let stages: Vec<Bson> = stages.iter().map(to_bson).collect::<DbResult<_>>()?;
        Ok(self
            .0
            .find(doc! {
                "stage": { "$in": stages },
                "updated_at": { "$lt": bson::DateTime::from_chrono(before) },
                // Held for their turn (fair share): waiting, not lost.
                "held": { "$ne": true },
            })
            .sort(doc! { "updated_at": 1 })
            .limit(limit)
            .await?
            .try_collect()
            .await?)
    }

    /// The newest job of `slug` waiting for FreeCAD's result, of `version`
    /// when given (an output in the bucket names its version, except in the
    /// flat layout of external workers).
    pub async fn awaiting_output(&self, slug: &ProjectSlug, version: Option<Version>) -> DbResult<Option<Job>> {
        let mut filter = doc! { "slug": slug.as_str(), "stage": to_bson(&JobStage::Processing)? };
        match version {
            Some(v) => filter.insert("version", v.get()),
            None => filter.insert("version", doc! { "$ne": Bson::Null }),
        };
        Ok(self
            .0
            .find_one(filter)
            .sort(doc! { "created_at": -1, "_id": -1 })
            .await?)
    }

    /// Those of `ids` that reached a terminal stage, in one query (a
    /// client waiting for many jobs asks once per look, not once per job).
    pub async fn finished_among(&self, ids: &[JobId]) -> DbResult<Vec<Job>> {
        let ids: Vec<String> = ids.iter().map(JobId::to_string).collect();
        Ok(self
            .0
            .find(doc! { "job_id": { "$in": ids }, "stage": { "$in": stages_where(JobStage::is_terminal)? } })
            .await?
            .try_collect()
            .await?)
    }

    /// Accepted jobs whose first message never reached the broker.
    pub async fn unpublished(&self, before: DateTime<Utc>, limit: i64) -> DbResult<Vec<Job>> {
        Ok(self
            .0
            .find(doc! { "published": false, "held": { "$ne": true }, "stage": to_bson(&JobStage::Queued)?, "created_at": { "$lt": bson::DateTime::from_chrono(before) } })
            .sort(doc! { "created_at": 1 })
            .limit(limit)
            .await?
            .try_collect()
            .await?)
    }

    pub async fn count_in_stage(&self, stage: JobStage) -> DbResult<u64> {
        Ok(self.0.count_documents(doc! { "stage": to_bson(&stage)? }).await?)
    }

    pub async fn delete_by_project(&self, project: &ProjectId) -> DbResult<u64> {
        delete_of(&self.0, project).await
    }
}

#[derive(Clone)]
pub struct Users(Collection<User>);

impl Users {
    /// Fails with `Duplicate` when the email is taken.
    pub async fn create(&self, user: &User) -> DbResult<()> {
        insert_unique(&self.0, user, format!("user {}", user.email)).await
    }

    pub async fn by_email(&self, email: &str) -> DbResult<Option<User>> {
        Ok(self.0.find_one(doc! { "email": email }).await?)
    }

    pub async fn get(&self, id: &UserId) -> DbResult<Option<User>> {
        Ok(self.0.find_one(doc! { "user_id": id.as_str() }).await?)
    }
}

/// When each user's last job started in FreeCAD, for fair scheduling.
#[derive(Clone)]
pub struct Schedule(Collection<Document>);

impl Schedule {
    /// Records that `user`'s job started now.
    pub async fn started(&self, user: &UserId) -> DbResult<()> {
        let opts = UpdateOptions::builder().upsert(true).build();
        self.0
            .update_one(
                doc! { "user_id": user.as_str() },
                doc! { "$set": { "last_started_at": bson::DateTime::now() } },
            )
            .with_options(opts)
            .await?;
        Ok(())
    }

    /// The last start of each of `users` that has one.
    pub async fn last_started(&self, users: &[&UserId]) -> DbResult<HashMap<String, DateTime<Utc>>> {
        let ids: Vec<&str> = users.iter().map(|u| u.as_str()).collect();
        let docs: Vec<Document> = self
            .0
            .find(doc! { "user_id": { "$in": ids } })
            .await?
            .try_collect()
            .await?;
        Ok(docs
            .into_iter()
            .filter_map(|d| {
                let user = d.get_str("user_id").ok()?.to_owned();
                let at = d.get_datetime("last_started_at").ok()?.to_chrono();
                Some((user, at))
            })
            .collect())
    }
}

impl Jobs {
    /// The jobs waiting for FreeCAD (their script store took them) that
    /// moved since `since`: each with its user and since when it waits.
    pub async fn waiting(&self, since: DateTime<Utc>) -> DbResult<Vec<(JobId, UserId, DateTime<Utc>)>> {
        let filter = doc! {
            "stage": to_bson(&JobStage::Uploading)?,
            "updated_at": { "$gte": bson::DateTime::from_chrono(since) },
        };
        // Only what the turn needs: under load, many jobs wait.
        let jobs: Vec<Document> = self
            .0
            .clone_with_type::<Document>()
            .find(filter)
            .projection(doc! { "_id": 0, "job_id": 1, "user_id": 1, "updated_at": 1 })
            .limit(500)
            .await?
            .try_collect()
            .await?;
        Ok(jobs
            .iter()
            .filter_map(|j| {
                let job = JobId::parse(j.get_str("job_id").ok()?).ok()?;
                let user = UserId::parse(j.get_str("user_id").ok()?).ok()?;
                Some((job, user, j.get_datetime("updated_at").ok()?.to_chrono()))
            })
            .collect())
    }

    /// How many of a user's jobs are not over yet (quotas).
    pub async fn count_live_by_user(&self, user: &UserId) -> DbResult<u64> {
        Ok(self
            .0
            .count_documents(doc! { "user_id": user.as_str(), "stage": { "$in": live_stages()? } })
            .await?)
    }

    /// A user's jobs that are not over yet, counted apart: those in the
    /// pipeline and those held back for their turn (fair share).
    pub async fn live_of_user(&self, user: &UserId) -> DbResult<LiveJobs> {
        // The user's live jobs through the (user, stage, held) index, the
        // held ones counted here: a `held: {$ne: true}` clause would have
        // the server walk all of the user's jobs, finished ones included.
        let live: Vec<Document> = self
            .0
            .clone_with_type::<Document>()
            .find(doc! { "user_id": user.as_str(), "stage": { "$in": live_stages()? } })
            .projection(doc! { "_id": 0, "held": 1 })
            .await?
            .try_collect()
            .await?;
        let held = live.iter().filter(|j| j.get_bool("held").unwrap_or(false)).count() as u64;
        Ok(LiveJobs {
            released: live.len() as u64 - held,
            held,
        })
    }

    /// Lets the user's oldest held job into the pipeline: clears its `held`
    /// mark and returns it (to publish), or `None` when none waits.
    ///
    /// The oldest is read through the (user, stage, held) index, then
    /// released only if it is still held: of two releasers, one moves it
    /// and the other goes on to the next. (Not one sorted `findAndModify`:
    /// the local server walks the whole collection for one.)
    pub async fn release_oldest_held(&self, user: &UserId) -> DbResult<Option<Job>> {
        let held = doc! { "user_id": user.as_str(), "stage": to_bson(&JobStage::Queued)?, "held": true };
        loop {
            let Some(oldest) = self
                .0
                .find_one(held.clone())
                .sort(doc! { "created_at": 1, "_id": 1 })
                .await?
            else {
                return Ok(None);
            };
            // As stored: to the millisecond.
            let at = bson::DateTime::now().to_chrono();
            let mut still_held = held.clone();
            still_held.insert("job_id", oldest.job_id.to_string());
            let released = self
                .0
                .update_one(
                    still_held,
                    doc! { "$set": {
                        "held": false,
                        "released_at": bson::DateTime::from_chrono(at),
                        "updated_at": bson::DateTime::from_chrono(at),
                    } },
                )
                .await?;
            if released.modified_count == 1 {
                return Ok(Some(Job {
                    held: false,
                    released_at: Some(at),
                    updated_at: at,
                    ..oldest
                }));
            }
        }
    }

    /// Users with a job held back for its turn, at most `limit`.
    pub async fn users_with_held(&self, limit: usize) -> DbResult<Vec<UserId>> {
        let users = self
            .0
            .distinct("user_id", doc! { "held": true, "stage": to_bson(&JobStage::Queued)? })
            .await?;
        Ok(users
            .into_iter()
            .filter_map(|u| u.as_str().and_then(|u| UserId::parse(u).ok()))
            .take(limit)
            .collect())
    }

    /// How many jobs a user started since `since`, and when the oldest of
    /// them started (quotas: when the window frees a place).
    pub async fn started_since(&self, user: &UserId, since: DateTime<Utc>) -> DbResult<(u64, Option<DateTime<Utc>>)> {
        let filter = doc! { "user_id": user.as_str(), "created_at": { "$gte": bson::DateTime::from_chrono(since) } };
        let count = self.0.count_documents(filter.clone()).await?;
        let oldest = if count == 0 {
            None
        } else {
            self.0
                .find_one(filter)
                .sort(doc! { "created_at": 1 })
                .await?
                .map(|j| j.created_at)
        };
        Ok((count, oldest))
    }

    /// A user's jobs across projects, newest first (the API's job list).
    pub async fn list_by_user(&self, user: &UserId, page: PageRequest) -> DbResult<Page<Job>> {
        collect(
            &self.0,
            doc! { "user_id": user.as_str() },
            doc! { "created_at": -1, "_id": -1 },
            page,
        )
        .await
    }
}

/// The stages of a job that is not over.
fn live_stages() -> DbResult<Vec<Bson>> {
    stages_where(|s| !s.is_terminal())
}

/// The stages that `keep`, as the database stores them.
fn stages_where(keep: impl Fn(JobStage) -> bool) -> DbResult<Vec<Bson>> {
    JobStage::ALL
        .into_iter()
        .filter(|s| keep(*s))
        .map(|s| to_bson(&s))
        .collect()
}
