//! The warm strategy: long-lived FreeCAD processes that have already loaded
//! FreeCAD and its workbenches, each forking one contained child per job.
//!
//! A server (`harness/warm.py`, run by `freecadcmd`) never runs a user's
//! script itself. For each job the worker sends it the job directory, the
//! environment and the containment [`Plan`](crate::contain::Plan) over a
//! Unix socket, with the write end of the job's output pipe attached; the
//! server forks, and the child applies the plan — the same layers, system
//! calls and order as a cold run's pre-exec step — before the harness and
//! its audit hook run the script. The worker supervises the child like a
//! cold run: the child is a process-group leader, killed as a group at the
//! wall-clock or output limit.
//!
//! A server serves one job at a time; the pool keeps one per concurrent run.
//! A server is replaced when it dies (a job it was running is run again
//! once on a new server, since the script did not fail), after
//! [`MAX_JOBS`] jobs, or when it grows past [`MAX_RSS`]; a retired server's
//! replacement loads in the background, so the next job does not wait for
//! FreeCAD to load. A server is killed when the worker drops it or dies
//! (`PR_SET_PDEATHSIG`).

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader, Interest};
use tokio::net::UnixStream;
use tokio::process::{Child, Command};

use crate::contain::Plan;
use crate::executor::{Execution, Job};
use crate::job::{self, HARNESS, HARNESS_FILE, WARM_SERVER, WARM_SERVER_FILE};
use crate::supervise::{supervise, Exit, Process};
use crate::SandboxError;

/// Jobs a server serves before it is replaced, by default.
pub const MAX_JOBS: u32 = 500;
/// Resident memory past which a server is replaced.
pub const MAX_RSS: u64 = 1024 * 1024 * 1024;
/// Loading FreeCAD takes about a second; on a loaded machine much more.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a server may take to fork a job.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The exit status of a child whose containment failed (`warm.py`).
const CONTAIN_FAILED: i32 = 125;
const CONTAIN_FAILED_MARKER: &str = "cadscribe: containment failed";
/// Server output lines kept for the error when it fails to start.
const KEPT_LINES: usize = 20;

/// Idle servers, one per run the worker has had at once.
#[derive(Debug)]
pub(crate) struct Pool {
    freecad: PathBuf,
    work_root: PathBuf,
    idle: Arc<Mutex<Vec<Server>>>,
    /// How many servers to keep idle at most: the runs asked for at once
    /// ([`Pool::warm_up`]); 0 before any was asked for (no bound).
    keep: Arc<AtomicUsize>,
    /// Jobs a server serves before it is replaced.
    max_jobs: u32,
}

impl Pool {
    pub fn new(freecad: &Path, work_root: &Path, max_jobs: u32) -> Self {
        Self {
            freecad: freecad.to_owned(),
            work_root: work_root.to_owned(),
            idle: Arc::default(),
            keep: Arc::default(),
            max_jobs,
        }
    }

    /// Start servers until `count` are idle.
    pub async fn warm_up(&self, count: usize) -> Result<(), SandboxError> {
        self.keep.fetch_max(count, Ordering::Relaxed);
        while self.idle.lock().expect("pool lock").len() < count {
            let server = Server::start(&self.freecad, &self.work_root).await?;
            self.idle.lock().expect("pool lock").push(server);
        }
        Ok(())
    }

    /// Servers loaded and waiting for a job.
    pub fn ready(&self) -> usize {
        self.idle.lock().expect("pool lock").len()
    }

    /// Loads a server in the background to take a retired one's place.
    fn replace(&self) {
        let (freecad, work_root) = (self.freecad.clone(), self.work_root.clone());
        let (idle, keep) = (self.idle.clone(), self.keep.clone());
        tokio::spawn(async move {
            match Server::start(&freecad, &work_root).await {
                Ok(server) => {
                    let mut idle = idle.lock().expect("pool lock");
                    // A job that found no idle server meanwhile started its
                    // own: more than the runs at once are not kept.
                    let keep = keep.load(Ordering::Relaxed);
                    if keep == 0 || idle.len() < keep {
                        idle.push(server);
                    }
                }
                // The next job starts one itself, and reports why if it fails.
                Err(e) => tracing::warn!(error = %e, "could not start a replacement warm FreeCAD process"),
            }
        });
    }

    pub async fn execute(&self, job: &Job<'_>) -> Result<Execution, SandboxError> {
        let mut lost = None;
        for _ in 0..2 {
            let taken = self.idle.lock().expect("pool lock").pop();
            let mut server = match taken {
                Some(server) => server,
                None => Server::start(&self.freecad, &self.work_root).await?,
            };
            match server.run(job).await {
                Ok(execution) => {
                    if let Some(reason) = server.retire_reason(self.max_jobs) {
                        tracing::info!(pid = server.pid, %reason, "replacing the warm FreeCAD process");
                        drop(server);
                        self.replace();
                    } else {
                        self.idle.lock().expect("pool lock").push(server);
                    }
                    return Ok(execution);
                }
                Err(RunError::Fault(err)) => return Err(err),
                Err(RunError::Gone(reason)) => {
                    tracing::warn!(pid = server.pid, %reason, "warm FreeCAD process lost; running the job on a new one");
                    lost = Some(reason);
                }
            }
        }
        Err(SandboxError::Wait(io::Error::other(format!(
            "the warm FreeCAD process died twice during this run: {}",
            lost.unwrap_or_default()
        ))))
    }
}

