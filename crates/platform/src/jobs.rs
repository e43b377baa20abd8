//! Job bookkeeping shared by the services: accepting a job (write first,
//! publish after), moving it through its stages with a `job.status` event
//! for each move, and re-publishing jobs whose first message never left.

use std::time::Duration;

use bson::{doc, Document};
use chrono::Utc;

use domain::documents::{Job, JobKind, Project};
use domain::messages::JobStatus;
use domain::{
    Diagnosis, Envelope, JobId, JobStage, Payload, ProjectId, ProjectSlug, ProjectStatus, RawEnvelope, UserId, Version,
};

use crate::bus::{Bus, BusError, HandlerError};
use crate::metrics;
use crate::mongo::{Db, DbError, Transition};
use crate::s3::S3Error;

impl From<DbError> for HandlerError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Decode(_) | DbError::Encode(_) => HandlerError::permanent(e),
            _ => HandlerError::transient(e),
        }
    }
}

impl From<S3Error> for HandlerError {
    fn from(e: S3Error) -> Self {
        HandlerError::transient(e)
    }
}

impl From<BusError> for HandlerError {
    fn from(e: BusError) -> Self {
        HandlerError::transient(e)
    }
}

/// A new project document, owned by `owner`, its slug derived from `name`
/// (made unique on insert).
pub fn new_project(name: &str, owner: &UserId) -> Result<Project, domain::IdError> {
    let now = Utc::now();
    Ok(Project {
        project_id: ProjectId::generate(),
        project_name: name.trim().to_owned(),
        slug: ProjectSlug::derive(name)?,
        created_by: owner.clone(),
        created_at: now,
        updated_at: now,
        current_version: 0,
        version_counter: 0,
        version_claims: Vec::new(),
        ai_model_used: None,
        status: ProjectStatus::Draft,
        latest_s3_input: None,
        latest_s3_output: Vec::new(),
        stored_bytes: Default::default(),
        material: None,
        metadata: Default::default(),
    })
}

/// A new job of `project` that starts with the message `first`.
pub fn new_job<P: Payload>(project: &Project, user: &UserId, kind: JobKind, first: &Envelope<P>) -> Job {
    let now = Utc::now();
    let raw = first.clone().into_raw();
    Job {
        job_id: first.job_id,
        project_id: project.project_id.clone(),
        slug: project.slug.clone(),
        user_id: user.clone(),
        kind,
        stage: JobStage::Queued,
        history: Vec::new(),
        request: bson::to_document(&raw).expect("envelopes convert to BSON"),
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
        request_id: first.request_id.clone(),
        created_at: now,
        updated_at: now,
        finished_at: None,
    }
}

/// Whether the job's first message reached the broker at acceptance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    Published,
    /// Stored; the reconciler will publish it once the broker is back.
    Deferred,
    /// Stored and waiting for its turn: its user already has the fair share
    /// of jobs in the pipeline ([`Db::fair_share`]); it is published when
    /// one of them ends.
    Held,
}

/// Accepts a job: it is stored before anything is published, so a job that
/// was accepted always exists, even if the broker is down right now.
///
/// Fair share: a user has at most [`Db::fair_share`] jobs in the pipeline;
/// a job beyond that is stored held and let in, oldest first, as the
/// user's earlier jobs end ([`release_held`]). So however long one user's
/// backlog, another user's job finds at most that many of it ahead in any
/// stage's queue, on any bus and with any number of instances (the count
/// lives in the database). Two gateways accepting at the same moment may
/// each let one more in: the share is kept about, not exactly.
pub async fn submit(db: &Db, bus: &dyn Bus, job: &Job) -> Result<Submitted, DbError> {
    let share = db.fair_share();
    if share > 0 && db.jobs().live_of_user(&job.user_id).await?.released >= u64::from(share) {
        let held = Job {
            held: true,
            ..job.clone()
        };
        db.jobs().insert(&held).await?;
        tracing::debug!(job_id = %job.job_id, user_id = %job.user_id, share, "job held for its turn");
        return Ok(Submitted::Held);
    }
    db.jobs().insert(job).await?;
    Ok(publish_request(db, bus, job).await)
}

