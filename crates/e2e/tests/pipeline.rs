//! The generation pipeline end to end: ai-generator, script-store,
//! freecad-worker and output-watcher as their own processes, on the real
//! broker, database, object store and FreeCAD.

use std::f64::consts::PI;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use domain::{FileType, JobStage, ModelFormat, ProjectStatus, S3Key, Version};
use e2e::{binary, stl, Pipeline, PIPELINE};
use platform::mongo::PageRequest;

const MINUTE: Duration = Duration::from_secs(60);

/// Prompts of the catalogue with the volume their dimensions imply.
fn catalogue() -> Vec<(&'static str, &'static str, f64)> {
    let hex = |across_flats: f64| 3f64.sqrt() / 2.0 * across_flats * across_flats;
    vec![
        (
            "plate",
            "a 40 x 20 x 10 mm plate with a 6 mm through hole",
            8000.0 - PI * 9.0 * 10.0,
        ),
        ("box", "box 2 by 3 by 4 cm", 24000.0),
        ("cylinder", "cylinder diameter 20mm height 50mm", PI * 100.0 * 50.0),
        (
            "tube",
            "tube outer diameter 30 mm inner diameter 24 mm length 80 mm",
            PI * (225.0 - 144.0) * 80.0,
        ),
        ("sphere", "sphere radius 15 mm", 4.0 / 3.0 * PI * 15f64.powi(3)),
        (
            "cone",
            "cone bottom diameter 40 top diameter 10 height 30 mm",
            PI * 30.0 / 3.0 * (400.0 + 100.0 + 25.0),
        ),
        (
            "washer",
            "washer 20 mm outer 8.4 mm inner 2 mm thick",
            PI * (100.0 - 4.2 * 4.2) * 2.0,
        ),
        (
            "flange",
            "a flange 80 mm across and 10 mm thick with six 8 mm holes on a 60 mm bolt circle",
            PI * 1600.0 * 10.0 - 6.0 * PI * 16.0 * 10.0,
        ),
        (
            "enclosure",
            "enclosure 100 x 60 x 40 mm wall 2 mm",
            100.0 * 60.0 * 40.0 - 96.0 * 56.0 * 38.0,
        ),
        (
            "nut",
            "hex nut 13 mm across flats 6.5 mm thick 8 mm hole",
            (hex(13.0) - PI * 16.0) * 6.5,
        ),
    ]
}

#[tokio::test]
async fn catalogue_prompts_become_four_model_files_with_the_right_volume() {
    let mut p = Pipeline::new().await;
    p.start(&PIPELINE, &[("FREECAD_CONCURRENCY", "2")]);
    let mut jobs = Vec::new();
    for (name, prompt, volume) in catalogue() {
        let project = p.project(&format!("e2e {name}")).await;
        let job = p.generate(&project, prompt).await;
        jobs.push((project, job, prompt, volume));
    }
    let store = p.env.store();
    let http = reqwest::Client::new();
    for (project, id, prompt, expected) in &jobs {
        let job = p.finished(*id, 3 * MINUTE).await;
        assert_eq!(job.stage, JobStage::Completed, "{prompt}: {:?}", job.error);
        let v1 = Version::new(1).unwrap();
        assert_eq!(job.version, Some(v1));
        let stages: Vec<JobStage> = job.history.iter().map(|h| h.stage).collect();
        assert_eq!(
            stages,
            [
                JobStage::Generating,
                JobStage::Uploading,
                JobStage::Processing,
                JobStage::Completed
            ],
            "{prompt}"
        );

        for format in ModelFormat::ALL {
            let key = S3Key::output(&project.slug, v1, format).to_string();
            let head = store
                .head(&key)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{prompt}: no {key}"));
            assert!(head.size > 0, "{key} is empty");
        }
        assert!(
            store
                .head(&S3Key::processed(&project.slug, v1).to_string())
                .await
                .unwrap()
                .is_some(),
            "no .done marker"
        );
        let logs = store.list(&format!("logs/{}/", project.slug)).await.unwrap();
        assert_eq!(logs.len(), 1, "{prompt}: one run log");
        assert!(S3Key::parse(&logs[0].key).is_some());

        let stl_key = S3Key::output(&project.slug, v1, ModelFormat::Stl).to_string();
        let url = store.presign_get(&stl_key, Duration::from_secs(60)).await.unwrap();
        let bytes = http.get(url).send().await.unwrap().bytes().await.unwrap();
        let volume = stl::volume(&bytes).expect("a readable STL");
        let error = (volume - expected).abs() / expected;
        assert!(
            error < 0.01,
            "{prompt}: STL volume {volume:.1} vs {expected:.1} ({:.2} %)",
            error * 100.0
        );
        let measured = job.metrics.as_ref().expect("metrics recorded");
        assert!(
            (measured.volume - expected).abs() / expected < 0.01,
            "{prompt}: {}",
            measured.volume
        );
        assert!(measured.valid && measured.solids == 1, "{prompt}: {measured:?}");
        // The job was verified against the generator's own expectations.
        let verification = job.verification.as_ref().expect("a verification recorded");
        assert!(verification.passed, "{prompt}: {verification:?}");
        let volume_check = verification.checks.iter().find(|c| c.name == "volume");
        assert!(volume_check.is_some_and(|c| c.passed), "{prompt}: {verification:?}");
        let expected_volume = job
            .expected
            .as_ref()
            .and_then(|e| e.volume_mm3)
            .expect("expectations recorded");
        assert!(
            (expected_volume - expected).abs() / expected < 0.005,
            "{prompt}: {expected_volume}"
        );
        assert!(
            measured.through_holes.is_some(),
            "{prompt}: the worker counts through holes"
        );

        let project_now = p.db.projects().get(&project.project_id).await.unwrap().unwrap();
        assert_eq!(project_now.status, ProjectStatus::Completed);
        assert_eq!(project_now.current_version, 1);
        assert_eq!(project_now.latest_s3_output.len(), 4);
        let files = p.db.files();
        for (t, n) in [
            (FileType::Input, 1),
            (FileType::Output, 4),
            (FileType::Log, 1),
            (FileType::Processed, 1),
        ] {
            let listed = files
                .list(&project.project_id, Some(t), PageRequest::all())
                .await
                .unwrap();
            assert_eq!(listed.total, n, "{prompt}: {t:?} files");
        }
        let log = p.db.logs().list(&project.project_id, PageRequest::all()).await.unwrap();
        assert_eq!(log.total, 1);
        assert!(log.items[0].log_summary.contains("successfully"));
        let messages =
            p.db.messages()
                .list(&project.project_id, PageRequest::all())
                .await
                .unwrap();
        assert_eq!(messages.total, 1, "the assistant's message");
        assert_eq!(
            messages.items[0].metadata.get_i64("version").ok().or(messages.items[0]
                .metadata
                .get_i32("version")
                .ok()
                .map(i64::from)),
            Some(1)
        );
    }
    let slugs: Vec<_> = jobs.iter().map(|(p, ..)| &p.slug).collect();
    p.clean(&slugs).await;
}

