"""`econdl sweep`: a tiny kink sweep, two workers on one study, bad keys, PostgreSQL."""

from __future__ import annotations

import os
import pwd
import random
import re
import signal
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml

from helpers import CONFIGS, run_econdl
from econdl.cli import cli_main
from econdl.sweep import sweep_main
from econdl.sweep.study import open_storage

TINY = [
    "--data.init_args.x_size=256",
    "--data.init_args.val_size=64",
    "--data.init_args.test_size=65",
    "--trainer.max_epochs=2",
]
SWEEP = CONFIGS / "sweeps/kink_mlp.yaml"


def study_trials(url: str, name: str = "kink_mlp") -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=open_storage(url)).trials


def test_four_trial_sweep_writes_table_plot_and_a_best_config_that_fits(tmp_path, capsys):
    result = sweep_main(["--config", str(SWEEP), "--n_trials", "4", *TINY])
    out = tmp_path / "logs/sweeps/kink_mlp"
    table = pd.read_csv(out / "trials.csv", index_col="trial")
    assert list(table.index) == [0, 1, 2, 3]
    assert set(table["state"]) <= {"COMPLETE", "PRUNED"} and (table["state"] == "COMPLETE").any()
    assert {"val/loss", "optimizer.init_args.lr", "data.init_args.batch_size"} <= set(table.columns)
    assert table["optimizer.init_args.lr"].between(1e-4, 0.1).all()
    assert (out / "sweep.png").stat().st_size > 10_000
    # the objective is the best val/loss logged by the trial's own fit; no test metric was logged
    for trial, row in table[table["state"] == "COMPLETE"].iterrows():
        metrics = pd.read_csv(next((out / "trials" / f"trial_{trial:04d}").glob("version_*/metrics.csv")))
        assert row["val/loss"] == pytest.approx(metrics["val/loss"].min(), rel=1e-6)
        assert not any(c.startswith("test/") for c in metrics.columns)
    printed = capsys.readouterr().out
    assert f"best config: {result.best_config}" in printed
    best = yaml.safe_load(result.best_config.read_text())
    winner = table["val/loss"].idxmin()
    assert best["optimizer"]["init_args"]["lr"] == pytest.approx(table.loc[winner, "optimizer.init_args.lr"])
    assert best["data"]["init_args"]["x_size"] == 256 and best["test_after_fit"] is True
    # the best config fits as is, reproduces the trial's val/loss and is then tested once
    cli = cli_main(["fit", "--config", str(result.best_config), "--trainer.enable_progress_bar=false"])
    assert float(cli.trainer.callback_metrics["test/rmse"]) > 0
    refit = pd.read_csv(Path(cli.trainer.log_dir) / "metrics.csv")
    assert refit["val/loss"].min() == pytest.approx(table.loc[winner, "val/loss"], rel=1e-5)
    # running the same sweep again finds the budget used and runs nothing
    again = sweep_main(["--config", str(SWEEP), "--n_trials", "4", *TINY])
    assert again.ran == 0 and len(again.table) == 4


