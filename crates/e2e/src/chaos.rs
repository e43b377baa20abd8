//! A soak under faults: catalogue jobs from several users at a steady rate
//! while a nemesis breaks one piece of the system at a time (a service
//! instance killed -9, the broker, the database server or the object store
//! restarted), then checks that nothing was lost, duplicated or left behind.
//!
//! What can be broken, and how it comes back, is a [`Cluster`]: the system
//! `make run` started ([`local::LocalSystem`], used by `make chaos`) or a
//! test's own processes ([`isolated::IsolatedSystem`], used by the short run
//! in `make test`). The driver and the checks are the same for both.

pub mod isolated;
pub mod local;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::documents::{Job, JobKind, Project};
use domain::messages::GenerationRequested;
use domain::{Envelope, FileType, JobId, JobStage, ModelFormat, S3Key, UserId, Version};
use platform::bus::Bus;
use platform::jobs;
use platform::mongo::{Db, PageRequest};
use platform::s3::ObjectStore;

/// Catalogue prompts every generator understands; all must complete.
pub const VALID_PROMPTS: [&str; 6] = [
    "box 2 by 3 by 4 cm",
    "cylinder diameter 20mm height 50mm",
    "a 40 x 20 x 10 mm plate with a 6 mm through hole",
    "washer 20 mm outer 8.4 mm inner 2 mm thick",
    "sphere radius 15 mm",
    "hex nut 13 mm across flats 6.5 mm thick 8 mm hole",
];

/// A prompt outside the catalogue: it must end in a terminal state, not
/// necessarily completed.
pub const INVALID_PROMPT: &str = "a dragon breathing fire";

/// Every `INVALID_EVERY`-th job asks for something the catalogue lacks.
const INVALID_EVERY: usize = 10;

/// How long one submission may take before it counts as refused (the
/// database server may be down: the gateway would answer 503).
const SUBMIT_TIMEOUT: Duration = Duration::from_secs(5);

/// One kind of fault the nemesis injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// A service instance killed -9, then started again.
    Service,
    /// The message broker stopped, then started again.
    Broker,
    /// The database server killed -9, then started again on its data.
    Database,
    /// The object store killed -9, then started again on its data.
    ObjectStore,
}

impl FaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Service => "service killed",
            Self::Broker => "broker restarted",
            Self::Database => "database server killed",
            Self::ObjectStore => "object store killed",
        }
    }
}

/// What the nemesis can break, and how it brings it back.
#[allow(async_fn_in_trait)]
pub trait Cluster {
    /// The kinds of fault this system can suffer here.
    fn kinds(&self) -> Vec<FaultKind>;
    /// Breaks one piece of `kind`; returns which.
    async fn break_one(&mut self, kind: FaultKind, rng: &mut Rng) -> anyhow::Result<String>;
    /// Brings back what the last `break_one` of `kind` broke, once it answers.
    async fn mend(&mut self, kind: FaultKind) -> anyhow::Result<()>;
    /// Brings every piece up, whatever happened (the end of a run).
    async fn heal_all(&mut self) -> anyhow::Result<()>;
}

/// A small seeded generator (SplitMix64): a run is repeatable by its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn between(&mut self, low: Duration, high: Duration) -> Duration {
        low + (high.saturating_sub(low)).mul_f64(self.unit())
    }
}

/// The shape of a run.
#[derive(Clone, Debug)]
pub struct Plan {
    pub jobs: usize,
    /// Jobs are submitted evenly over this time; faults happen within it.
    pub duration: Duration,
    /// A fault about every this long.
    pub fault_every: Duration,
    /// The longest a broken piece stays down before it is started again;
    /// each fault draws its pause from zero to this. Zero: a restart, the
    /// piece started again as soon as it is down.
    pub hold: Duration,
    pub users: usize,
    pub projects_per_user: usize,
    pub seed: u64,
    /// How long to wait, after the faults, for every job to finish.
    pub settle: Duration,
    /// Names the run's projects (unique per run).
    pub tag: String,
}

