//! `make bench-pipeline`: runs catalogue jobs through the running local
//! system (`make run`) and prints, first, single-job latency (jobs one at a
//! time) broken down into where the time went — each service's own work as
//! it recorded it on the job (generation, script store, script fetch,
//! FreeCAD, S3 puts, verification and completion) and the rest (bus hops,
//! queues, stage writes) — then saturation throughput with p50 / p95 / max
//! of each stage; `--users N` spreads the saturation jobs over N users, each
//! with its own projects and its own share of the pipeline
//! (`FAIR_SHARE_JOBS`), as many people at once load it. `--neighbour N` then measures fairness: one user queues N
//! spur gears, another then asks for one small cube, and the cube's time to
//! "Model ready" is printed beside the backlog's.
//!
//! Usage: bench-pipeline [--single N] [--jobs N] [--projects N] [--users N] [--prompt TEXT] [--neighbour N]
//!                       [--timeout SECS]

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use domain::documents::{Job, JobKind, Project};
use domain::messages::GenerationRequested;
use domain::{Envelope, JobId, JobStage, UserId};
use platform::bus::{self, Bus};
use platform::config::{BusSettings, EnvReader, FromEnv, MongoSettings};
use platform::jobs;
use platform::mongo::Db;
use platform::testkit::stack_vars;

struct Args {
    single: usize,
    jobs: usize,
    projects: usize,
    users: usize,
    prompt: String,
    neighbour: usize,
    timeout: Duration,
}

const USAGE: &str =
    "bench-pipeline [--single N] [--jobs N] [--projects N] [--users N] [--prompt TEXT] [--neighbour N] \
                     [--timeout SECS]";

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        single: 10,
        jobs: 20,
        projects: 4,
        users: 1,
        prompt: "a 40 x 20 x 10 mm plate with a 6 mm through hole".into(),
        neighbour: 0,
        timeout: Duration::from_secs(600),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--single" => a.single = value()?.parse().context("--single takes a number")?,
            "--jobs" => a.jobs = value()?.parse().context("--jobs takes a number")?,
            "--projects" => a.projects = value()?.parse().context("--projects takes a number")?,
            "--users" => a.users = value()?.parse().context("--users takes a number")?,
            "--prompt" => a.prompt = value()?,
            "--neighbour" => a.neighbour = value()?.parse().context("--neighbour takes a number")?,
            "--timeout" => a.timeout = Duration::from_secs(value()?.parse().context("--timeout takes seconds")?),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    if a.projects == 0 || a.users == 0 {
        bail!("--projects and --users must be at least 1");
    }
    Ok(a)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Seconds spent in each stage (until the next one), plus the whole job.
fn stage_times(job: &Job) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let mut prev = ("queued".to_owned(), job.created_at);
    for h in &job.history {
        out.push((
            prev.0.clone(),
            (h.at - prev.1).num_microseconds().unwrap_or(0) as f64 / 1e6,
        ));
        prev = (h.stage.as_str().to_owned(), h.at);
    }
    if let Some(end) = job.finished_at {
        out.push((
            "total".into(),
            (end - job.created_at).num_microseconds().unwrap_or(0) as f64 / 1e6,
        ));
    }
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let vars = stack_vars();
    let mongo = MongoSettings::from_reader(EnvReader::from_map(vars.clone()))?;
    let bus_settings = BusSettings::from_reader(EnvReader::from_map(vars))?;
    let db = Db::connect(&mongo)
        .await
        .context("MongoDB does not answer: start the system with `make run`")?;
    let bus = bus::from_settings(&bus_settings, "bench-pipeline");
    let stats = bus
        .queue_stats()
        .await
        .context("the message bus does not answer: start the system with `make run`")?;
    for (queue, consumers) in stats
        .iter()
        .filter(|s| !s.queue.ends_with(".dlq"))
        .map(|s| (&s.queue, s.consumers))
    {
        if consumers == Some(0) {
            bail!("nobody consumes {queue}: start the system with `make run`");
        }
    }

    // Each user with `--projects` projects of their own.
    let mut owners: Vec<(UserId, Vec<Project>)> = Vec::new();
    for _ in 0..a.users {
        let owner = UserId::generate();
        let mut projects = Vec::new();
        for i in 0..a.projects {
            let p = jobs::new_project(&format!("bench {} {i}", &owner.as_str()[5..13]), &owner)?;
            projects.push(db.projects().create(p).await?);
        }
        owners.push((owner, projects));
    }
    let (owner, projects) = (&owners[0].0, &owners[0].1);

    if a.single > 0 {
        println!("one job at a time, {} jobs: {:?}", a.single, a.prompt);
        let mut finished = Vec::new();
        for i in 0..a.single {
            let id = submit(&db, bus.as_ref(), &projects[i % projects.len()], owner, &a.prompt).await?;
            finished.extend(wait_for(&db, &[id], a.timeout, false).await?.into_values());
        }
        single_job_breakdown(&finished);
    }
    if a.jobs > 0 {
        saturation(&db, bus.as_ref(), &owners, &a).await?;
    }
    if a.neighbour > 0 {
        neighbour(&db, bus.as_ref(), owner, &a).await?;
    }
    Ok(())
}

