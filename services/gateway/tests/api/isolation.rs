//! A second user sees nothing of the first user's work: every route
//! answers 404, exactly as for a project or job that does not exist.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{error, spawn_app};

#[tokio::test]
async fn another_users_project_scripts_outputs_jobs_and_events_are_not_found() {
    let app = spawn_app().await;
    let alice = app.register().await;
    let bob = app.register().await;
    let script = "import FreeCAD as App\nimport Part\ndoc = App.ActiveDocument or App.newDocument('M')\nPart.show(Part.makeBox(1, 2, 3))\ndoc.recompute()\n";
    let res = app
        .post("/api/ai/generate-code", &alice)
        .json(&json!({ "prompt": "box 1 x 2 x 3 mm" }))
        .send()
        .await
        .unwrap();
    let accepted: Value = res.json().await.unwrap();
    let id = accepted["project_id"].as_str().unwrap().to_owned();
    let slug = accepted["slug"].as_str().unwrap().to_owned();
    let job = accepted["job_id"].as_str().unwrap().to_owned();
    // Alice has a stored script and a model.
    let key = format!("input/{slug}/{slug}_v1.py");
    app.env
        .store()
        .put(&key, script.as_bytes().to_vec(), "text/x-python", &[])
        .await
        .unwrap();

    let missing_message = error(
        app.get("/api/projects/project-doesnotexist", &bob)
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    assert!(missing_message.contains("not found"));
    for key in [&id, &slug] {
        for path in [
            format!("/api/projects/{key}"),
            format!("/api/projects/{key}/messages"),
            format!("/api/projects/{key}/files"),
            format!("/api/projects/{key}/logs"),
            format!("/api/projects/{key}/complete"),
            format!("/api/projects/{key}/summary"),
            format!("/api/projects/{key}/scripts"),
            format!("/api/projects/{key}/script/1"),
            format!("/api/projects/{key}/outputs"),
            format!("/api/projects/{key}/download/STL"),
            format!("/api/projects/{key}/status"),
            format!("/api/projects/{key}/events"),
            format!("/api/jobs?project={key}"),
        ] {
            let msg = error(app.get(&path, &bob).send().await.unwrap(), 404, "not_found").await;
            assert!(!msg.contains(&alice.user_id), "{path}: {msg}");
        }
        let res = app
            .post(&format!("/api/projects/{key}/upload-script"), &bob)
            .json(&json!({ "script": script }))
            .send()
            .await
            .unwrap();
        error(res, 404, "not_found").await;
        let res = app
            .put(&format!("/api/projects/{key}"), &bob)
            .json(&json!({ "project_name": "mine now" }))
            .send()
            .await
            .unwrap();
        error(res, 404, "not_found").await;
        error(
            app.delete(&format!("/api/projects/{key}"), &bob).send().await.unwrap(),
            404,
            "not_found",
        )
        .await;
        let res = app
            .post("/api/ai/chat", &bob)
            .json(&json!({ "message": "hi", "project_id": key }))
            .send()
            .await
            .unwrap();
        error(res, 404, "not_found").await;
    }
    let res = app
        .get(&format!("/api/projects/{id}/events"), &bob)
        .send()
        .await
        .unwrap();
    error(res, 404, "not_found").await;
    let res = app
        .post(&format!("/api/projects/{id}/events/ticket"), &bob)
        .send()
        .await
        .unwrap();
    error(res, 404, "not_found").await;
    error(
        app.get(&format!("/api/jobs/{job}"), &bob).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    error(
        app.post(&format!("/api/jobs/{job}/cancel"), &bob).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    error(
        app.post(&format!("/api/jobs/{job}/retry"), &bob).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;

    let listed: Value = app
        .get("/api/projects/", &bob)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 0);
    let jobs: Value = app.get("/api/jobs", &bob).send().await.unwrap().json().await.unwrap();
    assert_eq!(jobs["total"], 0);

    // Alice still has everything, untouched.
    let p: Value = app
        .get(&format!("/api/projects/{id}"), &alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(p["project_name"], "box 1 x 2 x 3 mm");
    let res = app
        .get(&format!("/api/projects/{slug}/script/1"), &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), script);
    let j: Value = app
        .get(&format!("/api/jobs/{job}"), &alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(j["stage"], "queued");
    tokio::time::sleep(Duration::from_millis(10)).await;
    app.cleanup(&[&slug]).await;
}
