//! The job directory: a private temporary directory that is the run's whole
//! writable world — harness, script, HOME, TMPDIR, working directory and the
//! `out/` directory with the exports and `result.json`. It is removed when
//! the [`RunReport`](crate::RunReport) that owns it is dropped.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use domain::files::ModelName;
use tempfile::TempDir;

use crate::SandboxError;

/// The harness, embedded so the crate is self-contained.
pub const HARNESS: &str = include_str!("../harness/harness.py");

pub const HARNESS_FILE: &str = "harness.py";
/// The warm executor's server, embedded like the harness it imports.
pub const WARM_SERVER: &str = include_str!("../harness/warm.py");
pub const WARM_SERVER_FILE: &str = "warm.py";
pub const SCRIPT_FILE: &str = "script.py";
pub const LOG_FILE: &str = "harness.log";
pub const OUT_DIR: &str = "out";
pub const RESULT_FILE: &str = "result.json";

#[derive(Debug)]
pub struct JobDir {
    /// Held only for its `Drop`, which deletes the directory.
    _dir: TempDir,
    /// Canonical path: the audit hook and Landlock compare resolved paths.
    path: PathBuf,
    /// The name the harness gives the model inside its files.
    model_name: ModelName,
}

impl JobDir {
    /// Create the directory under `work_root` and hand it to `owner`, the
    /// user the run will switch to.
    pub fn create(
        work_root: &Path,
        script: &str,
        model_name: &ModelName,
        owner: Option<(u32, u32)>,
    ) -> Result<Self, SandboxError> {
        let err = |source| SandboxError::JobDir {
            path: work_root.to_owned(),
            source,
        };
        ensure_work_root(work_root)?;
        if let Some((uid, gid)) = owner {
            check_reachable(work_root, uid, gid)?;
        }
        let dir = tempfile::Builder::new()
            .prefix("job-")
            .tempdir_in(work_root)
            .map_err(err)?;
        let path = dir.path().canonicalize().map_err(err)?;
        let job = Self {
            _dir: dir,
            path,
            model_name: model_name.clone(),
        };
        job.populate(script, owner).map_err(err)?;
        Ok(job)
    }

