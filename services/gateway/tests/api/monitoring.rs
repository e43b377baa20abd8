//! `/api/monitoring/*` is forwarded as it came, and answers 503 in the
//! error shape when monitoring is down.

use std::net::TcpListener;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

use crate::helpers::{error, spawn_app_with};

/// A stand-in monitoring service that echoes what it received.
fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let server = HttpServer::new(|| {
        App::new().default_service(web::to(|req: HttpRequest, body: web::Bytes| async move {
            HttpResponse::Ok().json(json!({
                "method": req.method().as_str(),
                "path": req.path(),
                "query": req.query_string(),
                "authorization": req.headers().get("authorization").and_then(|v| v.to_str().ok()),
                "body": String::from_utf8_lossy(&body),
            }))
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    address
}

#[tokio::test]
async fn requests_are_forwarded_as_they_came() {
    let monitoring = echo_server();
    let app = spawn_app_with(&[("MONITORING_URL", &monitoring)]).await;
    let user = app.register().await;
    let got: Value = app
        .get("/api/monitoring/health?deep=1", &user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["method"], "GET");
    assert_eq!(got["path"], "/api/monitoring/health");
    assert_eq!(got["query"], "deep=1");
    assert_eq!(got["authorization"], format!("Bearer {}", user.token));
    let got: Value = app
        .post("/api/monitoring/test/s3-upload", &user)
        .body("payload")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["method"], "POST");
    assert_eq!(got["body"], "payload");
    error(
        app.http.get(app.url("/api/monitoring/health")).send().await.unwrap(),
        401,
        "unauthorized",
    )
    .await;
    app.cleanup(&[]).await;
}

#[tokio::test]
async fn monitoring_down_is_503() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let app = spawn_app_with(&[("MONITORING_URL", &url)]).await;
    let user = app.register().await;
    let res = app.get("/api/monitoring/health", &user).send().await.unwrap();
    assert!(res.headers().contains_key("retry-after"));
    let msg = error(res, 503, "unavailable").await;
    assert!(msg.contains("monitoring"), "{msg}");
    assert!(!msg.contains("127.0.0.1"), "no internal address: {msg}");
    app.cleanup(&[]).await;
}