def test_two_workers_share_one_sqlite_study_without_duplicates(tmp_path):
    exe = Path(sys.executable).with_name("econdl")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    args = [str(exe), "sweep", "--config", str(SWEEP), "--n_trials", "5", "--study_name", "pair", *TINY]
    workers = [
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) for _ in range(2)
    ]
    outputs = [w.communicate(timeout=240)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    trials = study_trials(f"sqlite:///{tmp_path / 'logs/sweeps/pair/study.db'}", "pair")
    counted = [t for t in trials if not t.user_attrs.get("surplus")]
    assert len(counted) == 5
    assert all(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for t in counted)
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    ran = [int(o.split("this worker ran ")[1].split()[0]) for o in outputs]
    assert sum(ran) == len(counted) and min(ran) >= 1, ran  # both workers took part


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_sweep_stopped_by_a_signal_gives_its_trial_back_and_the_same_command_goes_on(tmp_path, signum):
    """Ctrl+C (or SIGTERM) at a random moment of a trial's fit: one line says what is done and
    how to go on, trials.csv lists the trial as interrupted, and running the same command again
    runs the whole budget at once (the interrupted trial is not left running until Optuna's
    heartbeat gives it up two minutes later, nor counted as a failure)."""
    exe = Path(sys.executable).with_name("econdl")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    # the first trial still runs when the signal comes (its early stopping cannot end it)
    long = [*TINY[:3], "--trainer.max_epochs=400", "--trainer.min_epochs=400"]
    worker = subprocess.Popen(
        [str(exe), "sweep", "--config", str(SWEEP), "--n_trials", "2", *long],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    # the trial's fit is training once its first epoch's checkpoint is written: its version folder
    # is made earlier (when the CLI reserves it, before the model, the data and the trainer are
    # built), and under CPU load a signal timed from the folder could land before the fit had set
    # its own handlers, in code where a KeyboardInterrupt is not the fit's stop (a finalizer
    # swallows it and prints a traceback, and the trial then runs all its 400 epochs)
    started = tmp_path / "logs/sweeps/kink_mlp/trials/trial_0000/version_0/checkpoints"
    deadline = time.monotonic() + 300
    while not started.is_dir() and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not started.is_dir():
        worker.kill()
        pytest.fail(f"trial 0 never started training:\n{worker.communicate()[0]}")
    time.sleep(random.Random(os.getpid()).uniform(0.2, 2.0))
    worker.send_signal(signum)
    try:
        out = worker.communicate(timeout=120)[0]
    except subprocess.TimeoutExpired:
        worker.kill()
        pytest.fail(f"the sweep did not stop within 120 s of {signal.Signals(signum).name}:\n{worker.communicate()[0]}")
    assert worker.returncode == 1, out
    stopped = f"econdl sweep: stopped by {signal.Signals(signum).name} during trial 0"
    assert stopped in out and "run the same command again" in out, out
    assert "Traceback" not in out, out
    table = pd.read_csv(tmp_path / "logs/sweeps/kink_mlp/trials.csv", index_col="trial")
    assert table.loc[0, "state"] == "FAIL" and "interrupted" in table.loc[0, "error"]
    # the same command again (shorter fits here) runs two new trials and ends with them
    again = sweep_main(["--config", str(SWEEP), "--n_trials", "2", *TINY])
    assert again.ran == 2
    assert list(again.table["state"]) == ["FAIL", *[s for s in again.table["state"][1:] if s in ("COMPLETE", "PRUNED")]]
    assert len(again.table) == 3


def test_bad_search_space_key_fails_before_any_trial_naming_it(tmp_path):
    spec = yaml.safe_load(SWEEP.read_text())
    spec["base_config"] = str(CONFIGS / "kink/mlp.yaml")
    spec["search_space"]["optimizer.init_args.lrr"] = {"type": "float", "low": 0.001, "high": 0.1}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(spec))
    result = run_econdl("sweep", "--config", str(bad), *TINY)
    assert result.returncode == 1
    assert "optimizer.init_args.lrr" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "logs/sweeps/kink_mlp/trials").exists()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("n_trials: 2\nn_trials: 3\n", "line 4: 'n_trials' is given twice in one section (first on line 3)"),
        ("n_trials: 2\n\tsampler: tpe\n", "line 4, column 1: not valid YAML"),
    ],
)
def test_a_sweep_file_that_is_not_yaml_is_named_with_its_line(tmp_path, text, words):
    """A tab in a sweep file was reported as a bug in econdl (ScannerError) with a traceback."""
    bad = tmp_path / "bad.yaml"
    head = f"base_config: {CONFIGS / 'kink/mlp.yaml'}\nsearch_space: {{optimizer.init_args.lr: [0.01]}}\n"
    bad.write_text(head + text)
    result = run_econdl("sweep", "--config", str(bad), *TINY)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"{bad}, {words}" in result.stderr, result.stderr
    assert not (tmp_path / "logs").exists()


def test_a_base_config_that_gives_a_key_twice_is_refused_before_any_trial(tmp_path):
    """The parser kept the last value, so the sweep started and every trial failed on it, with
    "change that value in the search space" as the fix."""
    base = tmp_path / "base.yaml"
    base.write_text((CONFIGS / "kink/mlp.yaml").read_text() + "trainer:\n  max_epochs: 2\n")
    sweep = write_sweep(tmp_path, base_config=str(base), n_trials=2)
    result = run_econdl("sweep", "--config", str(sweep), *TINY, "--out", "sw")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "'trainer' is given twice in one section" in result.stderr and "Trial" not in result.stderr
    assert not list((tmp_path / "sw").rglob("*"))  # no study, no trial


