//! Resource limits of one FreeCAD run.
//!
//! The defaults come from measuring FreeCAD 0.20 (Debian, Python 3.11) in
//! this sandbox: below ~210 MiB of address space its libraries fail to load
//! ("failed to map segment"), around 220 MiB the mesh export cannot start its
//! thread, a plate with a hole builds in 225 MiB, and a disc with 60 holes,
//! fillets and ten fused spheres, with all four exports, in 250 MiB (given
//! `MALLOC_ARENA_MAX=2`, which the sandbox sets: glibc's per-thread arenas
//! otherwise reserve 64 MiB each). 2 GiB is eight times a typical part, room
//! for heavy booleans, while a runaway script stays far from the worker's
//! memory.

use std::time::Duration;

/// What one run may use. Every limit is enforced by the kernel or the worker,
/// not by the script's good will.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time; at the limit the whole process group is killed.
    pub wall_time: Duration,
    /// CPU time (`RLIMIT_CPU`): SIGXCPU at the limit, SIGKILL two seconds later.
    pub cpu_time: Duration,
    /// Address space in bytes (`RLIMIT_AS`).
    pub address_space: u64,
    /// Largest file the run may write, in bytes (`RLIMIT_FSIZE`).
    pub file_size: u64,
    /// Processes and threads of the sandbox user (`RLIMIT_NPROC`). Only
    /// enforced when the run drops to an unprivileged user: the kernel
    /// ignores it for root. The count is per user, so concurrent runs as the
    /// same user share it, and OpenCASCADE starts about one meshing thread
    /// per CPU: raise it on machines with many cores.
    pub processes: u64,
    /// Bytes the run may print (stdout and stderr together). A run past it
    /// is stopped at once and fails with `output_limit`: a script printing
    /// gigabytes would otherwise hold a FreeCAD slot for minutes.
    pub output: u64,
}

const MIB: u64 = 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Self {
            // Cold start is ~0.5 s; real models build in seconds. The wall
            // limit is twice the CPU one so a script blocked on nothing
            // (sleep, a lock) is still bounded.
            wall_time: Duration::from_secs(120),
            cpu_time: Duration::from_secs(60),
            address_space: 2048 * MIB,
            // An FCStd/STEP of a complex part is a few MiB; 256 MiB leaves room
            // for dense meshes.
            file_size: 256 * MIB,
            // FreeCAD runs 1–3 threads here (2 CPUs); the rest is headroom
            // for other runs as the same user at the same time.
            processes: 64,
            // A model's run prints a few KiB; FreeCAD's STEP statistics
            // and a chatty script stay far below.
            output: 16 * MIB,
        }
    }
}
