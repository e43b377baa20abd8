//! `cadscribe`, the command line of CADScribe.
//!
//! For people: `register`, `login`, `generate` (follows the job live and
//! writes the model files), `status`, `projects`, `download`, all through
//! the gateway's public API (`CADSCRIBE_URL`). For operators: `migrate`,
//! the legacy `chat_messages` collection to the project-centric schema,
//! straight against MongoDB (`MONGODB_URI`, `DATABASE_NAME`).

pub mod api;
pub mod commands;
pub mod live;
pub mod migrate;
pub mod progress;
pub mod sse;
