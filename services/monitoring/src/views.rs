//! The other monitoring views: liveness, S3 status and write probe, AI
//! provider metrics, a project's processing status, and queue depths.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use bson::{doc, Bson, Document};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;

use domain::documents::{Job, JobKind, Project};
use domain::{JobStage, ProcessingStatus, ProjectSlug};
use platform::bus::{dead_letter_queue, work_queue, QueueStats, TOPOLOGY};

use crate::auth::Admin;
use crate::error::{ApiError, ApiResult};
use crate::heartbeats::ServiceState;
use crate::State;

/// Most messages and jobs one AI metrics answer reads.
const MAX_SCANNED: i64 = 100_000;

/// S3 prefixes counted by the status view.
const PREFIXES: [&str; 4] = ["input/", "output/", "logs/", "processed/"];

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// `GET /api/monitoring/live`: the process answers; nothing else is checked.
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "alive", "service": crate::NAME, "version": env!("CARGO_PKG_VERSION") }))
}

/// `GET /api/monitoring/s3/status`: reachability and latency (HEAD of the
/// bucket), and object counts per prefix up to `S3_COUNT_CAP`.
pub async fn s3_status(_: Admin, state: web::Data<State>) -> HttpResponse {
    let s3 = &state.settings.common.s3;
    let timeout = state.settings.check_timeout;
    let started = Instant::now();
    let ping = tokio::time::timeout(timeout, state.store.ping()).await;
    let latency = ms(started.elapsed());
    let reachable = match ping {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    };
    let mut objects = serde_json::Map::new();
    if reachable.is_ok() {
        let cap = state.settings.s3_count_cap;
        // Listing is paged: give it more time than a single request.
        let list_timeout = timeout * 4;
        let counts = futures::future::join_all(PREFIXES.iter().map(|p| {
            let store = state.store.clone();
            async move { (*p, tokio::time::timeout(list_timeout, store.count(p, cap)).await) }
        }))
        .await;
        for (prefix, r) in counts {
            let v = match r {
                Ok(Ok((count, capped))) => json!({ "count": count, "capped": capped }),
                Ok(Err(e)) => json!({ "error": e.to_string() }),
                Err(_) => json!({ "error": format!("no answer within {list_timeout:?}") }),
            };
            objects.insert(prefix.to_owned(), v);
        }
    }
    HttpResponse::Ok().json(json!({
        "status": if reachable.is_ok() { "up" } else { "down" },
        "reason": reachable.err(),
        "bucket": s3.bucket,
        "region": s3.region,
        "endpoint": s3.endpoint_url.as_deref().unwrap_or("AWS"),
        "latency_ms": latency,
        "count_cap": state.settings.s3_count_cap,
        "objects": objects,
    }))
}

#[derive(Serialize)]
struct Step {
    step: &'static str,
    ok: bool,
    ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `POST /api/monitoring/test/s3-upload`: writes a small probe object,
/// reads it back, deletes it, and checks it is gone; the time of each step.
pub async fn s3_probe(_: Admin, state: web::Data<State>) -> HttpResponse {
    let key = format!("monitoring/probe-{}.txt", uuid::Uuid::new_v4().simple());
    let body = format!("CADScribe monitoring probe {}", Utc::now().to_rfc3339()).into_bytes();
    let timeout = state.settings.check_timeout;
    let store = &state.store;
    let mut steps = Vec::new();
    let total = Instant::now();

    async fn timed<T, F>(timeout: Duration, f: F) -> (Duration, Result<T, String>)
    where
        F: std::future::Future<Output = Result<T, platform::s3::S3Error>>,
    {
        let t = Instant::now();
        let r = match tokio::time::timeout(timeout, f).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err(format!("no answer within {timeout:?}")),
        };
        (t.elapsed(), r)
    }

