//! Runs one FreeCAD Python script in a contained, headless FreeCAD and
//! collects the model it builds.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sandbox::SandboxError> {
//! let sandbox = sandbox::Sandbox::from_env()?;
//! let report = sandbox.run("import Part\nresult = Part.makeBox(10, 10, 10)\n").await?;
//! if let sandbox::Outcome::Built { metrics, files } = &report.outcome {
//!     println!("{} mm³ in {} files", metrics.volume, files.len());
//! } // the files are deleted with `report`
//! # Ok(()) }
//! ```
//!
//! A run is a private job directory, the embedded `harness.py` executed by
//! `freecadcmd`, and the containment around that process:
//!
//! - in the process: a Python audit hook (installed by the harness just
//!   before the script runs) refuses sockets, process creation, C calls,
//!   writes outside the job directory and reads outside FreeCAD's and
//!   Python's installation, and reports them as `sandbox_violation`;
//! - around it: its own process group, resource limits
//!   ([`Limits`]), a private network namespace (root), Landlock file/TCP
//!   rules (any user, kernel ≥ 5.13), an unprivileged user (root), and a
//!   seccomp filter that keeps descendants in the process group;
//! - in the worker: a wall-clock timeout that kills the whole group, and
//!   bounded reading of the output.
//!
//! The hook is the informative layer, the kernel layers are the walls: Python
//! code can reach around an audit hook, and FreeCAD's C++ file functions
//! never raise audit events. [`RunReport::containment`] says which layers
//! a run had.
//!
//! Deployment notes:
//! - The network namespace needs CAP_SYS_ADMIN (root on a host, or a
//!   container granted it); plain Docker root lacks it, and runs fall back
//!   to Landlock's TCP rules and the hook. The switch to an unprivileged user
//!   needs root (CAP_SETUID/CAP_SETGID).
//! - Landlock and seccomp must not be filtered by the container runtime's
//!   own seccomp profile; `Containment` reports what actually applied.
//! - Concurrent runs share the sandbox user, and with it the process budget
//!   of [`Limits::processes`].
//! - A run's orphans are re-parented to PID 1: run the worker under an init
//!   (`docker run --init`, tini) so they are reaped.

mod capture;
mod classify;
mod cold;
mod contain;
mod error;
mod executor;
mod job;
mod landlock;
mod limits;
mod picture;
mod report;
mod seccomp;
mod supervise;
mod warm;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once, OnceLock};

pub use classify::MODEL_BASENAME;
pub use contain::Containment;
pub use error::SandboxError;
pub use executor::Executor;
pub use limits::Limits;
pub use report::{Outcome, RunReport};

use contain::ChildSetup;
use domain::files::ModelName;
use domain::messages::FailureKind;
use domain::ModelFormat;
use executor::{Execution, Job};
use job::JobDir;

/// Environment variable naming the `freecadcmd` to use.
pub const FREECAD_CMD_ENV: &str = "FREECAD_CMD";
/// The unprivileged user a root worker switches to by default ("nobody").
pub const DEFAULT_RUN_AS: (u32, u32) = (65534, 65534);

/// Runs FreeCAD scripts. Cheap to clone; every run is independent, so one
/// `Sandbox` may serve many concurrent runs.
#[derive(Debug, Clone)]
pub struct Sandbox {
    freecad_cmd: PathBuf,
    limits: Limits,
    work_root: PathBuf,
    run_as: Option<(u32, u32)>,
    read_paths: Vec<PathBuf>,
    executor: Executor,
    /// Jobs a warm server serves before it is replaced.
    warm_jobs: u32,
    /// The warm executor's servers, shared by clones; made on first use.
    warm: Arc<OnceLock<warm::Pool>>,
}

impl Sandbox {
    /// A sandbox for the given `freecadcmd` (a path, or a name looked up in
    /// PATH), with default limits, job directories under the system's
    /// temporary directory, and runs as "nobody" when the worker is root.
    pub fn new(freecad_cmd: impl AsRef<Path>) -> Result<Self, SandboxError> {
        let wanted = freecad_cmd.as_ref();
        let found = find_program(wanted).ok_or_else(|| SandboxError::FreeCadNotFound { cmd: wanted.to_owned() })?;
        Ok(Self {
            freecad_cmd: found,
            limits: Limits::default(),
            work_root: std::env::temp_dir().join("cadscribe-sandbox"),
            run_as: Some(DEFAULT_RUN_AS),
            read_paths: Vec::new(),
            executor: Executor::default(),
            warm_jobs: warm::MAX_JOBS,
            warm: Arc::default(),
        })
    }

