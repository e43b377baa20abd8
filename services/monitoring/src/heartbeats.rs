//! Which services are alive: every instance publishes `service.heartbeat`
//! every few seconds (the platform runtime does it for every service), and
//! monitoring listens on a broadcast subscription. A service none of whose
//! instances has been heard from within the timeout is `down`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Serialize;

use domain::messages::ServiceHeartbeat;
use domain::RawEnvelope;
use platform::bus::{Handler, HandlerError};

struct Seen {
    at: Instant,
    beat: ServiceHeartbeat,
}

/// The latest heartbeat of every instance.
pub struct Tracker {
    started: Instant,
    timeout: Duration,
    expected: Vec<String>,
    seen: Mutex<HashMap<String, HashMap<String, Seen>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    Up,
    Down,
    /// Not heard from yet, and monitoring has not been up for a whole
    /// timeout: it may simply not have spoken yet.
    Unknown,
}

#[derive(Debug, Clone, Serialize)]
pub struct InstanceView {
    pub instance: String,
    pub version: String,
    pub alive: bool,
    pub last_seen_s: f64,
    pub uptime_s: u64,
    pub jobs_handled: u64,
    pub in_flight: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceView {
    pub service: String,
    pub status: ServiceState,
    pub expected: bool,
    pub reason: String,
    pub instances: Vec<InstanceView>,
}

impl Tracker {
    pub fn new(timeout: Duration, expected: Vec<String>) -> Self {
        Self {
            started: Instant::now(),
            timeout,
            expected,
            seen: Mutex::new(HashMap::new()),
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn record(&self, beat: ServiceHeartbeat) {
        let mut seen = self.seen.lock().expect("tracker lock");
        let now = Instant::now();
        // Instances gone for long are forgotten (restarts get new names).
        let forget = self.timeout * 10;
        for instances in seen.values_mut() {
            instances.retain(|_, s| now.duration_since(s.at) < forget);
        }
        seen.entry(beat.service.clone())
            .or_default()
            .insert(beat.instance.clone(), Seen { at: now, beat });
    }

    /// Every expected service, and any other that spoke, by name.
    pub fn services(&self) -> Vec<ServiceView> {
        let seen = self.seen.lock().expect("tracker lock");
        let now = Instant::now();
        let names: BTreeSet<&str> = self
            .expected
            .iter()
            .map(String::as_str)
            .chain(seen.keys().map(String::as_str))
            .collect();
        names
            .into_iter()
            .map(|name| {
                let mut instances: Vec<InstanceView> = seen
                    .get(name)
                    .map(|m| {
                        m.values()
                            .map(|s| {
                                let ago = now.duration_since(s.at);
                                InstanceView {
                                    instance: s.beat.instance.clone(),
                                    version: s.beat.version.clone(),
                                    alive: ago <= self.timeout,
                                    last_seen_s: round1(ago.as_secs_f64()),
                                    uptime_s: s.beat.uptime_s,
                                    jobs_handled: s.beat.jobs_handled,
                                    in_flight: s.beat.in_flight,
                                }
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                instances.sort_by(|a, b| a.instance.cmp(&b.instance));
                let alive = instances.iter().filter(|i| i.alive).count();
                let (status, reason) = if alive > 0 {
                    (ServiceState::Up, format!("{alive} instance(s) alive"))
                } else if let Some(last) = instances.iter().map(|i| i.last_seen_s).reduce(f64::min) {
                    (
                        ServiceState::Down,
                        format!("no heartbeat for {last:.0} s (timeout {} s)", self.timeout.as_secs()),
                    )
                } else if now.duration_since(self.started) < self.timeout {
                    (
                        ServiceState::Unknown,
                        "no heartbeat yet; monitoring started recently".to_owned(),
                    )
                } else {
                    (
                        ServiceState::Down,
                        format!("never heard from in {} s", now.duration_since(self.started).as_secs()),
                    )
                };
                ServiceView {
                    service: name.to_owned(),
                    status,
                    expected: self.expected.iter().any(|e| e == name),
                    reason,
                    instances,
                }
            })
            .collect()
    }

    /// Alive state per service name, for other views.
    pub fn states(&self) -> BTreeMap<String, (ServiceState, String)> {
        self.services()
            .into_iter()
            .map(|s| (s.service, (s.status, s.reason)))
            .collect()
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[async_trait]
impl Handler for Tracker {
    async fn handle(&self, raw: RawEnvelope) -> Result<(), HandlerError> {
        let beat = raw
            .decode::<ServiceHeartbeat>()
            .map_err(HandlerError::permanent)?
            .payload;
        self.record(beat);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(service: &str, instance: &str) -> ServiceHeartbeat {
        ServiceHeartbeat {
            service: service.into(),
            instance: instance.into(),
            version: "0.1.0".into(),
            uptime_s: 1,
            jobs_handled: 2,
            in_flight: 0,
        }
    }

    #[test]
    fn silent_services_go_down_after_the_timeout() {
        let t = Tracker::new(Duration::from_millis(200), vec!["a".into(), "b".into()]);
        t.record(beat("a", "a-1"));
        let states = t.states();
        assert_eq!(states["a"].0, ServiceState::Up);
        assert_eq!(states["b"].0, ServiceState::Unknown);
        std::thread::sleep(Duration::from_millis(250));
        let states = t.states();
        assert_eq!(states["a"].0, ServiceState::Down, "{:?}", states["a"]);
        assert_eq!(states["b"].0, ServiceState::Down);
        t.record(beat("a", "a-2"));
        assert_eq!(t.states()["a"].0, ServiceState::Up, "another instance is alive");
    }

    #[test]
    fn unexpected_services_are_listed() {
        let t = Tracker::new(Duration::from_secs(5), vec![]);
        t.record(beat("monitoring", "m-1"));
        let s = t.services();
        assert_eq!(s.len(), 1);
        assert!(!s[0].expected);
    }
}