#[tokio::test]
async fn an_unknown_prompt_fails_with_the_catalogue() {
    let mut p = Pipeline::new().await;
    p.start(&["ai-generator"], &[]);
    let project = p.project("dragon").await;
    let job = p
        .finished(p.generate(&project, "a dragon breathing fire").await, MINUTE)
        .await;
    assert_eq!(job.stage, JobStage::Failed);
    let error = job.error.unwrap();
    for part in ["plate", "cylinder", "gear", "flange"] {
        assert!(
            error.to_lowercase().contains(part),
            "the message lists what is understood: {error}"
        );
    }
    assert_eq!(
        p.db.projects().get(&project.project_id).await.unwrap().unwrap().status,
        ProjectStatus::Error
    );
    assert!(
        p.env
            .store()
            .list(&format!("input/{}/", project.slug))
            .await
            .unwrap()
            .is_empty(),
        "nothing stored"
    );
    p.clean(&[&project.slug]).await;
}

#[tokio::test]
async fn hostile_scripts_are_contained_and_reported_and_the_worker_keeps_serving() {
    let mut p = Pipeline::new().await;
    p.start(
        &["script-store", "freecad-worker", "output-watcher"],
        &[
            ("FREECAD_TIMEOUT_SECS", "8"),
            ("FREECAD_CPU_SECS", "4"),
            ("FREECAD_CONCURRENCY", "2"),
        ],
    );
    let hostile = [
        ("loop", "while True:\n    pass\n", "timeout"),
        ("memory", "x = bytearray(10**11)\n", "memory_limit"),
        ("fork", "import os\nwhile True:\n    os.fork()\n", "sandbox_violation"),
        (
            "socket",
            "import socket\nsocket.create_connection(('127.0.0.1', 5672))\n",
            "sandbox_violation",
        ),
        ("passwd", "print(open('/etc/passwd').read())\n", "sandbox_violation"),
    ];
    let mut jobs = Vec::new();
    for (name, script, _) in &hostile {
        let project = p.project(&format!("hostile {name}")).await;
        jobs.push((p.upload(&project, script).await, project));
    }
    for ((id, project), (name, _, kind)) in jobs.iter().zip(hostile) {
        let job = p.finished(*id, 2 * MINUTE).await;
        assert_eq!(job.stage, JobStage::Failed, "{name}");
        let error = job.error.unwrap_or_default();
        assert!(error.contains(kind), "{name}: expected {kind} in {error:?}");
        let logs = p.db.logs().list(&project.project_id, PageRequest::all()).await.unwrap();
        assert_eq!(logs.total, 1, "{name}: the failed run's log is recorded");
    }
    // Still serving: a good script right after.
    let good = p.project("after the storm").await;
    let id = p.upload(&good, "import FreeCAD as App\nimport Part\ndoc = App.ActiveDocument or App.newDocument('Model')\ndoc.addObject('Part::Feature', 'Box').Shape = Part.makeBox(10, 10, 10)\ndoc.recompute()\n").await;
    let job = p.finished(id, MINUTE).await;
    assert_eq!(job.stage, JobStage::Completed, "{:?}", job.error);
    assert!((job.metrics.unwrap().volume - 1000.0).abs() < 1e-6);
    let mut slugs: Vec<_> = jobs.iter().map(|(_, p)| &p.slug).collect();
    slugs.push(&good.slug);
    p.clean(&slugs).await;
}