    /// `$FREECAD_CMD`, else `freecadcmd` from PATH.
    pub fn from_env() -> Result<Self, SandboxError> {
        match std::env::var_os(FREECAD_CMD_ENV) {
            Some(cmd) if !cmd.is_empty() => Self::new(PathBuf::from(cmd)),
            _ => Self::new("freecadcmd"),
        }
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Where job directories are created. Every directory above it must be
    /// searchable by the sandbox user.
    pub fn with_work_root(mut self, work_root: impl Into<PathBuf>) -> Self {
        self.work_root = work_root.into();
        self
    }

    /// The uid/gid a root worker switches to; `None` keeps root (then
    /// RLIMIT_NPROC and file permissions do not apply). Ignored when the
    /// worker is not root.
    pub fn with_run_as(mut self, run_as: Option<(u32, u32)>) -> Self {
        self.run_as = run_as;
        self
    }

    /// Another read-only tree for FreeCAD, e.g. an installation under /opt
    /// (/usr, /lib, /bin are always readable).
    pub fn with_read_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.read_paths.push(path.into());
        self
    }

    pub fn with_executor(mut self, executor: Executor) -> Self {
        self.executor = executor;
        self.warm = Arc::default();
        self
    }

    /// How many jobs a warm FreeCAD process serves before it is replaced
    /// (500 by default; at least 1).
    pub fn with_warm_jobs(mut self, jobs: u32) -> Self {
        self.warm_jobs = jobs.max(1);
        self.warm = Arc::default();
        self
    }

    pub fn executor(&self) -> Executor {
        self.executor
    }

    /// Start the warm executor's FreeCAD processes for `runs` concurrent
    /// runs now rather than at the first jobs. Nothing to do for the cold
    /// executor.
    pub async fn warm_up(&self, runs: usize) -> Result<(), SandboxError> {
        match self.executor {
            Executor::Cold => Ok(()),
            Executor::Warm => self.pool().warm_up(runs).await,
        }
    }

    /// Warm FreeCAD processes loaded and waiting for a job (0 for the cold
    /// executor).
    pub fn warm_ready(&self) -> usize {
        match self.executor {
            Executor::Cold => 0,
            Executor::Warm => self.pool().ready(),
        }
    }

    fn pool(&self) -> &warm::Pool {
        self.warm
            .get_or_init(|| warm::Pool::new(&self.freecad_binary(), &self.work_root, self.warm_jobs))
    }

    /// The FreeCAD binary behind `freecad_cmd`'s symlinks: Landlock rules
    /// name resolved paths.
    fn freecad_binary(&self) -> PathBuf {
        self.freecad_cmd
            .canonicalize()
            .unwrap_or_else(|_| self.freecad_cmd.clone())
    }

