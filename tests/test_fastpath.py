"""econdl.fastpath: direct hook calls and the pinned CUDA count change how fast a fit runs,
never what it computes or which hooks run."""

from __future__ import annotations

import dataclasses
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.profilers import SimpleProfiler
from lightning.pytorch.trainer import call
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from econdl import fastpath
from econdl.cli import cli_main
from helpers import CONFIGS, FAST

# every hook a callback can override that a fit reaches at least once
HOOKS = [
    "setup",
    "on_fit_start",
    "on_train_start",
    "on_train_epoch_start",
    "on_train_batch_start",
    "on_before_backward",
    "on_after_backward",
    "on_before_optimizer_step",
    "on_before_zero_grad",
    "on_train_batch_end",
    "on_validation_start",
    "on_validation_epoch_start",
    "on_validation_batch_start",
    "on_validation_batch_end",
    "on_validation_epoch_end",
    "on_validation_end",
    "on_train_epoch_end",
    "on_save_checkpoint",
    "on_train_end",
    "on_fit_end",
    "teardown",
]


class Recorder(Callback):
    """Overrides the first half of HOOKS (the rest stay the base class's no-ops) and records
    each call with the module's ``_current_fx_name`` at that moment."""

    def __init__(self, log: list[tuple[str, str | None]], name: str) -> None:
        self.calls, self.name = log, name

    @property
    def state_key(self) -> str:
        return f"Recorder[{self.name}]"


def _recording(hook: str) -> Any:
    def record(self: Recorder, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any, **kwargs: Any) -> None:
        self.calls.append((f"{self.name}.{hook}", pl_module._current_fx_name))

    return record


OVERRIDDEN = HOOKS[::2]
for _hook in OVERRIDDEN:
    setattr(Recorder, _hook, _recording(_hook))


class Tiny(L.LightningModule):
    """Dropout and an epoch-level scheduler, so results depend on the order of everything."""

    def __init__(self, log: list[tuple[str, str | None]]) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 1))
        self.calls = log

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        self.calls.append(("module.training_step", self._current_fx_name))
        loss = nn.functional.mse_loss(self.net(batch[0]), batch[1])
        self.log("train/loss", loss, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.calls.append(("module.validation_step", self._current_fx_name))
        self.log("val/loss", nn.functional.mse_loss(self.net(batch[0]), batch[1]))

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.calls.append(("module.on_train_batch_end", self._current_fx_name))

    def configure_optimizers(self) -> Any:
        opt = torch.optim.AdamW(self.parameters(), lr=0.05)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5, threshold=0.9)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val/loss"}}


def _fit(
    tmp_path: Any,
    direct: bool,
    profiler: SimpleProfiler | None = None,
    module: type[Tiny] = Tiny,
    dataset: type[TensorDataset] = TensorDataset,
) -> dict[str, Any]:
    torch.manual_seed(0)
    x = torch.randn(96, 3)
    log: list[tuple[str, str | None]] = []
    model = module(log)
    data = dataset(x, x.sum(1, keepdim=True) ** 2)
    data.model = model  # type: ignore[attr-defined]
    trainer = L.Trainer(
        max_epochs=3,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[Recorder(log, "a"), ModelCheckpoint(dirpath=tmp_path / f"ckpt-{direct}"), Recorder(log, "b")],
        profiler=profiler,
        log_every_n_steps=1,
    )
    if direct:
        assert fastpath.direct_hooks(trainer)
    trainer.fit(model, DataLoader(data, batch_size=16, shuffle=True), DataLoader(data, batch_size=32))
    return {
        "log": log,
        "weights": [p.detach().clone() for p in model.parameters()],
        "metrics": {k: float(v) for k, v in trainer.callback_metrics.items()},
        "lr": trainer.optimizers[0].param_groups[0]["lr"],
        "trainer": trainer,
    }


