//! The OpenAPI document lists every route, and every route it lists exists.

use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_document_and_the_routes_agree() {
    let app = spawn_app().await;
    let spec: Value = app
        .http
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spec["openapi"], "3.0.3");
    let paths = spec["paths"].as_object().unwrap();
    for wanted in [
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/me",
        "/api/projects/",
        "/api/projects/{project}",
        "/api/projects/{project}/messages",
        "/api/projects/{project}/files",
        "/api/projects/{project}/logs",
        "/api/projects/{project}/complete",
        "/api/projects/{project}/summary",
        "/api/projects/{project}/events",
        "/api/projects/{project}/events/ticket",
        "/api/projects/{project}/scripts",
        "/api/projects/{project}/script/{version}",
        "/api/projects/{project}/upload-script",
        "/api/projects/{project}/outputs",
        "/api/projects/{project}/download/{format}",
        "/api/projects/{project}/status",
        "/api/ai/generate-code",
        "/api/ai/chat",
        "/api/jobs",
        "/api/jobs/{job_id}",
        "/api/jobs/{job_id}/cancel",
        "/api/jobs/{job_id}/retry",
        "/api/monitoring/{path}",
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/openapi.json",
        "/api/docs",
    ] {
        assert!(paths.contains_key(wanted), "{wanted} is documented");
    }
    // Every documented operation is routed: without a token it is refused
    // (401) or answered, never "no such route".
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let concrete = path
                .replace("{project}", "some-project")
                .replace("{version}", "1")
                .replace("{format}", "STL")
                .replace("{job_id}", "00000000-0000-4000-8000-000000000000")
                .replace("{path}", "health");
            let req = app
                .http
                .request(method.to_uppercase().parse().unwrap(), app.url(&concrete));
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let protected = !op["security"].as_array().unwrap().is_empty();
            if protected {
                assert_eq!(status, 401, "{method} {path}");
            } else {
                assert_ne!(status, 404, "{method} {path} is routed");
            }
        }
        assert!(item
            .as_object()
            .unwrap()
            .values()
            .all(|op| op["responses"].as_object().is_some_and(|r| !r.is_empty())));
    }
    // Schemas are referenced and defined.
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    for name in [
        "ProjectView",
        "JobView",
        "AcceptedView",
        "StatusEvent",
        "ErrorBody",
        "GenerateCode",
        "Credentials",
    ] {
        assert!(schemas.contains_key(name), "{name} in components");
    }
    let text = spec.to_string();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "{name} is referenced but not defined");
    }

    let page = app.http.get(app.url("/api/docs")).send().await.unwrap();
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("openapi.json"));
    assert!(!html.contains("https://"), "self-contained: nothing from a CDN");
    app.cleanup(&[]).await;
}