def test_bad_search_space_value_and_sampler_are_named(tmp_path):
    spec = yaml.safe_load(SWEEP.read_text())
    spec["base_config"] = str(CONFIGS / "kink/mlp.yaml")
    spec["search_space"]["data.init_args.batch_size"] = {"choices": [64, "many"]}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(spec))
    with pytest.raises(ValueError, match="data.init_args.batch_size.*'many'"):
        sweep_main(["--config", str(bad)])
    spec["sampler"] = {"name": "bayes"}
    spec["search_space"]["data.init_args.batch_size"] = [64]
    bad.write_text(yaml.safe_dump(spec))
    with pytest.raises(ValueError, match="sampler.name='bayes'"):
        sweep_main(["--config", str(bad), *TINY])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres_url(tmp_path):
    """A throw-away PostgreSQL server on localhost, or a skip saying what is missing."""
    pytest.importorskip("psycopg2", reason="PostgreSQL driver missing: pip install 'econdl[postgres]'")
    # on the PATH, or where Debian's postgresql package puts them (/usr/lib/postgresql/<version>/bin)
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0
    )
    found = [str(debian[-1])] if debian else []
    initdb, pg_ctl = (
        shutil.which(name) or shutil.which(name, path=os.pathsep.join(found)) for name in ("initdb", "pg_ctl")
    )
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server programs (initdb, pg_ctl) not installed: apt-get install postgresql")
    as_user: list[str] = []
    data = tmp_path / "pgdata"
    if os.geteuid() == 0:  # postgres refuses to run as root: run it as the postgres user
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and no 'postgres' user to run the server as")
        data = Path(f"/tmp/econdl-pg-{os.getpid()}")
        data.mkdir(mode=0o700)
        os.chown(data, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    try:
        subprocess.run(
            [*as_user, initdb, "-D", str(data), "-U", "econdl", "--auth=trust"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            [
                *as_user,
                pg_ctl,
                "-D",
                str(data),
                "-w",
                "-l",
                str(data / "log"),
                "-o",
                f"-p {port} -k {data} -h 127.0.0.1",
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            [
                *as_user,
                shutil.which("createdb") or "createdb",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "econdl",
                "econdl",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield f"postgresql://econdl@127.0.0.1:{port}/econdl"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "fast", "stop"], capture_output=True, timeout=120)
        time.sleep(0.2)
        shutil.rmtree(data, ignore_errors=True)


def test_sweep_on_a_postgresql_server(postgres_url, tmp_path):
    result = sweep_main(["--config", str(SWEEP), "--n_trials", "2", "--storage", postgres_url, *TINY])
    trials = study_trials(postgres_url)
    assert [t.number for t in trials] == [0, 1] and result.ran == 2
    assert not (tmp_path / "logs/sweeps/kink_mlp/study.db").exists()  # the study lives on the server
    assert result.best_config is not None and result.best_config.is_file()


def test_trials_failing_on_a_sampled_value_end_the_sweep_in_one_line_with_the_trials_written(tmp_path):
    """A learning rate torch's optimizer refuses (-1) passes the parser and the constructors (the
    optimizer is built by the fit); the trials fail on it, each in Optuna's one line without a
    traceback, and the sweep ends as a user error naming the value and its reason (not as an
    econdl bug), with trials.csv written."""
    spec = {
        "base_config": str(CONFIGS / "kink/mlp.yaml"),
        "n_trials": 3,
        "max_failures": 2,
        "search_space": {"optimizer.init_args.lr": {"type": "categorical", "choices": [-1.0]}},
    }
    bad = tmp_path / "neg.yaml"
    bad.write_text(yaml.safe_dump(spec))
    result = run_econdl("sweep", "--config", str(bad), *TINY, "--out", "sw")
    err = result.stderr
    assert result.returncode == 1 and "Traceback" not in err and "bug in econdl" not in err
    assert "Trial 0 failed with parameters: {'optimizer.init_args.lr': -1.0}" in err
    assert (
        "econdl: error: 2 trials failed (max_failures=2); the last, trial 1 with {'optimizer.init_args.lr': -1.0}: "
        in err
    )
    assert "Invalid learning rate: -1.0 (torch's optimizer refused it)" in err
    assert "; change that value in the search space" in err
    table = pd.read_csv(tmp_path / "sw/trials.csv")
    assert list(table["state"]) == ["FAIL", "FAIL"]


@pytest.mark.parametrize(
    ("key", "space", "reason"),
    [
        ("data.init_args.batch_size", {"type": "int", "low": 0, "high": 4}, "batch_size=0 must be a positive integer"),
        ("model.init_args.net.init_args.dropout", {"type": "float", "low": 0.0, "high": 1.5}, "dropout=1.5 must lie"),
    ],
)
def test_a_range_end_the_model_or_data_refuses_fails_before_any_trial(tmp_path, capfd, key, space, reason):
    from econdl.main import main

    spec = {"base_config": str(CONFIGS / "kink/mlp.yaml"), "n_trials": 3, "search_space": {key: space}}
    bad = tmp_path / "ends.yaml"
    bad.write_text(yaml.safe_dump(spec))
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "--config", str(bad), *TINY, "--out", "sw"])
    err = capfd.readouterr().err
    assert exit_.value.code == 1 and "Traceback" not in err
    assert f"econdl: error: search_space key {key!r}: its value" in err and reason in err
    assert "change its range or choices in the sweep file" in err
    assert not (tmp_path / "sw").exists()  # no empty results folder is left behind


def test_a_sweep_on_a_given_storage_refused_before_any_trial_leaves_no_results_folder(tmp_path, capfd):
    """With a storage of its own the results folder was made before the study's checks: a
    study created to maximize, joined to minimize, was refused and left an empty folder."""
    from econdl.main import main

    storage = f"sqlite:///{(tmp_path / 'shared.db').resolve()}"
    optuna.create_study(study_name="s", storage=storage, direction="maximize")
    spec = {
        "study_name": "s",
        "base_config": str(CONFIGS / "kink/mlp.yaml"),
        "n_trials": 1,
        "storage": storage,
        "search_space": {"optimizer.init_args.lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True}},
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "--config", str(tmp_path / "s.yaml"), *TINY, "--out", "sw"])
    assert exit_.value.code == 1 and "was created to maximize" in capfd.readouterr().err
    assert not (tmp_path / "sw").exists()


def test_a_sweep_given_a_default_root_dir_writes_its_results_and_trials_there(tmp_path):
    result = sweep_main(["--config", str(SWEEP), "--n_trials", "1", *TINY, "--trainer.default_root_dir", "elsewhere"])
    out = tmp_path / "elsewhere/sweeps/kink_mlp"
    assert result.out_dir.resolve() == out
    assert (out / "trials.csv").is_file() and (out / "best_config.yaml").is_file()
    assert list((out / "trials/trial_0000").glob("version_*/metrics.csv"))
    assert not (tmp_path / "logs").exists()


def test_the_same_study_run_again_with_other_options_is_refused_naming_them(tmp_path, capsys):
    """Trials fitted on other data or for other epochs cannot be ranked together: a second command
    with other options is refused before any trial, naming each difference, and leaves the first
    sweep's files as they were; the same options go on with the study and say so."""
    from econdl.errors import ConfigError

    sweep_main(["--config", str(SWEEP), "--n_trials", "1", *TINY])
    out = tmp_path / "logs/sweeps/kink_mlp"
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    other = [*TINY[:-1], "--trainer.max_epochs=3", "--data.init_args.x_size=300"]
    with pytest.raises(ConfigError) as refused:
        sweep_main(["--config", str(SWEEP), "--n_trials", "2", *other])
    message = str(refused.value)
    assert "study 'kink_mlp' in logs/sweeps/kink_mlp holds 1 trial(s) run with other settings" in message
    assert "data.init_args.x_size: 256 before, 300 now; trainer.max_epochs: 2 before, 3 now" in message
    assert "--study_name NAME" in message
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    capsys.readouterr()
    again = sweep_main(["--config", str(SWEEP), "--n_trials", "2", *TINY])
    assert again.ran == 1 and len(again.table) == 2
    assert "[sweep] going on with study 'kink_mlp': 1 of 2 trials done" in capsys.readouterr().out


def test_failures_under_earlier_settings_do_not_end_a_study_given_new_ones(tmp_path):
    """A study whose trials all failed (learning rates torch refuses) takes a corrected search
    space; its old failures no longer count towards max_failures, so the corrected sweep runs
    its budget and writes its best config (it stopped at once, twice, on the old failures).
    Choices Optuna cannot change within a study are refused in one line (Optuna's own error
    was a traceback)."""
    from econdl.errors import ConfigError, EcondlError

    spec = {
        "base_config": str(CONFIGS / "kink/mlp.yaml"),
        "n_trials": 2,
        "max_failures": 2,
        "search_space": {"optimizer.init_args.lr": {"type": "float", "low": -1.0, "high": -0.5}},
    }
    sweep = tmp_path / "fix.yaml"
    sweep.write_text(yaml.safe_dump(spec))
    with pytest.raises(EcondlError, match="2 trials failed"):
        sweep_main(["--config", str(sweep), *TINY, "--out", "sw"])
    spec["search_space"]["optimizer.init_args.lr"] = {"type": "float", "low": 0.001, "high": 0.01}
    sweep.write_text(yaml.safe_dump(spec))
    fixed = sweep_main(["--config", str(sweep), *TINY, "--out", "sw"])
    assert fixed.ran == 2 and fixed.best_config is not None
    assert list(fixed.table["state"]) == ["FAIL", "FAIL", "COMPLETE", "COMPLETE"]
    spec["search_space"] = {"optimizer.init_args.lr": [-1.0]}
    sweep.write_text(yaml.safe_dump(spec))
    with pytest.raises(EcondlError, match="2 trials failed"):
        sweep_main(["--config", str(sweep), *TINY, "--out", "cat", "--study_name", "cat"])
    spec["search_space"] = {"optimizer.init_args.lr": [0.01]}
    sweep.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match="other values of optimizer.init_args.lr .* --study_name NAME"):
        sweep_main(["--config", str(sweep), *TINY, "--out", "cat", "--study_name", "cat"])


