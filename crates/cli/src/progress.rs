//! A simple progress line on stderr for long steps: redrawn in place on a
//! terminal, one line per tenth otherwise (logs stay readable).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Progress {
    label: String,
    total: u64,
    done: u64,
    terminal: bool,
    last_draw: Option<Instant>,
    last_tenth: u64,
    quiet: bool,
}

impl Progress {
    pub fn new(label: impl Into<String>, total: u64) -> Self {
        Self {
            label: label.into(),
            total,
            done: 0,
            terminal: std::io::stderr().is_terminal(),
            last_draw: None,
            last_tenth: 0,
            // Small steps finish before a line would help.
            quiet: total < 500,
        }
    }

    pub fn add(&mut self, n: u64) {
        self.done += n;
        if self.quiet {
            return;
        }
        let pct = (self.done * 100).checked_div(self.total).unwrap_or(100).min(100);
        if self.terminal {
            if self.last_draw.is_none_or(|t| t.elapsed() >= Duration::from_millis(100)) {
                self.last_draw = Some(Instant::now());
                let mut err = std::io::stderr();
                let _ = write!(err, "\r{}: {}/{} ({pct}%)", self.label, self.done, self.total);
                let _ = err.flush();
            }
        } else if pct / 10 > self.last_tenth {
            self.last_tenth = pct / 10;
            eprintln!("{}: {}/{} ({pct}%)", self.label, self.done, self.total);
        }
    }

    pub fn finish(self) {
        if !self.quiet && self.terminal {
            eprintln!("\r{}: {}/{} (100%)", self.label, self.done, self.total);
        }
    }
}
