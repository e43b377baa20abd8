//! The cold strategy: spawn one contained `freecadcmd` for the job.

use std::future::Future;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::pin::Pin;
use std::process::Stdio;
use std::time::Instant;

use tokio::process::{Child, Command};

use crate::executor::{Execution, Job};
use crate::supervise::{supervise, Exit, Process};
use crate::SandboxError;

pub(crate) async fn execute(job: Job<'_>) -> Result<Execution, SandboxError> {
    let setup = job.setup;
    let mut cmd = Command::new(job.freecad);
    cmd.arg(job.dir.harness_file())
        .current_dir(job.dir.path())
        .env_clear()
        .envs(job.dir.env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // SAFETY: `ChildSetup::apply` only makes async-signal-safe syscalls on
    // memory prepared before the fork.
    unsafe {
        cmd.pre_exec(move || setup.apply());
    }

    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => SandboxError::FreeCadNotFound {
            cmd: job.freecad.to_owned(),
        },
        _ => SandboxError::Spawn {
            cmd: job.freecad.to_owned(),
            source,
        },
    })?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    // The child made itself a group leader before exec, so pid == pgid.
    let Some(pid) = child.id() else {
        return Err(SandboxError::Wait(io::Error::other(
            "FreeCAD exited before it could be watched",
        )));
    };
    let mut process = Cold(child);
    supervise(
        &mut process,
        pid as libc::pid_t,
        job.limits,
        job.dir,
        stdout,
        stderr,
        started,
    )
    .await
    .map_err(SandboxError::Wait)
}

/// The spawned `freecadcmd`, killed if dropped before it ended.
struct Cold(Child);

impl Process for Cold {
    fn wait(&mut self) -> Pin<Box<dyn Future<Output = io::Result<Exit>> + Send + '_>> {
        Box::pin(async move {
            let status = self.0.wait().await?;
            Ok(Exit {
                code: status.code(),
                signal: status.signal(),
            })
        })
    }
}