def test_direct_hooks_call_the_same_hooks_in_the_same_order_and_compute_the_same(tmp_path: Any) -> None:
    lightning, direct = _fit(tmp_path, direct=False), _fit(tmp_path, direct=True)
    assert len(lightning["log"]) > 200  # every step's hooks, not just the ends of the fit
    assert {h.split(".", 1)[1] for h, _ in lightning["log"] if h.startswith("a.")} == set(OVERRIDDEN)
    assert direct["log"] == lightning["log"]  # hooks, order, and the module's _current_fx_name in each
    for a, b in zip(direct["weights"], lightning["weights"], strict=True):
        assert torch.equal(a, b)
    assert direct["metrics"] == lightning["metrics"]
    assert direct["lr"] == lightning["lr"] < 0.05  # the plateau scheduler saw the same val/loss
    best = [out["trainer"].checkpoint_callback.best_model_score for out in (direct, lightning)]
    assert best[0] == best[1]


class Watched(TensorDataset):
    """Rows read between hooks, where no hook name is set: records the module's name there."""

    model: Tiny

    def __getitem__(self, index: int) -> Any:
        self.model.calls.append(("data", self.model._current_fx_name))
        return super().__getitem__(index)


def test_each_hook_gives_back_the_name_it_found_so_none_is_left_set_between_hooks(tmp_path: Any) -> None:
    lightning = _fit(tmp_path, direct=False, dataset=Watched)
    assert {name for hook, name in lightning["log"] if hook == "data"} == {None}
    assert _fit(tmp_path, direct=True, dataset=Watched)["log"] == lightning["log"]


class EmptyLooking(Tiny):
    """A module whose truth value is False (as a container of no items would be): Lightning's
    callback dispatch tests ``if pl_module:``, so it sets no ``_current_fx_name`` for it."""

    def __len__(self) -> int:
        return 0


def test_a_module_whose_truth_value_is_false_sees_the_names_lightning_gives_it(tmp_path: Any) -> None:
    lightning = _fit(tmp_path, direct=False, module=EmptyLooking)
    assert not lightning["log"][0][1]  # the callbacks saw no hook name set, as Lightning does it
    assert _fit(tmp_path, direct=True, module=EmptyLooking)["log"] == lightning["log"]


def test_direct_hooks_skip_lightnings_dispatch_in_the_training_loop(tmp_path: Any, monkeypatch: Any) -> None:
    calls = {"callback": 0, "module": 0}
    for key, name in (("callback", "_call_callback_hooks"), ("module", "_call_lightning_module_hook")):
        original = fastpath._LIGHTNING[name]

        def counting(*args: Any, _original: Any = original, _key: str = key, **kwargs: Any) -> Any:
            calls[_key] += 1
            return _original(*args, **kwargs)

        monkeypatch.setitem(fastpath._LIGHTNING, name, counting)
    _fit(tmp_path, direct=True)
    assert fastpath.installed()
    # Lightning's own dispatch only for the two calls an epoch that pass monitoring_callbacks
    assert calls["callback"] <= 2 * 3 and calls["module"] == 0, calls
    _fit(tmp_path, direct=False)
    assert calls["callback"] > 100 and calls["module"] > 50, calls


def test_a_profiler_gets_lightnings_own_dispatch_and_sees_every_hook(tmp_path: Any) -> None:
    out = _fit(tmp_path, direct=True, profiler=SimpleProfiler(dirpath=tmp_path, filename="profile"))
    names = set(out["trainer"].profiler.recorded_durations)
    # a hook the Recorder does not override is still profiled, as Lightning does it
    skipped = next(h for h in HOOKS if h not in OVERRIDDEN and h.startswith("on_train_batch"))
    assert f"[Callback]Recorder[a].{skipped}" in names
    assert "[Strategy]SingleDeviceStrategy.training_step" in names
    assert "[LightningModule]Tiny.on_train_batch_start" in names  # not overridden either
    assert out["log"] == _fit(tmp_path, direct=False)["log"]


