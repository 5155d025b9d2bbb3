"""``econdl compare``: fit several configs on the same data and put them in one table.

    econdl compare configs/kink/                       every *.yaml in the folder
    econdl compare configs/kink/mlp.yaml configs/kink/chebyshev.yaml
    econdl compare configs/mnist/ --data.data_dir DIR  overrides go to every fit

Each config is fitted exactly as ``econdl fit --config FILE`` would (its own run
directory, best checkpoint tested).  The models' test-set predictions are then
scored by the DataModule (``score``), so every row is measured the same way, and
the table is printed and written with a plot to ``logs/<task>/compare/version_N/``.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from econdl.cli import cli_main, next_version
from econdl.nets import count_parameters

USAGE = """usage: econdl compare PATH [PATH ...] [--out DIR] [--KEY VALUE ...]

PATH     a config file, or a folder whose *.yaml files are all fitted (in name order)
--out    folder for table.csv, table.md and the plot (default logs/<task>/compare/version_N)
--KEY VALUE   any `econdl fit` option, passed to every fit (e.g. --trainer.max_epochs 3)
"""


@dataclass
class Comparison:
    """The comparison table and where its files went."""

    table: pd.DataFrame
    out_dir: Path
    files: list[Path]


def find_configs(paths: list[str]) -> list[Path]:
    """Expand folders into their YAML configs; fail naming any path that is not there."""
    configs: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
            if not found:
                raise FileNotFoundError(f"no *.yaml configs in folder {path}")
            configs.extend(found)
        elif path.is_file():
            configs.append(path)
        else:
            raise FileNotFoundError(f"config path {path} does not exist (give config files or folders)")
    return configs


def split_args(argv: list[str]) -> tuple[list[str], str | None, list[str]]:
    """Separate config paths, ``--out DIR`` and the overrides passed to every fit."""
    paths: list[str] = []
    overrides: list[str] = []
    out = None
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in ("-h", "--help"):
            print(USAGE)
            sys.exit(0)
        if token == "--out" or token.startswith("--out="):
            if "=" in token:
                out = token.split("=", 1)[1]
            else:
                if i + 1 >= len(argv):
                    raise ValueError("--out needs a folder, e.g. --out results/kink")
                out = argv[i + 1]
                i += 1
        elif token.startswith("--"):
            overrides.append(token)
            if "=" not in token and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                overrides.append(argv[i + 1])
                i += 1
        else:
            paths.append(token)
        i += 1
    if not paths:
        raise ValueError("econdl compare needs at least one config file or folder, e.g. configs/kink/")
    return paths, out, overrides


def fit_one(config: Path, overrides: list[str]) -> dict[str, Any]:
    """Fit one config as `econdl fit` does; return its model, data and test predictions."""
    quiet = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]
    cli = cli_main(["fit", "--config", str(config), *overrides, *quiet], verbose_test=False)
    trainer, model, dm = cli.trainer, cli.model, cli.datamodule
    batches = trainer.predict(model, datamodule=dm)
    prediction = torch.cat([b.detach().cpu() for b in batches]) if batches else torch.empty(0)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
    return {
        "model": model,
        "data": dm,
        "prediction": prediction,
        "metrics": metrics,
        "fit_s": cli.fit_seconds,
        "log_dir": trainer.log_dir,
    }


def row_for(name: str, run: dict[str, Any]) -> dict[str, Any]:
    dm, model = run["data"], run["model"]
    row: dict[str, Any] = {"model": name}
    if hasattr(dm, "score"):
        row.update(dm.score(run["prediction"]))
    else:
        row.update({k.replace("/", "_"): v for k, v in run["metrics"].items()})
    if hasattr(dm, "describe_model"):
        row.update(dm.describe_model(model))
    row["params"] = count_parameters(model)
    row["fit_s"] = round(run["fit_s"] or float("nan"), 2)
    return row


def compare(paths: list[str], overrides: list[str] | None = None, out: str | None = None) -> Comparison:
    """Fit every config under ``paths`` and write the comparison table and plot."""
    configs = find_configs(paths)
    overrides = overrides or []
    rows, predictions, dm = [], {}, None
    for config in configs:
        name = config.stem
        print(f"[compare] fitting {name} ({config}) ...", flush=True)
        run = fit_one(config, overrides)
        if dm is not None and hasattr(dm, "test_targets"):
            if not torch.equal(dm.test_targets(), run["data"].test_targets()):
                raise ValueError(
                    f"{config} uses different test data from the configs before it; "
                    "configs compared together must share the DataModule settings"
                )
        dm = run["data"]
        rows.append(row_for(name, run))
        predictions[name] = run["prediction"]
        print(f"[compare] {name}: done in {rows[-1]['fit_s']} s, run in {run['log_dir']}", flush=True)

    table = pd.DataFrame(rows).set_index("model")
    task = getattr(dm, "task", "task")
    out_dir = Path(out) if out else Path("logs") / task / "compare" / f"version_{next_version(Path('logs') / task / 'compare')}"
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [out_dir / "table.csv", out_dir / "table.md"]
    table.to_csv(files[0])
    files[1].write_text(table.to_markdown(floatfmt=".4g") + "\n")
    plot = dm.plot_predictions(predictions, out_dir / "predictions.png") if dm is not None else None
    if plot is not None:
        files.append(plot)
    return Comparison(table, out_dir, files)


def compare_main(argv: list[str]) -> Comparison:
    """The ``econdl compare`` subcommand."""
    paths, out, overrides = split_args(argv)
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    result = compare(paths, overrides, out)
    with pd.option_context("display.width", 160, "display.max_columns", 30):
        print()
        print(result.table.to_string(float_format=lambda v: f"{v:.4g}"))
    print("\nwritten: " + ", ".join(str(f) for f in result.files))
    return result
