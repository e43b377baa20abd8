//! How a job gets a FreeCAD process.
//!
//! The contract between [`Sandbox`](crate::Sandbox) and a strategy is small:
//! a prepared [`Job`] (directory, environment, limits, containment) goes in,
//! an [`Execution`] (how the process ended, its output) comes out. Reading
//! `result.json` and classifying failures is shared, so a future warm worker
//! — one long-lived FreeCAD that forks a contained child per job — only has
//! to produce an `Execution` for the same job directory.

use std::path::Path;
use std::time::Duration;

use crate::contain::ChildSetup;
use crate::job::JobDir;
use crate::Limits;

/// The strategy used to run jobs. Both give a job the same containment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Executor {
    /// One fresh `freecadcmd` per job: ~0.3 s of start-up, nothing shared
    /// between jobs.
    #[default]
    Cold,
    /// Long-lived FreeCAD processes with everything loaded, forking one
    /// contained child per job (`crate::warm`): tens of milliseconds.
    Warm,
}

impl Executor {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Cold => "cold",
            Self::Warm => "warm",
        }
    }
}

impl std::fmt::Display for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Executor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cold" => Ok(Self::Cold),
            "warm" => Ok(Self::Warm),
            other => Err(format!("unknown FreeCAD executor {other:?}: expected warm or cold")),
        }
    }
}

/// One job, ready to run.
pub(crate) struct Job<'a> {
    pub freecad: &'a Path,
    pub dir: &'a JobDir,
    pub limits: &'a Limits,
    pub setup: ChildSetup,
}

/// Why the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// It exited or was killed by the kernel (a signal, a limit).
    Exited,
    /// The worker killed it at the wall-clock limit.
    WallTime,
    /// The worker killed it after FreeCAD reported a thread it could not
    /// start, which leaves it waiting forever.
    Stalled,
    /// The worker killed it when its output passed [`Limits::output`](crate::Limits).
    OutputLimit,
}

/// How the process ended.
#[derive(Debug)]
pub(crate) struct Execution {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub ending: Ending,
    /// Combined stdout and stderr, capped.
    pub log: String,
    pub duration: Duration,
}