    let meta = [("service", crate::NAME.to_owned()), ("purpose", "probe".to_owned())];
    let (took, written) = timed(
        timeout,
        store.put(&key, body.clone(), "text/plain; charset=utf-8", &meta),
    )
    .await;
    steps.push(Step {
        step: "write",
        ok: written.is_ok(),
        ms: ms(took),
        error: written.as_ref().err().cloned(),
    });
    if written.is_ok() {
        let (took, read) = timed(timeout, store.get(&key)).await;
        let read = read.and_then(|o| match o {
            Some(o) if o.bytes == body => Ok(()),
            Some(_) => Err("the object read back differs from the one written".to_owned()),
            None => Err("the object written is not there".to_owned()),
        });
        steps.push(Step {
            step: "read",
            ok: read.is_ok(),
            ms: ms(took),
            error: read.err(),
        });
    }
    // Always try to remove the probe, even after a failed read.
    let (took, deleted) = timed(timeout, store.delete(&key)).await;
    steps.push(Step {
        step: "delete",
        ok: deleted.is_ok(),
        ms: ms(took),
        error: deleted.err(),
    });
    if steps.iter().all(|s| s.ok) {
        let (took, gone) = timed(timeout, store.head(&key)).await;
        let gone = gone.and_then(|h| {
            if h.is_none() {
                Ok(())
            } else {
                Err("the probe is still there".to_owned())
            }
        });
        steps.push(Step {
            step: "verify_deleted",
            ok: gone.is_ok(),
            ms: ms(took),
            error: gone.err(),
        });
    }
    let ok = steps.iter().all(|s| s.ok);
    HttpResponse::Ok().json(json!({
        "status": if ok { "ok" } else { "failed" },
        "bucket": store.bucket(),
        "key": key,
        "bytes": body.len(),
        "steps": steps,
        "total_ms": ms(total.elapsed()),
    }))
}

#[derive(Debug, Deserialize)]
pub struct AiQuery {
    /// Only messages and jobs since this time (RFC 3339).
    pub since: Option<String>,
}

#[derive(Default)]
struct ProviderStats {
    requests: u64,
    failures: u64,
    repairs: u64,
    response_times: Vec<f64>,
    prompt_tokens: i64,
    completion_tokens: i64,
}

fn number(v: Option<&Bson>) -> Option<f64> {
    match v? {
        Bson::Double(d) => Some(*d),
        Bson::Int32(i) => Some(f64::from(*i)),
        Bson::Int64(i) => Some(*i as f64),
        _ => None,
    }
}