def test_a_grid_is_run_once_and_a_results_folder_holds_one_study(tmp_path, capsys):
    """A grid of 2 points with a budget of 5 ran its points again on every rerun; another study
    given the same --out replaced the first one's results. Options that change only where and
    how a fit reports do not make a study's settings differ."""
    from econdl.errors import ConfigError

    spec = {
        "study_name": "grid",
        "base_config": str(CONFIGS / "kink/mlp.yaml"),
        "n_trials": 5,
        "sampler": {"name": "grid"},
        "search_space": {"data.init_args.batch_size": [32, 64]},
    }
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump(spec))
    first = sweep_main(["--config", str(grid), *TINY, "--out", "g"])
    assert first.ran == 2 and "the grid has 2 points: n_trials 5 is cut to 2" in capsys.readouterr().out
    quiet = ["--trainer.enable_progress_bar=false", "--trainer.logger=false", "--trainer.default_root_dir=elsewhere"]
    again = sweep_main(["--config", str(grid), *TINY, *quiet, "--out", "g"])
    assert again.ran == 0 and len(again.table) == 2
    assert "going on with study 'grid': 2 of 2 trials done" in capsys.readouterr().out
    before = (tmp_path / "g/trials.csv").read_bytes()
    with pytest.raises(ConfigError, match="g holds the results of study 'grid'"):
        sweep_main(["--config", str(SWEEP), "--n_trials", "1", *TINY, "--out", "g"])
    assert (tmp_path / "g/trials.csv").read_bytes() == before


