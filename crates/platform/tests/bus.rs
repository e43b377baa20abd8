//! The RabbitMQ bus against the real broker: confirms, retries with backoff,
//! dead-lettering, and surviving dropped connections.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use domain::messages::JobStatus;
use domain::{Envelope, JobId, JobStage, MessageType, ProjectId, ProjectSlug, RawEnvelope};
use platform::bus::{Bus, DeadLetterReason, Handler, HandlerError, RabbitBus, Subscription};
use platform::testkit::TestEnv;

const SERVICE: &str = "probe";
const KEYS: &[MessageType] = &[MessageType::JobStatus];

fn envelope(label: &str) -> RawEnvelope {
    let mut status = JobStatus::new(ProjectSlug::parse("bus-test").unwrap(), JobStage::Generating);
    status.detail = Some(label.into());
    Envelope::new(JobId::generate(), ProjectId::generate(), status).into_raw()
}

fn detail(raw: &RawEnvelope) -> String {
    raw.payload["detail"].as_str().unwrap_or_default().to_owned()
}

/// Fails the first `failures` deliveries of each message, transiently or
/// permanently, and reports every call and every dead letter.
struct Flaky {
    failures: u32,
    permanent: bool,
    calls: AtomicU32,
    seen: mpsc::UnboundedSender<(String, u32)>,
    dead: Mutex<Vec<String>>,
}

#[async_trait]
impl Handler for Flaky {
    async fn handle(&self, env: RawEnvelope) -> Result<(), HandlerError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        self.seen.send((detail(&env), env.attempt)).unwrap();
        if n <= self.failures {
            let e = anyhow::anyhow!("failure {n}");
            return Err(if self.permanent {
                HandlerError::permanent(e)
            } else {
                HandlerError::transient(e)
            });
        }
        Ok(())
    }

    async fn on_dead_letter(&self, env: &RawEnvelope, reason: &DeadLetterReason) {
        self.dead.lock().unwrap().push(format!("{}: {reason}", detail(env)));
    }
}

struct Harness {
    env: TestEnv,
    bus: Arc<RabbitBus>,
    shutdown: CancellationToken,
}

impl Harness {
    fn new(max_attempts: u32) -> Self {
        let mut env = TestEnv::new();
        env.bus.max_attempts = max_attempts;
        env.bus.retry_base = Duration::from_millis(100);
        env.bus.retry_max = Duration::from_millis(400);
        let bus = Arc::new(env.bus("bus"));
        Self {
            env,
            bus,
            shutdown: CancellationToken::new(),
        }
    }

    fn start(&self, handler: Arc<dyn Handler>) -> tokio::task::JoinHandle<()> {
        let bus = self.bus.clone();
        let token = self.shutdown.clone();
        tokio::spawn(async move { bus.consume(Subscription::work(SERVICE, KEYS), handler, token).await })
    }

    /// Declares the queues without consuming, so messages wait for a consumer.
    async fn declare(&self) {
        let idle = CancellationToken::new();
        idle.cancel();
        let noop: Arc<dyn Handler> = Arc::new(flaky(0, false).0);
        // A consumer that starts and stops at once declares its queues.
        let bus = self.bus.clone();
        let token = CancellationToken::new();
        let t = token.clone();
        let task = tokio::spawn(async move { bus.consume(Subscription::work(SERVICE, KEYS), noop, t).await });
        tokio::time::sleep(Duration::from_millis(500)).await;
        token.cancel();
        task.await.unwrap();
    }

    async fn dlq(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while let Some((body, headers)) = self.bus.take_one(&format!("{SERVICE}.dlq")).await.unwrap() {
            let reason = headers
                .inner()
                .get("x-cadscribe-reason")
                .and_then(|v| v.as_long_string().map(|s| s.to_string()))
                .unwrap_or_default();
            out.push((String::from_utf8_lossy(&body).into_owned(), reason));
        }
        out
    }

    async fn finish(self, task: tokio::task::JoinHandle<()>) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("consumer stops")
            .unwrap();
        self.bus.delete_topology(&[(SERVICE, KEYS)]).await.unwrap();
        let _ = self.env.id;
    }
}

fn flaky(failures: u32, permanent: bool) -> (Flaky, mpsc::UnboundedReceiver<(String, u32)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        Flaky {
            failures,
            permanent,
            calls: AtomicU32::new(0),
            seen: tx,
            dead: Mutex::new(vec![]),
        },
        rx,
    )
}

async fn next(rx: &mut mpsc::UnboundedReceiver<(String, u32)>) -> (String, u32) {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a delivery in time")
        .unwrap()
}

