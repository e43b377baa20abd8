//! Landlock: the kernel's unprivileged file-system (and, from ABI 4, TCP)
//! access control.
//!
//! This is the layer that holds against FreeCAD's own C++ file APIs
//! (`exportStep("/tmp/x")`, `Part.read("/etc/…")`), which never pass through
//! the harness's Python audit hook. The ruleset is built in the parent, where
//! allocating is fine, and applied in the forked child with raw syscalls only.

use std::ffi::CString;
use std::io;
use std::mem::size_of;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

// Access rights, from <linux/landlock.h>.
pub const EXECUTE: u64 = 1 << 0;
pub const WRITE_FILE: u64 = 1 << 1;
pub const READ_FILE: u64 = 1 << 2;
pub const READ_DIR: u64 = 1 << 3;
pub const TRUNCATE: u64 = 1 << 14;
const IOCTL_DEV: u64 = 1 << 15;
/// Rights that make sense on a file rather than a directory; the kernel
/// rejects directory rights on a file rule.
const FILE_RIGHTS: u64 = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV;

const CREATE_RULESET_VERSION: u32 = 1 << 0;
/// The path-beneath rule type (also for [`RulesetPlan`]s).
pub const RULE_PATH_BENEATH: libc::c_int = 1;
const NET_BIND_TCP: u64 = 1 << 0;
const NET_CONNECT_TCP: u64 = 1 << 1;
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// The Landlock ABI version of the running kernel, `None` when Landlock is
/// compiled out, disabled at boot or filtered by seccomp.
pub fn abi_version() -> Option<u32> {
    // SAFETY: with a null attribute, size 0 and the VERSION flag the syscall
    // only reports the ABI version; it changes nothing.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(v).ok().filter(|&v| v >= 1)
}

/// All file-system rights the given ABI knows.
fn handled_fs(abi: u32) -> u64 {
    match abi {
        1 => (1 << 13) - 1,
        2 => (1 << 14) - 1,
        3 | 4 => (1 << 15) - 1,
        _ => (1 << 16) - 1,
    }
}

#[derive(Debug)]
struct Rule {
    path: CString,
    access: u64,
}

/// A ruleset ready to apply: everything not allowed by a rule is denied.
#[derive(Debug)]
pub struct Ruleset {
    attr: RulesetAttr,
    attr_size: usize,
    rules: Vec<Rule>,
}

impl Ruleset {
    /// Deny every file access the ABI can express, every TCP bind/connect
    /// (ABI 4+), and signals or abstract sockets towards processes outside
    /// the sandbox (ABI 6+).
    pub fn new(abi: u32) -> Self {
        let (handled_access_net, scoped, attr_size) = match abi {
            1..=3 => (0, 0, size_of::<u64>()),
            4 | 5 => (NET_BIND_TCP | NET_CONNECT_TCP, 0, 2 * size_of::<u64>()),
            _ => (
                NET_BIND_TCP | NET_CONNECT_TCP,
                SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL,
                size_of::<RulesetAttr>(),
            ),
        };
        Self {
            attr: RulesetAttr {
                handled_access_fs: handled_fs(abi),
                handled_access_net,
                scoped,
            },
            attr_size,
            rules: Vec::new(),
        }
    }

    /// Allow `access` on `path` and, for a directory, everything beneath it.
    /// Missing paths are skipped: not every system has `/lib64`.
    pub fn allow(&mut self, path: &Path, access: u64) {
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        let mut access = access & self.attr.handled_access_fs;
        if !meta.is_dir() {
            access &= FILE_RIGHTS;
        }
        if let Ok(path) = CString::new(path.as_os_str().as_bytes()) {
            self.rules.push(Rule { path, access });
        }
    }

    /// Allow every right the ABI knows on `path` (the job directory).
    pub fn allow_all(&mut self, path: &Path) {
        self.allow(path, u64::MAX);
    }

