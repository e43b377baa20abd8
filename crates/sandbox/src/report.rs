//! What a run produced.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use domain::messages::{FailureKind, ModelMetrics};
use domain::{Diagnosis, ModelFormat};

use crate::job::JobDir;
use crate::Containment;

/// The result of one script.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// FreeCAD built a model and exported it in every format.
    Built {
        metrics: ModelMetrics,
        /// Plain files inside the report's private directory; valid while
        /// the [`RunReport`] lives.
        files: BTreeMap<ModelFormat, PathBuf>,
    },
    /// No model: the script failed, or was stopped by a limit or the sandbox.
    Failed {
        kind: FailureKind,
        /// One line for people and for the repair prompt.
        error: String,
        /// The last lines of the traceback (or of the log), job paths removed.
        traceback_tail: String,
        /// Class, script line, console messages and a suggestion.
        diagnosis: Diagnosis,
    },
}

/// A finished run. Owns the run's private directory, which is deleted when
/// the report is dropped: upload the files first.
#[derive(Debug)]
pub struct RunReport {
    pub outcome: Outcome,
    /// Combined stdout and stderr of FreeCAD, capped (head and tail kept).
    pub log: String,
    pub duration: Duration,
    pub exit_code: Option<i32>,
    /// The signal that ended FreeCAD, if one did (SIGKILL after a timeout).
    pub signal: Option<i32>,
    /// The containment layers this run had.
    pub containment: Containment,
    pub(crate) dir: JobDir,
}

impl RunReport {
    /// The run's private directory (outputs are in its `out/`).
    pub fn job_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn is_built(&self) -> bool {
        matches!(self.outcome, Outcome::Built { .. })
    }

    /// The failure kind, if the run failed.
    pub fn failure_kind(&self) -> Option<FailureKind> {
        match &self.outcome {
            Outcome::Failed { kind, .. } => Some(*kind),
            Outcome::Built { .. } => None,
        }
    }
}