/// A fault as it happened.
#[derive(Clone, Debug)]
pub struct Fault {
    pub kind: FaultKind,
    pub target: String,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// A job the system accepted.
struct Accepted {
    id: JobId,
    prompt: &'static str,
}

impl Accepted {
    fn valid(&self) -> bool {
        self.prompt != INVALID_PROMPT
    }
}

/// What a run measured and what it found wrong.
#[derive(Debug, Default)]
pub struct Report {
    pub seed: u64,
    pub accepted: usize,
    pub refused: usize,
    pub completed: usize,
    pub failed: usize,
    pub faults: Vec<Fault>,
    /// Faults the nemesis tried but could not inject or mend.
    pub nemesis_errors: Vec<String>,
    /// Seconds from accepted to completed, jobs that overlapped no fault.
    pub calm: Vec<f64>,
    /// The same for jobs during which a fault happened.
    pub faulted: Vec<f64>,
    /// For those jobs, seconds from the end of the last fault they
    /// overlapped (the broken piece back) or from their acceptance, if
    /// later, to completed: how long a job takes once the system is whole.
    pub after_fault: Vec<f64>,
    /// One line per broken promise, naming the job or project.
    pub violations: Vec<String>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    pub fn faults_of(&self, kind: FaultKind) -> usize {
        self.faults.iter().filter(|f| f.kind == kind).count()
    }
}

fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied()
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "seed {}", self.seed)?;
        writeln!(
            f,
            "jobs: {} accepted, {} refused at submission, {} completed, {} failed",
            self.accepted, self.refused, self.completed, self.failed
        )?;
        let by_kind: BTreeMap<FaultKind, usize> = self.faults.iter().fold(BTreeMap::new(), |mut m, x| {
            *m.entry(x.kind).or_default() += 1;
            m
        });
        let kinds: Vec<String> = by_kind.iter().map(|(k, n)| format!("{n} {}", k.as_str())).collect();
        writeln!(f, "faults: {} ({})", self.faults.len(), kinds.join(", "))?;
        for fault in &self.faults {
            writeln!(
                f,
                "  {} {:<24} {:<22} down {:.1} s",
                fault.from.format("%H:%M:%S"),
                fault.kind.as_str(),
                fault.target,
                (fault.until - fault.from).num_milliseconds() as f64 / 1000.0
            )?;
        }
        for e in &self.nemesis_errors {
            writeln!(f, "  nemesis: {e}")?;
        }
        writeln!(f, "accepted -> completed   {:>5} {:>9} {:>9}", "n", "p50 s", "p95 s")?;
        for (name, values) in [
            ("no fault", &self.calm),
            ("overlapped a fault", &self.faulted),
            ("  once it was mended", &self.after_fault),
        ] {
            let show = |p| percentile(values, p).map_or("-".to_owned(), |v| format!("{v:.2}"));
            writeln!(f, "  {name:<21} {:>5} {:>9} {:>9}", values.len(), show(0.5), show(0.95))?;
        }
        if let (Some(calm), Some(faulted)) = (percentile(&self.calm, 0.95), percentile(&self.faulted, 0.95)) {
            if calm > 0.0 {
                writeln!(f, "p95 with a fault / without: {:.1}x", faulted / calm)?;
            }
        }
        if let (Some(calm), Some(after)) = (percentile(&self.calm, 0.95), percentile(&self.after_fault, 0.95)) {
            if calm > 0.0 {
                writeln!(f, "p95 once the fault was mended / without: {:.1}x", after / calm)?;
            }
        }
        if self.violations.is_empty() {
            write!(f, "all checks passed")
        } else {
            writeln!(f, "{} violations:", self.violations.len())?;
            for v in &self.violations {
                writeln!(f, "  {v}")?;
            }
            Ok(())
        }
    }
}

/// Runs `plan` against `cluster`: submits, breaks and mends, heals
/// everything, waits for the jobs and checks them.
pub async fn run<C: Cluster>(
    db: &Db,
    bus: &dyn Bus,
    store: &ObjectStore,
    cluster: &mut C,
    plan: &Plan,
) -> anyhow::Result<Report> {
    let mut projects = Vec::new();
    for u in 0..plan.users.max(1) {
        let owner = UserId::generate();
        for p in 0..plan.projects_per_user.max(1) {
            let project = jobs::new_project(&format!("chaos {} u{u} p{p}", plan.tag), &owner)?;
            projects.push(db.projects().create(project).await.context("creating projects")?);
        }
    }
    let mut rng = Rng::new(plan.seed);
    let mut report = Report {
        seed: plan.seed,
        ..Report::default()
    };
    let start = Instant::now();
    let (accepted, refused) = {
        let submitting = submit_all(db, bus, &projects, plan, start);
        let breaking = nemesis(cluster, plan, &mut rng, start, &mut report);
        let (submitted, ()) = tokio::join!(submitting, breaking);
        submitted
    };
    cluster.heal_all().await.context("bringing the system back up")?;
    report.accepted = accepted.len();
    report.refused = refused;

    let finished = wait_finished(db, &accepted, plan.settle).await;
    check(db, store, &projects, &accepted, &finished, &mut report).await?;
    Ok(report)
}

