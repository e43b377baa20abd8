//! The gateway's public API, as the terminal client uses it: JSON requests
//! with the stored token, errors turned into one readable line.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(
        "cannot reach the CADScribe gateway at {url} ({reason}); is it running? (set CADSCRIBE_URL to point elsewhere)"
    )]
    Unreachable { url: String, reason: String },
    #[error("not logged in: run `cadscribe login` (or `cadscribe register`), or set CADSCRIBE_TOKEN")]
    NotLoggedIn,
    #[error("{message} ({code}, HTTP {status})")]
    Api { status: u16, code: String, message: String },
    #[error("{0}")]
    Other(String),
}

/// The API's error shape.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

/// Where the token is kept: `$XDG_CONFIG_HOME/cadscribe/token`, else
/// `~/.config/cadscribe/token`.
pub fn token_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("cadscribe").join("token"))
}

/// `CADSCRIBE_TOKEN`, else the stored token.
pub fn stored_token() -> Option<String> {
    if let Some(t) = std::env::var("CADSCRIBE_TOKEN")
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
    {
        return Some(t);
    }
    let text = std::fs::read_to_string(token_file()?).ok()?;
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

pub fn save_token(token: &str) -> Result<PathBuf, CliError> {
    let path =
        token_file().ok_or_else(|| CliError::Other("no home directory to keep the token in (set HOME)".into()))?;
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(path.parent().expect("a parent"))?;
        std::fs::write(&path, format!("{token}\n"))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    };
    write().map_err(|e| CliError::Other(format!("cannot store the token in {}: {e}", path.display())))?;
    Ok(path)
}

#[derive(Clone)]
pub struct Api {
    pub base: String,
    http: reqwest::Client,
    token: Option<String>,
}

impl Api {
    pub fn new(base: &str, token: Option<String>) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("cadscribe/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client");
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
            token,
        }
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    pub fn transport_error(&self, e: reqwest::Error) -> CliError {
        if e.is_connect() || e.is_timeout() {
            let reason = if e.is_timeout() {
                "no answer in time"
            } else {
                "connection refused"
            };
            CliError::Unreachable {
                url: self.base.clone(),
                reason: reason.into(),
            }
        } else {
            CliError::Other(format!("talking to {}: {e}", self.base))
        }
    }

    /// Sends, and turns any failure into a `CliError`.
    pub async fn send(&self, req: RequestBuilder) -> Result<Response, CliError> {
        let res = req.send().await.map_err(|e| self.transport_error(e))?;
        if res.status().is_success() {
            return Ok(res);
        }
        let status = res.status();
        if status == StatusCode::UNAUTHORIZED && !self.has_token() {
            return Err(CliError::NotLoggedIn);
        }
        let text = res.text().await.unwrap_or_default();
        Err(match serde_json::from_str::<ErrorBody>(&text) {
            Ok(b) => {
                let mut message = one_line(&b.error.message);
                // A stored token that expired or was revoked: say what to do.
                if status == StatusCode::UNAUTHORIZED && !message.contains("password") {
                    message.push_str("; run `cadscribe login` again");
                }
                CliError::Api {
                    status: status.as_u16(),
                    code: b.error.code,
                    message,
                }
            }
            Err(_) => CliError::Api {
                status: status.as_u16(),
                code: "http_error".into(),
                message: format!("the gateway answered {status}"),
            },
        })
    }

    pub async fn json<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T, CliError> {
        let res = self.send(req).await?;
        res.json()
            .await
            .map_err(|e| CliError::Other(format!("unexpected answer from the gateway: {e}")))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.json(self.request(Method::GET, path)).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, CliError> {
        self.json(self.request(Method::POST, path).json(body)).await
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Answers of the API, with the fields the client uses.
pub mod views {
    use serde::Deserialize;

    #[derive(Debug, Clone, Deserialize)]
    pub struct Token {
        pub access_token: String,
        pub user: User,
    }

    #[derive(Debug, Clone, Deserialize)]
    pub struct User {
        pub email: String,
        pub role: String,
    }

    #[derive(Debug, Clone, Deserialize)]
    pub struct Accepted {
        pub job_id: String,
        pub project_id: String,
        pub slug: String,
    }

    #[derive(Debug, Clone, Deserialize)]
    pub struct StatusEvent {
        pub job_id: String,
        pub stage: String,
        pub label: String,
        pub version: Option<u32>,
        pub detail: Option<String>,
        pub terminal: bool,
    }

    #[derive(Debug, Clone, Deserialize)]
    pub struct Job {
        pub job_id: String,
        pub slug: String,
        pub stage: String,
        pub label: String,
        pub terminal: bool,
        pub version: Option<u32>,
        pub error: Option<String>,
        pub created_at: String,
    }

    #[derive(Debug, Clone, Deserialize)]
    pub struct Page<T> {
        pub items: Vec<T>,
        pub total: u64,
    }

    #[derive(Debug, Clone, Deserialize)]
    pub struct Project {
        pub project_id: String,
        pub project_name: String,
        pub slug: String,
        pub current_version: u32,
        pub processing_status: String,
        pub updated_at: String,
    }

    #[derive(Debug, Clone, Deserialize)]
    pub struct LatestJob {
        pub job_id: String,
        pub label: String,
        pub error: Option<String>,
    }

    #[derive(Debug, Clone, Deserialize)]
    pub struct Status {
        pub slug: String,
        pub status: String,
        pub current_version: u32,
        pub latest_job: Option<LatestJob>,
    }

    #[derive(Debug, Clone, Deserialize)]
    pub struct Download {
        pub url: String,
        pub version: u32,
    }
}
