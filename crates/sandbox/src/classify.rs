//! From a finished process to an [`Outcome`].
//!
//! The harness's `result.json` is the primary source: it knows why a script
//! failed. When there is none the process died before it could write one,
//! and the exit status and the end of the log tell what killed it.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use domain::messages::{FailureKind, ModelMetrics};
use domain::ModelFormat;
use domain::{Diagnosis, FailureClass};
use serde::Deserialize;

use crate::executor::{Ending, Execution};
use crate::job::JobDir;
use crate::{Limits, Outcome};

/// Base name of every export, as the rest of the system expects it.
pub const MODEL_BASENAME: &str = "MyHeadlessModel";
const TAIL_LINES: usize = 15;
/// How much of the end of the log is searched for a cause of death.
const SCAN_BYTES: usize = 16 * 1024;
/// `result.json` is a few hundred bytes; anything huge is not the harness's.
const RESULT_MAX: u64 = 1024 * 1024;

/// `result.json` as the harness writes it.
#[derive(Debug, Deserialize)]
struct HarnessResult {
    ok: bool,
    metrics: Option<ModelMetrics>,
    kind: Option<FailureKind>,
    #[serde(default)]
    error: String,
    #[serde(default)]
    traceback_tail: String,
    /// The harness's `FailureClass`, when it knows better than `kind`.
    class: Option<FailureClass>,
    /// The script's line where it failed.
    line: Option<u32>,
}

/// The outcome of a run of `script`, failures diagnosed by class and line.
pub(crate) fn outcome(job: &JobDir, exec: &Execution, limits: &Limits, script: &str) -> Outcome {
    match outcome_of(job, exec, limits) {
        Outcome::Failed {
            kind,
            error,
            traceback_tail,
            diagnosis,
        } => {
            let line = diagnosis.line;
            let diagnosis = diagnosis.at_line(line, script).with_console(console(&exec.log));
            Outcome::Failed {
                kind,
                error,
                traceback_tail,
                diagnosis,
            }
        }
        built => built,
    }
}

fn outcome_of(job: &JobDir, exec: &Execution, limits: &Limits) -> Outcome {
    match exec.ending {
        Ending::Exited => {}
        Ending::WallTime => {
            return failed(
                FailureKind::Timeout,
                format!(
                    "the script ran longer than the wall-clock limit of {}",
                    secs(limits.wall_time)
                ),
                log_tail(&exec.log),
            )
        }
        Ending::OutputLimit => {
            return failed(
                FailureKind::OutputLimit,
                format!(
                    "the script printed more than the output limit of {} MiB and was stopped",
                    limits.output >> 20
                ),
                log_tail(&exec.log),
            )
        }
        // pthread_create fails with EAGAIN for want of address space (the
        // usual case: a thread stack is 8 MiB) or of processes.
        Ending::Stalled => {
            return failed(
                FailureKind::MemoryLimit,
                format!(
                    "FreeCAD could not start a thread and stalled: the model needs more than \
                     the memory limit of {} MiB (or more than {} processes)",
                    limits.address_space >> 20,
                    limits.processes
                ),
                log_tail(&exec.log),
            )
        }
    }
    match read_result(&job.result_file()) {
        Ok(Some(result)) => from_result(job, result, limits),
        Ok(None) => from_exit(exec, limits),
        Err(error) => failed(FailureKind::Crashed, error, log_tail(&exec.log)),
    }
}

pub(crate) fn failed(kind: FailureKind, error: String, traceback_tail: String) -> Outcome {
    let diagnosis = Diagnosis::new(FailureClass::of_kind(kind), &error);
    Outcome::Failed {
        kind,
        error,
        traceback_tail,
        diagnosis,
    }
}

/// FreeCAD's console warnings and errors and the harness's notes, from
/// the run log: the lines a person would look for in the report view.
/// Tracebacks are left out (the diagnosis has the error and its line).
fn console(log: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for raw in log.lines() {
        let line = strip_ansi(raw);
        let line = line.trim();
        let lower = line.to_ascii_lowercase();
        let noted = line.starts_with("cadscribe: note:") || line.starts_with("cadscribe: warning:");
        let says = ["warning", "error", "failed", "invalid", "exception", "sandbox: denied"]
            .iter()
            .any(|w| lower.contains(w));
        let traceback =
            line.starts_with("File \"") || line.starts_with("Traceback") || line.starts_with("cadscribe: failed");
        if (noted || says) && !traceback && !line.is_empty() && !lines.iter().any(|l| l == line) {
            lines.push(line.chars().take(300).collect());
        }
    }
    lines
}

