//! The sandbox's FreeCAD cases, each run by a fresh `freecadcmd`.

const EXECUTOR: sandbox::Executor = sandbox::Executor::Cold;

include!("cases/freecad.rs");
