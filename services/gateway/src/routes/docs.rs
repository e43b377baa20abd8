//! The routing table and the API described from it: `GET /api/openapi.json`
//! (OpenAPI 3.1) and a page that renders it, `GET /api/docs`, self-contained
//! (no CDN, nothing fetched but the document itself).
//!
//! Each handler states its method, path, parameters and answers once, in its
//! `#[utoipa::path]` attribute. [`Table`] routes the handler from that
//! attribute and documents it in the same step, so the routes and the
//! document cannot drift: a route exists exactly when it is documented. All
//! methods of a path share one actix resource, so an undeclared method
//! answers 405 with `Allow`.
//!
//! Schemas come from the types' `schemars` derives — the same derives that
//! write `proto-schemas/` for the domain types — through [`openapi_schema!`],
//! so every shape has one owner. What every operation of a kind can answer
//! (401 and 429 behind a token, 400/413/415 for a JSON body, 503 when a
//! dependency is down) is added here once, from the operation itself.

use std::sync::OnceLock;

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, HttpResponse, Responder, Route};
use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::{json, Map, Value};
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{HttpMethod, Paths, PathsBuilder};
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::openapi::{RefOr, Schema};

const PAGE: &str = include_str!("docs.html");

/// Where a type's schemars definitions travel inside utoipa's collection,
/// until [`Table::document`] puts them in `components.schemas`.
const STASH: &str = "x-schemars-definitions";
/// The type's own schema where utoipa inlines it (a parameter).
const STASH_SELF: &str = "x-schemars-self";

/// The error body every failure answers with.
const ERROR: &str = "#/components/schemas/ErrorBody";

/// Whether a type is read from requests or written in answers (schemars
/// describes defaults and skipped fields differently for each).
pub enum Direction {
    Request,
    Response,
}

/// The schemars definitions of `T` (and of every type it contains), stashed
/// in a utoipa schema.
pub fn stash<T: JsonSchema>(direction: Direction) -> RefOr<Schema> {
    let settings = SchemaSettings::draft2020_12().with(|s| s.definitions_path = "/components/schemas".into());
    let settings = match direction {
        Direction::Request => settings.for_deserialize(),
        Direction::Response => settings.for_serialize(),
    };
    let mut generator = settings.into_generator();
    let own = generator.subschema_for::<T>().to_value();
    let mut definitions = generator.take_definitions(true);
    // Types schemars inlines (a newtype, a map) still need a definition.
    definitions
        .entry(T::schema_name().into_owned())
        .or_insert_with(|| own.clone());
    let extensions = ExtensionsBuilder::new()
        .add(STASH, Value::Object(definitions))
        .add(STASH_SELF, own)
        .build();
    RefOr::T(Schema::Object(
        ObjectBuilder::new().extensions(Some(extensions)).build(),
    ))
}

/// Makes types usable as `body = …` and `params(… = …)` in
/// `#[utoipa::path]`, their schema written by schemars:
/// `openapi_schema!(Request: Credentials, NewProject)`.
macro_rules! openapi_schema {
    ($direction:ident: $($t:ty),+ $(,)?) => { $(
        impl utoipa::PartialSchema for $t {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::routes::docs::stash::<$t>($crate::routes::docs::Direction::$direction)
            }
        }
        impl utoipa::ToSchema for $t {
            fn name() -> std::borrow::Cow<'static, str> {
                <$t as schemars::JsonSchema>::schema_name()
            }
        }
    )+ };
}
pub(crate) use openapi_schema;

type RouteFactory = Box<dyn Fn() -> Route>;

/// A documented path, where actix matches it, and a route per method.
type Resource = (String, String, Vec<(Method, RouteFactory)>);

/// The routes of the API, and their description, built together.
#[derive(Default)]
pub struct Table {
    paths: Paths,
    schemas: Vec<(String, RefOr<Schema>)>,
    /// `(documented path, actix path, one route per method)` in order.
    resources: Vec<Resource>,
    /// `(alias, path)`: the same operations served at a second path.
    aliases: Vec<(String, String)>,
}

