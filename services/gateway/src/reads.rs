//! A short-lived cache of the documents behind the reads clients poll.
//!
//! `GET /api/projects/{project}/status` and `GET /api/jobs/{job_id}` are
//! asked again and again while a job runs, and each costs two reads of the
//! document server, which is what the whole system waits on under load. So
//! the gateway keeps the project and job documents those reads found for a
//! short while (`READ_CACHE_SECS`, one second by default; `0` turns the
//! cache off) and answers the next poll from memory. Each entry lives
//! between half and the whole of that, at random: entries read together
//! (a client's project and job, a crowd that arrived at once) are not all
//! read again in the same instant.
//!
//! What a client saw happen, a cached read has seen too:
//! - a job's stage is stored before its `job.status` is published, and every
//!   instance hears every `job.status` ([`crate::events`]): on one, the
//!   instance forgets everything it keeps of the job's project (the
//!   project, its jobs, its latest job) before any stream sends it on;
//! - a request that may write (any method but `GET`, `HEAD` and
//!   `OPTIONS`) forgets everything of its caller when it ends
//!   ([`forget_writers`]), so a client reads its own writes;
//! - a read that overlaps a forgetting keeps nothing of what it found (a
//!   generation count), so an answer read before a change is never kept
//!   after it.
//!
//! What no event announces, such as a project renamed or deleted through
//! another gateway instance, or a `job.status` lost while the broker was
//! down, shows once the entry expires. Only documents found are kept: a
//! missing one is looked up again every time. Writes never read through
//! the cache ([`Freshness::Fresh`]).

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};

use domain::documents::{Job, Project};
use domain::{JobId, ProjectId, ProjectSlug, UserId};
use platform::metrics;
use platform::mongo::{Db, DbResult};

use crate::auth::AuthUser;
use crate::startup::AppState;

/// Whether a read may be answered from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Straight from the database: for anything that writes after reading.
    Fresh,
    /// At most the cache's lifetime old, and never older than an event or
    /// a write this instance has seen.
    Recent,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Project(ProjectId),
    Slug(ProjectSlug),
    Job(JobId),
    /// The newest job of a project.
    Latest(ProjectId),
}

#[derive(Clone)]
enum Doc {
    Project(Arc<Project>),
    Job(Arc<Job>),
}

struct Entry {
    doc: Doc,
    /// The project and the owner the document belongs to: what forgetting
    /// goes by.
    project: ProjectId,
    owner: UserId,
    expires: Instant,
}

struct Shelf {
    /// Counts forgettings; a read keeps what it found only if none
    /// happened while it ran.
    generation: u64,
    entries: HashMap<Key, Entry>,
    /// When the expired entries were last let go.
    swept: Instant,
}

/// A document the cache can keep.
trait Cached: Sized {
    fn wrap(doc: Arc<Self>) -> Doc;
    fn unwrap(doc: &Doc) -> Option<Arc<Self>>;
    fn belongs_to(&self) -> (&ProjectId, &UserId);
}

impl Cached for Project {
    fn wrap(doc: Arc<Self>) -> Doc {
        Doc::Project(doc)
    }
    fn unwrap(doc: &Doc) -> Option<Arc<Self>> {
        match doc {
            Doc::Project(p) => Some(p.clone()),
            Doc::Job(_) => None,
        }
    }
    fn belongs_to(&self) -> (&ProjectId, &UserId) {
        (&self.project_id, &self.created_by)
    }
}

impl Cached for Job {
    fn wrap(doc: Arc<Self>) -> Doc {
        Doc::Job(doc)
    }
    fn unwrap(doc: &Doc) -> Option<Arc<Self>> {
        match doc {
            Doc::Job(j) => Some(j.clone()),
            Doc::Project(_) => None,
        }
    }
    fn belongs_to(&self) -> (&ProjectId, &UserId) {
        (&self.project_id, &self.user_id)
    }
}

pub struct ReadCache {
    lifetime: Duration,
    shelf: Mutex<Shelf>,
}

impl ReadCache {
    /// Entries kept at most; past it, the expired go at once, and if that
    /// is not enough, all.
    const CAPACITY: usize = 20_000;

