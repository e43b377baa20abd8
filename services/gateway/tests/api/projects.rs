//! Projects and their data through the API.

use bson::doc;
use chrono::Utc;
use serde_json::{json, Value};

use domain::documents::{FileRecord, LogRecord, Message, Role};
use domain::{FileType, ProjectId, S3Key, UserId, Version};

use crate::helpers::{error, spawn_app, TestApp, TestUser};

#[tokio::test]
async fn create_read_update_list_and_delete() {
    let app = spawn_app().await;
    let user = app.register().await;
    let res = app
        .post("/api/projects/", &user)
        .json(&json!({ "project_name": "Gearbox Assembly", "description": "two stages" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let p: Value = res.json().await.unwrap();
    let id = p["project_id"].as_str().unwrap().to_owned();
    let slug = p["slug"].as_str().unwrap().to_owned();
    assert!(slug.starts_with("gearbox-assembly"), "{slug}");
    assert_eq!(location, format!("/api/projects/{id}"));
    assert_eq!(p["status"], "draft");
    assert_eq!(p["processing_status"], "no_scripts");
    assert_eq!(p["description"], "two stages");
    assert_eq!(p["created_by"], user.user_id.as_str());

    for key in [&id, &slug] {
        let got: Value = app
            .get(&format!("/api/projects/{key}"), &user)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(got["project_id"], id.as_str());
    }

    let res = app
        .put(&format!("/api/projects/{slug}"), &user)
        .json(&json!({ "project_name": "Gearbox v2" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["project_name"], "Gearbox v2");
    assert_eq!(updated["slug"], slug.as_str(), "the slug stays");
    assert_eq!(updated["description"], "two stages");
    let res = app
        .put(&format!("/api/projects/{id}"), &user)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    error(res, 400, "bad_request").await;
    let res = app
        .put(&format!("/api/projects/{id}"), &user)
        .json(&json!({ "project_name": " " }))
        .send()
        .await
        .unwrap();
    let msg = error(res, 400, "bad_request").await;
    assert!(msg.starts_with("project_name"), "{msg}");

    // Newest activity first, paged.
    let second = app.project(&user, "second").await;
    let page: Value = app
        .get("/api/projects/?limit=1", &user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 2);
    assert_eq!(page["limit"], 1);
    assert_eq!(page["items"][0]["project_id"], second["project_id"]);
    let page: Value = app
        .get("/api/projects?limit=1&offset=1", &user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["project_id"], id.as_str());

    let deleted: Value = app
        .delete(&format!("/api/projects/{id}"), &user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deleted["project_id"], id.as_str());
    error(
        app.get(&format!("/api/projects/{id}"), &user).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    error(
        app.delete(&format!("/api/projects/{id}"), &user).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    app.cleanup(&[&slug, second["slug"].as_str().unwrap()]).await;
}

#[tokio::test]
async fn paging_and_keys_are_checked_at_the_edge() {
    let app = spawn_app().await;
    let user = app.register().await;
    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=abc", "limit"),
        ("offset=-1", "offset"),
    ] {
        let msg = error(
            app.get(&format!("/api/projects/?{q}"), &user).send().await.unwrap(),
            400,
            "bad_request",
        )
        .await;
        assert!(msg.starts_with(field), "{q}: {msg}");
    }
    assert_eq!(
        app.get("/api/projects/?limit=200", &user)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let msg = error(
        app.get("/api/projects/Not%20A%20Slug", &user).send().await.unwrap(),
        400,
        "bad_request",
    )
    .await;
    assert!(msg.starts_with("project"), "{msg}");
    error(
        app.get("/api/projects/no-such-project", &user).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    error(
        app.get("/api/projects/project-0000", &user).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    let res = app
        .post("/api/projects/", &user)
        .json(&json!({ "project_name": "x", "slug": "Bad Slug" }))
        .send()
        .await
        .unwrap();
    let msg = error(res, 400, "bad_request").await;
    assert!(msg.starts_with("slug"), "{msg}");
    let res = app
        .post("/api/projects/", &user)
        .json(&json!({ "name": "wrong field" }))
        .send()
        .await
        .unwrap();
    error(res, 400, "bad_request").await;
    app.cleanup(&[]).await;
}

#[tokio::test]
async fn a_slug_that_looks_like_an_id_still_resolves() {
    let app = spawn_app().await;
    let user = app.register().await;
    let slug = format!("project-foo-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    let res = app
        .post("/api/projects/", &user)
        .json(&json!({ "project_name": "Foo", "slug": slug }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["slug"], slug.as_str());
    let got: Value = app
        .get(&format!("/api/projects/{slug}"), &user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["project_id"], p["project_id"]);
    let status: Value = app
        .get(&format!("/api/projects/{slug}/status"), &user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "no_scripts");
    // The slug is taken now.
    let res = app
        .post("/api/projects/", &user)
        .json(&json!({ "project_name": "Foo", "slug": slug }))
        .send()
        .await
        .unwrap();
    error(res, 409, "conflict").await;
    app.cleanup(&[&slug]).await;
}

/// Messages, files and logs of a project, stored the way the workers do.
async fn seed(app: &TestApp, user: &TestUser, project: &Value) {
    let id = ProjectId::parse(project["project_id"].as_str().unwrap()).unwrap();
    let slug = domain::ProjectSlug::parse(project["slug"].as_str().unwrap()).unwrap();
    let uid = UserId::parse(&user.user_id).unwrap();
    let now = Utc::now();
    for (i, role) in [Role::User, Role::Assistant].into_iter().enumerate() {
        app.db
            .messages()
            .insert(&Message {
                message_id: format!("m{i}"),
                project_id: id.clone(),
                user_id: uid.clone(),
                role,
                content: format!("message {i}"),
                timestamp: now + chrono::Duration::seconds(i as i64),
                job_id: None,
                metadata: doc! { "n": i as i32 }.into(),
                created_at: now,
                updated_at: now,
            })
            .await
            .unwrap();
    }
    let v1 = Version::FIRST;
    let keys = [
        (FileType::Input, S3Key::input(&slug, v1).to_string()),
        (
            FileType::Output,
            S3Key::output(&slug, v1, domain::ModelFormat::Stl).to_string(),
        ),
        (FileType::Log, S3Key::log(&slug, now, v1).to_string()),
        (FileType::Processed, S3Key::processed(&slug, v1).to_string()),
    ];
    for (file_type, key) in &keys {
        app.db
            .files()
            .record(&FileRecord {
                project_id: id.clone(),
                version: v1,
                file_type: *file_type,
                s3_path: format!("s3://bucket/{key}"),
                s3_key: key.clone(),
                timestamp: now,
                metadata: doc! { "file_size": 12i64, "content_type": "text/plain" }.into(),
                created_at: now,
                updated_at: now,
            })
            .await
            .unwrap();
    }
    app.env
        .store()
        .put(&keys[2].1, b"run log".to_vec(), "text/plain", &[])
        .await
        .unwrap();
    app.db
        .logs()
        .record(&LogRecord {
            project_id: id,
            version: v1,
            s3_log_path: format!("s3://bucket/{}", keys[2].1),
            log_summary: "Model generated successfully.".into(),
            timestamp: now,
            metadata: doc! { "exit_code": 0 }.into(),
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn messages_files_logs_complete_and_summary() {
    let app = spawn_app().await;
    let user = app.register().await;
    let project = app.project(&user, "data").await;
    seed(&app, &user, &project).await;
    let id = project["project_id"].as_str().unwrap();
    let slug = project["slug"].as_str().unwrap();
    let (a, u) = (&app, &user);
    let get = move |path: String| async move { a.get(&path, u).send().await.unwrap().json::<Value>().await.unwrap() };

    let messages = get(format!("/api/projects/{id}/messages")).await;
    assert_eq!(messages["total"], 2);
    assert_eq!(messages["items"][0]["role"], "user", "oldest first");
    assert_eq!(messages["items"][1]["role"], "assistant");
    assert_eq!(messages["items"][0]["metadata"]["n"], 0, "metadata as plain JSON");
    assert!(
        messages["items"][0]["timestamp"].as_str().unwrap().contains('T'),
        "RFC 3339 times"
    );
    assert_eq!(
        get(format!("/api/projects/{id}/messages?limit=1&offset=1")).await["items"][0]["role"],
        "assistant"
    );

    let files = get(format!("/api/projects/{id}/files")).await;
    assert_eq!(files["total"], 4);
    let outputs = get(format!("/api/projects/{id}/files?file_type=output")).await;
    assert_eq!(outputs["total"], 1);
    assert_eq!(outputs["items"][0]["file_name"], "MyHeadlessModel.STL");
    assert_eq!(outputs["items"][0]["size"], 12);
    let msg = error(
        app.get(&format!("/api/projects/{id}/files?file_type=pdf"), &user)
            .send()
            .await
            .unwrap(),
        400,
        "bad_request",
    )
    .await;
    assert!(msg.starts_with("file_type"), "{msg}");

    // The same logs by id and by slug: records and the files in S3.
    for key in [id, slug] {
        let logs = get(format!("/api/projects/{key}/logs")).await;
        assert_eq!(logs["total"], 1);
        assert_eq!(logs["items"][0]["log_summary"], "Model generated successfully.");
        assert_eq!(logs["log_files"].as_array().unwrap().len(), 1);
        assert_eq!(logs["log_files"][0]["version"], 1);
        let url = logs["log_files"][0]["url"].as_str().expect("a pre-signed log URL");
        let fetched = reqwest::get(url).await.unwrap();
        assert_eq!(fetched.status(), 200, "the whole log can be read");
    }

    let complete = get(format!("/api/projects/{slug}/complete")).await;
    assert_eq!(complete["project"]["project_id"], id);
    assert_eq!(complete["messages"].as_array().unwrap().len(), 2);
    assert_eq!(complete["files"].as_array().unwrap().len(), 4);
    for t in ["input", "output", "log", "processed"] {
        assert_eq!(complete["files_by_type"][t].as_array().unwrap().len(), 1, "{t}");
    }
    assert_eq!(complete["logs"].as_array().unwrap().len(), 1);

    let summary = get(format!("/api/projects/{id}/summary")).await;
    assert_eq!(summary["counts"]["messages"], 2);
    assert_eq!(summary["counts"]["files"], 4);
    assert_eq!(summary["counts"]["files_by_type"]["output"], 1);
    assert_eq!(summary["counts"]["logs"], 1);
    assert_eq!(summary["counts"]["jobs"], 0);
    assert_eq!(summary["processing_status"], "no_scripts");

    // Deleting takes all of it, S3 included.
    let deleted = get_deleted(&app, &user, id).await;
    assert_eq!(deleted["messages"], 2);
    assert_eq!(deleted["files"], 4);
    assert_eq!(deleted["logs"], 1);
    assert_eq!(deleted["s3_objects"], 1);
    let pid = ProjectId::parse(id).unwrap();
    assert_eq!(app.db.messages().count(&pid).await.unwrap(), 0);
    assert_eq!(app.db.files().count(&pid).await.unwrap(), 0);
    assert!(app.env.store().list(&format!("logs/{slug}/")).await.unwrap().is_empty());
    app.cleanup(&[slug]).await;
}

async fn get_deleted(app: &TestApp, user: &TestUser, id: &str) -> Value {
    let res = app.delete(&format!("/api/projects/{id}"), user).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_projects_material_gives_its_models_a_mass() {
    let app = spawn_app().await;
    let user = app.register().await;
    let res = app
        .post("/api/ai/generate-code", &user)
        .json(&json!({ "prompt": "box 10 x 20 x 30 mm" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let accepted: Value = res.json().await.unwrap();
    let slug = accepted["slug"].as_str().unwrap().to_owned();
    let job_id = accepted["job_id"].as_str().unwrap().to_owned();
    // The model as the worker measured it: 6000 mm³, centred at (10, 10, 15).
    let metrics = domain::messages::ModelMetrics {
        volume: 6000.0,
        surface_area: 2200.0,
        bounding_box: [5.0, 0.0, 0.0, 15.0, 20.0, 30.0],
        solids: 1,
        valid: true,
        through_holes: Some(0),
        center_of_mass: Some([10.0, 10.0, 15.0]),
        inertia: Some([[650_000.0, 0.0, 0.0], [0.0, 500_000.0, 0.0], [0.0, 0.0, 250_000.0]]),
    };
    app.db
        .jobs()
        .set(
            domain::JobId::parse(&job_id).unwrap(),
            doc! { "stage": "completed", "metrics": bson::to_bson(&metrics).unwrap() },
        )
        .await
        .unwrap();

    // No material yet: no mass anywhere.
    let job = app.get_json(&format!("/api/jobs/{job_id}"), &user).await;
    assert_eq!(job["metrics"]["center_of_mass"], json!([10.0, 10.0, 15.0]));
    assert!(job["mass"].is_null(), "{job}");
    let project = app.get_json(&format!("/api/projects/{slug}"), &user).await;
    assert!(project["material"].is_null() && project["mass"].is_null(), "{project}");

    let res = app
        .put(&format!("/api/projects/{slug}"), &user)
        .json(&json!({ "material": "aluminium" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let project: Value = res.json().await.unwrap();
    assert_eq!(project["material"]["material"], "aluminium");
    assert_eq!(project["material"]["name"], "Aluminium");
    assert_eq!(project["material"]["density_g_cm3"], 2.7);
    // 6 cm³ of aluminium at 2.70 g/cm³.
    let grams = |v: &Value| v["mass"]["grams"].as_f64().unwrap_or(f64::NAN);
    assert!((grams(&project) - 16.2).abs() < 1e-9, "{project}");

    let job = app.get_json(&format!("/api/jobs/{job_id}"), &user).await;
    assert!((grams(&job) - 16.2).abs() < 1e-9, "{job}");
    assert_eq!(job["mass"]["material"]["name"], "Aluminium");
    let listed = app.get_json(&format!("/api/jobs?project={slug}"), &user).await;
    assert!((grams(&listed["items"][0]) - 16.2).abs() < 1e-9, "{listed}");
    let listed = app.get_json("/api/jobs", &user).await;
    assert!((grams(&listed["items"][0]) - 16.2).abs() < 1e-9, "{listed}");

    // Another material, another mass; an unknown one is refused with the list.
    let res = app
        .put(&format!("/api/projects/{slug}"), &user)
        .json(&json!({ "material": "PLA" }))
        .send()
        .await
        .unwrap();
    let project: Value = res.json().await.unwrap();
    assert_eq!(project["material"]["material"], "pla");
    let job = app.get_json(&format!("/api/jobs/{job_id}"), &user).await;
    assert!((grams(&job) - 7.44).abs() < 1e-9, "{job}");
    let res = app
        .put(&format!("/api/projects/{slug}"), &user)
        .json(&json!({ "material": "unobtainium" }))
        .send()
        .await
        .unwrap();
    let msg = error(res, 400, "bad_request").await;
    assert!(msg.starts_with("material"), "{msg}");
    for key in [
        "steel",
        "stainless_steel",
        "aluminium",
        "brass",
        "titanium",
        "pla",
        "abs",
        "petg",
        "nylon",
        "wood",
    ] {
        assert!(msg.contains(key), "{msg} lacks {key}");
    }
    let project = app.get_json(&format!("/api/projects/{slug}"), &user).await;
    assert_eq!(
        project["material"]["material"], "pla",
        "a refused update changes nothing"
    );

    // An empty material clears it.
    let res = app
        .put(&format!("/api/projects/{slug}"), &user)
        .json(&json!({ "material": "" }))
        .send()
        .await
        .unwrap();
    let project: Value = res.json().await.unwrap();
    assert!(project["material"].is_null(), "{project}");
    let job = app.get_json(&format!("/api/jobs/{job_id}"), &user).await;
    assert!(job["mass"].is_null(), "{job}");
    app.cleanup(&[&slug]).await;
}
