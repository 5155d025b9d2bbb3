"""`econdl compare --workers N`: fits in worker processes give the sequential run's table."""

import json
from pathlib import Path

import pandas as pd
import pytest
from helpers import CONFIGS, FAST

from econdl import parallel
from econdl.compare import compare_main

TIMING = ["fit_s", "refit_s"]


def scores(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=[c for c in TIMING if c in table.columns])


def test_parallel_compare_equals_sequential_bit_for_bit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = [str(CONFIGS / "kink"), *FAST, "--trainer.max_epochs=2", "--seeds", "2"]
    tables = {}
    for workers in (1, 2):
        folder = tmp_path / f"workers{workers}"
        folder.mkdir()
        monkeypatch.chdir(folder)
        tables[workers] = compare_main([*args, "--workers", str(workers), "--out", "cmp"]).table
    # same fits, same seeds, same numbers: not approximately, exactly
    pd.testing.assert_frame_equal(scores(tables[1]), scores(tables[2]), check_exact=True)
    assert tables[2].loc["mlp", "seeds"] == 2
    # the two seeds of the MLP ran side by side, each in its own run directory
    runs = sorted(p.name for p in (tmp_path / "workers2/logs/kink/mlp").iterdir())
    assert runs == ["version_0", "version_1"]
    for run in runs:
        assert (tmp_path / f"workers2/logs/kink/mlp/{run}/checkpoints/last.ckpt").is_file()


def test_plan_chunks_seeds_of_trained_models_and_fits_closed_forms_once(tmp_path: Path) -> None:
    kink = CONFIGS / "kink"
    jobs = parallel.plan([kink / "mlp.yaml", kink / "polynomial.yaml"], seeds=5, workers=2)
    chunks = [seeds for config, seeds in jobs if config.stem == "mlp"]
    assert sorted(s for chunk in chunks for s in chunk) == [0, 1, 2, 3, 4] and sorted(map(len, chunks)) == [2, 3]
    assert jobs[0][1] == [2, 3, 4] and jobs[-1] == (kink / "polynomial.yaml", [0])  # longest first
    assert parallel.plan([kink / "polynomial.yaml"], seeds=1, workers=4) == [(kink / "polynomial.yaml", [None])]


def test_workers_default_to_one_inside_a_data_parallel_launch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "cpu_slots", lambda: 8)
    assert parallel.default_workers([], jobs=3) == 3
    assert parallel.default_workers(["--trainer.devices=2"], jobs=3) == 1
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert parallel.default_workers([], jobs=3) == 1


