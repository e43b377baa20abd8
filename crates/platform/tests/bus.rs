//! The bus contract against the real backends: the same test bodies run on
//! RabbitMQ and on SQS (the local SQS-compatible server): retries with
//! backoff, dead-lettering with the reason, surviving dropped connections,
//! broadcasts to every instance.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use domain::messages::JobStatus;
use domain::{Envelope, JobId, JobStage, MessageType, ProjectId, ProjectSlug, RawEnvelope};
use platform::bus::{Bus, DeadLetterReason, Handler, HandlerError, Subscription};
use platform::testkit::{stack_vars, TestEnv};

const SERVICE: &str = "probe";
const KEYS: &[MessageType] = &[MessageType::JobStatus];

/// Which backend a test body runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    RabbitMq,
    Sqs,
}

/// Runs each named test body once per backend, as `rabbitmq::<name>` and
/// `sqs::<name>`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod rabbitmq {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::RabbitMq).await
            })*
        }
        mod sqs {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::Sqs).await
            })*
        }
    };
}

on_both_backends!(
    a_handler_failing_twice_is_retried_with_backoff_and_acked_once,
    garbage_goes_to_the_dead_letter_queue_at_once,
    permanent_failures_and_exhausted_retries_are_dead_lettered_with_the_reason,
    messages_survive_a_dropped_connection_and_consumers_reconnect,
    every_broadcast_consumer_hears_every_message,
);

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

/// A TCP relay in front of the SQS server whose connections can all be cut
/// at once: the HTTP backend's equivalent of the broker closing a
/// connection.
struct Relay {
    addr: SocketAddr,
    cut: broadcast::Sender<()>,
    accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, _) = broadcast::channel(4);
        let cuts = cut.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut stop = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = stop.recv() => {}
                    }
                });
            }
        });
        Self { addr, cut, accept }
    }

    /// Closes every open connection; returns how many there were.
    fn cut_all(&self) -> usize {
        self.cut.send(()).unwrap_or(0)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Where the local SQS-compatible server listens (`.local/stack.env`).
fn sqs_server() -> SocketAddr {
    let vars = stack_vars();
    let url = vars
        .get("AWS_ENDPOINT_URL_SQS")
        .expect("AWS_ENDPOINT_URL_SQS is set (run `make stack-up`)");
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    host.parse().unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// Which connections to drop.
enum Role {
    Publisher,
    Consumer,
}

struct Harness {
    backend: Backend,
    env: TestEnv,
    bus: Arc<dyn Bus>,
    relay: Option<Relay>,
    shutdown: CancellationToken,
}

/// Short SQS timings, so redeliveries and long polls take seconds.
const SQS_TEST_SETTINGS: &[(&str, &str)] = &[
    ("BUS_BACKEND", "sqs"),
    ("SQS_VISIBILITY_TIMEOUT_SECS", "2"),
    ("SQS_WAIT_TIME_SECS", "1"),
];

impl Harness {
    async fn new(backend: Backend, max_attempts: u32) -> Self {
        let mut relay = None;
        let env = match backend {
            Backend::RabbitMq => TestEnv::with(&[("BUS_BACKEND", "rabbitmq")]),
            Backend::Sqs => {
                let r = Relay::start(sqs_server()).await;
                let endpoint = format!("http://{}", r.addr);
                relay = Some(r);
                let mut vars = SQS_TEST_SETTINGS.to_vec();
                vars.push(("AWS_ENDPOINT_URL_SQS", &endpoint));
                TestEnv::with(&vars)
            }
        };
        Self::on(backend, env, max_attempts, relay)
    }

    fn on(backend: Backend, mut env: TestEnv, max_attempts: u32, relay: Option<Relay>) -> Self {
        env.bus.max_attempts = max_attempts;
        env.bus.retry_base = Duration::from_millis(100);
        env.bus.retry_max = Duration::from_millis(400);
        let bus = env.bus("bus");
        Self {
            backend,
            env,
            bus,
            relay,
            shutdown: CancellationToken::new(),
        }
    }

    fn start(&self, handler: Arc<dyn Handler>) -> tokio::task::JoinHandle<()> {
        self.start_on(self.bus.clone(), Subscription::work(SERVICE, KEYS), handler)
    }

    fn start_on(&self, bus: Arc<dyn Bus>, sub: Subscription, handler: Arc<dyn Handler>) -> tokio::task::JoinHandle<()> {
        let token = self.shutdown.clone();
        tokio::spawn(async move { bus.consume(sub, handler, token).await })
    }

    /// Declares the queues without consuming, so messages wait for a
    /// consumer; returns once they exist.
    async fn declare(&self) {
        self.bus.declare_services(&[(SERVICE, KEYS)]).await.unwrap();
    }

    /// Bodies and reasons of everything in the dead-letter queue.
    async fn dlq(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while let Some(taken) = self.bus.take_one(&format!("{SERVICE}.dlq")).await.unwrap() {
            out.push((
                String::from_utf8_lossy(&taken.body).into_owned(),
                taken.reason.unwrap_or_default(),
            ));
        }
        out
    }

    /// Drops the connections of `role` from the far side; how many.
    fn drop_connections(&self, role: Role) -> usize {
        match self.backend {
            Backend::RabbitMq => {
                let name = format!("test-{}-bus", self.env.id);
                match role {
                    Role::Publisher => drop_rabbit_connections(&name),
                    Role::Consumer => drop_rabbit_connections(&format!("{name}/consumer")),
                }
            }
            // HTTP connections carry no role: cut them all.
            Backend::Sqs => self.relay.as_ref().expect("an SQS harness has a relay").cut_all(),
        }
    }

    async fn finish(self, task: tokio::task::JoinHandle<()>) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("consumer stops")
            .unwrap();
        // The queues go with the harness (see `Drop`).
    }
}

/// The test's queues are deleted when the harness goes, also when the test
/// panics: on a thread of its own, with a bus of its own, since the test's
/// runtime may be gone or unwinding.
impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let settings = self.env.bus.clone();
        let name = format!("test-{}-cleanup", self.env.id);
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the cleanup");
            runtime.block_on(async {
                let bus = platform::bus::from_settings(&settings, name);
                let deleted =
                    tokio::time::timeout(Duration::from_secs(20), bus.delete_topology(&[(SERVICE, KEYS)])).await;
                if !matches!(deleted, Ok(Ok(()))) {
                    eprintln!("could not delete the test's queues: {deleted:?}");
                }
            })
        });
        let _ = cleanup.join();
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

