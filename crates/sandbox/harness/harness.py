"""CADScribe harness: runs one user script inside `freecadcmd` and exports it.

`freecadcmd harness.py` executes this file with FreeCAD's embedded Python.
Parameters come from the environment (FreeCAD's command line takes no script
arguments):

    CADSCRIBE_JOB_DIR  the job directory: the only place the script may write
    CADSCRIBE_SCRIPT   the user's script (inside the job directory)
    CADSCRIBE_OUT      where the exports and result.json go (inside the job dir)
    CADSCRIBE_LOG      a log file (inside the job dir) that gets a copy of all
                       Python output, capped; the process's stdout/stderr carry
                       the same text for whoever watches them
    CADSCRIBE_MODEL_NAME  the name the model carries inside its files (the
                       STEP product, the FreeCAD document and part, the glTF
                       node): printable ASCII, derived from the project's name

Outcome: `<out>/result.json`, always written unless the process is killed:

    {"ok": true, "metrics": {...}, "files": {"FCStd": "MyHeadlessModel.FCStd", ...}}
    {"ok": false, "kind": "script_error", "error": "...", "traceback_tail": "...",
     "class": "exception", "line": 12}

`class` uses the names of `FailureClass` in the Rust `domain` crate and `line`
is the script's line where it failed (null when unknown).

`kind` uses the names of `FailureKind` in the Rust `domain` crate. The exit
status is 0 for a model, 1 for a reported failure, 2 when even the report could
not be written.

From the moment the script starts, an audit hook refuses: sockets and other
network clients; creating processes (subprocess, os.system, os.exec*,
os.spawn*, os.posix_spawn, os.fork, os.forkpty, pty.spawn); signalling
processes; changing resource limits; calling C functions or touching memory
through ctypes (loading an installed library stays allowed: numpy imports
ctypes); writing outside the job directory; reading outside it, except the
Python and FreeCAD installation (so not /etc, /root, /home, /proc, /tmp).
Each refusal raises SandboxViolation and ends as `sandbox_violation`.

The hook is the informative layer, not the wall. Python code can reach
around audit hooks (an extension module written into the job directory and
imported, monkeypatching what the hook relies on), and FreeCAD's C++ file
APIs (exportStep, saveAs, Part.read...) raise no audit events. The walls are
outside this file: the worker starts it in its own network namespace, as an
unprivileged user, under Landlock file rules and resource limits.

Why writes are allowed anywhere under the job directory, for the user too:
audit hooks cannot be removed, and any "export phase" flag kept in Python
would be reachable from user code through frames, gc or module globals. So
the harness needs no privilege the script lacks: the out directory lives
inside the job directory, the harness empties it before exporting, and the
caller checks that every output is a plain file. A script that tampers with
its own outputs only spoils its own model.
"""

import _thread
import ast
import builtins
import errno
import gc
import json
import math
import os
import re
import sys
import traceback
import unicodedata

HARNESS_FILE = os.path.abspath(__file__)
SCRIPT_NAME = "script.py"
BASENAME = "MyHeadlessModel"
LOG_CAP = 4 * 1024 * 1024
TAIL_LINES = 15
# Formats and their file names; the keys are the `ModelFormat` names.
EXPORTS = {"FCStd": "FCStd", "STEP": "STEP", "STL": "STL", "OBJ": "OBJ", "GLB": "GLB", "3MF": "3MF"}


class SandboxViolation(PermissionError):
    """Raised by the audit hook when the script tries a forbidden operation."""


# Shown as plain `SandboxViolation` in tracebacks, not `harness.SandboxViolation`.
SandboxViolation.__module__ = "builtins"


class NoModel(Exception):
    """The script ran but left nothing to export."""


class HelperFailed(Exception):
    """The export helper's failure, as it classified it (`kind`)."""

    def __init__(self, kind, error):
        super().__init__(error)
        self.kind = kind


HelperFailed.__module__ = "builtins"


class Tee:
    """Copies a text stream into the capped log file."""

    def __init__(self, stream, log, before_write=None):
        self._stream = stream
        self._log = log
        self._before = before_write

    def write(self, text):
        if self._before is not None:
            self._before.flush()
        self._stream.write(text)
        self._log.write(text)
        return len(text)

    def flush(self):
        self._stream.flush()
        self._log.flush()

    def __getattr__(self, name):
        return getattr(self._stream, name)


class CappedLog:
    """A log file that stops growing at LOG_CAP characters, with a note saying so."""

    def __init__(self, path):
        self._file = open(path, "w", encoding="utf-8", errors="replace") if path else None
        self._written = 0

    def write(self, text):
        if self._file is None or self._written >= LOG_CAP:
            return
        chunk = text[: LOG_CAP - self._written]
        self._file.write(chunk)
        self._written += len(chunk)
        if self._written >= LOG_CAP:
            self._file.write("\n[log truncated]\n")
            self._file.flush()

    def flush(self):
        if self._file is not None:
            self._file.flush()


# --- the guard -------------------------------------------------------------

