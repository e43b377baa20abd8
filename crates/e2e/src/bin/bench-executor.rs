//! The FreeCAD stage, cold against warm: the same catalogue jobs through a
//! fresh `freecadcmd` per job and through the warm executor (FreeCAD loaded
//! once, a contained child forked per job), one job at a time, in one run.
//!
//! `cargo run -p e2e --bin bench-executor -- [--jobs N]` (`make bench-executor`).
//! Prints p50 / p95 per executor and per part family, the warm process's
//! start-up, and as its last line
//! `speedup N.N× (cold p50 A ms, warm p50 B ms)`. A job counts from the
//! sandbox's `build` call to its report: job directory, FreeCAD, exports,
//! measurements. The picture, which the worker draws from the STL while the
//! other files upload, is timed on its own line. Exits with status 1 if any
//! job fails to build, to pass its verification or to be drawn.
//!
//! `--suite PATH` instead builds every part a generator suite makes (the
//! prompt column of `crates/cadgen/bench/prompts.tsv`, follow-ups applied),
//! warm, once each, and prints the FreeCAD time per part family: p50, the
//! slowest part, and how many families stay within [`BUDGET`]
//! (`make bench-generator` runs it after the generator's own figures).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use sandbox::{Executor, Outcome, Sandbox};

/// Simple catalogue parts, cycled through for `--jobs`.
const PROMPTS: &[&str] = &[
    "cube 25 mm",
    "a 40 x 20 x 10 mm plate with a 6 mm through hole",
    "cylinder diameter 20mm height 50mm",
    "washer 20 mm outer 8.4 mm inner 2 mm thick",
    "a flange 80 mm across with six 8 mm holes on a 60 mm bolt circle",
    "L-bracket 50 x 40 x 30 mm 5 mm thick with 2 holes 5 mm",
    "M8 hex nut",
    "spur gear module 2 with 20 teeth 10 mm thick bore 8 mm",
];

