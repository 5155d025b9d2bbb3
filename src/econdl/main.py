"""The ``econdl`` command: one table of subcommands, and one place that reports failures.

This module imports the commands; none of them imports it.  A failure ends one of three ways:

- the user's mistake (an ``EcondlError``, a rejected option, a config value a constructor
  refuses, a trainer setting Lightning refuses) prints one line, ``econdl: error: MESSAGE``;
- a resource the user can give more of (GPU memory, file handles, disk) prints one line
  naming the fix;
- anything else is a bug in econdl: its traceback, then one line on how to report it.

``ECONDL_DEBUG=1`` re-raises every failure with its full traceback.
"""

from __future__ import annotations

import os
import signal
import shlex
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from econdl import interrupt
from econdl.diagnose import Diagnosis, diagnose, one_line

Handler = Callable[[list[str]], Any]

USAGE = """usage: econdl {fit,validate,test,predict,compare,sweep,report} ...

  econdl fit --config configs/kink/mlp.yaml        train (then test the best checkpoint)
  econdl test --config CONFIG --ckpt_path CKPT      evaluate a saved checkpoint
  econdl predict --config CONFIG --ckpt_path CKPT   predictions of a saved checkpoint
  econdl compare configs/kink/                      fit every config in a folder, one table
  econdl sweep --config configs/sweeps/kink_mlp.yaml  hyper-parameter search (Optuna), best config
  econdl report RUN_DIR                             report.html of a compare, fit or sweep run

Run `econdl SUBCOMMAND --help` for every option of a subcommand; `econdl --version` prints the
versions of econdl, torch, lightning and Python (include them in a bug report).
"""

DEBUG_HINT = "(set ECONDL_DEBUG=1 to see the full traceback)"


def _lightning(subcommand: str) -> Handler:
    def run(rest: list[str]) -> Any:
        from econdl.cli import cli_main

        return cli_main([subcommand, *rest])

    run.__doc__ = f"``econdl {subcommand}``: LightningCLI's {subcommand} with econdl's defaults."
    return run


def _compare(rest: list[str]) -> Any:
    from econdl.compare import compare_main

    return compare_main(rest)


def _sweep(rest: list[str]) -> Any:
    from econdl.sweep import sweep_main

    return sweep_main(rest)


def _report(rest: list[str]) -> Any:
    from econdl.report import report_main

    return report_main(rest)


def _usage(rest: list[str]) -> None:
    print(USAGE)


def _version(rest: list[str]) -> None:
    from econdl.about import versions

    print(versions())


# Subcommand -> handler of the arguments after it.  Imports happen inside the handlers so
# `econdl --help` stays fast and a broken optional command cannot break the others.
COMMANDS: dict[str, Handler] = {
    "fit": _lightning("fit"),
    "validate": _lightning("validate"),
    "test": _lightning("test"),
    "predict": _lightning("predict"),
    "compare": _compare,
    "sweep": _sweep,
    "report": _report,
    "-h": _usage,
    "--help": _usage,
    "--version": _version,
}


def dispatch(argv: list[str]) -> Any:
    """Run the subcommand named by ``argv[0]`` with the rest of ``argv``."""
    if not argv:
        print(USAGE)
        return None
    handler = COMMANDS.get(argv[0])
    if handler is None:
        from econdl.errors import ConfigError

        names = ", ".join(k for k in COMMANDS if not k.startswith("-"))
        raise ConfigError(f"unknown command {argv[0]!r}; choose one of {names} (see `econdl --help`)")
    return handler(argv[1:])


def report(err: BaseException, argv: list[str]) -> int:
    """Print ``err`` as the user should see it; returns the exit code."""
    found: Diagnosis = diagnose(err)
    if found.kind == "bug":
        traceback.print_exception(err, file=sys.stderr)
        own = _users_frame(err)
        if own is not None:
            print(
                f"econdl: the error above was raised in your own code, {own.filename}, line {own.lineno}, in "
                f"{own.name} ({type(err).__name__}: {one_line(str(err))[:300]}); fix it there",
                file=sys.stderr,
            )
            return 1
        command = shlex.join(["econdl", *argv])
        print(
            f"econdl: this looks like a bug in econdl, not a mistake in your input ({type(err).__name__}). "
            f"Please report it on the project's issue tracker with the command `{command}`, the traceback above "
            "and the output of `econdl --version`.",
            file=sys.stderr,
        )
        return 1
    if _rank() > 0 and _reduced_over_processes(err):
        return found.exit_code  # every DDP process raised the same finding: one line, from rank 0
    print(f"econdl: error: {found.message}", file=sys.stderr)
    print(DEBUG_HINT, file=sys.stderr)
    return found.exit_code