# Events refused outright: process creation, native code, network, and ways to
# loosen the limits the process was started with.
DENIED_EVENTS = {
    "subprocess.Popen": "starting processes",
    "os.system": "starting processes",
    "os.exec": "starting processes",
    "os.posix_spawn": "starting processes",
    "os.spawn": "starting processes",
    "os.fork": "starting processes",
    "os.forkpty": "starting processes",
    "pty.spawn": "starting processes",
    "os.startfile": "starting processes",
    "os.kill": "sending signals",
    "os.killpg": "sending signals",
    "resource.setrlimit": "changing resource limits",
    "resource.prlimit": "changing resource limits",
    "urllib.Request": "network access",
    "http.client.connect": "network access",
    "ftplib.connect": "network access",
    "smtplib.connect": "network access",
    "poplib.connect": "network access",
    "imaplib.open": "network access",
    "nntplib.connect": "network access",
    "telnetlib.Telnet.open": "network access",
    "webbrowser.open": "starting processes",
}
DENIED_PREFIXES = {"socket.": "network access"}
# ctypes may load libraries (numpy imports ctypes, which opens the main
# program), but not look up or call C functions, nor read or write memory by
# address: that would let a script call fork() or disable this hook.
CTYPES_DENIED = {
    "ctypes.dlsym",
    "ctypes.dlsym/handle",
    "ctypes.call_function",
    "ctypes.cdata",
    "ctypes.PyObj_FromPtr",
    "ctypes.string_at",
    "ctypes.wstring_at",
}
# Events whose listed arguments are paths that get modified.
WRITE_PATH_EVENTS = {
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.mkdir": (0,),
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.rename": (0, 1),
    "os.link": (0, 1),
    "os.symlink": (1,),
    "os.truncate": (0,),
    "os.utime": (0,),
    "os.setxattr": (0,),
    "os.removexattr": (0,),
    "shutil.chown": (0,),
}
READ_PATH_EVENTS = {"os.listdir": (0,), "os.scandir": (0,), "os.getxattr": (0,), "os.listxattr": (0,)}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
# Devices a script may open besides the allowed trees.
DEVICES = {"/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"}


def read_roots(job_dir):
    """The trees Python and FreeCAD load code and data from, plus the job dir.

    Deliberately absent: /etc, /root, /home, /proc, /sys, /tmp and /var.
    """
    import FreeCAD

    candidates = [
        job_dir,
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        FreeCAD.getHomePath(),
        FreeCAD.getResourceDir(),
        "/usr/lib",
        "/usr/lib64",
        "/usr/local/lib",
        "/usr/share/freecad",
        "/lib",
        "/lib64",
    ]
    # sys.path at this point holds FreeCAD's module dirs, the stdlib and the
    # job dir (HOME and the script's dir); the environment is clean.
    candidates += [p for p in sys.path if isinstance(p, str) and p]
    roots = set()
    for path in candidates:
        real = os.path.realpath(path)
        if real != "/" and os.path.isdir(real):
            roots.add(real)
    return tuple(sorted(roots))


def install_guard(job_dir, report):
    """Install the audit hook. Called just before the user's code runs.

    Returns the harness's own fork: the hook refuses `os.fork` to the
    script, but the harness splits the export of a model between two
    processes (see `build`). It is `os.fork` as it was before the script
    ran, called with the hook standing aside for that one call on this
    thread; like the rest of this layer it is a courtesy, not a wall (the
    walls allow a fork: the process limit counts it)."""
    # Captured now so that replacing os.path.realpath later changes nothing
    # here (deeper tricks remain possible; see the module comment).
    realpath = os.path.realpath
    fspath = os.fspath
    roots = read_roots(job_dir)
    job_prefix = job_dir + os.sep
    get_ident = _thread.get_ident
    fork = os.fork
    busy = set()  # threads currently inside the hook

    def under(path, root):
        return path == root or path.startswith(root + os.sep)

    def resolve(path):
        if isinstance(path, int):
            return None  # an already open descriptor
        path = fspath(path)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        return realpath(path)

    def may_write(path):
        return path is None or path == job_dir or path.startswith(job_prefix) or path == "/dev/null"

    def may_read(path):
        return path is None or path in DEVICES or any(under(path, root) for root in roots)

    def deny(what):
        report.append(what)
        try:
            sys.stderr.write("sandbox: denied %s\n" % what)
        except Exception:
            pass
        raise SandboxViolation("%s is not allowed in the sandbox" % what)

    def check(event, args):
        if event == "open":
            path, mode, flags = args
            real = resolve(path)
            writing = bool(flags & WRITE_FLAGS) if isinstance(flags, int) else False
            if isinstance(mode, str) and any(c in mode for c in "wax+"):
                writing = True
            if writing and not may_write(real):
                deny("writing %r" % (fspath(path),))
            if not writing and not may_read(real):
                deny("reading %r" % (fspath(path),))
            return
        if event in DENIED_EVENTS:
            deny(DENIED_EVENTS[event] + " (" + event + ")")
        if event in CTYPES_DENIED:
            deny("calling native code (" + event + ")")
        if event == "ctypes.dlopen":
            # Bare names come from the system's library path; a path must be
            # in the installation, never a library the script wrote itself.
            name = args[0]
            if name is not None and os.sep in fspath(name):
                real = resolve(name)
                if real == job_dir or real.startswith(job_prefix) or not may_read(real):
                    deny("loading native code from %r" % (fspath(name),))
        for prefix, what in DENIED_PREFIXES.items():
            if event.startswith(prefix):
                deny(what + " (" + event + ")")
        if event in WRITE_PATH_EVENTS:
            for i in WRITE_PATH_EVENTS[event]:
                if i < len(args) and args[i] is not None and not may_write(resolve(args[i])):
                    deny("%s %r" % (event, args[i]))
        elif event in READ_PATH_EVENTS:
            for i in READ_PATH_EVENTS[event]:
                if i < len(args) and args[i] is not None and not may_read(resolve(args[i])):
                    deny("%s %r" % (event, args[i]))

    def hook(event, args):
        # The hook runs for its own calls too (realpath, stderr writes);
        # those are trusted and must not recurse. Per thread: a flag shared
        # by all threads would let one thread open a window for another.
        me = get_ident()
        if me in busy:
            return
        busy.add(me)
        try:
            check(event, args)
        finally:
            busy.discard(me)

    sys.addaudithook(hook)

    def harness_fork():
        me = get_ident()
        busy.add(me)
        try:
            return fork()
        finally:
            busy.discard(me)

    return harness_fork


