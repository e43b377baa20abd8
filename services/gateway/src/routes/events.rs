//! The project's job status as Server-Sent Events.
//!
//! `GET /api/projects/{project}/events` takes the bearer token in the
//! header, or, for a browser's EventSource (which cannot send headers), a
//! stream ticket as `?ticket=`: `POST /api/projects/{project}/events/ticket`
//! issues one — good once, for that project, for a minute — so the
//! long-lived token never appears in a URL, where proxies and access logs
//! keep it.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Serialize;

use domain::auth::StreamTicket;

use super::docs::{openapi_schema, Table};
use super::{owned_project, ProjectPath};
use crate::auth::{AuthUser, StreamUser};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::events::{self, StatusEvent};
use crate::startup::AppState;

pub fn routes(t: &mut Table) {
    t.add::<__path_stream, _, _>(stream, None);
    t.add::<__path_ticket, _, _>(ticket, None);
}

/// `?ticket=`
#[allow(dead_code)] // read by the document; the handler reads the query itself
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketParam {
    /// A stream ticket for this project, when no Authorization header can
    /// be sent; good once.
    #[param(pattern = "^[0-9a-f]{64}$")]
    pub ticket: Option<String>,
}

openapi_schema!(Response: TicketView);

/// A new stream ticket and where to use it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TicketView {
    pub ticket: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The stream's URL with the ticket.
    pub url: String,
}

#[utoipa::path(
    post,
    path = "/api/projects/{project}/events/ticket",
    tag = "live status",
    summary = "A ticket to open the project's event stream",
    description = "For clients that cannot send an Authorization header with the stream request (a browser's EventSource): the ticket opens this project's stream once, within 60 seconds, so the long-lived token never goes into a URL.",
    params(ProjectPath),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The ticket and the stream's URL with it.", body = TicketView,
            links(("stream" = (operation_id = "stream", parameters(("ticket" = "$response.body#/ticket")))))),
        (status = 404, description = "No such project, or not yours (`not_found`).", body = ErrorBody),
    ),
)]
async fn ticket(state: web::Data<AppState>, user: AuthUser, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let project = owned_project(&state, &user, &path).await?;
    // 256 bits from the operating system's generator.
    let value = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let ticket = StreamTicket {
        ticket: value.clone(),
        user_id: user.user_id,
        email: user.email,
        role: user.role,
        project_id: project.project_id.clone(),
        expires_at: chrono::Utc::now() + chrono::Duration::seconds(StreamTicket::LIFETIME_SECS),
    };
    state.db.stream_tickets().issue(&ticket).await?;
    Ok(HttpResponse::Created().json(TicketView {
        url: format!("/api/projects/{}/events?ticket={value}", project.project_id),
        ticket: value,
        expires_in: StreamTicket::LIFETIME_SECS,
    }))
}

#[utoipa::path(
    get,
    path = "/api/projects/{project}/events",
    tag = "live status",
    summary = "Job status as Server-Sent Events",
    description = "`event: status` frames whose data is a StatusEvent: first the current state of the project's live jobs and of its latest job, then every change as it happens. Comment lines keep the connection alive. Authenticate with the bearer token in the Authorization header, or with a stream ticket (`?ticket=`) from the ticket route; the bearer token itself is never accepted in the URL.",
    params(ProjectPath, TicketParam),
    security(("bearer" = []), ()),
    responses(
        (status = 200, description = "An endless text/event-stream; each data line is a StatusEvent.", content_type = "text/event-stream", body = StatusEvent),
        (status = 404, description = "No such project, or not yours (`not_found`).", body = ErrorBody),
    ),
)]
async fn stream(state: web::Data<AppState>, caller: StreamUser, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let project = owned_project(&state, &caller.user, &path).await?;
    if caller.ticket_project.as_ref().is_some_and(|p| *p != project.project_id) {
        return Err(ApiError::unauthorized(
            "the stream ticket was issued for another project",
        ));
    }
    let frames = events::stream(
        state.db.clone(),
        state.hub.clone(),
        project.project_id,
        state.sse_keepalive,
    );
    let body = futures::stream::unfold(frames, |mut rx| async move {
        rx.recv().await.map(|frame| (Ok::<_, actix_web::Error>(frame), rx))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
