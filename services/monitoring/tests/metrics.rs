//! `/metrics` of every service parses as Prometheus text, and its counters
//! move when one template job goes through the pipeline.

use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use domain::JobStage;
use e2e::{binary, Pipeline, PIPELINE};

/// A sample: metric name and sorted labels.
type Key = (String, BTreeMap<String, String>);

/// Parses the Prometheus text format (0.0.4) strictly enough to catch a
/// broken exposition: HELP/TYPE lines, names, label syntax with escapes,
/// values; every sample belongs to a declared family.
fn parse(text: &str) -> Result<HashMap<Key, f64>, String> {
    fn name_ok(s: &str) -> bool {
        let mut c = s.chars();
        c.next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
            && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
    }
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let err = |m: &str| format!("line {}: {m}: {line:?}", n + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("HELP"), Some(name), _) if name_ok(name) => {}
                (Some("TYPE"), Some(name), Some(t)) if name_ok(name) => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&t) {
                        return Err(err("unknown type"));
                    }
                    types.insert(name.to_owned(), t.to_owned());
                }
                _ => return Err(err("bad comment")),
            }
            continue;
        }
        let (name_end, mut labels) = (line.find(['{', ' ']).ok_or_else(|| err("no value"))?, BTreeMap::new());
        let name = &line[..name_end];
        if !name_ok(name) {
            return Err(err("bad name"));
        }
        let mut rest = &line[name_end..];
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices().peekable();
            let end = loop {
                let Some((i, c)) = chars.next() else {
                    return Err(err("unterminated labels"));
                };
                if c == '}' {
                    break i;
                }
                if c == ',' {
                    continue;
                }
                let start = i;
                let mut eq = None;
                for (j, c) in chars.by_ref() {
                    if c == '=' {
                        eq = Some(j);
                        break;
                    }
                }
                let eq = eq.ok_or_else(|| err("label without ="))?;
                let lname = &body[start..eq];
                if !name_ok(lname) {
                    return Err(err("bad label name"));
                }
                if chars.next().map(|x| x.1) != Some('"') {
                    return Err(err("label value not quoted"));
                }
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some((_, '\\')) => match chars.next() {
                            Some((_, 'n')) => value.push('\n'),
                            Some((_, '\\')) => value.push('\\'),
                            Some((_, '"')) => value.push('"'),
                            _ => return Err(err("bad escape")),
                        },
                        Some((_, '"')) => break,
                        Some((_, c)) => value.push(c),
                        None => return Err(err("unterminated label value")),
                    }
                }
                labels.insert(lname.to_owned(), value);
            };
            rest = &body[end + 1..];
        }
        let mut fields = rest.split_whitespace();
        let value = fields.next().ok_or_else(|| err("no value"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().map_err(|_| err("bad value"))?,
        };
        if let Some(ts) = fields.next() {
            ts.parse::<i64>().map_err(|_| err("bad timestamp"))?;
        }
        if fields.next().is_some() {
            return Err(err("trailing text"));
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        if !types.contains_key(family) {
            return Err(err("sample of an undeclared family"));
        }
        samples.insert((name.to_owned(), labels), value);
    }
    Ok(samples)
}

/// The sum of the samples of `name` whose labels include `want` (values
/// ending with `*` match as prefixes, starting with `*` as suffixes).
fn sum(samples: &HashMap<Key, f64>, name: &str, want: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|((n, labels), _)| {
            n == name
                && want.iter().all(|(k, v)| {
                    labels
                        .get(*k)
                        .is_some_and(|l| match (v.strip_prefix('*'), v.strip_suffix('*')) {
                            (Some(suffix), _) => l.ends_with(suffix),
                            (_, Some(prefix)) => l.starts_with(prefix),
                            _ => l == v,
                        })
                })
        })
        .map(|(_, v)| v)
        .sum()
}

#[test]
fn the_parser_refuses_broken_text() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{q=\"x\\\"y\",o=\"ok\"} 3\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 0.5\nh_count 1\n";
    let s = parse(good).unwrap();
    assert_eq!(sum(&s, "a_total", &[("q", "x\"y")]), 3.0);
    for bad in [
        "a_total 1\n",
        "# TYPE a counter\na{q=x} 1\n",
        "# TYPE a counter\na 1 2 3x\n",
        "# TYPE a counter\n1a 2\n",
    ] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
}

