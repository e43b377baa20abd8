//! `cadscribe` against the running system: the gateway and the pipeline as
//! their own processes on an isolated slice of the local stack. A sentence
//! becomes its model files on disk; API errors and a stopped gateway
//! become one readable line and a non-zero exit.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use e2e::{binary, stl, Pipeline, PIPELINE};

struct Gateway {
    url: String,
    child: Child,
    log: PathBuf,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start_gateway(vars: &HashMap<String, String>, tag: &str) -> Gateway {
    let port = free_port();
    let dir = platform::testkit::repo_root().join(".local/logs/tests");
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join(format!("{tag}-cli-gateway.log"));
    let file = std::fs::File::create(&log).unwrap();
    let child = Command::new(binary("gateway"))
        .env_clear()
        .envs(vars)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("the gateway starts");
    let gw = Gateway {
        url: format!("http://127.0.0.1:{port}"),
        child,
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::get(format!("{}/healthz", gw.url)).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "gateway never answered:\n{}",
            std::fs::read_to_string(&gw.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    gw
}

/// Runs `cadscribe` with its own HOME (so its token file is its own).
fn cadscribe(url: &str, home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cadscribe"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("CADSCRIBE_URL", url)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cadscribe runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cadscribe-cli-{tag}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_stopped_gateway_is_one_clear_line_and_a_failure() {
    let home = scratch("stopped");
    let url = format!("http://127.0.0.1:{}", free_port());
    for args in [
        &["projects"][..],
        &["generate", "box 2 by 3 by 4 cm"],
        &["login", "--email", "a@example.com", "--password", "whatever1"],
        &["status"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_cadscribe"))
            .env_clear()
            .env("HOME", &home)
            .env("CADSCRIBE_URL", &url)
            .env("CADSCRIBE_TOKEN", "some-token")
            .args(args)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("cadscribe: cannot reach the CADScribe gateway at http://127.0.0.1:"),
            "{err}"
        );
        assert!(stdout(&out).is_empty());
    }
    // Without a token, nothing is even tried.
    let out = cadscribe(&url, &home, &["projects"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not logged in: run `cadscribe login`"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(home).unwrap();
}

#[tokio::test]
async fn generate_follows_the_job_and_writes_every_model_file() {
    let mut p = Pipeline::new().await;
    p.start(&PIPELINE, &[]);
    let mut vars = p.env.service_env();
    vars.insert("JWT_SECRET_KEY".into(), "cli-test-secret-0123456789abcdef-0123".into());
    let gw = start_gateway(&vars, &p.env.id).await;
    let home = scratch("generate");
    let out_dir = home.join("models");

    let email = format!("cli-{}@example.com", p.env.id);
    let out = cadscribe(
        &gw.url,
        &home,
        &["register", "--email", &email, "--password", "correct horse 1"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(home.join(".config/cadscribe/token").exists());
    let again = cadscribe(
        &gw.url,
        &home,
        &["register", "--email", &email, "--password", "correct horse 1"],
    );
    assert!(!again.status.success());
    let err = stderr(&again);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("already exists (conflict, HTTP 409)"), "{err}");
    let out = cadscribe(
        &gw.url,
        &home,
        &["login", "--email", &email, "--password", "wrong password"],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("wrong email or password"), "{}", stderr(&out));
    let out = cadscribe(
        &gw.url,
        &home,
        &["login", "--email", &email, "--password", "correct horse 1"],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let out = cadscribe(
        &gw.url,
        &home,
        &[
            "generate",
            "box 2 by 3 by 4 cm",
            "--project",
            "CLI Box",
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    let (o, e) = (stdout(&out), stderr(&out));
    println!("{e}{o}");
    assert!(
        out.status.success(),
        "stdout:\n{o}\nstderr:\n{e}\ngateway:\n{}",
        std::fs::read_to_string(&gw.log).unwrap_or_default()
    );
    for label in ["FreeCAD processing…", "Model ready"] {
        assert!(e.contains(label), "the live stages are shown: {e}");
    }
    let files: Vec<PathBuf> = o.lines().map(PathBuf::from).collect();
    assert_eq!(files.len(), domain::ModelFormat::ALL.len(), "{o}");
    for format in domain::ModelFormat::ALL {
        let f = out_dir.join(format!("cli-box_v1.{}", format.extension()));
        assert!(files.contains(&f), "{o}");
        assert!(std::fs::metadata(&f).unwrap().len() > 0, "{} is empty", f.display());
    }
    let volume = stl::volume(&std::fs::read(out_dir.join("cli-box_v1.STL")).unwrap()).expect("a readable STL");
    assert!((volume - 24000.0).abs() / 24000.0 < 0.01, "STL volume {volume}");

    // The same project again: a second version in it.
    let out = cadscribe(
        &gw.url,
        &home,
        &[
            "generate",
            "cylinder diameter 20mm height 50mm",
            "--project",
            "cli-box",
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out_dir.join("cli-box_v2.STL").exists());

    let out = cadscribe(&gw.url, &home, &["projects"]);
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("cli-box") && stdout(&out).contains("completed"),
        "{}",
        stdout(&out)
    );
    let out = cadscribe(&gw.url, &home, &["status", "cli-box"]);
    assert!(
        stdout(&out).starts_with("cli-box: completed, version 2; latest job"),
        "{}",
        stdout(&out)
    );
    let out = cadscribe(&gw.url, &home, &["status"]);
    assert_eq!(stdout(&out).lines().count(), 2, "{}", stdout(&out));
    let dl = home.join("dl");
    let out = cadscribe(
        &gw.url,
        &home,
        &[
            "download",
            "cli-box",
            "--version",
            "1",
            "--format",
            "STEP",
            "--out",
            dl.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dl.join("cli-box_v1.STEP").exists());
    // Every file of version 1 in one ZIP, named by the gateway.
    let out = cadscribe(
        &gw.url,
        &home,
        &[
            "download",
            "cli-box",
            "--version",
            "1",
            "--zip",
            "--out",
            dl.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let zip = dl.join("cli-box_v1.zip");
    assert_eq!(stdout(&out).trim(), zip.display().to_string());
    let bytes = std::fs::read(&zip).unwrap();
    assert!(bytes.starts_with(b"PK\x03\x04"), "a ZIP archive");
    for format in domain::ModelFormat::ALL {
        let name = format!("cli-box_v1.{}", format.extension());
        assert!(
            bytes.windows(name.len()).any(|w| w == name.as_bytes()),
            "{name} is in the archive"
        );
    }

    // An API error reaches the person as one line.
    let out = cadscribe(
        &gw.url,
        &home,
        &["download", "no-such-project", "--out", dl.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not found (not_found, HTTP 404)"), "{err}");
    // A prompt the catalogue does not understand fails the job, readably.
    let out = cadscribe(
        &gw.url,
        &home,
        &[
            "generate",
            "a dragon made of cheese",
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("cadscribe: the job ended failed:"), "{err}");

    drop(gw);
    std::fs::remove_dir_all(&home).unwrap();
    p.clean(&[&domain::ProjectSlug::parse("cli-box").unwrap()]).await;
}