    /// Restrict the calling process. Runs in the forked child before exec:
    /// syscalls only, no allocation.
    pub fn apply(&self) -> io::Result<()> {
        // SAFETY: plain syscalls on memory owned by `self`; every descriptor
        // opened here is closed before returning.
        unsafe {
            let ruleset = libc::syscall(
                libc::SYS_landlock_create_ruleset,
                &self.attr as *const RulesetAttr,
                self.attr_size,
                0u32,
            );
            if ruleset < 0 {
                return Err(io::Error::last_os_error());
            }
            let ruleset = ruleset as libc::c_int;
            let result = self.add_rules(ruleset).and_then(|()| {
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                    || libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0u32) != 0
                {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
            libc::close(ruleset);
            result
        }
    }

    unsafe fn add_rules(&self, ruleset: libc::c_int) -> io::Result<()> {
        for rule in &self.rules {
            let fd = libc::open(rule.path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
            if fd < 0 {
                continue; // vanished since the ruleset was built: nothing to allow
            }
            let attr = PathBeneathAttr {
                allowed_access: rule.access,
                parent_fd: fd,
            };
            let r = libc::syscall(
                libc::SYS_landlock_add_rule,
                ruleset,
                RULE_PATH_BENEATH,
                &attr as *const PathBeneathAttr,
                0u32,
            );
            let err = io::Error::last_os_error();
            libc::close(fd);
            if r != 0 {
                return Err(err);
            }
        }
        Ok(())
    }
}

/// A ruleset as data, for a process that applies it itself (the warm
/// executor's forked children): the `landlock_ruleset_attr` bytes the ABI
/// takes and the `(path, access)` rules.
#[derive(Debug, serde::Serialize)]
pub struct RulesetPlan {
    pub attr: Vec<u8>,
    pub rules: Vec<(String, u64)>,
}

impl Ruleset {
    pub fn plan(&self) -> RulesetPlan {
        let attr = self.attr;
        let bytes: Vec<u8> = [attr.handled_access_fs, attr.handled_access_net, attr.scoped]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .take(self.attr_size)
            .collect();
        RulesetPlan {
            attr: bytes,
            rules: self
                .rules
                .iter()
                .map(|r| (r.path.to_string_lossy().into_owned(), r.access))
                .collect(),
        }
    }
}

/// The ELF interpreter (`PT_INTERP`, e.g. the dynamic loader) of an
/// executable, which needs the execute right too. `None` for scripts and
/// static binaries.
pub fn elf_interpreter(exe: &Path) -> Option<std::path::PathBuf> {
    let data = std::fs::read(exe).ok()?;
    // 64-bit little-endian ELF only; that is every platform FreeCAD ships for.
    if data.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(data.get(o..o + 2)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(data.get(o..o + 8)?.try_into().ok()?));
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);
    (0..phnum).find_map(|i| {
        let ph = phoff + i * phentsize;
        const PT_INTERP: u32 = 3;
        if u32::from_le_bytes(data.get(ph..ph + 4)?.try_into().ok()?) != PT_INTERP {
            return None;
        }
        let offset = usize::try_from(u64_at(ph + 0x08)?).ok()?;
        let size = usize::try_from(u64_at(ph + 0x20)?).ok()?;
        let raw = data.get(offset..offset + size)?;
        let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
        Some(std::path::PathBuf::from(std::ffi::OsStr::from_bytes(raw)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_loader_of_a_dynamic_binary() {
        // /bin/sh is dynamically linked on every glibc system.
        let Some(interp) = elf_interpreter(Path::new("/bin/sh")) else {
            return;
        };
        assert!(interp.is_absolute(), "{interp:?}");
        assert!(interp.to_string_lossy().contains("ld"), "{interp:?}");
    }

    #[test]
    fn scripts_have_no_interpreter() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("run.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        assert_eq!(elf_interpreter(&script), None);
    }

    #[test]
    fn file_rules_drop_directory_rights() {
        let mut rules = Ruleset::new(3);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        rules.allow(&file, READ_FILE | READ_DIR);
        rules.allow(dir.path(), READ_FILE | READ_DIR);
        rules.allow(&dir.path().join("missing"), READ_FILE);
        assert_eq!(rules.rules.len(), 2);
        assert_eq!(rules.rules[0].access, READ_FILE);
        assert_eq!(rules.rules[1].access, READ_FILE | READ_DIR);
        assert_eq!(rules.attr.handled_access_net, 0);
        assert_eq!(Ruleset::new(4).attr.handled_access_net, NET_BIND_TCP | NET_CONNECT_TCP);
    }
}