    /// A cache whose entries live `lifetime` (zero: nothing is kept).
    pub fn new(lifetime: Duration) -> Self {
        Self {
            lifetime,
            shelf: Mutex::new(Shelf {
                generation: 0,
                entries: HashMap::new(),
                swept: Instant::now(),
            }),
        }
    }

    fn shelf(&self) -> MutexGuard<'_, Shelf> {
        self.shelf.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The project with this id.
    pub async fn project(&self, db: &Db, id: &ProjectId, freshness: Freshness) -> DbResult<Option<Arc<Project>>> {
        let key = Key::Project(id.clone());
        self.read(key, freshness, db.projects().get(id)).await
    }

    /// The project with this slug.
    pub async fn project_by_slug(
        &self,
        db: &Db,
        slug: &ProjectSlug,
        freshness: Freshness,
    ) -> DbResult<Option<Arc<Project>>> {
        let key = Key::Slug(slug.clone());
        self.read(key, freshness, db.projects().get_by_slug(slug)).await
    }

    /// The job with this id.
    pub async fn job(&self, db: &Db, id: JobId, freshness: Freshness) -> DbResult<Option<Arc<Job>>> {
        self.read(Key::Job(id), freshness, db.jobs().get(id)).await
    }

    /// The project's newest job.
    pub async fn latest_job(&self, db: &Db, project: &ProjectId, freshness: Freshness) -> DbResult<Option<Arc<Job>>> {
        let key = Key::Latest(project.clone());
        self.read(key, freshness, db.jobs().latest_by_project(project)).await
    }

    async fn read<T: Cached>(
        &self,
        key: Key,
        freshness: Freshness,
        load: impl Future<Output = DbResult<Option<T>>>,
    ) -> DbResult<Option<Arc<T>>> {
        if freshness == Freshness::Fresh || self.lifetime.is_zero() {
            return Ok(load.await?.map(Arc::new));
        }
        let generation = {
            let shelf = self.shelf();
            let hit = shelf
                .entries
                .get(&key)
                .filter(|e| e.expires > Instant::now())
                .and_then(|e| T::unwrap(&e.doc));
            if hit.is_some() {
                metrics::event("read_cache", "hit");
                return Ok(hit);
            }
            shelf.generation
        };
        metrics::event("read_cache", "miss");
        let found = load.await?.map(Arc::new);
        if let Some(doc) = &found {
            let (project, owner) = doc.belongs_to();
            let entry = Entry {
                doc: T::wrap(doc.clone()),
                project: project.clone(),
                owner: owner.clone(),
                expires: self.expiry(),
            };
            let mut shelf = self.shelf();
            if shelf.generation == generation {
                // Expired entries go once a lifetime (they are never read
                // again, and may be large), or at once when full.
                let now = Instant::now();
                if shelf.entries.len() >= Self::CAPACITY || now >= shelf.swept + self.lifetime {
                    shelf.entries.retain(|_, e| e.expires > now);
                    shelf.swept = now;
                    if shelf.entries.len() >= Self::CAPACITY {
                        shelf.entries.clear();
                    }
                }
                shelf.entries.insert(key, entry);
            }
        }
        Ok(found)
    }

    /// When an entry kept now expires: after half to all of the lifetime.
    fn expiry(&self) -> Instant {
        let now = Instant::now();
        let draw = RandomState::new().hash_one(now) as f64 / u64::MAX as f64;
        now + self.lifetime.mul_f64(0.5 + 0.5 * draw)
    }

    /// Forgets everything of `project`: it, its jobs, its newest job.
    pub fn forget_project(&self, project: &ProjectId) {
        self.forget(|e| e.project == *project);
    }

    /// Forgets everything `owner` owns.
    pub fn forget_owner(&self, owner: &UserId) {
        self.forget(|e| e.owner == *owner);
    }

    fn forget(&self, gone: impl Fn(&Entry) -> bool) {
        let mut shelf = self.shelf();
        shelf.generation += 1;
        shelf.entries.retain(|_, e| !gone(e));
    }

