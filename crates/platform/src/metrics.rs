//! Prometheus metrics shared by every service, rendered at `/metrics`.
//!
//! One process-wide registry; the helpers below keep label sets consistent
//! across services (queue names, stages, outcomes).

use std::sync::LazyLock;

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

pub static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    REGISTRY.register(Box::new(c.clone())).expect("metric registered once");
    c
}

fn histogram(name: &str, help: &str, labels: &[&str], buckets: Vec<f64>) -> HistogramVec {
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels).expect("valid metric");
    REGISTRY.register(Box::new(h.clone())).expect("metric registered once");
    h
}

static BUS_MESSAGES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "cadscribe_bus_messages_total",
        "Messages by queue and outcome (consumed, acked, retried, dead_lettered).",
        &["queue", "outcome"],
    )
});

static STAGE_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram(
        "cadscribe_job_stage_seconds",
        "Time a job spent in a stage, recorded when it leaves it.",
        &["stage"],
        vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0],
    )
});

static HTTP_REQUESTS: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram(
        "cadscribe_http_request_seconds",
        "HTTP requests by route and status, with latency.",
        &["route", "method", "status"],
        vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0],
    )
});

static EVENTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter("cadscribe_events_total", "Service-specific events by kind and outcome.", &["kind", "outcome"])
});

static DURATIONS: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram(
        "cadscribe_operation_seconds",
        "Durations of service operations (FreeCAD runs, AI responses, uploads).",
        &["operation", "outcome"],
        vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0],
    )
});

pub fn bus_message(queue: &str, outcome: &str) {
    BUS_MESSAGES.with_label_values(&[queue, outcome]).inc();
}

pub fn stage_duration(stage: &str, seconds: f64) {
    STAGE_SECONDS.with_label_values(&[stage]).observe(seconds);
}

pub fn http_request(route: &str, method: &str, status: u16, seconds: f64) {
    HTTP_REQUESTS.with_label_values(&[route, method, &status.to_string()]).observe(seconds);
}

pub fn event(kind: &str, outcome: &str) {
    EVENTS.with_label_values(&[kind, outcome]).inc();
}

pub fn operation(operation: &str, outcome: &str, seconds: f64) {
    DURATIONS.with_label_values(&[operation, outcome]).observe(seconds);
}

/// The registry in Prometheus text format.
pub fn render() -> String {
    // Touch the families so they appear (with HELP/TYPE) before first use.
    LazyLock::force(&BUS_MESSAGES);
    LazyLock::force(&STAGE_SECONDS);
    LazyLock::force(&HTTP_REQUESTS);
    LazyLock::force(&EVENTS);
    LazyLock::force(&DURATIONS);
    let mut buf = Vec::new();
    TextEncoder::new().encode(&REGISTRY.gather(), &mut buf).expect("text encoding");
    String::from_utf8(buf).expect("prometheus text is UTF-8")
}
