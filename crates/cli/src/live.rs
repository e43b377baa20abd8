//! The live view of a job at a terminal: the stage it is in with a spinner
//! and the elapsed time, each finished stage left on its own line. Without
//! a terminal (pipes, CI) each stage is one plain line.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

struct Current {
    label: String,
    since: Instant,
}

pub struct Live {
    start: Instant,
    current: Arc<Mutex<Option<Current>>>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Live {
    pub fn start() -> Self {
        let current: Arc<Mutex<Option<Current>>> = Arc::new(Mutex::new(None));
        let start = Instant::now();
        let ticker = std::io::stderr().is_terminal().then(|| {
            let current = current.clone();
            tokio::spawn(async move {
                let mut i = 0;
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if let Some(c) = current.lock().expect("live lock").as_ref() {
                        let mut err = std::io::stderr();
                        let _ = write!(
                            err,
                            "\r\x1b[2K{} {}  {:.1}s",
                            FRAMES[i % FRAMES.len()],
                            c.label,
                            start.elapsed().as_secs_f64()
                        );
                        let _ = err.flush();
                    }
                    i += 1;
                }
            })
        });
        Self { start, current, ticker }
    }

    /// The job entered a stage (no-op when it is the same label).
    pub fn stage(&self, label: &str) {
        let mut cur = self.current.lock().expect("live lock");
        if cur.as_ref().is_some_and(|c| c.label == label) {
            return;
        }
        if let Some(prev) = cur.take() {
            self.done_line(&prev, "✓");
        }
        if self.ticker.is_none() {
            eprintln!("[{:6.1}s] {label}", self.start.elapsed().as_secs_f64());
        }
        *cur = Some(Current {
            label: label.to_owned(),
            since: Instant::now(),
        });
    }

    fn done_line(&self, c: &Current, mark: &str) {
        if self.ticker.is_some() {
            eprintln!("\r\x1b[2K{mark} {}  {:.1}s", c.label, c.since.elapsed().as_secs_f64());
        }
    }

    /// The job is over: the last stage gets its mark (✓ or ✗).
    pub fn finish(mut self, ok: bool, label: &str) {
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
        let prev = self.current.lock().expect("live lock").take();
        let mark = if ok { "✓" } else { "✗" };
        if let Some(p) = prev.filter(|p| p.label != label && std::io::stderr().is_terminal()) {
            eprintln!("\r\x1b[2K✓ {}  {:.1}s", p.label, p.since.elapsed().as_secs_f64());
        }
        if std::io::stderr().is_terminal() {
            eprintln!(
                "\r\x1b[2K{mark} {label}  {:.1}s total",
                self.start.elapsed().as_secs_f64()
            );
        } else {
            eprintln!("[{:6.1}s] {label}", self.start.elapsed().as_secs_f64());
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(t) = self.ticker.take() {
            t.abort();
            eprintln!();
        }
    }
}
