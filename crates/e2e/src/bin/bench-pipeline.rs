//! `make bench-pipeline`: runs template jobs through the running local
//! system (`make run`) and prints throughput and p50 / p95 / max of each
//! stage and of the whole job, from the stage times the services record.
//!
//! Usage: bench-pipeline [--jobs N] [--projects N] [--prompt TEXT] [--timeout SECS]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use domain::documents::{Job, JobKind};
use domain::messages::GenerationRequested;
use domain::{Envelope, JobId, JobStage, UserId};
use platform::bus;
use platform::config::{BusSettings, EnvReader, FromEnv, MongoSettings};
use platform::jobs;
use platform::mongo::Db;
use platform::testkit::stack_vars;

struct Args {
    jobs: usize,
    projects: usize,
    prompt: String,
    timeout: Duration,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        jobs: 20,
        projects: 4,
        prompt: "a 40 x 20 x 10 mm plate with a 6 mm through hole".into(),
        timeout: Duration::from_secs(600),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--jobs" => a.jobs = value()?.parse().context("--jobs takes a number")?,
            "--projects" => a.projects = value()?.parse().context("--projects takes a number")?,
            "--prompt" => a.prompt = value()?,
            "--timeout" => a.timeout = Duration::from_secs(value()?.parse().context("--timeout takes seconds")?),
            "-h" | "--help" => {
                println!("bench-pipeline [--jobs N] [--projects N] [--prompt TEXT] [--timeout SECS]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    if a.jobs == 0 || a.projects == 0 {
        bail!("--jobs and --projects must be at least 1");
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

    let owner = UserId::generate();
    let mut projects = Vec::new();
    for i in 0..a.projects {
        let p = jobs::new_project(&format!("bench {} {i}", &owner.as_str()[5..13]), &owner)?;
        projects.push(db.projects().create(p).await?);
    }
    println!(
        "submitting {} jobs over {} projects: {:?}",
        a.jobs, a.projects, a.prompt
    );
    let started = Instant::now();
    let mut ids: Vec<JobId> = Vec::new();
    for i in 0..a.jobs {
        let project = &projects[i % projects.len()];
        let msg = GenerationRequested {
            slug: project.slug.clone(),
            user_id: owner.clone(),
            prompt: a.prompt.clone(),
            base_version: None,
            spec: None,
        };
        let env = Envelope::new(JobId::generate(), project.project_id.clone(), msg);
        let job = jobs::new_job(project, &owner, JobKind::Generate, &env);
        jobs::submit(&db, bus.as_ref(), &job).await?;
        ids.push(job.job_id);
    }

    let mut done: BTreeMap<JobId, Job> = BTreeMap::new();
    while done.len() < ids.len() {
        if started.elapsed() > a.timeout {
            bail!("{} of {} jobs finished within {:?}", done.len(), ids.len(), a.timeout);
        }
        for id in &ids {
            if done.contains_key(id) {
                continue;
            }
            if let Some(job) = db.jobs().get(*id).await?.filter(|j| j.stage.is_terminal()) {
                done.insert(*id, job);
            }
        }
        eprint!("\r{} / {} jobs finished", done.len(), ids.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let wall = started.elapsed().as_secs_f64();
    eprintln!();

    let completed = done.values().filter(|j| j.stage == JobStage::Completed).count();
    println!(
        "{completed} completed, {} failed, in {wall:.2} s: {:.2} jobs/s",
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