def test_a_cpu_run_pins_the_cuda_count_so_adam_does_not_probe_nvml_every_step(monkeypatch: Any) -> None:
    probes = []
    original = torch.cuda._device_count_nvml

    def probe() -> int:
        probes.append(1)
        return original()

    monkeypatch.setattr(torch.cuda, "_device_count_nvml", probe)
    monkeypatch.setattr(torch.cuda, "_cached_device_count", None)
    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")  # as importing Lightning sets it
    p = nn.Parameter(torch.ones(4))
    opt = torch.optim.AdamW([p])

    def steps(n: int) -> int:
        before = len(probes)
        for _ in range(n):
            p.grad = torch.ones(4)
            opt.step()
        return len(probes) - before

    if not torch.cuda.is_initialized():
        assert steps(5) >= 5  # what the pin removes: one NVML probe per step
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False)
    with fastpath.cuda_count_pinned(trainer) as pinned:
        assert pinned
        assert steps(20) == 0
    # the run is over: torch counts again, so a CUDA_VISIBLE_DEVICES set later is seen
    assert torch.cuda._cached_device_count is None
    if not torch.cuda.is_initialized():
        assert steps(2) >= 2


def test_a_gpu_run_leaves_the_count_to_torch(monkeypatch: Any) -> None:
    """Only a CPU trainer is pinned: a GPU run initialises CUDA, and torch counts from then on."""
    from types import SimpleNamespace

    class CUDAAccelerator:
        pass

    monkeypatch.setattr(torch.cuda, "_cached_device_count", None)
    with fastpath.cuda_count_pinned(SimpleNamespace(accelerator=CUDAAccelerator())) as pinned:  # type: ignore[arg-type]
        assert not pinned and torch.cuda._cached_device_count is None


def test_debug_logging_of_lightnings_hook_calls_gets_lightnings_dispatch(tmp_path: Any, monkeypatch: Any) -> None:
    """Lightning's debug log names every hook it calls: with it on, every hook goes through it."""
    import logging

    calls = []
    original = fastpath._LIGHTNING["_call_lightning_module_hook"]
    monkeypatch.setitem(
        fastpath._LIGHTNING, "_call_lightning_module_hook", lambda *a, **k: calls.append(a[1]) or original(*a, **k)
    )
    log = logging.getLogger(fastpath.call.__name__)
    level = log.level
    log.setLevel(logging.DEBUG)  # (setLevel also clears the cached answers of isEnabledFor)
    try:
        _fit(tmp_path, direct=True)
    finally:
        log.setLevel(level)
    assert "training_step" not in calls and calls.count("on_train_batch_end") == 3 * 6


def test_a_count_torch_already_caches_is_left_alone(monkeypatch: Any) -> None:
    monkeypatch.setattr(torch.cuda, "_cached_device_count", 3)
    with fastpath.cuda_count_pinned(L.Trainer(accelerator="cpu", devices=1, logger=False)) as pinned:
        assert not pinned
    assert torch.cuda._cached_device_count == 3


def _lightnings_own(monkeypatch: Any) -> None:
    """Lightning's dispatch functions in place, as before econdl's first trainer."""
    for name, fn in fastpath._ORIGINAL.items():
        monkeypatch.setattr(call, name, fn)


def test_a_dispatch_someone_else_replaced_is_kept(tmp_path: Any, monkeypatch: Any) -> None:
    _lightnings_own(monkeypatch)
    seen: list[str] = []

    def spy(trainer: Any, hook_name: str, *args: Any, **kwargs: Any) -> None:
        seen.append(hook_name)
        return fastpath._ORIGINAL["_call_callback_hooks"](trainer, hook_name, *args, **kwargs)

    monkeypatch.setattr(call, "_call_callback_hooks", spy)
    assert not fastpath.direct_hooks(L.Trainer(accelerator="cpu", devices=1, logger=False))
    assert call._call_callback_hooks is spy and not fastpath.installed()
    _fit(tmp_path, direct=False)
    assert "on_train_batch_end" in seen


