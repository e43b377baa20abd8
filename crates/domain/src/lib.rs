//! CADScribe's domain: the types every service shares, once.
//!
//! Everything here is pure: values are parsed, never merely validated
//! (`ProjectSlug::parse` returns a `Result`, and once you hold a slug it is
//! safe to put in an S3 key). The crate does no I/O; adapters live in
//! `platform`, behaviour in the services.

pub mod auth;
pub mod diagnosis;
pub mod documents;
pub mod files;
pub mod ids;
pub mod job;
pub mod keys;
pub mod material;
pub mod messages;
pub mod s3_event;
pub mod settings;
pub mod spec;
pub mod status;
pub mod verify;

pub use diagnosis::{Diagnosis, FailureClass};
pub use files::{FileType, ModelFormat};
pub use ids::{IdError, JobId, ProjectId, ProjectSlug, UserId, Version};
pub use job::{IllegalTransition, JobStage};
pub use keys::S3Key;
pub use messages::{Envelope, MessageType, Payload, RawEnvelope};
pub use status::{ProcessingStatus, ProjectStatus};
pub use verify::{Check, Expectations, Verification};
