//! gateway: the public API and the only door for web clients.
//!
//! An actix-web server under `/api`: accounts and JWTs, projects and their
//! data, scripts and model downloads, generation jobs, and the live status
//! of jobs as Server-Sent Events. It answers from MongoDB and S3 and starts
//! work by publishing on the bus (`platform::jobs::submit`); it never waits
//! on FreeCAD or a language model inside a request.
//!
//! - `settings`: configuration from the environment.
//! - `startup`: builds the application (`Application::build`, `port`,
//!   `run_until_stopped`) and the state handlers share.
//! - `auth`: JWTs and password hashes; the `AuthUser` extractor.
//! - `error`: the API's one error shape.
//! - `telemetry`: request ids, spans and metrics per request.
//! - `ratelimit`: the per-user token buckets.
//! - `events`: `job.status` from the bus, fanned out to live streams.
//! - `reads`: the short-lived cache behind the reads clients poll.
//! - `views`: the JSON the API answers.
//! - `routes`: the handlers, and the OpenAPI document.

pub mod archive;
pub mod auth;
pub mod error;
pub mod events;
pub mod quota;
pub mod ratelimit;
pub mod reads;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod telemetry;
pub mod views;

pub use settings::{Settings, DEFAULT_PORT};
pub use startup::Application;

pub const NAME: &str = "gateway";