    /// The resolved `freecadcmd`.
    pub fn freecad_cmd(&self) -> &Path {
        &self.freecad_cmd
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn work_root(&self) -> &Path {
        &self.work_root
    }

    /// The containment layers runs get on this machine.
    pub fn containment(&self) -> Containment {
        Containment::detect(self.run_as)
    }

    /// Run one script, its model named [`MODEL_BASENAME`]. `Err` only for
    /// faults of the machine (no FreeCAD, no disk); whatever the script
    /// does ends in [`Outcome`].
    pub async fn run(&self, script: &str) -> Result<RunReport, SandboxError> {
        let slug = domain::ProjectSlug::parse("model").expect("a valid slug");
        self.run_named(script, &ModelName::derive(MODEL_BASENAME, &slug)).await
    }

    /// [`Sandbox::run`] without the picture: the FreeCAD stage alone.
    pub async fn build(&self, script: &str) -> Result<RunReport, SandboxError> {
        let slug = domain::ProjectSlug::parse("model").expect("a valid slug");
        self.build_named(script, &ModelName::derive(MODEL_BASENAME, &slug))
            .await
    }

    /// Run one script; the model carries `name` inside its files (the STEP
    /// product, the FreeCAD document and part, the glTF node). A built model
    /// also gets its picture ([`domain::ModelFormat::Png`]), drawn here from
    /// the STL once FreeCAD has exited: [`Sandbox::build_named`] followed by
    /// [`Sandbox::draw_picture`].
    pub async fn run_named(&self, script: &str, name: &ModelName) -> Result<RunReport, SandboxError> {
        let mut report = self.build_named(script, name).await?;
        if let Outcome::Built { files, .. } = &mut report.outcome {
            match self.draw_picture(files).await {
                Ok(png) => {
                    files.insert(ModelFormat::Png, png);
                }
                Err(error) => report.outcome = picture_failed(error),
            }
        }
        Ok(report)
    }

    /// The FreeCAD stage alone: runs the script and exports every format but
    /// the picture, which the caller draws with [`Sandbox::draw_picture`]
    /// (the worker draws it while the other files upload).
    pub async fn build_named(&self, script: &str, name: &ModelName) -> Result<RunReport, SandboxError> {
        let containment = self.containment();
        static ANNOUNCE: Once = Once::new();
        ANNOUNCE.call_once(|| tracing::info!(layers = %containment.describe(), "FreeCAD sandbox"));

        let dir = JobDir::create(&self.work_root, script, name, containment.user)?;
        let binary = self.freecad_binary();
        let mut read_paths = self.read_paths.clone();
        read_paths.extend(install_tree(&binary));
        let setup = ChildSetup::new(&self.limits, &containment, &binary, dir.path(), &read_paths);
        tracing::debug!(job_dir = %dir.path().display(), layers = %containment.describe(), "starting FreeCAD");

        let job = Job {
            freecad: &binary,
            dir: &dir,
            limits: &self.limits,
            setup,
        };
        let execution = self.execute(job).await?;
        let outcome = classify::outcome(&dir, &execution, &self.limits, script);
        match &outcome {
            Outcome::Built { metrics, .. } => {
                tracing::debug!(
                    volume = metrics.volume,
                    solids = metrics.solids,
                    ms = execution.duration.as_millis(),
                    "model built"
                )
            }
            Outcome::Failed { kind, error, .. } => {
                tracing::debug!(?kind, %error, ms = execution.duration.as_millis(), "run failed")
            }
        }
        Ok(RunReport {
            outcome,
            log: execution.log,
            duration: execution.duration,
            exit_code: execution.exit_code,
            signal: execution.signal,
            containment,
            dir,
        })
    }
}

impl Sandbox {
    /// Draws the picture of a built model from its STL, beside its other
    /// files; returns the PNG's path. Drawing is CPU work on a blocking
    /// thread (a few to a few tens of milliseconds), outside FreeCAD and its
    /// sandbox; an STL that cannot be drawn is an `Err` with the reason, and
    /// the model then fails like one whose export failed ([`picture_failed`]).
    pub async fn draw_picture(&self, files: &BTreeMap<ModelFormat, PathBuf>) -> Result<PathBuf, String> {
        let stl = files.get(&ModelFormat::Stl).ok_or("the run exported no STL to draw")?;
        let out_dir = stl.parent().ok_or("the STL has no folder")?.to_owned();
        picture::draw(stl.clone(), out_dir, self.limits.file_size).await
    }

    async fn execute(&self, job: Job<'_>) -> Result<Execution, SandboxError> {
        match self.executor {
            Executor::Cold => cold::execute(job).await,
            Executor::Warm => match self.pool().execute(&job).await {
                Err(SandboxError::WarmStart { reason }) => {
                    tracing::warn!(%reason, "the warm FreeCAD process failed to start; running this job cold");
                    cold::execute(job).await
                }
                other => other,
            },
        }
    }
}

/// The outcome of a built model whose picture could not be drawn: it fails
/// like one whose export failed.
pub fn picture_failed(error: String) -> Outcome {
    classify::failed(
        FailureKind::Crashed,
        format!("drawing the picture of the model failed: {error}"),
        String::new(),
    )
}

/// Resolve a program like the shell does: a path is taken as is, a bare
/// name is searched in PATH.
fn find_program(program: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.components().count() > 1 {
        return executable(program).then(|| program.to_owned());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| executable(p))
}

/// A FreeCAD outside /usr (an /opt or AppImage-style tree) reads its own
/// installation: `<prefix>/bin/freecadcmd` → `<prefix>`.
fn install_tree(binary: &Path) -> Option<PathBuf> {
    let prefix = binary.parent()?.parent()?;
    (!prefix.starts_with("/usr") && prefix != Path::new("/")).then(|| prefix.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_freecad_is_an_infrastructure_error_with_a_hint() {
        let err = Sandbox::new("/nonexistent/freecadcmd").unwrap_err();
        assert!(matches!(err, SandboxError::FreeCadNotFound { .. }));
        assert!(err.to_string().contains("freecad-python3"), "{err}");
        assert!(Sandbox::new("surely-not-a-program-cadscribe").is_err());
    }

    #[test]
    fn programs_are_found_in_path() {
        let sh = find_program(Path::new("sh")).expect("sh in PATH");
        assert!(sh.is_absolute());
    }

    #[test]
    fn installation_outside_usr_is_readable() {
        assert_eq!(install_tree(Path::new("/usr/lib/freecad/bin/freecadcmd")), None);
        assert_eq!(
            install_tree(Path::new("/opt/freecad/bin/freecadcmd")),
            Some(PathBuf::from("/opt/freecad"))
        );
    }
}
