"""What ``econdl compare`` leaves in its run directory besides ``table.csv``: significance
columns for classifiers, ``table.md`` in the README's format, ``run_info.json`` and
``command.txt`` (what ``econdl report`` needs later), and ``report.html``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import torch

from econdl.report.environment import write_run_info
from econdl.report.significance import significance_table
from econdl.report.table import to_markdown


def add_significance(table: pd.DataFrame, predictions: dict[str, list[torch.Tensor]], dm: Any) -> pd.DataFrame:
    """For classification tasks (a DataModule with ``class_names``), insert after ``test_acc``
    its 95% bootstrap interval (of the mean over a model's seeds, its predictions being one per
    seed) and the Holm-adjusted exact McNemar p-value against the best model (first seeds);
    other tables come back unchanged."""
    if dm is None or not getattr(dm, "class_names", None) or "test_acc" not in table.columns:
        return table
    if not predictions or not hasattr(dm, "test_targets"):
        return table
    targets = dm.test_targets().cpu().numpy()
    scores = {
        name: [p.detach().cpu().double().numpy() for p in seeds]
        for name, seeds in predictions.items()
        if seeds and all(len(p) for p in seeds)
    }
    if len(scores) != len(predictions):
        return table
    extra = significance_table(scores, targets)
    columns = ["test_acc_ci_low", "test_acc_ci_high", "p_vs_best", "p_vs_best_raw"]
    at = table.columns.get_loc("test_acc_std") if "test_acc_std" in table.columns else table.columns.get_loc("test_acc")
    out = table.copy()
    for offset, col in enumerate(columns, start=1):
        out.insert(at + offset, col, extra.loc[out.index, col])
    return out


def finish_compare(
    out_dir: Path,
    table: pd.DataFrame,
    run_dirs: dict[str, list[str]],
    block_csvs: dict[str, Path],
    command: str,
    failed: dict[str, str] | None = None,
    task: str | None = None,
    plots: list[str] | None = None,
) -> list[Path]:
    """Write ``table.md``, ``run_info.json``, ``command.txt`` and ``report.html``; return them.
    ``failed``: the models left out of the table, each with why (listed under it); ``task``
    names the report; ``plots``: the PNG files the comparison wrote in ``out_dir``."""
    from econdl.report import write_report

    md = out_dir / "table.md"
    md.write_text(to_markdown(table) + "".join(f"\n{line}\n" for line in left_out(failed or {})))
    blocks = {title: Path(path).name for title, path in block_csvs.items()}
    info = write_run_info(out_dir, command, run_dirs, blocks, failed, task, plots)
    return [md, info, out_dir / "command.txt", write_report(out_dir)]


def left_out(failed: dict[str, str]) -> list[str]:
    """One line per model a comparison could not fit, for the files and the report."""
    return [f"Left out, could not be fitted: {model}: {reason}" for model, reason in failed.items()]