def _users_frame(err: BaseException) -> traceback.FrameSummary | None:
    """The frame of the user's own code (a network or data module of theirs, named in a config) in
    which ``err`` arose, or None when it arose in econdl: walking out from where it was raised, the
    first frame that is not in an installed package or Python's own library decides."""
    import sysconfig

    import econdl

    library = [
        os.path.realpath(p) + os.sep
        for p in {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    ]
    ours = os.path.realpath(os.path.dirname(econdl.__file__)) + os.sep
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        where = os.path.realpath(frame.filename)
        if where.startswith(ours):
            return None
        if frame.filename.startswith("<") or any(where.startswith(p) for p in library):
            continue
        return frame
    return None


def _reduced_over_processes(err: BaseException) -> bool:
    """Whether ``err`` is the non-finite guard's finding, which it reduces over DDP processes (a
    data or file problem may be one process's own, and is printed by every process that has it)."""
    from econdl.callbacks.guards import NonFiniteLossError
    from econdl.diagnose import causes

    return any(isinstance(item, NonFiniteLossError) for item in causes(err))


def _rank() -> int:
    """This process's rank among DDP processes (0 outside DDP), as Lightning's launcher sets it."""
    for name in ("RANK", "LOCAL_RANK"):
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 0


def _stopped(argv: list[str], name: str) -> int:
    """Say that signal ``name`` stopped the command (unless econdl said so already); its status."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a further Ctrl+C must not cut this short
    if not interrupt.told():
        many = bool(argv) and argv[0] in ("compare", "sweep")
        how = (
            "run the same command again"
            if many
            else "a fit's last.ckpt, if one was written, resumes it: --ckpt_path last"
        )
        print(
            f"econdl: stopped by {'Ctrl+C' if name == 'SIGINT' else name}; what this command was computing "
            f"is incomplete ({how})",
            file=sys.stderr,
        )
    return 1 if name == "SIGINT" else interrupt.exit_status(name)


def _import_from_the_current_folder() -> None:
    """A config's ``class_path: mynet.MyNet`` finds ``mynet.py`` in the current folder, as with
    ``python -m econdl`` (the ``econdl`` script's own folder is the environment's ``bin``).  The
    folder goes last, so that no file in it hides an installed package."""
    here = os.getcwd()
    if "" not in sys.path and here not in sys.path:
        sys.path.append(here)


@contextmanager
def _threads_out_of_resources() -> Iterator[list[BaseException]]:
    """While the block runs, a background thread that fails for want of a resource the user can
    give more of (TensorBoard's event writer on a full disk) prints no traceback of its own; its
    error is collected in the yielded list, for the command to report once, in one line."""
    failed: list[BaseException] = []
    previous = threading.excepthook

    def hook(args: Any) -> None:
        if args.exc_value is not None and diagnose(args.exc_value).kind == "resource":
            failed.append(args.exc_value)
            return
        previous(args)

    threading.excepthook = hook
    try:
        yield failed
    finally:
        threading.excepthook = previous


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``econdl`` console script and of ``python -m econdl``."""
    console = argv is None  # the process is this command's own (a caller's Python process is not)
    argv = sys.argv[1:] if argv is None else list(argv)
    _import_from_the_current_folder()
    interrupt.reset()
    try:
        with interrupt.stop_on_sigterm(), _threads_out_of_resources() as failed:  # SIGTERM: said, status 143
            dispatch(argv)
        if failed:  # a background writer failed although the command itself went on to its end
            raise failed[0]
    except SystemExit as stop:
        if type(stop).__name__ == "SIGTERMException":  # Lightning's, raised as SystemExit() (status 0)
            sys.exit(_stopped(argv, "SIGTERM"))
        if isinstance(stop.__context__, KeyboardInterrupt) and not stop.__suppress_context__ and not interrupt.told():
            # Lightning ends a command stopped by a signal outside a fit's epochs with exit(1), unsaid
            sys.exit(_stopped(argv, interrupt.stop_reason(stop.__context__) or "SIGINT"))
        raise  # a fit stopped at its epoch's end said so: status 1
    except KeyboardInterrupt as stop:  # outside Lightning's part (start-up, reading the data)
        sys.exit(_stopped(argv, interrupt.stop_reason(stop) or "SIGINT"))
    except BrokenPipeError:
        # the reader went away (`econdl --help | head`): nothing was wrong, so end quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except Exception as err:
        if os.environ.get("ECONDL_DEBUG") == "1":
            raise
        sys.exit(report(err, argv))
    finally:
        if console and interrupt.requested():
            # stopping already, and said so: the same request sent again (a process group's SIGTERM,
            # repeated) must not end the interpreter's shutdown with another status
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, signal.SIG_IGN)


if __name__ == "__main__":
    main()