impl Table {
    /// Routes `handler` where `P` (its `#[utoipa::path]`) says, and
    /// documents it. `actix_path` overrides the path pattern for actix (a
    /// tail matching several segments).
    pub fn add<P, F, Args>(&mut self, handler: F, actix_path: Option<&str>)
    where
        P: utoipa::Path + utoipa::__dev::SchemaReferences,
        F: Handler<Args> + Clone,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let path = P::path();
        let actix_path = actix_path.map_or_else(|| path.clone(), str::to_owned);
        let index = match self.resources.iter().position(|(p, _, _)| *p == path) {
            Some(i) => i,
            None => {
                self.resources.push((path.clone(), actix_path, Vec::new()));
                self.resources.len() - 1
            }
        };
        for method in P::methods() {
            let method = actix_method(&method);
            let handler = handler.clone();
            let m = method.clone();
            let factory: RouteFactory = Box::new(move || web::method(m.clone()).to(handler.clone()));
            self.resources[index].2.push((method, factory));
        }
        self.paths.merge(PathsBuilder::new().path_from::<P>().build());
        <P as utoipa::__dev::SchemaReferences>::schemas(&mut self.schemas);
    }

    /// Serves `path`'s operations at `alias` too (and documents them there).
    pub fn alias(&mut self, alias: &str, path: &str) {
        self.aliases.push((alias.to_owned(), path.to_owned()));
    }

    /// The documented `(path, methods)` pairs, aliases included.
    pub fn routes(&self) -> Vec<(String, Vec<Method>)> {
        let mut out: Vec<(String, Vec<Method>)> = self
            .resources
            .iter()
            .map(|(p, _, routes)| (p.clone(), routes.iter().map(|(m, _)| m.clone()).collect()))
            .collect();
        for (alias, path) in &self.aliases {
            if let Some((_, methods)) = out.iter().find(|(p, _)| p == path).cloned() {
                out.push((alias.clone(), methods));
            }
        }
        out
    }

    /// One resource per path, with a route per documented method.
    pub fn register(&self, cfg: &mut web::ServiceConfig) {
        let mut serve = |at: &str, routes: &[(Method, RouteFactory)]| {
            let resource = routes
                .iter()
                .fold(web::resource(at.to_owned()), |r, (_, route)| r.route(route()));
            cfg.service(resource);
        };
        for (path, actix_path, routes) in &self.resources {
            serve(actix_path, routes);
            for (alias, _) in self.aliases.iter().filter(|(_, p)| p == path) {
                serve(alias, routes);
            }
        }
    }

    /// The OpenAPI document of every route in the table.
    pub fn document(&self) -> Value {
        let mut paths = serde_json::to_value(&self.paths).unwrap_or_else(|_| json!({}));
        let mut schemas = Map::new();
        for (name, schema) in &self.schemas {
            let value = serde_json::to_value(schema).unwrap_or_default();
            match value.get(STASH).and_then(Value::as_object) {
                Some(definitions) => {
                    for (k, v) in definitions {
                        schemas.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
                None => {
                    schemas.insert(name.clone(), value);
                }
            }
        }
        unstash(&mut paths, &mut schemas);
        if let Value::Object(paths) = &mut paths {
            for item in paths.values_mut() {
                if let Value::Object(item) = item {
                    let ids: Vec<Value> = item.values().map(|op| op["operationId"].clone()).collect();
                    for (method, op) in item.iter_mut() {
                        complete(op);
                        // One handler serving several methods (`method(get, post)`)
                        // gets one id from utoipa; OpenAPI wants one per operation.
                        if let Some(id) = op["operationId"].as_str() {
                            if ids.iter().filter(|other| *other == id).count() > 1 {
                                op["operationId"] = json!(format!("{id}_{method}"));
                            }
                        }
                    }
                }
            }
            for (alias, path) in &self.aliases {
                if let Some(Value::Object(item)) = paths.get(path).cloned() {
                    let item: Map<String, Value> = item
                        .into_iter()
                        .map(|(method, mut op)| {
                            if let Some(id) = op["operationId"].as_str() {
                                op["operationId"] =
                                    json!(format!("{id}_at_{}", alias.trim_matches('/').replace('/', "_")));
                            }
                            (method, op)
                        })
                        .collect();
                    paths.insert(alias.clone(), Value::Object(item));
                }
            }
        }
        json!({
            "openapi": "3.1.0",
            "info": {
                "title": "CADScribe API",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "Turn a sentence into a CAD model. Every error is `{\"error\": {\"code\", \"message\"}}`; \
                    a bad request's message starts with the field's name. Requests may carry `X-Request-Id` \
                    (up to 128 of `A-Z a-z 0-9 - _ . :`; sent back, generated when absent).",
            },
            "servers": [{"url": "/"}],
            "tags": TAGS.iter().map(|t| json!({"name": t})).collect::<Vec<_>>(),
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            },
        })
    }
}

const TAGS: [&str; 10] = [
    "auth",
    "projects",
    "project data",
    "scripts",
    "parameters",
    "ai",
    "jobs",
    "live status",
    "monitoring",
    "docs",
];

/// Replaces every stash utoipa inlined by the type's own schema, and files
/// its definitions under `components.schemas`.
fn unstash(value: &mut Value, schemas: &mut Map<String, Value>) {
    match value {
        Value::Object(map) => {
            if let (Some(Value::Object(definitions)), Some(own)) = (map.get(STASH), map.get(STASH_SELF)) {
                for (k, v) in definitions {
                    schemas.entry(k.clone()).or_insert_with(|| v.clone());
                }
                *value = own.clone();
                return;
            }
            map.values_mut().for_each(|v| unstash(v, schemas));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| unstash(v, schemas)),
        _ => {}
    }
}

