//! The gateway's API against the real stack: the application runs
//! in-process on a free port with a database, exchange and queues of its
//! own per test.

mod ai;
mod auth;
mod docs;
mod errors;
mod events;
mod helpers;
mod isolation;
mod jobs;
mod monitoring;
mod pipeline;
mod projects;
mod reads;
mod scripts;
