//! The OpenAPI document and the routes are one table: every route the app
//! serves is documented with its methods, every documented operation is
//! routed, and any other method answers 405.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::spawn_app;

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn concrete(path: &str) -> String {
    path.replace("{project}", "some-project")
        .replace("{version}", "1")
        .replace("{format}", "STL")
        .replace("{job_id}", "00000000-0000-4000-8000-000000000000")
        .replace("{path}", "health")
}

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
    if let Ok(out) = std::env::var("OPENAPI_OUT") {
        std::fs::write(out, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
    }
    assert_eq!(spec["openapi"], "3.1.0");
    let paths = spec["paths"].as_object().unwrap();

    // The routing table and the document list the same operations.
    let routed: BTreeSet<(String, String)> = gateway::routes::table()
        .routes()
        .into_iter()
        .flat_map(|(path, methods)| {
            methods
                .into_iter()
                .map(move |m| (path.clone(), m.as_str().to_lowercase()))
        })
        .collect();
    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| (path.clone(), m.clone())))
        .collect();
    assert_eq!(routed, documented);
    for wanted in [
        "/api/auth/register",
        "/api/projects/",
        "/api/projects",
        "/api/projects/{project}/download/{format}",
        "/api/jobs/{job_id}",
        "/api/monitoring/{path}",
        "/api/openapi.json",
        "/api/docs",
    ] {
        assert!(paths.contains_key(wanted), "{wanted} is documented");
    }

    // Every documented operation is served: without a token it is refused
    // (401) or answered; any other method answers 405 naming the right ones.
    for (path, item) in paths {
        let item = item.as_object().unwrap();
        let url = app.url(&concrete(path));
        for method in METHODS {
            let res = app
                .http
                .request(method.to_uppercase().parse().unwrap(), &url)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            match item.get(method) {
                Some(op) => {
                    let requirements = op["security"].as_array().unwrap();
                    let protected =
                        !requirements.is_empty() && requirements.iter().all(|r| !r.as_object().unwrap().is_empty());
                    if protected {
                        assert_eq!(status, 401, "{method} {path}");
                    } else {
                        assert!(![404, 405].contains(&status), "{method} {path} is routed: {status}");
                    }
                    let responses = op["responses"].as_object().unwrap();
                    assert!(responses.contains_key("503") || op["tags"][0] == "docs");
                    if protected {
                        assert!(responses.contains_key("401"), "{method} {path} documents 401");
                    }
                }
                None => {
                    assert_eq!(status, 405, "{method} {path} is not an operation");
                    let allow = res.headers()["allow"].to_str().unwrap().to_lowercase();
                    for m in item.keys() {
                        assert!(allow.contains(m.as_str()), "{path}: Allow {allow} names {m}");
                    }
                }
            }
        }
    }
    let res = app.http.get(app.url("/api/no-such-route")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 404);

    // Path parameters state their patterns.
    let project = &paths["/api/projects/{project}"]["get"]["parameters"][0];
    assert_eq!(project["name"], "project");
    assert!(project["schema"]["pattern"].as_str().unwrap().contains("project-"));
    let accepted = &paths["/api/ai/generate-code"]["post"]["responses"]["202"]["links"]["job"];
    assert_eq!(accepted["operationId"], "get_job", "POST a job links to GET the job");
    let register = &paths["/api/auth/register"]["post"];
    assert!(register["security"].as_array().unwrap().is_empty());

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
    assert_eq!(schemas["Credentials"]["properties"]["email"]["format"], "email");
    let text = spec.to_string();
    assert!(!text.contains("x-schemars"), "every stashed schema was unpacked");
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
