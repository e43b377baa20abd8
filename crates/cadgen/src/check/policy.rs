//! What untrusted FreeCAD scripts may use: the import allow-list and the
//! names and attributes that reach files, processes, the network or
//! dynamic code. Kept apart from the AST walk so the policy reads as data.

/// Top-level modules a script may import.
pub const ALLOWED_MODULES: &[&str] = &[
    "FreeCAD",
    "Part",
    "Mesh",
    "MeshPart",
    "Sketcher",
    "Draft",
    "math",
    "itertools",
    "functools",
    "collections",
    "typing",
];

/// Built-ins and globals that run code, read input or expose interpreter
/// internals; any reference is refused, not only calls, so they cannot be
/// aliased (`e = eval`).
const FORBIDDEN_NAMES: &[(&str, &str)] = &[
    ("open", "opens files"),
    ("exec", "runs dynamic code"),
    ("eval", "runs dynamic code"),
    ("compile", "builds dynamic code"),
    ("globals", "exposes the interpreter's namespaces"),
    ("locals", "exposes the interpreter's namespaces"),
    ("vars", "exposes the interpreter's namespaces"),
    ("input", "reads standard input"),
    ("breakpoint", "starts a debugger"),
    ("help", "starts an interactive helper"),
    ("exit", "stops the interpreter"),
    ("quit", "stops the interpreter"),
    ("memoryview", "gives raw memory access"),
    ("FreeCADGui", "is the GUI, which scripts must not drive"),
    ("Gui", "is the GUI, which scripts must not drive"),
];

/// Names of modules that reach the system. They cannot be imported, but a
/// host namespace might already hold them, so referring to them is refused.
const SYSTEM_MODULES: &[&str] = &[
    "os",
    "sys",
    "subprocess",
    "socket",
    "shutil",
    "importlib",
    "builtins",
    "ctypes",
    "pathlib",
    "io",
    "signal",
    "threading",
    "multiprocessing",
    "pickle",
    "marshal",
    "tempfile",
    "glob",
    "urllib",
    "http",
    "requests",
    "posix",
    "nt",
    "code",
    "codeop",
    "runpy",
    "inspect",
    "gc",
    "platform",
    "pty",
    "select",
];

/// Attribute calls that turn a literal string into an attribute access.
pub const ATTRIBUTE_BUILTINS: &[&str] = &["getattr", "setattr", "delattr"];

/// FreeCAD (and Python) attributes that touch files, settings, the GUI or
/// other documents' storage, matched exactly.
const FORBIDDEN_ATTRIBUTES: &[&str] = &[
    "open",
    "openDocument",
    "insert",
    "ParamGet",
    "ConfigGet",
    "ConfigSet",
    "ConfigDump",
    "addImportType",
    "addExportType",
    "closeDocument",
    "Gui",
    "FreeCADGui",
    "system",
    "popen",
    "eval",
    "exec",
    "compile",
];

/// Attribute prefixes for the same, e.g. `exportStep`, `saveAs`, `readShape`.
const FORBIDDEN_ATTRIBUTE_PREFIXES: &[&str] = &["export", "import", "save", "load", "read", "write", "restore"];

/// True for `__name__`-style identifiers.
pub fn is_dunder(name: &str) -> bool {
    name.len() > 4 && name.starts_with("__") && name.ends_with("__")
}

/// Why a bare name is refused, if it is.
pub fn forbidden_name(name: &str) -> Option<String> {
    if let Some((_, why)) = FORBIDDEN_NAMES.iter().find(|(n, _)| *n == name) {
        return Some(format!("`{name}` is not allowed: it {why}"));
    }
    if SYSTEM_MODULES.contains(&name) {
        return Some(format!("`{name}` is not allowed: system modules are off limits"));
    }
    // `__name__` is harmless and common in `if __name__ == "__main__"`.
    if is_dunder(name) && name != "__name__" {
        return Some(format!(
            "`{name}` is not allowed: dunder names reach interpreter internals"
        ));
    }
    None
}

/// Why an attribute is refused, if it is.
pub fn forbidden_attribute(attr: &str) -> Option<&'static str> {
    if is_dunder(attr) {
        return Some("dunder attributes reach interpreter internals");
    }
    let exact = FORBIDDEN_ATTRIBUTES.contains(&attr);
    let prefixed = FORBIDDEN_ATTRIBUTE_PREFIXES.iter().any(|p| attr.starts_with(p));
    (exact || prefixed).then_some("it touches files, settings, the GUI or running code; exporting is the harness's job")
}

/// Whether `module` (possibly dotted) may be imported.
pub fn module_allowed(module: &str) -> bool {
    let top = module.split('.').next().unwrap_or(module);
    ALLOWED_MODULES.contains(&top)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_names_and_attributes() {
        assert!(forbidden_name("eval").is_some());
        assert!(forbidden_name("os").is_some());
        assert!(forbidden_name("__builtins__").is_some());
        assert!(forbidden_name("__name__").is_none());
        assert!(forbidden_name("shape").is_none());
        assert!(forbidden_attribute("exportStep").is_some());
        assert!(forbidden_attribute("saveAs").is_some());
        assert!(forbidden_attribute("__class__").is_some());
        assert!(forbidden_attribute("makeBox").is_none());
        assert!(forbidden_attribute("insertKnot").is_none());
        assert!(module_allowed("FreeCAD"));
        assert!(!module_allowed("FreeCADGui"));
        assert!(!module_allowed("os.path"));
    }
}