enum RunError {
    /// The server died or stopped answering: not the script's fault.
    Gone(String),
    Fault(SandboxError),
}

/// What the worker sends for one job.
#[derive(Serialize)]
struct Request<'a> {
    dir: &'a Path,
    env: Vec<(String, String)>,
    plan: Plan,
}

/// What the server answers.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Ready(i32),
    Started(i32),
    Exited(Exit),
    Refused(String),
}

/// One warm FreeCAD process.
#[derive(Debug)]
struct Server {
    /// Killed when dropped.
    _process: Child,
    control: Control,
    pid: i32,
    jobs: u32,
    /// Its home and files; removed when dropped.
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(freecad: &Path, work_root: &Path) -> Result<Self, SandboxError> {
        let failed = |reason: String| SandboxError::WarmStart { reason };
        job::ensure_work_root(work_root)?;
        let dir = tempfile::Builder::new()
            .prefix("warm-")
            .tempdir_in(work_root)
            .map_err(|source| SandboxError::JobDir {
                path: work_root.to_owned(),
                source,
            })?;
        let home = dir.path().canonicalize().unwrap_or_else(|_| dir.path().to_owned());
        for (name, text) in [(WARM_SERVER_FILE, WARM_SERVER), (HARNESS_FILE, HARNESS)] {
            std::fs::write(home.join(name), text).map_err(|source| SandboxError::JobDir {
                path: home.clone(),
                source,
            })?;
        }
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().map_err(|e| failed(e.to_string()))?;
        let theirs_fd = theirs.as_raw_fd();
        let mut cmd = Command::new(freecad);
        cmd.arg(home.join(WARM_SERVER_FILE))
            .current_dir(&home)
            .env_clear()
            .envs(job::process_env(&home))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // SAFETY: only async-signal-safe syscalls on values copied before the fork.
        unsafe {
            cmd.pre_exec(move || server_setup(theirs_fd));
        }
        let mut process = cmd.spawn().map_err(|source| SandboxError::Spawn {
            cmd: freecad.to_owned(),
            source,
        })?;
        drop(theirs);
        let output = Arc::new(Mutex::new(VecDeque::new()));
        drain(process.stdout.take(), output.clone());
        drain(process.stderr.take(), output.clone());
        ours.set_nonblocking(true).map_err(|e| failed(e.to_string()))?;
        let stream = UnixStream::from_std(ours).map_err(|e| failed(e.to_string()))?;
        let mut control = Control {
            stream,
            pending: Vec::new(),
        };
        let started = Instant::now();
        let ready = tokio::time::timeout(READY_TIMEOUT, control.reply()).await;
        let tail = || {
            output
                .lock()
                .expect("output lock")
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        };
        let pid = match ready {
            Ok(Ok(Some(Reply::Ready(pid)))) => pid,
            Ok(Ok(other)) => return Err(failed(format!("it answered {other:?}; its output:\n{}", tail()))),
            Ok(Err(err)) => return Err(failed(format!("{err}; its output:\n{}", tail()))),
            Err(_) => {
                return Err(failed(format!(
                    "not ready after {READY_TIMEOUT:?}; its output:\n{}",
                    tail()
                )))
            }
        };
        tracing::debug!(pid, ms = started.elapsed().as_millis(), "warm FreeCAD process ready");
        Ok(Self {
            _process: process,
            control,
            pid,
            jobs: 0,
            _dir: dir,
        })
    }

    async fn run(&mut self, job: &Job<'_>) -> Result<Execution, RunError> {
        let fault = |source: io::Error| RunError::Fault(SandboxError::Wait(source));
        let (tx, rx) = tokio::net::unix::pipe::pipe().map_err(fault)?;
        let output = tx.into_blocking_fd().map_err(fault)?;
        let request = Request {
            dir: job.dir.path(),
            env: job
                .dir
                .env()
                .into_iter()
                .map(|(k, v)| (k.to_string_lossy().into_owned(), v.to_string_lossy().into_owned()))
                .collect(),
            plan: job.setup.plan(),
        };
        let mut line = serde_json::to_vec(&request).expect("a request serializes");
        line.push(b'\n');
        let started = Instant::now();
        self.control
            .send(&line, output.as_raw_fd())
            .await
            .map_err(|e| RunError::Gone(format!("cannot send the job: {e}")))?;
        // The child holds the only write end now: its end is the pipe's end.
        drop(output);
        let pid = match tokio::time::timeout(START_TIMEOUT, self.control.reply()).await {
            Ok(Ok(Some(Reply::Started(pid)))) => pid,
            Ok(Ok(Some(Reply::Refused(why)))) => {
                return Err(RunError::Fault(SandboxError::WarmStart { reason: why }));
            }
            Ok(Ok(Some(other))) => return Err(RunError::Gone(format!("unexpected answer {other:?}"))),
            Ok(Ok(None)) => return Err(RunError::Gone("it exited".into())),
            Ok(Err(err)) => return Err(RunError::Gone(err.to_string())),
            Err(_) => return Err(RunError::Gone(format!("no child after {START_TIMEOUT:?}"))),
        };
        self.jobs += 1;
        let mut child = WarmChild {
            control: &mut self.control,
        };
        let execution = supervise(&mut child, pid, job.limits, job.dir, rx, tokio::io::empty(), started)
            .await
            .map_err(|e| RunError::Gone(format!("lost during the run: {e}")))?;
        if execution.exit_code == Some(CONTAIN_FAILED) && execution.log.trim_start().starts_with(CONTAIN_FAILED_MARKER)
        {
            return Err(RunError::Fault(SandboxError::Spawn {
                cmd: job.freecad.to_owned(),
                source: io::Error::other(execution.log.trim().to_owned()),
            }));
        }
        Ok(execution)
    }

