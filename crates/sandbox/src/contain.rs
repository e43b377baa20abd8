//! Operating-system containment of the FreeCAD process.
//!
//! Layers, in the order the forked child applies them before `exec`: its
//! own process group (so a timeout kills everything it started), a private
//! network namespace (root only), resource limits, Landlock rules (file
//! system, TCP, signals), the switch to an unprivileged user (root only),
//! and a seccomp filter that keeps every descendant in the process group.
//!
//! Everything the child needs is computed here in the parent; the pre-exec
//! code only issues syscalls on prepared memory, because after `fork` in a
//! multi-threaded program only async-signal-safe calls are allowed.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::landlock::{self, Ruleset};
use crate::seccomp::Filter;
use crate::Limits;

/// Which containment layers a run got. Logged, and part of every report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Containment {
    /// The run had its own network namespace: no interface but a down
    /// loopback. Needs root (CAP_SYS_ADMIN); without it only Landlock's TCP
    /// rules (ABI 4+) and the harness's audit hook keep the network away.
    pub network_namespace: bool,
    /// The Landlock ABI used to confine files, TCP and signals; `None` where
    /// the kernel offers no Landlock.
    pub landlock_abi: Option<u32>,
    /// The unprivileged uid/gid the run switched to; `None` when the worker
    /// is not root (the run keeps the worker's own user).
    pub user: Option<(u32, u32)>,
    /// A seccomp filter keeps the run from leaving its process group (so a
    /// timeout kills all of it) and from tracing other processes.
    pub seccomp: bool,
}

impl Containment {
    /// Decide the layers for this machine; `run_as` applies only to root.
    pub fn detect(run_as: Option<(u32, u32)>) -> Self {
        // SAFETY: geteuid cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        Self {
            network_namespace: root && can_unshare_network(),
            landlock_abi: landlock::abi_version(),
            user: run_as.filter(|_| root),
            seccomp: Filter::new().is_some() && Filter::supported(),
        }
    }

    pub fn describe(&self) -> String {
        let net = if self.network_namespace {
            "own network namespace"
        } else if self.landlock_abi.is_some_and(|abi| abi >= 4) {
            "no network namespace (needs root with CAP_SYS_ADMIN): TCP denied by Landlock, \
             the rest by the audit hook"
        } else {
            "no network namespace (needs root with CAP_SYS_ADMIN): network denied by the audit \
             hook only"
        };
        let fs = match self.landlock_abi {
            Some(abi) => format!("Landlock ABI {abi}"),
            None => "no Landlock: files guarded by the audit hook and permissions only".into(),
        };
        let user = match self.user {
            Some((uid, gid)) => format!("running as {uid}:{gid}"),
            None => "running as the worker's user".into(),
        };
        let seccomp = if self.seccomp {
            "seccomp"
        } else {
            "no seccomp: descendants may leave the process group"
        };
        format!("{net}; {fs}; {user}; {seccomp}")
    }
}

/// Whether `unshare(CLONE_NEWNET)` works here: tried once in a throw-away
/// child, since root in a container often lacks CAP_SYS_ADMIN.
fn can_unshare_network() -> bool {
    static PROBE: OnceLock<bool> = OnceLock::new();
    *PROBE.get_or_init(|| {
        // SAFETY: the child only calls the async-signal-safe unshare and
        // _exit; the parent waits for exactly that pid.
        unsafe {
            match libc::fork() {
                -1 => false,
                0 => libc::_exit(if libc::unshare(libc::CLONE_NEWNET) == 0 { 0 } else { 1 }),
                pid => {
                    let mut status = 0;
                    while libc::waitpid(pid, &mut status, 0) == -1 {
                        if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                            return false;
                        }
                    }
                    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
                }
            }
        }
    })
}

#[cfg(target_env = "gnu")]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type Resource = libc::c_int;

/// Everything the child does between `fork` and `exec`.
#[derive(Debug)]
pub struct ChildSetup {
    rlimits: Vec<(Resource, libc::rlim_t, libc::rlim_t)>,
    unshare_network: bool,
    landlock: Option<Ruleset>,
    user: Option<(u32, u32)>,
    seccomp: Option<Filter>,
}