def test_a_dispatch_wrapped_before_econdl_was_imported_is_kept(monkeypatch: Any) -> None:
    import functools

    _lightnings_own(monkeypatch)
    name = "_call_callback_hooks"
    lightnings = fastpath._ORIGINAL[name]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return lightnings(*args, **kwargs)

    wrapped = functools.wraps(lightnings)(wrapper)  # what econdl saw at import, same digest
    monkeypatch.setitem(fastpath._ORIGINAL, name, wrapped)
    monkeypatch.setattr(call, name, wrapped)
    assert fastpath._source_digest() in fastpath._CHECKED
    assert not fastpath.direct_hooks(L.Trainer(accelerator="cpu", devices=1, logger=False))
    assert call._call_callback_hooks is wrapped


def test_a_lightning_whose_dispatch_source_differs_keeps_its_dispatch(monkeypatch: Any) -> None:
    _lightnings_own(monkeypatch)
    monkeypatch.setattr(fastpath, "_CHECKED", set())
    assert not fastpath.direct_hooks(L.Trainer(accelerator="cpu", devices=1, logger=False))
    assert not fastpath.installed()


class _Pins(Callback):
    def __init__(self) -> None:
        self.counts: list[int | None] = []

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        self.counts.append(torch.cuda._cached_device_count)


def test_econdl_fits_get_both_and_the_installed_lightning_is_one_they_were_checked_against(tmp_path: Any) -> None:
    assert fastpath._source_digest() in fastpath._CHECKED  # a new Lightning: compare the replacements again
    pins = _Pins()
    cli = cli_main(
        ["fit", "--config", str(CONFIGS / "kink" / "mlp.yaml"), *FAST, "--trainer.max_epochs=1"],
        trainer_defaults={"callbacks": [pins]},
        verbose_test=False,
    )
    assert cli.trainer.__dict__[fastpath._FLAG] is True
    assert fastpath.installed() and call._call_callback_hooks is fastpath._call_callback_hooks
    assert pins.counts and all(c is not None for c in pins.counts)  # pinned during the fit
    if not torch.cuda.is_initialized():  # once CUDA is up, torch caches the count itself
        assert torch.cuda._cached_device_count is None  # not pinned after the fit


def _logged(values: list[Any], metric: bool = False) -> dict[str, Any]:
    """Log ``values`` as a validation epoch does (tensors, or a torchmetrics MeanMetric updated
    with them) and return what Lightning computes for the epoch."""
    from lightning.pytorch.trainer.connectors.logger_connector.result import _ResultCollection
    from torchmetrics import MeanMetric

    results = _ResultCollection(training=False)
    mean = MeanMetric()
    for v in values:
        if metric:
            mean.update(v)
            results.log("validation_step", "val/m", mean, on_step=False, on_epoch=True, batch_size=4)
        results.log("validation_step", "val/mean", v, on_step=False, on_epoch=True, batch_size=4)
        results.log("validation_step", "val/max", v, on_step=False, on_epoch=True, reduce_fx="max", batch_size=4)
    return {key: float(m.compute()) for key, m in results.items()}


def test_logging_on_the_stored_device_skips_the_move_and_computes_what_lightning_computes(monkeypatch: Any) -> None:
    from lightning.pytorch.trainer.connectors.logger_connector.result import _ResultMetric

    assert fastpath.install_result_to() and _ResultMetric.to is fastpath._result_to
    moves: list[Any] = []

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        moves.append(args)
        return fastpath._LIGHTNING_RESULT_TO(self, *args, **kwargs)

    monkeypatch.setattr(fastpath, "_RESULT_TO", counting)
    values = [torch.tensor(x) for x in (0.5, 2.0, -1.0, 3.5)]
    ours = _logged(values, metric=True)
    assert moves == []  # every value and the stored results were on the CPU already
    monkeypatch.setattr(_ResultMetric, "to", fastpath._LIGHTNING_RESULT_TO)
    expected = {"validation_step.val/m": 1.25, "validation_step.val/mean": 1.25, "validation_step.val/max": 3.5}
    assert ours == _logged(values, metric=True) == expected


