"""Independent fits of ``econdl compare`` in parallel worker processes.

A comparison is a list of independent fits: every config, and every seed of a
gradient-trained config.  ``fit_all`` spreads them over ``workers`` processes.  Each
worker is a long-lived process that runs several fits one after another, so the
imports (torch, Lightning) are paid once per worker rather than once per fit, and
the seeds of one config are cut into consecutive chunks, one chunk per job.

Every fit is the same call as in a sequential run (``compare.fit_one`` with the same
overrides and ``--seed_everything``) with the same number of intra-op threads,
``fit_threads``, whatever ``--workers`` is (a reduction split over a different number of
threads rounds differently), so the table equals a sequential run's bit for bit, timing
columns aside.  Workers times threads never exceeds the cores: two workers of two threads
each on two cores spin-wait on each other and run several times slower than one.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from itertools import pairwise
from pathlib import Path
from typing import Any

from econdl import interrupt
from econdl.argv import option_values
from econdl.errors import EcondlError, ResourceError
from econdl.report.console import done_line

Run = dict[str, Any]
#: one unit of work: a config and the seeds it fits in one go (None: the config's own seed)
Job = tuple[Path, list[int | None]]


def cpu_slots() -> int:
    """CPU cores this process may use (its affinity mask, not the whole machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers(overrides: list[str], jobs: int) -> int:
    """How many fits to run at once: one per CPU core, at most one per job; one inside a
    data-parallel launch, when a fit asks for several devices itself, or when a GPU is
    present (fits would contend for it)."""
    if any(k in os.environ for k in ("LOCAL_RANK", "WORLD_SIZE")):
        return 1
    devices = option_values(overrides, "--trainer.devices")
    if any(value.strip().strip("'\"") not in ("1", "[0]", "[1]") for value in devices):
        return 1
    if any("ddp" in value.lower() for value in option_values(overrides, "--trainer.strategy")):
        return 1
    import torch

    if torch.cuda.is_available():
        return 1
    return max(1, min(cpu_slots(), jobs))


def fit_threads(overrides: list[str], jobs: int) -> int:
    """Intra-op threads of every fit in a comparison: this process's threads shared among
    the default number of workers.  It depends on the machine and the comparison, not on
    ``--workers``, so a sequential run (``--workers 1``) computes exactly what a parallel
    one does."""
    import torch

    return max(1, torch.get_num_threads() // default_workers(overrides, jobs))


def closed_form(config: Path) -> bool:
    """Whether the config's model is fitted in one exact pass (``exact_pass``), read from
    the class named in the YAML; False when it cannot tell (the fit then decides)."""
    import importlib

    import yaml

    try:
        spec = yaml.safe_load(config.read_text()) or {}
        class_path = str(spec["model"]["class_path"])
        module, name = class_path.rsplit(".", 1)
        return bool(getattr(getattr(importlib.import_module(module), name), "exact_pass", False))
    except (KeyError, TypeError, ValueError, ImportError, AttributeError, OSError, yaml.YAMLError):
        return False


def plan(configs: list[Path], seeds: int, workers: int) -> list[Job]:
    """Jobs, longest first: each gradient-trained config's seeds in up to ``workers``
    chunks of consecutive seeds, each closed-form config as one fit."""
    if seeds <= 1:
        return [(c, [None]) for c in sorted(configs, key=closed_form)]
    jobs: list[Job] = []
    for config in configs:
        if closed_form(config):
            jobs.append((config, [0]))
            continue
        chunks = min(workers, seeds)
        bounds = [round(i * seeds / chunks) for i in range(chunks + 1)]
        jobs += [(config, list(range(lo, hi))) for lo, hi in pairwise(bounds) if hi > lo]
    return sorted(jobs, key=lambda job: (-len(job[1]), closed_form(job[0])))


def detach(run: Run) -> Run:
    """The run without its Trainer, so it can travel back to the parent process."""
    run["model"].trainer = None
    data = run["data"]
    if getattr(data, "trainer", None) is not None:
        data.trainer = None
    if hasattr(data, "_device_cache"):
        data._device_cache = {}
    return run


def start_context(threads: int) -> Any:
    """How to start workers.  Forking is instant (torch and Lightning are already imported)
    and safe when each worker computes on one thread: a child then never enters the OpenMP
    thread pool that the parent may have started, which GNU OpenMP does not survive across
    fork (the child hangs).  With more threads per worker, a fork server: it imports econdl
    once, in a process that never computed, and forks clean workers from it."""
    if sys.platform == "linux" and threads == 1:
        return mp.get_context("fork")
    if sys.platform == "linux":
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["econdl.compare"])
        return ctx
    return mp.get_context("spawn")


def _die_with_parent() -> None:
    """Linux: this worker gets SIGTERM when the process that started it ends, even by SIGKILL
    (otherwise it would wait for work forever, holding its memory)."""
    if not sys.platform.startswith("linux"):
        return
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # no prctl: the worker is not tied to its parent
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


def _init_worker(threads: int) -> None:
    import logging

    import torch

    _die_with_parent()
    # Ctrl+C in a terminal reaches every process of the command: the main process stops the
    # workers (a fit running in one finishes its epoch on the SIGTERM the main process sends)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the main process's handler, inherited by fork
    interrupt.drive("compare", quiet=True)
    torch.set_num_threads(threads)
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _run_job(fit_one: Callable[[Path, list[str]], Run], job: Job, overrides: list[str]) -> list[Run]:
    config, seeds = job
    runs = []
    try:
        for seed in seeds:
            extra = [] if seed is None else [f"--seed_everything={seed}"]
            runs.append(detach(fit_one(config, [*overrides, *extra])))
            if runs[0]["model"] is not None and getattr(runs[0]["model"], "exact_pass", False):
                break  # a closed-form model fits once, whatever the seeds
    except (KeyboardInterrupt, SystemExit) as stop:
        if interrupt.stop_reason(stop) is None:
            raise
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)  # stopped by a signal: the main process is stopping (or gone), nothing to send it
    return runs