/// Where a FreeCAD run may read: its installation. Not /etc, /home, /root,
/// /proc, /tmp or /var.
const READ_TREES: &[&str] = &["/usr", "/lib", "/lib64", "/bin", "/sbin"];
/// Single files the loader, glibc and TBB read at start-up. `freecadcmd`
/// crashes in `main` (Py_EncodeLocale on a null pointer) when
/// `getpwuid(getuid())` fails, so the world-readable user database must stay
/// readable at the kernel level; the audit hook still refuses it to Python.
const READ_FILES: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/sys/devices/system/cpu/online",
    "/sys/devices/system/cpu/possible",
    "/dev/urandom",
    "/dev/random",
    "/dev/zero",
];

impl ChildSetup {
    /// `freecad` is the resolved FreeCAD binary, `job_dir` the only writable
    /// place, `extra_read` more read-only trees (e.g. a FreeCAD under /opt).
    pub fn new(limits: &Limits, layers: &Containment, freecad: &Path, job_dir: &Path, extra_read: &[PathBuf]) -> Self {
        // RLIMIT_CPU counts whole seconds.
        let cpu = limits.cpu_time.as_secs_f64().ceil().max(1.0) as u64;
        let nproc = match layers.user {
            Some(_) => limits.processes,
            // The count is per real user and includes everything the worker's
            // user already runs, so the budget goes on top of that.
            // SAFETY: getuid cannot fail.
            None => limits.processes + tasks_of_user(unsafe { libc::getuid() }),
        };
        let rlimits = [
            (libc::RLIMIT_CORE, 0, 0),
            // SIGXCPU at the soft limit; SIGKILL at the hard one if ignored.
            (libc::RLIMIT_CPU, cpu, cpu + 2),
            (libc::RLIMIT_AS, limits.address_space, limits.address_space),
            (libc::RLIMIT_FSIZE, limits.file_size, limits.file_size),
            (libc::RLIMIT_NPROC, nproc, nproc),
        ]
        .into_iter()
        .map(|(resource, soft, hard)| {
            // A limit can only be lowered without privileges: never ask for
            // more than the worker itself has.
            let hard = hard.min(current_hard_limit(resource));
            (resource, soft.min(hard), hard)
        })
        .collect();
        let landlock = layers.landlock_abi.map(|abi| {
            let mut rules = Ruleset::new(abi);
            rules.allow_all(job_dir);
            for tree in READ_TREES
                .iter()
                .map(Path::new)
                .chain(extra_read.iter().map(PathBuf::as_path))
            {
                rules.allow(tree, landlock::READ_FILE | landlock::READ_DIR);
            }
            for file in READ_FILES {
                rules.allow(Path::new(file), landlock::READ_FILE);
            }
            rules.allow(
                Path::new("/dev/null"),
                landlock::READ_FILE | landlock::WRITE_FILE | landlock::TRUNCATE,
            );
            // Only FreeCAD itself may be executed: an escaped script cannot
            // start a shell even if it gets past the audit hook.
            let exec = landlock::EXECUTE | landlock::READ_FILE;
            rules.allow(freecad, exec);
            match landlock::elf_interpreter(freecad) {
                Some(loader) => rules.allow(&loader, exec),
                // A wrapper script needs its interpreter and whatever it
                // starts: fall back to executing from the installation.
                None => {
                    for tree in READ_TREES {
                        rules.allow(Path::new(tree), exec | landlock::READ_DIR);
                    }
                }
            }
            rules
        });
        Self {
            rlimits,
            unshare_network: layers.network_namespace,
            landlock,
            user: layers.user,
            seccomp: Filter::new().filter(|_| layers.seccomp),
        }
    }