def test_one_device_written_either_way_keeps_one_worker_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--trainer.devices 1` is the same option as `--trainer.devices=1`: each fit on one device."""
    import torch

    monkeypatch.setattr(parallel, "cpu_slots", lambda: 8)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for var in ("LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    assert parallel.default_workers(["--trainer.devices=1"], jobs=3) == 3
    assert parallel.default_workers(["--trainer.devices", "1"], jobs=3) == 3
    assert parallel.default_workers(["--trainer.devices", "2"], jobs=3) == 1
    # ten or more devices are not one device ("--trainer.devices=1" is where "=12" begins)
    assert parallel.default_workers(["--trainer.devices=12"], jobs=3) == 1
    assert parallel.default_workers(["--trainer.devices", "16"], jobs=3) == 1
    assert parallel.default_workers(["--trainer.devices=[0]"], jobs=3) == 3  # a list of one device
    assert parallel.default_workers(["--trainer.devices=[0,1]"], jobs=3) == 1
    assert parallel.default_workers(["--trainer.strategy=ddp"], jobs=3) == 1
    assert parallel.default_workers(["--trainer.strategy", "lightning.pytorch.strategies.DDPStrategy"], jobs=3) == 1
    assert parallel.default_workers(["--out", "ddp_runs"], jobs=3) == 3  # a folder's name is no strategy


def test_workers_must_be_a_positive_whole_number() -> None:
    with pytest.raises(ValueError, match="--workers 0 must be at least 1"):
        compare_main([str(CONFIGS / "kink"), "--workers", "0"])
    with pytest.raises(ValueError, match="--workers two: give a whole number"):
        compare_main([str(CONFIGS / "kink"), "--workers", "two"])


def test_each_fit_gets_its_share_of_the_threads_whatever_workers_is(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    before = torch.get_num_threads()
    monkeypatch.setattr(parallel, "cpu_slots", lambda: 4)
    torch.set_num_threads(4)
    try:
        # workers x threads never exceeds the cores: oversubscribed OpenMP threads spin-wait
        for jobs in (1, 2, 3, 4, 9):
            workers = parallel.default_workers([], jobs)
            assert workers * parallel.fit_threads([], jobs) <= 4
        assert parallel.fit_threads([], jobs=1) == 4 and parallel.fit_threads([], jobs=2) == 2
        assert parallel.fit_threads([], jobs=9) == 1
        # one thread per worker: forked, so the workers start without importing anything again
        assert parallel.start_context(1).get_start_method() == "fork"
    finally:
        torch.set_num_threads(before)


def test_compare_runs_fits_on_their_share_and_gives_the_threads_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from econdl import compare as compare_module

    seen: list[int] = []
    real_fit_one = compare_module.fit_one

    def spy(config: Path, overrides: list[str]) -> dict:
        seen.append(torch.get_num_threads())
        return real_fit_one(config, overrides)

    monkeypatch.setattr(compare_module, "fit_one", spy)
    monkeypatch.setattr(parallel, "fit_threads", lambda overrides, jobs: 1)
    monkeypatch.chdir(tmp_path)
    before = torch.get_num_threads()
    compare_main([str(CONFIGS / "kink" / "polynomial.yaml"), *FAST, "--workers", "1", "--out", "cmp"])
    assert seen == [1]  # the sequential run computes with the threads a parallel one would
    assert torch.get_num_threads() == before


def test_a_value_a_data_module_refuses_is_one_line_in_a_parallel_compare_as_in_a_sequential_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """From a worker process, a value refused in a constructor (jsonargparse wraps the ConfigError,
    and the process pool drops the wrapper's cause) gave two tracebacks and "looks like a bug"."""
    from econdl.main import main

    configs = [str(CONFIGS / "gdp" / f"{name}.yaml") for name in ("ar", "mean", "random_walk")]
    words = "val_size=0 must be a fraction in (0, 1) or a whole count >= 1"
    for workers in (1, 2):
        with pytest.raises(SystemExit) as exit_:
            main(["compare", *configs, "--data.val_size=0", "--workers", str(workers), "--out", f"cmp{workers}"])
        captured = capsys.readouterr()
        assert exit_.value.code == 1, captured.err
        assert "Traceback" not in captured.err and "looks like a bug" not in captured.err, captured.err
        errors = [line for line in captured.err.splitlines() if line.startswith("econdl: error: ")]
        assert len(errors) == 1 and words in errors[0], captured.err
        assert not (tmp_path / f"cmp{workers}").exists()


def test_a_model_that_cannot_be_fitted_leaves_the_table_of_the_others_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """14 points: too few for the ReLU basis's 21 coefficients, enough for the rest. The table of
    the other three is written, sequential or parallel alike, and the command still fails."""
    from econdl.main import main

    small = ["--data.x_size=14", "--data.val_size=3", "--data.test_size=3", "--trainer.max_epochs=2"]
    args = [str(CONFIGS / "kink"), *small, "--trainer.enable_progress_bar=false"]
    tables = {}
    for workers in (1, 2):
        folder = tmp_path / f"workers{workers}"
        folder.mkdir()
        monkeypatch.chdir(folder)
        with pytest.raises(SystemExit) as exit_:
            main(["compare", *args, "--workers", str(workers), "--out", "cmp"])
        captured = capsys.readouterr()
        assert exit_.value.code == 1 and "Traceback" not in captured.err
        errors = [line for line in captured.err.splitlines() if line.startswith("econdl: error: ")]
        assert errors == [
            "econdl: error: 1 of 4 models could not be fitted (relu_basis; the reasons are above); the table of the "
            "others (chebyshev, mlp, polynomial) is in cmp. Fix those configs or the data for them, or leave them "
            "out of the comparison"
        ]
        assert "failed: relu_basis: ReLUBasisLS(knots=20) has 21 coefficients and needs at least 21" in captured.out
        if workers == 2:  # the progress line of the job that failed says so, not "done"
            progress = [line for line in captured.out.splitlines() if line.startswith("[") and "relu_basis" in line]
            assert len(progress) == 1 and progress[0].endswith("relu_basis failed"), progress
        tables[workers] = pd.read_csv(folder / "cmp/table.csv", index_col="model")
        # the files say it too: a co-author reading table.md or report.html learns what is missing
        left = "Left out, could not be fitted: relu_basis: ReLUBasisLS(knots=20) has 21 coefficients"
        assert left in (folder / "cmp/table.md").read_text() and left in (folder / "cmp/report.html").read_text()
        assert list(json.loads((folder / "cmp/run_info.json").read_text())["failed"]) == ["relu_basis"]
        assert list(tables[workers].index) == ["chebyshev", "mlp", "polynomial"]
    pd.testing.assert_frame_equal(scores(tables[1]), scores(tables[2]), check_exact=True)
    # nothing fits: the first model's own reason, as a fit gives it
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        main(["compare", str(CONFIGS / "kink/relu_basis.yaml"), *small, "--workers", "1"])
    assert "econdl: error: ReLUBasisLS(knots=20) has 21 coefficients" in capsys.readouterr().err


def sleepy_fit(config: Path, overrides: list[str]) -> dict:
    """A stand-in for ``compare.fit_one`` (module level, so worker processes can load it): seed 0
    takes longest, so the chunk that holds it finishes last; the run records its seed and when
    it finished."""
    import time
    from types import SimpleNamespace

    seed = int(next(o for o in overrides if o.startswith("--seed_everything=")).split("=", 1)[1])
    time.sleep(1.5 if seed == 0 else 0.0)
    return {"model": SimpleNamespace(trainer=None), "data": SimpleNamespace(), "seed": seed, "at": time.monotonic()}


def test_fit_all_returns_a_configs_runs_in_seed_order_whatever_order_they_finish(tmp_path: Path) -> None:
    """fit_all's docstring: "runs per config in seed order, as compare.fit_seeds returns them"
    (the table's per-seed rows and seed-to-run-directory pairing rely on it)."""
    config = tmp_path / "slow.yaml"  # not read: closed_form cannot tell, so it is a trained model
    runs = parallel.fit_all([config], [], seeds=4, workers=2, fit_one=sleepy_fit, threads=1)[config]
    assert not isinstance(runs, Exception)
    finished = {run["seed"]: run["at"] for run in runs}
    assert finished[3] < finished[0]  # the case is telling: the chunk [2, 3] finished first
    assert [run["seed"] for run in runs] == [0, 1, 2, 3]


def test_workers_default_to_one_under_a_ddp_strategy(monkeypatch: pytest.MonkeyPatch) -> None:
    """default_workers' docstring: one "inside a data-parallel launch"; a DDP strategy asked for
    in the overrides launches one itself, whatever the cores."""
    import torch

    monkeypatch.setattr(parallel, "cpu_slots", lambda: 8)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for var in ("LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    assert parallel.default_workers(["--trainer.strategy=auto"], 3) == 3
    assert parallel.default_workers(["--trainer.strategy=ddp"], 3) == 1
    assert parallel.default_workers(["--trainer.strategy", "ddp_spawn"], 3) == 1
