//! Bounded capture of the child's stdout and stderr.
//!
//! The pipes are always drained, so a script printing gigabytes never
//! blocks, but only the first and last bytes are kept: the start shows what
//! FreeCAD loaded, the end holds the traceback.

use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::oneshot;

/// Bytes kept from the start of the output.
pub const HEAD_BYTES: usize = 768 * 1024;
/// Bytes kept from the end of the output.
pub const TAIL_BYTES: usize = 256 * 1024;

/// The combined output, head and tail.
#[derive(Debug, Default)]
pub struct LogCapture {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    dropped: u64,
}

impl LogCapture {
    pub fn push(&mut self, mut bytes: &[u8]) {
        if self.head.len() < HEAD_BYTES {
            let n = bytes.len().min(HEAD_BYTES - self.head.len());
            self.head.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
        if bytes.len() >= TAIL_BYTES {
            self.dropped += (self.tail.len() + bytes.len() - TAIL_BYTES) as u64;
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - TAIL_BYTES..]);
            return;
        }
        let overflow = (self.tail.len() + bytes.len()).saturating_sub(TAIL_BYTES);
        self.dropped += overflow as u64;
        self.tail.drain(..overflow);
        self.tail.extend(bytes);
    }

    /// The log as text: colour codes stripped, the job directory's path
    /// replaced by `.` so logs are the same from run to run.
    pub fn finish(self, job_dir: &Path) -> String {
        let mut bytes = self.head;
        if self.dropped > 0 {
            bytes.extend_from_slice(format!("\n[… {} bytes of output omitted …]\n", self.dropped).as_bytes());
        }
        bytes.extend(self.tail);
        let text = strip_ansi(&String::from_utf8_lossy(&bytes));
        let dir = job_dir.to_string_lossy();
        text.replace(&format!("{dir}/"), "").replace(dir.as_ref(), ".")
    }
}

/// Remove ANSI escape sequences (OpenCASCADE colours its STEP statistics).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates, then one final byte in @..~.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What FreeCAD prints when it cannot start a thread (the address-space or
/// process limit). Its mesh export then waits forever for that thread's work,
/// so the run is stopped at once instead of at the wall-clock limit.
pub const STALL_MARKER: &[u8] = b"QThread::start: Thread creation error";

/// Why the output says the run must stop now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// FreeCAD could not start a thread ([`STALL_MARKER`]).
    Stalled,
    /// The output passed its limit.
    Output,
}

/// Watches the output for [`STALL_MARKER`], across chunk boundaries, and
/// counts it against the output limit.
struct StallWatch {
    stop: Option<oneshot::Sender<Stop>>,
    window: Vec<u8>,
    total: u64,
    limit: u64,
}

impl StallWatch {
    fn scan(&mut self, chunk: &[u8]) {
        if self.stop.is_none() {
            return;
        }
        self.total += chunk.len() as u64;
        if self.total > self.limit {
            if let Some(stop) = self.stop.take() {
                let _ = stop.send(Stop::Output);
            }
            return;
        }
        self.window.extend_from_slice(chunk);
        if self.window.windows(STALL_MARKER.len()).any(|w| w == STALL_MARKER) {
            if let Some(stop) = self.stop.take() {
                let _ = stop.send(Stop::Stalled);
            }
        }
        let keep = STALL_MARKER.len() - 1;
        let excess = self.window.len().saturating_sub(keep);
        self.window.drain(..excess);
    }
}

