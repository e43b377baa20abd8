//! Checker for untrusted FreeCAD scripts (LLM output, user uploads): parses
//! the source as Python 3 and refuses imports outside the allow-list and
//! any use of file, process, network or dynamic-code facilities.
//!
//! This is a static filter in front of the sandboxed worker, not a sandbox:
//! it keeps honest-but-wrong scripts (an LLM that "helpfully" exports a
//! STEP file) and the obvious escapes out, and reports every problem at
//! once so a generator can fix them in one round.

mod policy;
mod walk;

use std::fmt;

use rustpython_parser::{ast, Parse};

pub use policy::ALLOWED_MODULES;

/// Largest script accepted, in bytes.
pub const MAX_SCRIPT_BYTES: usize = 256 * 1024;

/// What kind of rule a [`Violation`] breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViolationKind {
    /// Larger than [`MAX_SCRIPT_BYTES`].
    TooLarge,
    /// Contains a NUL byte.
    NulByte,
    /// Not valid Python 3.
    Syntax,
    /// An import outside [`ALLOWED_MODULES`], a star or relative import.
    Import,
    /// A forbidden built-in, module or dunder name.
    Name,
    /// A forbidden attribute (files, settings, GUI, dunders).
    Attribute,
    /// A forbidden call form, e.g. `getattr` with a computed name.
    Call,
    /// Expressions nested deeper than the checker follows.
    TooDeep,
}

/// One broken rule, with the 1-based line it is on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Violation {
    pub line: usize,
    pub kind: ViolationKind,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// The diagnosis of a refused script: the first violation's class, line
/// and text; the others listed after it.
pub fn diagnose(violations: &[Violation], script: &str) -> domain::Diagnosis {
    use domain::{Diagnosis, FailureClass};
    let Some(first) = violations.first() else {
        return Diagnosis::new(FailureClass::Refused, "refused by the script check");
    };
    let class = match first.kind {
        ViolationKind::Syntax => FailureClass::Syntax,
        _ => FailureClass::Refused,
    };
    Diagnosis::new(class, &first.message)
        .at_line(u32::try_from(first.line).ok(), script)
        .with_console(violations[1..].iter().map(ToString::to_string).collect())
}

/// Stack for the checking thread. Parsing, walking and freeing the tree
/// recurse with the script's nesting, and the caller's stack is unknown
/// (async runtimes give 2 MiB), so the check brings its own. The depth
/// limits in the walk keep the worst case well inside it.
const CHECK_STACK_BYTES: usize = 16 << 20;

/// Checks an untrusted script; returns every violation found, in line order.
pub fn check_script(source: &str) -> Result<(), Vec<Violation>> {
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("cadgen-check".into())
            .stack_size(CHECK_STACK_BYTES)
            .spawn_scoped(scope, || check_on_this_thread(source));
        match worker {
            Ok(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread to be had: the depth limits still fit ordinary stacks.
            Err(_) => check_on_this_thread(source),
        }
    })
}

fn check_on_this_thread(source: &str) -> Result<(), Vec<Violation>> {
    let violation = |line, kind, message: String| Violation { line, kind, message };
    if source.len() > MAX_SCRIPT_BYTES {
        return Err(vec![violation(
            1,
            ViolationKind::TooLarge,
            format!("the script is {} bytes; the limit is {MAX_SCRIPT_BYTES}", source.len()),
        )]);
    }
    let lines = walk::LineIndex::new(source);
    if let Some(at) = source.find('\0') {
        let message = "the script contains a NUL byte".to_string();
        return Err(vec![violation(lines.line_of(at), ViolationKind::NulByte, message)]);
    }
    if let Some(line) = walk::too_deep(source) {
        let message = "this statement is too long or nested too deeply to check; split it up".to_string();
        return Err(vec![violation(line, ViolationKind::TooDeep, message)]);
    }
    let suite = match ast::Suite::parse(source, "<script>") {
        Ok(suite) => suite,
        Err(err) => {
            let line = lines.line_of(usize::from(err.offset));
            return Err(vec![violation(
                line,
                ViolationKind::Syntax,
                format!("syntax error: {}", err.error),
            )]);
        }
    };
    let mut violations = walk::walk(suite, &lines);
    if violations.is_empty() {
        return Ok(());
    }
    violations.sort_by_key(|v| v.line);
    violations.dedup();
    Err(violations)
}
