//! `make bench-api`: the API's reads under load at fixed request rates.
//!
//! Starts its own gateway (by default the release build, as the images ship
//! it) against the local stack on another port, with the per-user rate limit
//! raised so the load is measured rather than refused; signs up a user and
//! submits one job in each of `--projects` projects (as many clients, each
//! polling its own job); then, for each endpoint and each rate, sends
//! requests open-loop on a fixed schedule for a few seconds, going round
//! the projects, and prints p50 / p99 of the latency counted from each
//! request's scheduled time (so a stalled server cannot hide its queue),
//! the rate achieved, the errors, and the share of reads the gateway's
//! read cache answered (`READ_CACHE_SECS`; `--read-cache 0` turns it off
//! for a comparison). The projects are deleted at the end.
//!
//! Usage: bench-api [--gateway PATH] [--rates 100,250,500,1000] [--seconds N] [--port N]
//!                  [--projects N] [--read-cache SECS]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use platform::testkit::stack_vars;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

struct Args {
    gateway: String,
    rates: Vec<u32>,
    seconds: u64,
    port: u16,
    projects: usize,
    read_cache: Option<String>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        gateway: "target/release/gateway".into(),
        rates: vec![100, 250, 500, 1000],
        seconds: 5,
        port: 8180,
        projects: 40,
        read_cache: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--gateway" => a.gateway = value()?,
            "--rates" => {
                a.rates = value()?
                    .split(',')
                    .map(|r| r.trim().parse::<u32>().ok().filter(|&r| r > 0))
                    .collect::<Option<_>>()
                    .context("--rates takes positive numbers separated by commas")?
            }
            "--seconds" => a.seconds = value()?.parse().context("--seconds takes a number")?,
            "--port" => a.port = value()?.parse().context("--port takes a port number")?,
            "--projects" => {
                a.projects = value()?
                    .parse()
                    .ok()
                    .filter(|&n| (1..=QUOTA).contains(&n))
                    .with_context(|| format!("--projects takes a number from 1 to {QUOTA}"))?
            }
            "--read-cache" => {
                let secs = value()?;
                secs.parse::<f64>()
                    .ok()
                    .filter(|s| *s >= 0.0)
                    .context("--read-cache takes seconds (0 turns the cache off)")?;
                a.read_cache = Some(secs);
            }
            "-h" | "--help" => {
                println!(
                    "bench-api [--gateway PATH] [--rates 100,250,500,1000] [--seconds N] [--port N] [--projects N] [--read-cache SECS]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    Ok(a)
}

/// Jobs in flight one user may have (the gateway's default quota): one per
/// project.
const QUOTA: usize = 50;

/// The gateway under test; stopped when dropped.
struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    if !std::path::Path::new(&a.gateway).exists() {
        bail!(
            "{} is missing: build it with `cargo build --release -p gateway` (make bench-api does)",
            a.gateway
        );
    }
    let base = format!("http://127.0.0.1:{}", a.port);
    let mut vars = stack_vars();
    vars.insert("PORT".into(), a.port.to_string());
    vars.insert("HOST".into(), "127.0.0.1".into());
    vars.insert("RATE_LIMIT_PER_MINUTE".into(), "100000000".into());
    vars.insert("RATE_LIMIT_BURST".into(), "1000000".into());
    vars.insert("RUST_LOG".into(), "warn".into());
    if let Some(secs) = &a.read_cache {
        vars.insert("READ_CACHE_SECS".into(), secs.clone());
    }
    let _gateway = Gateway(
        Command::new(&a.gateway)
            .env_clear()
            .envs(&vars)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", a.gateway))?,
    );
    let http = reqwest::Client::builder().pool_max_idle_per_host(512).build()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .map_or(true, |r| !r.status().is_success())
    {
        if Instant::now() > deadline {
            bail!("the gateway did not come up on {base}: is the stack running (make stack-up)?");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let email = format!("bench-{}@example.com", uuid::Uuid::new_v4().simple());
    let token: Value = http
        .post(format!("{base}/api/auth/register"))
        .json(&json!({ "email": email, "password": "bench-password-1" }))
        .send()
        .await?
        .error_for_status()
        .context("signing up the benchmark user")?
        .json()
        .await?;
    let token = token["access_token"]
        .as_str()
        .context("no access_token in the sign-up answer")?
        .to_owned();
    // One job in each project, as many clients each polling their own.
    let mut slugs = Vec::with_capacity(a.projects);
    let mut jobs = Vec::with_capacity(a.projects);
    for n in 0..a.projects {
        let accepted: Value = http
            .post(format!("{base}/api/ai/generate-code"))
            .bearer_auth(&token)
            .json(&json!({ "prompt": "cube 20 mm", "project_name": format!("api benchmark {n}") }))
            .send()
            .await?
            .error_for_status()
            .context("submitting a job")?
            .json()
            .await?;
        slugs.push(accepted["slug"].as_str().context("no slug in the answer")?.to_owned());
        jobs.push(
            accepted["job_id"]
                .as_str()
                .context("no job_id in the answer")?
                .to_owned(),
        );
    }
    let urls = |path: &dyn Fn(usize) -> String| (0..a.projects).map(|i| format!("{base}{}", path(i))).collect();
    let endpoints: [(&str, Vec<String>, bool); 3] = [
        (
            "GET /api/projects/{slug}/status",
            urls(&|i| format!("/api/projects/{}/status", slugs[i])),
            true,
        ),
        ("GET /api/jobs/{id}", urls(&|i| format!("/api/jobs/{}", jobs[i])), true),
        ("GET /healthz", vec![format!("{base}/healthz")], false),
    ];
    println!(
        "gateway {} on {base}; {} s per rate; {} projects polled in turn; read cache {}; latency from each request's scheduled time",
        a.gateway,
        a.seconds,
        a.projects,
        a.read_cache.as_deref().map_or("as configured (default 1 s)".to_owned(), |s| format!("{s} s")),
    );
    println!(
        "{:<34} {:>7} {:>9} {:>9} {:>9} {:>7} {:>7}",
        "endpoint", "rate/s", "achieved", "p50 ms", "p99 ms", "errors", "cached"
    );
    for (name, urls, auth) in &endpoints {
        // A second at a low rate first, not counted: connections and caches warm.
        load(&http, urls, auth.then_some(token.as_str()), 50, Duration::from_secs(1)).await;
        for &rate in &a.rates {
            let before = cache_reads(&http, &base).await;
            let r = load(
                &http,
                urls,
                auth.then_some(token.as_str()),
                rate,
                Duration::from_secs(a.seconds),
            )
            .await;
            let after = cache_reads(&http, &base).await;
            let (hits, misses) = (after.0 - before.0, after.1 - before.1);
            let cached = match hits + misses {
                0.0 => "-".to_owned(),
                all => format!("{:.0} %", 100.0 * hits / all),
            };
            println!(
                "{name:<34} {rate:>7} {:>9.0} {:>9.1} {:>9.1} {:>7} {cached:>7}",
                r.achieved, r.p50_ms, r.p99_ms, r.errors
            );
        }
    }
    for slug in &slugs {
        let gone = http
            .delete(format!("{base}/api/projects/{slug}"))
            .bearer_auth(&token)
            .send()
            .await;
        if !gone.is_ok_and(|r| r.status().is_success()) {
            eprintln!("could not delete the benchmark project {slug}");
        }
    }
    Ok(())
}

/// Reads the gateway's read cache answered from memory and from the
/// database so far, from its `/metrics`.
async fn cache_reads(http: &reqwest::Client, base: &str) -> (f64, f64) {
    let text = match http.get(format!("{base}/metrics")).send().await {
        Ok(res) => res.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let count = |outcome: &str| {
        let series = format!("cadscribe_events_total{{kind=\"read_cache\",outcome=\"{outcome}\"}}");
        text.lines()
            .find_map(|l| l.strip_prefix(&series))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (count("hit"), count("miss"))
}

struct LoadResult {
    achieved: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

/// `rate` requests per second for `length`, going round `urls`, each
/// started at its scheduled time whatever the earlier ones are doing (at
/// most 2048 in flight).
async fn load(http: &reqwest::Client, urls: &[String], token: Option<&str>, rate: u32, length: Duration) -> LoadResult {
    let total = (f64::from(rate) * length.as_secs_f64()).round() as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let in_flight = Arc::new(Semaphore::new(2048));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let scheduled = started + interval * i as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        let url = &urls[i % urls.len()];
        let request = match token {
            Some(t) => http.get(url).bearer_auth(t),
            None => http.get(url),
        };
        let permit = in_flight.clone().acquire_owned().await.expect("never closed");
        tasks.push(tokio::spawn(async move {
            let ok = request.send().await.is_ok_and(|r| r.status().is_success());
            drop(permit);
            (scheduled.elapsed(), ok)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut errors = 0;
    for task in tasks {
        let (latency, ok) = task.await.expect("request task");
        latencies.push(latency.as_secs_f64() * 1000.0);
        errors += usize::from(!ok);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let at = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    LoadResult {
        achieved: total as f64 / elapsed,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        errors,
    }
}
