//! Infrastructure faults. A misbehaving script is never an error here: it is
//! an [`Outcome::Failed`](crate::Outcome::Failed) in a normal report.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "FreeCAD's command-line program {cmd:?} was not found: install it \
         (Debian: `apt-get install freecad-python3`, or `make stack-up` for the dev stack) \
         or set FREECAD_CMD to the path of freecadcmd"
    )]
    FreeCadNotFound { cmd: PathBuf },

    #[error("cannot prepare the job directory under {path}: {source}")]
    JobDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "the sandbox user {uid}:{gid} cannot reach {path}: every directory above the \
         work root must be searchable by it (mode o+x)"
    )]
    WorkRootNotReachable { path: PathBuf, uid: u32, gid: u32 },

    #[error("cannot start FreeCAD ({cmd:?}): {source}")]
    Spawn {
        cmd: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("the warm FreeCAD process could not serve: {reason}")]
    WarmStart { reason: String },

    #[error("lost track of the FreeCAD process: {0}")]
    Wait(#[source] io::Error),
}
