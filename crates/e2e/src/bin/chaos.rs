//! `make chaos`: a soak under faults against the running system
//! (`make run SCALE=2`). Catalogue jobs from several users at a steady rate
//! while a seeded nemesis kills -9 service instances, restarts the broker,
//! and kills -9 the database server and the object store, bringing each
//! back through `deploy/stack.sh`. At the end everything is up again; then
//! it checks every accepted job (see `e2e::chaos`), prints the figures and
//! exits 1 if a promise was broken.
//!
//! Usage: chaos [--jobs N] [--minutes M] [--every SECS] [--hold SECS]
//!              [--users N] [--projects N] [--seed N] [--settle SECS] [--scale N]

use std::time::Duration;

use anyhow::{bail, Context};
use e2e::chaos::local::LocalSystem;
use e2e::chaos::{self, Cluster, Plan};
use platform::bus;
use platform::config::{BusSettings, EnvReader, FromEnv, MongoSettings, S3Settings};
use platform::mongo::Db;
use platform::s3::ObjectStore;
use platform::testkit::stack_vars;

const USAGE: &str = "chaos [--jobs N] [--minutes M] [--every SECS] [--hold SECS] [--users N] [--projects N] \
                     [--seed N] [--settle SECS] [--scale N]";

fn args() -> anyhow::Result<(Plan, u32)> {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs());
    let mut plan = Plan {
        jobs: 60,
        duration: Duration::from_secs(120),
        fault_every: Duration::from_secs(15),
        hold: Duration::ZERO,
        users: 4,
        projects_per_user: 2,
        seed,
        settle: Duration::from_secs(300),
        tag: uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
    };
    let mut scale = 2;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        let secs = |v: String, what: &str| -> anyhow::Result<Duration> {
            let s: f64 = v.parse().with_context(|| format!("{what} takes a number"))?;
            if !(s > 0.0 && s.is_finite()) {
                bail!("{what} must be above zero");
            }
            Ok(Duration::from_secs_f64(s))
        };
        match flag.as_str() {
            "--jobs" => plan.jobs = value()?.parse().context("--jobs takes a number")?,
            "--minutes" => plan.duration = secs(value()?, "--minutes")? * 60,
            "--every" => plan.fault_every = secs(value()?, "--every")?,
            "--hold" => {
                let s: f64 = value()?.parse().context("--hold takes a number")?;
                if !(s >= 0.0 && s.is_finite()) {
                    bail!("--hold must be zero or more");
                }
                plan.hold = Duration::from_secs_f64(s);
            }
            "--users" => plan.users = value()?.parse().context("--users takes a number")?,
            "--projects" => plan.projects_per_user = value()?.parse().context("--projects takes a number")?,
            "--seed" => plan.seed = value()?.parse().context("--seed takes a number")?,
            "--settle" => plan.settle = secs(value()?, "--settle")?,
            "--scale" => scale = value()?.parse().context("--scale takes a number")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (usage: {USAGE})"),
        }
    }
    if plan.users == 0 || plan.projects_per_user == 0 {
        bail!("--users and --projects must be at least 1");
    }
    Ok((plan, scale))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (plan, scale) = args()?;
    let vars = stack_vars();
    let mongo = MongoSettings::from_reader(EnvReader::from_map(vars.clone()))?;
    let bus_settings = BusSettings::from_reader(EnvReader::from_map(vars.clone()))?;
    let s3 = S3Settings::from_reader(EnvReader::from_map(vars))?;
    let db = Db::connect(&mongo)
        .await
        .context("MongoDB does not answer: start the system with `make run SCALE=2`")?;
    let bus = bus::from_settings(&bus_settings, "chaos");
    let stats = bus
        .queue_stats()
        .await
        .context("the message bus does not answer: start the system with `make run SCALE=2`")?;
    if let Some(idle) = stats
        .iter()
        .find(|s| !s.queue.ends_with(".dlq") && s.consumers == Some(0))
    {
        bail!(
            "nobody consumes {}: start the system with `make run SCALE=2`",
            idle.queue
        );
    }
    let store = ObjectStore::new(&s3);
    let mut system = LocalSystem::new(scale);
    println!(
        "chaos: {} jobs from {} users over {:.1} min, a fault about every {:.0} s ({}), {}, seed {}",
        plan.jobs,
        plan.users,
        plan.duration.as_secs_f64() / 60.0,
        plan.fault_every.as_secs_f64(),
        system.kinds().iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "),
        if plan.hold.is_zero() {
            "each piece started again at once".to_owned()
        } else {
            format!("each piece held down up to {:.1} s", plan.hold.as_secs_f64())
        },
        plan.seed
    );
    let outcome = tokio::select! {
        outcome = chaos::run(&db, bus.as_ref(), &store, &mut system, &plan) => Some(outcome),
        _ = tokio::signal::ctrl_c() => None,
    };
    let Some(outcome) = outcome else {
        // Interrupted, maybe with a piece down: bring everything back first.
        eprintln!("chaos: interrupted; bringing the system back up");
        system.heal_all().await?;
        std::process::exit(130);
    };
    let report = outcome?;
    println!("{report}");
    if !report.passed() {
        std::process::exit(1);
    }
    Ok(())
}