/// Drops terminal colour codes (`ESC[32;1m`) and progress carriage returns.
fn strip_ansi(line: &str) -> String {
    let line = line.rsplit('\r').next().unwrap_or(line);
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `Ok(None)` when there is no result file.
fn read_result(path: &Path) -> Result<Option<HarnessResult>, String> {
    // The script owns the out dir: O_NOFOLLOW refuses a symlink to a file
    // only the worker may read, O_NONBLOCK and the type check a FIFO that
    // would block the worker forever.
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read the harness's result: {e}")),
    };
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err("the harness's result is not a plain file".into());
    }
    let mut text = String::new();
    file.take(RESULT_MAX)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read the harness's result: {e}"))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("the harness's result is malformed: {e}"))
}

fn from_result(job: &JobDir, result: HarnessResult, limits: &Limits) -> Outcome {
    if !result.ok {
        let kind = result.kind.unwrap_or(FailureKind::Crashed);
        // The harness does not know the limits; the reader of the error
        // (a person, or the model repairing the script) should.
        let error = match kind {
            FailureKind::MemoryLimit => {
                format!(
                    "{} (the memory limit is {} MiB)",
                    result.error,
                    limits.address_space >> 20
                )
            }
            FailureKind::FileSizeLimit => {
                format!(
                    "{} (the file size limit is {} MiB)",
                    result.error,
                    limits.file_size >> 20
                )
            }
            _ => result.error,
        };
        let mut outcome = failed(kind, error, result.traceback_tail);
        if let Outcome::Failed { diagnosis, .. } = &mut outcome {
            if let Some(class) = result.class {
                *diagnosis = Diagnosis::new(class, &diagnosis.message);
            }
            diagnosis.line = result.line;
        }
        return outcome;
    }
    let Some(metrics) = result.metrics else {
        return failed(
            FailureKind::Crashed,
            "the harness reported a model without metrics".into(),
            String::new(),
        );
    };
    match outputs(&job.out_dir()) {
        Ok(files) => Outcome::Built { metrics, files },
        Err(error) => failed(FailureKind::Crashed, error, String::new()),
    }
}

/// FreeCAD's exports, each a plain, non-empty, singly linked file: the
/// caller reads them with the worker's rights, so a symlink or hard link
/// planted by the script must never pass.
fn outputs(out_dir: &Path) -> Result<BTreeMap<ModelFormat, PathBuf>, String> {
    ModelFormat::EXPORTED
        .into_iter()
        .map(|format| {
            let name = format!("{MODEL_BASENAME}.{}", format.extension());
            let path = out_dir.join(&name);
            let meta = fs::symlink_metadata(&path).map_err(|e| format!("the export {name} is missing: {e}"))?;
            if !meta.file_type().is_file() || meta.nlink() != 1 {
                return Err(format!("the export {name} is not a plain file"));
            }
            if meta.len() == 0 {
                return Err(format!("the export {name} is empty"));
            }
            Ok((format, path))
        })
        .collect()
}

/// No result file: the process was killed or crashed.
fn from_exit(exec: &Execution, limits: &Limits) -> Outcome {
    let tail = log_tail(&exec.log);
    let end = &exec.log[floor_char_boundary(&exec.log, exec.log.len().saturating_sub(SCAN_BYTES))..];
    let mentions = |needles: &[&str]| needles.iter().any(|n| end.contains(n));
    let memory = [
        "MemoryError",
        "std::bad_alloc",
        "Standard_OutOfMemory",
        "Cannot allocate memory",
        "failed to map segment",
    ];
    let cpu = format!(
        "the script used more than the CPU-time limit of {}",
        secs(limits.cpu_time)
    );

    let (kind, error) = match exec.signal {
        Some(libc::SIGXCPU) => (FailureKind::Timeout, cpu),
        Some(libc::SIGXFSZ) => (FailureKind::FileSizeLimit, file_size_error(limits)),
        // RLIMIT_CPU's hard limit ends with SIGKILL when SIGXCPU is ignored.
        Some(libc::SIGKILL) if exec.duration >= limits.cpu_time => (FailureKind::Timeout, cpu),
        _ if mentions(&memory) => (
            FailureKind::MemoryLimit,
            format!(
                "the script needed more than the memory limit of {} MiB",
                limits.address_space >> 20
            ),
        ),
        _ if mentions(&["File too large"]) => (FailureKind::FileSizeLimit, file_size_error(limits)),
        _ if mentions(&[
            "BlockingIOError",
            "Resource temporarily unavailable",
            "can't start new thread",
        ]) =>
        {
            (
                FailureKind::SandboxViolation,
                format!("the script hit the limit of {} processes", limits.processes),
            )
        }
        Some(signal) => (
            FailureKind::Crashed,
            format!("FreeCAD was killed by {}", signal_name(signal)),
        ),
        None => (
            FailureKind::Crashed,
            format!(
                "FreeCAD exited with code {} without a result",
                exec.exit_code.unwrap_or(-1)
            ),
        ),
    };
    failed(kind, error, tail)
}