/// A chat-completions server that answers first with a script that fails
/// in FreeCAD, then with a good one; it keeps every request it got.
async fn flaky_model() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicU32::new(0));
    let seen = requests.clone();
    let server = HttpServer::new(move || {
        let seen = seen.clone();
        let calls = calls.clone();
        App::new().route(
            "/v1/chat/completions",
            web::post().to(move |body: web::Json<serde_json::Value>| {
                let seen = seen.clone();
                let calls = calls.clone();
                async move {
                    seen.lock().unwrap().push(body.into_inner());
                    let n = calls.fetch_add(1, Ordering::SeqCst);
                    let script = if n == 0 {
                        "```python\nimport FreeCAD as App\nimport Part\ndoc = App.ActiveDocument or App.newDocument('Model')\nshape = Part.makeBox(10, 10, -5)\ndoc.addObject('Part::Feature', 'Box').Shape = shape\ndoc.recompute()\n```"
                    } else {
                        "Fixed:\n```python\nimport FreeCAD as App\nimport Part\ndoc = App.ActiveDocument or App.newDocument('Model')\nshape = Part.makeBox(10, 10, 5)\ndoc.addObject('Part::Feature', 'Box').Shape = shape\ndoc.recompute()\n```"
                    };
                    HttpResponse::Ok().json(serde_json::json!({
                        "id": format!("chatcmpl-{n}"),
                        "object": "chat.completion",
                        "created": 1_700_000_000,
                        "model": "local-coder",
                        "choices": [{
                            "index": 0,
                            "message": { "role": "assistant", "content": script },
                            "finish_reason": "stop"
                        }],
                        "usage": { "prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150 }
                    }))
                }
            }),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (format!("http://127.0.0.1:{port}/v1"), requests)
}

#[tokio::test]
async fn an_llm_script_that_fails_in_freecad_is_repaired_on_the_next_attempt() {
    let (base_url, requests_handle) = flaky_model().await;
    let mut p = Pipeline::new().await;
    p.start(
        &PIPELINE,
        &[
            ("AI_PROVIDER", "openai"),
            ("AI_BASE_URL", &base_url),
            ("AI_MODEL", "local-coder"),
            ("MAX_REPAIRS", "2"),
        ],
    );
    let project = p.project("repair me").await;
    let job = p
        .finished(p.generate(&project, "a box 10 by 10 by 5 mm").await, 2 * MINUTE)
        .await;
    assert_eq!(job.stage, JobStage::Completed, "{:?}", job.error);
    assert_eq!(job.repair_attempts, 1);
    assert_eq!(job.version, Some(Version::new(2).unwrap()), "the repair is version 2");
    assert!((job.metrics.unwrap().volume - 500.0).abs() < 1e-6);
    let stages: Vec<JobStage> = job.history.iter().map(|h| h.stage).collect();
    assert!(
        stages
            .windows(2)
            .any(|w| w == [JobStage::Processing, JobStage::Generating]),
        "{stages:?}"
    );

    let requests = requests_handle.lock().unwrap().clone();
    assert_eq!(requests.len(), 2);
    let repair_prompt = requests[1]["messages"].to_string();
    assert!(
        repair_prompt.contains("failed"),
        "the error goes back to the model: {repair_prompt}"
    );
    assert!(
        requests[0]["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("millimetres"),
        "system prompt"
    );
    let messages =
        p.db.messages()
            .list(&project.project_id, PageRequest::all())
            .await
            .unwrap();
    assert_eq!(messages.total, 2, "one assistant message per attempt");
    assert_eq!(
        messages.items[0].metadata.get_str("source_model").unwrap(),
        "local-coder"
    );

    // A follow-up iterates on the last version: the model sees the
    // conversation and the current script.
    let next = p
        .finished(p.generate(&project, "make it taller").await, 2 * MINUTE)
        .await;
    assert_eq!(next.stage, JobStage::Completed, "{:?}", next.error);
    assert_eq!(next.version, Some(Version::new(3).unwrap()));
    let requests = requests_handle.lock().unwrap().clone();
    let turns = requests[2]["messages"].as_array().unwrap().clone();
    assert!(
        turns.iter().any(|m| m["role"] == "assistant"),
        "history is sent: {turns:?}"
    );
    let ask = turns.last().unwrap()["content"].to_string();
    assert!(
        ask.contains("The current script is") && ask.contains("makeBox(10, 10, 5)"),
        "{ask}"
    );
    assert!(ask.contains("make it taller"));
    p.clean(&[&project.slug]).await;
}

#[tokio::test]
async fn a_worker_killed_mid_job_leaves_the_job_to_the_next_worker() {
    let mut p = Pipeline::new().await;
    p.start(&["script-store", "output-watcher", "freecad-worker"], &[]);
    let project = p.project("kill nine").await;
    let script = "import time\ntime.sleep(4)\nimport FreeCAD as App\nimport Part\ndoc = App.ActiveDocument or App.newDocument('Model')\ndoc.addObject('Part::Feature', 'Box').Shape = Part.makeBox(2, 3, 4)\ndoc.recompute()\n";
    let id = p.upload(&project, script).await;
    // Wait until the first worker runs it, then kill it without mercy.
    for _ in 0..200 {
        if p.db.jobs().get(id).await.unwrap().unwrap().stage == JobStage::Processing {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let worker = p.services.iter_mut().find(|s| s.name == "freecad-worker").unwrap();
    worker.kill();
    p.start(&["freecad-worker"], &[]);
    let job = p.finished(id, 2 * MINUTE).await;
    assert_eq!(job.stage, JobStage::Completed, "{:?}", job.error);
    assert!((job.metrics.unwrap().volume - 24.0).abs() < 1e-6);
    p.clean(&[&project.slug]).await;
}

#[test]
fn services_refuse_to_start_naming_what_is_missing_or_malformed() {
    for service in [
        "gateway",
        "ai-generator",
        "script-store",
        "freecad-worker",
        "output-watcher",
        "monitoring",
    ] {
        let out = Command::new(binary(service)).env_clear().output().unwrap();
        assert!(!out.status.success(), "{service} started without configuration");
        let err = String::from_utf8_lossy(&out.stderr);
        for var in ["MONGODB_URI", "AWS_ACCESS_KEY_ID", "AWS_BUCKET_NAME", "AMQP_URL"] {
            assert!(
                err.contains(&format!("{var} is not set")),
                "{service} does not name {var}: {err}"
            );
        }
        let out = Command::new(binary(service))
            .env_clear()
            .env("MONGODB_URI", "mongodb://127.0.0.1:27017")
            .env("AWS_ACCESS_KEY_ID", "id")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_BUCKET_NAME", "cadscribe")
            .env("AMQP_URL", "http://not-amqp")
            .env("JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef")
            .env("AMQP_PREFETCH", "lots")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("AMQP_URL is malformed"), "{service}: {err}");
        assert!(err.contains("AMQP_PREFETCH is malformed"), "{service}: {err}");
        assert!(
            !err.contains("MONGODB_URI is"),
            "{service} blames a good variable: {err}"
        );
    }
}

#[tokio::test]
async fn a_model_that_is_not_one_solid_fails_verification_with_the_checks_shown() {
    let mut p = Pipeline::new().await;
    p.start(&PIPELINE, &[]);
    let project = p.project("two solids").await;
    let script = "import FreeCAD as App\nimport Part\n\
doc = App.ActiveDocument or App.newDocument(\"Model\")\n\
a = Part.makeBox(10, 10, 10)\n\
b = Part.makeBox(10, 10, 10, App.Vector(20, 0, 0))\n\
doc.addObject(\"Part::Feature\", \"A\").Shape = a\n\
doc.addObject(\"Part::Feature\", \"B\").Shape = b\n\
doc.recompute()\n";
    let id = p.upload(&project, script).await;
    let job = p.finished(id, 3 * MINUTE).await;
    assert_eq!(job.stage, JobStage::Failed, "{job:?}");
    let error = job.error.as_deref().unwrap_or_default();
    assert!(error.contains("verification failed"), "{error}");
    assert!(error.contains("solids: expected 1, measured 2"), "{error}");
    let verification = job.verification.expect("the failed checks are recorded");
    assert!(!verification.passed);
    let solids = verification
        .checks
        .iter()
        .find(|c| c.name == "solids")
        .expect("a solids check");
    assert_eq!((solids.measured.as_str(), solids.passed), ("2", false));
    p.clean(&[&project.slug]).await;
}
