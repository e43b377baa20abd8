//! What untrusted FreeCAD scripts may use: the import allow-list and the
//! names and attributes that reach files, processes, the network or
//! dynamic code. Kept apart from the AST walk so the policy reads as data.

/// Top-level modules a script may import: FreeCAD's modeling modules, the
/// GUI modules (which the harness replaces by headless stand-ins) and pure
/// computation modules that ship with FreeCAD's Python. None of them
/// reaches past the sandbox's kernel walls on its own.
pub const ALLOWED_MODULES: &[&str] = &[
    "FreeCAD",
    "FreeCADGui",
    "Part",
    "PartDesign",
    "Mesh",
    "MeshPart",
    "Sketcher",
    "Draft",
    "DraftGeomUtils",
    "DraftVecUtils",
    "BOPTools",
    "Spreadsheet",
    "Import",
    "ImportGui",
    "math",
    "cmath",
    "numpy",
    "random",
    "fractions",
    "decimal",
    "statistics",
    "itertools",
    "functools",
    "collections",
    "typing",
    "copy",
    "enum",
    "dataclasses",
    "operator",
    "bisect",
    "heapq",
    "numbers",
    "string",
    "re",
    "time",
];

/// Submodules of allowed modules that build or load native code, or run
/// tools: refused wherever they appear, as imports or attributes.
const FORBIDDEN_SUBMODULES: &[&str] = &["ctypeslib", "f2py", "distutils", "testing"];

/// Calls that write the script's own copy of the model (`Part.export`,
/// `shape.exportStep`, `doc.saveAs`, `mesh.write`). The worker exports
/// every format itself, so the harness skips these calls and notes it;
/// as anything but a direct call they are refused like other file access.
pub fn is_export_call(attr: &str) -> bool {
    attr.starts_with("export") || attr.starts_with("save") || attr == "write"
}

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
    // numpy's raw file access.
    "fromfile",
    "tofile",
    "genfromtxt",
    "memmap",
    "DataSource",
];

/// Attribute prefixes for the same, e.g. `exportStep`, `saveAs`, `readShape`.
const FORBIDDEN_ATTRIBUTE_PREFIXES: &[&str] = &["export", "import", "save", "load", "read", "write", "restore"];

/// Dunder names that are plain variables, not interpreter internals.
const HARMLESS_DUNDERS: &[&str] = &["__name__", "__objs__"];

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
    // `__name__` is harmless and common in `if __name__ == "__main__"`;
    // `__objs__` is the list FreeCAD's macro recorder exports from.
    if is_dunder(name) && !HARMLESS_DUNDERS.contains(&name) {
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
    if FORBIDDEN_SUBMODULES.contains(&attr) {
        return Some("it builds or loads native code or runs tools");
    }
    let exact = FORBIDDEN_ATTRIBUTES.contains(&attr);
    let prefixed = FORBIDDEN_ATTRIBUTE_PREFIXES.iter().any(|p| attr.starts_with(p));
    (exact || prefixed).then_some("it touches files, settings, the GUI or running code; exporting is the harness's job")
}

/// Whether `module` (possibly dotted) may be imported.
pub fn module_allowed(module: &str) -> bool {
    let mut parts = module.split('.');
    let top = parts.next().unwrap_or(module);
    ALLOWED_MODULES.contains(&top) && !parts.any(|p| FORBIDDEN_SUBMODULES.contains(&p))
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
        assert!(module_allowed("FreeCADGui"));
        assert!(module_allowed("numpy"));
        assert!(!module_allowed("numpy.ctypeslib"));
        assert!(forbidden_attribute("ctypeslib").is_some());
        assert!(forbidden_attribute("fromfile").is_some());
        assert!(!module_allowed("os.path"));
        assert!(is_export_call("exportStep") && is_export_call("saveAs") && is_export_call("write"));
        assert!(!is_export_call("read"));
    }
}
