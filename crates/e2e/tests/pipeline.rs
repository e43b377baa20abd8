//! The generation pipeline end to end: ai-generator, script-store,
//! freecad-worker and output-watcher as their own processes, on the real
//! broker, database, object store and FreeCAD. The catalogue and the killed
//! worker also run on the SQS backend (the local SQS-compatible server).

use std::f64::consts::PI;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use std::time::Duration;

use domain::{FileType, JobStage, ModelFormat, ProjectStatus, S3Key, Version};
use e2e::chat::{asks_for_spec, chat_model, script_requests, Requests};
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
        // A project named and a prompt written partly in Japanese, with an
        // emoji: every format still exports, the STEP in ASCII.
        ("立方体 🚀 cube", "立方体: a 20 mm cube 🚀", 8000.0),
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

/// The pipeline on SQS instead of RabbitMQ.
const ON_SQS: &[(&str, &str)] = &[("BUS_BACKEND", "sqs")];

#[tokio::test]
async fn catalogue_prompts_become_every_model_file_with_the_right_volume() {
    catalogue_pipeline("e2e", &[]).await;
}

#[tokio::test]
async fn catalogue_prompts_become_every_model_file_on_sqs() {
    catalogue_pipeline("e2e sqs", ON_SQS).await;
}

/// `label` starts every project name: the tests share the bucket, and a
/// project's files live under its slug.
async fn catalogue_pipeline(label: &str, overrides: &[(&str, &str)]) {
    let mut p = Pipeline::with(overrides).await;
    p.start(&PIPELINE, &[("FREECAD_CONCURRENCY", "2")]);
    let mut jobs = Vec::new();
    for (name, prompt, volume) in catalogue() {
        let project = p.project(&format!("{label} {name}")).await;
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
        // Every service recorded what its own work took.
        let t = job.timings;
        let recorded = [
            t.generation_ms,
            t.store_ms,
            t.fetch_ms,
            t.freecad_ms,
            t.upload_ms,
            t.completion_ms,
        ];
        assert!(recorded.iter().all(Option::is_some), "{prompt}: timings {t:?}");
        let total = (job.finished_at.unwrap() - job.created_at).num_milliseconds() as u64;
        assert!(
            recorded.iter().flatten().sum::<u64>() <= total,
            "{prompt}: {t:?} in {total} ms"
        );
        // The sizes the worker reported are the stored files' sizes.
        let files =
            p.db.files()
                .list(&project.project_id, Some(domain::FileType::Output), PageRequest::all())
                .await
                .unwrap();
        assert_eq!(files.items.len(), ModelFormat::ALL.len(), "{prompt}");

        for format in ModelFormat::ALL {
            let key = S3Key::output(&project.slug, v1, format).to_string();
            let head = store
                .head(&key)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{prompt}: no {key}"));
            assert!(head.size > 0, "{key} is empty");
            let record = files.items.iter().find(|f| f.s3_key == key).expect("a file record");
            assert_eq!(record.metadata.file_size, Some(head.size as i64), "{key}");
            // The measurements travel with the files, for reconciliation.
            let kept = head
                .metadata
                .get(domain::messages::METRICS_METADATA_KEY)
                .unwrap_or_else(|| panic!("{key}: no measurements kept"));
            let kept: domain::messages::ModelMetrics = serde_json::from_str(kept).expect("measurements as JSON");
            assert_eq!(Some(kept), job.metrics, "{key}");
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
        // The mesh formats, read back without FreeCAD, hold the same solid
        // within 0.5 %; the 3MF is in millimetres.
        let bytes_of = |format: ModelFormat| {
            let key = S3Key::output(&project.slug, v1, format).to_string();
            let store = &store;
            async move { store.get(&key).await.unwrap().expect("the export").bytes }
        };
        let glb = stl::glb_volume(&bytes_of(ModelFormat::Glb).await).expect("a readable GLB");
        let (three_mf, unit) = stl::threemf_volume(&bytes_of(ModelFormat::ThreeMf).await).expect("a readable 3MF");
        assert_eq!(unit, "millimeter", "{prompt}");
        for (format, v) in [("STL", volume), ("GLB", glb), ("3MF", three_mf)] {
            let off = (v - measured.volume).abs() / measured.volume;
            assert!(
                off < 0.005,
                "{prompt}: {format} holds {v:.1} mm³, the model {:.1} mm³",
                measured.volume
            );
        }
        // The picture: a 512 × 512 RGBA PNG with the part drawn (a blank one
        // compresses to well under a kilobyte; pixels are counted in the
        // sandbox's tests).
        let png = bytes_of(ModelFormat::Png).await;
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR",
            "{prompt}: a PNG"
        );
        let side = |o: usize| u32::from_be_bytes(png[o..o + 4].try_into().unwrap());
        assert_eq!(
            (side(16), side(20), png[24], png[25]),
            (512, 512, 8, 6),
            "{prompt}: 512², 8-bit RGBA"
        );
        assert!(png.len() > 4096, "{prompt}: the picture is blank ({} bytes)", png.len());
        // The STEP: ASCII, millimetres, one product named after the project.
        let step = String::from_utf8(bytes_of(ModelFormat::Step).await).expect("an ASCII STEP");
        assert!(step.is_ascii() && step.contains("SI_UNIT(.MILLI.,.METRE.)"), "{prompt}");
        let name = domain::files::ModelName::derive(&project.project_name, &project.slug);
        assert!(
            step.contains(&format!("PRODUCT('{name}','{name}',")),
            "{prompt}: the product is named {name}"
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
        assert_eq!(project_now.latest_s3_output.len(), ModelFormat::ALL.len());
        let files = p.db.files();
        for (t, n) in [
            (FileType::Input, 1),
            (FileType::Output, ModelFormat::ALL.len() as u64),
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
        assert_eq!(messages.items[0].metadata.version, Some(1));
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
    // The project's status follows the job's (it is written just after).
    let mut status = ProjectStatus::Draft;
    for _ in 0..50 {
        status = p.db.projects().get(&project.project_id).await.unwrap().unwrap().status;
        if status == ProjectStatus::Error {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, ProjectStatus::Error);
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

const UNSUPPORTED: &str = r#"{"unsupported": "the spec has no knurling"}"#;

/// A FreeCAD script building `shape`, in a fenced block.
fn script(shape: &str) -> String {
    format!(
        "```python\nimport FreeCAD as App\nimport Part\ndoc = App.ActiveDocument or App.newDocument('Model')\nshape = {shape}\ndoc.addObject('Part::Feature', 'Part').Shape = shape\ndoc.recompute()\n```"
    )
}

/// A model that cannot write specs and whose first script fails in
/// FreeCAD; its later scripts are good.
async fn flaky_model() -> (String, Requests) {
    let scripts = AtomicU32::new(0);
    chat_model(move |request| {
        if asks_for_spec(request) {
            return Ok(UNSUPPORTED.into());
        }
        Ok(if scripts.fetch_add(1, Ordering::SeqCst) == 0 {
            script("Part.makeBox(10, 10, -5)")
        } else {
            format!("Fixed:\n{}", script("Part.makeBox(10, 10, 5)"))
        })
    })
    .await
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

    let requests = script_requests(&requests_handle);
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
    assert_eq!(messages.items[0].metadata.source_model.as_deref(), Some("local-coder"));

    // A follow-up iterates on the last version: the model sees the
    // conversation and the current script.
    let next = p
        .finished(p.generate(&project, "make it taller").await, 2 * MINUTE)
        .await;
    assert_eq!(next.stage, JobStage::Completed, "{:?}", next.error);
    assert_eq!(next.version, Some(Version::new(3).unwrap()));
    let requests = script_requests(&requests_handle);
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
    assert_eq!(
        requests_handle.lock().unwrap().len(),
        4,
        "a change to a script-built version goes straight to a script"
    );
    p.clean(&[&project.slug]).await;
}

/// The settings that point the pipeline at a fake model.
fn llm(base_url: &str) -> [(&'static str, &str); 4] {
    [
        ("AI_PROVIDER", "openai"),
        ("AI_BASE_URL", base_url),
        ("AI_MODEL", "local-coder"),
        ("MAX_REPAIRS", "2"),
    ]
}

#[tokio::test]
async fn a_model_that_answers_with_a_spec_gets_the_compiled_part_verified_and_the_spec_kept() {
    // The server refuses a JSON Schema response format, as some local
    // servers do: the spec is then asked for in a fenced block.
    let spec = |height: f64| {
        format!(
            "Here is the spec:\n```json\n{{\"spec_version\": 1, \"part\": \"box\", \"base\": {{\"kind\": \"box\", \"length\": 30, \"width\": 20, \"height\": {height}}}}}\n```"
        )
    };
    let (base_url, requests) = chat_model(move |request| {
        if !asks_for_spec(request) {
            return Err((500, "no scripts here".into()));
        }
        if request.get("response_format").is_some() {
            return Err((400, "response_format is not supported".into()));
        }
        let messages = request["messages"].as_array().unwrap();
        let ask = messages.last().unwrap()["content"].as_str().unwrap_or_default();
        Ok(if ask.contains("does not match the prompt") {
            spec(10.0)
        } else if ask.contains("not accepted") {
            spec(15.0)
        } else if ask.contains("The current part spec is") {
            // The edit, first with a sign error the compiler refuses.
            spec(-15.0)
        } else {
            // A misread height, caught against what the prompt states.
            spec(12.0)
        })
    })
    .await;
    let mut p = Pipeline::new().await;
    p.start(&PIPELINE, &llm(&base_url));
    let project = p.project("llm spec").await;
    let job = p
        .finished(p.generate(&project, "a block 30 by 20 by 10 mm").await, 2 * MINUTE)
        .await;
    assert_eq!(job.stage, JobStage::Completed, "{:?}", job.error);
    let v1 = Version::new(1).unwrap();
    assert_eq!(job.version, Some(v1));
    assert_eq!(job.repair_attempts, 0);
    let verification = job.verification.expect("verified");
    assert!(verification.passed, "{verification:?}");
    let volume = verification
        .checks
        .iter()
        .find(|c| c.name == "volume")
        .expect("a volume check");
    assert!(volume.expected.starts_with("6 000 mm³"), "{volume:?}");
    assert!(
        verification.checks.iter().any(|c| c.name == "bbox_x"),
        "a spec's box is checked axis by axis: {verification:?}"
    );

    let stored = p
        .env
        .store()
        .get(&S3Key::spec(&project.slug, v1).to_string())
        .await
        .unwrap()
        .expect("the spec is stored beside the script");
    let spec: serde_json::Value = serde_json::from_slice(&stored.bytes).unwrap();
    assert_eq!(spec["base"]["length"], 30.0);

    let first = requests.lock().unwrap().clone();
    assert_eq!(first.len(), 3, "{first:?}");
    let mismatch = first[2]["messages"].to_string();
    assert!(
        mismatch.contains("does not match the prompt") && mismatch.contains("30 × 20 × 12 mm"),
        "{mismatch}"
    );
    assert_eq!(first[0]["response_format"]["type"], "json_schema");
    assert!(first[0]["response_format"]["json_schema"]["schema"]["$defs"].is_object());
    assert!(first[1].get("response_format").is_none());
    assert!(first[1]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("JSON Schema"));
    let messages =
        p.db.messages()
            .list(&project.project_id, PageRequest::all())
            .await
            .unwrap();
    let message = &messages.items[0];
    assert_eq!(message.metadata.source_model.as_deref(), Some("local-coder"));
    assert_eq!(message.metadata.provider.as_deref(), Some("openai"));
    assert!(
        message.content.contains("part spec written by local-coder"),
        "{}",
        message.content
    );

    // A follow-up sends the current spec; a refused edit goes back once
    // with the compiler's reason.
    let next = p
        .finished(p.generate(&project, "make it 15 mm tall").await, 2 * MINUTE)
        .await;
    assert_eq!(next.stage, JobStage::Completed, "{:?}", next.error);
    let v2 = Version::new(2).unwrap();
    assert_eq!(next.version, Some(v2));
    assert!((next.metrics.unwrap().volume - 9000.0).abs() < 1e-6);
    let all = requests.lock().unwrap().clone();
    assert_eq!(all.len(), 5, "the edit and its correction: {all:?}");
    let edit = all[3]["messages"].to_string();
    assert!(
        edit.contains("The current part spec is") && edit.contains("make it 15 mm tall"),
        "{edit}"
    );
    let correction = all[4]["messages"].to_string();
    assert!(
        correction.contains("not accepted") && correction.contains("height"),
        "{correction}"
    );
    let stored = p
        .env
        .store()
        .get(&S3Key::spec(&project.slug, v2).to_string())
        .await
        .unwrap()
        .expect("the edited spec is stored");
    let spec: serde_json::Value = serde_json::from_slice(&stored.bytes).unwrap();
    assert_eq!(spec["base"]["height"], 15.0);
    assert_eq!(
        spec["history"][0]["base"]["height"], 10.0,
        "the edit keeps the spec it changed, for undo"
    );
    p.clean(&[&project.slug]).await;
}

#[tokio::test]
async fn a_part_the_spec_cannot_express_is_written_as_a_script() {
    let (base_url, requests) = chat_model(|request| {
        Ok(if asks_for_spec(request) {
            UNSUPPORTED.into()
        } else {
            script("Part.makeBox(30, 20, 10)")
        })
    })
    .await;
    let mut p = Pipeline::new().await;
    p.start(&PIPELINE, &llm(&base_url));
    let project = p.project("llm script").await;
    let job = p
        .finished(
            p.generate(&project, "a 30 x 20 x 10 mm block with knurled sides").await,
            2 * MINUTE,
        )
        .await;
    assert_eq!(job.stage, JobStage::Completed, "{:?}", job.error);
    assert_eq!(job.repair_attempts, 0);
    assert!(job.verification.expect("verified").passed);
    assert_eq!(requests.lock().unwrap().len(), 2, "one spec question, one script");
    assert_eq!(script_requests(&requests).len(), 1);
    let v1 = Version::new(1).unwrap();
    assert!(
        p.env
            .store()
            .head(&S3Key::spec(&project.slug, v1).to_string())
            .await
            .unwrap()
            .is_none(),
        "a script has no spec"
    );
    let messages =
        p.db.messages()
            .list(&project.project_id, PageRequest::all())
            .await
            .unwrap();
    let reply = &messages.items[0].content;
    assert!(
        reply.contains("no knurling"),
        "the reply says why there is no spec: {reply}"
    );
    assert!(
        reply.contains("Checked against the prompt: one solid"),
        "knurling is not read, so nothing but one solid is required: {reply}"
    );
    p.clean(&[&project.slug]).await;
}

#[tokio::test]
async fn a_script_of_the_wrong_size_goes_back_with_the_failed_checks_and_may_turn_the_part() {
    let scripts = AtomicU32::new(0);
    let (base_url, requests) = chat_model(move |request| {
        if asks_for_spec(request) {
            return Ok(UNSUPPORTED.into());
        }
        Ok(if scripts.fetch_add(1, Ordering::SeqCst) == 0 {
            // 12 mm thick instead of 10.
            script("Part.makeBox(40, 20, 12).cut(Part.makeCylinder(3, 12, App.Vector(20, 10, 0)))")
        } else {
            // Right, but lying along y.
            script("Part.makeBox(20, 40, 10).cut(Part.makeCylinder(3, 10, App.Vector(10, 20, 0)))")
        })
    })
    .await;
    let mut p = Pipeline::new().await;
    p.start(&PIPELINE, &llm(&base_url));
    let project = p.project("llm wrong size").await;
    let prompt = "a 40 x 20 x 10 mm plate with a 6 mm through hole";
    let job = p.finished(p.generate(&project, prompt).await, 3 * MINUTE).await;
    assert_eq!(job.stage, JobStage::Completed, "{:?}", job.error);
    assert_eq!(job.repair_attempts, 1);
    assert_eq!(job.version, Some(Version::new(2).unwrap()));
    let expected = job.expected.expect("requirements recorded");
    assert!(expected.orientation_free);
    assert_eq!(expected.bbox_mm, Some([40.0, 20.0, 10.0]));
    assert_eq!(expected.through_holes, Some(1));
    let verification = job.verification.expect("verified");
    assert!(verification.passed, "{verification:?}");
    for name in [
        "volume",
        "bbox_largest",
        "bbox_middle",
        "bbox_smallest",
        "through_holes",
    ] {
        assert!(
            verification.checks.iter().any(|c| c.name == name && c.passed),
            "{name}: {verification:?}"
        );
    }

    let scripts = script_requests(&requests);
    assert_eq!(scripts.len(), 2, "the script and its repair");
    let repair = scripts[1]["messages"].to_string();
    assert!(repair.contains("verification failed"), "{repair}");
    assert!(repair.contains("bbox_smallest"), "the failed check is named: {repair}");
    assert!(
        !requests.lock().unwrap().iter().skip(1).any(asks_for_spec),
        "a repair fixes the script"
    );
    let messages =
        p.db.messages()
            .list(&project.project_id, PageRequest::all())
            .await
            .unwrap();
    assert!(
        messages.items.iter().all(|m| m.content.contains(
            "Checked against the prompt: volume 7717 mm³ ± 0.5 %, 40 × 20 × 10 mm bounding box (any orientation), one through hole"
        )),
        "{:?}",
        messages.items.iter().map(|m| &m.content).collect::<Vec<_>>()
    );
    p.clean(&[&project.slug]).await;
}

#[tokio::test]
async fn a_cold_worker_killed_mid_job_leaves_the_job_to_the_next_worker() {
    worker_killed_mid_job("kill nine cold", "cold", &[]).await;
}

#[tokio::test]
async fn a_warm_worker_killed_mid_job_leaves_the_job_to_the_next_worker() {
    worker_killed_mid_job("kill nine warm", "warm", &[]).await;
}

/// On SQS the killed worker's message comes back after its visibility
/// timeout (3 s here), and the job completes once.
#[tokio::test]
async fn a_worker_killed_mid_job_on_sqs_leaves_the_job_to_the_next_worker_after_the_visibility_timeout() {
    let on_sqs = [
        ON_SQS,
        &[("SQS_VISIBILITY_TIMEOUT_SECS", "3"), ("SQS_WAIT_TIME_SECS", "2")],
    ]
    .concat();
    worker_killed_mid_job("kill nine sqs", "warm", &on_sqs).await;
}

/// kill -9 of the worker running a job, with the given FreeCAD executor:
/// the next worker builds the job.
async fn worker_killed_mid_job(name: &str, executor: &str, overrides: &[(&str, &str)]) {
    let executor = [("FREECAD_EXECUTOR", executor)];
    let mut p = Pipeline::with(overrides).await;
    p.start(&["script-store", "output-watcher"], &[]);
    p.start(&["freecad-worker"], &executor);
    let project = p.project(name).await;
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
    p.start(&["freecad-worker"], &executor);
    let job = p.finished(id, 2 * MINUTE).await;
    assert_eq!(job.stage, JobStage::Completed, "{:?}", job.error);
    assert!((job.metrics.unwrap().volume - 24.0).abs() < 1e-6);
    // Once: one completion, one version, claimed once.
    let completions = job.history.iter().filter(|h| h.stage == JobStage::Completed).count();
    assert_eq!(completions, 1, "{:?}", job.history);
    assert_eq!(job.version, Version::new(1).ok());
    assert_eq!(job.versions.len(), 1, "{:?}", job.versions);
    let stored = p.db.projects().get(&project.project_id).await.unwrap().unwrap();
    assert_eq!((stored.version_counter, stored.current_version), (1, 1));
    p.clean(&[&project.slug]).await;
}

const SERVICES: [&str; 6] = [
    "gateway",
    "ai-generator",
    "script-store",
    "freecad-worker",
    "output-watcher",
    "monitoring",
];

/// A service with nothing but well-formed database, object store and token
/// settings (nothing there needs to answer).
fn with_database_and_store(service: &str) -> Command {
    let mut command = Command::new(binary(service));
    command
        .env_clear()
        .env("MONGODB_URI", "mongodb://127.0.0.1:27017")
        .env("AWS_ACCESS_KEY_ID", "id")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_BUCKET_NAME", "cadscribe")
        .env("JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef");
    command
}

#[test]
fn services_refuse_to_start_naming_what_is_missing_or_malformed() {
    for service in SERVICES {
        let out = Command::new(binary(service)).env_clear().output().unwrap();
        assert!(!out.status.success(), "{service} started without configuration");
        let err = String::from_utf8_lossy(&out.stderr);
        for var in ["MONGODB_URI", "AWS_ACCESS_KEY_ID", "AWS_BUCKET_NAME", "AMQP_URL"] {
            assert!(
                err.contains(&format!("{var} is not set")),
                "{service} does not name {var}: {err}"
            );
        }
        let out = with_database_and_store(service)
            .env("AMQP_URL", "http://not-amqp")
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

/// On SQS too: every service names the SQS settings that are malformed
/// (and RabbitMQ's are not asked for), and a service that cannot reach SQS
/// at start says so, naming where it looked.
#[test]
fn on_sqs_services_refuse_to_start_naming_bad_or_unreachable_sqs_settings() {
    for service in SERVICES {
        let out = with_database_and_store(service)
            .env("BUS_BACKEND", "sqs")
            .env("AWS_ENDPOINT_URL_SQS", "127.0.0.1:9324")
            .env("SQS_QUEUE_PREFIX", "bad_prefix")
            .env("SQS_VISIBILITY_TIMEOUT_SECS", "0")
            .env("S3_EVENTS_QUEUE", "events.fifo")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{service} started");
        let err = String::from_utf8_lossy(&out.stderr);
        for var in [
            "AWS_ENDPOINT_URL_SQS",
            "SQS_QUEUE_PREFIX",
            "SQS_VISIBILITY_TIMEOUT_SECS",
        ] {
            assert!(err.contains(&format!("{var} is malformed")), "{service}: {err}");
        }
        assert_eq!(
            err.contains("S3_EVENTS_QUEUE is malformed"),
            service == "output-watcher",
            "{service}: {err}"
        );
        assert!(!err.contains("AMQP_URL"), "{service} asks for RabbitMQ on SQS: {err}");
    }

    // Well formed, but nothing answers there. Monitoring starts anyway (it
    // reports what is down); every other service refuses.
    let env =
        platform::testkit::TestEnv::with(&[("BUS_BACKEND", "sqs"), ("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9")]);
    for service in SERVICES.iter().filter(|s| **s != "monitoring") {
        let mut child = Command::new(binary(service))
            .env_clear()
            .envs(env.service_env())
            .env("PORT", "0")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > MINUTE {
                child.kill().unwrap();
                panic!("{service} kept running without SQS");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success(), "{service} started without SQS");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("SQS (AWS_ENDPOINT_URL_SQS, AWS_REGION, credentials) does not answer"),
            "{service}: {err}"
        );
    }
    tokio::runtime::Runtime::new().unwrap().block_on(env.drop_db());
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

#[tokio::test]
async fn a_prompt_missing_a_dimension_is_asked_about_and_the_answer_builds_the_part() {
    let mut p = Pipeline::new().await;
    p.start(&PIPELINE, &[]);
    let project = p.project("ask me").await;
    let job = p
        .finished(p.generate(&project, "a flange with six bolt holes").await, 2 * MINUTE)
        .await;
    assert_eq!(job.stage, JobStage::NeedsInput, "{:?}", job.error);
    let question = job.question.clone().expect("the job asks");
    assert!(
        question.text.starts_with("What ") && question.text.contains("diameter") && question.text.ends_with('?'),
        "{question:?}"
    );
    assert_eq!(job.version, None, "nothing was built");
    let messages =
        p.db.messages()
            .list(&project.project_id, PageRequest::all())
            .await
            .unwrap();
    assert!(
        messages.items.iter().any(|m| m.content == question.text),
        "the question is the assistant's reply in the chat"
    );

    // The answer continues the same request.
    let answered = p.finished(p.generate(&project, "80 mm").await, 2 * MINUTE).await;
    assert_eq!(answered.stage, JobStage::Completed, "{:?}", answered.error);
    assert!(answered.verification.as_ref().is_some_and(|v| v.passed));
    let size = answered.expected.and_then(|e| e.bbox_mm).expect("a size was expected");
    assert!(
        size.iter().filter(|x| (**x - 80.0).abs() < 1e-6).count() >= 2,
        "an 80 mm flange: {size:?}"
    );
    assert_eq!(answered.version, Some(Version::new(1).unwrap()));
    p.clean(&[&project.slug]).await;
}

/// Fair scheduling: one user's backlog does not hold back another user's
/// job by more than about one job per FreeCAD slot.
#[tokio::test]
async fn one_users_backlog_does_not_hold_back_another_users_job() {
    let mut p = Pipeline::new().await;
    p.start(
        &["script-store", "freecad-worker", "output-watcher"],
        &[("FREECAD_CONCURRENCY", "1")],
    );
    let busy = p.project("busy user").await;
    let other = p.project("other user").await;
    assert_ne!(busy.created_by, other.created_by);
    // Each of the busy user's jobs keeps FreeCAD busy for a while, so a
    // queue forms there whatever the machine's speed.
    let slow = "import Part\nn = 0\nfor i in range(6000000):\n    n += i\nresult = Part.makeBox(10, 10, 10)\n";
    let mut backlog = Vec::new();
    for _ in 0..8 {
        backlog.push(p.upload(&busy, slow).await);
    }
    let other_job = p.upload(&other, "import Part\nresult = Part.makeBox(5, 5, 5)\n").await;
    let other_job = p.finished(other_job, 3 * MINUTE).await;
    assert_eq!(other_job.stage, JobStage::Completed, "{:?}", other_job.error);
    let started = |job: &domain::documents::Job| {
        job.history
            .iter()
            .find(|h| h.stage == JobStage::Processing)
            .map(|h| h.at)
            .expect("the job ran in FreeCAD")
    };
    // The rule is FreeCAD's (the stages before it are first come, first
    // served): from the moment the other user's script was stored (the
    // script store records its time just before it hands a job on) until it
    // ran, at most about one of the busy user's jobs may start per slot.
    let uploading = other_job.history.iter().find(|h| h.stage == JobStage::Uploading);
    let stored = uploading.expect("the script was stored").at
        + chrono::Duration::milliseconds(other_job.timings.store_ms.expect("the store's time") as i64);
    let ran = started(&other_job);
    let (mut ahead, mut behind) = (0, 0);
    for id in backlog {
        let job = p.finished(id, 3 * MINUTE).await;
        assert_eq!(job.stage, JobStage::Completed, "{:?}", job.error);
        let at = started(&job);
        if at > stored && at < ran {
            ahead += 1;
        }
        if at > ran {
            behind += 1;
        }
    }
    assert!(
        ahead <= 2,
        "{ahead} of the busy user's jobs started in FreeCAD while the other user's waited there"
    );
    assert!(
        behind >= 1,
        "the other user's job went ahead of none of the busy user's: no queue formed at FreeCAD"
    );
    p.clean(&[&busy.slug, &other.slug]).await;
}