def test_a_result_stored_elsewhere_is_moved_by_lightnings_code(monkeypatch: Any) -> None:
    from lightning.pytorch.trainer.connectors.logger_connector.result import _Metadata, _ResultMetric

    assert fastpath.install_result_to()
    moves: list[Any] = []

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        moves.append(args)
        return fastpath._LIGHTNING_RESULT_TO(self, *args, **kwargs)

    monkeypatch.setattr(fastpath, "_RESULT_TO", counting)
    stored = _ResultMetric(_Metadata(fx="validation_step", name="val/loss"), is_tensor=True)
    stored.update(torch.tensor(2.0), batch_size=3)
    stored.to(torch.device("meta"))
    assert moves == [(torch.device("meta"),)]
    assert stored.value.device.type == "meta" and stored.cumulated_batch_size.device.type == "meta"
    assert all(t.device.type == "meta" for t in stored._defaults.values())


@dataclasses.dataclass
class _Holder:
    tensor: torch.Tensor


def test_anything_off_the_device_or_a_metric_in_another_dtype_sends_the_move_to_lightning() -> None:
    from torchmetrics import MeanMetric

    cpu, meta = torch.device("cpu"), torch.device("meta")
    assert fastpath._on_device({"a": [torch.ones(1)], "b": (MeanMetric(),), "c": _Holder(torch.ones(1))}, cpu)
    assert not fastpath._on_device({"a": [torch.ones(1, device="meta")]}, cpu)
    assert not fastpath._on_device({"c": _Holder(torch.ones(1, device="meta"))}, cpu)  # inside a dataclass
    assert not fastpath._on_device({"m": MeanMetric()}, meta)  # a metric elsewhere
    # moving a metric resets its dtype to the default, so one in float64 must be moved
    assert not fastpath._on_device({"m": MeanMetric().set_dtype(torch.float64)}, cpu)


def test_a_result_move_someone_else_replaced_or_wrapped_is_kept(monkeypatch: Any) -> None:
    import functools

    from lightning.pytorch.trainer.connectors.logger_connector.result import _ResultMetric

    def theirs(self: Any, *args: Any, **kwargs: Any) -> Any:
        return fastpath._LIGHTNING_RESULT_TO(self, *args, **kwargs)

    monkeypatch.setattr(_ResultMetric, "to", theirs)
    assert not fastpath.install_result_to() and _ResultMetric.to is theirs
    # a functools.wraps wrapper put in place before econdl was imported: same source digest
    wrapped = functools.wraps(fastpath._LIGHTNING_RESULT_TO)(theirs)
    assert fastpath._digest(wrapped) == fastpath._digest(fastpath._LIGHTNING_RESULT_TO)
    monkeypatch.setattr(fastpath, "_LIGHTNING_RESULT_TO", wrapped)
    monkeypatch.setattr(_ResultMetric, "to", wrapped)
    assert not fastpath.install_result_to() and _ResultMetric.to is wrapped


def test_a_lightning_whose_result_move_differs_keeps_its_own(monkeypatch: Any) -> None:
    from lightning.pytorch.trainer.connectors.logger_connector.result import _ResultMetric

    # a new Lightning: compare _result_to with its ``to`` again
    assert fastpath._digest(fastpath._LIGHTNING_RESULT_TO) in fastpath._RESULT_TO_CHECKED
    monkeypatch.setattr(_ResultMetric, "to", fastpath._LIGHTNING_RESULT_TO)
    monkeypatch.setattr(fastpath, "_RESULT_TO_CHECKED", set())
    assert not fastpath.install_result_to()
    assert _ResultMetric.to is fastpath._LIGHTNING_RESULT_TO


class _Hooks:
    def step(self, batch: Any, batch_idx: int) -> None: ...

    def one(self, batch: Any) -> None: ...

    def pair(self, batch: Any, other: Any) -> None: ...  # batch_idx only by min_args

    def star(self, *args: Any) -> None: ...

    def iterating(self, dataloader_iter: Any) -> None: ...


