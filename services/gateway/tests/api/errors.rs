//! The edges every route shares: the error shape for unknown routes and
//! methods, request ids, the rate limit, health and metrics, the static
//! web client.

use serde_json::Value;

use crate::helpers::{error, spawn_app, spawn_app_with};

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let app = spawn_app().await;
    let user = app.register().await;
    let msg = error(
        app.get("/api/nothing-here", &user).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    assert!(msg.contains("route"), "{msg}");
    error(
        app.http.get(app.url("/nothing-here")).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    // A known path with a method it does not take: 405, naming the ones it
    // does, in the API's error shape.
    for (method, path, allowed) in [
        (reqwest::Method::PATCH, "/api/auth/me", "GET"),
        (reqwest::Method::DELETE, "/api/auth/login", "POST"),
        (reqwest::Method::PATCH, "/api/projects", "GET, POST"),
        (
            reqwest::Method::POST,
            "/api/jobs/0d2b6c1e-0000-4000-8000-000000000000",
            "GET",
        ),
    ] {
        let res = app.http.request(method.clone(), app.url(path)).send().await.unwrap();
        let allow = res.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
        let mut methods: Vec<String> = allow
            .unwrap_or_default()
            .split(',')
            .map(|m| m.trim().to_owned())
            .collect();
        methods.sort();
        assert_eq!(methods.join(", "), allowed, "{method} {path}");
        error(res, 405, "method_not_allowed").await;
    }
    error(
        app.http.patch(app.url("/api/no-such-route")).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    app.cleanup(&[]).await;
}

#[tokio::test]
async fn request_ids_go_back_and_are_generated_when_absent() {
    let app = spawn_app().await;
    let user = app.register().await;
    let res = app
        .get("/api/auth/me", &user)
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let res = app.get("/api/auth/me", &user).send().await.unwrap();
    let generated = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");
    let res = app
        .get("/api/auth/me", &user)
        .header("x-request-id", "spaces are not kept")
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"], "spaces are not kept");
    let res = app.http.get(app.url("/api/nope")).send().await.unwrap();
    assert!(res.headers().contains_key("x-request-id"), "errors carry it too");
    app.cleanup(&[]).await;
}

#[tokio::test]
async fn over_the_rate_limit_is_429_with_retry_after() {
    let app = spawn_app_with(&[("RATE_LIMIT_PER_MINUTE", "6"), ("RATE_LIMIT_BURST", "3")]).await;
    let user = app.register().await; // one token of the address's bucket
    let other = app.register().await;
    for _ in 0..3 {
        assert_eq!(app.get("/api/auth/me", &user).send().await.unwrap().status(), 200);
    }
    let res = app.get("/api/auth/me", &user).send().await.unwrap();
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry), "{retry}");
    error(res, 429, "rate_limited").await;
    assert_eq!(
        app.get("/api/auth/me", &other).send().await.unwrap().status(),
        200,
        "per user"
    );
    app.cleanup(&[]).await;
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = spawn_app().await;
    let health: Value = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["service"], "gateway");
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    for dep in ["mongodb", "s3", "broker"] {
        assert_eq!(ready["checks"][dep]["status"], "up", "{dep}");
    }
    let user = app.register().await;
    app.get("/api/projects/?limit=5", &user).send().await.unwrap();
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"route="/api/projects/",status="200""#) || metrics.contains(r#"route="/api/projects/""#),
        "the route pattern is the label"
    );
    assert!(metrics.contains("cadscribe_http_request_seconds"));
    app.cleanup(&[]).await;
}