    /// Why this server should not serve another job, if it should not.
    fn retire_reason(&self, max_jobs: u32) -> Option<String> {
        if self.jobs >= max_jobs {
            return Some(format!("served {} jobs", self.jobs));
        }
        let rss = resident_bytes(self.pid)?;
        (rss > MAX_RSS).then(|| format!("grew to {} MiB", rss / (1024 * 1024)))
    }
}

/// Runs in the server's process after `fork`, before `exec`.
fn server_setup(control: RawFd) -> io::Result<()> {
    fn check(r: libc::c_int) -> io::Result<()> {
        if r == -1 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
    // SAFETY: async-signal-safe syscalls on plain integers.
    unsafe {
        check(libc::setpgid(0, 0))?;
        // Gone with the worker, even after kill -9.
        check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0))?;
        libc::umask(0o077);
        if control == 3 {
            check(libc::fcntl(3, libc::F_SETFD, 0))?;
        } else {
            check(libc::dup2(control, 3))?;
        }
    }
    Ok(())
}

/// Log a server's own output, keeping its last lines for errors.
fn drain(pipe: Option<impl AsyncRead + Unpin + Send + 'static>, kept: Arc<Mutex<VecDeque<String>>>) {
    let Some(pipe) = pipe else { return };
    tokio::spawn(async move {
        let mut lines = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::trace!(%line, "warm FreeCAD output");
            let mut kept = kept.lock().expect("output lock");
            if kept.len() == KEPT_LINES {
                kept.pop_front();
            }
            kept.push_back(line);
        }
    });
}

fn resident_bytes(pid: i32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no memory effects.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// The worker's end of a server's socket: newline-terminated JSON.
#[derive(Debug)]
struct Control {
    stream: UnixStream,
    pending: Vec<u8>,
}

impl Control {
    /// Send `line` with `fd` attached to its first byte.
    async fn send(&self, line: &[u8], fd: RawFd) -> io::Result<()> {
        let mut sent = 0;
        while sent < line.len() {
            self.stream.writable().await?;
            let rest = &line[sent..];
            let result = if sent == 0 {
                self.stream
                    .try_io(Interest::WRITABLE, || send_with_fd(self.stream.as_raw_fd(), rest, fd))
            } else {
                self.stream.try_write(rest)
            };
            match result {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The next reply; `None` once the server closed its end. Cancel-safe:
    /// bytes read stay in `pending`.
    async fn reply(&mut self) -> io::Result<Option<Reply>> {
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                return serde_json::from_slice(&line[..end])
                    .map(Some)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e));
            }
            self.stream.readable().await?;
            let mut buf = [0u8; 4096];
            match self.stream.try_read(&mut buf) {
                Ok(0) => return Ok(None),
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// `sendmsg` with one descriptor as SCM_RIGHTS.
fn send_with_fd(socket: RawFd, data: &[u8], fd: RawFd) -> io::Result<usize> {
    const FD_SIZE: u32 = std::mem::size_of::<RawFd>() as u32;
    // u64s keep the control buffer aligned for `cmsghdr`.
    let mut control = [0u64; 4];
    // SAFETY: CMSG_SPACE is arithmetic; the buffer is larger than it (32 bytes).
    let space = unsafe { libc::CMSG_SPACE(FD_SIZE) } as usize;
    assert!(space <= std::mem::size_of_val(&control));
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; every pointer set below outlives the call.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(FD_SIZE) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        let n = libc::sendmsg(socket, &msg, libc::MSG_NOSIGNAL);
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
}

/// A job's child, seen through its server's answers.
struct WarmChild<'a> {
    control: &'a mut Control,
}

impl Process for WarmChild<'_> {
    fn wait(&mut self) -> Pin<Box<dyn Future<Output = io::Result<Exit>> + Send + '_>> {
        Box::pin(async move {
            match self.control.reply().await? {
                Some(Reply::Exited(exit)) => Ok(exit),
                Some(other) => Err(io::Error::other(format!("unexpected answer {other:?}"))),
                None => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the warm FreeCAD process exited during the run",
                )),
            }
        })
    }
}