struct Proc {
    name: &'static str,
    port: u16,
    child: Child,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts a service binary on a port of its own.
fn start(name: &'static str, vars: &HashMap<String, String>, tag: &str) -> Proc {
    let port = free_port();
    let dir = platform::testkit::repo_root().join(".local/logs/tests");
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join(format!("{tag}-metrics-{name}.log"));
    let file = std::fs::File::create(&log).unwrap();
    let child = Command::new(binary(name))
        .env_clear()
        .envs(vars)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", port.to_string())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    Proc { name, port, child, log }
}

async fn scrape(http: &reqwest::Client, p: &Proc) -> HashMap<Key, f64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(res) = http.get(format!("http://127.0.0.1:{}/metrics", p.port)).send().await {
            assert_eq!(res.status().as_u16(), 200, "{}", p.name);
            let ct = res
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            assert!(ct.starts_with("text/plain"), "{}: {ct}", p.name);
            let text = res.text().await.unwrap();
            return parse(&text).unwrap_or_else(|e| panic!("{} /metrics is not Prometheus text: {e}", p.name));
        }
        assert!(
            Instant::now() < deadline,
            "{} never served /metrics:\n{}",
            p.name,
            std::fs::read_to_string(&p.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn every_service_serves_prometheus_text_and_its_counters_move_after_a_job() {
    let p = Pipeline::new().await;
    let mut vars = p.env.service_env();
    vars.insert("JWT_SECRET_KEY".into(), "metrics-test-secret-0123456789abcdef".into());
    vars.insert("HEARTBEAT_INTERVAL_SECS".into(), "1".into());
    let names: Vec<&'static str> = PIPELINE.iter().copied().chain(["gateway", "monitoring"]).collect();
    let procs: Vec<Proc> = names.iter().map(|n| start(n, &vars, &p.env.id)).collect();
    let http = reqwest::Client::new();
    let mut before = Vec::new();
    for proc in &procs {
        before.push(scrape(&http, proc).await);
    }

    let project = p.project("metrics gear").await;
    let job = p.generate(&project, "box 2 by 3 by 4 cm").await;
    let done = p.finished(job, Duration::from_secs(180)).await;
    assert_eq!(done.stage, JobStage::Completed, "{:?}", done.error);
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let mut after = Vec::new();
    for proc in &procs {
        after.push(scrape(&http, proc).await);
    }
    let moved = |i: usize, name: &str, labels: &[(&str, &str)]| {
        let (b, a) = (sum(&before[i], name, labels), sum(&after[i], name, labels));
        assert!(a > b, "{}: {name}{labels:?} did not move ({b} -> {a})", procs[i].name);
    };
    let at = |n: &str| names.iter().position(|x| *x == n).unwrap();
    let bus = "cadscribe_bus_messages_total";
    for (service, queue) in [
        ("ai-generator", "*generation.requested"),
        ("script-store", "*script.generated"),
        ("freecad-worker", "*script.stored"),
        ("output-watcher", "*model.built"),
    ] {
        moved(at(service), bus, &[("queue", queue), ("outcome", "consumed")]);
        moved(at(service), bus, &[("queue", queue), ("outcome", "acked")]);
        let gauge = sum(
            &after[at(service)],
            "cadscribe_in_flight_messages",
            &[("service", service)],
        );
        assert_eq!(gauge, 0.0, "{service}: nothing in flight once the job is done");
    }
    moved(
        at("ai-generator"),
        "cadscribe_operation_seconds_count",
        &[("operation", "ai_response")],
    );
    moved(
        at("freecad-worker"),
        "cadscribe_operation_seconds_count",
        &[("operation", "freecad_run"), ("outcome", "built")],
    );
    moved(
        at("freecad-worker"),
        "cadscribe_events_total",
        &[("kind", "freecad_exit"), ("outcome", "built")],
    );
    moved(
        at("ai-generator"),
        "cadscribe_job_stage_seconds_count",
        &[("stage", "queued")],
    );
    moved(
        at("output-watcher"),
        "cadscribe_job_stage_seconds_count",
        &[("stage", "processing")],
    );
    for (i, proc) in procs.iter().enumerate() {
        // Our own scrapes are HTTP requests by route and status.
        moved(
            i,
            "cadscribe_http_request_seconds_count",
            &[("route", "/metrics"), ("status", "200")],
        );
        assert!(
            sum(
                &after[i],
                "cadscribe_http_request_seconds_bucket",
                &[("route", "/metrics"), ("le", "+Inf")]
            ) > 0.0,
            "{}",
            proc.name
        );
        if proc.name != "gateway" {
            assert!(
                sum(&after[i], "cadscribe_heartbeats_total", &[("outcome", "sent")]) > 0.0,
                "{} sends heartbeats",
                proc.name
            );
        }
    }
    drop(procs);
    p.clean(&[&project.slug]).await;
}
