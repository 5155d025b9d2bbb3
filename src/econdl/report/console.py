"""What ``econdl compare`` prints: one progress line per fit, then the tables people read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from econdl.report.table import block_to_console, to_console


def run_label(config: Path) -> str:
    """``gdp/mlp`` for ``configs/gdp/mlp.yaml``: the task folder and the model."""
    config = Path(config)
    return f"{config.parent.name}/{config.stem}" if config.parent.name else config.stem


def planned_fits(configs: list[Path], seeds: int) -> int:
    """How many fits a comparison will run: every seed of a gradient-trained model, one fit of
    a closed-form model (read from the class its config names)."""
    if seeds <= 1:
        return len(configs)
    return sum(1 if _closed_form(c) else seeds for c in configs)


def _closed_form(config: Path) -> bool:
    from econdl.parallel import closed_form

    return closed_form(Path(config))


class Progress:
    """Counts fits and prints ``[3/8] gdp/mlp seed 2 of 0..4`` before each one."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0

    def line(self, config: Path, seed: int | None = None, seeds: int = 1) -> str:
        self.done += 1
        text = f"[{self.done}/{self.total}] {run_label(config)}"
        if seed is not None and seeds > 1 and not _closed_form(config):  # fitted once, whatever the seeds
            text += f" seed {seed} of 0..{seeds - 1}"
        return text

    def __call__(self, config: Path, seed: int | None = None, seeds: int = 1) -> None:
        print(self.line(config, seed, seeds), flush=True)


def done_line(done: int, total: int, config: Path, seeds_run: list[int | None], seeds: int) -> str:
    """``[5/8] gdp/mlp seeds 2..4 of 0..4 done``: a job of a parallel comparison has finished."""
    text = f"[{done}/{total}] {run_label(config)}"
    if seeds > 1 and seeds_run and seeds_run[0] is not None:
        first, last = seeds_run[0], seeds_run[-1]
        which = f"seed {first}" if first == last else f"seeds {first}..{last}"
        text += f" {which} of 0..{seeds - 1}"
    return text + " done"


def comparison_text(table: pd.DataFrame, blocks: dict[str, pd.DataFrame], title: str | None = None) -> str:
    """The comparison table, then each per-class table in the lecture's layout."""
    parts = [to_console(table, title)]
    for block_title, combined in blocks.items():
        parts.append(f"{block_title}:")
        for model in combined.index.unique(level=0):
            parts.append(block_to_console(str(model), combined.loc[model]))
    return "\n\n".join(parts)


def print_comparison(result: Any) -> None:
    """Print a ``Comparison`` for the console, then where its files went."""
    print()
    print(comparison_text(result.table, result.blocks, title=f"Comparison ({result.out_dir})"))
    report = result.out_dir / "report.html"
    if report.is_file():
        print(f"\nreport: {report}")
    print("written: " + ", ".join(str(f) for f in result.files))
