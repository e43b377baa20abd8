//! `make bench-api`: the API's reads under load at fixed request rates.
//!
//! Starts its own gateway (by default the release build, as the images ship
//! it) against the local stack on another port, with the per-user rate limit
//! raised so the load is measured rather than refused; signs up a user and
//! submits one job; then, for each endpoint and each rate, sends requests
//! open-loop on a fixed schedule for a few seconds and prints p50 / p99 of
//! the latency counted from each request's scheduled time (so a stalled
//! server cannot hide its queue), the rate achieved and the errors.
//!
//! Usage: bench-api [--gateway PATH] [--rates 100,250,500,1000] [--seconds N] [--port N]

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
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        gateway: "target/release/gateway".into(),
        rates: vec![100, 250, 500, 1000],
        seconds: 5,
        port: 8180,
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
            "-h" | "--help" => {
                println!("bench-api [--gateway PATH] [--rates 100,250,500,1000] [--seconds N] [--port N]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    Ok(a)
}

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
    let accepted: Value = http
        .post(format!("{base}/api/ai/generate-code"))
        .bearer_auth(&token)
        .json(&json!({ "prompt": "cube 20 mm", "project_name": "api benchmark" }))
        .send()
        .await?
        .error_for_status()
        .context("submitting a job")?
        .json()
        .await?;
    let slug = accepted["slug"].as_str().context("no slug in the answer")?;
    let job = accepted["job_id"].as_str().context("no job_id in the answer")?;

    let endpoints = [
        (
            "GET /api/projects/{slug}/status",
            format!("{base}/api/projects/{slug}/status"),
            true,
        ),
        ("GET /api/jobs/{id}", format!("{base}/api/jobs/{job}"), true),
        ("GET /healthz", format!("{base}/healthz"), false),
    ];
    println!(
        "gateway {} on {base}; {} s per rate; latency from each request's scheduled time",
        a.gateway, a.seconds
    );
    println!(
        "{:<34} {:>7} {:>9} {:>9} {:>9} {:>7}",
        "endpoint", "rate/s", "achieved", "p50 ms", "p99 ms", "errors"
    );
    for (name, url, auth) in &endpoints {
        // A second at a low rate first, not counted: connections and caches warm.
        load(&http, url, auth.then_some(token.as_str()), 50, Duration::from_secs(1)).await;
        for &rate in &a.rates {
            let r = load(
                &http,
                url,
                auth.then_some(token.as_str()),
                rate,
                Duration::from_secs(a.seconds),
            )
            .await;
            println!(
                "{name:<34} {rate:>7} {:>9.0} {:>9.1} {:>9.1} {:>7}",
                r.achieved, r.p50_ms, r.p99_ms, r.errors
            );
        }
    }
    Ok(())
}

struct LoadResult {
    achieved: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

/// `rate` requests per second for `length`, each started at its scheduled
/// time whatever the earlier ones are doing (at most 2048 in flight).
async fn load(http: &reqwest::Client, url: &str, token: Option<&str>, rate: u32, length: Duration) -> LoadResult {
    let total = (f64::from(rate) * length.as_secs_f64()).round() as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let in_flight = Arc::new(Semaphore::new(2048));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let scheduled = started + interval * i as u32;
        tokio::time::sleep_until(scheduled.into()).await;
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