def test_a_trial_left_running_is_named_and_one_its_heartbeat_failed_says_why(tmp_path, capsys):
    """A trial still marked running when this worker is done (another worker's, or a killed
    one's) is named with what ends it; once the storage's heartbeat has failed it, its row says
    its worker stopped, with no duration (its end time is when a later worker noticed)."""
    from econdl.sweep.results import LOST

    sweep_main(["--config", str(SWEEP), "--n_trials", "1", *TINY])
    study = optuna.load_study(
        study_name="kink_mlp", storage=open_storage(f"sqlite:///{tmp_path / 'logs/sweeps/kink_mlp/study.db'}")
    )
    held = study.ask()  # as a worker killed in its trial leaves it
    capsys.readouterr()
    assert sweep_main(["--config", str(SWEEP), "--n_trials", "2", *TINY]).ran == 0
    printed = capsys.readouterr().out
    assert f"[sweep] trial {held.number} is still marked running: another worker runs it, or a worker" in printed
    assert "the next run of this command runs a new trial in its place" in printed
    study.tell(held.number, state=optuna.trial.TrialState.FAIL)  # what the heartbeat does after its grace period
    again = sweep_main(["--config", str(SWEEP), "--n_trials", "2", *TINY])
    assert again.ran == 1 and "still marked running" not in capsys.readouterr().out
    row = again.table.loc[held.number]
    assert row["state"] == "FAIL" and row["error"] == LOST and pd.isna(row["duration_s"])
    assert (again.table.drop(held.number)["error"].fillna("") == "").all()


