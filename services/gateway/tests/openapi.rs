//! The OpenAPI document the gateway serves is checked in at
//! `docs/openapi.json`, and the web client's API types
//! (`web/src/generated/api.ts`) are generated from that file. This test asks
//! the routes for `GET /api/openapi.json` (in-process, no stack needed) and
//! fails when the answer differs from the checked-in file, so a handler or a
//! type that changes the API cannot leave the file, and with it the client,
//! behind.
//!
//! After changing the API, rewrite the file with
//!
//! ```sh
//! UPDATE_SCHEMAS=1 cargo test -p gateway --test openapi
//! ```
//!
//! then `npm run gen:api` in `web/`, and commit both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use actix_web::{test, App};
use serde_json::Value;

const UPDATE_VAR: &str = "UPDATE_SCHEMAS";
const COMMAND: &str = "UPDATE_SCHEMAS=1 cargo test -p gateway --test openapi";

fn path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

/// The document as `GET /api/openapi.json` answers it.
async fn served() -> Value {
    let app = test::init_service(App::new().configure(gateway::routes::api)).await;
    let req = test::TestRequest::get().uri("/api/openapi.json").to_request();
    let res = test::call_service(&app, req).await;
    assert!(res.status().is_success(), "GET /api/openapi.json: {}", res.status());
    test::read_body_json(res).await
}

/// The document in the file's layout.
fn text(document: &Value) -> String {
    let mut text = serde_json::to_string_pretty(document).expect("a JSON value serializes");
    text.push('\n');
    text
}

#[actix_web::test]
async fn the_checked_in_document_is_the_served_one() {
    let path = path();
    let want = text(&served().await);
    if std::env::var(UPDATE_VAR).is_ok_and(|v| v == "1") {
        std::fs::write(&path, &want).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return;
    }
    let have = std::fs::read_to_string(&path).ok();
    assert!(
        have.as_deref() == Some(want.as_str()),
        "docs/openapi.json differs from the document the gateway serves; rewrite it with \
         `{COMMAND}`, regenerate the web client's types with `npm run gen:api` (in web/) and commit both"
    );
}

/// Code generators (the web client's among them) refuse a document where two
/// operations share an `operationId`.
#[actix_web::test]
async fn every_operation_has_its_own_id() {
    let document = served().await;
    let mut ids: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has an id"));
            ids.entry(id).or_default().push(format!("{method} {path}"));
        }
    }
    let shared: Vec<_> = ids.iter().filter(|(_, ops)| ops.len() > 1).collect();
    assert!(shared.is_empty(), "operationIds used twice: {shared:?}");
}