/// Lets `user`'s held jobs into the pipeline while the user has fewer than
/// the fair share there, oldest first; returns how many it let in. Called
/// when one of the user's jobs ends, and by the reconciler as a safety net
/// (a service stopped between the two loses nothing).
pub async fn release_held(db: &Db, bus: &dyn Bus, user: &UserId) -> Result<usize, DbError> {
    let share = u64::from(db.fair_share());
    let mut released = 0;
    loop {
        // Counted first: the release is a write, and there is usually
        // nothing to release.
        let live = db.jobs().live_of_user(user).await?;
        if live.held == 0 || (share > 0 && live.released >= share) {
            return Ok(released);
        }
        let Some(job) = db.jobs().release_oldest_held(user).await? else {
            return Ok(released);
        };
        tracing::debug!(job_id = %job.job_id, user_id = %user, "held job let in");
        publish_request(db, bus, &job).await;
        released += 1;
    }
}

/// [`release_held`] for every user with held jobs (the reconciler's sweep).
pub async fn release_all_held(db: &Db, bus: &dyn Bus) -> Result<usize, DbError> {
    let mut released = 0;
    for user in db.jobs().users_with_held(1000).await? {
        released += release_held(db, bus, &user).await?;
    }
    Ok(released)
}

async fn publish_request(db: &Db, bus: &dyn Bus, job: &Job) -> Submitted {
    let raw: RawEnvelope = match bson::from_document(job.request.clone()) {
        Ok(raw) => raw,
        Err(e) => {
            tracing::error!(job_id = %job.job_id, error = %e, "stored request is not an envelope");
            return Submitted::Deferred;
        }
    };
    match bus.publish(&raw).await {
        Ok(()) => {
            if let Err(e) = db.jobs().set(job.job_id, doc! { "published": true }).await {
                // Published but not marked: a re-publish is harmless,
                // handlers are idempotent.
                tracing::warn!(job_id = %job.job_id, error = %e, "could not mark the job published");
            }
            Submitted::Published
        }
        Err(e) => {
            tracing::warn!(job_id = %job.job_id, error = %e, "broker unavailable; the job will be published later");
            Submitted::Deferred
        }
    }
}

/// Publishes the jobs that were accepted while the broker was down.
pub async fn republish_unpublished(db: &Db, bus: &dyn Bus, older_than: Duration) -> Result<usize, DbError> {
    let before = Utc::now() - chrono::Duration::from_std(older_than).unwrap_or_default();
    let jobs = db.jobs().unpublished(before, 100).await?;
    let mut n = 0;
    for job in &jobs {
        if publish_request(db, bus, job).await == Submitted::Published {
            n += 1;
        }
    }
    Ok(n)
}

/// Where a stage change comes from: the message being handled.
pub struct Origin<'a> {
    pub job_id: JobId,
    pub project_id: &'a ProjectId,
    pub request_id: Option<&'a str>,
    pub traceparent: Option<&'a str>,
}

impl<'a> Origin<'a> {
    pub fn of(raw: &'a RawEnvelope) -> Self {
        Self {
            job_id: raw.job_id,
            project_id: &raw.project_id,
            request_id: raw.request_id.as_deref(),
            traceparent: raw.traceparent.as_deref(),
        }
    }

    pub fn of_job(job: &'a Job) -> Self {
        Self {
            job_id: job.job_id,
            project_id: &job.project_id,
            request_id: job.request_id.as_deref(),
            traceparent: None,
        }
    }

    /// A message of the same job, carrying its request id and trace.
    pub fn message<P: Payload>(&self, payload: P) -> Envelope<P> {
        let mut env = Envelope::new(self.job_id, self.project_id.clone(), payload);
        env.request_id = self.request_id.map(str::to_owned);
        env.traceparent = self.traceparent.map(str::to_owned);
        env
    }
}