# --- unit level: the spec, the parameters, the objective and the best config ----------------
def test_the_objective_is_the_lowest_value_when_minimizing_and_the_highest_when_maximizing():
    from econdl.sweep.study import ObjectiveCallback

    history = [0.40, 0.25, float("nan"), 0.90, 0.60]  # a non-finite validation is never the best
    low, high = ObjectiveCallback(None, "val/acc", "minimize"), ObjectiveCallback(None, "val/acc", "maximize")
    low.history, high.history = list(history), list(history)
    assert low.best() == 0.25 and high.best() == 0.90


def test_a_sanity_check_or_a_diverged_validation_reports_nothing_to_the_trial():
    """Lightning's sanity validation scores untrained weights on a batch or two: no objective."""
    from types import SimpleNamespace

    import torch

    from econdl.sweep.study import ObjectiveCallback

    reported = []
    trial = SimpleNamespace(report=lambda value, step: reported.append((value, step)), should_prune=lambda: False)
    callback = ObjectiveCallback(trial, "val/loss", "minimize")
    metrics = {"val/loss": torch.tensor(0.5)}
    callback.on_validation_end(SimpleNamespace(sanity_checking=True, callback_metrics=metrics), None)
    callback.on_validation_end(SimpleNamespace(sanity_checking=False, callback_metrics=metrics), None)
    assert callback.history == [0.5] and reported == [(0.5, 0)]
    # a diverged validation is kept in the history but not reported: a pruner would rank it
    nan = {"val/loss": torch.tensor(float("nan"))}
    callback.on_validation_end(SimpleNamespace(sanity_checking=False, callback_metrics=nan), None)
    assert len(callback.history) == 2 and reported == [(0.5, 0)] and callback.best() == 0.5


def test_each_worker_samples_from_its_own_seed_and_the_same_worker_repeats_its_draws():
    """A seeded sampler gets the seed plus the number of trials the study holds when the worker
    starts: a second worker (or the same command run again) does not replay the first's values."""
    import optuna

    from econdl.sweep.study import make_sampler

    def first_draws(offset: int) -> list[float]:
        study = optuna.create_study(sampler=make_sampler({"name": "random", "seed": 7}, None, offset))
        return [study.ask().suggest_float("lr", 1e-4, 1.0, log=True) for _ in range(3)]

    assert first_draws(0) == first_draws(0)
    assert first_draws(0) != first_draws(3)


def test_a_search_space_whose_log_scale_changed_is_one_optuna_refuses_within_a_study():
    from econdl.sweep.study import _unchangeable

    space = {"type": "float", "low": 1e-4, "high": 1.0, "log": False, "step": None, "choices": None}
    before = {"search_space.optimizer.init_args.lr": space, "trainer.max_epochs": 3}
    assert _unchangeable(before, {**before, "trainer.max_epochs": 4}) is None
    wider = {**before, "search_space.optimizer.init_args.lr": {**space, "high": 2.0}}
    assert _unchangeable(before, wider) is None  # a wider range: Optuna takes it
    logged = {**before, "search_space.optimizer.init_args.lr": {**space, "log": True}}
    assert _unchangeable(before, logged) == "optimizer.init_args.lr"


