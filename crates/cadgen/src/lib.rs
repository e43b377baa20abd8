//! CADScribe's CAD generation library: a deterministic prompt → FreeCAD
//! script generator ([`template`]) and a checker for untrusted FreeCAD
//! scripts ([`check`]). Pure functions: no I/O, no async.
//!
//! # The script contract
//!
//! Every script this crate produces, and every script the worker is willing
//! to run (see [`check::check_script`]), follows this contract:
//!
//! - Plain Python 3, run by FreeCAD 0.20's `freecadcmd` through the worker's
//!   harness. Units are millimetres.
//! - Allowed imports: `FreeCAD` (usually `import FreeCAD as App`), `Part`,
//!   `Mesh`, `MeshPart`, `Sketcher`, `Draft`, `math`, `itertools`,
//!   `functools`, `collections`, `typing`, including
//!   `from FreeCAD import Vector, Placement, Rotation`.
//! - The harness creates and activates a document before running the
//!   script. The script gets it with
//!   `doc = App.ActiveDocument or App.newDocument("Model")`, builds its
//!   shapes, adds the result with
//!   `doc.addObject("Part::Feature", "Name").Shape = shape` (or
//!   `Part.show(shape)`) and calls `doc.recompute()`.
//! - The final part is one solid feature named after the part; booleans
//!   (`cut`, `fuse`) happen inside the script.
//! - The script never exports, saves, opens or prints files, and imports
//!   nothing else: exporting FCStd/STEP/STL/OBJ is the harness's job.
//! - Generated scripts start with a comment header repeating the part
//!   summary, then the parameters as named constants a person can edit.

pub mod check;
pub mod template;

pub use check::{check_script, Violation, ViolationKind};
pub use template::{generate, CatalogueEntry, Generated, NotUnderstood, CATALOGUE};