/// Submits `plan.jobs` jobs evenly over `plan.duration`, users in turn.
/// Returns the accepted jobs and how many were refused.
async fn submit_all(
    db: &Db,
    bus: &dyn Bus,
    projects: &[Project],
    plan: &Plan,
    start: Instant,
) -> (Vec<Accepted>, usize) {
    let gap = plan.duration.div_f64(plan.jobs.max(1) as f64);
    let (mut accepted, mut refused) = (Vec::new(), 0);
    for i in 0..plan.jobs {
        tokio::time::sleep_until((start + gap.mul_f64(i as f64)).into()).await;
        // Users in turn, each user's projects in turn.
        let project = &projects[(i % plan.users.max(1)) * plan.projects_per_user.max(1)
            + (i / plan.users.max(1)) % plan.projects_per_user.max(1)];
        let prompt = if i % INVALID_EVERY == INVALID_EVERY - 1 {
            INVALID_PROMPT
        } else {
            VALID_PROMPTS[i % VALID_PROMPTS.len()]
        };
        let msg = GenerationRequested {
            slug: project.slug.clone(),
            user_id: project.created_by.clone(),
            prompt: prompt.to_owned(),
            base_version: None,
            spec: None,
        };
        let env = Envelope::new(JobId::generate(), project.project_id.clone(), msg);
        let job = jobs::new_job(project, &project.created_by, JobKind::Generate, &env);
        match tokio::time::timeout(SUBMIT_TIMEOUT, jobs::submit(db, bus, &job)).await {
            Ok(Ok(_)) => accepted.push(Accepted { id: job.job_id, prompt }),
            _ => refused += 1,
        }
    }
    (accepted, refused)
}

/// One fault in each `plan.fault_every`, at a random moment of it, kinds in
/// a shuffled rotation so that every kind comes up.
async fn nemesis<C: Cluster>(cluster: &mut C, plan: &Plan, rng: &mut Rng, start: Instant, report: &mut Report) {
    let kinds = cluster.kinds();
    if kinds.is_empty() {
        return;
    }
    let slots = (plan.duration.as_secs_f64() / plan.fault_every.as_secs_f64()).floor() as usize;
    let mut rotation: Vec<FaultKind> = Vec::new();
    for slot in 0..slots {
        let at = plan.fault_every.mul_f64(slot as f64 + 0.1 + 0.5 * rng.unit());
        tokio::time::sleep_until((start + at).into()).await;
        if rotation.is_empty() {
            rotation = kinds.clone();
            for i in (1..rotation.len()).rev() {
                rotation.swap(i, rng.below(i + 1));
            }
        }
        let Some(kind) = rotation.pop() else { break };
        let from = Utc::now();
        let target = match cluster.break_one(kind, rng).await {
            Ok(target) => target,
            Err(e) => {
                report.nemesis_errors.push(format!("{}: {e:#}", kind.as_str()));
                continue;
            }
        };
        let pause = rng.between(Duration::ZERO, plan.hold);
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        if let Err(e) = cluster.mend(kind).await {
            report.nemesis_errors.push(format!("bringing back {target}: {e:#}"));
        }
        report.faults.push(Fault {
            kind,
            target,
            from,
            until: Utc::now(),
        });
    }
}