# --- what models write out of habit --------------------------------------
#
# Language models end FreeCAD scripts the way desktop macros end: fit the
# view, colour the part, export a STEP, save the document. None of it means
# anything here, and none of it needs refusing: the GUI modules are replaced
# by stand-ins whose calls do nothing, and the script's own exports and saves
# are skipped (the worker exports every format itself). Each is said once in
# the run log. The checker in front of the worker (cadgen's `is_export_call`)
# lets exactly these calls through, as direct calls only.


class Notes:
    """What the harness set aside, said once each in the run log."""

    def __init__(self):
        self.seen = set()

    def say(self, text):
        if text not in self.seen:
            self.seen.add(text)
            print("cadscribe: note: " + text)


class HeadlessGui:
    """Stand-in for FreeCADGui and ImportGui: any attribute is another
    stand-in, any call does nothing and returns one, iteration is empty."""

    def __init__(self, path, notes):
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_notes", notes)

    def __getattr__(self, name):
        return HeadlessGui("%s.%s" % (self._path, name), self._notes)

    def __call__(self, *args, **kwargs):
        self._notes.say("%s() does nothing without a GUI; ignored" % self._path)
        return HeadlessGui(self._path + "()", self._notes)

    def __setattr__(self, name, value):
        self._notes.say("%s.%s has no GUI to set; ignored" % (self._path, name))

    def __iter__(self):
        return iter(())

    def __len__(self):
        return 0

    def __bool__(self):
        return False


def is_export_call(attr):
    """Same rule as the checker's: calls that write the script's own copy."""
    return attr.startswith("export") or attr.startswith("save") or attr == "write"


