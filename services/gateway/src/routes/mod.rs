//! The routes of the public API, all under `/api`, and the optional static
//! web client at `/`.
//!
//! `{project}` in a path is a project id or a slug. The id form is tried
//! first (ids always start with `project-`), then the slug: a project whose
//! slug happens to look like an id (`project-foo`) is still found. Another
//! user's project answers exactly like a missing one (404).

mod ai;
mod auth;
pub mod docs;
mod events;
mod jobs;
mod monitoring;
mod parameters;
mod projects;
mod scripts;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use actix_web::dev::{fn_service, ServiceRequest, ServiceResponse};
use actix_web::{web, HttpResponse};

use domain::documents::Project;
use domain::{ProjectId, ProjectSlug};
use platform::mongo::PageRequest;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::reads::Freshness;
use crate::startup::AppState;

pub use docs::{openapi, Table};

/// Every route of the API, each documented by its handler.
pub fn table() -> Table {
    let mut t = Table::default();
    auth::routes(&mut t);
    projects::routes(&mut t);
    scripts::routes(&mut t);
    parameters::routes(&mut t);
    events::routes(&mut t);
    ai::routes(&mut t);
    jobs::routes(&mut t);
    monitoring::routes(&mut t);
    docs::routes(&mut t);
    t
}

pub fn api(cfg: &mut web::ServiceConfig) {
    table().register(cfg);
    cfg.service(web::scope("/api").default_service(web::to(|| async {
        Err::<HttpResponse, _>(ApiError::not_found("route"))
    })));
}

/// `{project}` in a path, as documented: an id (`project-…`) or a slug.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProjectPath {
    /// The project id (`project-…`) or its slug. The id form is tried first,
    /// then the slug.
    #[param(pattern = r"^(project-[A-Za-z0-9_-]{1,64}|[a-z0-9][a-z0-9_-]{0,62})$")]
    pub project: String,
}

/// `{job_id}` in a path.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct JobPath {
    /// The job's id.
    pub job_id: uuid::Uuid,
}

/// `?limit=&offset=` of a list, as [`page`] checks them.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1 to 200 (50 by default).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Items to skip, 0 to 1 000 000 000 (0 by default).
    #[param(minimum = 0, maximum = 1_000_000_000)]
    pub offset: Option<u64>,
}

/// The largest `?offset=`.
const MAX_OFFSET: u64 = 1_000_000_000;

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

/// `?limit=&offset=`, checked: limit 1..=200 (50 by default), offset
/// 0..=1e9 (0 by default).
pub fn page(query: &HashMap<String, String>) -> ApiResult<PageRequest> {
    let limit = match query.get("limit").map(String::as_str) {
        None => 50,
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
        None => 0,
        Some(s) => match s.parse::<u64>() {
            Ok(n) if n <= MAX_OFFSET => n,
            _ => {
                return Err(ApiError::bad_request(
                    "offset",
                    format!("must be a whole number from 0 to {MAX_OFFSET}"),
                ))
            }
        },
    };
    Ok(PageRequest::new(limit, offset))
}

/// An optional whole number of a JSON body. JSON Schema's `integer` is any
/// number without a fractional part, so `3.0` is as valid as `3`; serde's
/// `u32` would refuse it.
pub fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    use serde::Deserialize;
    match Option::<f64>::deserialize(d)? {
        None => Ok(None),
        Some(n) if n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n) => Ok(Some(n as u32)),
        Some(n) => Err(serde::de::Error::custom(format!(
            "expected a whole number from 0 to {}, got {n}",
            u32::MAX
        ))),
    }
}

/// The caller's project named by `key` (id first, then slug), or 404.
pub async fn owned_project(state: &AppState, user: &AuthUser, key: &str) -> ApiResult<Project> {
    let project = find_project(state, user, key, Freshness::Fresh).await?;
    Ok(Arc::unwrap_or_clone(project))
}

/// [`owned_project`] for a read clients poll: it may come from the read
/// cache (`reads`).
pub async fn polled_project(state: &AppState, user: &AuthUser, key: &str) -> ApiResult<Arc<Project>> {
    find_project(state, user, key, Freshness::Recent).await
}

async fn find_project(state: &AppState, user: &AuthUser, key: &str, freshness: Freshness) -> ApiResult<Arc<Project>> {
    let as_id = ProjectId::parse(key).ok();
    let as_slug = ProjectSlug::parse(key).ok();
    if as_id.is_none() && as_slug.is_none() {
        return Err(ApiError::bad_request(
            "project",
            "expected a project id (project-…) or a slug (a-z, 0-9, '-', '_')",
        ));
    }
    let (db, reads) = (&state.db, &state.reads);
    if let Some(id) = &as_id {
        if let Some(p) = reads
            .project(db, id, freshness)
            .await?
            .filter(|p| p.created_by == user.user_id)
        {
            return Ok(p);
        }
    }
    if let Some(slug) = &as_slug {
        if let Some(p) = reads
            .project_by_slug(db, slug, freshness)
            .await?
            .filter(|p| p.created_by == user.user_id)
        {
            return Ok(p);
        }
    }
    Err(ApiError::not_found(format!("project {key:?}")))
}