/// A stage change with what to store alongside it.
pub struct Advance {
    pub stage: JobStage,
    pub version: Option<Version>,
    pub detail: Option<String>,
    pub set: Document,
    /// Further conditions on the job for the move (a claim made with it).
    pub only_if: Document,
    /// The job as the caller read it (a handler's job): the moved job is
    /// this one with the change applied, not read back.
    pub known: Option<Job>,
}

impl Advance {
    pub fn to(stage: JobStage) -> Self {
        Self {
            stage,
            version: None,
            detail: None,
            set: Document::new(),
            only_if: Document::new(),
            known: None,
        }
    }
    pub fn version(mut self, v: Version) -> Self {
        self.version = Some(v);
        self
    }
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
    pub fn set(mut self, set: Document) -> Self {
        self.set = set;
        self
    }
    pub fn only_if(mut self, filter: Document) -> Self {
        self.only_if = filter;
        self
    }
    /// Moves `job`, as the caller read it, saving a read of the job after
    /// the change: for a handler whose job nobody else changes meanwhile.
    pub fn on(mut self, job: &Job) -> Self {
        self.known = Some(job.clone());
        self
    }
}

/// Moves the job and, when it moved, tells everyone with `job.status` and
/// records how long the previous stage took.
pub async fn advance(
    db: &Db,
    bus: &dyn Bus,
    origin: &Origin<'_>,
    slug: &ProjectSlug,
    step: Advance,
) -> Result<Transition, HandlerError> {
    let transition = db
        .jobs()
        .transition_where(
            origin.job_id,
            step.stage,
            step.detail.clone(),
            step.set,
            step.only_if,
            step.known.as_ref(),
        )
        .await?;
    if let Transition::Moved(job) = &transition {
        let entered = job.history.iter().rev().nth(1).map(|h| (h.stage, h.at));
        let (prev, since) = entered.unwrap_or((JobStage::Queued, job.created_at));
        let spent = (Utc::now() - since).to_std().unwrap_or_default().as_secs_f64();
        metrics::stage_duration(prev.as_str(), spent);
        let mut status = JobStatus::new(slug.clone(), step.stage);
        status.version = step.version.or(job.version);
        status.detail = step.detail;
        if step.stage.is_terminal() {
            status.verification = job.verification.clone();
            status.diagnosis = job.diagnosis.clone();
            status.question = job.question.clone();
        }
        bus.publish(&origin.message(status).into_raw()).await?;
        if step.stage.is_terminal() {
            // A place in the pipeline is free: the user's next held job
            // takes it (the reconciler catches up if this fails).
            if let Err(e) = release_held(db, bus, &job.user_id).await {
                tracing::warn!(user_id = %job.user_id, error = %e, "could not let a held job in; the reconciler will");
            }
        }
    }
    Ok(transition)
}

/// How recent another user's waiting job must be to hold back this
/// user's: a job whose message was lost cannot hold others for longer.
pub const FAIR_WAIT_WINDOW: Duration = Duration::from_secs(120);

/// Whose turn it is on FreeCAD, for one user's job (see [`turn`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// No other user's job waits: it runs, and the turn is not recorded.
    Free,
    /// Other users' jobs wait, and this user was served least recently:
    /// it runs, and the turn is recorded.
    Mine,
    /// Another user with a job waiting was served less recently (or never):
    /// that job goes first.
    Theirs,
}

/// How old a [`Turns`] view may be before a turn asks the database again.
pub const TURN_VIEW_AGE: Duration = Duration::from_millis(100);

/// How long a job waits before it holds other users' jobs back even when
/// the worker has not come across it: by then its script is stored and its
/// message in the queue (the script store's work takes tens of
/// milliseconds).
pub const TURN_SETTLE: Duration = Duration::from_millis(500);

