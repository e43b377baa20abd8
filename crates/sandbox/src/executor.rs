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
use crate::{cold, Limits, SandboxError};

/// The strategy used to run jobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Executor {
    /// One fresh `freecadcmd` per job: ~0.5 s of start-up, nothing shared
    /// between jobs.
    #[default]
    Cold,
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

impl Executor {
    pub(crate) async fn execute(&self, job: Job<'_>) -> Result<Execution, SandboxError> {
        match self {
            Self::Cold => cold::execute(job).await,
        }
    }
}
