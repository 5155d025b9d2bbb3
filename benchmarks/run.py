"""Run every benchmark of the project and write one report, docs/benchmarks.md.

    python benchmarks/run.py            # full run (a few minutes on 2 CPU cores)
    python benchmarks/run.py --quick    # smoke run: fewer epochs/images, nothing written
    python benchmarks/run.py --only kink,gdp

Each ``benchmarks/bench_<name>.py`` defines ``run(quick: bool) -> list[dict]`` with one
row per measurement (keys: benchmark, what, econdl_s, raw_s, ratio, throughput,
peak_mem_mb, result, note).  econdl and the raw PyTorch loop are timed in the same run on
the same machine, so the ratio is the figure to quote.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

COLUMNS = ["benchmark", "what", "econdl_s", "raw_s", "ratio", "throughput", "peak_mem_mb", "result", "note"]


def discover() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in (REPO / "benchmarks").glob("bench_*.py"))


def machine() -> str:
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
            f"{device}, Python {platform.python_version()}, torch {torch.__version__}")


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if value == value else "n/a"
    return str(value if value is not None else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run; does not write the report")
    parser.add_argument("--only", default="", help="comma-separated benchmark names (default: all)")
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"), help="report path")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or discover()
    rows, started = [], time.perf_counter()
    for name in names:
        print(f"[bench] {name} ...", flush=True)
        module = importlib.import_module(f"benchmarks.bench_{name}")
        t0 = time.perf_counter()
        for row in module.run(args.quick):
            rows.append(row)
            print("  " + " | ".join(f"{k}={fmt(row.get(k))}" for k in COLUMNS if row.get(k) not in (None, "")), flush=True)
        print(f"[bench] {name} took {time.perf_counter() - t0:.0f} s", flush=True)
    header = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n"
    table = header + "".join("| " + " | ".join(fmt(r.get(k)) for k in COLUMNS) + " |\n" for r in rows)
    print("\n" + table)
    if args.quick:
        print("(--quick: report not written)")
        return
    text = (
        "# Benchmarks\n\n"
        "Written by `make bench` (`python benchmarks/run.py`); do not edit by hand.\n"
        "`econdl_s` and `raw_s` are measured in the same run on the same machine: quote the ratio.\n\n"
        f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d')}. "
        f"Total time: {time.perf_counter() - started:.0f} s.\n\n" + table + "\n"
        + "".join(f"- **{n}**: {(importlib.import_module(f'benchmarks.bench_{n}').__doc__ or '').strip()}\n\n" for n in names)
    )
    Path(args.out).write_text(text)
    print(f"report written to {args.out}")


if __name__ == "__main__":
    main()
