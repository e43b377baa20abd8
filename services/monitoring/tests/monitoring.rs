//! The monitoring service against the real local stack: health from
//! dependencies and heartbeats, admin-only access, S3 status and probe,
//! queue depths, AI metrics, processing status and configuration checks.

use std::collections::HashMap;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use bson::doc;
use chrono::Utc;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

use domain::documents::{Job, JobKind, StageEntry};
use domain::{JobId, JobStage, ProjectId};
use e2e::Pipeline;
use monitoring::{Application, Settings};
use platform::testkit::TestEnv;
use platform::CancellationToken;

const SECRET: &str = "monitoring-tests-secret-0123456789abcdef";

fn token(role: &str, secret: &str, exp_in: i64) -> String {
    let now = Utc::now().timestamp();
    let claims =
        json!({ "sub": "user-admin", "email": "a@example.com", "role": role, "iat": now, "exp": now + exp_in });
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn admin() -> String {
    token("admin", SECRET, 600)
}

/// A running monitoring instance; stopped when dropped.
struct Monitor {
    base: String,
    stop: CancellationToken,
    http: reqwest::Client,
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Monitor {
    async fn start(env: &TestEnv, extra: &[(&str, &str)]) -> Self {
        let mut vars = vec![("JWT_SECRET_KEY", SECRET)];
        vars.extend_from_slice(extra);
        let settings: Settings = env.service_settings(&vars);
        let mut config_env = env.service_env();
        for (k, v) in &vars {
            config_env.insert((*k).into(), (*v).into());
        }
        let app = Application::build_with_env(settings, config_env)
            .await
            .expect("monitoring starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let stop = CancellationToken::new();
        let t = stop.clone();
        tokio::spawn(async move { app.run_until_stopped(t).await.unwrap() });
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self { base, stop, http }
    }

    async fn get_as(&self, path: &str, bearer: Option<&str>) -> (u16, Value) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("monitoring answers");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.get_as(path, Some(&admin())).await
    }

    /// Polls the health view until `want` holds or `within` passes.
    async fn health_until(&self, within: Duration, want: impl Fn(&Value) -> bool) -> (Duration, Value) {
        let start = Instant::now();
        loop {
            let (_, body) = self.get("/api/monitoring/health").await;
            if want(&body) {
                return (start.elapsed(), body);
            }
            assert!(
                start.elapsed() < within,
                "health never reached the wanted state within {within:?}: {body:#}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

fn service<'a>(health: &'a Value, name: &str) -> &'a Value {
    health["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == name)
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn health_turns_degraded_when_a_worker_stops() {
    health_turns_degraded_when_a_worker_stops_on(&[]).await;
}

/// Heartbeats reach monitoring on SQS too (its own broadcast queue).
#[tokio::test]
async fn on_sqs_health_turns_degraded_when_a_worker_stops() {
    health_turns_degraded_when_a_worker_stops_on(&[("BUS_BACKEND", "sqs"), ("SQS_WAIT_TIME_SECS", "1")]).await;
}

async fn health_turns_degraded_when_a_worker_stops_on(overrides: &[(&str, &str)]) {
    let mut p = Pipeline::with(overrides).await;
    p.start(&["script-store"], &[("HEARTBEAT_INTERVAL_SECS", "1")]);
    let m = Monitor::start(
        &p.env,
        &[("HEARTBEAT_TIMEOUT_SECS", "3"), ("MONITORED_SERVICES", "script-store")],
    )
    .await;

    // Healthy, and monitoring has heard the store's heartbeat and its own
    // (a store slow to start is "unknown" until its first beat).
    let (_, healthy) = m
        .health_until(Duration::from_secs(30), |b| {
            b["status"] == "healthy"
                && service(b, "monitoring")["status"] == "up"
                && service(b, "script-store")["status"] == "up"
        })
        .await;
    for dep in ["mongodb", "broker", "s3"] {
        assert_eq!(healthy["dependencies"][dep]["status"], "up", "{healthy:#}");
    }
    let store = service(&healthy, "script-store");
    assert_eq!(store["status"], "up");
    let instance = &store["instances"][0];
    assert!(
        instance["instance"].as_str().unwrap().starts_with("script-store-"),
        "{instance}"
    );
    assert!(instance["version"].is_string() && instance["jobs_handled"].is_u64() && instance["in_flight"].is_u64());

    p.services[0].kill();
    let stopped = Instant::now();
    let (_, degraded) = m
        .health_until(Duration::from_secs(15), |b| b["status"] == "degraded")
        .await;
    let took = stopped.elapsed();
    assert!(
        took <= Duration::from_secs(3 + 1 + 2),
        "degraded after {took:?}, timeout is 3 s"
    );
    assert_eq!(service(&degraded, "script-store")["status"], "down");
    let reasons = degraded["reasons"].to_string();
    assert!(reasons.contains("script-store is down: no heartbeat for"), "{reasons}");
    p.clean(&[]).await;
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn health_turns_unhealthy_within_the_check_timeout_when_mongodb_does_not_answer() {
    let env = TestEnv::new();
    // Instead of stopping the shared MongoDB: one instance points at a closed
    // port, another at a listener that accepts connections and never answers.
    let hanging = TcpListener::bind("127.0.0.1:0").unwrap();
    let uris = [
        format!("mongodb://127.0.0.1:{}/?directConnection=true", closed_port()),
        format!(
            "mongodb://127.0.0.1:{}/?directConnection=true",
            hanging.local_addr().unwrap().port()
        ),
    ];
    for uri in uris {
        let m = Monitor::start(&env, &[("MONGODB_URI", &uri), ("CHECK_TIMEOUT_SECS", "2")]).await;
        let started = Instant::now();
        let (status, body) = m.get("/api/monitoring/health").await;
        let took = started.elapsed();
        assert_eq!(status, 503, "{body:#}");
        assert_eq!(body["status"], "unhealthy");
        assert_eq!(body["dependencies"]["mongodb"]["status"], "down");
        assert_eq!(body["dependencies"]["s3"]["status"], "up");
        assert_eq!(body["dependencies"]["broker"]["status"], "up");
        assert!(
            body["reasons"][0].as_str().unwrap().starts_with("mongodb is down"),
            "{body:#}"
        );
        assert!(
            took < Duration::from_secs(4),
            "answered after {took:?} with a 2 s check timeout"
        );

        // Views that need MongoDB say so, in the error shape, in bounded time.
        let started = Instant::now();
        let (status, body) = m.get("/api/monitoring/ai/metrics").await;
        assert_eq!(status, 503);
        assert_eq!(body["error"]["code"], "unavailable");
        assert!(started.elapsed() < Duration::from_secs(4));
    }
    drop(hanging);
}

#[tokio::test]
async fn every_view_but_liveness_needs_an_admin_token() {
    let env = TestEnv::new();
    let m = Monitor::start(&env, &[]).await;
    let (status, body) = m.get_as("/api/monitoring/live", None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("alive")));
    let (status, _) = m.get_as("/healthz", None).await;
    assert_eq!(status, 200);

    let now = Utc::now().timestamp();
    let unsigned = {
        use base64_like::encode_segment as seg;
        let header = seg(&json!({ "alg": "none", "typ": "JWT" }));
        let claims = seg(&json!({ "sub": "user-x", "role": "admin", "exp": now + 600, "iat": now }));
        format!("{header}.{claims}.")
    };
    let cases = [
        (None, 401, "unauthorized"),
        (Some("not-a-jwt".to_owned()), 401, "unauthorized"),
        (Some(token("user", SECRET, 600)), 403, "forbidden"),
        (
            Some(token("admin", "another-secret-0123456789abcdef-xyz", 600)),
            401,
            "unauthorized",
        ),
        (Some(token("admin", SECRET, -600)), 401, "unauthorized"),
        (Some(unsigned), 401, "unauthorized"),
    ];
    for path in [
        "/api/monitoring/health",
        "/api/monitoring/queues",
        "/api/monitoring/config/summary",
        "/api/monitoring/projects/anything/processing-status",
    ] {
        for (bearer, want, code) in &cases {
            let (status, body) = m.get_as(path, bearer.as_deref()).await;
            assert_eq!(status, *want, "{path} with {bearer:?}: {body}");
            assert_eq!(body["error"]["code"], *code, "{body}");
            assert!(body["error"]["message"].is_string());
        }
    }
    let (status, body) = m.get("/api/monitoring/nope").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    let res = m
        .http
        .get(format!("{}/api/monitoring/test/s3-upload", m.base))
        .bearer_auth(admin())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 405);
    let (status, body) = m.get("/api/monitoring/projects/..%2Fetc/processing-status").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_slug")),
        "{body}"
    );
}

/// Just enough base64url for an unsigned token.
mod base64_like {
    pub fn encode_segment(v: &serde_json::Value) -> String {
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let bytes = v.to_string().into_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
}

#[tokio::test]
async fn s3_status_counts_prefixes_and_the_probe_times_each_step() {
    let env = TestEnv::new();
    let m = Monitor::start(&env, &[("S3_COUNT_CAP", "5")]).await;
    let (status, body) = m.get("/api/monitoring/s3/status").await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["status"], "up");
    assert_eq!(body["bucket"], env.s3.bucket.as_str());
    assert!(body["latency_ms"].as_f64().unwrap() >= 0.0);
    for prefix in ["input/", "output/", "logs/", "processed/"] {
        let c = &body["objects"][prefix];
        let n = c["count"].as_u64().unwrap_or_else(|| panic!("{prefix}: {c}"));
        assert!(c["capped"].as_bool().unwrap() == (n >= 5), "{prefix}: {c}");
    }

    let res = m
        .http
        .post(format!("{}/api/monitoring/test/s3-upload", m.base))
        .bearer_auth(admin())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok", "{body:#}");
    let steps: Vec<&str> = body["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["write", "read", "delete", "verify_deleted"]);
    assert!(body["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["ms"].as_f64().is_some()));
    let key = body["key"].as_str().unwrap();
    assert!(env.store().head(key).await.unwrap().is_none(), "the probe is removed");
}

#[tokio::test]
async fn queues_show_depth_consumers_and_dead_letters() {
    queues_show_depth_and_dead_letters(&[]).await;
}

/// On SQS the queues show messages in hand, and no consumer count (null,
/// with a note saying why, rather than a zero).
#[tokio::test]
async fn queues_on_sqs_show_depth_messages_in_hand_and_dead_letters() {
    queues_show_depth_and_dead_letters(&[("BUS_BACKEND", "sqs"), ("SQS_WAIT_TIME_SECS", "1")]).await;
}

async fn queues_show_depth_and_dead_letters(overrides: &[(&str, &str)]) {
    let on_sqs = overrides.contains(&("BUS_BACKEND", "sqs"));
    let mut p = Pipeline::with(overrides).await;
    p.start(&["script-store"], &[]);
    let m = Monitor::start(&p.env, &[]).await;
    // Two messages for a stage nobody consumes here, and one unparseable
    // message that script-store dead-letters.
    for _ in 0..2 {
        let env = domain::Envelope::new(
            JobId::generate(),
            ProjectId::generate(),
            domain::messages::GenerationRequested {
                slug: domain::ProjectSlug::parse("q").unwrap(),
                user_id: domain::UserId::generate(),
                prompt: "box".into(),
                base_version: None,
                spec: None,
            },
        );
        p.bus.publish(&env.into_raw()).await.unwrap();
    }
    p.bus
        .publish_bytes("script.generated", b"not an envelope")
        .await
        .unwrap();

    let start = Instant::now();
    let body = loop {
        let (status, body) = m.get("/api/monitoring/queues").await;
        assert_eq!(status, 200, "{body:#}");
        let of = |s: &str| {
            body["services"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["service"] == s)
                .cloned()
                .unwrap()
        };
        let ai = of("ai-generator");
        let store = of("script-store");
        let requested = ai["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| {
                let name = q["queue"].as_str().unwrap();
                // `<prefix>ai-generator.generation.requested` on RabbitMQ,
                // `<prefix>_ai-generator_generation-requested` on SQS.
                name.ends_with("generation.requested") || name.ends_with("generation-requested")
            })
            .cloned()
            .unwrap();
        let consumed = match store["queues"][0]["consumers"].as_u64() {
            Some(consumers) => consumers >= 1,
            None => on_sqs,
        };
        if requested["depth"] == 2 && store["dead_lettered"] == 1 && consumed {
            if on_sqs {
                assert_eq!(requested["consumers"], Value::Null, "SQS does not count consumers");
                assert_eq!(requested["in_flight"], 0, "nobody took them");
            } else {
                assert_eq!(requested["consumers"], 0);
                assert_eq!(requested["in_flight"], Value::Null);
            }
            break body;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{body:#}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(body["total_dead_lettered"], 1);
    assert!(body["total_depth"].as_u64().unwrap() >= 2);
    let notes = body["notes"].to_string();
    if on_sqs {
        assert!(body["total_in_flight"].is_u64(), "{body:#}");
        assert!(notes.contains("does not count consumers"), "{notes}");
    } else {
        assert_eq!(body["total_in_flight"], Value::Null);
        assert!(notes.contains("messages in hand"), "{notes}");
    }
    p.clean(&[]).await;
}

fn stage(stage: JobStage, at: chrono::DateTime<Utc>) -> StageEntry {
    StageEntry {
        stage,
        at,
        detail: None,
    }
}

#[tokio::test]
async fn ai_metrics_per_provider_and_model_and_a_stuck_job_is_located() {
    let env = TestEnv::new();
    let db = env.db().await;
    let project = env.project(&db, "monitored gear").await;
    let messages = db.database().collection::<bson::Document>("messages");
    let now = Utc::now();
    // openai/gpt-4o-mini: 20 answers of 1..=20 s, two of them repairs.
    for i in 1..=20 {
        messages
            .insert_one(doc! {
                "message_id": format!("m-{i}"), "project_id": project.project_id.as_str(),
                "user_id": project.created_by.as_str(), "role": "assistant", "content": "ok",
                "timestamp": bson::DateTime::from_chrono(now), "job_id": format!("00000000-0000-0000-0000-{i:012}"),
                "metadata": { "provider": "openai", "source_model": "gpt-4o-mini", "response_time": f64::from(i),
                              "prompt_tokens": 100, "completion_tokens": 50_i64, "repair_attempt": i32::from(i > 18) },
            })
            .await
            .unwrap();
    }
    messages
        .insert_one(doc! {
            "message_id": "t-1", "project_id": project.project_id.as_str(), "user_id": project.created_by.as_str(),
            "role": "assistant", "content": "ok", "timestamp": bson::DateTime::from_chrono(now),
            "metadata": { "provider": "template", "source_model": "catalogue", "response_time": 0.002,
                          "prompt_tokens": 0, "completion_tokens": 0, "repair_attempt": 0 },
        })
        .await
        .unwrap();
    messages
        .insert_one(
            doc! { "message_id": "u-1", "project_id": project.project_id.as_str(), "role": "user", "content": "x",
            "timestamp": bson::DateTime::from_chrono(now) },
        )
        .await
        .unwrap();

    let job = |stage_now: JobStage, history: Vec<StageEntry>, created: chrono::DateTime<Utc>| Job {
        job_id: JobId::generate(),
        project_id: project.project_id.clone(),
        slug: project.slug.clone(),
        user_id: project.created_by.clone(),
        kind: JobKind::Generate,
        stage: stage_now,
        history,
        request: bson::Document::new(),
        published: true,
        held: false,
        released_at: None,
        version: None,
        versions: Default::default(),
        source: Some(domain::messages::ScriptSource::Generated {
            provider: "openai".into(),
            model: "gpt-4o-mini".into(),
        }),
        repair_attempts: 0,
        error: None,
        metrics: None,
        expected: None,
        verification: None,
        diagnosis: None,
        question: None,
        outputs: Default::default(),
        timings: Default::default(),
        request_id: None,
        created_at: created,
        updated_at: created,
        finished_at: None,
    };
    let t0 = now - chrono::Duration::seconds(600);
    let s = chrono::Duration::seconds;
    let mut failed = job(
        JobStage::Failed,
        vec![
            stage(JobStage::Generating, t0 + s(1)),
            stage(JobStage::Failed, t0 + s(4)),
        ],
        t0,
    );
    failed.finished_at = Some(t0 + s(4));
    failed.error = Some("FreeCAD said no".into());
    let mut unattributed = job(JobStage::Failed, vec![stage(JobStage::Failed, t0 + s(2))], t0 + s(1));
    unattributed.source = None;
    let stuck = job(
        JobStage::Processing,
        vec![
            stage(JobStage::Generating, t0 + s(2)),
            stage(JobStage::Uploading, t0 + s(5)),
            stage(JobStage::Processing, t0 + s(6)),
        ],
        t0 + s(2),
    );
    for j in [&failed, &unattributed, &stuck] {
        db.jobs().insert(j).await.unwrap();
    }

    let m = Monitor::start(
        &env,
        &[("STUCK_AFTER_SECS", "60"), ("MONITORED_SERVICES", "freecad-worker")],
    )
    .await;
    let (status, body) = m.get("/api/monitoring/ai/metrics").await;
    assert_eq!(status, 200, "{body:#}");
    let providers = body["providers"].as_array().unwrap();
    let openai = providers.iter().find(|p| p["provider"] == "openai").unwrap();
    assert_eq!(openai["model"], "gpt-4o-mini");
    assert_eq!(openai["requests"], 20);
    assert_eq!(openai["repairs"], 2);
    assert_eq!(openai["failures"], 1, "{openai}");
    assert_eq!(openai["response_time_s"]["mean"], 10.5);
    assert_eq!(openai["response_time_s"]["p95"], 19.0);
    assert_eq!(openai["tokens"]["prompt"], 2000);
    assert_eq!(openai["tokens"]["completion"], 1000);
    let template = providers.iter().find(|p| p["provider"] == "template").unwrap();
    assert_eq!(
        (template["requests"].as_u64(), template["failures"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(body["unattributed_failures"], 1);
    assert_eq!(body["totals"]["requests"], 21);
    let (_, later) = m
        .get(&format!(
            "/api/monitoring/ai/metrics?since={}",
            (now + s(60)).to_rfc3339().replace('+', "%2B")
        ))
        .await;
    assert_eq!(later["totals"]["requests"], 0, "{later:#}");
    let (status, bad) = m.get("/api/monitoring/ai/metrics?since=yesterday").await;
    assert_eq!((status, bad["error"]["code"].as_str()), (400, Some("bad_since")));

    let (status, body) = m
        .get(&format!("/api/monitoring/projects/{}/processing-status", project.slug))
        .await;
    assert_eq!(status, 200, "{body:#}");
    let current = &body["current"];
    assert_eq!(current["job_id"], stuck.job_id.to_string());
    assert_eq!(current["stage"], "processing");
    assert_eq!(current["stuck"], true);
    assert!(current["in_stage_s"].as_f64().unwrap() > 500.0);
    assert_eq!(current["waiting_on"]["service"], "freecad-worker");
    assert!(current["waiting_on"]["queue"]
        .as_str()
        .unwrap()
        .ends_with("freecad-worker.script.stored"));
    let jobs = body["jobs"].as_array().unwrap();
    let f = jobs.iter().find(|j| j["job_id"] == failed.job_id.to_string()).unwrap();
    let spans: Vec<(&str, f64)> = f["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["stage"].as_str().unwrap(), s["seconds"].as_f64().unwrap()))
        .collect();
    assert_eq!(spans, [("queued", 1.0), ("generating", 3.0), ("failed", 0.0)]);
    assert_eq!(f["total_s"], 4.0);
    let (status, _) = m
        .get("/api/monitoring/projects/no-such-project/processing-status")
        .await;
    assert_eq!(status, 404);
    env.drop_db().await;
}

#[tokio::test]
async fn configuration_is_validated_per_service_and_secrets_never_shown() {
    let env = TestEnv::new();
    let m = Monitor::start(&env, &[]).await;
    let (status, body) = m.get("/api/monitoring/config/validate").await;
    assert_eq!(status, 200);
    let services: HashMap<String, Value> = body["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["service"].as_str().unwrap().to_owned(), s.clone()))
        .collect();
    for name in [
        "gateway",
        "ai-generator",
        "script-store",
        "freecad-worker",
        "output-watcher",
        "monitoring",
    ] {
        assert_eq!(services[name]["valid"], true, "{name}: {:#}", services[name]);
    }

    let (status, body) = m.get("/api/monitoring/config/summary").await;
    assert_eq!(status, 200);
    let text = body.to_string();
    for secret in [SECRET, env.s3.secret_access_key.expose(), env.s3.access_key_id.as_str()] {
        assert!(!text.contains(secret), "a secret leaked: {body:#}");
    }
    let common = body["common"].as_array().unwrap();
    let get = |n: &str| common.iter().find(|v| v["name"] == n).unwrap().clone();
    assert_eq!(get("AWS_SECRET_ACCESS_KEY")["set"], true);
    assert!(get("AWS_SECRET_ACCESS_KEY").get("value").is_none());
    assert_eq!(get("AWS_BUCKET_NAME")["value"], env.s3.bucket.as_str());
    let amqp = get("AMQP_URL")["value"].as_str().unwrap().to_owned();
    assert!(amqp.contains(":***@") || !amqp.contains('@'), "{amqp}");

    // A broken environment is reported by name, service by service.
    let broken = Monitor::start(&env, &[("AI_PROVIDER", "openai"), ("FREECAD_CONCURRENCY", "many")]).await;
    let (_, body) = broken.get("/api/monitoring/config/validate").await;
    assert_eq!(body["valid"], false);
    let problems = |s: &str| {
        body["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["service"] == s)
            .unwrap()["problems"]
            .to_string()
    };
    assert!(problems("ai-generator").contains("OPENAI_API_KEY"), "{body:#}");
    assert!(problems("freecad-worker").contains("FREECAD_CONCURRENCY"), "{body:#}");
    assert_eq!(problems("script-store"), "[]");
}
