//! The routes of the public API, all under `/api`, and the optional static
//! web client at `/`.
//!
//! `{project}` in a path is a project id or a slug. The id form is tried
//! first (ids always start with `project-`), then the slug: a project whose
//! slug happens to look like an id (`project-foo`) is still found. Another
//! user's project answers exactly like a missing one (404).

mod ai;
mod auth;
mod docs;
mod events;
mod jobs;
mod monitoring;
mod parameters;
mod projects;
mod scripts;

use std::collections::HashMap;
use std::path::Path;

use actix_web::dev::{fn_service, ServiceRequest, ServiceResponse};
use actix_web::{web, HttpResponse};

use domain::documents::Project;
use domain::{ProjectId, ProjectSlug};
use platform::mongo::PageRequest;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::startup::AppState;

pub use docs::openapi;

pub fn api(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api")
            .configure(auth::routes)
            .configure(projects::routes)
            .configure(scripts::routes)
            .configure(parameters::routes)
            .configure(events::routes)
            .configure(ai::routes)
            .configure(jobs::routes)
            .configure(monitoring::routes)
            .configure(docs::routes)
            .default_service(web::to(|| async {
                Err::<HttpResponse, _>(ApiError::not_found("route"))
            })),
    );
}

/// The web client's files at `/`; unknown paths get `index.html`, so
/// client-side routes survive a reload.
pub fn web_client(root: &Path) -> actix_files::Files {
    let index = root.join("index.html");
    actix_files::Files::new("/", root)
        .index_file("index.html")
        .default_handler(fn_service(move |req: ServiceRequest| {
            let index = index.clone();
            async move {
                let (req, _) = req.into_parts();
                let res = match actix_files::NamedFile::open(&index) {
                    Ok(file) => file.into_response(&req),
                    Err(_) => HttpResponse::NotFound().finish(),
                };
                Ok(ServiceResponse::new(req, res))
            }
        }))
}

/// `?limit=&offset=`, checked: limit 1..=200 (50 by default), offset ≥ 0.
pub fn page(query: &HashMap<String, String>) -> ApiResult<PageRequest> {
    let limit = match query.get("limit").map(String::as_str) {
        None | Some("") => 50,
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=PageRequest::MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(
                    "limit",
                    format!("must be a whole number from 1 to {}", PageRequest::MAX_LIMIT),
                ))
            }
        },
    };
    let offset = match query.get("offset").map(String::as_str) {
        None | Some("") => 0,
        Some(s) => s
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request("offset", "must be a whole number from 0"))?,
    };
    Ok(PageRequest::new(limit, offset))
}

/// The caller's project named by `key` (id first, then slug), or 404.
pub async fn owned_project(state: &AppState, user: &AuthUser, key: &str) -> ApiResult<Project> {
    let projects = state.db.projects();
    let as_id = ProjectId::parse(key).ok();
    let as_slug = ProjectSlug::parse(key).ok();
    if as_id.is_none() && as_slug.is_none() {
        return Err(ApiError::bad_request(
            "project",
            "expected a project id (project-…) or a slug (a-z, 0-9, '-', '_')",
        ));
    }
    if let Some(id) = &as_id {
        if let Some(p) = projects.get(id).await?.filter(|p| p.created_by == user.user_id) {
            return Ok(p);
        }
    }
    if let Some(slug) = &as_slug {
        if let Some(p) = projects
            .get_by_slug(slug)
            .await?
            .filter(|p| p.created_by == user.user_id)
        {
            return Ok(p);
        }
    }
    Err(ApiError::not_found(format!("project {key:?}")))
}
