//! The commands for people: account, generation followed live, status,
//! projects and downloads.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::Method;
use serde_json::json;

use crate::api::{self, views, Api, CliError};
use crate::live::Live;
use crate::sse;

/// Every format a version comes in, as the domain lists them.
pub const FORMATS: [&str; domain::ModelFormat::ALL.len()] = {
    let mut names = [""; domain::ModelFormat::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = domain::ModelFormat::ALL[i].extension();
        i += 1;
    }
    names
};

fn password(given: Option<String>) -> Result<String, CliError> {
    match given {
        Some(p) => Ok(p),
        None => rpassword::prompt_password("Password: ").map_err(|e| {
            CliError::Other(format!(
                "cannot read the password: {e} (use --password or CADSCRIBE_PASSWORD)"
            ))
        }),
    }
}

/// `register` and `login`: both store the token they get.
pub async fn account(api: &Api, register: bool, email: &str, given: Option<String>) -> Result<(), CliError> {
    let password = password(given)?;
    let path = if register {
        "/api/auth/register"
    } else {
        "/api/auth/login"
    };
    let token: views::Token = api.post(path, &json!({ "email": email, "password": password })).await?;
    let file = api::save_token(&token.access_token)?;
    println!(
        "{} {} ({}); token stored in {}",
        if register { "registered" } else { "logged in as" },
        token.user.email,
        token.user.role,
        file.display()
    );
    Ok(())
}

fn require_token(api: &Api) -> Result<(), CliError> {
    if api.has_token() {
        Ok(())
    } else {
        Err(CliError::NotLoggedIn)
    }
}

/// The caller's project named by `key`: its id, slug or name.
async fn find_project(api: &Api, key: &str) -> Result<Option<views::Project>, CliError> {
    let page: views::Page<views::Project> = api.get("/api/projects?limit=200").await?;
    let key_l = key.to_lowercase();
    Ok(page
        .items
        .into_iter()
        .find(|p| p.project_id == key || p.slug == key || p.project_name.to_lowercase() == key_l))
}

/// `generate`: starts the job, shows each stage as it happens, then writes
/// every model file into `out`.
pub async fn generate(
    api: &Api,
    prompt: &str,
    project: Option<&str>,
    out: &Path,
    timeout: Duration,
) -> Result<(), CliError> {
    require_token(api)?;
    let mut body = json!({ "prompt": prompt });
    if let Some(key) = project {
        match find_project(api, key).await? {
            Some(p) => body["project_id"] = json!(p.project_id),
            None => body["project_name"] = json!(key),
        }
    }
    let accepted: views::Accepted = api.post("/api/ai/generate-code", &body).await?;
    eprintln!("job {} in project {}", accepted.job_id, accepted.slug);
    let live = Live::start();
    let last = follow(api, &accepted, &live, timeout).await;
    let last = match last {
        Ok(e) => e,
        Err(e) => {
            live.finish(false, "stopped following");
            return Err(e);
        }
    };
    if last.stage != "completed" {
        live.finish(false, &last.label);
        let why = last.detail.unwrap_or_else(|| "no reason given".into());
        return Err(CliError::Other(format!(
            "the job ended {}: {}",
            last.stage,
            one_line(&why)
        )));
    }
    live.finish(true, &last.label);
    let written = download_all(api, &accepted.slug, last.version, &FORMATS, out).await?;
    for p in written {
        println!("{}", p.display());
    }
    Ok(())
}

