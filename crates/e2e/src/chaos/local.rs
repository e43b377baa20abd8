//! The system `make run SCALE=N` started, as the nemesis sees it: service
//! instances by their pid files under `.local/run`, the broker through
//! `rabbitmqctl`, the database server and the object store by their pid
//! files; everything comes back through `deploy/stack.sh`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};
use platform::testkit::repo_root;

use super::{Cluster, FaultKind, Rng};

pub struct LocalSystem {
    root: PathBuf,
    /// Where the service programs are built (`CARGO_TARGET_DIR` or `target`).
    target: PathBuf,
    scale: u32,
    broker: bool,
    /// Whether this run stopped the broker's application and has not yet
    /// started it again.
    broker_stopped: bool,
    log: PathBuf,
}

impl LocalSystem {
    /// The system of this checkout, with `scale` instances of each worker.
    pub fn new(scale: u32) -> Self {
        let root = repo_root();
        let log = root.join(".local/logs/chaos.log");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        Self {
            target: target.canonicalize().unwrap_or(target),
            broker: rabbitmqctl(&["-q", "ping"]).is_ok(),
            broker_stopped: false,
            scale,
            log,
            root,
        }
    }

    fn run_dir(&self) -> PathBuf {
        self.root.join(".local/run")
    }

    /// The running service instances: (pid file id, service name). An
    /// instance is a pid file `<name>` or `<name>-N` whose process runs the
    /// build's program `<name>` (the stack's pieces run programs from elsewhere).
    fn instances(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(self.run_dir()) else {
            return out;
        };
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = file.strip_suffix(".pid") else { continue };
            let name = match id.rsplit_once('-') {
                Some((name, n)) if n.parse::<u32>().is_ok() => name,
                _ => id,
            };
            let Some(program) = live_pid(&entry.path(), name).and_then(program_of) else {
                continue;
            };
            if program.starts_with(&self.target) && program.file_name().is_some_and(|f| f == name) {
                out.push((id.to_owned(), name.to_owned()));
            }
        }
        out.sort();
        out
    }

    /// Runs `deploy/stack.sh <args>`, its output appended to the run's log.
    async fn stack(&self, args: &[&str]) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let status = tokio::process::Command::new("bash")
            .arg(self.root.join("deploy/stack.sh"))
            .args(args)
            .env("SCALE", self.scale.to_string())
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()
            .await
            .context("running deploy/stack.sh")?;
        if !status.success() {
            bail!(
                "deploy/stack.sh {} failed ({status}); see {}",
                args.join(" "),
                self.log.display()
            );
        }
        Ok(())
    }

    /// Kills -9 the process named by `.local/run/<id>.pid` if its command
    /// line holds `pattern`.
    fn kill9(&self, id: &str, pattern: &str) -> anyhow::Result<String> {
        let file = self.run_dir().join(format!("{id}.pid"));
        let pid = live_pid(&file, pattern).with_context(|| format!("no live {pattern} in {}", file.display()))?;
        let status = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill -9 {pid} failed");
        }
        Ok(format!("{id} (pid {pid})"))
    }
}

/// The pid in `file` if it names a live process whose command line holds
/// `pattern` (a pid file can outlive its process, and pids are reused).
fn live_pid(file: &Path, pattern: &str) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(file).ok()?.trim().parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    String::from_utf8_lossy(&cmdline).contains(pattern).then_some(pid)
}

/// The program process `pid` runs, as a canonical path.
fn program_of(pid: u32) -> Option<PathBuf> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let argv0 = cmdline.split(|b| *b == 0).next()?;
    PathBuf::from(String::from_utf8_lossy(argv0).into_owned())
        .canonicalize()
        .ok()
}

fn rabbitmqctl(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("timeout")
        .arg("60")
        .arg("rabbitmqctl")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("running rabbitmqctl")?;
    if !status.success() {
        bail!("rabbitmqctl {} failed ({status})", args.join(" "));
    }
    Ok(())
}

async fn rabbitmqctl_async(args: &'static [&'static str]) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || rabbitmqctl(args)).await?
}

impl Cluster for LocalSystem {
    fn kinds(&self) -> Vec<FaultKind> {
        let mut kinds = vec![FaultKind::Service];
        if self.broker {
            kinds.push(FaultKind::Broker);
        }
        let run = self.run_dir();
        if live_pid(&run.join("secantusdb.pid"), "secantusd").is_some() {
            kinds.push(FaultKind::Database);
        }
        if live_pid(&run.join("garage.pid"), "garage").is_some() {
            kinds.push(FaultKind::ObjectStore);
        }
        kinds
    }

    async fn break_one(&mut self, kind: FaultKind, rng: &mut Rng) -> anyhow::Result<String> {
        match kind {
            FaultKind::Service => {
                let instances = self.instances();
                if instances.is_empty() {
                    bail!("no service instance is running");
                }
                let (id, name) = &instances[rng.below(instances.len())];
                self.kill9(id, name)
            }
            FaultKind::Broker => {
                // The broker may be the machine's own: its application is
                // stopped, never the node, and `heal_all` starts it in any case.
                self.broker_stopped = true;
                rabbitmqctl_async(&["-q", "stop_app"]).await?;
                Ok("rabbitmq".into())
            }
            FaultKind::Database => self.kill9("secantusdb", "secantusd"),
            FaultKind::ObjectStore => self.kill9("garage", "garage"),
        }
    }

    async fn mend(&mut self, kind: FaultKind) -> anyhow::Result<()> {
        match kind {
            FaultKind::Service => self.stack(&["services-up"]).await,
            FaultKind::Broker => {
                rabbitmqctl_async(&["-q", "start_app"]).await?;
                self.broker_stopped = false;
                Ok(())
            }
            FaultKind::Database => self.stack(&["up", "mongodb"]).await,
            FaultKind::ObjectStore => self.stack(&["up", "s3"]).await,
        }
    }

    async fn heal_all(&mut self) -> anyhow::Result<()> {
        if self.broker_stopped || self.broker {
            rabbitmqctl_async(&["-q", "start_app"]).await?;
            self.broker_stopped = false;
        }
        self.stack(&["up"]).await?;
        self.stack(&["services-up"]).await
    }
}
