//! Job stages and their only legal transitions.
//!
//! `queued → generating → uploading → processing → completed`, with the
//! terminal alternatives `failed`, `timeout`, `cancelled` and
//! `needs_input` (the prompt lacks a dimension: the job ends with a
//! question, and the user's answer continues the request as a new job). A stage never
//! moves backwards, with one named exception: a failed FreeCAD run of an LLM
//! script goes from `processing` back to `generating` for a repair attempt.
//! Stages may be skipped forwards (a user's uploaded script starts at
//! `uploading`).

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStage {
    Queued,
    Generating,
    Uploading,
    Processing,
    Completed,
    Failed,
    Timeout,
    Cancelled,
    /// The prompt lacks a dimension the part needs; the job asked for it.
    NeedsInput,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a job cannot move from {from} to {to}")]
pub struct IllegalTransition {
    pub from: JobStage,
    pub to: JobStage,
}

impl JobStage {
    pub const ALL: [JobStage; 9] = [
        JobStage::Queued,
        JobStage::Generating,
        JobStage::Uploading,
        JobStage::Processing,
        JobStage::Completed,
        JobStage::Failed,
        JobStage::Timeout,
        JobStage::Cancelled,
        JobStage::NeedsInput,
    ];

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::Timeout | Self::Cancelled | Self::NeedsInput
        )
    }

    /// A service is working on the job: it has left the queue and not ended.
    pub fn is_working(self) -> bool {
        !self.is_terminal() && self != Self::Queued
    }

    /// Position on the happy path; terminal failures have none. A legal
    /// move to a lower rank is a repair (see [`JobStage::can_transition_to`]).
    pub fn rank(self) -> Option<u8> {
        match self {
            Self::Queued => Some(0),
            Self::Generating => Some(1),
            Self::Uploading => Some(2),
            Self::Processing => Some(3),
            Self::Completed => Some(4),
            _ => None,
        }
    }

    pub fn can_transition_to(self, to: JobStage) -> bool {
        if self.is_terminal() {
            return false;
        }
        if self == Self::Processing && to == Self::Generating {
            return true; // repair of a failed LLM script
        }
        match (self.rank(), to.rank()) {
            (Some(a), Some(b)) => b > a,
            // failed / timeout / cancelled end any live job
            (_, None) => true,
            (None, _) => false,
        }
    }

    pub fn transition(self, to: JobStage) -> Result<JobStage, IllegalTransition> {
        if self.can_transition_to(to) {
            Ok(to)
        } else {
            Err(IllegalTransition { from: self, to })
        }
    }

    /// Every stage from which `to` may be entered; adapters use it to make a
    /// stored transition atomic (update only where the stage is one of these).
    pub fn predecessors(to: JobStage) -> Vec<JobStage> {
        Self::ALL
            .into_iter()
            .filter(|from| from.can_transition_to(to))
            .collect()
    }

    /// What a person sees while the job is in this stage.
    pub fn label(self) -> &'static str {
        match self {
            Self::Queued => "Queued…",
            Self::Generating => "Generating script…",
            Self::Uploading => "Uploading to S3…",
            Self::Processing => "FreeCAD processing…",
            Self::Completed => "Model ready",
            Self::Failed => "Failed",
            Self::Timeout => "Timed out",
            Self::Cancelled => "Cancelled",
            Self::NeedsInput => "Waiting for your answer",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Generating => "generating",
            Self::Uploading => "uploading",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
            Self::Cancelled => "cancelled",
            Self::NeedsInput => "needs_input",
        }
    }
}

impl fmt::Display for JobStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::JobStage::*;
    use super::*;

    #[test]
    fn happy_path_is_legal() {
        let mut s = Queued;
        for next in [Generating, Uploading, Processing, Completed] {
            s = s.transition(next).unwrap();
        }
        assert!(s.is_terminal());
    }

    #[test]
    fn never_backwards_except_repair() {
        assert!(Uploading.transition(Generating).is_err());
        assert!(Processing.transition(Uploading).is_err());
        assert!(Processing.transition(Generating).is_ok());
        assert!(Generating.transition(Generating).is_err());
    }

    #[test]
    fn terminal_is_final() {
        for t in [Completed, Failed, Timeout, Cancelled] {
            for to in JobStage::ALL {
                assert!(t.transition(to).is_err(), "{t} -> {to}");
            }
        }
    }

    #[test]
    fn failures_end_live_jobs_and_uploads_skip_generation() {
        for live in [Queued, Generating, Uploading, Processing] {
            assert!(live.can_transition_to(Failed));
            assert!(live.can_transition_to(Cancelled));
        }
        assert!(Queued.can_transition_to(Uploading));
        let working: Vec<JobStage> = JobStage::ALL.into_iter().filter(|s| s.is_working()).collect();
        assert_eq!(working, vec![Generating, Uploading, Processing]);
        assert_eq!(
            JobStage::predecessors(Completed),
            vec![Queued, Generating, Uploading, Processing]
        );
    }
}