/// Read both pipes until they close. Once `exited` fires, wait at most
/// `grace` more: a descendant that escaped the process group could keep a
/// pipe open forever. `stop` fires when FreeCAD reports a thread it could
/// not start, or when more than `output_limit` bytes were printed.
pub async fn capture(
    stdout: impl AsyncRead + Unpin,
    stderr: impl AsyncRead + Unpin,
    exited: oneshot::Receiver<()>,
    grace: Duration,
    stop: oneshot::Sender<Stop>,
    output_limit: u64,
) -> LogCapture {
    let mut log = LogCapture::default();
    let mut watch = StallWatch {
        stop: Some(stop),
        window: Vec::new(),
        total: 0,
        limit: output_limit,
    };
    let (mut out, mut err) = (Some(stdout), Some(stderr));
    let (mut out_buf, mut err_buf) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    let mut exited = exited;
    let mut exit_seen = false;
    let deadline = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(deadline);
    while out.is_some() || err.is_some() {
        tokio::select! {
            r = read_some(&mut out, &mut out_buf) => match r {
                Some(n) => {
                    watch.scan(&out_buf[..n]);
                    log.push(&out_buf[..n]);
                }
                None => out = None,
            },
            r = read_some(&mut err, &mut err_buf) => match r {
                Some(n) => {
                    watch.scan(&err_buf[..n]);
                    log.push(&err_buf[..n]);
                }
                None => err = None,
            },
            _ = &mut exited, if !exit_seen => {
                exit_seen = true;
                deadline.as_mut().reset(tokio::time::Instant::now() + grace);
            }
            () = &mut deadline, if exit_seen => break,
        }
    }
    log
}

/// One read from an open pipe; `None` at end of file or on error. Pends
/// forever on a closed one so `select!` ignores it.
async fn read_some<R: AsyncRead + Unpin>(pipe: &mut Option<R>, buf: &mut [u8]) -> Option<usize> {
    match pipe {
        Some(p) => match p.read(buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => Some(n),
        },
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spots_a_stall_split_across_reads() {
        let (tx, mut rx) = oneshot::channel();
        let mut watch = StallWatch {
            stop: Some(tx),
            window: Vec::new(),
            total: 0,
            limit: u64::MAX,
        };
        watch.scan(b"Recompute... QThread::start: Thread cre");
        assert!(rx.try_recv().is_err());
        watch.scan(b"ation error (Resource temporarily unavailable)\n");
        assert_eq!(rx.try_recv(), Ok(Stop::Stalled));
        watch.scan(b"more output");
    }

    #[test]
    fn stops_a_run_past_the_output_limit() {
        let (tx, mut rx) = oneshot::channel();
        let mut watch = StallWatch {
            stop: Some(tx),
            window: Vec::new(),
            total: 0,
            limit: 1000,
        };
        watch.scan(&[b'x'; 600]);
        assert!(rx.try_recv().is_err());
        watch.scan(&[b'x'; 600]);
        assert_eq!(rx.try_recv(), Ok(Stop::Output));
    }

    #[test]
    fn keeps_head_and_tail_of_a_flood() {
        let mut log = LogCapture::default();
        let chunk = vec![b'x'; 100_000];
        for _ in 0..1000 {
            log.push(&chunk);
        }
        log.push(b"Traceback: the end");
        let text = log.finish(Path::new("/nowhere"));
        assert!(text.len() <= HEAD_BYTES + TAIL_BYTES + 100, "{}", text.len());
        assert!(text.ends_with("Traceback: the end"));
        assert!(text.contains("bytes of output omitted"));
    }

    #[test]
    fn small_output_is_kept_whole_and_cleaned() {
        let mut log = LogCapture::default();
        log.push(b"\x1b[32;1m Step File Name : /jobs/job-1/out/M.STEP\x1b[0m\n");
        log.push(b"cwd /jobs/job-1\n");
        let text = log.finish(Path::new("/jobs/job-1"));
        assert_eq!(text, " Step File Name : out/M.STEP\ncwd .\n");
    }

    #[tokio::test]
    async fn stops_waiting_after_the_grace_period() {
        let (_keep_open, reader) = tokio::io::duplex(64);
        let (tx, rx) = oneshot::channel();
        tx.send(()).unwrap();
        let (stall_tx, _stall_rx) = oneshot::channel();
        let started = std::time::Instant::now();
        let log = capture(
            reader,
            tokio::io::empty(),
            rx,
            Duration::from_millis(50),
            stall_tx,
            u64::MAX,
        )
        .await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(log.finish(Path::new("/x")), "");
    }
}