/// Fair scheduling across users, as one worker process sees it: whether a
/// job runs now. Another user's job goes first when that user has a job
/// waiting for FreeCAD and was served less recently (or never): the least
/// recently served user's job runs next, so one user's backlog delays
/// another's job by about one job per FreeCAD slot, with any number of
/// workers. A turn is recorded only when others wait, the only time it is
/// compared: a user alone on the system costs no write per job.
///
/// A job waits for FreeCAD from when the script store takes it, before its
/// message reaches the queue. Another user's job therefore holds this one
/// back only once it is in the queue for sure: this worker has come across
/// it there, or [`TURN_SETTLE`] has passed. Otherwise FreeCAD would stand
/// idle while the script store is still storing the next user's script.
///
/// Who waits and when each was last served is read from the database at
/// most every [`TURN_VIEW_AGE`] (or sooner, when a job the view does not
/// hold asks), shared by the process's handlers and kept current by its own
/// starts: a worker going through a queue of many users' jobs looks up the
/// turn once per view, not once per job it passes over. Another worker's
/// starts are seen when the view is read again.
pub struct Turns {
    db: Db,
    age: Duration,
    settle: Duration,
    view: tokio::sync::Mutex<TurnView>,
}

#[derive(Default)]
struct TurnView {
    read_at: Option<std::time::Instant>,
    /// Jobs waiting for FreeCAD: their users, and since when they wait.
    waiting: std::collections::HashMap<JobId, (UserId, chrono::DateTime<Utc>)>,
    /// Waiting jobs this worker has come across in its queue.
    seen: std::collections::HashSet<JobId>,
    /// Each waiting user's last recorded start.
    last: std::collections::HashMap<String, chrono::DateTime<Utc>>,
}

impl Turns {
    pub fn new(db: Db) -> Self {
        Self::with_timing(db, TURN_VIEW_AGE, TURN_SETTLE)
    }

    /// A view read again once `age` has passed (zero: at every turn), in
    /// which an unseen job holds others back `settle` after it began waiting.
    pub fn with_timing(db: Db, age: Duration, settle: Duration) -> Self {
        Self {
            db,
            age,
            settle,
            view: tokio::sync::Mutex::new(TurnView::default()),
        }
    }

    /// Whether `job` (waiting for FreeCAD) runs now.
    pub async fn turn(&self, job: &Job) -> Result<Turn, HandlerError> {
        let mut view = self.view.lock().await;
        if !view.holds(job.job_id, self.age) {
            let since = Utc::now() - chrono::Duration::from_std(FAIR_WAIT_WINDOW).unwrap_or_default();
            let waiting: std::collections::HashMap<_, _> = self
                .db
                .jobs()
                .waiting(since)
                .await?
                .into_iter()
                .map(|(job, user, at)| (job, (user, at)))
                .collect();
            let mut users: Vec<&UserId> = waiting.values().map(|(u, _)| u).collect();
            users.sort_by(|a, b| a.as_str().cmp(b.as_str()));
            users.dedup();
            // Alone: nothing to compare, and nothing more to read.
            let last = if users.iter().any(|u| **u != job.user_id) {
                users.push(&job.user_id);
                self.db.schedule().last_started(&users).await?
            } else {
                Default::default()
            };
            let mut seen = std::mem::take(&mut view.seen);
            seen.retain(|id| waiting.contains_key(id));
            *view = TurnView {
                read_at: Some(std::time::Instant::now()),
                waiting,
                seen,
                last,
            };
        }
        view.seen.insert(job.job_id);
        Ok(view.turn(&job.user_id, self.settle))
    }

    /// Whether the job `job_id` of `user` is passed over by the current
    /// view without reading anything: the view is fresh, holds the job as
    /// waiting, and another user goes first. `false` means "ask
    /// [`Turns::turn`]".
    pub async fn passes_over(&self, job_id: JobId, user: &UserId) -> bool {
        let mut view = self.view.lock().await;
        // Come across in the queue: kept through the next reading if it
        // still waits then.
        view.seen.insert(job_id);
        view.holds(job_id, self.age) && view.turn(user, self.settle) == Turn::Theirs
    }

