//! Run one script file in the sandbox and print the report:
//! `cargo run -p sandbox --example run -- part.py [--log] [--memory-mib N] [--cpu-s N] [--wall-s N]`.
//!
//! Handy for measuring what a model needs: lower `--memory-mib` until it fails.

use std::time::Duration;

use sandbox::{Limits, Outcome, Sandbox};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    let mut show_log = false;
    let mut limits = Limits::default();
    while let Some(arg) = args.next() {
        let mut number =
            || -> Result<u64, Box<dyn std::error::Error>> { Ok(args.next().ok_or("a number must follow")?.parse()?) };
        match arg.as_str() {
            "--log" => show_log = true,
            "--memory-mib" => limits.address_space = number()? << 20,
            "--cpu-s" => limits.cpu_time = Duration::from_secs(number()?),
            "--wall-s" => limits.wall_time = Duration::from_secs(number()?),
            _ => path = Some(arg),
        }
    }
    let path = path.ok_or("usage: run SCRIPT.py [--log] [--memory-mib N] [--cpu-s N] [--wall-s N]")?;
    let script = std::fs::read_to_string(&path)?;
    let report = Sandbox::from_env()?.with_limits(limits).run(&script).await?;
    println!("containment: {}", report.containment.describe());
    println!(
        "took {:.2} s, exit code {:?}, signal {:?}",
        report.duration.as_secs_f64(),
        report.exit_code,
        report.signal
    );
    match &report.outcome {
        Outcome::Built { metrics, files } => {
            println!("built: {metrics:?}");
            for (format, file) in files {
                println!("  {format}: {} bytes", std::fs::metadata(file)?.len());
            }
        }
        Outcome::Failed {
            kind,
            error,
            traceback_tail,
            diagnosis,
        } => {
            println!("failed ({kind:?}): {error}\n{traceback_tail}");
            println!(
                "diagnosis: {}\n  suggestion: {}",
                diagnosis.headline(),
                diagnosis.suggestion
            );
            for line in &diagnosis.console {
                println!("  console: {line}");
            }
        }
    }
    if show_log {
        println!("--- log ---\n{}", report.log);
    }
    Ok(())
}
