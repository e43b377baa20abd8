//! The API described: `GET /api/openapi.json` (OpenAPI 3.0) and a page that
//! renders it, `GET /api/docs`, self-contained (no CDN, nothing fetched but
//! the document itself).
//!
//! The operations are listed here once; their request and response schemas
//! are generated from the same Rust types the handlers use, so the document
//! cannot drift from the code's shapes. A test requests every listed
//! operation to check the route exists.

use actix_web::{web, HttpResponse};
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

use super::ai::{Chat, GenerateCode};
use super::auth::Credentials;
use super::parameters::{EditParameters, SpecView};

/// The refusal of a new job over the storage quota.
const STORAGE_QUOTA: &str = "Over the account's storage quota (`quota_exceeded`).";
use super::projects::{CompleteView, DeletedView, LogsView, NewProject, ProjectUpdate, SummaryView};
use super::scripts::{DownloadView, OutputsView, ScriptUpload, ScriptsView, StatusView};
use crate::error::ErrorBody;
use crate::events::StatusEvent;
use crate::views::{AcceptedView, FileView, JobView, MessageView, PageView, ProjectView, TokenView, UserView};

const PAGE: &str = include_str!("docs.html");

pub fn routes(cfg: &mut web::ServiceConfig) {
    // One resource per path, so another method answers 405 with `Allow`.
    cfg.service(web::resource("/openapi.json").route(web::get().to(|| async { HttpResponse::Ok().json(openapi()) })));
    cfg.service(
        web::resource("/docs")
            .route(web::get().to(|| async { HttpResponse::Ok().content_type("text/html; charset=utf-8").body(PAGE) })),
    );
}

struct Builder {
    requests: SchemaGenerator,
    responses: SchemaGenerator,
    paths: Map<String, Value>,
}

/// A response: status, description, and the content type with its schema.
type Answer = (u16, &'static str, Option<(&'static str, Value)>);

/// One operation of the document.
struct Op {
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    description: &'static str,
    auth: bool,
    params: Vec<Value>,
    body: Option<(&'static str, Value)>,
    responses: Vec<Answer>,
}

impl Op {
    fn new(method: &'static str, path: &'static str, tag: &'static str, summary: &'static str) -> Self {
        Self {
            method,
            path,
            tag,
            summary,
            description: "",
            auth: true,
            params: Vec::new(),
            body: None,
            responses: Vec::new(),
        }
    }
    fn describe(mut self, d: &'static str) -> Self {
        self.description = d;
        self
    }
    fn public(mut self) -> Self {
        self.auth = false;
        self
    }
    fn param(mut self, p: Value) -> Self {
        self.params.push(p);
        self
    }
    fn paged(self) -> Self {
        self.param(query(
            "limit",
            "Page size, 1 to 200 (default 50).",
            json!({"type": "integer", "minimum": 1, "maximum": 200}),
        ))
        .param(query(
            "offset",
            "Items to skip (default 0).",
            json!({"type": "integer", "minimum": 0}),
        ))
    }
    fn body(mut self, content_type: &'static str, schema: Value) -> Self {
        self.body = Some((content_type, schema));
        self
    }
    fn ok(mut self, status: u16, description: &'static str, schema: Value) -> Self {
        self.responses
            .push((status, description, Some(("application/json", schema))));
        self
    }
    fn ok_as(mut self, status: u16, description: &'static str, content_type: &'static str, schema: Value) -> Self {
        self.responses.push((status, description, Some((content_type, schema))));
        self
    }
    fn fails(mut self, status: u16, description: &'static str) -> Self {
        self.responses.push((
            status,
            description,
            Some(("application/json", json!({"$ref": "#/components/schemas/ErrorBody"}))),
        ));
        self
    }
}

fn path_param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": schema})
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn project_param() -> Value {
    path_param(
        "project",
        "The project id (`project-…`) or its slug. The id form is tried first, then the slug.",
        json!({"type": "string"}),
    )
}

impl Builder {
    fn new() -> Self {
        Self {
            requests: SchemaSettings::openapi3().for_deserialize().into_generator(),
            responses: SchemaSettings::openapi3().for_serialize().into_generator(),
            paths: Map::new(),
        }
    }

    fn req<T: JsonSchema>(&mut self) -> Value {
        self.requests.subschema_for::<T>().to_value()
    }

