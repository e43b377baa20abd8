//! A small seccomp filter that keeps the process group reliable.
//!
//! A timeout kills the run's process group. A descendant that calls
//! `setsid()` or `setpgid()` would leave that group and outlive the run
//! (tried: a `preexec_fn` of `_posixsubprocess.fork_exec`, which raises no
//! audit event, does it). So those two fail with EPERM, as do `ptrace` and
//! `process_vm_*`, which would let a run reach into a concurrent run of the
//! same user. Everything else is allowed: the other layers handle it.

use std::io;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64

/// System calls that fail with EPERM.
const DENIED: [libc::c_long; 5] = [
    libc::SYS_setsid,
    libc::SYS_setpgid,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
];

/// x32 system calls have this bit set on x86_64; none is needed.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const LEN: usize = 4 + DENIED.len() + 2;

/// The compiled filter.
#[derive(Clone, Copy)]
pub struct Filter([libc::sock_filter; LEN]);

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Filter({} instructions)", LEN)
    }
}

const fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

const fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

impl Filter {
    /// `None` on architectures it is not written for.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    pub fn new() -> Option<Self> {
        use libc::{BPF_ABS, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
        let deny = LEN - 1;
        let allow = LEN - 2;
        let to = |from: usize, target: usize| (target - from - 1) as u8;
        let mut prog = [stmt(BPF_RET | BPF_K, libc::SECCOMP_RET_ALLOW); LEN];
        // seccomp_data: nr at offset 0, arch at offset 4. Another ABI (i386
        // through int 0x80) numbers syscalls differently: refuse it whole.
        prog[0] = stmt(BPF_LD | BPF_W | BPF_ABS, 4);
        prog[1] = jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH, 0, to(1, deny));
        prog[2] = stmt(BPF_LD | BPF_W | BPF_ABS, 0);
        prog[3] = jump(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, to(3, deny), 0);
        for (i, nr) in DENIED.iter().enumerate() {
            let at = 4 + i;
            prog[at] = jump(BPF_JMP | BPF_JEQ | BPF_K, *nr as u32, to(at, deny), 0);
        }
        prog[allow] = stmt(BPF_RET | BPF_K, libc::SECCOMP_RET_ALLOW);
        prog[deny] = stmt(BPF_RET | BPF_K, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32);
        Some(Self(prog))
    }

    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    pub fn new() -> Option<Self> {
        None
    }

    /// Whether the kernel supports seccomp filters at all.
    pub fn supported() -> bool {
        // SAFETY: PR_GET_SECCOMP only reads the calling thread's mode.
        unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 }
    }

    /// The program as `(code, jt, jf, k)` instructions, for a process that
    /// installs it itself (the warm executor's forked children).
    pub fn instructions(&self) -> Vec<(u16, u8, u8, u32)> {
        self.0.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect()
    }

    /// Install the filter on the calling process. Runs in the forked child
    /// before exec: syscalls only, the program lives on the stack.
    pub fn apply(&self) -> io::Result<()> {
        let mut prog = self.0;
        let fprog = libc::sock_fprog {
            len: LEN as libc::c_ushort,
            filter: prog.as_mut_ptr(),
        };
        // SAFETY: `fprog` points to a valid program for the duration of the call.
        let r = unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &fprog as *const libc::sock_fprog,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_stay_inside_the_program() {
        let Some(Filter(prog)) = Filter::new() else {
            return;
        };
        for (i, ins) in prog.iter().enumerate() {
            if ins.code as u32 & 0x07 == libc::BPF_JMP {
                assert!(
                    i + 1 + (ins.jt as usize) < LEN && i + 1 + (ins.jf as usize) < LEN,
                    "{i}"
                );
            }
        }
        assert_eq!(prog[LEN - 1].k, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32);
    }

    #[test]
    fn a_filtered_child_cannot_call_setsid() {
        let Some(filter) = Filter::new() else { return };
        if !Filter::supported() {
            return;
        }
        // SAFETY: the child only makes async-signal-safe calls, then _exit.
        unsafe {
            match libc::fork() {
                0 => {
                    let code = match filter.apply() {
                        Err(_) => 2,
                        Ok(()) if libc::setsid() == -1 && *libc::__errno_location() == libc::EPERM => 0,
                        Ok(()) => 1,
                    };
                    libc::_exit(code)
                }
                pid => {
                    let mut status = 0;
                    assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
                    assert!(libc::WIFEXITED(status));
                    assert_eq!(libc::WEXITSTATUS(status), 0, "setsid was not refused");
                }
            }
        }
    }
}