/// Waits for the delivery of `label`, skipping others.
async fn until(rx: &mut mpsc::UnboundedReceiver<(String, u32)>, label: &str) {
    while next(rx).await.0 != label {}
}

async fn a_handler_failing_twice_is_retried_with_backoff_and_acked_once(backend: Backend) {
    let h = Harness::new(backend, 5).await;
    h.declare().await;
    let (handler, mut rx) = flaky(2, false);
    let handler = Arc::new(handler);
    let task = h.start(handler.clone());
    h.bus.publish(&envelope("retry-me")).await.unwrap();

    let attempts: Vec<u32> = vec![next(&mut rx).await.1, next(&mut rx).await.1, next(&mut rx).await.1];
    assert_eq!(attempts, [1, 2, 3], "each retry carries the next attempt number");
    // Acked once: no fourth delivery, nothing dead-lettered.
    assert!(
        tokio::time::timeout(Duration::from_secs(3), rx.recv()).await.is_err(),
        "delivered again after success"
    );
    assert_eq!(handler.calls.load(Ordering::SeqCst), 3);
    assert!(h.dlq().await.is_empty());
    assert!(handler.dead.lock().unwrap().is_empty());
    h.finish(task).await;
}

async fn garbage_goes_to_the_dead_letter_queue_at_once(backend: Backend) {
    let h = Harness::new(backend, 5).await;
    h.declare().await;
    let (handler, mut rx) = flaky(0, false);
    let task = h.start(Arc::new(handler));
    h.bus.publish_bytes("job.status", b"{not an envelope").await.unwrap();
    h.bus.publish(&envelope("fine")).await.unwrap();
    assert_eq!(next(&mut rx).await.0, "fine", "the handler never sees garbage");
    let dead = loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let dead = h.dlq().await;
        if !dead.is_empty() {
            break dead;
        }
    };
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].0, "{not an envelope");
    assert!(dead[0].1.contains("unparseable"), "{}", dead[0].1);
    h.finish(task).await;
}

