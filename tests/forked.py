"""The ``econdl`` command run in processes forked from one that has imported econdl already.

Starting Python and importing torch, Lightning and econdl takes about 4 CPU seconds here, more
than most command-line tests spend on their own work, and the suite runs the command a few
hundred times.  :func:`run` gives each command a process of its own, as the installed
``econdl`` script would, with its own arguments, folder, environment, output files and exit
status, but forks it from a server process (this file, run as a script) that imported econdl
once and never computed anything (so no thread pool exists in it to break in the children).

What differs from the installed script is only the interpreter's start: ``PYTHONWARNINGS``
and ``PYTHONPATH`` of the given environment are applied by hand in the child, and
``sys.argv[0]`` is the installed script's path, so that what re-runs the command (Lightning's
DDP launcher) starts the real one.  Tests of what the interpreter's start itself does
(signals sent to a running fit, ``python -m econdl``) start the installed script instead.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

ECONDL = str(Path(sys.executable).with_name("econdl"))
PRELOAD = ["econdl.main", "econdl.cli", "econdl.compare"]

_server: subprocess.Popen | None = None
_lock = threading.Lock()


def run(
    args: list[str],
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    code: str | None = None,
) -> subprocess.CompletedProcess:
    """``econdl ARGS`` in ``cwd`` (default: the current folder) with ``env`` (default: this
    process's): its exit status, stdout and stderr, like ``subprocess.run(capture_output=True,
    text=True)``.  Past ``timeout`` seconds its process group is killed and TimeoutExpired raised.
    With ``code``, the child runs that Python source as ``python -c CODE ARGS`` would instead."""
    with tempfile.TemporaryDirectory(prefix="econdl-forked-") as tmp:
        files = {name: str(Path(tmp, name)) for name in ("out", "err", "rc")}
        request = {
            "args": list(args),
            "cwd": str(cwd or os.getcwd()),
            "env": dict(os.environ if env is None else env),
            "code": code,
        }
        with _lock:
            server = _started()
            assert server.stdin is not None and server.stdout is not None
            server.stdin.write(json.dumps({**request, **files}) + "\n")
            server.stdin.flush()
            pid = int(server.stdout.readline())
        status = _wait(pid, Path(files["rc"]), time.monotonic() + timeout, [ECONDL, *args], timeout)
        out, err = (Path(files[name]).read_text(errors="replace") for name in ("out", "err"))
        if status is None:
            err += "\n(the forked econdl process ended without an exit status: it was killed by a signal)\n"
            status = -signal.SIGKILL
        return subprocess.CompletedProcess([ECONDL, *args], status, out, err)


def _started() -> subprocess.Popen:
    global _server
    if _server is None or _server.poll() is not None:
        _server = subprocess.Popen(
            [sys.executable, __file__, *PRELOAD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        atexit.register(_server.kill)
    return _server


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait(pid: int, rc: Path, deadline: float, cmd: list[str], timeout: float) -> int | None:
    """The exit status the child wrote just before it exited, or None where it was killed."""
    while _alive(pid):
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            raise subprocess.TimeoutExpired(cmd, timeout)
        time.sleep(0.02)
    return int(rc.read_text()) if rc.exists() else None


def _child(request: dict[str, Any]) -> None:
    """Become ``econdl ARGS`` in the request's folder and environment; write its exit status."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the command waits for processes of its own
    os.setsid()  # its process group is killed on a timeout, with anything it started
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    for fd, path in ((0, os.devnull), (1, request["out"]), (2, request["err"])):
        opened = os.open(path, os.O_RDONLY if fd == 0 else os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115  # not the server's, with requests it read ahead
    sys.path[:0] = [p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
    warnings.resetwarnings()
    for option in filter(None, request["env"].get("PYTHONWARNINGS", "").split(",")):
        warnings._setoption(option)  # type: ignore[attr-defined]  # what the interpreter does with -W
    sys.argv = ["-c" if request["code"] else ECONDL, *request["args"]]
    code = 0
    try:
        if request["code"]:
            exec(compile(request["code"], "<string>", "exec"), {"__name__": "__main__"})
        else:
            from econdl.main import main

            main()
    except SystemExit as exc:  # as the interpreter turns it into an exit status
        if isinstance(exc.code, int) or exc.code is None:
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    threading._shutdown()  # type: ignore[attr-defined]  # the interpreter's exit: its threads end first,
    atexit._run_exitfuncs()  # then what was registered to run at exit
    sys.stdout.flush()
    sys.stderr.flush()
    Path(request["rc"] + ".part").write_text(str(code))
    os.replace(request["rc"] + ".part", request["rc"])
    os._exit(code)


def _serve(preload: list[str]) -> None:
    for name in preload:
        __import__(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the children
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            try:
                _child(request)
            finally:
                os._exit(70)
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _serve(sys.argv[1:])