fn actix_method(m: &HttpMethod) -> Method {
    match m {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

/// Adds what every operation of its kind can answer, each enforced in one
/// place of the gateway: the token and the rate limit (`AuthUser`), the JSON
/// body (`JsonConfig`), the path and query extractors, the dependencies.
fn complete(op: &mut Value) {
    let secured = op["security"]
        .as_array()
        .is_some_and(|s| s.iter().any(|r| r.as_object().is_some_and(|r| !r.is_empty())));
    let json_body = op["requestBody"]["content"]
        .as_object()
        .is_some_and(|c| c.contains_key("application/json"));
    let has_params = op["parameters"].as_array().is_some_and(|p| !p.is_empty());
    let is_docs = op["tags"].as_array().is_some_and(|t| t.iter().any(|t| t == "docs"));
    let mut add = |status: &str, description: &str| {
        let responses = op["responses"].as_object_mut().expect("utoipa writes responses");
        responses.entry(status.to_owned()).or_insert_with(
            || json!({"description": description, "content": {"application/json": {"schema": {"$ref": ERROR}}}}),
        );
    };
    if secured {
        add("401", "No valid bearer token (`unauthorized`).");
        add(
            "429",
            "Over the per-user rate limit (`rate_limited`) or a job quota (`quota_exceeded`); see `Retry-After`.",
        );
    }
    if json_body {
        add(
            "400",
            "A malformed body or value; the message names the field (`bad_request`).",
        );
        add("413", "The body is over 64 KiB (`payload_too_large`).");
        add("415", "The body is not JSON (`unsupported_media_type`).");
    }
    if has_params {
        add("400", "A malformed parameter; the message names it (`bad_request`).");
    }
    if !is_docs {
        add(
            "503",
            "A dependency (database, object store, broker) is unavailable (`unavailable`); see `Retry-After`.",
        );
    }
    // An accepted job: where it is, and the link to follow it.
    if let Some(accepted) = op["responses"].get_mut("202") {
        if accepted["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/AcceptedView" {
            accepted["headers"] = json!({"Location": {"description": "The job's URL.", "schema": {"type": "string"}}});
            accepted["links"] = json!({"job": {
                "operationId": "get_job",
                "parameters": {"job_id": "$response.body#/job_id"},
                "description": "The job, with its stage and history.",
            }});
        }
    }
    // OpenAPI 3.1 reads the schema of `text/event-stream` as one event's:
    // the documented payload is what its `data` line carries, as JSON.
    if let Some(responses) = op["responses"].as_object_mut() {
        for media in responses
            .values_mut()
            .filter_map(|r| r.pointer_mut("/content/text~1event-stream"))
        {
            let payload = media["schema"].take();
            media["schema"] = json!({
                "type": "object",
                "required": ["data"],
                "properties": {
                    "event": {"type": "string"},
                    "id": {"type": "string"},
                    "retry": {"type": "integer"},
                    "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": payload},
                },
            });
        }
    }
    // utoipa writes a link's fields in snake case; OpenAPI spells them in
    // camel case.
    if let Some(responses) = op["responses"].as_object_mut() {
        for links in responses.values_mut().filter_map(|r| r.get_mut("links")) {
            for link in links.as_object_mut().into_iter().flat_map(|l| l.values_mut()) {
                if let Some(link) = link.as_object_mut() {
                    for (from, to) in [
                        ("operation_id", "operationId"),
                        ("operation_ref", "operationRef"),
                        ("request_body", "requestBody"),
                    ] {
                        if let Some(v) = link.remove(from) {
                            link.insert(to.to_owned(), v);
                        }
                    }
                }
            }
        }
    }
    if !secured {
        // utoipa leaves `security` out of a public operation; say it.
        op["security"] = json!([]);
    }
}

/// The document, built once from the same table the app routes.
pub fn openapi() -> Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| super::table().document()).clone()
}

#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "docs",
    summary = "This document",
    responses((status = 200, description = "OpenAPI 3.1.", content_type = "application/json", body = Object)),
)]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(openapi())
}

#[utoipa::path(
    get,
    path = "/api/docs",
    tag = "docs",
    summary = "This document, readable",
    responses((status = 200, description = "A page.", content_type = "text/html", body = String)),
)]
pub async fn page() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(PAGE)
}

pub fn routes(t: &mut Table) {
    t.add::<__path_document, _, _>(document, None);
    t.add::<__path_page, _, _>(page, None);
}