async fn permanent_failures_and_exhausted_retries_are_dead_lettered_with_the_reason(backend: Backend) {
    let h = Harness::new(backend, 3).await;
    h.declare().await;
    let (handler, mut rx) = flaky(u32::MAX, false);
    let handler = Arc::new(handler);
    let task = h.start(handler.clone());
    h.bus.publish(&envelope("always-fails")).await.unwrap();
    for expected in 1..=3 {
        assert_eq!(next(&mut rx).await.1, expected);
    }
    assert!(
        tokio::time::timeout(Duration::from_secs(3), rx.recv()).await.is_err(),
        "no fourth attempt"
    );
    let dead = h.dlq().await;
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].0.contains("always-fails"),
        "the message as it came: {}",
        dead[0].0
    );
    assert!(dead[0].1.contains("gave up after 3 attempts"), "{}", dead[0].1);
    assert_eq!(handler.dead.lock().unwrap().len(), 1);
    h.finish(task).await;

    let h = Harness::new(backend, 5).await;
    h.declare().await;
    let (handler, mut rx) = flaky(1, true);
    let handler = Arc::new(handler);
    let task = h.start(handler.clone());
    h.bus.publish(&envelope("bad-payload")).await.unwrap();
    assert_eq!(next(&mut rx).await.1, 1);
    assert!(
        tokio::time::timeout(Duration::from_secs(3), rx.recv()).await.is_err(),
        "permanent is not retried"
    );
    let dead = h.dlq().await;
    assert_eq!(dead.len(), 1);
    assert!(dead[0].1.contains("failure 1"), "{}", dead[0].1);
    assert!(handler.dead.lock().unwrap()[0].contains("failure 1"));
    h.finish(task).await;
}

