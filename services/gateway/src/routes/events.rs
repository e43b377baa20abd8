//! `GET /api/projects/{project}/events`: the project's job status as
//! Server-Sent Events. The token may come as `?access_token=` here (and only
//! here), since a browser's EventSource cannot set headers.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::owned_project;
use crate::auth::StreamUser;
use crate::error::ApiResult;
use crate::events;
use crate::startup::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/projects/{project}/events", web::get().to(stream));
}

async fn stream(state: web::Data<AppState>, user: StreamUser, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let project = owned_project(&state, &user.0, &path).await?;
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