#[tokio::test]
async fn a_web_root_serves_the_client_with_an_index_fallback() {
    let dir = std::env::temp_dir().join(format!("cadscribe-web-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>client</title>").unwrap();
    std::fs::write(dir.join("app.js"), "console.log('hi')").unwrap();
    let app = spawn_app_with(&[("WEB_ROOT", dir.to_str().unwrap())]).await;
    let get = |p: &str| app.http.get(app.url(p)).send();
    assert!(get("/").await.unwrap().text().await.unwrap().contains("client"));
    assert_eq!(get("/app.js").await.unwrap().text().await.unwrap(), "console.log('hi')");
    let res = get("/projects/some/client/route").await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.text().await.unwrap().contains("client"),
        "client-side routes get index.html"
    );
    error(get("/api/nothing").await.unwrap(), 404, "not_found").await;
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    app.cleanup(&[]).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn over_a_quota_is_429_or_413_with_the_reason() {
    let app = spawn_app_with(&[
        ("QUOTA_JOBS_IN_FLIGHT", "2"),
        ("QUOTA_JOBS_PER_HOUR", "3"),
        ("QUOTA_STORAGE_MB", "1"),
    ])
    .await;
    let user = app.register().await;
    let generate = |prompt: &str| {
        app.post("/api/ai/generate-code", &user)
            .json(&serde_json::json!({ "prompt": prompt }))
            .send()
    };
    // No workers run here: accepted jobs stay in flight.
    let mut jobs = Vec::new();
    let mut slugs = Vec::new();
    for i in 0..2 {
        let res = generate(&format!("cube {} mm", 10 + i)).await.unwrap();
        assert_eq!(res.status(), 202);
        let body: serde_json::Value = res.json().await.unwrap();
        jobs.push(body["job_id"].as_str().unwrap().to_owned());
        slugs.push(body["slug"].as_str().unwrap().to_owned());
    }
    let res = generate("cube 12 mm").await.unwrap();
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1, "{retry}");
    let message = error(res, 429, "quota_exceeded").await;
    assert!(message.contains("2 jobs in flight"), "{message}");

    // Finished jobs free their place in flight, not in the hour.
    for id in &jobs {
        let res = app.post(&format!("/api/jobs/{id}/cancel"), &user).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    let res = generate("cube 13 mm").await.unwrap();
    assert_eq!(res.status(), 202);
    let body: serde_json::Value = res.json().await.unwrap();
    slugs.push(body["slug"].as_str().unwrap().to_owned());
    let res = generate("cube 14 mm").await.unwrap();
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        (3000..=3600).contains(&retry),
        "the oldest job of the hour frees a place in {retry} s"
    );
    let message = error(res, 429, "quota_exceeded").await;
    assert!(message.contains("3 jobs in the last hour"), "{message}");
    // A refused request for a new project leaves no project behind.
    let listed = app.get_json("/api/projects", &user).await;
    assert_eq!(listed["total"], 3, "{listed}");

    // Storage: files past the limit refuse new work with 413.
    let other = app.register().await;
    let res = app
        .post("/api/projects", &other)
        .json(&serde_json::json!({ "project_name": "big" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let project: serde_json::Value = res.json().await.unwrap();
    let id = domain::ProjectId::parse(project["project_id"].as_str().unwrap()).unwrap();
    slugs.push(project["slug"].as_str().unwrap().to_owned());
    // As the output watcher records a version's outputs of 3 MiB.
    app.db
        .projects()
        .mark_completed(
            &id,
            domain::Version::new(1).unwrap(),
            &["s3://bucket/output/big/big_v1.stl".to_owned()],
            3 * 1024 * 1024,
        )
        .await
        .unwrap();
    let res = app
        .post("/api/ai/chat", &other)
        .json(&serde_json::json!({ "message": "cube 10 mm", "project_id": id.as_str() }))
        .send()
        .await
        .unwrap();
    assert!(!res.headers().contains_key("retry-after"));
    let message = error(res, 413, "quota_exceeded").await;
    assert!(
        message.contains("store 3 MiB") && message.contains("(1 MiB)"),
        "{message}"
    );

    let slugs: Vec<&str> = slugs.iter().map(String::as_str).collect();
    app.cleanup(&slugs).await;
}