    /// Runs in the child after `fork`, before `exec`: syscalls only.
    pub fn apply(&self) -> io::Result<()> {
        fn check(r: libc::c_int) -> io::Result<()> {
            if r == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        }
        // SAFETY: async-signal-safe syscalls on memory prepared by the parent.
        unsafe {
            // Its own group: the worker kills -pgid on timeout.
            check(libc::setpgid(0, 0))?;
            libc::umask(0o077);
            if self.unshare_network {
                check(libc::unshare(libc::CLONE_NEWNET))?;
            }
            // Set as root, before dropping privileges, so hard limits stick.
            for &(resource, soft, hard) in &self.rlimits {
                check(libc::setrlimit(
                    resource,
                    &libc::rlimit {
                        rlim_cur: soft,
                        rlim_max: hard,
                    },
                ))?;
            }
            if let Some(rules) = &self.landlock {
                rules.apply()?;
            }
            if let Some((uid, gid)) = self.user {
                check(libc::setgroups(0, std::ptr::null()))?;
                check(libc::setgid(gid))?;
                check(libc::setuid(uid))?;
            }
        }
        // Last: it refuses setpgid, which the first step needs.
        if let Some(filter) = &self.seccomp {
            filter.apply()?;
        }
        Ok(())
    }
}

/// [`ChildSetup`] as data for a process that contains itself: the warm
/// executor's child, forked inside FreeCAD, applies it with the same system
/// calls in the same order (`harness/warm.py`). Syscall numbers and flags
/// travel with it, so the numbers are written only here (by `libc`).
#[derive(Debug, serde::Serialize)]
pub struct Plan {
    rlimits: Vec<(i64, u64, u64)>,
    unshare_network: bool,
    landlock: Option<landlock::RulesetPlan>,
    user: Option<(u32, u32)>,
    seccomp: Option<Vec<(u16, u8, u8, u32)>>,
    syscalls: std::collections::BTreeMap<&'static str, i64>,
    constants: std::collections::BTreeMap<&'static str, i64>,
}

impl ChildSetup {
    pub fn plan(&self) -> Plan {
        Plan {
            rlimits: self
                .rlimits
                .iter()
                .map(|&(resource, soft, hard)| (resource as i64, soft, hard))
                .collect(),
            unshare_network: self.unshare_network,
            landlock: self.landlock.as_ref().map(Ruleset::plan),
            user: self.user,
            seccomp: self.seccomp.as_ref().map(Filter::instructions),
            syscalls: [
                ("landlock_create_ruleset", libc::SYS_landlock_create_ruleset),
                ("landlock_add_rule", libc::SYS_landlock_add_rule),
                ("landlock_restrict_self", libc::SYS_landlock_restrict_self),
            ]
            .into_iter()
            .collect(),
            constants: [
                ("clone_newnet", libc::CLONE_NEWNET as i64),
                ("landlock_rule_path_beneath", landlock::RULE_PATH_BENEATH as i64),
                ("pr_set_no_new_privs", libc::PR_SET_NO_NEW_PRIVS as i64),
                ("pr_set_seccomp", libc::PR_SET_SECCOMP as i64),
                ("seccomp_mode_filter", libc::SECCOMP_MODE_FILTER as i64),
            ]
            .into_iter()
            .collect(),
        }
    }
}

fn current_hard_limit(resource: Resource) -> libc::rlim_t {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    match unsafe { libc::getrlimit(resource, &mut current) } {
        0 => current.rlim_max,
        _ => libc::RLIM_INFINITY,
    }
}

/// Tasks (processes and threads) of `uid`: what RLIMIT_NPROC counts.
fn tasks_of_user(uid: u32) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter(|e| e.metadata().is_ok_and(|m| m.uid() == uid))
        .map(|e| std::fs::read_dir(e.path().join("task")).map_or(1, |t| t.count() as u64))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_tasks() {
        // SAFETY: getuid cannot fail.
        assert!(tasks_of_user(unsafe { libc::getuid() }) >= 1);
    }

    #[test]
    fn cpu_limit_rounds_up_and_hard_limit_follows() {
        let limits = Limits {
            cpu_time: std::time::Duration::from_millis(4500),
            ..Limits::default()
        };
        let layers = Containment {
            network_namespace: false,
            landlock_abi: None,
            user: Some((1, 1)),
            seccomp: false,
        };
        let setup = ChildSetup::new(&limits, &layers, Path::new("/bin/sh"), Path::new("/"), &[]);
        let cpu = setup.rlimits.iter().find(|r| r.0 == libc::RLIMIT_CPU).unwrap();
        assert_eq!((cpu.1, cpu.2), (5, 7));
        let nproc = setup.rlimits.iter().find(|r| r.0 == libc::RLIMIT_NPROC).unwrap();
        assert_eq!(nproc.1, limits.processes);
    }
}
