"""The benchmark's two sides run the same job: each benchmark module builds its econdl
side (a shipped config through the CLI) and its plain PyTorch side at tiny size, and the
settings read from their objects (optimizer and its defaults, schedule and what it
watches, batch sizes, epochs, shuffling, validation, threads, precision, network and its initial weights) match.
Nothing is timed here."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def differences(settings: dict[str, dict]) -> dict[str, tuple]:
    raw, ours = settings["raw"], settings["econdl"]
    return {k: (raw.get(k), ours.get(k)) for k in sorted(set(raw) | set(ours)) if raw.get(k) != ours.get(k)}


@pytest.fixture(autouse=True)
def _stay_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(os.getcwd())  # the econdl side runs in a scratch folder


CASES = [("kink", {}), ("gdp", {}), ("gender", {}), ("mnist", {"model": "mlp"}), ("mnist", {"model": "cnn"})]


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{k.get('model', '')}".strip("-") for n, k in CASES])
def test_both_sides_share_their_settings(name: str, kwargs: dict) -> None:
    module = importlib.import_module(f"benchmarks.bench_{name}")
    if getattr(module, "skip_reason", lambda: None)():
        pytest.skip(module.skip_reason())
    settings = module.settings(**kwargs)
    assert {"optimizer", "opt.lr", "scheduler", "batch_size", "epochs", "threads", "precision"} <= set(settings["raw"])
    assert differences(settings) == {}


def test_the_lecture_recipe_pair_differs_from_the_config_in_the_recipe_alone() -> None:
    """The kink pair that times the shipped config against the lecture's recipe changes the
    raw side's learning rate and schedule, and nothing else (data, network, initial weights,
    batches, weight decay, threads)."""
    from benchmarks import bench_kink

    diff = differences(bench_kink.settings(lecture=True))
    assert diff == {
        "opt.lr": (1e-3, 0.01),
        "sched.factor": (0.1, 0.5),
        "sched.patience": (50, 5),
        "sched.monitor": ("train/loss", "val/loss"),
    }


def test_a_raw_schedule_on_the_training_loss_steps_on_the_epochs_mean_training_loss() -> None:
    """With monitor "train/loss" the raw loop's plateau schedule sees the mean of the epoch's
    batch losses, not the validation loss."""
    from benchmarks import bench_kink

    job = bench_kink.raw_job(1, x_size=64, lecture=True)
    seen: list[float] = []
    step = job.sched.step
    job.sched.step = lambda value: (seen.append(float(value)), step(value))  # type: ignore[method-assign]
    losses: list[float] = []
    loss_fn = job.loss_fn

    def recorded(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        value = loss_fn(pred, y)
        losses.append(float(value.detach()))
        return value

    job.loss_fn = recorded
    out = job.fit()
    train_losses = losses[: out["steps"]]  # the validation batches' losses follow them
    assert seen == [pytest.approx(sum(train_losses) / len(train_losses))]
    assert seen[0] != pytest.approx(out["val_loss"])


def test_a_changed_setting_is_caught() -> None:
    """The comparison sees a difference the raw side would introduce (here: the
    validation loss the schedule watches, and the optimizer's weight decay)."""
    from benchmarks import bench_kink

    job = bench_kink.raw_job(1, x_size=64)
    changed = job.settings()
    job.opt.param_groups[0]["weight_decay"] = 0.0
    job.monitor = "train/loss"
    assert set(differences({"raw": job.settings(), "econdl": changed})) == {"opt.weight_decay", "sched.monitor"}


def test_step_overhead_sides_train_the_same_steps_and_its_section_is_replaced(tmp_path: Path) -> None:
    from benchmarks import step_overhead

    steps = {kind: step_overhead.run(kind, 1)[1] for kind in step_overhead.KINDS}
    assert set(steps.values()) == {40}, steps  # one epoch of 40 batches on every side
    report = tmp_path / "benchmarks.md"
    report.write_text("# Benchmarks\n\ntable\n")
    step_overhead.write_section(report, "first")
    step_overhead.write_section(report, "second")
    text = report.read_text()
    assert text.startswith("# Benchmarks\n\ntable\n") and "second" in text and "first" not in text
    assert text.count(step_overhead.BEGIN) == 1


def test_the_fabric_side_computes_what_the_plain_loop_computes() -> None:
    """Fabric's layer is timed, not a different training: the same weights after an epoch."""
    from benchmarks import bench_kink, step_overhead

    fabric_job, out = step_overhead.fabric_fit(1, fused=True)
    plain = bench_kink.raw_job(1, fused=True)
    plain.fit()
    assert out["steps"] == 40
    fabric_state = fabric_job.net.state_dict()
    for name, value in plain.net.state_dict().items():
        assert torch.equal(fabric_state[name], value), name
    assert not torch.equal(plain.net.state_dict()["0.weight"], bench_kink.raw_job(1).net.state_dict()["0.weight"])


def test_the_log_call_benchmark_times_both_moves_and_leaves_lightning_as_it_was(tmp_path: Path) -> None:
    from lightning.pytorch.trainer.connectors.logger_connector.result import _ResultMetric

    from benchmarks import log_call
    from econdl import fastpath

    assert fastpath.install_result_to()  # econdl's in place, as after any econdl trainer
    before = _ResultMetric.to
    report = tmp_path / "benchmarks.md"
    log_call.main(["--calls", "5", "--repeats", "2", "--write", str(report)])
    text = report.read_text()
    assert _ResultMetric.to is before
    assert "<!-- log_call: begin -->" in text and "| lightning |" in text and "| econdl |" in text


def test_step_overheads_lightning_side_logs_through_lightnings_own_result_move(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import step_overhead
    from econdl import fastpath

    calls = {"n": 0}
    lightnings = fastpath._LIGHTNING_RESULT_TO

    def counting(self: object, *args: object, **kwargs: object) -> object:
        calls["n"] += 1
        return lightnings(self, *args, **kwargs)

    monkeypatch.setattr(fastpath, "_LIGHTNING_RESULT_TO", counting)
    step_overhead.run("lightning", 1)
    assert calls["n"] > 0  # every self.log of the bare side went through Lightning's move
    calls["n"] = 0
    step_overhead.run("fastpath", 1)
    assert calls["n"] == 0


def test_a_benchmark_process_that_dies_without_a_result_is_reported_not_waited_for() -> None:
    import os
    import threading

    from benchmarks.common import isolated

    assert isolated(abs, -3)[0] == 3
    outcome: list[BaseException] = []

    def run() -> None:  # in a daemon thread, so a hang fails the test instead of hanging it
        try:
            isolated(os._exit, 3)
        except BaseException as err:  # noqa: BLE001 (the test inspects whatever was raised)
            outcome.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert outcome, "isolated() still waits for a result from a process that died"
    assert isinstance(outcome[0], RuntimeError) and "died without a result (exit code 3)" in str(outcome[0])


def test_the_callback_ablation_leaves_out_what_each_variant_names() -> None:
    """Each variant of benchmarks/callback_ablation.py fits without the callback it names (a
    callback renamed in the trainer defaults would leave its variant timing the shipped fit)."""
    from benchmarks import callback_ablation

    shipped = set(callback_ablation.run("shipped", 1)[1])
    named = set(callback_ablation.VARIANTS) - {"shipped", "loggers", "all"}
    assert named <= shipped, named - shipped
    ms, kept = callback_ablation.run("ModelCheckpoint", 1)
    assert ms > 0 and set(kept) == shipped - {"ModelCheckpoint"}
    assert "LearningRateMonitor" not in callback_ablation.run("loggers", 1)[1]
    assert callback_ablation.run("all", 1)[1] == ["Watch"]  # the benchmark's own clock, added by econdl_fit


def table_rows(text: str, first_cell: str) -> list[list[str]]:
    """The cells of each row of the markdown table whose header starts with FIRST_CELL."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_cell} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_readme_speed_table_is_the_one_make_bench_wrote() -> None:
    """README.md copies docs/benchmarks.md's ratios, spreads, targets and verdicts, and its date:
    a `make bench` run that is not copied, or a figure edited by hand, fails here."""
    bench = (REPO / "docs" / "benchmarks.md").read_text()
    readme = (REPO / "README.md").read_text()
    speed = readme[readme.index("### Speed against raw PyTorch") :]
    date = bench.split("Date: ", 1)[1].split(".", 1)[0]  # e.g. "2026-12-07 13:31 UTC"
    assert date in speed, f"README's speed section does not give the date of docs/benchmarks.md's run ({date})"

    def two(x: str) -> str:
        return f"{float(x):.2f}"

    def spread(x: str) -> str:
        low, high = x.split("-")
        return f"{two(low)}-{two(high)}"

    def target(x: str) -> str:
        return two(x.removeprefix("<=").strip())

    written = [(two(r[4]), spread(r[5]), target(r[6]), r[7]) for r in table_rows(bench, "benchmark")]
    copied = [(two(r[1]), spread(r[2]), target(r[3]), r[4]) for r in table_rows(speed, "benchmark")]
    assert len(written) >= 5
    assert copied == written