#[tokio::test]
async fn a_handler_failing_twice_is_retried_with_backoff_and_acked_once() {
    let h = Harness::new(5);
    let (handler, mut rx) = flaky(2, false);
    let handler = Arc::new(handler);
    let task = h.start(handler.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.bus.publish(&envelope("retry-me")).await.unwrap();

    let attempts: Vec<u32> = vec![next(&mut rx).await.1, next(&mut rx).await.1, next(&mut rx).await.1];
    assert_eq!(attempts, [1, 2, 3], "each retry carries the next attempt number");
    // Acked once: no fourth delivery, nothing dead-lettered.
    assert!(
        tokio::time::timeout(Duration::from_secs(2), rx.recv()).await.is_err(),
        "delivered again after success"
    );
    assert_eq!(handler.calls.load(Ordering::SeqCst), 3);
    assert!(h.dlq().await.is_empty());
    assert!(handler.dead.lock().unwrap().is_empty());
    h.finish(task).await;
}

#[tokio::test]
async fn garbage_goes_to_the_dead_letter_queue_at_once() {
    let h = Harness::new(5);
    let (handler, mut rx) = flaky(0, false);
    let task = h.start(Arc::new(handler));
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.bus.publish_bytes("job.status", b"{not an envelope").await.unwrap();
    h.bus.publish(&envelope("fine")).await.unwrap();
    assert_eq!(next(&mut rx).await.0, "fine", "the handler never sees garbage");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let dead = h.dlq().await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].0, "{not an envelope");
    assert!(dead[0].1.contains("unparseable"), "{}", dead[0].1);
    h.finish(task).await;
}

#[tokio::test]
async fn permanent_failures_and_exhausted_retries_are_dead_lettered_with_the_reason() {
    let h = Harness::new(3);
    let (handler, mut rx) = flaky(u32::MAX, false);
    let handler = Arc::new(handler);
    let task = h.start(handler.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.bus.publish(&envelope("always-fails")).await.unwrap();
    for expected in 1..=3 {
        assert_eq!(next(&mut rx).await.1, expected);
    }
    assert!(
        tokio::time::timeout(Duration::from_secs(2), rx.recv()).await.is_err(),
        "no fourth attempt"
    );
    let dead = h.dlq().await;
    assert_eq!(dead.len(), 1);
    assert!(dead[0].1.contains("gave up after 3 attempts"), "{}", dead[0].1);
    assert_eq!(handler.dead.lock().unwrap().len(), 1);
    h.finish(task).await;

    let h = Harness::new(5);
    let (handler, mut rx) = flaky(1, true);
    let handler = Arc::new(handler);
    let task = h.start(handler.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.bus.publish(&envelope("bad-payload")).await.unwrap();
    assert_eq!(next(&mut rx).await.1, 1);
    assert!(
        tokio::time::timeout(Duration::from_secs(2), rx.recv()).await.is_err(),
        "permanent is not retried"
    );
    assert_eq!(h.dlq().await.len(), 1);
    assert!(handler.dead.lock().unwrap()[0].contains("failure 1"));
    h.finish(task).await;
}

/// Closes, from the broker's side, every connection whose name contains
/// `name`; returns how many it closed.
fn drop_connections(name: &str) -> usize {
    let out = Command::new("rabbitmqctl")
        .args(["-q", "list_connections", "pid", "client_properties"])
        .output()
        .expect("rabbitmqctl is part of the local stack");
    let text = String::from_utf8_lossy(&out.stdout);
    let pids: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(name))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for pid in &pids {
        let st = Command::new("rabbitmqctl")
            .args(["-q", "close_connection", pid, "test drop"])
            .status()
            .unwrap();
        assert!(st.success());
    }
    pids.len()
}

#[tokio::test]
async fn messages_survive_a_dropped_connection_and_consumers_reconnect() {
    let h = Harness::new(5);
    h.declare().await;
    h.bus.publish(&envelope("before-drop")).await.unwrap();
    let name = format!("test-{}-bus", h.env.id);
    assert!(
        drop_connections(&name) >= 1,
        "the publisher's connection was found and dropped"
    );
    // The publisher reconnects by itself.
    h.bus.publish(&envelope("after-drop")).await.unwrap();

    let (handler, mut rx) = flaky(0, false);
    let task = h.start(Arc::new(handler));
    let mut got = vec![next(&mut rx).await.0, next(&mut rx).await.0];
    got.sort();
    assert_eq!(got, ["after-drop", "before-drop"]);

    // Now drop the consumer's connection too; it comes back and keeps going.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(drop_connections(&format!("{name}/consumer")) >= 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    h.bus.publish(&envelope("after-consumer-drop")).await.unwrap();
    assert_eq!(next(&mut rx).await.0, "after-consumer-drop");
    h.finish(task).await;
}
