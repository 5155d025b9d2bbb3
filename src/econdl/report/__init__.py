"""Results people can read and share.

``econdl report RUN_DIR`` writes ``RUN_DIR/report.html`` for a compare, fit or sweep run
directory (``econdl compare`` writes one itself).  The file stands alone: CSS inline, plots
as data URIs, no script, font or link, so it opens from an e-mail attachment offline.
``econdl.report.table`` formats every comparison table (console, Markdown, HTML).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from econdl.errors import ConfigError
from econdl.files import write_atomic
from econdl.report.collect import ReportContent, collect, data_uri, table_html

__all__ = ["render_body", "render_report", "write_report", "report_main"]

USAGE = """usage: econdl report RUN_DIR [RUN_DIR ...]

Writes RUN_DIR/report.html: one self-contained page (tables, plots, configs, environment,
the command that reproduces the run) for a directory made by
  econdl compare  (e.g. logs/kink/compare/version_0)
  econdl fit      (e.g. logs/kink/mlp/version_0)
  econdl sweep    (e.g. logs/sweeps/kink_mlp)
"""

_templates = Environment(loader=PackageLoader("econdl.report", "templates"), autoescape=select_autoescape(["j2"]))


def _block_html(model: str, block: pd.DataFrame) -> str:
    """A per-class table in the lecture's layout: the model's name in the corner."""
    block = block.rename_axis(None).rename_axis(model, axis=1)
    return block.to_html(float_format=lambda v: f"{v:.2f}", border=0, classes="per-class", na_rep="-")


def render_body(content: ReportContent) -> str:
    """The report without the page around it (what Jupyter shows)."""
    table, caption = table_html(content.table) if content.table is not None else ("", [])
    return _templates.get_template("body.html.j2").render(
        title=content.title,
        kind=content.kind,
        run_dir=str(content.run_dir),
        notes=content.notes,
        table_html=table,
        best_marked="<strong>" in table,
        caption=caption,
        blocks={t: [_block_html(m, b) for m, b in per] for t, per in content.blocks.items()},
        images=[(caption, data_uri(image)) for caption, image in content.images],
        configs=content.configs,
        command=content.command,
        environment=content.environment,
    )


def render_report(content: ReportContent) -> str:
    """The whole HTML page."""
    return _templates.get_template("report.html.j2").render(title=content.title, body=render_body(content))


def write_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` and return its path."""
    content = collect(Path(run_dir))
    path = Path(run_dir) / "report.html"
    return write_atomic(path, render_report(content))  # sweep workers may finish together


def report_main(argv: list[str]) -> list[Path]:
    """The ``econdl report`` subcommand."""
    if not argv:
        raise ConfigError("econdl report needs a run directory, e.g. econdl report logs/kink/compare/version_0")
    if argv[0] in ("-h", "--help"):
        print(USAGE)
        sys.exit(0)
    written = [write_report(run_dir) for run_dir in argv]
    for path in written:
        print(f"report: {path}")
    return written
