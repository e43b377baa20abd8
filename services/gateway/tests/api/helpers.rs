//! The gateway under test: the real application in-process on a free port,
//! against the real local stack, with a database, exchange and queues of
//! its own (`TestEnv`), so tests run in parallel and see nothing of each
//! other.

use std::time::Duration;

use domain::ProjectSlug;
use gateway::{Application, Settings};
use std::sync::Arc;

use platform::bus::{Bus, TOPOLOGY};
use platform::mongo::Db;
use platform::testkit::TestEnv;
use platform::CancellationToken;
use serde_json::{json, Value};

pub struct TestApp {
    pub address: String,
    pub env: TestEnv,
    pub db: Db,
    pub bus: Arc<dyn Bus>,
    pub http: reqwest::Client,
    stop: CancellationToken,
    done: tokio::task::JoinHandle<()>,
}

pub struct TestUser {
    pub email: String,
    pub password: String,
    pub token: String,
    pub user_id: String,
}

/// Cheap password hashing: the tests exercise the code, not the cost.
pub const FAST: &[(&str, &str)] = &[
    ("ARGON2_MEMORY_KIB", "64"),
    ("ARGON2_ITERATIONS", "1"),
    ("SSE_KEEPALIVE_SECS", "1"),
];

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    spawn_on(TestEnv::new(), extra).await
}

/// The gateway on `env` (a pipeline's, for end-to-end tests).
pub async fn spawn_on(env: TestEnv, extra: &[(&str, &str)]) -> TestApp {
    let mut vars: Vec<(&str, &str)> = FAST.to_vec();
    vars.extend_from_slice(extra);
    let settings: Settings = env.service_settings(&vars);
    let app = Application::build(settings).await.expect("the gateway starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let stop = CancellationToken::new();
    let token = stop.clone();
    let done = tokio::spawn(async move { app.run_until_stopped(token).await.expect("the gateway runs") });
    let db = env.db().await;
    let bus = env.bus("api-tests");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        address,
        env,
        db,
        bus,
        http,
        stop,
        done,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn get(&self, path: &str, user: &TestUser) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(&user.token)
    }

    /// `GET` as `user`; the answer's JSON body, whatever its status.
    pub async fn get_json(&self, path: &str, user: &TestUser) -> Value {
        self.get(path, user).send().await.unwrap().json().await.unwrap()
    }

    pub fn post(&self, path: &str, user: &TestUser) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(&user.token)
    }

    pub fn put(&self, path: &str, user: &TestUser) -> reqwest::RequestBuilder {
        self.http.put(self.url(path)).bearer_auth(&user.token)
    }

    pub fn delete(&self, path: &str, user: &TestUser) -> reqwest::RequestBuilder {
        self.http.delete(self.url(path)).bearer_auth(&user.token)
    }

    /// A new account, logged in.
    pub async fn register(&self) -> TestUser {
        let email = format!("user-{}@example.com", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let password = "correct horse battery staple".to_owned();
        let res = self
            .http
            .post(self.url("/api/auth/register"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "register");
        let body: Value = res.json().await.unwrap();
        TestUser {
            email,
            password,
            token: body["access_token"].as_str().unwrap().to_owned(),
            user_id: body["user"]["user_id"].as_str().unwrap().to_owned(),
        }
    }

    /// A project of `user`, created through the API.
    pub async fn project(&self, user: &TestUser, name: &str) -> Value {
        let res = self
            .post("/api/projects/", user)
            .json(&json!({ "project_name": format!("{name} {}", &uuid::Uuid::new_v4().simple().to_string()[..8]) }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "create project");
        res.json().await.unwrap()
    }

    /// Asks for a model of `prompt` in a new project; the `202` answer.
    pub async fn generate(&self, user: &TestUser, prompt: &str) -> Value {
        let res = self
            .post("/api/ai/generate-code", user)
            .json(&json!({ "prompt": prompt }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202, "generate");
        res.json().await.unwrap()
    }

    /// Stops the app and removes what the test left: objects of `slugs`,
    /// the database and the test's queues.
    pub async fn cleanup(self, slugs: &[&str]) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(15), self.done).await;
        let store = self.env.store();
        for slug in slugs {
            if let Ok(slug) = ProjectSlug::parse(slug) {
                for prefix in domain::S3Key::project_prefixes(&slug) {
                    let _ = store.delete_prefix(&prefix).await;
                }
            }
        }
        let _ = self.bus.delete_topology(TOPOLOGY).await;
        self.env.drop_db().await;
    }
}

/// Asserts the API's error shape and code; returns the message.
pub async fn error(res: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(res.status().as_u16(), status, "status of {}", res.url());
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(ct.starts_with("application/json"), "JSON error, got {ct:?}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().expect("a message").to_owned();
    for leak in ["mongodb", "Kind:", "panicked", "src/", "E11000", "lapin", "aws_sdk"] {
        assert!(!message.contains(leak), "internal detail {leak:?} in {message:?}");
    }
    message
}

/// Reads Server-Sent Events frames off a streaming response.
pub struct Sse {
    res: reqwest::Response,
    buf: String,
}

#[derive(Debug, Clone)]
pub enum Frame {
    /// `event: status` with its JSON data.
    Status(Value),
    /// A comment line (keep-alive).
    Comment(String),
}

impl Sse {
    pub fn new(res: reqwest::Response) -> Self {
        Self {
            res,
            buf: String::new(),
        }
    }

    /// The next frame, or `None` when nothing came within `within`.
    pub async fn next(&mut self, within: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                let mut data = None;
                let mut comment = None;
                for line in frame.lines() {
                    if let Some(d) = line.strip_prefix("data: ") {
                        data = Some(serde_json::from_str(d).expect("JSON data"));
                    } else if let Some(c) = line.strip_prefix(':') {
                        comment = Some(c.trim().to_owned());
                    }
                }
                match (data, comment) {
                    (Some(d), _) => return Some(Frame::Status(d)),
                    (None, Some(c)) => return Some(Frame::Comment(c)),
                    _ => continue,
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.res.chunk()).await.ok()?.ok()??;
            self.buf.push_str(std::str::from_utf8(&chunk).expect("UTF-8 stream"));
        }
    }

    /// The next status event, skipping comments.
    pub async fn status(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await? {
                Frame::Status(v) => return Some(v),
                Frame::Comment(_) => continue,
            }
        }
    }
}

/// A second gateway instance on the same isolated stack slice.
pub async fn another_instance(app: &TestApp) -> (String, CancellationToken) {
    let mut vars: Vec<(&str, &str)> = FAST.to_vec();
    vars.push(("RATE_LIMIT_PER_MINUTE", "0"));
    let settings: Settings = app.env.service_settings(&vars);
    let second = Application::build(settings).await.expect("a second instance starts");
    let address = format!("http://127.0.0.1:{}", second.port());
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move { second.run_until_stopped(token).await.expect("runs") });
    (address, stop)
}

/// A copy of a test environment (its settings are plain values).
pub fn same_env(env: &TestEnv) -> TestEnv {
    env.copy()
}
