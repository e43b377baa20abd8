"""CADScribe warm FreeCAD server: FreeCAD loaded once, one forked child per job.

`freecadcmd warm.py` starts it, with the worker's end of a Unix socket as
file descriptor 3. The server itself never runs a user's script: it imports
FreeCAD, its workbenches and the harness once, then, for each request, forks
a child that contains itself exactly as the cold runs are contained before
`exec` (own process group, no network, resource limits, Landlock, the
unprivileged user, the seccomp filter), takes the job's environment and
directory, and runs the harness, which installs the audit hook before the
script's first line. The plan of that containment comes with the request,
computed by the worker (`sandbox::contain`), so the policy is written once.

Protocol: newline-terminated JSON both ways. The server says
`{"ready": pid}` once loaded. A request carries the job (`dir`, `env`,
`plan`) and, as SCM_RIGHTS, the write end of the pipe that becomes the
child's stdout and stderr. The server answers `{"started": pid}` after the
fork and `{"exited": {"code": c, "signal": s}}` once the child is reaped;
the worker kills the child's process group (its pid) on a timeout. The
server exits when the socket closes.
"""

import ctypes
import importlib.util
import json
import linecache
import os
import shutil
import socket
import struct
import sys

# Everything a job may use that loads slowly: loaded once here, shared by
# every child through fork.
import FreeCAD  # noqa: F401
import Part  # noqa: F401
import Mesh  # noqa: F401
import MeshPart  # noqa: F401
import Import  # noqa: F401
import Spreadsheet  # noqa: F401

CONTROL_FD = 3
# The exit status of a child whose containment failed: the job is not run,
# and the worker reports an infrastructure fault, as a failed cold spawn.
CONTAIN_FAILED = 125
PR_SET_CHILD_SUBREAPER = 36

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("cadscribe_harness", os.path.join(HERE, "harness.py"))
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)
# Tracebacks quote these files after the job's walls are up, when they can no
# longer be read: keep their lines (an entry without mtime is never rechecked).
for _name in ("harness.py", "warm.py"):
    _path = os.path.join(HERE, _name)
    with open(_path, encoding="utf-8") as _f:
        _lines = _f.read().splitlines(True)
    linecache.cache[_path] = (sum(map(len, _lines)), None, _lines, _path)
# Everything is loaded: nothing is left behind if the worker dies.
shutil.rmtree(HERE, ignore_errors=True)

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Rlimit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_ulong), ("max", ctypes.c_ulong)]


def check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


def contain(plan):
    """Apply the plan to this (forked, single-threaded) process, in the order
    and with the system calls of the cold runs' pre-exec step."""
    nr = plan["syscalls"]
    k = plan["constants"]
    if plan["unshare_network"]:
        check(libc.unshare(ctypes.c_int(k["clone_newnet"])), "unshare")
    for resource, soft, hard in plan["rlimits"]:
        check(libc.setrlimit(ctypes.c_int(resource), ctypes.byref(Rlimit(soft, hard))), "setrlimit")
    landlock = plan.get("landlock")
    if landlock:
        attr = ctypes.create_string_buffer(bytes(landlock["attr"]), len(landlock["attr"]))
        ruleset = libc.syscall(
            ctypes.c_long(nr["landlock_create_ruleset"]), attr, ctypes.c_size_t(len(landlock["attr"])), ctypes.c_uint(0)
        )
        if ruleset < 0:
            check(-1, "landlock_create_ruleset")
        try:
            for path, access in landlock["rules"]:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue  # vanished since the plan was made: nothing to allow
                try:
                    rule = ctypes.create_string_buffer(struct.pack("=Qi", access, fd), 12)
                    r = libc.syscall(
                        ctypes.c_long(nr["landlock_add_rule"]),
                        ctypes.c_int(ruleset),
                        ctypes.c_int(k["landlock_rule_path_beneath"]),
                        rule,
                        ctypes.c_uint(0),
                    )
                    check(0 if r == 0 else -1, "landlock_add_rule %s" % path)
                finally:
                    os.close(fd)
            no_new_privs(k)
            r = libc.syscall(ctypes.c_long(nr["landlock_restrict_self"]), ctypes.c_int(ruleset), ctypes.c_uint(0))
            check(0 if r == 0 else -1, "landlock_restrict_self")
        finally:
            os.close(ruleset)
    user = plan.get("user")
    if user:
        uid, gid = user
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    program = plan.get("seccomp")
    if program:
        code = b"".join(struct.pack("=HBBI", *ins) for ins in program)
        buf = ctypes.create_string_buffer(code, len(code))
        fprog = SockFprog(len(program), ctypes.cast(buf, ctypes.c_void_p))
        no_new_privs(k)
        check(
            libc.prctl(
                ctypes.c_int(k["pr_set_seccomp"]),
                ctypes.c_ulong(k["seccomp_mode_filter"]),
                ctypes.byref(fprog),
                ctypes.c_ulong(0),
                ctypes.c_ulong(0),
            ),
            "seccomp",
        )