/// Follows the project's event stream until our job is over; reconnects
/// when the stream drops and asks the job itself in between.
async fn follow(
    api: &Api,
    job: &views::Accepted,
    live: &Live,
    timeout: Duration,
) -> Result<views::StatusEvent, CliError> {
    let deadline = Instant::now() + timeout;
    let events_path = format!("/api/projects/{}/events", job.project_id);
    live.stage("Queued…");
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(CliError::Other(format!(
                "the job is still running after {}s; follow it with `cadscribe status {}`",
                timeout.as_secs(),
                job.slug
            )));
        }
        let stream = api
            .send(
                api.request(Method::GET, &events_path)
                    .header("accept", "text/event-stream"),
            )
            .await;
        match stream {
            Ok(res) => {
                let events = sse::events(res);
                futures::pin_mut!(events);
                loop {
                    let next =
                        tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), events.next()).await;
                    let Ok(Some(Ok(event))) = next else { break };
                    if event.event != "status" {
                        continue;
                    }
                    let Ok(status) = serde_json::from_str::<views::StatusEvent>(&event.data) else {
                        continue;
                    };
                    if status.job_id != job.job_id {
                        continue;
                    }
                    if status.terminal {
                        return Ok(status);
                    }
                    live.stage(&status.label);
                }
            }
            // The gateway went away mid-job: say so rather than wait.
            Err(e @ CliError::Unreachable { .. }) => return Err(e),
            Err(
                e @ (CliError::Api {
                    status: 401 | 403 | 404,
                    ..
                }
                | CliError::NotLoggedIn),
            ) => return Err(e),
            Err(_) => {}
        }
        // The stream ended: the job itself says whether it is over.
        let j: views::Job = api.get(&format!("/api/jobs/{}", job.job_id)).await?;
        if j.terminal {
            return Ok(views::StatusEvent {
                job_id: j.job_id,
                stage: j.stage,
                label: j.label,
                version: j.version,
                detail: j.error,
                terminal: true,
            });
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// At most `max` characters, with `…` when cut.
fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Downloads `formats` of a project's version (the latest with outputs when
/// `None`) into `out` as `{slug}_v{n}.{ext}`.
pub async fn download_all(
    api: &Api,
    project: &str,
    version: Option<u32>,
    formats: &[&str],
    out: &Path,
) -> Result<Vec<PathBuf>, CliError> {
    std::fs::create_dir_all(out).map_err(|e| CliError::Other(format!("cannot create {}: {e}", out.display())))?;
    let mut written = Vec::new();
    for format in formats {
        let mut path = format!("/api/projects/{project}/download/{format}");
        if let Some(v) = version {
            path.push_str(&format!("?version={v}"));
        }
        let link: views::Download = api.get(&path).await?;
        // A pre-signed URL carries its own authorisation: no token.
        let res = api
            .http()
            .get(&link.url)
            .send()
            .await
            .map_err(|e| CliError::Other(format!("downloading {format}: {e}")))?;
        if !res.status().is_success() {
            return Err(CliError::Other(format!(
                "downloading {format}: the object store answered {}",
                res.status()
            )));
        }
        let bytes = res
            .bytes()
            .await
            .map_err(|e| CliError::Other(format!("downloading {format}: {e}")))?;
        let file = out.join(format!("{project}_v{}.{format}", link.version));
        std::fs::File::create(&file)
            .and_then(|mut f| f.write_all(&bytes))
            .map_err(|e| CliError::Other(format!("cannot write {}: {e}", file.display())))?;
        written.push(file);
    }
    Ok(written)
}

pub async fn download(
    api: &Api,
    project: &str,
    version: Option<u32>,
    formats: &[String],
    out: &Path,
) -> Result<(), CliError> {
    require_token(api)?;
    let formats: Vec<&str> = if formats.is_empty() {
        FORMATS.to_vec()
    } else {
        formats.iter().map(String::as_str).collect()
    };
    for p in download_all(api, project, version, &formats, out).await? {
        println!("{}", p.display());
    }
    Ok(())
}

/// `download --zip`: every file of a version in one ZIP, as the gateway
/// builds it, saved under the name it gives (`{slug}_v{n}.zip`).
pub async fn download_archive(api: &Api, project: &str, version: Option<u32>, out: &Path) -> Result<(), CliError> {
    require_token(api)?;
    let mut path = format!("/api/projects/{project}/archive");
    if let Some(v) = version {
        path.push_str(&format!("?version={v}"));
    }
    let res = api.send(api.request(Method::GET, &path)).await?;
    let name = res
        .headers()
        .get(reqwest::header::CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("filename=\"").nth(1))
        .and_then(|v| v.split('"').next())
        // Only a plain name: never a path the answer could choose.
        .filter(|n| {
            !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) && !n.starts_with('.')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{project}.zip"));
    let bytes = res
        .bytes()
        .await
        .map_err(|e| CliError::Other(format!("downloading the archive: {e}")))?;
    std::fs::create_dir_all(out).map_err(|e| CliError::Other(format!("cannot create {}: {e}", out.display())))?;
    let file = out.join(name);
    std::fs::write(&file, &bytes).map_err(|e| CliError::Other(format!("cannot write {}: {e}", file.display())))?;
    println!("{}", file.display());
    Ok(())
}

/// `status [PROJECT]`: one project's processing status, or the latest jobs.
pub async fn status(api: &Api, project: Option<&str>) -> Result<(), CliError> {
    require_token(api)?;
    match project {
        Some(p) => {
            let s: views::Status = api.get(&format!("/api/projects/{p}/status")).await?;
            print!("{}: {}, version {}", s.slug, s.status, s.current_version);
            match s.latest_job {
                Some(j) => {
                    print!("; latest job {}: {}", j.job_id, j.label);
                    if let Some(e) = j.error {
                        print!(" ({})", one_line(&e));
                    }
                    println!();
                }
                None => println!("; no jobs"),
            }
        }
        None => {
            let page: views::Page<views::Job> = api.get("/api/jobs?limit=10").await?;
            if page.items.is_empty() {
                println!("no jobs yet");
            }
            for j in page.items {
                let version = j.version.map(|v| format!("v{v}")).unwrap_or_else(|| "-".into());
                let error = j
                    .error
                    .map(|e| format!("  {}", short(&one_line(&e), 80)))
                    .unwrap_or_default();
                println!(
                    "{}  {:<28} {:<5} {:<20} {}{error}",
                    &j.created_at[..19.min(j.created_at.len())],
                    j.slug,
                    version,
                    j.label,
                    j.job_id
                );
            }
        }
    }
    Ok(())
}

pub async fn projects(api: &Api) -> Result<(), CliError> {
    require_token(api)?;
    let page: views::Page<views::Project> = api.get("/api/projects?limit=200").await?;
    if page.items.is_empty() {
        println!("no projects yet: try `cadscribe generate \"a 40 x 20 x 10 mm plate\"`");
        return Ok(());
    }
    println!(
        "{:<32} {:<11} {:>7}  {:<20} name",
        "slug", "status", "version", "updated"
    );
    for p in &page.items {
        println!(
            "{:<32} {:<11} {:>7}  {:<20} {}",
            p.slug,
            p.processing_status,
            p.current_version,
            &p.updated_at[..19.min(p.updated_at.len())],
            p.project_name
        );
    }
    if page.total > page.items.len() as u64 {
        println!("… {} projects in all", page.total);
    }
    Ok(())
}

/// `cadscribe spec`: the offline generator on its own. Exit status 0 with
/// `{"spec", "reply", "part", "parameters", "expected"}` (plus `script`), or 2
/// with `{"refused": reason}`.
pub fn spec(prompt: &str, base: Option<&std::path::Path>, with_script: bool) -> anyhow::Result<std::process::ExitCode> {
    use anyhow::Context;
    let base: Option<domain::spec::PartSpec> = match base {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let value: serde_json::Value =
                serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
            // An earlier run's whole answer is accepted too: its `spec` is the base.
            let spec = value.get("spec").cloned().unwrap_or(value);
            Some(serde_json::from_value(spec).with_context(|| format!("{} is not a part spec", path.display()))?)
        }
        None => None,
    };
    let generated = match &base {
        Some(base) => cadgen::follow_up(base, prompt),
        None => cadgen::generate(prompt),
    };
    match generated {
        Ok(g) => {
            let mut out = serde_json::json!({
                "part": g.part,
                "reply": g.reply,
                "spec": g.spec,
                "parameters": g.parameters,
                "expected": {
                    "volume_mm3": g.expected.volume_mm3,
                    "volume_tolerance": g.expected.volume_tolerance,
                    "bbox_mm": g.expected.bbox_mm,
                    "solids": g.expected.solids,
                    "through_holes": g.expected.through_holes,
                },
            });
            if with_script {
                out["script"] = serde_json::Value::String(g.script);
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(std::process::ExitCode::SUCCESS)
        }
        Err(refused) => {
            println!("{}", serde_json::json!({ "refused": refused.reason }));
            Ok(std::process::ExitCode::from(2))
        }
    }
}
