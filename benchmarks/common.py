"""Helpers shared by the benchmark modules.

``isolated(fn, *args)`` runs ``fn`` in a fresh process and returns its result with that
process's peak resident memory, so variants measured one after another do not share a
high-water mark.  Timings are taken inside ``fn``, around the work alone.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from queue import Empty
from typing import Any


def _child(queue: Any, fn: Callable[..., Any], args: tuple) -> None:
    try:
        result = fn(*args)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        queue.put(("ok", result, peak_mb))
    except BaseException as err:  # report any failure to the parent
        queue.put(("error", repr(err), 0.0))


def isolated(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """Run ``fn(*args)`` in a spawned process; return ``(result, peak_rss_mb)``."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, fn, args))
    proc.start()
    while True:  # a child that dies before reporting (a crash, a failed import) must not hang the run
        try:
            status, result, peak = queue.get(timeout=1.0)
            break
        except Empty:
            if not proc.is_alive() and queue.empty():
                raise RuntimeError(
                    f"benchmark {getattr(fn, '__name__', fn)} died without a result (exit code {proc.exitcode}); "
                    "run it once in this process to see its error"
                ) from None
    proc.join()
    if status != "ok":
        raise RuntimeError(f"benchmark {getattr(fn, '__name__', fn)} failed: {result}")
    return result, peak


@contextmanager
def timer() -> Any:
    """``with timer() as t: ...`` then ``t()`` gives the elapsed seconds."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def quiet_lightning() -> None:
    """Silence Lightning's informational logging inside a benchmark process."""
    import logging
    import warnings

    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    sys.stdout.flush()