def dotted(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return dotted(node.value) + "." + node.attr
    return "\u2026"


CALL = "__cadscribe_call__"


class Habits(ast.NodeTransformer):
    """Rewrites the script's exports and saves into notes, and drops the
    statements that style the part through `ViewObject` (None headless)."""

    def __init__(self):
        self.views = set()  # names bound to a ViewObject

    def styles(self, node):
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and sub.attr == "ViewObject":
                return True
            if isinstance(sub, ast.Name) and sub.id in self.views:
                return True
        return False

    def drop(self, node):
        for target in getattr(node, "targets", []):
            if isinstance(target, ast.Name):
                self.views.add(target.id)
        return ast.copy_location(ast.Pass(), node)

    def visit_Expr(self, node):
        return self.drop(node) if self.styles(node) else self.generic_visit(node)

    def visit_Assign(self, node):
        return self.drop(node) if self.styles(node) else self.generic_visit(node)

    visit_AugAssign = visit_Expr
    visit_AnnAssign = visit_Expr

    def visit_Call(self, node):
        self.generic_visit(node)
        func = node.func
        if not (isinstance(func, ast.Attribute) and is_export_call(func.attr)):
            return node
        # `recv.attr(a, *b, k=c, **d)` becomes
        # `__cadscribe_call__(recv, "attr", "recv.attr", (a, *b), {"k": c, **d})`:
        # the receiver and arguments are evaluated as before, and the call is
        # made unless it writes the model (decided on the receiver's type).
        kwargs = ast.Dict(
            keys=[None if k.arg is None else ast.Constant(value=k.arg) for k in node.keywords],
            values=[k.value for k in node.keywords],
        )
        call = ast.Call(
            func=ast.Name(id=CALL, ctx=ast.Load()),
            args=[
                func.value,
                ast.Constant(value=func.attr),
                ast.Constant(value=dotted(func)),
                ast.Tuple(elts=list(node.args), ctx=ast.Load()),
                kwargs,
            ],
            keywords=[],
        )
        return ast.copy_location(call, node)


def writes_model(obj, attr):
    """Whether `obj.attr(...)` writes the script's own copy of the model:
    every export and save; `write` only on a mesh (files and streams write
    as they always do, under the sandbox's walls)."""
    if attr != "write":
        return True
    import Mesh

    return isinstance(obj, Mesh.Mesh)


# Where the habits could be: an attribute named like an export, a save or
# `write` (spaces and line continuations allowed after the dot), or a
# ViewObject. A script with none, identifiers read as Python reads them
# (NFKC), is compiled as it is: rewriting its tree would change nothing and
# costs milliseconds per hundred lines.
HABIT_TEXT = re.compile(r"\.[\s\\]*(?:export|save|write)|ViewObject")


def prepare(source, namespace, notes):
    """The script's code, with its habits set aside (see above)."""
    prepare_namespace(namespace, notes)
    text = source if source.isascii() else unicodedata.normalize("NFKC", source)
    if not HABIT_TEXT.search(text):
        return compile(source, SCRIPT_NAME, "exec")
    return compile(rewrite_habits(ast.parse(source, SCRIPT_NAME), notes), SCRIPT_NAME, "exec")


def rewrite_habits(tree, notes):
    """The tree with its exports and saves made notes and its view styling
    dropped, each said in the run log."""
    dropped = []

    class Counting(Habits):
        def drop(self, node):
            dropped.append(node.lineno)
            return Habits.drop(self, node)

    tree = ast.fix_missing_locations(Counting().visit(tree))
    if dropped:
        lines = ", ".join(str(n) for n in sorted(set(dropped)))
        notes.say("skipped the view styling (ViewObject) on line(s) %s: there is no view headless" % lines)
    return tree


def prepare_namespace(namespace, notes):
    """The GUI stand-ins and the function rewritten calls go through."""

    def call(obj, attr, what, args, kwargs):
        if not writes_model(obj, attr):
            return getattr(obj, attr)(*args, **kwargs)
        values = list(args) + list(kwargs.values())
        path = next((v for v in values if isinstance(v, str)), None)
        target = " to %r" % path if path else ""
        notes.say("skipped %s%s: the worker exports every format itself" % (what, target))
        return None

    gui = HeadlessGui("FreeCADGui", notes)
    sys.modules["FreeCADGui"] = gui
    sys.modules["ImportGui"] = HeadlessGui("ImportGui", notes)
    namespace["Gui"] = gui
    namespace[CALL] = call


# --- failures --------------------------------------------------------------


def chain(exc):
    """The exception and everything it was raised from or during."""
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def classify(exc):
    """Map an exception to a `FailureKind` name."""
    for e in chain(exc):
        if isinstance(e, HelperFailed):
            return e.kind
    for e in chain(exc):
        if isinstance(e, SandboxViolation):
            return "sandbox_violation"
    for e in chain(exc):
        if isinstance(e, MemoryError):
            return "memory_limit"
        if isinstance(e, ImportError) and "failed to map segment" in str(e):
            return "memory_limit"  # a library did not fit in the address space
        if isinstance(e, OSError) and e.errno == errno.EFBIG:
            return "file_size_limit"
        # The process limit: fork or clone failing with EAGAIN
        # (BlockingIOError), or a thread that cannot be created.
        if isinstance(e, OSError) and e.errno == errno.EAGAIN:
            return "sandbox_violation"
        if isinstance(e, RuntimeError) and "can't start new thread" in str(e):
            return "sandbox_violation"
    return "script_error"


def strip_harness(te):
    """Remove this file's frames from a TracebackException and its chain."""
    seen = set()
    while te is not None and id(te) not in seen:
        seen.add(id(te))
        te.stack = traceback.StackSummary.from_list([f for f in te.stack if f.filename not in (HARNESS_FILE, ast.__file__)])
        te = te.__cause__ or te.__context__


def describe(exc, job_dir):
    """(error, traceback_tail) with the job directory's path removed."""

    def clean(text):
        return text.replace(job_dir + os.sep, "").replace(job_dir, ".")

    if isinstance(exc, HelperFailed):
        error = clean(str(exc))  # the helper's own "Type: message"
    else:
        error = clean("%s: %s" % (type(exc).__name__, exc)) if str(exc) else type(exc).__name__
    try:
        te = traceback.TracebackException.from_exception(exc)
        strip_harness(te)
        lines = clean("".join(te.format())).rstrip("\n").splitlines()
    except Exception:  # formatting must never hide the original failure
        lines = [error]
    return error, "\n".join(lines[-TAIL_LINES:])


def script_line(exc):
    """The script's line where `exc` happened: a syntax error's own line, else
    the innermost frame of the script in the traceback."""
    for e in chain(exc):
        if isinstance(e, SyntaxError) and e.filename == SCRIPT_NAME:
            return e.lineno
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == SCRIPT_NAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def failure_class(exc, kind):
    """The `FailureClass` name of a failure the harness saw."""
    if kind == "script_error":
        if any(isinstance(e, SyntaxError) and e.filename == SCRIPT_NAME for e in chain(exc)):
            return "syntax"
        return "no_solid" if isinstance(exc, NoModel) else "exception"
    return {"sandbox_violation": "refused", "crashed": "crash"}.get(kind, "limit")


def release_memory(exc, namespace):
    """After a MemoryError, drop what the script allocated so reporting works."""
    namespace.clear()
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename != HARNESS_FILE:
            try:
                tb.tb_frame.clear()
            except RuntimeError:  # still executing
                pass
        tb = tb.tb_next
    gc.collect()


# --- the model -------------------------------------------------------------


def collect_shape(namespace):
    """The script's model: `result` if set, else every top-level shape.

    Returns (shape, document): the document is the script's own when the
    whole model came from one document, so its feature tree (and a
    parameters spreadsheet bound to it) is what the FCStd keeps; else None."""
    import FreeCAD
    import Part

    if "result" in namespace:
        value = namespace["result"]
        items = value if isinstance(value, (list, tuple)) else [value]
        shapes = []
        for item in items:
            shape = item if isinstance(item, Part.Shape) else getattr(item, "Shape", None)
            if not isinstance(shape, Part.Shape):
                raise NoModel("`result` must be a Part.Shape (or a list of them), not %s" % type(item).__name__)
            shapes.append(shape)
        sources = set()
    else:
        shapes = []
        sources = set()
        for doc in FreeCAD.listDocuments().values():
            doc.recompute()
            for obj in doc.Objects:
                if "Invalid" in obj.State:
                    # What "Recompute failed! Please check report view" means.
                    why = obj.getStatusString() if hasattr(obj, "getStatusString") else "invalid"
                    print("cadscribe: warning: %s (%s) failed to recompute: %s" % (obj.Label, obj.TypeId, why))
                if obj.InList:
                    continue  # consumed by another feature (booleans, bodies, groups)
                try:
                    # Handles Part features, PartDesign bodies, App::Part and links.
                    shape = Part.getShape(obj)
                except Exception:
                    shape = getattr(obj, "Shape", None)
                # Sketches, datums and construction geometry carry no solid.
                if isinstance(shape, Part.Shape) and not shape.isNull() and shape.Solids:
                    shapes.append(shape)
                    sources.add(doc.Name)
    shapes = [s for s in shapes if not s.isNull()]
    if not shapes:
        raise NoModel("the script made no solid")
    shape = shapes[0] if len(shapes) == 1 else Part.makeCompound(shapes)
    if shape.isNull():
        raise NoModel("the script's shape is null")
    if not shape.Solids:
        raise NoModel("the script made no solid (its shape has %d faces and no closed volume)" % len(shape.Faces))
    document = FreeCAD.getDocument(sources.pop()) if len(sources) == 1 else None
    return without_identity_locations(shape), document


# A location's matrix as OpenCascade writes it: rows of three axes and a translation.
IDENTITY_MATRIX = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]
SHAPE_KINDS = {"Ve", "Ed", "Wi", "Fa", "Sh", "So", "CS", "Co"}


