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


def test_a_notebooks_mistakes_raise_the_commands_one_line_and_leave_its_logging_alone(tmp_path):
    """In a notebook the parser's errors were trees of nested reasons, a folder given to fit was
    "does not exist", seeds='2' a TypeError, and a compare (even one that failed at once) left
    Lightning's loggers at WARNING for every later call of the session."""
    import logging

    from econdl.errors import ConfigError

    kink = CONFIGS / "kink/polynomial.yaml"
    cases = [
        (lambda: econdl.fit(kink, data__x_size=-5), "x_size=-5 must be at least 2"),
        (lambda: econdl.fit(kink, data__x_size="abc"), "--data.x_size (econdl.data.KinkDataModule): expected int"),
        (lambda: econdl.fit(kink, trainer__max_epoch=2), "did you mean --trainer.max_epochs?"),
        (lambda: econdl.fit(CONFIGS / "kink"), "is a folder: give econdl.fit one YAML file"),
        (lambda: econdl.compare(kink, seeds="2"), "seeds='2' must be a whole number"),
        (lambda: econdl.compare(kink, workers=0), "workers=0 must be at least 1"),
        (lambda: econdl.compare(kink, trainer__max_epoch=2), "--trainer.max_epoch is no Trainer option; did you"),
        (lambda: econdl.compare([]), "compare needs at least one config file or folder"),  # a bare StopIteration
        (lambda: econdl.fit(kink, ["--trainer.max_epochs=1"]), "must be a dict of dotted keys"),
    ]
    import lightning.pytorch  # noqa: F401  (its import sets its loggers to INFO, as it does for any user)

    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    for call, words in cases:
        with pytest.raises(ConfigError) as err:
            call()
        assert words in str(err.value) and "\n" not in str(err.value), str(err.value)
    with pytest.raises(FileNotFoundError):
        econdl.compare(tmp_path / "nowhere")
    econdl.compare(kink, data__x_size=512, data__val_size=128, data__test_size=101, workers=1, out="cmp")
    assert [logger.level for logger in loggers] == levels
    run = econdl.fit(kink, data__x_size=512, data__val_size=128, data__test_size=101)
    assert run.log_dir == tmp_path / "logs/kink/polynomial/version_1"  # absolute: a notebook may change folder