/// Polls until every accepted job is terminal or `settle` passes; returns
/// the jobs as last read (a job missing from the map was never found).
async fn wait_finished(db: &Db, accepted: &[Accepted], settle: Duration) -> BTreeMap<JobId, Job> {
    let deadline = Instant::now() + settle;
    let mut seen: BTreeMap<JobId, Job> = BTreeMap::new();
    loop {
        for a in accepted {
            if seen.get(&a.id).is_some_and(|j| j.stage.is_terminal()) {
                continue;
            }
            if let Ok(Ok(Some(job))) = tokio::time::timeout(SUBMIT_TIMEOUT, db.jobs().get(a.id)).await {
                seen.insert(a.id, job);
            }
        }
        let done = seen.values().filter(|j| j.stage.is_terminal()).count();
        if done == accepted.len() || Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The promises: every accepted job terminal, every valid one completed,
/// versions 1..n once each per project, every completed job's files in the
/// object store and its records in the database.
async fn check(
    db: &Db,
    store: &ObjectStore,
    projects: &[Project],
    accepted: &[Accepted],
    finished: &BTreeMap<JobId, Job>,
    report: &mut Report,
) -> anyhow::Result<()> {
    for a in accepted {
        let Some(job) = finished.get(&a.id) else {
            report
                .violations
                .push(format!("job {} ({:?}): lost, not in the database", a.id, a.prompt));
            continue;
        };
        match job.stage {
            JobStage::Completed => report.completed += 1,
            stage if stage.is_terminal() => report.failed += 1,
            stage => {
                report
                    .violations
                    .push(format!("job {} ({:?}): stuck in {}", a.id, a.prompt, stage.as_str()));
                continue;
            }
        }
        if a.valid() && job.stage != JobStage::Completed {
            report.violations.push(format!(
                "job {} ({:?}): {} instead of completed: {}",
                a.id,
                a.prompt,
                job.stage.as_str(),
                job.error.as_deref().unwrap_or("no error recorded")
            ));
        }
        if job.stage == JobStage::Completed {
            check_outputs(db, store, job, report).await?;
            if let Some(end) = job.finished_at {
                let secs = (end - job.created_at).num_milliseconds() as f64 / 1000.0;
                let mended = report
                    .faults
                    .iter()
                    .filter(|f| f.from <= end && f.until >= job.created_at)
                    .map(|f| f.until)
                    .max();
                if let Some(mended) = mended {
                    report.faulted.push(secs);
                    let since = mended.max(job.created_at);
                    report
                        .after_fault
                        .push(((end - since).num_milliseconds() as f64 / 1000.0).max(0.0));
                } else {
                    report.calm.push(secs);
                }
            }
        }
    }
    for project in projects {
        check_versions(db, project, report).await?;
    }
    Ok(())
}

async fn check_outputs(db: &Db, store: &ObjectStore, job: &Job, report: &mut Report) -> anyhow::Result<()> {
    let Some(version) = job.version else {
        report
            .violations
            .push(format!("job {}: completed without a version", job.job_id));
        return Ok(());
    };
    let records = db
        .files()
        .of_version(&job.project_id, version, FileType::Output)
        .await
        .context("reading file records")?;
    for format in ModelFormat::ALL {
        let key = S3Key::output(&job.slug, version, format).to_string();
        match store.head(&key).await.context("reading the object store")? {
            Some(head) if head.size > 0 => {}
            Some(_) => report.violations.push(format!("job {}: {key} is empty", job.job_id)),
            None => report.violations.push(format!("job {}: {key} is missing", job.job_id)),
        }
        if !records.iter().any(|r| r.s3_key == key) {
            report
                .violations
                .push(format!("job {}: no file record for {key}", job.job_id));
        }
    }
    if job.metrics.is_none() {
        report
            .violations
            .push(format!("job {}: completed without measurements", job.job_id));
    }
    Ok(())
}

/// Every version claimed in the project, by any job or attempt, is claimed
/// once, and together they are 1..n.
async fn check_versions(db: &Db, project: &Project, report: &mut Report) -> anyhow::Result<()> {
    let all = db
        .jobs()
        .list_by_project(&project.project_id, PageRequest::all())
        .await
        .context("reading jobs")?;
    let mut claims: BTreeMap<Version, Vec<String>> = BTreeMap::new();
    for job in &all.items {
        for (attempt, version) in job.versions.iter() {
            claims
                .entry(version)
                .or_default()
                .push(format!("{} attempt {attempt}", job.job_id));
        }
    }
    for (version, by) in claims.iter().filter(|(_, by)| by.len() > 1) {
        report.violations.push(format!(
            "project {}: version {version} claimed {} times ({})",
            project.slug,
            by.len(),
            by.join(", ")
        ));
    }
    let have: BTreeSet<u32> = claims.keys().map(|v| v.get()).collect();
    let last = have.iter().max().copied().unwrap_or(0);
    let skipped: Vec<String> = (1..=last)
        .filter(|v| !have.contains(v))
        .map(|v| v.to_string())
        .collect();
    if !skipped.is_empty() {
        report.violations.push(format!(
            "project {}: version(s) {} skipped (versions 1..{last} claimed)",
            project.slug,
            skipped.join(", ")
        ));
    }
    Ok(())
}