def without_identity_locations(shape):
    """The same shape with its identity placements dropped.

    Every document object applies its Placement to its shape, identity or
    not, as an OpenCascade location, and a feature built on other features
    keeps theirs inside: a gear cut by a bore carries three or four of them
    on every face and edge. OpenCascade copies and transforms a located
    curve or surface on each access, which made checking, measuring and
    exporting such a model two to four times slower than the same shape
    without them. So the shape is written out as OpenCascade's text, the
    identity matrices are taken out of its locations, and the text is read
    back: the same topology and geometry (to the 15 digits an FCStd keeps
    too), the real placements kept. Any surprise in the text (another
    OpenCascade) leaves the shape as it was, and so does a result whose
    counts or vertices differ."""
    import Part

    try:
        text = shape.exportBrepToString()
        lines = text.split("\n")
        rewritten = _drop_identity_locations(lines)
        if rewritten is None:
            return shape
        plain = Part.Shape()
        plain.importBrepFromString("\n".join(rewritten))
    except Exception:
        return shape

    def corners(s):
        # The text keeps 15 significant digits, as an FCStd does.
        return sorted((round(v.X, 9), round(v.Y, 9), round(v.Z, 9)) for v in s.Vertexes)

    def counts(s):
        return (s.ShapeType,) + tuple(s.countElement(kind) for kind in ("Solid", "Face", "Edge", "Vertex"))

    if plain.isNull() or counts(plain) != counts(shape) or corners(plain) != corners(shape):
        return shape
    return plain


def _drop_identity_locations(lines):
    """`lines` of a shape's text with its identity matrices taken out of
    every location; None when it has none. Follows the layout of
    BRepTools_ShapeSet and TopTools_LocationSet (format versions 1 to 3).

    A location is a word over elementary matrices (with powers), and two
    shapes are the same only if their words are: dropping the identity
    matrices from every word keeps equal words equal, so shared edges and
    vertices stay shared. The table of locations keeps its numbering (a
    reader adds each entry once, by value): a word that becomes empty is
    referred to as 0, one that becomes a single matrix by that matrix, one
    that becomes a word written nowhere yet by an entry added at the end."""
    header = next(line for line in lines if line.startswith("CASCADE Topology V"))
    version = int(header[len("CASCADE Topology V") :].split(",")[0])
    # An elementary location is "1" and three rows of four numbers; a
    # composite one "2" and (elementary location, power) pairs ending in 0.
    at = next(i for i, line in enumerate(lines) if line.startswith("Locations "))
    count = int(lines[at].split()[1])
    identity = {}  # elementary location -> whether it is the identity
    words = [()]  # location -> its word as written, ((elementary, power), ...)
    i = at + 1
    for k in range(1, count + 1):
        head = lines[i].split()
        if head[0] == "1":
            matrix = [float(x) for x in " ".join(lines[i + 1 : i + 4]).split()]
            identity[k] = matrix == IDENTITY_MATRIX
            words.append(((k, 1),))
            i += 4
        elif head[0] == "2" and head[-1] == "0":
            words.append(tuple(zip(map(int, head[1:-1:2]), map(int, head[2:-1:2]))))
            i += 1
        else:
            raise ValueError("unexpected location %r" % lines[i])
    if not any(identity.values()):
        return None

    def reduced(word):
        out = []
        for datum, power in word:
            if identity[datum]:
                continue
            if out and out[-1][0] == datum:
                power += out.pop()[1]
            if power:
                out.append((datum, power))
        return tuple(out)

    written = {word: k for k, word in enumerate(words) if k}
    added = []
    renumber = [0]
    for word in words[1:]:
        word = reduced(word)
        if not word:
            renumber.append(0)
        elif word in written:
            renumber.append(written[word])
        else:
            written[word] = count + len(added) + 1
            added.append("2  " + " ".join("%d %d" % pair for pair in word) + " 0")
            renumber.append(written[word])
    start = next(k for k in range(i, len(lines)) if lines[k].startswith("TShapes "))
    out = lines[:]
    out[at : i + 1] = ["Locations %d" % (count + len(added))] + lines[at + 1 : i] + added + [lines[i]]
    shift = len(out) - len(lines)  # lines added to the table
    k = start + 1

    def relocate(k, *places):
        tokens = lines[k].split()
        for place in places:
            tokens[place] = str(renumber[int(tokens[place])])
        out[k + shift] = " ".join(tokens)

    # The location is the last number of a vertex's representations, the
    # third from last of an edge's curves (1 to 3), the third from last and
    # the last of a regularity (4), the last of its polygons (5 to 7).
    uv = 1 if version >= 2 else 0  # a line of UV points after a curve on a surface
    for _ in range(int(lines[start].split()[1])):
        kind = lines[k].strip()
        k += 1
        if kind == "Ve":
            k += 2  # tolerance, point
            while lines[k].split() != ["0", "0"]:
                relocate(k, -1)
                k += 1
            k += 1
        elif kind == "Ed":
            k += 1  # tolerance, same parameter, same range, degenerated
            while lines[k].split() != ["0"]:
                rep = int(lines[k].split()[0])
                relocate(k, *{1: (-3,), 2: (-3,), 3: (-3,), 4: (-3, -1)}.get(rep, (-1,)))
                k += 1 + (uv if rep in (2, 3) else 0)
            k += 1
        elif kind == "Fa":
            if lines[k].split()[0] in ("0", "1"):  # natural restriction, tolerance, surface, location
                relocate(k, -1)
            k += 1
        elif kind not in SHAPE_KINDS:
            raise ValueError("unexpected shape %r" % kind)
        while not lines[k].strip() or lines[k].startswith("2 "):  # a face's triangulation
            k += 1
        flags = lines[k].strip()
        if len(flags) != 7 or set(flags) - {"0", "1"}:
            raise ValueError("unexpected flags %r" % flags)
        k += 1
        while True:  # sub-shapes, each with its location, ten to a line, then "*"
            tokens = lines[k].split()
            relocate(k, *range(1, len(tokens) - len(tokens) % 2, 2))
            k += 1
            if tokens and tokens[-1] == "*":
                break
    while not lines[k].strip():
        k += 1
    tokens = lines[k].split()  # the shape itself
    if tokens[0] != "*":
        relocate(k, 1)
    return out


