"""What one ``self.log`` call costs with Lightning's move of the stored result and with econdl's.

    python benchmarks/log_call.py                          # 2,000 calls, 3 alternating repeats
    python benchmarks/log_call.py --write docs/benchmarks.md   # (make bench) its section there

Logs a scalar tensor as a validation step does (``on_epoch=True``, mean over batches) into
Lightning's own result collection, once with Lightning's ``_ResultMetric.to`` in place and
once with ``econdl.fastpath``'s, alternating, in one process, on the CPU.  Medians of the
repeats, with their min-max.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def per_call(calls: int) -> float:
    """Microseconds per ``log`` call into a fresh result collection (after a first call)."""
    import torch
    from lightning.pytorch.trainer.connectors.logger_connector.result import _ResultCollection

    results = _ResultCollection(training=False)
    value = torch.tensor(0.5)
    results.log("validation_step", "val/loss", value, on_step=False, on_epoch=True, batch_size=32)
    start = time.perf_counter()
    for _ in range(calls):
        results.log("validation_step", "val/loss", value, on_step=False, on_epoch=True, batch_size=32)
    return 1e6 * (time.perf_counter() - start) / calls


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", type=Path, default=None, help="put the table in this Markdown file's section")
    args = parser.parse_args(argv)
    import torch

    from benchmarks.run import machine
    from benchmarks.step_overhead import result_move, write_section
    from econdl import fastpath

    torch.set_num_threads(2)
    sides = {"lightning": fastpath._LIGHTNING_RESULT_TO, "econdl": fastpath._result_to}
    times: dict[str, list[float]] = {k: [] for k in sides}
    for repeat in range(args.repeats):
        for side in sides if repeat % 2 == 0 else list(sides)[::-1]:
            with result_move(sides[side]):
                times[side].append(per_call(args.calls))
    med = {k: statistics.median(v) for k, v in times.items()}
    lines = [
        "## What a `self.log` call costs (`econdl.fastpath`)",
        "",
        f"`python benchmarks/log_call.py` ({args.calls} calls per repeat, {args.repeats} alternating repeats; "
        f"{time.strftime('%Y-%m-%d')}, {machine()}).",
        "",
        "| result move | microseconds per call (median) | min-max |",
        "|---|---|---|",
        *(f"| {k} | {med[k]:.0f} | {min(v):.0f}-{max(v):.0f} |" for k, v in times.items()),
        "",
        f"econdl saves {med['lightning'] - med['econdl']:.0f} microseconds per call "
        f"({med['econdl'] / med['lightning']:.2f} of Lightning's time).",
    ]
    print("\n".join(lines))
    if args.write:
        write_section(args.write, "\n".join(lines), name="log_call")
        print(f"written to {args.write}")


if __name__ == "__main__":
    main()