def prctl(option, arg):
    return libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))


def no_new_privs(k):
    check(prctl(k["pr_set_no_new_privs"], 1), "no_new_privs")


def become_job(request, out_fd):
    """In the child: the job's output, directory, environment and FreeCAD
    paths, then the containment."""
    job_dir = request["dir"]
    os.setpgid(0, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    # Nothing of the server's stays open: not the control socket, not its log.
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            try:
                os.close(fd)
            except OSError:
                pass
    os.umask(0o077)
    os.chdir(job_dir)
    server_home = os.environ.get("HOME", HERE)
    os.environ.clear()
    os.environ.update(dict(request["env"]))
    # FreeCAD read its user, cache and temporary paths from the server's
    # environment at start-up: point them at the job directory, as a cold
    # FreeCAD started with HOME and TMPDIR there would have them.
    for key, value in FreeCAD.ConfigDump().items():
        if isinstance(value, str) and value.startswith(server_home):
            FreeCAD.ConfigSet(key, job_dir + value[len(server_home):])
    FreeCAD.ConfigSet("AppTempPath", job_dir + os.sep)
    # The script's directory on the module path, like `freecadcmd script.py`.
    sys.path[:] = [job_dir if p == HERE else p for p in sys.path]
    contain(request["plan"])


def child(request, out_fd):
    try:
        become_job(request, out_fd)
    except BaseException as exc:  # noqa: B902 - whatever it was, the job must not run
        try:
            os.write(2, ("cadscribe: containment failed: %s\n" % exc).encode("utf-8", "replace"))
        finally:
            os._exit(CONTAIN_FAILED)
    harness.main()  # never returns: it ends with os._exit
    os._exit(2)


def receive(sock, pending):
    """One request line and the descriptors sent with it."""
    fds = []
    while b"\n" not in pending:
        data, ancdata, _flags, _addr = sock.recvmsg(65536, socket.CMSG_SPACE(4 * 4))
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                usable = len(payload) - len(payload) % 4
                fds.extend(struct.unpack("%di" % (usable // 4), payload[:usable]))
        if not data:
            return None, fds, b""
        pending += data
    line, _, rest = pending.partition(b"\n")
    return json.loads(line), fds, rest


def send(sock, message):
    sock.sendall(json.dumps(message).encode() + b"\n")


def reap_orphans():
    """Descendants a finished job left behind are re-parented here (the
    server is a subreaper) and reaped between jobs."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve():
    # Orphans of a job come back here, not to init.
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    sock = socket.socket(fileno=CONTROL_FD)
    send(sock, {"ready": os.getpid()})
    pending = b""
    while True:
        request, fds, pending = receive(sock, pending)
        if request is None:
            return
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            send(sock, {"refused": "a request carries exactly one output descriptor"})
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            child(request, fds[0])
        os.close(fds[0])
        try:
            os.setpgid(pid, pid)  # also done by the child: whichever runs first
        except OSError:
            pass  # the child already did it, or already exited
        send(sock, {"started": pid})
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        send(
            sock,
            {
                "exited": {
                    "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                    "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                }
            },
        )
        reap_orphans()


serve()
sys.stdout.flush()
os._exit(0)
