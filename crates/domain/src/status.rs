//! Project status (stored on the project) and processing status (what the
//! scripts API reports for a slug).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProjectStatus {
    Draft,
    Processing,
    Completed,
    Error,
    Timeout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProcessingStatus {
    NoScripts,
    Processing,
    Completed,
    Timeout,
    Error,
}

impl ProcessingStatus {
    /// The scripts API's view of a project: no version yet means no scripts;
    /// otherwise it follows the project status.
    pub fn of(current_version: Option<u32>, status: ProjectStatus) -> Self {
        match (current_version, status) {
            (None | Some(0), _) => Self::NoScripts,
            (_, ProjectStatus::Draft | ProjectStatus::Processing) => Self::Processing,
            (_, ProjectStatus::Completed) => Self::Completed,
            (_, ProjectStatus::Timeout) => Self::Timeout,
            (_, ProjectStatus::Error) => Self::Error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processing_status_follows_project() {
        assert_eq!(
            ProcessingStatus::of(None, ProjectStatus::Completed),
            ProcessingStatus::NoScripts
        );
        assert_eq!(
            ProcessingStatus::of(Some(2), ProjectStatus::Processing),
            ProcessingStatus::Processing
        );
        assert_eq!(
            ProcessingStatus::of(Some(2), ProjectStatus::Error),
            ProcessingStatus::Error
        );
        assert_eq!(
            serde_json::to_string(&ProcessingStatus::NoScripts).unwrap(),
            "\"no_scripts\""
        );
    }
}
