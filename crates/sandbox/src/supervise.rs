//! Watching one contained FreeCAD run to its end, whichever executor
//! started it: the wall-clock limit, the stop signals from the output
//! capture, and killing the run's process group.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio::io::AsyncRead;
use tokio::sync::oneshot;

use crate::capture::{capture, Stop};
use crate::executor::{Ending, Execution};
use crate::job::JobDir;
use crate::Limits;

/// How long to keep reading output after the process is gone.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// How the run's first process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub(crate) struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

/// The run's first process, as its executor sees it.
pub(crate) trait Process: Send {
    /// Wait for it to end; called again after its group was killed.
    /// Cancel-safe.
    fn wait(&mut self) -> Pin<Box<dyn Future<Output = io::Result<Exit>> + Send + '_>>;
}

/// Supervise a started run: `pgid` is its process group (its first
/// process's pid), `stdout`/`stderr` its output. Ends when the process has
/// ended, been stopped at the wall-clock limit, or been stopped for its
/// output; whatever it left in its group is killed.
pub(crate) async fn supervise(
    process: &mut dyn Process,
    pgid: libc::pid_t,
    limits: &Limits,
    dir: &JobDir,
    stdout: impl AsyncRead + Unpin,
    stderr: impl AsyncRead + Unpin,
    started: Instant,
) -> io::Result<Execution> {
    // Armed until the group is killed after the end, so a cancelled run
    // leaves nothing behind.
    let mut group = ProcessGroup { pgid, armed: true };
    let (exited_tx, exited_rx) = oneshot::channel();
    let (stop_tx, mut stop_rx) = oneshot::channel();
    let wall_time = limits.wall_time;
    let wait = async {
        let (exited, ending) = tokio::select! {
            exit = process.wait() => (Some(exit), Ending::Exited),
            () = tokio::time::sleep(wall_time) => (None, Ending::WallTime),
            Ok(stop) = &mut stop_rx => (None, match stop {
                Stop::Stalled => Ending::Stalled,
                Stop::Output => Ending::OutputLimit,
            }),
        };
        let exit = match exited {
            Some(exit) => exit,
            None => {
                group.kill();
                process.wait().await
            }
        };
        // Whatever the script left behind in its group goes too.
        group.kill();
        group.armed = false;
        let _ = exited_tx.send(());
        exit.map(|exit| (exit, ending))
    };
    let (result, log) = tokio::join!(
        wait,
        capture(stdout, stderr, exited_rx, OUTPUT_GRACE, stop_tx, limits.output)
    );
    let (exit, ending) = result?;
    Ok(Execution {
        exit_code: exit.code,
        signal: exit.signal,
        ending,
        log: log.finish(dir.path()),
        duration: started.elapsed(),
    })
}

/// A process group that is killed when dropped while armed, so a cancelled
/// `run` leaves nothing behind. Disarmed once killed after the leader was
/// reaped, so the id is never signalled again after it could be reused.
pub(crate) struct ProcessGroup {
    pub pgid: libc::pid_t,
    pub armed: bool,
}

impl ProcessGroup {
    pub fn kill(&self) {
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