    fn res<T: JsonSchema>(&mut self) -> Value {
        self.responses.subschema_for::<T>().to_value()
    }

    fn add(&mut self, op: Op) {
        let mut responses = Map::new();
        let mut all = op.responses;
        if op.auth {
            all.push((401, "No valid bearer token.", None));
            all.push((
                429,
                "Over the per-user rate limit (`rate_limited`) or a job quota (`quota_exceeded`); see `Retry-After`.",
                None,
            ));
        }
        all.push((
            503,
            "A dependency (database, object store, broker) is unavailable.",
            None,
        ));
        for (status, description, content) in all {
            let content = content.unwrap_or(("application/json", json!({"$ref": "#/components/schemas/ErrorBody"})));
            responses.insert(
                status.to_string(),
                json!({"description": description, "content": {content.0: {"schema": content.1}}}),
            );
        }
        let mut operation = json!({
            "tags": [op.tag],
            "summary": op.summary,
            "operationId": format!("{} {}", op.method, op.path),
            "parameters": op.params,
            "responses": responses,
        });
        if !op.description.is_empty() {
            operation["description"] = json!(op.description);
        }
        if let Some((content_type, schema)) = op.body {
            operation["requestBody"] = json!({"required": true, "content": {content_type: {"schema": schema}}});
        }
        operation["security"] = if op.auth { json!([{"bearer": []}]) } else { json!([]) };
        let item = self.paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        item[op.method] = operation;
    }
}

/// The OpenAPI 3.0 document of the whole API.
pub fn openapi() -> Value {
    let mut b = Builder::new();
    let bad = "Bad input; the message names the field.";
    let missing = "No such project (or not yours).";
    let job_param = || {
        path_param(
            "job_id",
            "The job's id (a UUID).",
            json!({"type": "string", "format": "uuid"}),
        )
    };

    // auth
    let creds = b.req::<Credentials>();
    let token = b.res::<TokenView>();
    b.add(
        Op::new("post", "/api/auth/register", "auth", "Create an account")
            .public()
            .body("application/json", creds.clone())
            .ok(201, "The account and a token.", token.clone())
            .fails(400, bad)
            .fails(409, "The email is taken.")
            .fails(415, "Not JSON.")
            .fails(429, "Too many attempts from this address."),
    );
    b.add(
        Op::new("post", "/api/auth/login", "auth", "Log in")
            .public()
            .body("application/json", creds)
            .ok(200, "A token.", token)
            .fails(401, "Wrong email or password.")
            .fails(429, "Too many attempts from this address."),
    );
    let user = b.res::<UserView>();
    b.add(Op::new("get", "/api/auth/me", "auth", "The caller").ok(200, "The caller's account.", user));

    // projects
    let project = b.res::<ProjectView>();
    let projects = b.res::<PageView<ProjectView>>();
    let new_project = b.req::<NewProject>();
    let update = b.req::<ProjectUpdate>();
    b.add(
        Op::new(
            "get",
            "/api/projects/",
            "projects",
            "The caller's projects, newest activity first",
        )
        .paged()
        .ok(200, "A page of projects.", projects)
        .fails(400, bad),
    );
    b.add(
        Op::new("post", "/api/projects/", "projects", "Create a project")
            .body("application/json", new_project)
            .ok(201, "The project.", project.clone())
            .fails(400, bad)
            .fails(409, "The slug is taken."),
    );
    b.add(
        Op::new("get", "/api/projects/{project}", "projects", "A project")
            .param(project_param())
            .ok(200, "The project.", project.clone())
            .fails(404, missing),
    );
    b.add(
        Op::new(
            "put",
            "/api/projects/{project}",
            "projects",
            "Rename or describe a project, or set its material",
        )
        .describe(
            "`material` is a key of the density table (steel 7.85, stainless_steel 7.93, aluminium 2.70, \
             brass 8.50, titanium 4.43, pla 1.24, abs 1.04, petg 1.27, nylon 1.14, wood 0.70 g/cm³); \
             an empty string clears it. With a material, the project and its jobs show `mass` \
             (grams = volume in mm³ × density / 1000); without one, none.",
        )
        .param(project_param())
        .body("application/json", update)
        .ok(200, "The updated project.", project)
        .fails(
            400,
            "Malformed input, or a material not in the table (the message lists the valid ones).",
        )
        .fails(404, missing),
    );
    let deleted = b.res::<DeletedView>();
    b.add(Op::new("delete", "/api/projects/{project}", "projects", "Delete a project with everything it has")
        .describe("Cancels its live jobs, then removes its messages, files, logs, jobs and every S3 object under its prefixes.")
        .param(project_param()).ok(200, "What was removed.", deleted).fails(404, missing));
    let messages = b.res::<PageView<MessageView>>();
    b.add(
        Op::new(
            "get",
            "/api/projects/{project}/messages",
            "project data",
            "The conversation, oldest first",
        )
        .param(project_param())
        .paged()
        .ok(200, "A page of messages.", messages)
        .fails(404, missing),
    );
    let files = b.res::<PageView<FileView>>();
    b.add(
        Op::new(
            "get",
            "/api/projects/{project}/files",
            "project data",
            "The project's files, newest version first",
        )
        .param(project_param())
        .paged()
        .param(query(
            "file_type",
            "Only files of this type.",
            json!({"type": "string", "enum": ["input", "output", "log", "processed"]}),
        ))
        .ok(200, "A page of files.", files)
        .fails(400, bad)
        .fails(404, missing),
    );
    let logs = b.res::<LogsView>();
    b.add(
        Op::new(
            "get",
            "/api/projects/{project}/logs",
            "project data",
            "Processing logs: the records and the run-log files in S3",
        )
        .param(project_param())
        .paged()
        .ok(200, "Log records and log files.", logs)
        .fails(404, missing),
    );
    let complete = b.res::<CompleteView>();
    b.add(
        Op::new(
            "get",
            "/api/projects/{project}/complete",
            "project data",
            "The project with its messages, files (also by type) and logs",
        )
        .param(project_param())
        .ok(200, "Everything.", complete)
        .fails(404, missing),
    );
    let summary = b.res::<SummaryView>();
    b.add(
        Op::new(
            "get",
            "/api/projects/{project}/summary",
            "project data",
            "Counts of the project's data",
        )
        .param(project_param())
        .ok(200, "The summary.", summary)
        .fails(404, missing),
    );
    let event = b.res::<StatusEvent>();
    let ticket = b.res::<super::events::TicketView>();
    b.add(Op::new("post", "/api/projects/{project}/events/ticket", "live status", "A ticket to open the project's event stream")
        .describe("For clients that cannot send an Authorization header with the stream request (a browser's EventSource): the ticket opens this project's stream once, within 60 seconds, so the long-lived token never goes into a URL.")
        .param(project_param())
        .ok(201, "The ticket and the stream's URL with it.", ticket)
        .fails(404, missing));
    b.add(Op::new("get", "/api/projects/{project}/events", "live status", "Job status as Server-Sent Events")
        .describe("`event: status` frames whose data is a StatusEvent: first the current state of the project's live jobs and of its latest job, then every change as it happens. Comment lines keep the connection alive. Authenticate with the bearer token in the Authorization header, or with a stream ticket (`?ticket=`) from the ticket route; the bearer token itself is never accepted in the URL.")
        .param(project_param()).param(query("ticket", "A stream ticket for this project, when no Authorization header can be sent; good once.", json!({"type": "string", "pattern": "^[0-9a-f]{64}$"})))
        .ok_as(200, "An endless text/event-stream; each data line is a StatusEvent.", "text/event-stream", event).fails(404, missing));

    // scripts and outputs
    let scripts = b.res::<ScriptsView>();
    b.add(
        Op::new(
            "get",
            "/api/projects/{project}/scripts",
            "scripts",
            "Every script version",
        )
        .param(project_param())
        .ok(200, "The versions, newest first.", scripts)
        .fails(404, missing),
    );
    b.add(
        Op::new(
            "get",
            "/api/projects/{project}/script/{version}",
            "scripts",
            "The raw script of a version",
        )
        .param(project_param())
        .param(path_param(
            "version",
            "1, 2, 3…",
            json!({"type": "integer", "minimum": 1}),
        ))
        .ok_as(200, "The script.", "text/x-python", json!({"type": "string"}))
        .fails(400, bad)
        .fails(404, "No such project or version."),
    );
    let upload = b.req::<ScriptUpload>();
    let accepted = b.res::<AcceptedView>();
    b.add(Op::new("post", "/api/projects/{project}/upload-script", "scripts", "Upload your own script as the next version")
        .describe("Send JSON `{\"script\": \"…\", \"file_name\": \"mine.py\"}`, or the script itself as `text/x-python` (with `?file_name=`). The script is checked against the script contract first (422 lists every violation), then versioned, run by FreeCAD and followed like a generation.")
        .param(project_param()).param(query("file_name", "For text/x-python bodies.", json!({"type": "string"})))
        .body("application/json", upload)
        .ok(202, "The job started.", accepted.clone()).fails(400, bad).fails(404, missing).fails(413, "Over 256 KiB, or over the account's storage quota (`quota_exceeded`).").fails(415, "Neither JSON nor Python text.").fails(422, "The script breaks the script contract; `details.violations` lists why."));
    let outputs = b.res::<OutputsView>();
    b.add(
        Op::new(
            "get",
            "/api/projects/{project}/outputs",
            "scripts",
            "The model files of every version",
        )
        .param(project_param())
        .ok(200, "Output files.", outputs)
        .fails(404, missing),
    );
    let download = b.res::<DownloadView>();
    b.add(
        Op::new(
            "get",
            "/api/projects/{project}/download/{format}",
            "scripts",
            "A time-limited download link for a model file",
        )
        .param(project_param())
        .param(path_param(
            "format",
            "Case-insensitive.",
            json!({"type": "string", "enum": domain::ModelFormat::ALL.map(|f| f.extension())}),
        ))
        .param(query(
            "version",
            "A version; the latest with this format by default.",
            json!({"type": "integer", "minimum": 1}),
        ))
        .param(query(
            "redirect",
            "`true`: answer 307 to the link instead of JSON.",
            json!({"type": "boolean"}),
        ))
        .ok(200, "A pre-signed URL.", download)
        .fails(400, bad)
        .fails(404, "No such project or output."),
    );
    b.add(
        Op::new(
            "get",
            "/api/projects/{project}/archive",
            "scripts",
            "Every file of a version in one ZIP",
        )
        .describe("`{slug}_v{n}.zip` holding `{slug}_v{n}.{ext}` for each format of the version (the model files and the picture). Built on request, up to 256 MiB of files; larger versions are downloaded one file at a time.")
        .param(project_param())
        .param(query(
            "version",
            "A version; the latest with outputs by default.",
            json!({"type": "integer", "minimum": 1}),
        ))
        .ok_as(200, "The archive.", "application/zip", json!({"type": "string", "format": "binary"}))
        .fails(400, bad)
        .fails(404, "No such project, or no outputs (of that version).")
        .fails(413, "The version's files are over 256 MiB together."),
    );
    let status = b.res::<StatusView>();
    b.add(
        Op::new(
            "get",
            "/api/projects/{project}/status",
            "scripts",
            "Processing status: no_scripts, processing, completed, timeout or error",
        )
        .param(project_param())
        .ok(200, "The status.", status)
        .fails(404, missing),
    );

    // part spec and parameters
    let spec = b.res::<SpecView>();
    b.add(
        Op::new(
            "get",
            "/api/projects/{project}/spec",
            "parameters",
            "A version's part spec and its named dimensions",
        )
        .param(project_param())
        .param(query(
            "version",
            "A version; the project's current one by default.",
            json!({"type": "integer", "minimum": 1}),
        ))
        .ok(200, "The spec and its parameters.", spec)
        .fails(400, bad)
        .fails(
            404,
            "No such project or version, or the version has no spec (`no_spec`).",
        ),
    );
    let edit = b.req::<EditParameters>();
    b.add(
        Op::new(
            "post",
            "/api/projects/{project}/parameters",
            "parameters",
            "Change named dimensions: the next version, built from the edited spec",
        )
        .describe("Answers 202 at once. No language model is involved: the spec compiler builds the edited spec.")
        .param(project_param())
        .body("application/json", edit)
        .ok(202, "The job started.", accepted.clone())
        .fails(400, bad)
        .fails(
            404,
            "No such project or version, or the version has no spec (`no_spec`).",
        )
        .fails(415, "Not JSON.")
        .fails(422, "The edited part cannot be built (a hole no longer fits, say)."),
    );

    // ai
    let generate = b.req::<GenerateCode>();
    let chat = b.req::<Chat>();
    b.add(Op::new("post", "/api/ai/generate-code", "ai", "Start a generation from a prompt")
        .describe("Answers 202 at once. Without `project_id`, a project named after the prompt is created. The prompt is stored as the user's message.")
        .body("application/json", generate).ok(202, "The job started.", accepted.clone()).fails(400, bad).fails(404, missing).fails(413, STORAGE_QUOTA).fails(415, "Not JSON."));
    b.add(
        Op::new(
            "post",
            "/api/ai/chat",
            "ai",
            "Chat: the message becomes the next generation of the project",
        )
        .body("application/json", chat)
        .ok(202, "The job started.", accepted.clone())
        .fails(400, bad)
        .fails(404, missing)
        .fails(413, STORAGE_QUOTA)
        .fails(415, "Not JSON."),
    );

    // jobs
    let job = b.res::<JobView>();
    let jobs = b.res::<PageView<JobView>>();
    b.add(
        Op::new("get", "/api/jobs", "jobs", "The caller's jobs, newest first")
            .paged()
            .param(query(
                "project",
                "Only this project's (id or slug).",
                json!({"type": "string"}),
            ))
            .ok(200, "A page of jobs.", jobs)
            .fails(400, bad)
            .fails(404, missing),
    );
    b.add(
        Op::new("get", "/api/jobs/{job_id}", "jobs", "A job with its history")
            .describe(
                "A built job carries `metrics` (volume, area, bounding box, centre of mass, and the matrix of \
                 inertia about it for unit density in mm⁵) and, when its project has a material, `mass`.",
            )
            .param(job_param())
            .ok(200, "The job.", job.clone())
            .fails(400, bad)
            .fails(404, "No such job (or not yours)."),
    );
    b.add(
        Op::new("post", "/api/jobs/{job_id}/cancel", "jobs", "Cancel a job")
            .param(job_param())
            .ok(200, "The cancelled job.", job)
            .fails(404, "No such job.")
            .fails(409, "The job is already over."),
    );
    b.add(
        Op::new(
            "post",
            "/api/jobs/{job_id}/retry",
            "jobs",
            "Start a new job with the same request",
        )
        .param(job_param())
        .ok(202, "The new job.", accepted)
        .fails(404, "No such job.")
        .fails(409, "The job is still running."),
    );

    // monitoring
    b.add(Op::new("get", "/api/monitoring/{path}", "monitoring", "Forwarded to the monitoring service")
        .describe("Any method and path under /api/monitoring/ is forwarded as it came (query, body, Authorization). 503 when monitoring does not answer.")
        .param(path_param("path", "The rest of the path, e.g. `health`.", json!({"type": "string"})))
        .ok(200, "Whatever monitoring answers.", json!({})));

    // health
    for (path, summary) in [
        ("/healthz", "Alive"),
        ("/readyz", "Dependencies answer (503 when one does not)"),
    ] {
        b.add(
            Op::new("get", path, "health", summary)
                .public()
                .ok(200, "Status.", json!({"type": "object"})),
        );
    }
    b.add(
        Op::new("get", "/metrics", "health", "Prometheus metrics")
            .public()
            .ok_as(200, "Text exposition format.", "text/plain", json!({"type": "string"})),
    );
    b.add(
        Op::new("get", "/api/openapi.json", "docs", "This document")
            .public()
            .ok(200, "OpenAPI 3.0.", json!({"type": "object"})),
    );
    b.add(
        Op::new("get", "/api/docs", "docs", "This document, readable")
            .public()
            .ok_as(200, "A page.", "text/html", json!({"type": "string"})),
    );

    let error = b.res::<ErrorBody>();
    let mut schemas = b.requests.take_definitions(true);
    schemas.extend(b.responses.take_definitions(true));
    schemas.entry("ErrorBody".to_owned()).or_insert(error);
    let tags: Vec<Value> = [
        "auth",
        "projects",
        "project data",
        "scripts",
        "ai",
        "jobs",
        "live status",
        "monitoring",
        "health",
        "docs",
    ]
    .iter()
    .map(|t| json!({"name": t}))
    .collect();
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "CADScribe API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Turn a sentence into a CAD model. Every error is `{\"error\": {\"code\", \"message\"}}`. Requests carry `X-Request-Id` (sent back, generated when absent).",
        },
        "servers": [{"url": "/"}],
        "tags": tags,
        "paths": b.paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    })
}