/// Closes, from the broker's side, every connection whose name contains
/// `name`; returns how many it closed.
fn drop_rabbit_connections(name: &str) -> usize {
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

async fn messages_survive_a_dropped_connection_and_consumers_reconnect(backend: Backend) {
    let h = Harness::new(backend, 5).await;
    h.declare().await;
    h.bus.publish(&envelope("before-drop")).await.unwrap();
    assert!(
        h.drop_connections(Role::Publisher) >= 1,
        "the publisher's connection was found and dropped"
    );
    // The publisher reconnects by itself.
    h.bus.publish(&envelope("after-drop")).await.unwrap();

    let (handler, mut rx) = flaky(0, false);
    let task = h.start(Arc::new(handler));
    let mut got = vec![next(&mut rx).await.0, next(&mut rx).await.0];
    got.sort();
    assert_eq!(got, ["after-drop", "before-drop"]);

    // Now drop the consumer's connection too; it comes back and keeps going
    // (the message waits in its queue meanwhile).
    assert!(h.drop_connections(Role::Consumer) >= 1);
    h.bus.publish(&envelope("after-consumer-drop")).await.unwrap();
    assert_eq!(next(&mut rx).await.0, "after-consumer-drop");
    h.finish(task).await;
}

async fn every_broadcast_consumer_hears_every_message(backend: Backend) {
    let h = Harness::new(backend, 5).await;
    let sub = Subscription::broadcast("probe-feed", KEYS);
    let (first, mut first_rx) = flaky(0, false);
    let (second, mut second_rx) = flaky(0, false);
    // Two instances, as two gateways would be.
    let a = h.start_on(h.env.bus("instance-a"), sub.clone(), Arc::new(first));
    let b = h.start_on(h.env.bus("instance-b"), sub, Arc::new(second));
    // Subscriptions are made asynchronously: publish until both hear.
    let mut heard = (false, false);
    for i in 0..40 {
        h.bus.publish(&envelope(&format!("hello-{i}"))).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        heard.0 |= first_rx.try_recv().is_ok();
        heard.1 |= second_rx.try_recv().is_ok();
        if heard == (true, true) {
            break;
        }
    }
    assert_eq!(heard, (true, true), "both instances hear the broadcast");
    // From now on both hear the same messages.
    while first_rx.try_recv().is_ok() || second_rx.try_recv().is_ok() {}
    h.bus.publish(&envelope("to-all")).await.unwrap();
    tokio::join!(until(&mut first_rx, "to-all"), until(&mut second_rx, "to-all"));
    h.shutdown.cancel();
    for t in [a, b] {
        tokio::time::timeout(Duration::from_secs(10), t)
            .await
            .expect("broadcast consumers stop")
            .unwrap();
    }
}

/// Blocks in its first call until released (or forever), counts the calls
/// that finished and reports each start.
struct Stuck {
    started: mpsc::UnboundedSender<u32>,
    finished: AtomicU32,
    hold: Duration,
}

#[async_trait]
impl Handler for Stuck {
    async fn handle(&self, env: RawEnvelope) -> Result<(), HandlerError> {
        self.started.send(env.attempt).unwrap();
        tokio::time::sleep(self.hold).await;
        self.finished.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn stuck(hold: Duration) -> (Arc<Stuck>, mpsc::UnboundedReceiver<u32>) {
    let (started, rx) = mpsc::unbounded_channel();
    (
        Arc::new(Stuck {
            started,
            finished: AtomicU32::new(0),
            hold,
        }),
        rx,
    )
}

async fn started(rx: &mut mpsc::UnboundedReceiver<u32>) -> u32 {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a delivery in time")
        .unwrap()
}

/// SQS: a consumer that dies mid-message (its task dropped, as a killed
/// process would) leaves the message to reappear after the visibility
/// timeout (2 s here); another consumer then handles it, once, and it is
/// not a retry.
#[tokio::test]
async fn sqs_a_consumer_dropped_mid_message_is_redelivered_after_its_visibility_timeout() {
    let h = Harness::new(Backend::Sqs, 5).await;
    h.declare().await;
    let (dying, mut dying_rx) = stuck(Duration::from_secs(3600));
    let first = h.start(dying.clone());
    h.bus.publish(&envelope("survives")).await.unwrap();
    assert_eq!(started(&mut dying_rx).await, 1);
    first.abort();
    let dropped_at = std::time::Instant::now();

    let (healthy, mut healthy_rx) = stuck(Duration::ZERO);
    let second = h.start(healthy.clone());
    assert_eq!(started(&mut healthy_rx).await, 1, "a redelivery is not a retry");
    assert!(
        dropped_at.elapsed() >= Duration::from_millis(1500),
        "redelivered only once the visibility timeout passed ({:?})",
        dropped_at.elapsed()
    );
    // Handled once: no further delivery after a few timeouts.
    assert!(
        tokio::time::timeout(Duration::from_secs(6), healthy_rx.recv())
            .await
            .is_err(),
        "delivered again after it was handled"
    );
    assert_eq!(healthy.finished.load(Ordering::SeqCst), 1);
    assert_eq!(dying.finished.load(Ordering::SeqCst), 0);
    assert!(h.dlq().await.is_empty());
    h.finish(second).await;
}

/// SQS: a handler that runs for longer than the visibility timeout keeps its
/// message (the bus extends the timeout), so a second consumer never gets it.
#[tokio::test]
async fn sqs_a_slow_handler_keeps_its_message_past_the_visibility_timeout() {
    let h = Harness::new(Backend::Sqs, 5).await;
    h.declare().await;
    let (slow, mut rx) = stuck(Duration::from_secs(6));
    // Two consumers, as two workers would be.
    let a = h.start(slow.clone());
    let b = h.start_on(
        h.env.bus("other-worker"),
        Subscription::work(SERVICE, KEYS),
        slow.clone(),
    );
    h.bus.publish(&envelope("slow")).await.unwrap();
    started(&mut rx).await;
    assert!(
        tokio::time::timeout(Duration::from_secs(9), rx.recv()).await.is_err(),
        "handed to a second consumer while the first still worked on it"
    );
    assert_eq!(slow.finished.load(Ordering::SeqCst), 1);
    h.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), b).await.unwrap().unwrap();
    h.finish(a).await;
}
