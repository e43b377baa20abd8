//! Run one script file in the sandbox and print the report:
//! `cargo run -p sandbox --example run -- part.py [--log]`.

use sandbox::{Outcome, Sandbox};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: run SCRIPT.py [--log]")?;
    let show_log = args.any(|a| a == "--log");
    let script = std::fs::read_to_string(&path)?;
    let report = Sandbox::from_env()?.run(&script).await?;
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
        } => {
            println!("failed ({kind:?}): {error}\n{traceback_tail}");
        }
    }
    if show_log {
        println!("--- log ---\n{}", report.log);
    }
    Ok(())
}
