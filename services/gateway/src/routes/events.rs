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

use super::owned_project;
use crate::auth::{AuthUser, StreamUser};
use crate::error::{ApiError, ApiResult};
use crate::events;
use crate::startup::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // One resource per path, so another method answers 405 with `Allow`.
    cfg.service(web::resource("/projects/{project}/events").route(web::get().to(stream)));
    cfg.service(web::resource("/projects/{project}/events/ticket").route(web::post().to(ticket)));
}

/// A new stream ticket and where to use it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TicketView {
    pub ticket: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The stream's URL with the ticket.
    pub url: String,
}

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
