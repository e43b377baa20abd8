//! Tracing for every service: JSON lines in production, readable text
//! locally, the level from `RUST_LOG`.
//!
//! `LOG_FORMAT=json|pretty` decides; without it, `DEBUG=true` or a terminal
//! on stderr means readable text and anything else means JSON.

use std::io::IsTerminal;

use tracing_subscriber::{fmt, EnvFilter};

pub fn init(service: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{}=debug", service.replace('-', "_"))));
    let debug = std::env::var("DEBUG").is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
    let json = match std::env::var("LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("pretty" | "text") => false,
        _ => !(debug || std::io::stderr().is_terminal()),
    };
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // try_init: tests may initialise more than once.
    let _ = if json {
        builder.json().flatten_event(true).with_current_span(true).try_init()
    } else {
        builder.compact().try_init()
    };
}