/// Every job at once: throughput and the time in each stage.
async fn saturation(db: &Db, bus: &dyn Bus, owners: &[(UserId, Vec<Project>)], a: &Args) -> anyhow::Result<()> {
    println!();
    println!(
        "saturation: {} jobs at once from {} user(s), {} projects each: {:?}",
        a.jobs, a.users, a.projects, a.prompt
    );
    let started = Instant::now();
    let mut ids: Vec<JobId> = Vec::new();
    for i in 0..a.jobs {
        // Users in turn, then each user's projects in turn.
        let (owner, projects) = &owners[i % owners.len()];
        let project = &projects[(i / owners.len()) % projects.len()];
        ids.push(submit(db, bus, project, owner, &a.prompt).await?);
    }
    let done = wait_for(db, &ids, a.timeout, true).await?;
    // From the first acceptance to the last job's end as the jobs record
    // them: the poll's interval is not in it.
    let first = done.values().map(|j| j.created_at).min();
    let last = done.values().filter_map(|j| j.finished_at).max();
    let wall = match (first, last) {
        (Some(first), Some(last)) => (last - first).num_microseconds().unwrap_or(0) as f64 / 1e6,
        _ => started.elapsed().as_secs_f64(),
    };

    let completed = done.values().filter(|j| j.stage == JobStage::Completed).count();
    println!(
        "{completed} completed, {} failed, in {wall:.2} s (first accepted to last finished): {:.2} jobs/s",
        ids.len() - completed,
        ids.len() as f64 / wall
    );
    let mut per_stage: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for job in done.values().filter(|j| j.stage == JobStage::Completed) {
        for (stage, secs) in stage_times(job) {
            per_stage.entry(stage).or_default().push(secs);
        }
    }
    println!(
        "{:<12} {:>6} {:>9} {:>9} {:>9}",
        "stage", "n", "p50 s", "p95 s", "max s"
    );
    for stage in ["queued", "generating", "uploading", "processing", "total"] {
        if let Some(v) = per_stage.get_mut(stage) {
            v.sort_by(f64::total_cmp);
            println!(
                "{stage:<12} {:>6} {:>9.3} {:>9.3} {:>9.3}",
                v.len(),
                percentile(v, 0.5),
                percentile(v, 0.95),
                v[v.len() - 1]
            );
        }
    }
    for job in done.values().filter(|j| j.stage != JobStage::Completed).take(3) {
        println!("failed job {}: {}", job.job_id, job.error.as_deref().unwrap_or("?"));
    }
    Ok(())
}

/// Fairness: user A queues `a.neighbour` spur gears, then user B asks for a
/// small cube; how long B waits, against how long A's backlog takes.
async fn neighbour(db: &Db, bus: &dyn Bus, owner: &UserId, a: &Args) -> anyhow::Result<()> {
    const BACKLOG: &str = "spur gear module 2 with 20 teeth 10 mm thick bore 8 mm";
    const SMALL: &str = "cube 10 mm";
    println!();
    println!(
        "noisy neighbour: user A queues {} x {BACKLOG:?}, then user B asks for {SMALL:?}",
        a.neighbour
    );
    let tag = &owner.as_str()[5..13];
    let (user_a, user_b) = (UserId::generate(), UserId::generate());
    let project_a = db
        .projects()
        .create(jobs::new_project(&format!("bench {tag} neighbour a"), &user_a)?)
        .await?;
    let project_b = db
        .projects()
        .create(jobs::new_project(&format!("bench {tag} neighbour b"), &user_b)?)
        .await?;
    let started = Instant::now();
    let mut backlog = Vec::new();
    for _ in 0..a.neighbour {
        backlog.push(submit(db, bus, &project_a, &user_a, BACKLOG).await?);
    }
    let small = submit(db, bus, &project_b, &user_b, SMALL).await?;
    let b = wait_for(db, &[small], a.timeout, false)
        .await?
        .remove(&small)
        .expect("waited for");
    let stages = stage_times(&b);
    let b_secs = stages
        .iter()
        .find(|(stage, _)| stage == "total")
        .map_or(f64::NAN, |(_, secs)| *secs);
    let waits: Vec<String> = stages
        .iter()
        .filter(|(stage, _)| stage != "total")
        .map(|(stage, secs)| format!("{stage} {secs:.2} s"))
        .collect();
    let done = wait_for(db, &backlog, a.timeout, true).await?;
    let wall = started.elapsed().as_secs_f64();
    let after = done.values().filter(|j| j.finished_at > b.finished_at).count();
    println!(
        "user B's cube: {:?} in {b_secs:.2} s (accepted -> finished), ahead of {after} of user A's {} jobs",
        b.stage,
        backlog.len()
    );
    println!("  where user B's cube waited: {}", waits.join(", "));
    println!("user A's backlog: {} jobs in {wall:.1} s", backlog.len());
    Ok(())
}