def write_sweep(folder: Path, **fields) -> Path:
    spec = {"base_config": str(CONFIGS / "kink/mlp.yaml"), "search_space": {"optimizer.init_args.lr": [0.01]}}
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump({**spec, **fields}))
    return path


def test_a_sweep_file_without_an_objective_minimizes_val_loss(tmp_path):
    from econdl.sweep.spec import load_spec

    spec = load_spec(write_sweep(tmp_path))  # docs/sweep.md: objective {metric: val/loss, direction: minimize}
    assert (spec.metric, spec.direction) == ("val/loss", "minimize")
    spec = load_spec(write_sweep(tmp_path, objective={"direction": "maximize"}))  # the metric keeps its default
    assert (spec.metric, spec.direction) == ("val/loss", "maximize")


def test_a_sweep_file_without_max_failures_stops_after_n_trials_failures(tmp_path):
    from econdl.sweep.spec import load_spec

    assert load_spec(write_sweep(tmp_path, n_trials=7)).max_failures == 7  # docs/sweep.md: default n_trials
    assert load_spec(write_sweep(tmp_path, n_trials=7, max_failures=2)).max_failures == 2


def test_the_best_config_of_a_maximize_study_is_its_highest_trial_and_tests_after_fit(tmp_path):
    """The best config is the highest trial's when the study maximizes, and it tests after its fit
    (docs/sweep.md: it "refits it ... and tests it once") even where every trial ran without."""
    from optuna.distributions import FloatDistribution
    from optuna.trial import create_trial

    from econdl.sweep.parse import FitParser
    from econdl.sweep.results import best_config
    from econdl.sweep.spec import load_spec

    lr = {"type": "float", "low": 0.001, "high": 0.1}
    spec = load_spec(
        write_sweep(
            tmp_path,
            objective={"metric": "val/acc", "direction": "maximize"},
            search_space={"optimizer.init_args.lr": lr},
        )
    )
    study = optuna.create_study(direction="maximize")
    distributions = {"optimizer.init_args.lr": FloatDistribution(0.001, 0.1)}
    for value, rate in ((0.70, 0.002), (0.95, 0.03), (0.80, 0.05), (0.10, 0.004)):
        study.add_trial(create_trial(params={"optimizer.init_args.lr": rate}, distributions=distributions, value=value))
    extra = [*TINY, "--test_after_fit=false"]
    text = best_config(study, spec, FitParser(spec.fit_args(extra=extra)), extra)
    assert text is not None and text.startswith("# Best trial 1 of sweep spec (val/acc = 0.95)")
    best = yaml.safe_load(text)
    assert best["optimizer"]["init_args"]["lr"] == 0.03
    assert best["test_after_fit"] is True and best["run_name"] == "sweeps/spec/best"
    assert best["data"]["init_args"]["x_size"] == 256  # the options given to every trial are kept


def test_the_trials_table_leaves_out_surplus_trials_and_says_why_the_others_failed(tmp_path):
    """A surplus trial (the budget taken by other workers) is no trial of the sweep: no row.  A
    failure econdl recorded keeps its reason; one without (the heartbeat's) says its worker stopped."""
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    from econdl.sweep.results import LOST, trials_table
    from econdl.sweep.spec import load_spec

    lr = {"type": "float", "low": 0.001, "high": 0.1}
    spec = load_spec(write_sweep(tmp_path, search_space={"optimizer.init_args.lr": lr}))
    study = optuna.create_study()
    dist = {"optimizer.init_args.lr": FloatDistribution(0.001, 0.1)}
    made = [
        ({"value": 0.5, "user_attrs": {"epochs": 3}}, TrialState.COMPLETE),
        ({"user_attrs": {"surplus": True, "error": "surplus: the budget was taken"}}, TrialState.FAIL),
        ({"user_attrs": {"error": "Invalid learning rate"}}, TrialState.FAIL),
        ({}, TrialState.FAIL),
    ]
    for fields, state in made:
        study.add_trial(
            create_trial(state=state, params={"optimizer.init_args.lr": 0.01}, distributions=dist, **fields)
        )
    table = trials_table(study, spec)
    assert list(table.index) == [0, 2, 3]
    assert list(table["state"]) == ["COMPLETE", "FAIL", "FAIL"] and table.loc[0, "val/loss"] == 0.5
    assert list(table["error"]) == ["", "Invalid learning rate", LOST]
    assert table.loc[0, "epochs"] == 3 and (table["optimizer.init_args.lr"] == 0.01).all()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"type": "float", "low": 0.1, "high": 0.1}, "low=0.1 must be below high=0.1"),
        ({"type": "int", "low": 64, "high": 32}, "low=64.0 must be below high=32.0"),
        ({"type": "float", "low": 0.0, "high": 0.1, "log": True}, "a log scale needs low > 0, got low=0.0"),
        ({"type": "float", "low": -0.5, "high": 0.1, "log": True}, "a log scale needs low > 0, got low=-0.5"),
    ],
)
def test_an_empty_range_or_a_log_scale_from_zero_is_refused_naming_the_field(raw, message):
    from econdl.errors import ConfigError
    from econdl.sweep.spec import parse_param

    with pytest.raises(ConfigError, match=re.escape(f"search_space.optimizer.init_args.lr: {message}")):
        parse_param("optimizer.init_args.lr", raw)