fn file_size_error(limits: &Limits) -> String {
    format!(
        "the script wrote a file larger than the limit of {} MiB",
        limits.file_size >> 20
    )
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// The last non-empty lines of the log.
fn log_tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        _ => return format!("signal {signal}"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(signal: Option<i32>, code: Option<i32>, log: &str) -> Execution {
        Execution {
            exit_code: code,
            signal,
            ending: Ending::Exited,
            log: log.into(),
            duration: Duration::from_secs(1),
        }
    }

    fn kind(outcome: Outcome) -> FailureKind {
        match outcome {
            Outcome::Failed { kind, .. } => kind,
            Outcome::Built { .. } => panic!("built"),
        }
    }

    #[test]
    fn deaths_are_classified() {
        let limits = Limits::default();
        let k = |signal, code, log| kind(from_exit(&exec(signal, code, log), &limits));
        assert_eq!(k(Some(libc::SIGXCPU), None, ""), FailureKind::Timeout);
        assert_eq!(k(Some(libc::SIGXFSZ), None, ""), FailureKind::FileSizeLimit);
        assert_eq!(
            k(
                Some(libc::SIGABRT),
                None,
                "terminate called after throwing an instance of 'std::bad_alloc'"
            ),
            FailureKind::MemoryLimit
        );
        assert_eq!(
            k(None, Some(1), "OSError: [Errno 27] File too large"),
            FailureKind::FileSizeLimit
        );
        assert_eq!(
            k(
                None,
                Some(1),
                "BlockingIOError: [Errno 11] Resource temporarily unavailable"
            ),
            FailureKind::SandboxViolation
        );
        assert_eq!(k(Some(libc::SIGSEGV), None, "boom"), FailureKind::Crashed);
        assert_eq!(k(None, Some(0), ""), FailureKind::Crashed);
    }

    #[test]
    fn a_late_sigkill_is_the_cpu_hard_limit() {
        let limits = Limits {
            cpu_time: Duration::from_secs(1),
            ..Limits::default()
        };
        let mut e = exec(Some(libc::SIGKILL), None, "");
        e.duration = Duration::from_secs(3);
        assert_eq!(kind(from_exit(&e, &limits)), FailureKind::Timeout);
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let log: String = (0..40).map(|i| format!("line {i}\n\n")).collect();
        let tail = log_tail(&log);
        assert_eq!(tail.lines().count(), TAIL_LINES);
        assert!(tail.ends_with("line 39"));
    }

    #[test]
    fn outputs_must_be_plain_files() {
        let dir = tempfile::tempdir().unwrap();
        for format in ModelFormat::EXPORTED {
            fs::write(dir.path().join(format!("{MODEL_BASENAME}.{}", format.extension())), "x").unwrap();
        }
        assert_eq!(outputs(dir.path()).unwrap().len(), ModelFormat::EXPORTED.len());

        let stl = dir.path().join(format!("{MODEL_BASENAME}.STL"));
        fs::remove_file(&stl).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", &stl).unwrap();
        assert!(outputs(dir.path()).unwrap_err().contains("not a plain file"));

        fs::remove_file(&stl).unwrap();
        fs::write(dir.path().join("other"), "x").unwrap();
        fs::hard_link(dir.path().join("other"), &stl).unwrap();
        assert!(outputs(dir.path()).unwrap_err().contains("not a plain file"));
    }

    #[test]
    fn a_planted_result_cannot_block_or_leak() {
        let dir = tempfile::tempdir().unwrap();
        let result = dir.path().join("result.json");
        assert!(read_result(&result).unwrap().is_none());
        std::os::unix::fs::symlink("/etc/hostname", &result).unwrap();
        assert!(read_result(&result).is_err());
        fs::remove_file(&result).unwrap();
        let fifo = std::ffi::CString::new(result.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads a valid C string.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert!(read_result(&result).unwrap_err().contains("not a plain file"));
    }

    #[test]
    fn harness_results_parse() {
        let ok: HarnessResult = serde_json::from_str(
            r#"{"ok": true, "metrics": {"volume": 1.0, "surface_area": 6.0,
                "bounding_box": [0,0,0,1,1,1], "solids": 1, "valid": true},
                "files": {"STL": "MyHeadlessModel.STL"}}"#,
        )
        .unwrap();
        assert!(ok.ok && ok.metrics.is_some());
        let bad: HarnessResult =
            serde_json::from_str(r#"{"ok": false, "kind": "sandbox_violation", "error": "no", "traceback_tail": "t"}"#)
                .unwrap();
        assert_eq!(bad.kind, Some(FailureKind::SandboxViolation));
    }
}
