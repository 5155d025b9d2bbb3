"""Stopping by Ctrl+C or SIGTERM: what a fit and a command of many fits (compare, sweep) do.

A fit (``econdl.callbacks.ResumeCheckpoint``) finishes its epoch, writes ``last.ckpt`` and
stops; it records the signal here.  A command that runs several fits wraps them in
:func:`driving`: its fits leave the "resume with --ckpt_path last" hint to it (a comparison
or a sweep starts its fits anew), SIGTERM stops it as Ctrl+C does (:func:`stop_on_sigterm`),
and it ends with one line (:func:`tell`): the first that any part of the command prints.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_state: dict[str, Any] = {"signal": None, "driver": None, "quiet": False, "told": False}


class Stopped(KeyboardInterrupt):
    """SIGTERM asked a command of several fits to stop (raised where Ctrl+C raises KeyboardInterrupt)."""


def request(name: str) -> None:
    """Record that signal ``name`` (``SIGINT``, ``SIGTERM``) asked this process to stop."""
    _state["signal"] = name


def requested() -> str | None:
    """The signal that asked this process to stop, if one did."""
    return _state["signal"]


def tell(line: str, show: bool = True) -> None:
    """Print the line that says how the command stopped (once: later lines are left out;
    ``show`` False: only one DDP process prints it, the others take it as said)."""
    import sys

    if show and not _state["told"]:
        print(line, file=sys.stderr, flush=True)
    _state["told"] = True


def told() -> bool:
    """Whether the line saying how the command stopped has been printed."""
    return bool(_state["told"])


def driver() -> str | None:
    """The command that runs this process's fits and says itself how to go on (None: ``fit``)."""
    return _state["driver"]


def stop_reason(err: BaseException) -> str | None:
    """The signal behind ``err`` when it is a stop (Ctrl+C, SIGTERM, or a fit that one of them
    ended, which Lightning turns into ``exit(1)``); None for any other exception."""
    if isinstance(err, Stopped):
        return "SIGTERM"
    if requested() is not None and isinstance(err, (KeyboardInterrupt, SystemExit)):
        return requested()
    if isinstance(err, KeyboardInterrupt):
        return "SIGINT"
    return None


def exit_status(name: str) -> int:
    """The shell's status of a command ended by signal ``name``: 128 + its number (130 for Ctrl+C)."""
    return 128 + int(getattr(signal, name, signal.SIGINT))


def reset() -> None:
    """Forget an earlier stop: a new fit or command (in a notebook, say) starts unstopped."""
    _state["signal"], _state["told"] = None, False


def quiet() -> bool:
    """Whether a fit keeps its "signal received" line to itself (a worker process of a command,
    whose main process says it once for all of them)."""
    return bool(_state["quiet"])


@contextmanager
def driving(command: str, quiet: bool = False) -> Iterator[None]:
    """Fits run inside are ``command``'s: they leave the resume hint to it (and, ``quiet``,
    the line saying that a signal came)."""
    before = _state["driver"], _state["quiet"]
    reset()
    _state["driver"], _state["quiet"] = command, quiet
    try:
        yield
    finally:
        _state["driver"], _state["quiet"] = before


def drive(command: str, quiet: bool = False) -> None:
    """:func:`driving` for the rest of this process (a worker process that only runs the command's fits)."""
    reset()
    _state["driver"], _state["quiet"] = command, quiet


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """SIGTERM raises :class:`Stopped` inside (in the main thread), as Ctrl+C raises
    KeyboardInterrupt, so that the command can say what it leaves and exit; a fit running
    inside installs its own handler for its epoch and gives this one back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        request("SIGTERM")
        raise Stopped("SIGTERM")

    before = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)