def measure(shape):
    """Volume, area, the tight box, solids and through holes; validity is
    checked apart (`build`)."""
    # The tight box: BoundBox pads curved faces (tori, fillets) by up to
    # several millimetres, which would fail the bounding-box check.
    try:
        box = shape.optimalBoundingBox()
    except Exception:
        box = shape.BoundBox
    metrics = {
        "volume": shape.Volume,
        "surface_area": shape.Area,
        "bounding_box": [box.XMin, box.YMin, box.ZMin, box.XMax, box.YMax, box.ZMax],
        "solids": len(shape.Solids),
    }
    holes = through_holes(shape)
    if holes is not None:
        metrics["through_holes"] = holes
    numbers = [metrics["volume"], metrics["surface_area"]] + metrics["bounding_box"]
    if not all(math.isfinite(x) for x in numbers):
        raise NoModel("the model's measurements are not finite numbers")
    return metrics


def mass_properties(shape):
    """The centre of mass (mm) and the matrix of inertia about it (for unit
    density, so in mm^5), combined over the solids: a compound has no mass
    properties of its own in FreeCAD. Each solid's matrix is about its own
    centre, and the parallel-axis theorem moves it to the common one. None
    (the model is still delivered, without them) when the solids have no
    volume or FreeCAD cannot compute them. Each property is a pass over the
    whole solid, so a single solid's volume (its weight among one) is not
    measured."""
    try:
        parts = []
        solids = shape.Solids
        for solid in solids:
            m = solid.MatrixOfInertia
            c = solid.CenterOfMass
            matrix = [[m.A11, m.A12, m.A13], [m.A21, m.A22, m.A23], [m.A31, m.A32, m.A33]]
            parts.append((1.0 if len(solids) == 1 else solid.Volume, [c.x, c.y, c.z], matrix))
        total = sum(v for v, _, _ in parts)
        if not parts or not total > 0:
            return None
        center = [sum(v * c[i] for v, c, _ in parts) / total for i in range(3)]
        inertia = [[0.0] * 3 for _ in range(3)]
        for volume, c, matrix in parts:
            d = [c[i] - center[i] for i in range(3)]
            dd = sum(x * x for x in d)
            for i in range(3):
                for j in range(3):
                    inertia[i][j] += matrix[i][j] + volume * ((dd if i == j else 0.0) - d[i] * d[j])
        if not all(math.isfinite(x) for x in center + [x for row in inertia for x in row]):
            return None
        return center, inertia
    except Exception:
        return None


def through_holes(shape):
    """The number of holes that go all the way through (the genus), summed
    over the closed shells: 2 - 2g = V - E + sum over faces of (2 - wires),
    degenerate edges (sphere poles, cone apexes) left out. None when the
    topology does not give a whole, non-negative number."""
    try:
        total = 0
        for solid in shape.Solids:
            for shell in solid.Shells:
                vertices = len(shell.Vertexes)
                edges = len([e for e in shell.Edges if not e.Degenerated])
                faces = sum(2 - len(f.Wires) for f in shell.Faces)
                chi = vertices - edges + faces
                if chi > 2 or chi % 2:
                    return None
                total += (2 - chi) // 2
        return total
    except Exception:
        return None


# Angular deflection of the meshes, radians: about 11 degrees between facets.
MESH_ANGLE = 0.2


def mesh_deflection(shape):
    """Linear deflection for the meshes: 0.07 % of the part's size, at most
    0.1 mm. With the angular deflection (MESH_ANGLE) it keeps a curved
    surface's mesh volume within about 0.35 % of the solid's, under the
    0.5 % every export must hold (measured: a sphere loses 0.35 %, a torus
    0.30 %, a small cone 0.27 %, a cylinder 0.16 %; the linear deflection
    decides for spheres and cones). Finer meshes cost time: an angle of
    0.1 rad made a torus 31 752 facets and 0.7 s of tessellating and
    writing, against about 9 000 facets and 0.09 s of tessellating now;
    0.25 rad and 0.1 % of the size were faster but let a sphere's mesh lose
    0.51 %."""
    diagonal = shape.BoundBox.DiagonalLength
    return min(0.1, max(0.001, diagonal * 7e-4))


def model_name():
    """The worker's name for the model, kept to printable ASCII without
    quotes or backslashes (a STEP string holds nothing else unescaped)."""
    name = os.environ.get("CADSCRIBE_MODEL_NAME", "")
    name = "".join(c for c in name if 32 <= ord(c) < 127 and c not in "'\\").strip()[:64]
    return name or BASENAME


def write_step(shape, name, path):
    """AP214 in millimetres, one product named `name`. Written through
    FreeCAD's document exporter (the product takes the part's label) from a
    document of its own, so the STEP holds the measured shape alone.

    Without the edges' parameter-space curves (pcurves): each edge keeps its
    3D curve, and readers compute a face's trimming curves from it, as they
    must for files from the many systems that leave them out. The file is
    less than half the size and written in about 45 % less time (a 50-tooth
    spur gear: 1.03 MB in 81 ms with them, 0.45 MB in 46 ms without), and
    FreeCAD reads back the same solid."""
    import FreeCAD
    import Import
    import Part

    Part.setStaticValue("write.step.unit", "MM")
    Part.setStaticValue("write.step.schema", "AP214IS")
    Part.setStaticValue("write.step.product.name", name)
    Part.setStaticValue("write.surfacecurve.mode", 0)
    header = FreeCAD.ParamGet("User parameter:BaseApp/Preferences/Mod/Part/STEP")
    header.SetInt("Unit", 0)  # millimetres
    header.SetString("Scheme", "AP214IS")
    header.SetString("Author", "CADScribe")
    header.SetString("Company", "CADScribe")
    header.SetString("Product", name)
    document = FreeCAD.newDocument("StepExport")
    try:
        feature = document.addObject("Part::Feature", "Model")
        feature.Label = name
        feature.Shape = shape
        document.recompute()
        Import.export([feature], path)
    finally:
        FreeCAD.closeDocument(document.Name)


