//! The one error shape of the monitoring API:
//! `{"error": {"code": "...", "message": "..."}}`, never internals.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A dependency did not answer; the message names it, not its error text.
    pub fn unavailable(what: &str, detail: impl std::fmt::Display) -> Self {
        tracing::warn!(dependency = what, error = %detail, "dependency unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("{what} does not answer right now"),
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(serde_json::json!({
            "error": { "code": self.code, "message": self.message }
        }))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// JSON errors for requests actix rejects before a handler runs.
pub fn json_config(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.app_data(
        actix_web::web::PathConfig::default()
            .error_handler(|e, _| ApiError::bad_request("bad_path", e.to_string()).into()),
    )
    .app_data(
        actix_web::web::QueryConfig::default()
            .error_handler(|e, _| ApiError::bad_request("bad_query", e.to_string()).into()),
    );
}
