//! The part spec of a version and its named dimensions: read them, and edit
//! them into the next version. An edit is compiled by the spec compiler, never
//! by a language model, whatever provider the generator runs.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use domain::spec::{Parameter, PartSpec};
use domain::{S3Key, Version};

use super::ai::submit;
use super::docs::{openapi_schema, Table};
use super::{owned_project, ProjectPath};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::startup::AppState;
use crate::telemetry::RequestId;
use crate::views::AcceptedView;

pub fn routes(t: &mut Table) {
    t.add::<__path_spec, _, _>(spec, None);
    t.add::<__path_edit, _, _>(edit, None);
}

openapi_schema!(Request: EditParameters);
openapi_schema!(Response: SpecView);

#[derive(Debug, Deserialize, schemars::JsonSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SpecQuery {
    /// The version; the project's current one when absent.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 4294967295_u64)]
    pub version: Option<u32>,
}

/// A version's part spec and its named dimensions.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SpecView {
    pub version: Version,
    /// The part family (`plate`, `flange`, …).
    pub part: String,
    pub spec: PartSpec,
    /// Every named dimension, in the order of the spec.
    pub parameters: Vec<Parameter>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditParameters {
    /// New values by parameter name (millimetres for lengths, degrees for
    /// angles, whole numbers for counts).
    #[schemars(extend("minProperties" = 1))]
    pub values: BTreeMap<String, f64>,
    /// The version to edit; the project's current one when absent.
    #[serde(default, deserialize_with = "super::whole_number")]
    pub base_version: Option<u32>,
}

async fn load(state: &AppState, project: &domain::documents::Project, version: Option<u32>) -> ApiResult<SpecView> {
    let version = match version {
        Some(v) => Version::new(v).map_err(|e| ApiError::bad_request("version", e))?,
        // The project is there but has nothing to read or edit yet: a
        // conflict with its state, not a missing resource.
        None => Version::new(project.current_version).map_err(|_| {
            ApiError::new(
                actix_web::http::StatusCode::CONFLICT,
                "no_version",
                format!("project {} has no version yet", project.slug),
            )
        })?,
    };
    if version.get() > project.current_version {
        return Err(ApiError::not_found(format!(
            "version {version} of project {}",
            project.slug
        )));
    }
    let key = S3Key::spec(&project.slug, version).to_string();
    let Some(object) = state.store.get(&key).await? else {
        return Err(ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "no_spec",
            format!(
                "version {version} was not built from a part spec (an uploaded or language-model script); \
                 its dimensions can only be changed by a new prompt"
            ),
        ));
    };
    let spec: PartSpec = serde_json::from_slice(&object.bytes).map_err(|e| {
        tracing::error!(%key, error = %e, "a stored part spec does not parse");
        ApiError::internal()
    })?;
    Ok(SpecView {
        version,
        part: spec.part.clone(),
        parameters: spec.parameters(),
        spec,
    })
}

#[utoipa::path(
    get,
    path = "/api/projects/{project}/spec",
    tag = "parameters",
    summary = "A version's part spec and its named dimensions",
    params(ProjectPath, SpecQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The spec and its parameters.", body = SpecView),
        (status = 404, description = "No such project or version, or the version has no spec (`no_spec`).", body = ErrorBody),
        (status = 409, description = "The project has no version yet (`no_version`).", body = ErrorBody),
    ),
)]
async fn spec(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    query: web::Query<SpecQuery>,
) -> ApiResult<HttpResponse> {
    let project = owned_project(&state, &user, &path.into_inner()).await?;
    let view = load(&state, &project, query.version).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Applies the new values to the base version's spec, checks that the part
/// still makes sense (a hole wider than its plate is refused here, with the
/// reason), and starts the next version.
#[utoipa::path(
    post,
    path = "/api/projects/{project}/parameters",
    tag = "parameters",
    summary = "Change named dimensions: the next version, built from the edited spec",
    description = "Answers 202 at once. No language model is involved: the spec compiler builds the edited spec.",
    params(ProjectPath),
    request_body = EditParameters,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "The job started.", body = AcceptedView),
        (status = 404, description = "No such project, or the version has no spec (`no_spec`).", body = ErrorBody),
        (status = 409, description = "The project has no version yet (`no_version`).", body = ErrorBody),
        (status = 413, description = "Over the account's storage quota (`quota_exceeded`).", body = ErrorBody),
        (status = 422, description = "The edited part cannot be built, a hole no longer fits, say (`unprocessable`).", body = ErrorBody),
    ),
)]
async fn edit(
    state: web::Data<AppState>,
    user: AuthUser,
    request_id: RequestId,
    path: web::Path<String>,
    body: web::Json<EditParameters>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    if body.values.is_empty() {
        return Err(ApiError::bad_request("values", "name at least one parameter"));
    }
    let project = owned_project(&state, &user, &path.into_inner()).await?;
    // As in the generation routes: the body naming a version the project
    // does not have is a bad request; 404 is for the project in the path.
    if let Some(v) = body.base_version.filter(|v| *v > project.current_version) {
        return Err(ApiError::bad_request(
            "base_version",
            format!("the project has no version {v}"),
        ));
    }
    let SpecView { version, mut spec, .. } = load(&state, &project, body.base_version).await?;
    let before = spec.clone();
    let mut changes = Vec::new();
    for (name, value) in &body.values {
        let old = spec
            .set_parameter(name, *value)
            .map_err(|e| ApiError::bad_request(&format!("values.{name}"), e))?;
        if old != *value {
            let label = before
                .parameters()
                .into_iter()
                .find(|p| &p.name == name)
                .map_or_else(|| name.clone(), |p| p.label);
            changes.push(format!("{label} {} → {}", number(old), number(*value)));
        }
    }
    if changes.is_empty() {
        return Err(ApiError::bad_request(
            "values",
            "every value is already the current one",
        ));
    }
    // The whole part must still be buildable: features that no longer fit
    // are refused now rather than as a failed job.
    let compiled = web::block({
        let spec = spec.clone();
        move || cadgen::compile(&spec)
    })
    .await?;
    if let Err(e) = compiled {
        return Err(ApiError::unprocessable(e.reason));
    }
    spec.follow(&before);
    let prompt = format!("Change {} (version {version}).", changes.join(", "));
    crate::quota::admit(&state, &user).await?;
    submit(&state, &user, request_id, &project, prompt, Some(version), Some(spec)).await
}

/// 15.0 → "15", 2.25 → "2.25".
fn number(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}