/// Accepts one generation job, as the gateway does.
async fn submit(db: &Db, bus: &dyn Bus, project: &Project, owner: &UserId, prompt: &str) -> anyhow::Result<JobId> {
    let msg = GenerationRequested {
        slug: project.slug.clone(),
        user_id: owner.clone(),
        prompt: prompt.to_owned(),
        base_version: None,
        spec: None,
    };
    let env = Envelope::new(JobId::generate(), project.project_id.clone(), msg);
    let job = jobs::new_job(project, owner, JobKind::Generate, &env);
    jobs::submit(db, bus, &job).await?;
    Ok(job.job_id)
}

/// Waits until every job is finished.
async fn wait_for(db: &Db, ids: &[JobId], timeout: Duration, progress: bool) -> anyhow::Result<BTreeMap<JobId, Job>> {
    let started = Instant::now();
    // A line rewritten in place on a terminal, a line a second in a log.
    let tty = std::io::stderr().is_terminal();
    let mut done: BTreeMap<JobId, Job> = BTreeMap::new();
    while done.len() < ids.len() {
        if started.elapsed() > timeout {
            bail!("{} of {} jobs finished within {:?}", done.len(), ids.len(), timeout);
        }
        let waiting: Vec<JobId> = ids.iter().filter(|id| !done.contains_key(id)).copied().collect();
        for job in db.jobs().finished_among(&waiting).await? {
            done.insert(job.job_id, job);
        }
        if progress && tty {
            eprint!("\r{} / {} jobs finished", done.len(), ids.len());
        } else if progress {
            eprintln!("{} / {} jobs finished", done.len(), ids.len());
        }
        // Times come from what the jobs recorded, not from when a poll saw
        // them end, so polls can be sparse: each one is a query on the
        // document server the jobs themselves are waiting for.
        tokio::time::sleep(Duration::from_millis(if progress { 1000 } else { 20 })).await;
    }
    if progress && tty {
        eprintln!();
    }
    Ok(done)
}

/// Where single jobs' time went, in milliseconds: each service's own work as
/// recorded in the job's timings, and the rest of accepted → completed.
fn single_job_breakdown(jobs: &[Job]) {
    let completed: Vec<&Job> = jobs.iter().filter(|j| j.stage == JobStage::Completed).collect();
    for job in jobs.iter().filter(|j| j.stage != JobStage::Completed).take(3) {
        println!("failed job {}: {}", job.job_id, job.error.as_deref().unwrap_or("?"));
    }
    if completed.is_empty() {
        println!("no job completed");
        return;
    }
    let ms = |d: chrono::Duration| d.num_microseconds().unwrap_or(0) as f64 / 1000.0;
    let mut rows: Vec<(&str, Vec<f64>)> = Vec::new();
    let mut push = |name, value: f64| match rows.iter_mut().find(|(n, _)| *n == name) {
        Some((_, v)) => v.push(value),
        None => rows.push((name, vec![value])),
    };
    for job in &completed {
        let t = &job.timings;
        let total = job.finished_at.map_or(0.0, |end| ms(end - job.created_at));
        let to_generator = job
            .history
            .iter()
            .find(|h| h.stage == JobStage::Generating)
            .map_or(0.0, |h| ms(h.at - job.created_at));
        let own = [
            ("generation", t.generation_ms),
            ("script store (claim, S3 put, records)", t.store_ms),
            ("script fetch (S3 get)", t.fetch_ms),
            ("FreeCAD", t.freecad_ms),
            ("S3 puts (log, outputs)", t.upload_ms),
            ("verification and completion", t.completion_ms),
        ];
        push("accepted -> generator (bus, queue)", to_generator);
        let mut measured = to_generator;
        for (name, value) in own {
            let value = value.unwrap_or(0) as f64;
            measured += value;
            push(name, value);
        }
        push("other waits (bus hops, stage writes)", (total - measured).max(0.0));
        push("total: accepted -> Model ready", total);
    }
    println!("{:<40} {:>9} {:>9}", "where the time went", "p50 ms", "p95 ms");
    for (name, mut v) in rows {
        v.sort_by(f64::total_cmp);
        println!("{name:<40} {:>9.1} {:>9.1}", percentile(&v, 0.5), percentile(&v, 0.95));
    }
}