    /// Entries kept now (for tests).
    pub fn len(&self) -> usize {
        self.shelf().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Middleware: a request that may write forgets what the cache keeps of
/// its caller once it is answered, so the caller's next read sees the
/// write. Requests without a signed-in caller write nothing cached.
pub async fn forget_writers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let res = next.call(req).await?;
    if writes {
        let request = res.request();
        let user = request.extensions().get::<AuthUser>().map(|u| u.user_id.clone());
        if let (Some(user), Some(state)) = (user, request.app_data::<web::Data<AppState>>()) {
            state.reads.forget_owner(&user);
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use domain::documents::JobKind;
    use domain::messages::JobStatus;
    use domain::{Envelope, JobStage};

    use super::*;

    fn job(owner: &UserId) -> Job {
        let project = platform::jobs::new_project("read cache", owner).unwrap();
        let first = Envelope::new(
            JobId::generate(),
            project.project_id.clone(),
            JobStatus::new(project.slug.clone(), JobStage::Queued),
        );
        platform::jobs::new_job(&project, owner, JobKind::Generate, &first)
    }

    /// Reads `job` through the cache, counting the database reads.
    async fn read(cache: &ReadCache, job: &Job, freshness: Freshness, loads: &AtomicUsize) -> Option<Arc<Job>> {
        let load = async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok(Some(job.clone()))
        };
        cache.read(Key::Job(job.job_id), freshness, load).await.unwrap()
    }

    #[tokio::test]
    async fn a_kept_document_is_served_until_its_project_or_owner_is_forgotten() {
        let cache = ReadCache::new(Duration::from_secs(60));
        let owner = UserId::generate();
        let j = job(&owner);
        let loads = AtomicUsize::new(0);
        for _ in 0..3 {
            assert_eq!(
                read(&cache, &j, Freshness::Recent, &loads).await.unwrap().job_id,
                j.job_id
            );
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1, "read once, then served from memory");
        read(&cache, &j, Freshness::Fresh, &loads).await;
        assert_eq!(
            loads.load(Ordering::SeqCst),
            2,
            "a fresh read always goes to the database"
        );

        cache.forget_project(&ProjectId::generate());
        cache.forget_owner(&UserId::generate());
        assert_eq!(cache.len(), 1, "others' forgetting leaves it");
        cache.forget_project(&j.project_id);
        assert!(cache.is_empty());
        read(&cache, &j, Freshness::Recent, &loads).await;
        cache.forget_owner(&owner);
        assert!(cache.is_empty());
        read(&cache, &j, Freshness::Recent, &loads).await;
        assert_eq!(loads.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_read_that_overlaps_a_forgetting_keeps_nothing() {
        let cache = ReadCache::new(Duration::from_secs(60));
        let j = job(&UserId::generate());
        let load = async {
            // The change lands (and is announced) while the read is out.
            cache.forget_project(&j.project_id);
            Ok(Some(j.clone()))
        };
        let got = cache.read(Key::Job(j.job_id), Freshness::Recent, load).await.unwrap();
        assert!(got.is_some(), "the answer is still given");
        assert!(cache.is_empty(), "but not kept: it may predate the change");
    }

    #[tokio::test]
    async fn entries_expire_and_a_zero_lifetime_keeps_nothing() {
        let j = job(&UserId::generate());
        let loads = AtomicUsize::new(0);
        let short = ReadCache::new(Duration::from_millis(20));
        read(&short, &j, Freshness::Recent, &loads).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
        read(&short, &j, Freshness::Recent, &loads).await;
        assert_eq!(loads.load(Ordering::SeqCst), 2, "an expired entry is read again");

        let other = job(&UserId::generate());
        read(&short, &other, Freshness::Recent, &loads).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
        read(&short, &j, Freshness::Recent, &loads).await;
        assert_eq!(short.len(), 1, "expired entries are let go once a lifetime has passed");

        let off = ReadCache::new(Duration::ZERO);
        let loads = AtomicUsize::new(0);
        read(&off, &j, Freshness::Recent, &loads).await;
        read(&off, &j, Freshness::Recent, &loads).await;
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        assert!(off.is_empty());
    }

    #[tokio::test]
    async fn missing_documents_are_not_kept() {
        let cache = ReadCache::new(Duration::from_secs(60));
        let loads = AtomicUsize::new(0);
        for _ in 0..2 {
            let load = async {
                loads.fetch_add(1, Ordering::SeqCst);
                Ok(None::<Job>)
            };
            assert!(cache
                .read(Key::Job(JobId::generate()), Freshness::Recent, load)
                .await
                .unwrap()
                .is_none());
        }
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        assert!(cache.is_empty());
    }
}
