//! Every request gets an id and a span, and is counted.
//!
//! The id comes from `X-Request-Id` when the client sent a sane one and is
//! generated otherwise; it goes back in the response header, into every log
//! line of the request (the span) and into the envelopes the request
//! publishes, so one id follows a job across the services.

use std::future::{ready, Ready};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// A client's id is kept when it is short and plain; anything else is
    /// replaced, so ids are safe in logs and headers.
    fn from_header(value: Option<&HeaderValue>) -> Self {
        let given = value.and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        });
        Self(
            given
                .map(str::to_owned)
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        )
    }
}

impl FromRequest for RequestId {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = req.extensions().get::<RequestId>().cloned();
        ready(Ok(id.unwrap_or_else(|| RequestId::from_header(None))))
    }
}

/// The middleware: id, span, response header, metrics and one log line.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let request_id = RequestId::from_header(req.headers().get(&REQUEST_ID));
    let method = req.method().to_string();
    let span = tracing::info_span!(
        "request",
        %method,
        path = %req.path(),
        request_id = %request_id.0,
        user_id = tracing::field::Empty,
    );
    let header = HeaderValue::from_str(&request_id.0).ok();
    req.extensions_mut().insert(request_id);
    let result = next.call(req).instrument(span.clone()).await;
    let elapsed = started.elapsed().as_secs_f64();
    let _enter = span.enter();
    match result {
        Ok(mut res) => {
            let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
            let status = res.status().as_u16();
            platform::metrics::http_request(&route, &method, status, elapsed);
            if let Some(h) = header {
                res.headers_mut().insert(REQUEST_ID, h);
            }
            if status >= 500 {
                tracing::warn!(status, route, elapsed_ms = elapsed * 1000.0, "request failed");
            } else {
                tracing::info!(status, route, elapsed_ms = elapsed * 1000.0, "request");
            }
            Ok(res)
        }
        Err(e) => {
            let status = e.as_response_error().status_code().as_u16();
            platform::metrics::http_request("unmatched", &method, status, elapsed);
            tracing::warn!(status, error = %e, "request failed");
            Err(e)
        }
    }
}
