//! Prometheus metrics shared by every service, rendered at `/metrics`.
//!
//! One process-wide registry; the helpers below keep label sets consistent
//! across services (queue names, stages, outcomes).

use std::sync::LazyLock;

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

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

fn gauge(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    REGISTRY.register(Box::new(g.clone())).expect("metric registered once");
    g
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
    counter(
        "cadscribe_events_total",
        "Service-specific events by kind and outcome.",
        &["kind", "outcome"],
    )
});

static DURATIONS: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram(
        "cadscribe_operation_seconds",
        "Durations of service operations (FreeCAD runs, AI responses, uploads).",
        &["operation", "outcome"],
        vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0],
    )
});

static IN_FLIGHT: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge(
        "cadscribe_in_flight_messages",
        "Work messages being handled right now, by service.",
        &["service"],
    )
});

static HEARTBEATS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "cadscribe_heartbeats_total",
        "Heartbeats published by this instance, by outcome (sent, failed).",
        &["outcome"],
    )
});

pub fn bus_message(queue: &str, outcome: &str) {
    BUS_MESSAGES.with_label_values(&[queue, outcome]).inc();
}

pub fn stage_duration(stage: &str, seconds: f64) {
    STAGE_SECONDS.with_label_values(&[stage]).observe(seconds);
}

pub fn http_request(route: &str, method: &str, status: u16, seconds: f64) {
    HTTP_REQUESTS
        .with_label_values(&[route, method, &status.to_string()])
        .observe(seconds);
}

pub fn event(kind: &str, outcome: &str) {
    EVENTS.with_label_values(&[kind, outcome]).inc();
}

pub fn operation(operation: &str, outcome: &str, seconds: f64) {
    DURATIONS.with_label_values(&[operation, outcome]).observe(seconds);
}

/// One more (`+1`) or one fewer (`-1`) message in hand for `service`.
pub fn in_flight(service: &str, delta: i64) {
    IN_FLIGHT.with_label_values(&[service]).add(delta);
}

pub fn heartbeat(outcome: &str) {
    HEARTBEATS.with_label_values(&[outcome]).inc();
}

/// Actix middleware recording every request with `http_request`: the route
/// is the matched pattern (`/api/projects/{slug}`), never the raw path, so
/// the label set stays small; unmatched paths count as `unmatched`.
pub async fn record_http(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let res = next.call(req).await?;
    let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
    http_request(&route, &method, res.status().as_u16(), started.elapsed().as_secs_f64());
    Ok(res)
}

/// The registry in Prometheus text format.
pub fn render() -> String {
    // Touch the families so they appear (with HELP/TYPE) before first use.
    LazyLock::force(&BUS_MESSAGES);
    LazyLock::force(&STAGE_SECONDS);
    LazyLock::force(&HTTP_REQUESTS);
    LazyLock::force(&EVENTS);
    LazyLock::force(&DURATIONS);
    LazyLock::force(&IN_FLIGHT);
    LazyLock::force(&HEARTBEATS);
    let mut buf = Vec::new();
    TextEncoder::new()
        .encode(&REGISTRY.gather(), &mut buf)
        .expect("text encoding");
    String::from_utf8(buf).expect("prometheus text is UTF-8")
}
