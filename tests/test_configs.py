"""Every shipped config runs through the real ``econdl`` command on tiny fixtures.

One test per file under ``configs/`` (the test id is its path there), so a config added
to a folder is tested with no change here.  Each config is used the way users use it:

- an experiment (``configs/<task>/<model>.yaml``): ``fit``, then ``test`` and ``predict``
  from the best checkpoint that fit wrote (``last.ckpt`` when there is no best one);
- the trainer defaults (``configs/trainer/``): the same, with the file given explicitly
  before the kink MLP's config;
- a sweep (``configs/sweeps/``): ``sweep`` with two tiny trials, then ``fit``, ``test`` and
  ``predict`` of the best config it wrote.

The data come from ``helpers.TINY_DATA``, keyed by the config's folder: small sizes for generated or
embedded data, tiny files (made by the scripts in ``tests/data/<task>/make.py``) for
the rest.  To keep the file fast, the steps of one config run in one process (forked by
``tests/forked.py``) that calls the ``econdl`` console script's entry point once per
command, as the shell would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

import forked
from helpers import CONFIGS, econdl_env, tiny_data

QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]
SHORT = ["--trainer.max_epochs=2", *QUIET]


def experiment_steps(config: Path, data: list[str]) -> list[list[str]]:
    """fit, then test and predict from the best checkpoint the fit wrote."""
    args = ["--config", str(config), *data, *SHORT]
    return [["fit", *args], ["test", *args, "--ckpt_path", "{ckpt}"], ["predict", *args, "--ckpt_path", "{ckpt}"]]


def steps_for(config: Path, tmp: Path) -> list[list[str]]:
    """The commands that use ``config`` as users do."""
    folder = config.relative_to(CONFIGS).parts[0]
    if folder == "trainer":  # read before every experiment: give it explicitly before one
        experiment = CONFIGS / "kink" / "mlp.yaml"
        steps = experiment_steps(experiment, tiny_data("kink", experiment, tmp))
        return [[cmd, "--config", str(config), *rest] for cmd, *rest in steps]
    if folder == "sweeps":
        spec = yaml.safe_load(config.read_text())
        base = (config.parent / spec["base_config"]).resolve()
        data = tiny_data(base.parent.name, base, tmp)
        sweep = ["sweep", "--config", str(config), "--n_trials", "2", *data, *SHORT]
        return [sweep, *experiment_steps(Path("{best_config}"), data)]
    return experiment_steps(config, tiny_data(folder, config, tmp))


# Runs in a fresh process: each step is what `econdl ARGS...` runs (the console script's
# entry point with sys.argv set), so the commands are the real ones, in one interpreter.
DRIVER = r"""
import glob, json, os, sys
from importlib.metadata import entry_points

(script,) = entry_points(group="console_scripts", name="econdl")
econdl = script.load()

def newest(*patterns):
    for pattern in patterns:  # in order of preference
        found = sorted(glob.glob(pattern, recursive=True), key=os.path.getmtime)
        if found:
            return found[-1]
    sys.exit(f"no file matches {' or '.join(patterns)} after the previous command")

for step in json.loads(sys.argv[1]):
    argv = []
    for arg in step:
        if "{ckpt}" in arg:
            # the best epoch; a model with nothing to fit takes no step, so it has last.ckpt only
            arg = arg.replace("{ckpt}", newest("logs/**/checkpoints/best-*.ckpt", "logs/**/checkpoints/last.ckpt"))
        if "{best_config}" in arg:
            arg = arg.replace("{best_config}", newest("logs/sweeps/**/best_config.yaml"))
        argv.append(arg)
    print("$ econdl " + " ".join(argv), flush=True)
    sys.argv = ["econdl", *argv]
    try:
        code = econdl()
    except SystemExit as stop:
        code = stop.code
    if code not in (None, 0):
        sys.exit(code if isinstance(code, int) else 1)
"""

CONFIG_FILES = sorted(CONFIGS.rglob("*.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIG_FILES, ids=[str(p.relative_to(CONFIGS)) for p in CONFIG_FILES])
def test_config_fits_tests_and_predicts_through_econdl(config: Path, tmp_path: Path) -> None:
    steps = steps_for(config, tmp_path)
    result = forked.run([json.dumps(steps)], cwd=tmp_path, env=econdl_env(), code=DRIVER)  # python -c DRIVER STEPS
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert output.count("$ econdl ") == len(steps), output[-4000:]
    # fit and test both tested a checkpoint: a test metric was printed twice
    assert output.count("test/loss") >= 2, output[-4000:]
    predictions = sorted((tmp_path / "logs").rglob("predictions.csv"))
    assert len(predictions) == 1, output[-4000:]
    assert len(pd.read_csv(predictions[0])) > 0
    assert "Tip: For seamless cloud" not in output  # Lightning's advertisements, silenced


def test_a_config_in_an_unknown_task_folder_says_what_to_add(tmp_path: Path) -> None:
    config = CONFIGS / "newtask" / "model.yaml"  # not created: only its folder name matters
    with pytest.raises(AssertionError, match=r"'newtask'.*TINY_DATA in tests/helpers.py.*tests/data/newtask/make.py"):
        steps_for(config, tmp_path)
