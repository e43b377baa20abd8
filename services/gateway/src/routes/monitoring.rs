//! `/api/monitoring/*` is forwarded to the monitoring service as it came:
//! method, path, query, body, `Authorization` and `Content-Type`. The
//! gateway checks the token first, like everywhere else under `/api`. When
//! monitoring does not answer, the client gets a 503 in the API's shape.

use actix_web::http::header;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};

use super::docs::Table;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::startup::AppState;

/// Largest body forwarded.
const BODY_LIMIT: usize = 1024 * 1024;

pub fn routes(t: &mut Table) {
    t.add::<__path_forward, _, _>(forward, Some("/api/monitoring/{path:.*}"));
}

#[utoipa::path(
    method(get, post),
    path = "/api/monitoring/{path}",
    tag = "monitoring",
    summary = "Forwarded to the monitoring service",
    description = "The rest of the path, the query, the body and Authorization go to the monitoring service as they came (`health`, `live`, `queues`, `s3/status`, `ai/metrics`, `config/validate`, `config/summary`, `POST test/s3-upload`…); its answer comes back as it is. 503 when monitoring does not answer.",
    params(("path" = String, Path, description = "The monitoring service's path, e.g. `health`.")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What monitoring answers.", body = Object),
        (status = 404, description = "Monitoring has no such route.", body = Object),
        (status = 413, description = "The body is over 1 MiB (`payload_too_large`).", body = ErrorBody),
    ),
)]
async fn forward(
    state: web::Data<AppState>,
    _user: AuthUser,
    req: HttpRequest,
    body: web::Payload,
) -> ApiResult<HttpResponse> {
    let body = body
        .to_bytes_limited(BODY_LIMIT)
        .await
        .map_err(|_| ApiError::too_large("the body is larger than 1 MiB"))?
        .map_err(|_| ApiError::bad_request("body", "could not read the body"))?;
    let mut url = format!("{}{}", state.monitoring_url, req.path());
    if !req.query_string().is_empty() {
        url.push('?');
        url.push_str(req.query_string());
    }
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
        .map_err(|_| ApiError::bad_request("method", "not supported"))?;
    let mut outgoing = state.http.request(method, &url).body(body.to_vec());
    for name in [header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT] {
        if let Some(v) = req.headers().get(&name).and_then(|v| v.to_str().ok()) {
            outgoing = outgoing.header(name.as_str(), v);
        }
    }
    if let Some(id) = req.extensions().get::<crate::telemetry::RequestId>() {
        outgoing = outgoing.header("x-request-id", id.0.as_str());
    }
    let response = outgoing.send().await.map_err(|e| {
        tracing::warn!(error = %e, "monitoring does not answer");
        ApiError::unavailable("the monitoring service")
    })?;
    let status = actix_web::http::StatusCode::from_u16(response.status().as_u16())
        .map_err(|_| ApiError::unavailable("the monitoring service"))?;
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = response
        .bytes()
        .await
        .map_err(|_| ApiError::unavailable("the monitoring service"))?;
    let mut out = HttpResponse::build(status);
    if let Some(ct) = content_type {
        out.insert_header((header::CONTENT_TYPE, ct));
    }
    Ok(out.body(bytes))
}