class _Unhashable:
    __hash__ = None  # type: ignore[assignment]

    def __call__(self, batch: Any, batch_idx: int) -> None: ...


def _questions() -> list[tuple[str, bool, int | None]]:
    return [
        ("batch_idx", False, 2),
        ("batch_idx", False, None),
        ("dataloader_iter", True, None),
        ("dataloader_idx", False, None),
        ("batch", True, None),
    ]


def test_the_signature_memo_answers_what_lightning_answers_and_reads_a_changed_function_again() -> None:
    import functools

    def decorated(fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return fn(*args, **kwargs)

        return wrapper

    hooks = _Hooks()
    plain = [hooks.step, hooks.one, hooks.pair, hooks.star, hooks.iterating, _Hooks.step, decorated(_Hooks.one)]
    plain += [functools.partial(_Hooks.step, hooks), _Unhashable(), lambda self, batch, batch_idx: None]
    for fn in plain:
        for question in _questions():
            for _ in range(2):  # the second answer comes from the memo
                assert fastpath._is_param_in_hook_signature(fn, *question) == fastpath._LIGHTNING_SIGNATURE(
                    fn, *question
                ), (fn, question)
    # a method redefined in place (a notebook cell run again) is read again
    assert fastpath._is_param_in_hook_signature(hooks.one, "batch_idx", False, 2) is False
    _Hooks.one.__code__ = _Hooks.step.__code__
    try:
        assert fastpath._is_param_in_hook_signature(hooks.one, "batch_idx", False, 2) is True
    finally:
        _Hooks.one.__code__ = _Hooks.iterating.__code__  # any code of one argument


def test_a_fit_reads_each_hook_signature_once_not_at_every_step(tmp_path: Any, monkeypatch: Any) -> None:
    reads: list[str] = []
    lightnings = fastpath._LIGHTNING_SIGNATURE

    def counting(hook_fx: Any, param: str, *args: Any) -> bool:
        reads.append(param)
        return lightnings(hook_fx, param, *args)

    assert fastpath.install_signature_memo()  # (the count below replaces what it checks for)
    monkeypatch.setattr(fastpath, "_LIGHTNING_SIGNATURE", counting)
    fastpath._SIGNATURES.clear()
    steps: list[int] = []
    counts: list[int] = []
    for epochs in (1, 4):
        reads.clear()
        cli = cli_main(
            ["fit", "--config", str(CONFIGS / "kink" / "mlp.yaml"), *FAST, f"--trainer.max_epochs={epochs}"],
            verbose_test=False,
        )
        steps.append(cli.trainer.global_step)
        assert fastpath.signature_memo_installed()
        counts.append(len(reads))
        fastpath._SIGNATURES.clear()
    assert steps[1] >= 4 * steps[0] > 0
    assert 0 < counts[0] == counts[1], counts  # one read per (function, question), however long the fit


def test_a_signature_reader_someone_else_replaced_is_kept(monkeypatch: Any) -> None:
    from lightning.pytorch.loops import training_epoch_loop

    def theirs(*args: Any) -> bool:
        return fastpath._LIGHTNING_SIGNATURE(*args)

    monkeypatch.setattr(training_epoch_loop, "is_param_in_hook_signature", theirs)
    assert not fastpath.install_signature_memo()
    assert training_epoch_loop.is_param_in_hook_signature is theirs


def test_a_lightning_whose_signature_reader_differs_keeps_its_own(monkeypatch: Any) -> None:
    import sys

    # a new Lightning: compare _is_param_in_hook_signature with its reader again
    assert fastpath._digest(fastpath._LIGHTNING_SIGNATURE) in fastpath._SIGNATURE_CHECKED
    for name in fastpath._SIGNATURE_USERS:
        if name in sys.modules:
            monkeypatch.setattr(sys.modules[name], "is_param_in_hook_signature", fastpath._LIGHTNING_SIGNATURE)
    monkeypatch.setattr(fastpath, "_SIGNATURE_CHECKED", set())
    assert not fastpath.install_signature_memo() and not fastpath.signature_memo_installed()