def _stop_workers(pool: ProcessPoolExecutor, grace: float = 10.0) -> None:
    """Stop every worker: SIGTERM (a fit finishes its epoch and writes last.ckpt), then, after
    ``grace`` seconds, SIGKILL; no process is left behind."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    main = threading.current_thread() is threading.main_thread()
    # a second Ctrl+C or SIGTERM (a process group's, sent again) must not end this process and
    # leave its workers running on: they are stopped here, with SIGKILL after the grace period
    stopping = (signal.SIGINT, signal.SIGTERM)
    before = {s: signal.signal(s, signal.SIG_IGN) for s in stopping} if main else {}
    try:
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + grace
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join(5)
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def fit_all(
    configs: list[Path],
    overrides: list[str],
    seeds: int,
    workers: int,
    fit_one: Callable[[Path, list[str]], Run],
    threads: int,
) -> dict[Path, list[Run] | EcondlError]:
    """Fit every (config, seed) in ``workers`` processes of ``threads`` intra-op threads
    each; runs per config in seed order, as ``compare.fit_seeds`` returns them."""
    jobs = plan(configs, seeds, workers)
    results: dict[Path, list[tuple[int, list[Run]]]] = {c: [] for c in configs}
    pool = ProcessPoolExecutor(workers, start_context(threads), _init_worker, (threads,))
    failed: dict[Path, EcondlError] = {}
    try:
        futures = {pool.submit(_run_job, fit_one, job, overrides): job for job in jobs}
        total, done = sum(len(chunk) for _, chunk in jobs), 0
        for future in as_completed(futures):
            config, chunk = futures[future]
            try:
                results[config].append((chunk[0] or 0, future.result()))
            except EcondlError as err:  # the config's or the data's mistake: the comparison goes on
                failed.setdefault(config, err)
            except BrokenProcessPool:
                raise ResourceError(
                    f"a worker process ended while fitting {config} (killed by a signal, or out of memory); "
                    "no table was written. Run the same command again; if it happens again, fit fewer "
                    "configs at once (--workers 1 runs them one after another and shows which fails)"
                ) from None
            done += len(chunk)
            line = done_line(done, total, config, chunk, 1 if closed_form(config) else seeds)
            print(line.removesuffix(" done") + " failed" if config in failed else line, flush=True)
    except BaseException:  # Ctrl+C, SIGTERM, an error: no worker may outlive the comparison
        _stop_workers(pool)
        raise
    pool.shutdown(wait=True)
    by_config: dict[Path, list[Run] | EcondlError] = {}
    for config, parts in results.items():
        if config in failed:
            by_config[config] = failed[config]
            continue
        runs = [run for _, chunk in sorted(parts, key=lambda p: p[0]) for run in chunk]
        if runs and getattr(runs[0]["model"], "exact_pass", False):
            runs = runs[:1]
        by_config[config] = runs
    return by_config
