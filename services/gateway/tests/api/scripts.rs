//! Scripts, uploads, outputs, downloads and status through the API.

use bson::doc;
use chrono::Utc;
use serde_json::{json, Value};

use domain::documents::FileRecord;
use domain::{FileType, ModelFormat, ProjectId, ProjectSlug, ProjectStatus, S3Key, Version};

use crate::helpers::{error, spawn_app, spawn_app_with, TestApp};

const SCRIPT: &str = "import FreeCAD as App\nimport Part\n\ndoc = App.ActiveDocument or App.newDocument(\"Model\")\ndoc.addObject(\"Part::Feature\", \"Box\").Shape = Part.makeBox(10, 20, 30)\ndoc.recompute()\n";

/// A stored script version and its model files, as the pipeline leaves them.
async fn seed_version(app: &TestApp, project: &Value, version: u32) {
    let id = ProjectId::parse(project["project_id"].as_str().unwrap()).unwrap();
    let slug = ProjectSlug::parse(project["slug"].as_str().unwrap()).unwrap();
    let v = Version::new(version).unwrap();
    let store = app.env.store();
    let now = Utc::now();
    let record = |file_type: FileType, key: String| FileRecord {
        project_id: id.clone(),
        version: v,
        file_type,
        s3_path: store.uri(&key),
        s3_key: key,
        timestamp: now,
        metadata: doc! { "file_size": 9i64, "generated_by": "user", "content_type": "model/stl" }.into(),
        created_at: now,
        updated_at: now,
    };
    let input = S3Key::input(&slug, v).to_string();
    store
        .put(
            &input,
            format!("# v{version}\n{SCRIPT}").into_bytes(),
            "text/x-python",
            &[],
        )
        .await
        .unwrap();
    app.db
        .files()
        .record(&record(FileType::Input, input.clone()))
        .await
        .unwrap();
    let mut outputs = Vec::new();
    for format in ModelFormat::ALL {
        let key = S3Key::output(&slug, v, format).to_string();
        store
            .put(
                &key,
                format!("{format} v{version}").into_bytes(),
                format.content_type(),
                &[],
            )
            .await
            .unwrap();
        app.db
            .files()
            .record(&record(FileType::Output, key.clone()))
            .await
            .unwrap();
        outputs.push(store.uri(&key));
    }
    let projects = app.db.projects();
    projects.next_version(&id, &format!("test-{v}")).await.unwrap();
    projects
        .record_script(&id, v, &store.uri(&input), None, 0)
        .await
        .unwrap();
    projects.mark_completed(&id, v, &outputs, 0).await.unwrap();
}