def write_glb(mesh, path, name):
    """The mesh as binary glTF 2.0: one node, one triangle list, positions in
    metres (glTF's unit) as 32-bit floats, indices as 32-bit integers."""
    import struct

    points, facets = mesh.Topology
    positions = [c / 1000.0 for p in points for c in (p.x, p.y, p.z)]
    indices = [i for f in facets for i in f]
    pos_bytes = struct.pack("<%df" % len(positions), *positions)
    idx_bytes = struct.pack("<%dI" % len(indices), *indices)
    lows = [min(positions[k::3]) for k in range(3)] if positions else [0, 0, 0]
    highs = [max(positions[k::3]) for k in range(3)] if positions else [0, 0, 0]
    gltf = {
        "asset": {"version": "2.0", "generator": "CADScribe"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": name}],
        "meshes": [{"name": name, "primitives": [{"attributes": {"POSITION": 0}, "indices": 1, "mode": 4}]}],
        "buffers": [{"byteLength": len(pos_bytes) + len(idx_bytes)}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": len(pos_bytes), "target": 34962},
            {"buffer": 0, "byteOffset": len(pos_bytes), "byteLength": len(idx_bytes), "target": 34963},
        ],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": len(points), "type": "VEC3", "min": lows, "max": highs},
            {"bufferView": 1, "componentType": 5125, "count": len(indices), "type": "SCALAR"},
        ],
    }
    text = json.dumps(gltf, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    binary = pos_bytes + idx_bytes
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    with open(path, "wb") as f:
        f.write(struct.pack("<4sII", b"glTF", 2, total))
        f.write(struct.pack("<I4s", len(text), b"JSON") + text)
        f.write(struct.pack("<I4s", len(binary), b"BIN\0") + binary)


def clear_dir(path):
    """Empty the out dir of anything the script put there."""
    import shutil

    os.chmod(path, 0o700)
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.unlink(full)


class Helper:
    """A process forked from this one doing part of the export; its answer
    (JSON) comes back through a pipe."""

    def __init__(self, pid, fd):
        self.pid, self.fd = pid, fd

    @staticmethod
    def start(fork, work):
        """Runs `work()` in a forked process; None (the caller does the work
        itself) when no process can be made, e.g. at the process limit."""
        # Text buffered now would be written by both processes.
        sys.stdout.flush()
        sys.stderr.flush()
        r, w = os.pipe()
        try:
            pid = fork()
        except OSError:
            os.close(r)
            os.close(w)
            return None
        if pid != 0:
            os.close(w)
            return Helper(pid, r)
        try:
            os.close(r)
            try:
                data = json.dumps({"ok": True, "value": work()}, allow_nan=False)
            except BaseException as exc:  # noqa: B902 - reported like the harness's own failures
                error = "%s: %s" % (type(exc).__name__, exc)
                data = json.dumps({"ok": False, "kind": classify(exc), "error": error})
            data = data.encode("utf-8")
            while data:
                data = data[os.write(w, data) :]
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(0)  # nothing of the harness's teardown: the parent finishes the run

    def result(self):
        """The helper's value once it has exited; HelperFailed with its
        reason when it failed or died."""
        chunks = []
        while True:
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(self.fd)
        _, status = os.waitpid(self.pid, 0)
        if not chunks:
            signal = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
            how = "signal %d" % signal if signal else "exit status %d" % os.waitstatus_to_exitcode(status)
            raise HelperFailed("crashed", "the export helper died (%s)" % how)
        answer = json.loads(b"".join(chunks))
        if not answer["ok"]:
            raise HelperFailed(answer["kind"], answer["error"])
        return answer["value"]


def write_fcstd(shape, document, name, path):
    """The script's own document when the model came from one (features,
    sketches and spreadsheets stay editable in desktop FreeCAD), else a new
    document holding the shape."""
    import FreeCAD

    if document is None:
        document = FreeCAD.newDocument(BASENAME)
        feature = document.addObject("Part::Feature", "Model")
        feature.Label = name
        feature.Shape = shape
        document.recompute()
    # A copy: `saveAs` would rename the document after its file, and the
    # model is named after the project.
    document.Label = name
    document.saveCopy(path)


def write_meshes(shape, path, name):
    """STL, OBJ, 3MF and GLB from one mesh of the shape. Meshing leaves its
    triangles on the shape (and a box measured after it would be padded by
    them), so it comes after the measurements."""
    import MeshPart

    mesh = MeshPart.meshFromShape(
        Shape=shape, LinearDeflection=mesh_deflection(shape), AngularDeflection=MESH_ANGLE, Relative=False
    )
    mesh.write(path["STL"], "STL")
    mesh.write(path["OBJ"], "OBJ")
    mesh.write(path["3MF"], "3MF")
    write_glb(mesh, path["GLB"], name)


# Faces from which the checks and the STEP go to a forked helper (`build`).
SPLIT_FACES = 64


def build(shape, document, out_dir, name, fork=None):
    """The model's measurements and every format, named `name`: (metrics,
    files).

    Two processes share the work when the harness may fork (`fork`, from
    `install_guard`): a helper checks the shape's validity and writes the
    STEP, while this process measures the shape and its mass properties and
    writes the FCStd and the meshes. The halves take about as long as
    each other, so a model that is slow to export is ready much sooner when
    a core is free (the catalogue's spur gears: FreeCAD time p50 265 ms and
    at most 468 ms one after the other, p50 142 ms and at most about 240 ms
    split); under full load
    the halves share the cores like any other work, for the price of a fork.
    A shape of fewer than SPLIT_FACES faces (a plate, a flange) is checked
    and exported in a few milliseconds, less than the fork costs, so this
    process does it all, as it does without a helper."""
    clear_dir(out_dir)
    files = {fmt: "%s.%s" % (BASENAME, ext) for fmt, ext in EXPORTS.items()}
    path = {fmt: os.path.join(out_dir, f) for fmt, f in files.items()}

    def checks():
        # The most expensive check of a shape with many faces, and the
        # slowest export.
        valid = bool(shape.isValid())
        write_step(shape, name, path["STEP"])
        return valid

    split = fork is not None and len(shape.Faces) >= SPLIT_FACES
    helper = Helper.start(fork, checks) if split else None
    try:
        metrics = measure(shape)
        mass = mass_properties(shape)
        # Before meshing: the document would keep the mesh's triangles.
        write_fcstd(shape, document, name, path["FCStd"])
        write_meshes(shape, path, name)
        valid = helper.result() if helper is not None else checks()
    except BaseException:
        if helper is not None:
            try:
                helper.result()  # never left behind, whatever it answers
            except Exception:
                pass
        raise
    metrics["valid"] = valid
    if mass is not None and metrics["volume"] > 0:
        metrics["center_of_mass"], metrics["inertia"] = mass

    for fmt, full in path.items():
        if not os.path.isfile(full) or os.path.getsize(full) == 0:
            raise NoModel("exporting %s produced no file" % fmt)
    return metrics, files


# --- main ------------------------------------------------------------------


def write_result(out_dir, payload):
    tmp = os.path.join(out_dir, "result.json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f, allow_nan=False)
    os.replace(tmp, os.path.join(out_dir, "result.json"))


def run(job_dir, script_path, out_dir, name):
    import FreeCAD
    import Import  # noqa: F401
    import Part  # noqa: F401  (loaded before the guard, like everything the harness uses)
    import Mesh  # noqa: F401
    import MeshPart  # noqa: F401
    import shutil  # noqa: F401

    with open(script_path, encoding="utf-8") as f:
        source = f.read()

    doc = FreeCAD.newDocument("Model")
    FreeCAD.setActiveDocument(doc.Name)
    # A fresh namespace; FreeCAD/App are there because macros usually assume them.
    namespace = {"__name__": "__main__", "__builtins__": builtins, "FreeCAD": FreeCAD, "App": FreeCAD}
    denials = []
    try:
        code = prepare(source, namespace, Notes())
        fork = install_guard(job_dir, denials)
        try:
            exec(code, namespace)
        except SystemExit as exc:
            if exc.code not in (None, 0):  # sys.exit(0) at the end is fine
                raise
        shape, document = collect_shape(namespace)
        metrics, files = build(shape, document, out_dir, name, fork)
    except BaseException as exc:  # noqa: B902 - SystemExit and friends are script failures too
        if any(isinstance(e, MemoryError) for e in chain(exc)):
            release_memory(exc, namespace)
        kind = classify(exc)
        error, tail = describe(exc, job_dir)
        if isinstance(exc, NoModel):
            tail = ""
        if denials and kind != "sandbox_violation":
            error += " (after the sandbox denied %s)" % denials[0]
        sys.stderr.write("%s\n%s\n" % (tail or error, "cadscribe: failed (%s)" % kind))
        failure = {"ok": False, "kind": kind, "error": error, "traceback_tail": tail}
        failure["class"] = failure_class(exc, kind)
        failure["line"] = script_line(exc)
        write_result(out_dir, failure)
        return 1
    if denials:
        sys.stderr.write("cadscribe: the script caught %d sandbox denial(s)\n" % len(denials))
    write_result(out_dir, {"ok": True, "metrics": metrics, "files": files})
    print("cadscribe: built %d solid(s), volume %.3f mm3" % (metrics["solids"], metrics["volume"]))
    return 0


def main():
    env = os.environ
    job_dir = os.path.realpath(env["CADSCRIBE_JOB_DIR"])
    script_path = env["CADSCRIBE_SCRIPT"]
    out_dir = env["CADSCRIBE_OUT"]
    log = CappedLog(env.get("CADSCRIBE_LOG"))
    sys.stdout = Tee(sys.stdout, log)
    # Flushing stdout before each stderr write keeps prints and tracebacks in
    # order in the combined log, without paying for line buffering.
    sys.stderr = Tee(sys.stderr, log, before_write=sys.stdout)
    # Bytecode caches would be written next to FreeCAD's modules.
    sys.dont_write_bytecode = True
    try:
        code = run(job_dir, script_path, out_dir, model_name())
    except BaseException as exc:  # a fault of the harness or of the machine
        traceback.print_exc()
        kind = classify(exc)  # e.g. FreeCAD's libraries not fitting the memory limit
        error, tail = describe(exc, job_dir)
        failure = {
            "ok": False,
            "kind": "crashed" if kind == "script_error" else kind,
            "error": "the harness failed: " + error,
            "traceback_tail": tail,
        }
        try:
            write_result(out_dir, failure)
            code = 1
        except BaseException:
            code = 2
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        # Skip FreeCAD's teardown: nothing left to save, and threads the script
        # may have started must not outlive the report.
        os._exit(code)


# `freecadcmd harness.py` runs it (a cold run); the warm server imports it
# under this name and calls `main` in each job's child.
if __name__ != "cadscribe_harness":
    main()
