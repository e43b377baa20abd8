//! The cold strategy: spawn one contained `freecadcmd` for the job.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::Command;
use tokio::sync::oneshot;

use crate::capture::{capture, Stop};
use crate::executor::{Ending, Execution, Job};
use crate::SandboxError;

/// How long to keep reading output after the process is gone.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

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
        std::io::ErrorKind::NotFound => SandboxError::FreeCadNotFound {
            cmd: job.freecad.to_owned(),
        },
        _ => SandboxError::Spawn {
            cmd: job.freecad.to_owned(),
            source,
        },
    })?;
    // The child made itself a group leader before exec, so pid == pgid.
    let mut group = child.id().map(|pid| ProcessGroup {
        pgid: pid as libc::pid_t,
        armed: true,
    });
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (exited_tx, exited_rx) = oneshot::channel();
    let (stop_tx, mut stop_rx) = oneshot::channel();

    let wall_time = job.limits.wall_time;
    // Owns the child and its group: if `run` is cancelled, dropping this
    // future kills both.
    let wait = async move {
        let (exited, ending) = tokio::select! {
            status = child.wait() => (Some(status), Ending::Exited),
            () = tokio::time::sleep(wall_time) => (None, Ending::WallTime),
            Ok(stop) = &mut stop_rx => (None, match stop {
                Stop::Stalled => Ending::Stalled,
                Stop::Output => Ending::OutputLimit,
            }),
        };
        let status = match exited {
            Some(status) => status,
            None => {
                if let Some(group) = &group {
                    group.kill();
                }
                child.wait().await
            }
        };
        let result = status.map(|status| (status, ending));
        // Whatever the script left behind in its group goes too.
        if let Some(group) = &mut group {
            group.kill();
            group.armed = false;
        }
        let _ = exited_tx.send(());
        result
    };
    let (status, log) = tokio::join!(
        wait,
        capture(stdout, stderr, exited_rx, OUTPUT_GRACE, stop_tx, job.limits.output)
    );
    let (status, ending) = status.map_err(SandboxError::Wait)?;
    Ok(Execution {
        exit_code: status.code(),
        signal: status.signal(),
        ending,
        log: log.finish(job.dir.path()),
        duration: started.elapsed(),
    })
}

/// A process group that is killed when dropped while armed, so a cancelled
/// `run` leaves nothing behind. Disarmed once killed after the leader was
/// reaped, so the id is never signalled again after it could be reused.
struct ProcessGroup {
    pgid: libc::pid_t,
    armed: bool,
}

impl ProcessGroup {
    fn kill(&self) {
        // SAFETY: kill has no memory effects; ESRCH (already gone) is fine.
        unsafe {
            libc::kill(-self.pgid, libc::SIGKILL);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if self.armed {
            self.kill();
        }
    }
}
