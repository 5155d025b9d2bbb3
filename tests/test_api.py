"""The Python API as a notebook user meets it: overrides in both spellings, and the shipped
notebook executed end to end on tiny settings."""

from __future__ import annotations

import pytest

import econdl
from econdl.api import cli_args
from helpers import CONFIGS, REPO

NOTEBOOK = REPO / "docs/notebooks/kink_and_gdp.ipynb"


def test_overrides_as_dotted_dict_or_double_underscore_kwargs_are_the_same():
    as_dict = cli_args({"trainer.max_epochs": 2, "model.init_args.net.init_args.widths": [16, 8]})
    as_kwargs = cli_args(trainer__max_epochs=2, model__init_args__net__init_args__widths=[16, 8])
    assert as_dict == as_kwargs == ["--trainer.max_epochs=2", "--model.init_args.net.init_args.widths=[16, 8]"]
    assert cli_args(trainer__enable_progress_bar=False, ckpt_path=None) == [
        "--trainer.enable_progress_bar=false",
        "--ckpt_path=null",
    ]
    with pytest.raises(ValueError, match="without dashes"):
        cli_args({"--trainer.max_epochs": 2})


def test_package_exports_fit_and_a_callable_compare():
    import econdl.compare as module  # importing the command's module must not hide the function

    assert callable(econdl.compare) and econdl.compare is module and callable(econdl.fit)
    with pytest.raises(FileNotFoundError, match="nowhere.yaml"):
        econdl.fit("configs/nowhere.yaml")


def test_notebook_runs_on_tiny_settings(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("ECONDL_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("ECONDL_CONFIGS", str(CONFIGS))
    monkeypatch.setenv("PYTHONWARNINGS", "ignore")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("Comparison: kink" in h and "econdl-report" in h for h in html)  # the report, inline
    assert any("Comparison: gdp" in h for h in html)
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2  # the fit's plot and the GDP figure
    assert (tmp_path / "logs/kink/compare/version_0/report.html").is_file()
    assert (tmp_path / "logs/gdp/compare/version_0/report.html").is_file()


def test_imports_run_one_way_from_data_to_tasks_to_callbacks():
    import ast

    src = REPO / "src/econdl"

    def imported(folder: str) -> set[str]:
        names = set()
        for path in (src / folder).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module:
                    names.add(node.module)
                elif isinstance(node, ast.Import):
                    names.update(alias.name for alias in node.names)
        return names

    assert not {m for m in imported("callbacks") if m.startswith("econdl.tasks")}
    assert not {m for m in imported("data") if m.startswith(("econdl.callbacks", "econdl.tasks"))}
