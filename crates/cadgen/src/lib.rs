//! CADScribe's CAD generation library. Pure functions: no I/O, no async.
//!
//! - [`read`]: the offline prompt reader, prompt → [`PartSpec`], clause by
//!   clause (a base and any number of features), refusing what it cannot
//!   read with a precise [`NotUnderstood`];
//! - [`follow`]: follow-up messages ("make it 15 mm thick", "undo")
//!   applied to the previous version's spec;
//! - [`compile()`](compile::compile): the one path from a spec to a FreeCAD
//!   script and the [`Expectations`](domain::Expectations) the built model
//!   must meet;
//! - [`check`]: the checker for untrusted FreeCAD scripts;
//! - [`requirements()`](requirements::requirements): what a prompt states
//!   about a part, for verifying a script the compiler did not write.
//!
//! # The script contract
//!
//! Every script this crate produces, and every script the worker is willing
//! to run (see [`check::check_script`]), follows this contract:
//!
//! - Plain Python 3, run by FreeCAD 0.20's `freecadcmd` through the worker's
//!   harness. Units are millimetres.
//! - Allowed imports: FreeCAD's modeling modules (`FreeCAD`, usually
//!   `import FreeCAD as App`, `Part`, `PartDesign`, `Sketcher`, `Draft`,
//!   `Mesh`, `MeshPart`, `BOPTools`, `Spreadsheet`, `Import`), the GUI
//!   modules `FreeCADGui` and `ImportGui` (headless stand-ins in the
//!   harness), and pure computation modules (`math`, `numpy`, `itertools`,
//!   `collections`, …; see [`check::ALLOWED_MODULES`]).
//! - The harness creates and activates a document before running the
//!   script. The script builds its model in a document (features, or
//!   `doc.addObject("Part::Feature", "Name").Shape = shape`, or
//!   `Part.show(shape)`) or assigns it to `result`; every top-level solid
//!   is the model, which must be one solid.
//! - The script opens, reads and prints no files and reaches no processes
//!   or network. Its own exports and saves (`Part.export`, `doc.saveAs`, …)
//!   are skipped by the harness, which exports every format itself.
//! - Scripts compiled from a spec start with a comment header repeating the
//!   part summary and build parametric features whose dimensions are
//!   expressions on a `Parameters` spreadsheet (see docs/SPEC.md); one
//!   labelled result object is left at the top of the document.

use std::collections::BTreeMap;

pub mod check;
pub mod compile;
pub mod follow;
pub mod read;
pub mod requirements;

pub use check::{check_script, diagnose, Violation, ViolationKind};
pub use compile::compile;
pub use domain::spec::PartSpec;
pub use follow::follow_up;
pub use read::{generate, CatalogueEntry, CATALOGUE, MAX_PROMPT_CHARS};
pub use requirements::{contradictions, describe_requirements, requirements};

/// A part made from a prompt, a follow-up or a spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// What the part is; it compiles to `script`.
    pub spec: PartSpec,
    /// The FreeCAD Python script (see the crate docs for its contract).
    pub script: String,
    /// What the built model must measure.
    pub expected: domain::Expectations,
    /// For people: what was made, the defaults used, how bare numbers were
    /// read, and for follow-ups every change, old → new.
    pub reply: String,
    /// The part's family, e.g. `"plate"`, `"flange"`.
    pub part: String,
    /// The spec's named dimensions (mm, counts, degrees) by name.
    pub parameters: BTreeMap<String, f64>,
}

/// A prompt, follow-up or spec that could not be turned into a part. Its
/// `Display` gives the reason, then what the generator understands.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}\n\n{help}", help = read::help())]
pub struct NotUnderstood {
    /// Why it was refused, in one or two sentences.
    pub reason: String,
    /// The part family it was recognised as, if any.
    pub part: Option<String>,
    /// The question to ask when the prompt names a part but lacks a
    /// dimension it needs (asked instead of guessing).
    pub question: Option<domain::messages::Question>,
}

impl NotUnderstood {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        NotUnderstood {
            reason: reason.into(),
            part: None,
            question: None,
        }
    }
}

/// Whether `message` reads as a change to a part rather than a part: it
/// names no part but says what to change ("make it 15 mm thick", "twice as
/// long", "undo").
pub fn is_change(message: &str) -> bool {
    read::facts(message).is_ok_and(|f| f.parts.is_empty() && f.says_something())
}

/// A prompt and the follow-ups after it, each applied to the part the
/// previous message made: the part the conversation ends with, or the first
/// refusal. An empty conversation is refused like an empty prompt.
pub fn converse<'a>(messages: impl IntoIterator<Item = &'a str>) -> Result<Generated, NotUnderstood> {
    let mut messages = messages.into_iter();
    let mut part = generate(messages.next().unwrap_or_default())?;
    for message in messages {
        part = follow_up(&part.spec, message)?;
    }
    Ok(part)
}