    fn populate(&self, script: &str, owner: Option<(u32, u32)>) -> io::Result<()> {
        // Private to the sandbox user (and root): other runs, other users.
        fs::set_permissions(&self.path, fs::Permissions::from_mode(0o700))?;
        fs::write(self.path.join(HARNESS_FILE), HARNESS)?;
        fs::write(self.path.join(SCRIPT_FILE), script)?;
        fs::create_dir(self.out_dir())?;
        if let Some((uid, gid)) = owner {
            for path in [
                self.path.clone(),
                self.path.join(HARNESS_FILE),
                self.path.join(SCRIPT_FILE),
                self.out_dir(),
            ] {
                std::os::unix::fs::chown(&path, Some(uid), Some(gid))?;
            }
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn out_dir(&self) -> PathBuf {
        self.path.join(OUT_DIR)
    }

    pub fn result_file(&self) -> PathBuf {
        self.out_dir().join(RESULT_FILE)
    }

    pub fn harness_file(&self) -> PathBuf {
        self.path.join(HARNESS_FILE)
    }

    /// The child's entire environment: [`process_env`] with the job
    /// directory as home, and where the harness finds the job.
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        let p = |name: &str| self.path.join(name).into_os_string();
        let mut vars = process_env(&self.path);
        vars.extend([
            ("CADSCRIBE_JOB_DIR".into(), self.path.clone().into_os_string()),
            ("CADSCRIBE_SCRIPT".into(), p(SCRIPT_FILE)),
            ("CADSCRIBE_OUT".into(), p(OUT_DIR)),
            ("CADSCRIBE_LOG".into(), p(LOG_FILE)),
            ("CADSCRIBE_MODEL_NAME".into(), self.model_name.as_str().into()),
        ]);
        vars
    }
}

/// Create the work root if needed: others may pass through it to their job
/// directory, not list it.
pub fn ensure_work_root(work_root: &Path) -> Result<(), SandboxError> {
    if work_root.exists() {
        return Ok(());
    }
    let err = |source| SandboxError::JobDir {
        path: work_root.to_owned(),
        source,
    };
    fs::create_dir_all(work_root).map_err(err)?;
    fs::set_permissions(work_root, fs::Permissions::from_mode(0o711)).map_err(err)
}

/// The whole environment of a FreeCAD process of the sandbox, a job's or a
/// warm server's: FreeCAD needs a PATH, a HOME it can write its settings to
/// (`home`, also the temporary directory) and a UTF-8 locale (without one
/// `freecadcmd` can crash while decoding its arguments).
pub fn process_env(home: &Path) -> Vec<(OsString, OsString)> {
    vec![
        ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
        ("HOME".into(), home.as_os_str().to_owned()),
        ("TMPDIR".into(), home.as_os_str().to_owned()),
        ("LANG".into(), "C.UTF-8".into()),
        // Caches would otherwise be written next to FreeCAD's modules.
        ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
        ("PYTHONNOUSERSITE".into(), "1".into()),
        // glibc reserves 64 MiB of address space per malloc arena, up to
        // 8 per CPU; OpenCASCADE's threads would eat RLIMIT_AS with them.
        ("MALLOC_ARENA_MAX".into(), "2".into()),
    ]
}

/// Every directory from `/` to `dir` must be searchable by the sandbox user,
/// or FreeCAD fails to open its harness with a baffling "Permission denied".
fn check_reachable(dir: &Path, uid: u32, gid: u32) -> Result<(), SandboxError> {
    let dir = dir.canonicalize().map_err(|source| SandboxError::JobDir {
        path: dir.to_owned(),
        source,
    })?;
    for ancestor in dir.ancestors() {
        let meta = fs::metadata(ancestor).map_err(|source| SandboxError::JobDir {
            path: ancestor.to_owned(),
            source,
        })?;
        let mode = meta.mode();
        let searchable = if meta.uid() == uid {
            mode & 0o100 != 0
        } else if meta.gid() == gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !searchable {
            return Err(SandboxError::WorkRootNotReachable {
                path: ancestor.to_owned(),
                uid,
                gid,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> ModelName {
        ModelName::derive("Plate 40 × 20", &domain::ProjectSlug::parse("plate").unwrap())
    }

    #[test]
    fn lays_out_the_job_and_removes_it_on_drop() {
        let root = tempfile::tempdir().unwrap();
        let job = JobDir::create(&root.path().join("jobs"), "print(1)\n", &name(), None).unwrap();
        let path = job.path().to_owned();
        assert_eq!(fs::read_to_string(path.join(SCRIPT_FILE)).unwrap(), "print(1)\n");
        assert!(fs::read_to_string(path.join(HARNESS_FILE))
            .unwrap()
            .contains("addaudithook"));
        assert!(job.out_dir().is_dir());
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o700);
        let env = job.env();
        assert!(env.iter().any(|(k, v)| k == "HOME" && Path::new(v) == path));
        assert!(env
            .iter()
            .any(|(k, v)| k == "CADSCRIBE_MODEL_NAME" && v == "Plate 40 x 20"));
        drop(job);
        assert!(!path.exists());
    }

    #[test]
    fn refuses_a_root_the_sandbox_user_cannot_reach() {
        let root = tempfile::tempdir().unwrap();
        let locked = root.path().join("locked");
        fs::create_dir(&locked).unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o700)).unwrap();
        // SAFETY: getuid cannot fail.
        let me = unsafe { libc::getuid() };
        let stranger = if me == 65534 { 65533 } else { 65534 };
        let err = JobDir::create(&locked.join("jobs"), "", &name(), Some((stranger, stranger))).unwrap_err();
        assert!(matches!(err, SandboxError::WorkRootNotReachable { .. }), "{err}");
    }
}