#[tokio::test]
async fn versions_scripts_outputs_downloads_and_status() {
    // The test writes versions and statuses straight into the database,
    // announcing nothing: the read cache is off so each read sees them.
    let app = spawn_app_with(&[("READ_CACHE_SECS", "0")]).await;
    let user = app.register().await;
    let project = app.project(&user, "scripts").await;
    let slug = project["slug"].as_str().unwrap().to_owned();
    let get = |path: String| app.get(&path, &user).send();

    let status: Value = get(format!("/api/projects/{slug}/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "no_scripts");
    let outputs: Value = get(format!("/api/projects/{slug}/outputs"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(outputs["outputs"].as_array().unwrap().len(), 0);
    error(
        get(format!("/api/projects/{slug}/download/STL")).await.unwrap(),
        404,
        "not_found",
    )
    .await;

    seed_version(&app, &project, 1).await;
    seed_version(&app, &project, 2).await;

    let scripts: Value = get(format!("/api/projects/{slug}/scripts"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(scripts["current_version"], 2);
    let versions: Vec<u64> = scripts["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [2, 1]);
    assert_eq!(scripts["versions"][1]["file_name"], format!("{slug}_v1.py"));

    let res = get(format!("/api/projects/{slug}/script/1")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/x-python"));
    assert_eq!(res.text().await.unwrap(), format!("# v1\n{SCRIPT}"));
    for bad in ["0", "01", "x", "-1"] {
        let msg = error(
            get(format!("/api/projects/{slug}/script/{bad}")).await.unwrap(),
            400,
            "bad_request",
        )
        .await;
        assert!(msg.starts_with("version"), "{msg}");
    }
    error(
        get(format!("/api/projects/{slug}/script/9")).await.unwrap(),
        404,
        "not_found",
    )
    .await;

    let outputs: Value = get(format!("/api/projects/{slug}/outputs"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(outputs["latest_version"], 2);
    assert_eq!(outputs["outputs"].as_array().unwrap().len(), 2 * ModelFormat::ALL.len());
    assert_eq!(
        outputs["by_version"]["1"].as_array().unwrap().len(),
        ModelFormat::ALL.len()
    );

    // Latest by default, a version on request; case-insensitive formats.
    for (query, version) in [("", 2), ("?version=1", 1)] {
        let res = get(format!("/api/projects/{slug}/download/stl{query}")).await.unwrap();
        assert_eq!(res.status(), 200);
        let d: Value = res.json().await.unwrap();
        assert_eq!(d["version"], version);
        assert_eq!(d["format"], "STL");
        assert_eq!(d["expires_in"], 900, "PRESIGN_EXPIRY_SECS default");
        let url = d["url"].as_str().unwrap();
        assert!(url.contains("X-Amz-Expires=900"), "{url}");
        let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
        assert_eq!(
            &bytes[..],
            format!("STL v{version}").as_bytes(),
            "a plain client downloads it"
        );
    }
    let res = get(format!("/api/projects/{slug}/download/FCStd?redirect=true"))
        .await
        .unwrap();
    assert_eq!(res.status(), 307);
    assert!(res.headers()["location"]
        .to_str()
        .unwrap()
        .contains("MyHeadlessModel.FCStd"));
    let msg = error(
        get(format!("/api/projects/{slug}/download/PDF")).await.unwrap(),
        400,
        "bad_request",
    )
    .await;
    assert!(msg.starts_with("format"), "{msg}");
    let msg = error(
        get(format!("/api/projects/{slug}/download/STL?version=0"))
            .await
            .unwrap(),
        400,
        "bad_request",
    )
    .await;
    assert!(msg.starts_with("version"), "{msg}");
    error(
        get(format!("/api/projects/{slug}/download/STL?version=3"))
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;

    let status: Value = get(format!("/api/projects/{slug}/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "completed");
    assert_eq!(status["current_version"], 2);
    let id = ProjectId::parse(project["project_id"].as_str().unwrap()).unwrap();
    for (stored, shown) in [
        (ProjectStatus::Error, "error"),
        (ProjectStatus::Timeout, "timeout"),
        (ProjectStatus::Processing, "processing"),
    ] {
        app.db.projects().set_status(&id, stored).await.unwrap();
        let status: Value = get(format!("/api/projects/{slug}/status"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(status["status"], shown);
    }
    app.cleanup(&[&slug]).await;
}

#[tokio::test]
async fn uploads_are_checked_then_versioned_through_a_job() {
    let app = spawn_app().await;
    let user = app.register().await;
    let project = app.project(&user, "upload").await;
    let slug = project["slug"].as_str().unwrap().to_owned();
    let path = format!("/api/projects/{slug}/upload-script");

    let res = app
        .post(&path, &user)
        .header("x-request-id", "upload-req-1")
        .json(&json!({ "script": SCRIPT, "file_name": "box.py" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(res.headers()["x-request-id"], "upload-req-1");
    let accepted: Value = res.json().await.unwrap();
    assert_eq!(accepted["stage"], "queued");
    assert_eq!(accepted["published"], true);
    assert_eq!(accepted["slug"], slug.as_str());
    let job_id = accepted["job_id"].as_str().unwrap();
    assert_eq!(accepted["links"]["job"], format!("/api/jobs/{job_id}"));
    assert_eq!(
        accepted["links"]["events"],
        format!("/api/projects/{}/events", project["project_id"].as_str().unwrap())
    );
    assert_eq!(accepted["links"]["status"], format!("/api/projects/{slug}/status"));

    let job = app
        .db
        .jobs()
        .get(domain::JobId::parse(job_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.kind, domain::documents::JobKind::Upload);
    assert_eq!(job.request_id.as_deref(), Some("upload-req-1"));
    assert!(job.published);
    let sent = app.env.drain(app.bus.as_ref(), "script-store.script.uploaded").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].request_id.as_deref(), Some("upload-req-1"));
    assert_eq!(sent[0].payload["file_name"], "box.py");
    assert_eq!(sent[0].payload["script"], SCRIPT);

    // The script itself as text/x-python.
    let res = app
        .post(&format!("{path}?file_name=raw.py"), &user)
        .header("content-type", "text/x-python")
        .body(SCRIPT)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(
        app.env.drain(app.bus.as_ref(), "script-store.script.uploaded").await[0].payload["file_name"],
        "raw.py"
    );

    // Every violation, with its line.
    let hostile = "import os\nimport FreeCAD as App\nos.system('rm -rf /')\nopen('/etc/passwd').read()\n";
    let res = app
        .post(&path, &user)
        .json(&json!({ "script": hostile }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unprocessable");
    let violations = body["error"]["details"]["violations"].as_array().unwrap();
    assert!(violations.len() >= 2, "{body}");
    assert!(violations.iter().any(|v| v["line"] == 1), "{body}");
    assert!(
        app.env
            .drain(app.bus.as_ref(), "script-store.script.uploaded")
            .await
            .is_empty(),
        "nothing published"
    );

    let big = format!("{SCRIPT}#{}\n", "x".repeat(256 * 1024));
    error(
        app.post(&path, &user)
            .json(&json!({ "script": big }))
            .send()
            .await
            .unwrap(),
        413,
        "payload_too_large",
    )
    .await;
    let res = app
        .post(&path, &user)
        .header("content-type", "text/x-python")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    error(res, 413, "payload_too_large").await;
    let res = app
        .post(&path, &user)
        .header("content-type", "application/zip")
        .body("PK")
        .send()
        .await
        .unwrap();
    error(res, 415, "unsupported_media_type").await;
    let res = app
        .post(&path, &user)
        .json(&json!({ "script": SCRIPT, "file_name": "../x.py" }))
        .send()
        .await
        .unwrap();
    let msg = error(res, 400, "bad_request").await;
    assert!(msg.starts_with("file_name"), "{msg}");
    let res = app
        .post(&path, &user)
        .json(&json!({ "code": SCRIPT }))
        .send()
        .await
        .unwrap();
    error(res, 400, "bad_request").await;
    app.cleanup(&[&slug]).await;
}

/// Scripts written in the idioms language models use (GUI calls, numpy,
/// their own exports) pass the upload check; the harness sets the habits
/// aside when it runs them. An escape is still refused by line.
#[tokio::test]
async fn uploads_in_the_idioms_models_write_are_accepted() {
    let app = spawn_app().await;
    let user = app.register().await;
    let project = app.project(&user, "idioms").await;
    let slug = project["slug"].as_str().unwrap().to_owned();
    let path = format!("/api/projects/{slug}/upload-script");
    let idioms = "import numpy as np\nimport FreeCAD as App\nimport FreeCADGui as Gui\nimport Part\nimport Mesh\n\
                  doc = App.newDocument('Part')\nbox = Part.makeBox(float(np.float64(10)), 10, 10)\n\
                  obj = doc.addObject('Part::Feature', 'Box')\nobj.Shape = box\nobj.ViewObject.ShapeColor = (1.0, 0.0, 0.0)\n\
                  Gui.SendMsgToActiveView('ViewFit')\nMesh.export([obj], 'box.stl')\nbox.exportStep('box.step')\ndoc.saveAs('box.FCStd')\n";
    let res = app
        .post(&path, &user)
        .json(&json!({ "script": idioms }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let escape = "import Part\nexport = Part.export\nexport([], '/tmp/x.step')\n";
    let res = app
        .post(&path, &user)
        .json(&json!({ "script": escape }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["details"]["violations"][0]["line"], 2, "{body}");
    app.cleanup(&[&slug]).await;
}

/// The names and contents of a ZIP, read by Python's `zipfile` (a reader
/// that shares nothing with the gateway's writer), which also checks every
/// file's CRC.
fn unzip(bytes: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("version.zip");
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg("import json, sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(json.dumps({n: z.read(n).decode() for n in z.namelist()}))")
        .arg(&path)
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn every_file_of_a_version_comes_in_one_zip() {
    let app = spawn_app().await;
    let user = app.register().await;
    let project = app.project(&user, "archive").await;
    let slug = project["slug"].as_str().unwrap().to_owned();
    let get = |path: String| app.get(&path, &user).send();
    error(
        get(format!("/api/projects/{slug}/archive")).await.unwrap(),
        404,
        "not_found",
    )
    .await;

    seed_version(&app, &project, 1).await;
    seed_version(&app, &project, 2).await;
    for (query, version) in [("", 2), ("?version=1", 1)] {
        let res = get(format!("/api/projects/{slug}/archive{query}")).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "application/zip");
        assert_eq!(
            res.headers()["content-disposition"],
            format!("attachment; filename=\"{slug}_v{version}.zip\"").as_str()
        );
        let files = unzip(&res.bytes().await.unwrap());
        let expected: serde_json::Map<String, Value> = ModelFormat::ALL
            .iter()
            .map(|f| (format!("{slug}_v{version}.{f}"), json!(format!("{f} v{version}"))))
            .collect();
        assert_eq!(files, Value::Object(expected));
    }
    error(
        get(format!("/api/projects/{slug}/archive?version=9")).await.unwrap(),
        404,
        "not_found",
    )
    .await;
    error(
        get(format!("/api/projects/{slug}/archive?version=x")).await.unwrap(),
        400,
        "bad_request",
    )
    .await;
    // Someone else's project is not found.
    let stranger = app.register().await;
    let res = app
        .get(&format!("/api/projects/{slug}/archive"), &stranger)
        .send()
        .await
        .unwrap();
    error(res, 404, "not_found").await;
}
