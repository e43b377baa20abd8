//! CADScribe's adapters to the outside world, each behind a small interface
//! the services use: configuration from the environment, telemetry, MongoDB
//! repositories, the S3 object store, the message bus (RabbitMQ by default)
//! and the shell every service binary runs in (health, metrics, shutdown).

pub mod bus;
pub mod config;
pub mod dispatch;
pub mod jobs;
pub mod metrics;
pub mod mongo;
pub mod runtime;
pub mod s3;
pub mod s3_events;
pub mod service;
pub mod telemetry;
pub mod testkit;

pub use config::{ConfigError, ConfigErrors, EnvReader, Secret};
pub use tokio_util::sync::CancellationToken;