/// The FreeCAD time a catalogue part should stay within, warm.
const BUDGET: Duration = Duration::from_millis(200);

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut jobs = 24usize;
    let mut suite_path = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--jobs" => {
                jobs = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or_else(|| anyhow::anyhow!("--jobs takes a positive number"))?
            }
            "--suite" => {
                suite_path = Some(
                    args.next()
                        .ok_or_else(|| anyhow::anyhow!("--suite takes the path of a prompt suite"))?,
                )
            }
            other => anyhow::bail!("unknown argument {other:?}; usage: bench-executor [--jobs N | --suite PATH]"),
        }
    }
    if let Some(path) = suite_path {
        return suite(&path).await;
    }
    let parts: Vec<(String, cadgen::Generated)> = PROMPTS
        .iter()
        .map(|p| {
            Ok((
                p.to_string(),
                cadgen::generate(p).map_err(|e| anyhow::anyhow!("{p}: {e}"))?,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let base = Sandbox::from_env()?;
    println!("containment: {}", base.containment().describe());
    println!("{jobs} jobs per executor, one at a time, {} part families", parts.len());

    let mut p50s = BTreeMap::new();
    let mut failures = 0;
    for executor in [Executor::Cold, Executor::Warm] {
        let sandbox = base.clone().with_executor(executor);
        let started = Instant::now();
        sandbox.warm_up(1).await?;
        if executor == Executor::Warm {
            println!(
                "warm: FreeCAD process ready in {} ms (once per slot, not counted)",
                started.elapsed().as_millis()
            );
        }
        let mut all = Vec::new();
        let mut pictures = Vec::new();
        let mut by_family: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
        for i in 0..jobs {
            let (prompt, part) = &parts[i % parts.len()];
            let t = Instant::now();
            let report = sandbox.build(&part.script).await?;
            let took = t.elapsed();
            if let Some(problem) = problem(&report.outcome, part) {
                failures += 1;
                eprintln!("{executor}: {prompt}: {problem}");
            }
            if let Outcome::Built { files, .. } = &report.outcome {
                let t = Instant::now();
                match sandbox.draw_picture(files).await {
                    Ok(_) => pictures.push(t.elapsed()),
                    Err(e) => {
                        failures += 1;
                        eprintln!("{executor}: {prompt}: the picture: {e}");
                    }
                }
            }
            all.push(took);
            by_family.entry(part.part.as_str()).or_default().push(took);
        }
        let (p50, p95) = (percentile(&mut all, 50), percentile(&mut all, 95));
        println!("{executor:<5} p50 {:>7.1} ms   p95 {:>7.1} ms", ms(p50), ms(p95));
        if !pictures.is_empty() {
            println!(
                "  picture p50 {:>5.1} ms   p95 {:>5.1} ms   (drawn after FreeCAD, beside the uploads)",
                ms(percentile(&mut pictures, 50)),
                ms(percentile(&mut pictures, 95))
            );
        }
        for (family, times) in &mut by_family {
            println!(
                "  {family:<10} p50 {:>7.1} ms   ({} jobs)",
                ms(percentile(times, 50)),
                times.len()
            );
        }
        p50s.insert(executor.as_str(), p50);
    }
    if failures > 0 {
        eprintln!("{failures} job(s) did not build as expected");
    }
    let (cold, warm) = (p50s["cold"], p50s["warm"]);
    println!(
        "speedup {:.1}× (cold p50 {:.0} ms, warm p50 {:.0} ms)",
        cold.as_secs_f64() / warm.as_secs_f64().max(1e-9),
        ms(cold),
        ms(warm)
    );
    if failures > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// What is wrong with a built part, if anything: a failed run or a model
/// that does not pass its verification.
fn problem(outcome: &Outcome, part: &cadgen::Generated) -> Option<String> {
    match outcome {
        Outcome::Built { metrics, .. } => {
            let verification = domain::verify::Verification::of(&part.expected, metrics);
            (!verification.passed).then(|| verification.failures())
        }
        Outcome::Failed { error, .. } => Some(format!("failed: {error}")),
    }
}

/// Every part of a generator suite, warm, once each: FreeCAD time per family.
async fn suite(path: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {path}: {e}"))?;
    let parts: Vec<(&str, cadgen::Generated)> = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split('\t').nth(1))
        .filter_map(|chain| Some((chain, cadgen::converse(chain.split(" => ")).ok()?)))
        .collect();
    let sandbox = Sandbox::from_env()?.with_executor(Executor::Warm);
    sandbox.warm_up(1).await?;
    println!("{} parts of {path}, warm, one at a time", parts.len());
    let mut by_family: BTreeMap<&str, Vec<(Duration, &str)>> = BTreeMap::new();
    let mut failures = 0;
    for (chain, part) in &parts {
        let t = Instant::now();
        let report = sandbox.build(&part.script).await?;
        let took = t.elapsed();
        if let Some(problem) = problem(&report.outcome, part) {
            failures += 1;
            eprintln!("{chain}: {problem}");
        }
        by_family.entry(part.part.as_str()).or_default().push((took, chain));
    }
    println!(
        "{:<16} {:>5} {:>9} {:>9}  slowest part",
        "family", "parts", "p50 ms", "max ms"
    );
    let mut within = 0;
    for (family, runs) in &mut by_family {
        runs.sort();
        let (p50, (max, slowest)) = (runs[(runs.len() - 1) / 2].0, runs[runs.len() - 1]);
        within += usize::from(max <= BUDGET);
        println!(
            "{family:<16} {:>5} {:>9.1} {:>9.1}  {slowest}",
            runs.len(),
            ms(p50),
            ms(max)
        );
    }
    println!(
        "{within} of {} families within {} ms of FreeCAD time for every part",
        by_family.len(),
        BUDGET.as_millis()
    );
    if failures > 0 {
        anyhow::bail!("{failures} part(s) did not build as expected");
    }
    Ok(())
}

fn percentile(times: &mut [Duration], p: usize) -> Duration {
    times.sort();
    times[((times.len() - 1) * p + 50) / 100]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