fn text<'a>(d: &'a Document, key: &str) -> Option<&'a str> {
    d.get_str(key).ok().filter(|s| !s.is_empty())
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `GET /api/monitoring/ai/metrics[?since=RFC3339]`: per provider and
/// model, from the assistant messages (requests, repairs, response times,
/// tokens) and failed generation jobs (failures).
pub async fn ai_metrics(_: Admin, state: web::Data<State>, q: web::Query<AiQuery>) -> ApiResult<HttpResponse> {
    let since = match q.since.as_deref() {
        Some(s) => Some(
            DateTime::parse_from_rfc3339(s)
                .map_err(|e| ApiError::bad_request("bad_since", format!("since must be an RFC 3339 time: {e}")))?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let (groups, scanned, unattributed) = state.bounded("MongoDB", scan_ai(&state, since)).await?;

    let mut totals = (0u64, 0u64, 0u64);
    let providers: Vec<serde_json::Value> = groups
        .into_iter()
        .map(|((provider, model), mut s)| {
            totals.0 += s.requests;
            totals.1 += s.failures;
            totals.2 += s.repairs;
            s.response_times.sort_by(|a, b| a.total_cmp(b));
            let n = s.response_times.len();
            let mean = (n > 0).then(|| round3(s.response_times.iter().sum::<f64>() / n as f64));
            json!({
                "provider": provider,
                "model": model,
                "requests": s.requests,
                "failures": s.failures,
                "repairs": s.repairs,
                "response_time_s": {
                    "mean": mean,
                    "p95": percentile(&s.response_times, 95.0).map(round3),
                    "max": s.response_times.last().copied().map(round3),
                    "samples": n,
                },
                "tokens": {
                    "prompt": s.prompt_tokens,
                    "completion": s.completion_tokens,
                    "total": s.prompt_tokens + s.completion_tokens,
                },
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "since": since.map(|s| s.to_rfc3339()),
        "providers": providers,
        "totals": { "requests": totals.0, "failures": totals.1 + unattributed, "repairs": totals.2 },
        "unattributed_failures": unattributed,
        "messages_scanned": scanned,
        "truncated": scanned >= MAX_SCANNED as u64,
    })))
}

type Groups = BTreeMap<(String, String), ProviderStats>;

async fn scan_ai(state: &State, since: Option<DateTime<Utc>>) -> Result<(Groups, u64, u64), mongodb::error::Error> {
    let mut groups = Groups::new();
    let mut by_job: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut filter = doc! { "role": "assistant" };
    if let Some(s) = since {
        filter.insert("timestamp", doc! { "$gte": bson::DateTime::from_chrono(s) });
    }
    let mut cursor = state
        .db
        .collection::<Document>("messages")
        .find(filter)
        .projection(doc! { "metadata": 1, "job_id": 1 })
        .sort(doc! { "timestamp": -1 })
        .limit(MAX_SCANNED)
        .await?;
    let mut scanned = 0u64;
    while let Some(m) = cursor.try_next().await? {
        scanned += 1;
        let meta = m.get_document("metadata").cloned().unwrap_or_default();
        let provider = text(&meta, "provider").unwrap_or("unknown").to_owned();
        let model = text(&meta, "source_model").unwrap_or("unknown").to_owned();
        if let Some(job) = text(&m, "job_id") {
            by_job.insert(job.to_owned(), (provider.clone(), model.clone()));
        }
        let s = groups.entry((provider, model)).or_default();
        s.requests += 1;
        if number(meta.get("repair_attempt")).is_some_and(|r| r > 0.0) {
            s.repairs += 1;
        }
        if let Some(t) = number(meta.get("response_time")).filter(|t| t.is_finite() && *t >= 0.0) {
            s.response_times.push(t);
        }
        s.prompt_tokens += number(meta.get("prompt_tokens")).unwrap_or(0.0) as i64;
        s.completion_tokens += number(meta.get("completion_tokens")).unwrap_or(0.0) as i64;
    }

    let mut filter = doc! { "stage": { "$in": ["failed", "timeout"] }, "kind": "generate" };
    if let Some(s) = since {
        filter.insert("updated_at", doc! { "$gte": bson::DateTime::from_chrono(s) });
    }
    let mut jobs = state
        .db
        .collection::<Document>("jobs")
        .find(filter)
        .projection(doc! { "job_id": 1, "source": 1 })
        .limit(MAX_SCANNED)
        .await?;
    let mut unattributed = 0;
    while let Some(j) = jobs.try_next().await? {
        let from_source = j
            .get_document("source")
            .ok()
            .and_then(|s| Some((text(s, "provider")?.to_owned(), text(s, "model")?.to_owned())));
        let key = from_source.or_else(|| text(&j, "job_id").and_then(|id| by_job.get(id).cloned()));
        match key {
            Some(k) => groups.entry(k).or_default().failures += 1,
            None => unattributed += 1,
        }
    }
    Ok((groups, scanned, unattributed))
}

/// The service that moves a job on from `stage`, and the queue it reads.
fn responsible(stage: JobStage, kind: JobKind) -> Option<(&'static str, String)> {
    use domain::MessageType as M;
    let (service, key) = match (stage, kind) {
        (JobStage::Queued, JobKind::Generate) | (JobStage::Generating, _) => ("ai-generator", M::GenerationRequested),
        (JobStage::Queued, JobKind::Upload) => ("script-store", M::ScriptUploaded),
        (JobStage::Uploading, JobKind::Generate) => ("script-store", M::ScriptGenerated),
        (JobStage::Uploading, JobKind::Upload) => ("script-store", M::ScriptUploaded),
        (JobStage::Processing, _) => ("freecad-worker", M::ScriptStored),
        _ => return None,
    };
    Some((service, work_queue(service, key)))
}

#[derive(Serialize)]
struct StageSpan {
    stage: JobStage,
    entered_at: DateTime<Utc>,
    left_at: Option<DateTime<Utc>>,
    seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// The stages of a job with the time spent in each: `queued` from its
/// creation, then every entry of its history until the next one (or now,
/// for the stage it is in).
fn stage_spans(job: &Job, now: DateTime<Utc>) -> Vec<StageSpan> {
    let mut entries: Vec<(JobStage, DateTime<Utc>, Option<String>)> = vec![(JobStage::Queued, job.created_at, None)];
    entries.extend(job.history.iter().map(|h| (h.stage, h.at, h.detail.clone())));
    let mut spans = Vec::with_capacity(entries.len());
    for (i, (stage, at, detail)) in entries.iter().enumerate() {
        let left = entries.get(i + 1).map(|n| n.1);
        let end = match left {
            Some(l) => l,
            None if stage.is_terminal() => *at,
            None => now,
        };
        let seconds = round3((end - *at).num_milliseconds().max(0) as f64 / 1000.0);
        spans.push(StageSpan {
            stage: *stage,
            entered_at: *at,
            left_at: left,
            seconds,
            detail: detail.clone(),
        });
    }
    spans
}

/// `GET /api/monitoring/projects/{slug}/processing-status`.
pub async fn processing_status(_: Admin, state: web::Data<State>, slug: web::Path<String>) -> ApiResult<HttpResponse> {
    let slug = ProjectSlug::parse(&slug).map_err(|e| ApiError::bad_request("bad_slug", e.to_string()))?;
    let project = state
        .bounded("MongoDB", async {
            state
                .db
                .collection::<Project>("projects")
                .find_one(doc! { "slug": slug.as_str() })
                .await
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no project {slug}")))?;
    let jobs: Vec<Job> = state
        .bounded("MongoDB", async {
            state
                .db
                .collection::<Job>("jobs")
                .find(doc! { "project_id": project.project_id.as_str() })
                .sort(doc! { "created_at": -1 })
                .limit(20)
                .await?
                .try_collect()
                .await
        })
        .await?;
    let now = Utc::now();

    let current = jobs.iter().find(|j| !j.stage.is_terminal());
    let current = match current {
        None => serde_json::Value::Null,
        Some(job) => {
            let since = job.history.last().map(|h| h.at).unwrap_or(job.created_at);
            let in_stage = (now - since).num_milliseconds().max(0) as f64 / 1000.0;
            let stuck = in_stage > state.settings.stuck_after.as_secs_f64();
            let mut waiting_on = serde_json::Value::Null;
            if let Some((service, queue)) = responsible(job.stage, job.kind) {
                let (svc_state, svc_reason) = state
                    .tracker
                    .states()
                    .remove(service)
                    .unwrap_or((ServiceState::Unknown, "not monitored".into()));
                // The queue depth is a hint only: its absence is no error.
                let depth = tokio::time::timeout(state.settings.check_timeout, state.bus.queue_stats())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .and_then(|all| {
                        let name = state.bus.queue_name(&queue);
                        all.into_iter().find(|q| q.queue == name)
                    });
                waiting_on = json!({
                    "service": service,
                    "service_status": svc_state,
                    "service_reason": svc_reason,
                    "queue": queue,
                    "queue_depth": depth.as_ref().map(|q| q.messages),
                    "queue_in_flight": depth.as_ref().and_then(|q| q.in_flight),
                    "queue_consumers": depth.as_ref().and_then(|q| q.consumers),
                });
            }
            json!({
                "job_id": job.job_id,
                "stage": job.stage,
                "label": job.stage.label(),
                "in_stage_s": round3(in_stage),
                "stuck": stuck,
                "stuck_after_s": state.settings.stuck_after.as_secs_f64(),
                "waiting_on": waiting_on,
            })
        }
    };

    let jobs_json: Vec<serde_json::Value> = jobs
        .iter()
        .map(|job| {
            let end = job.finished_at.unwrap_or(now);
            json!({
                "job_id": job.job_id,
                "kind": job.kind,
                "stage": job.stage,
                "version": job.version,
                "repair_attempts": job.repair_attempts,
                "error": job.error,
                "created_at": job.created_at,
                "finished_at": job.finished_at,
                "total_s": round3((end - job.created_at).num_milliseconds().max(0) as f64 / 1000.0),
                "stages": stage_spans(job, now),
            })
        })
        .collect();
    let current_version = (project.current_version > 0).then_some(project.current_version);
    Ok(HttpResponse::Ok().json(json!({
        "project_id": project.project_id,
        "slug": project.slug,
        "project_status": project.status,
        "processing_status": ProcessingStatus::of(current_version, project.status),
        "current_version": project.current_version,
        "current": current,
        "jobs": jobs_json,
    })))
}

/// `GET /api/monitoring/queues`: every work queue's depth, messages in
/// hand and consumers, and each service's dead-lettered count (the depth of
/// its `.dlq`). What the bus cannot count is `null`, and `notes` says why,
/// rather than a zero that would read as "nobody consumes".
pub async fn queues(_: Admin, state: web::Data<State>) -> ApiResult<HttpResponse> {
    let stats = state.bounded("the message broker", state.bus.queue_stats()).await?;
    Ok(HttpResponse::Ok().json(queues_view(&state, &stats)))
}

/// Why a count of [`queues_view`] is `null`.
const NO_CONSUMER_COUNT: &str = "consumers: the bus (SQS) does not count consumers; \
     /api/monitoring/health lists each service's instances by their heartbeats";
const NO_IN_FLIGHT_COUNT: &str = "in_flight: the bus (RabbitMQ) does not count messages in hand through its protocol; \
     its management UI does";

fn queues_view(state: &State, stats: &[QueueStats]) -> serde_json::Value {
    let find = |name: &str| {
        let full = state.bus.queue_name(name);
        stats.iter().find(|q| q.queue == full)
    };
    let mut total_depth = 0;
    let mut total_in_flight = Some(0);
    let mut total_dead = 0;
    let services: Vec<serde_json::Value> = TOPOLOGY
        .iter()
        .map(|(service, keys)| {
            let queues: Vec<serde_json::Value> = keys
                .iter()
                .filter_map(|k| find(&work_queue(service, *k)))
                .map(|q| {
                    total_depth += q.messages;
                    total_in_flight = total_in_flight.zip(q.in_flight).map(|(t, n)| t + n);
                    json!({ "queue": q.queue, "depth": q.messages, "in_flight": q.in_flight, "consumers": q.consumers })
                })
                .collect();
            let dlq = find(&dead_letter_queue(service));
            let dead = dlq.map(|q| q.messages).unwrap_or(0);
            total_dead += dead;
            json!({
                "service": service,
                "queues": queues,
                "dead_letter_queue": dlq.map(|q| q.queue.clone()),
                "dead_lettered": dead,
            })
        })
        .collect();
    let mut notes = Vec::new();
    if stats.iter().any(|q| q.consumers.is_none()) {
        notes.push(NO_CONSUMER_COUNT);
    }
    if stats.iter().any(|q| q.in_flight.is_none()) {
        notes.push(NO_IN_FLIGHT_COUNT);
    }
    json!({
        "services": services,
        "total_depth": total_depth,
        "total_in_flight": total_in_flight,
        "total_dead_lettered": total_dead,
        "notes": notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 95.0), Some(95.0));
        assert_eq!(percentile(&[3.0], 95.0), Some(3.0));
        assert_eq!(percentile(&[1.0, 2.0], 95.0), Some(2.0));
        assert_eq!(percentile(&[], 95.0), None);
    }
}
