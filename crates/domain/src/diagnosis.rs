//! Why a run failed, said the way a person files a bug: a class, the line of
//! the script and its text, FreeCAD's console messages, and one suggestion.
//! The job view, the web client and the repair prompt all read it.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::messages::FailureKind;

/// What kind of failure, from the script's first character to the check of
/// the built model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// Not valid Python.
    Syntax,
    /// Refused by the script contract (the checker) or by the sandbox.
    Refused,
    /// The script raised an exception (FreeCAD's or Python's).
    Exception,
    /// The script ran but left no solid.
    NoSolid,
    /// The solid is invalid or not closed, or there is more than one.
    InvalidSolid,
    /// The model does not measure what was asked.
    Verification,
    /// Time, memory, file-size, output or process limits.
    Limit,
    /// FreeCAD itself died.
    Crash,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Syntax => "syntax",
            Self::Refused => "refused",
            Self::Exception => "exception",
            Self::NoSolid => "no_solid",
            Self::InvalidSolid => "invalid_solid",
            Self::Verification => "verification",
            Self::Limit => "limit",
            Self::Crash => "crash",
        }
    }

    /// The class of a run failure the worker reported as `kind`; a script
    /// error is an exception unless the harness knew better.
    pub fn of_kind(kind: FailureKind) -> Self {
        match kind {
            FailureKind::ScriptError => Self::Exception,
            FailureKind::Timeout | FailureKind::MemoryLimit | FailureKind::FileSizeLimit | FailureKind::OutputLimit => {
                Self::Limit
            }
            FailureKind::SandboxViolation => Self::Refused,
            FailureKind::Crashed => Self::Crash,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Syntax => "Syntax error",
            Self::Refused => "Refused",
            Self::Exception => "FreeCAD exception",
            Self::NoSolid => "No solid produced",
            Self::InvalidSolid => "Invalid solid",
            Self::Verification => "Verification failed",
            Self::Limit => "Limit reached",
            Self::Crash => "FreeCAD crashed",
        }
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// Most console lines a diagnosis keeps.
pub const MAX_CONSOLE_LINES: usize = 12;

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Diagnosis {
    pub class: FailureClass,
    /// The error itself, one line.
    pub message: String,
    /// The 1-based line of the script where it failed, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// That line's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// FreeCAD's console warnings and errors during the run, and the
    /// harness's notes (skipped exports, GUI calls).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub console: Vec<String>,
    /// What to try, one line.
    pub suggestion: String,
}

impl Diagnosis {
    /// A diagnosis with the suggestion that fits `message`.
    pub fn new(class: FailureClass, message: impl Into<String>) -> Self {
        let message = first_line(&message.into());
        let suggestion = suggest(class, &message);
        Self {
            class,
            message,
            line: None,
            code: None,
            console: Vec::new(),
            suggestion,
        }
    }

    /// Points at `line` of `script` (1-based); out-of-range lines are dropped.
    pub fn at_line(mut self, line: Option<u32>, script: &str) -> Self {
        let text = line.and_then(|n| script.lines().nth((n as usize).checked_sub(1)?));
        self.line = text.and(line);
        self.code = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        self
    }

    pub fn with_console(mut self, console: Vec<String>) -> Self {
        self.console = console;
        self.console.truncate(MAX_CONSOLE_LINES);
        self
    }

    /// One line for lists and logs: "FreeCAD exception at line 12: …".
    pub fn headline(&self) -> String {
        match self.line {
            Some(line) => format!("{} at line {line}: {}", self.class, self.message),
            None => format!("{}: {}", self.class, self.message),
        }
    }

    /// The reason a repairing model reads: the class, the line and its
    /// text, the error, the console and the suggestion.
    pub fn for_repair(&self) -> String {
        let mut text = self.headline();
        if let Some(code) = &self.code {
            text.push_str(&format!("\n  the line: {code}"));
        }
        if !self.console.is_empty() {
            text.push_str("\n  FreeCAD said:");
            for line in &self.console {
                text.push_str(&format!("\n    {line}"));
            }
        }
        text.push_str(&format!("\n  suggestion: {}", self.suggestion));
        text
    }
}

fn first_line(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or_default().trim();
    let mut out: String = line.chars().take(500).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    out
}

/// The one-line advice for a failure, from its class and the words of its
/// error: what people and models most often get wrong in FreeCAD scripts.
pub fn suggest(class: FailureClass, message: &str) -> String {
    let m = message.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| m.contains(w));
    let text = match class {
        FailureClass::Syntax => "Fix the Python syntax on that line (brackets, colons, indentation); the script must be Python 3.",
        FailureClass::Refused if has(&["import"]) => {
            "Import only FreeCAD's modeling modules (FreeCAD, Part, PartDesign, Sketcher, Draft, Mesh) and pure computation modules (math, numpy)."
        }
        FailureClass::Refused => {
            "Build the shape only: no files, processes, network or settings; the worker exports every format itself."
        }
        FailureClass::NoSolid if has(&["faces", "no closed volume"]) => {
            "The shape is a shell or a face: extrude a closed profile, or make a solid with Part.makeSolid(Part.makeShell(faces))."
        }
        FailureClass::NoSolid => {
            "Leave the solid in the active document (doc.addObject(\"Part::Feature\", \"Part\").Shape = shape, or Part.show(shape)), or assign it to `result`."
        }
        FailureClass::InvalidSolid => {
            "Make one closed, valid solid: fuse touching parts into one, and check booleans with shape.isValid() and shape.fix(0.01, 0.01, 0.01)."
        }
        FailureClass::Verification => {
            "Build the dimensions asked for: compare the measured values with the expected ones above and correct the sizes or feature counts."
        }
        FailureClass::Limit if has(&["memory"]) => "Use fewer, simpler features: the model needs more memory than a job may use.",
        FailureClass::Limit if has(&["output", "log"]) => "Print less: the script wrote more output than a run may keep.",
        FailureClass::Limit => "Simplify the model (fewer booleans, coarser patterns, no long loops) so it builds within the job's limits.",
        FailureClass::Crash => "FreeCAD crashed: simplify the operation on that line (a boolean or fillet on a complex shape) and try again.",
        FailureClass::Exception if has(&["null shape"]) => {
            "An operation made an empty shape: check that the cutting tool overlaps the solid and that the profile is closed."
        }
        FailureClass::Exception if has(&["command not done", "brep_api", "fillet", "chamfer"]) => {
            "A fillet, chamfer or boolean failed: use a smaller radius than the edges allow, or apply it before cutting holes."
        }
        FailureClass::Exception if has(&["nameerror", "is not defined"]) => {
            "A name is used before it is defined or imported: define it, or import the module it comes from."
        }
        FailureClass::Exception if has(&["nonetype"]) => {
            "Something is None: a document, object or view that does not exist headless; create the document with App.newDocument and use the object you made."
        }
        FailureClass::Exception if has(&["attributeerror", "has no attribute"]) => {
            "That attribute does not exist in FreeCAD 0.20's API: check the name and the object's type."
        }
        FailureClass::Exception if has(&["wire", "not closed", "closed"]) => {
            "A profile is not closed: make the last point equal to the first (Part.makePolygon([... , first])) before making a face."
        }
        FailureClass::Exception if has(&["typeerror", "argument"]) => {
            "A function got the wrong arguments: FreeCAD wants Vector(x, y, z) for points and floats in millimetres."
        }
        FailureClass::Exception => "Read the error on that line and correct the call; every dimension is in millimetres.",
    };
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_at_the_line_and_suggests() {
        let script = "import Part\n\nshape = Part.makeBox(1, 1, 1).cut(x)\n";
        let d = Diagnosis::new(FailureClass::Exception, "NameError: name 'x' is not defined\nmore")
            .at_line(Some(3), script);
        assert_eq!(d.line, Some(3));
        assert_eq!(d.code.as_deref(), Some("shape = Part.makeBox(1, 1, 1).cut(x)"));
        assert_eq!(d.message, "NameError: name 'x' is not defined");
        assert!(d.suggestion.contains("defined"), "{}", d.suggestion);
        assert_eq!(
            d.headline(),
            "FreeCAD exception at line 3: NameError: name 'x' is not defined"
        );
        let far = Diagnosis::new(FailureClass::Syntax, "x").at_line(Some(99), script);
        assert_eq!((far.line, far.code), (None, None));
        let repair = d.with_console(vec!["<Part> warning".into()]).for_repair();
        assert!(
            repair.contains("the line: shape =") && repair.contains("<Part> warning") && repair.contains("suggestion:")
        );
    }

    #[test]
    fn classes_of_worker_failures() {
        assert_eq!(FailureClass::of_kind(FailureKind::Timeout), FailureClass::Limit);
        assert_eq!(
            FailureClass::of_kind(FailureKind::SandboxViolation),
            FailureClass::Refused
        );
        assert_eq!(FailureClass::of_kind(FailureKind::ScriptError), FailureClass::Exception);
        let null = Diagnosis::new(FailureClass::Exception, "Part.OCCError: Null shape");
        assert!(null.suggestion.contains("empty shape"));
    }
}