@pytest.mark.parametrize(
    ("section", "words"),
    [
        (
            {"pruner": {"name": "percentile"}},
            "pruner 'percentile' with options {}: missing a required argument: "
            "'percentile'; its options are ['percentile', ",
        ),
        (
            {"sampler": {"name": "tpe", "n_startup": 1}},
            "sampler 'tpe' with options {'n_startup': 1}: got an unexpected "
            "keyword argument 'n_startup'; its options are [",
        ),
    ],
)
def test_a_sampler_or_pruner_option_left_out_or_misspelt_is_named_before_any_file(tmp_path, capfd, section, words):
    """A pruner the docs name without its required option, or a misspelt sampler option, gave
    Optuna's TypeError as a bug in econdl, after an empty study.db had been made."""
    from econdl.main import main

    spec = {
        "base_config": str(CONFIGS / "kink/mlp.yaml"),
        "n_trials": 2,
        **section,
        "search_space": {"optimizer.init_args.lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}},
    }
    bad = tmp_path / "opts.yaml"
    bad.write_text(yaml.safe_dump(spec))
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "--config", str(bad), *TINY, "--out", "sw"])
    err = capfd.readouterr().err
    assert exit_.value.code == 1 and "Traceback" not in err and "bug in econdl" not in err
    assert words in err, err
    assert not (tmp_path / "sw").exists()


def test_a_grid_of_a_stepped_range_holds_both_ends():
    from econdl.sweep.spec import parse_param

    assert parse_param("data.init_args.batch_size", {"type": "int", "low": 32, "high": 64, "step": 32}).grid() == [
        32,
        64,
    ]
    assert parse_param("b", {"type": "int", "low": 1, "high": 7, "step": 3}).grid() == [1, 4, 7]
    dropout = parse_param("d", {"type": "float", "low": 0.0, "high": 0.3, "step": 0.1}).grid()
    assert dropout == [0.0, 0.1, 0.2, 0.3]  # not 0.30000000000000004
    # a range that is not a whole number of steps stops at the last step inside it (it gave 1.2 for
    # [0, 0.95] by 0.6, a dropout the user never allowed, and the trial failed on it)
    assert parse_param("d", {"type": "float", "low": 0.0, "high": 0.95, "step": 0.6}).grid() == [0.0, 0.6]
    assert parse_param("b", {"type": "int", "low": 1, "high": 8, "step": 3}).grid() == [1, 4, 7]


def test_an_int_parameter_is_suggested_on_its_step():
    from econdl.sweep.spec import parse_param

    param = parse_param("data.init_args.batch_size", {"type": "int", "low": 32, "high": 128, "step": 32})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    drawn = []
    for _ in range(30):
        trial = study.ask()
        drawn.append(param.suggest(trial))
        study.tell(trial, 0.0)
    assert set(drawn) <= {32, 64, 96, 128} and len(set(drawn)) > 1
    assert study.trials[0].distributions["data.init_args.batch_size"].step == 32