    /// `job` starts on its `turn`: it no longer waits, and a turn taken
    /// among others is recorded.
    pub async fn started(&self, job: &Job, turn: Turn) -> Result<(), HandlerError> {
        {
            let mut view = self.view.lock().await;
            view.waiting.remove(&job.job_id);
            view.seen.remove(&job.job_id);
            if turn == Turn::Mine {
                view.last.insert(job.user_id.as_str().to_owned(), Utc::now());
            }
        }
        if turn == Turn::Mine {
            self.db.schedule().started(&job.user_id).await?;
        }
        Ok(())
    }
}

impl TurnView {
    /// Whether the view, younger than `age`, holds `job` as waiting.
    fn holds(&self, job: JobId, age: Duration) -> bool {
        self.read_at.is_some_and(|at| at.elapsed() < age) && self.waiting.contains_key(&job)
    }

    fn turn(&self, user: &UserId, settle: Duration) -> Turn {
        let mut others = self.waiting.iter().filter(|(_, (u, _))| u != user).peekable();
        if others.peek().is_none() {
            return Turn::Free;
        }
        let Some(mine) = self.last.get(user.as_str()) else {
            return Turn::Mine; // never served: nobody goes before them
        };
        // Only a job surely in the queue holds this one back.
        let settled = Utc::now() - chrono::Duration::from_std(settle).unwrap_or_default();
        let theirs_first = others
            .filter(|(id, (_, at))| *at <= settled || self.seen.contains(*id))
            .any(|(_, (other, _))| self.last.get(other.as_str()).is_none_or(|theirs| theirs < mine));
        if theirs_first {
            Turn::Theirs
        } else {
            Turn::Mine
        }
    }
}

/// The job if it still wants work; `None` when it is gone or finished (a
/// cancelled job's late messages are dropped).
pub async fn live_job(db: &Db, id: JobId) -> Result<Option<Job>, HandlerError> {
    Ok(db.jobs().get(id).await?.filter(|j| !j.stage.is_terminal()))
}

/// Ends a job as failed with `reason` and marks its project in error; used
/// when a message is dead-lettered or a stage fails for good.
pub async fn fail(
    db: &Db,
    bus: &dyn Bus,
    origin: &Origin<'_>,
    slug: &ProjectSlug,
    reason: &str,
) -> Result<(), HandlerError> {
    fail_with(db, bus, origin, slug, reason, None).await
}

/// [`fail`], keeping why by class and line on the job and its final event.
pub async fn fail_with(
    db: &Db,
    bus: &dyn Bus,
    origin: &Origin<'_>,
    slug: &ProjectSlug,
    reason: &str,
    diagnosis: Option<&Diagnosis>,
) -> Result<(), HandlerError> {
    let mut step = Advance::to(JobStage::Failed).detail(reason);
    if let Some(d) = diagnosis {
        step = step.set(doc! { "diagnosis": bson::to_bson(d).map_err(HandlerError::permanent)? });
    }
    let t = advance(db, bus, origin, slug, step).await?;
    if matches!(t, Transition::Moved(_)) {
        db.projects()
            .set_status(origin.project_id, ProjectStatus::Error)
            .await?;
    }
    Ok(())
}

/// The slug a raw message is about, when its payload names one.
pub fn slug_of(raw: &RawEnvelope) -> Option<ProjectSlug> {
    raw.payload
        .get("slug")
        .and_then(|s| s.as_str())
        .and_then(|s| ProjectSlug::parse(s).ok())
}

/// The dead-letter hook every worker shares: the job fails with the reason.
pub async fn fail_dead_lettered(db: &Db, bus: &dyn Bus, raw: &RawEnvelope, reason: &str) {
    let Some(slug) = slug_of(raw) else { return };
    if let Err(e) = fail(db, bus, &Origin::of(raw), &slug, reason).await {
        tracing::error!(job_id = %raw.job_id, error = %e, "could not mark the dead-lettered job failed");
    }
}
