//! The one error shape of the API: `{"error": {"code", "message"}}`.
//!
//! Every failure, including those actix raises itself (bad JSON, a path
//! that does not parse, an unknown route), leaves in this shape with the
//! right status. Internal errors are logged with the request id and answer
//! a generic message: no driver text, key or stack trace reaches a client.

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

use platform::mongo::DbError;
use platform::s3::S3Error;

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `bad_request`, `unauthorized`, `not_found`…
    pub code: String,
    /// For people; names the offending field of a bad request.
    pub message: String,
    /// Extra structure, e.g. the violations of a rejected script.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

crate::routes::docs::openapi_schema!(Response: ErrorBody);

#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Box<serde_json::Value>>,
    /// Seconds, for 429 and 503.
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    /// A bad value; the message names the field.
    pub fn bad_request(field: &str, problem: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", format!("{field}: {problem}"))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", message)
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", message)
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests; try again in {retry_after} s"),
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// Over a per-user quota: `429` with when to try again, or `413` for
    /// storage (`retry_after` None).
    pub fn quota(message: impl Into<String>, retry_after: Option<u64>) -> Self {
        let status = if retry_after.is_some() {
            StatusCode::TOO_MANY_REQUESTS
        } else {
            StatusCode::PAYLOAD_TOO_LARGE
        };
        let mut e = Self::new(status, "quota_exceeded", message);
        e.retry_after = retry_after;
        e
    }

    pub fn unavailable(dependency: &str) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("{dependency} is unavailable; try again shortly"),
        );
        e.retry_after = Some(5);
        e
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.clone(),
                details: self.details.as_deref().cloned(),
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if let Some(s) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, s.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        res.json(self.body())
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Duplicate(what) => Self::conflict(what),
            DbError::NotFound(what) => Self::not_found(what),
            e if e.is_transient() => {
                tracing::warn!(error = %e, "database unavailable");
                Self::unavailable("the database")
            }
            DbError::Driver(e) => {
                // Connection-level trouble surfaces in many kinds; a driver
                // error is treated as the database being unavailable.
                tracing::error!(error = %e, "database error");
                Self::unavailable("the database")
            }
            e => {
                tracing::error!(error = %e, "stored data could not be handled");
                Self::internal()
            }
        }
    }
}

impl From<S3Error> for ApiError {
    fn from(e: S3Error) -> Self {
        tracing::warn!(error = %e, "object store error");
        Self::unavailable("the object store")
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        Self::internal()
    }
}

/// JSON body errors: 415 wrong type, 413 too big, 400 naming the field.
pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &err {
        JsonPayloadError::ContentType => ApiError::unsupported_media_type("expected Content-Type: application/json"),
        JsonPayloadError::OverflowKnownLength { limit, .. } | JsonPayloadError::Overflow { limit } => {
            ApiError::too_large(format!("the body is larger than {limit} bytes"))
        }
        JsonPayloadError::Deserialize(e) => ApiError::bad_request("body", e),
        JsonPayloadError::Payload(PayloadError::Overflow) => ApiError::too_large("the body is too large"),
        _ => ApiError::bad_request("body", "could not read the JSON body"),
    };
    api.into()
}

pub fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    let PathError::Deserialize(e) = err else {
        return ApiError::bad_request("path", "malformed").into();
    };
    ApiError::bad_request("path", e).into()
}

pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let message = match err {
        QueryPayloadError::Deserialize(e) => e.to_string(),
        _ => "malformed query string".into(),
    };
    ApiError::bad_request("query", message).into()
}

/// Turns any error response that is not already JSON (an unknown route, a
/// method a resource does not have, an error actix wrote as text) into the
/// API's error shape, keeping its status.
pub fn render_plain_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such route".to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "method not allowed on this route".to_owned()),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the body is too large".to_owned()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "unsupported content type".to_owned()),
        s if s.is_client_error() => (
            "bad_request",
            s.canonical_reason().unwrap_or("bad request").to_lowercase(),
        ),
        _ => ("internal", "internal error".to_owned()),
    };
    let body = ApiError::new(status, code, message).body();
    let (req, mut res) = res.into_parts();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let res = res.set_body(serde_json::to_string(&body).unwrap_or_default());
    let res = ServiceResponse::new(req, res)
        .map_into_boxed_body()
        .map_into_right_body::<B>();
    Ok(ErrorHandlerResponse::Response(res))
}
