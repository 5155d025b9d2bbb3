"""Four costs of a Lightning fit that econdl removes without changing what it computes.

The first two were found by profiling the kink MLP, the third and fourth by profiling the GDP
MLP (``benchmarks/step_overhead.py`` measures their effect on a step, ``benchmarks/log_call.py``
the third's on a ``self.log`` call):

1. **A CUDA probe on every optimizer step of a CPU fit.**  Importing Lightning sets
   ``PYTORCH_NVML_BASED_CUDA_CHECK=1`` (so that asking whether CUDA is there does not
   initialise it and spoil ``fork``).  torch's Adam and AdamW ask on every ``step()`` (their
   CUDA-graph check), and in that mode, before CUDA is initialised, torch loads and queries
   libnvidia-ml each time: the largest per-step cost of a small model on a 2-core machine.
   While a CPU trainer runs, :func:`cuda_count_pinned` keeps torch's answer, as torch itself
   does once CUDA is initialised, and gives torch its own behaviour back when the run ends
   (so a ``CUDA_VISIBLE_DEVICES`` set later is counted again).

2. **Callback hooks that do nothing.**  Lightning calls every hook of every callback,
   about ten hooks per optimizer step, each inside a profiler context whose name is built
   from the callback's ``state_key`` (for ModelCheckpoint and EarlyStopping, a dictionary
   formatted into a string), even where the callback does not override the hook and the
   profiler records nothing.  With the default nine callbacks that is about 80 calls per
   step.  For a trainer marked by :func:`direct_hooks`, while its profiler is Lightning's
   pass-through one (the default), econdl calls the hooks that callbacks override, and the
   module's and strategy's hooks, directly, with the same arguments, in the same order,
   and with the same ``_current_fx_name`` set on the module while each runs.  Any
   ``--trainer.profiler`` (``simple``, ``advanced``, ``pytorch``), or Lightning's debug
   logging, restores Lightning's own dispatch, so profiles and debug logs stay complete.

3. **Moving logged values to the device they are on.**  Every ``self.log`` call moves the
   stored result to the value's device by rebuilding the stored object's whole attribute
   dictionary (its dataclass metadata copied, every container walked), once per validation
   batch and metric, although after the first call everything is on that device already.
   :func:`install_result_to` skips that move when every tensor it would move is on the
   device and every torchmetrics metric it would move is on the device in the default
   dtype (moving a metric also resets its dtype to the default), for every trainer; anything
   else is moved by Lightning's own code, as before.

4. **Reading a hook's signature again and again.**  Lightning asks whether ``training_step``
   takes a ``batch_idx`` on every training step, whether it takes a ``dataloader_iter`` on
   every ``self.log`` call, and whether the evaluation hooks take a ``dataloader_idx`` at
   every validation, each time through ``inspect.getfullargspec`` (tens of microseconds).
   :func:`install_signature_memo` answers from a memo kept per function, with the answer
   Lightning's own function gave for the same arguments; a function whose code or
   ``__wrapped__`` has changed since is read again.  It holds for every trainer in the
   process (the answers are the same), under the same source check as the others
   (``_SIGNATURE_CHECKED``).

The first two apply to the runs of the trainers that econdl builds (``EconCLI``'s, and the GDP
task's rolling-origin refits); other Lightning trainers in the same process keep Lightning's
dispatch.  econdl replaces Lightning's three dispatch functions only where their source is
one its replacements were checked against (``_CHECKED``) and nothing else has replaced or
wrapped them already; otherwise every trainer keeps Lightning's dispatch (``installed()``
says which).  The same holds for the third, checked against ``_RESULT_TO_CHECKED``
(``install_result_to()`` says whether it is in place).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import logging
import sys
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.trainer import call
from lightning.pytorch.trainer.connectors.logger_connector.result import _ResultMetric
from lightning.pytorch.utilities import signature_utils
from torchmetrics import Metric

_FLAG = "_econdl_direct_hooks"
_ORIGINAL: dict[str, Any] = {
    "_call_callback_hooks": call._call_callback_hooks,
    "_call_lightning_module_hook": call._call_lightning_module_hook,
    "_call_strategy_hook": call._call_strategy_hook,
}
_LIGHTNING = dict(_ORIGINAL)  # what the replacements fall back to
# sha256 (first 16 hex digits) of the three functions' source in the Lightning releases the
# replacements below were compared with line by line: 2.6.6
_CHECKED = {"7aff6bc390f59392"}
# the same for ``_ResultMetric.to`` (Lightning 2.6.6)
_LIGHTNING_RESULT_TO = _RESULT_TO = _ResultMetric.to  # the second is what _result_to falls back to
_RESULT_TO_CHECKED = {"f45ccd7696961427"}
# the same for ``is_param_in_hook_signature`` (Lightning 2.6.6), and the modules that import it
_LIGHTNING_SIGNATURE = signature_utils.is_param_in_hook_signature
_SIGNATURE_CHECKED = {"6bd4f22c778d7ccc"}
_SIGNATURE_USERS = (
    "lightning.pytorch.core.module",
    "lightning.pytorch.core.optimizer",
    "lightning.pytorch.loops.evaluation_loop",
    "lightning.pytorch.loops.prediction_loop",
    "lightning.pytorch.loops.training_epoch_loop",
    "lightning.pytorch.loops.utilities",
    "lightning.pytorch.trainer.configuration_validator",
    "lightning.pytorch.callbacks.prediction_writer",
)
_log = logging.getLogger(call.__name__)  # Lightning's debug lines for every hook come from here


def _digest(*functions: Any) -> str:
    """sha256 (first 16 hex digits) of the functions' source."""
    source = "".join(inspect.getsource(fn) for fn in functions)
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _source_digest() -> str:
    return _digest(*_ORIGINAL.values())


def _lightnings_own(fn: Any, module: str, qualname: str) -> bool:
    """Whether ``fn`` is the function Lightning defines, not a wrapper around it (a
    ``functools.wraps`` wrapper has the same source for ``inspect`` and the same digest)."""
    return (
        getattr(fn, "__module__", None) == module
        and getattr(fn, "__qualname__", None) == qualname
        and not hasattr(fn, "__wrapped__")
    )


@contextmanager
def cuda_count_pinned(trainer: L.Trainer) -> Iterator[bool]:
    """While the block runs, for a trainer on the CPU, answer torch's "how many CUDA devices?"
    from a cache (see the module's docstring); yields whether it did.  Afterwards torch counts
    as it always does."""
    cpu = trainer.accelerator.__class__.__name__ == "CPUAccelerator"
    if not cpu or getattr(torch.cuda, "_cached_device_count", 0) is not None:
        yield False  # a GPU run, another torch, or torch caches the count itself already
        return
    torch.cuda._cached_device_count = torch.cuda.device_count()
    try:
        yield True
    finally:
        torch.cuda._cached_device_count = None


def _direct(trainer: Any) -> bool:
    return (
        trainer.__dict__.get(_FLAG, False)
        and type(trainer.profiler) is PassThroughProfiler
        and not _log.isEnabledFor(logging.DEBUG)
    )


def _set_fx_name(pl_module: Any, name: str | None) -> None:
    # what nn.Module.__setattr__ does for a value that is no parameter, buffer or module,
    # without its isinstance checks
    pl_module.__dict__["_current_fx_name"] = name


def _call_callback_hooks(
    trainer: L.Trainer, hook_name: str, *args: Any, monitoring_callbacks: bool | None = None, **kwargs: Any
) -> None:
    if monitoring_callbacks is not None or not _direct(trainer):
        return _LIGHTNING["_call_callback_hooks"](
            trainer, hook_name, *args, monitoring_callbacks=monitoring_callbacks, **kwargs
        )
    pl_module = trainer.lightning_module
    if pl_module:  # tested as Lightning tests it
        prev_fx_name = pl_module._current_fx_name
        _set_fx_name(pl_module, hook_name)
    default = getattr(Callback, hook_name, None)
    for callback in trainer.callbacks:  # type: ignore[attr-defined]
        fn = getattr(callback, hook_name)
        if default is not None and getattr(fn, "__func__", None) is default:
            continue  # the Callback base class's hook, which does nothing
        if callable(fn):
            fn(trainer, trainer.lightning_module, *args, **kwargs)
    if pl_module:
        _set_fx_name(pl_module, prev_fx_name)


def _call_lightning_module_hook(
    trainer: L.Trainer, hook_name: str, *args: Any, pl_module: L.LightningModule | None = None, **kwargs: Any
) -> Any:
    module = pl_module or trainer.lightning_module
    if module is None or not _direct(trainer):
        return _LIGHTNING["_call_lightning_module_hook"](trainer, hook_name, *args, pl_module=pl_module, **kwargs)
    fn = getattr(module, hook_name)
    if not callable(fn):
        return None
    prev_fx_name = module._current_fx_name
    _set_fx_name(module, hook_name)
    output = fn(*args, **kwargs)
    _set_fx_name(module, prev_fx_name)
    return output


def _call_strategy_hook(trainer: L.Trainer, hook_name: str, *args: Any, **kwargs: Any) -> Any:
    pl_module = trainer.lightning_module
    if pl_module is None or not _direct(trainer):
        return _LIGHTNING["_call_strategy_hook"](trainer, hook_name, *args, **kwargs)
    prev_fx_name = pl_module._current_fx_name
    _set_fx_name(pl_module, hook_name)
    fn = getattr(trainer.strategy, hook_name)
    if not callable(fn):
        return None  # as Lightning: the name stays set
    output = fn(*args, **kwargs)
    _set_fx_name(pl_module, prev_fx_name)
    return output


def _on_device(value: Any, device: Any) -> bool:
    """Whether every tensor and metric that ``_ResultMetric.to`` would move (it walks dicts,
    lists, tuples and dataclasses) is on ``device`` already."""
    if isinstance(value, torch.Tensor):
        return value.device == device
    if isinstance(value, Metric):
        # its states move with it (Lightning calls metric.to, which also resets the dtype)
        return bool(value.device == device) and value.dtype == torch.get_default_dtype()
    if isinstance(value, dict):
        return all(_on_device(v, device) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_on_device(v, device) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return all(_on_device(getattr(value, f.name), device) for f in dataclasses.fields(value))
    return True  # left alone by the move as well


def _result_to(self: _ResultMetric, *args: Any, **kwargs: Any) -> _ResultMetric:
    if len(args) == 1 and not kwargs and isinstance(args[0], torch.device) and _on_device(self.__dict__, args[0]):
        return self
    return _RESULT_TO(self, *args, **kwargs)


# function -> (its __code__, its __wrapped__, {(param, explicit, min_args): answer}); weak, so
# a function that goes away takes its answers with it
_SIGNATURES: weakref.WeakKeyDictionary[Any, tuple[Any, Any, dict]] = weakref.WeakKeyDictionary()


def _is_param_in_hook_signature(hook_fx: Any, param: str, explicit: bool = False, min_args: int | None = None) -> bool:
    """Lightning's ``is_param_in_hook_signature``, answered once per function (a bound method
    is read through its function: the answer does not depend on the instance)."""
    fn = getattr(hook_fx, "__func__", hook_fx)
    code, wrapped = getattr(fn, "__code__", None), getattr(fn, "__wrapped__", None)
    try:
        known = _SIGNATURES.get(fn)
    except TypeError:  # neither hashable nor weakly referable: not remembered
        return _LIGHTNING_SIGNATURE(hook_fx, param, explicit, min_args)
    if known is None or known[0] is not code or known[1] is not wrapped:
        known = (code, wrapped, {})
        try:
            _SIGNATURES[fn] = known
        except TypeError:
            return _LIGHTNING_SIGNATURE(hook_fx, param, explicit, min_args)
    answers: dict[tuple[str, bool, int | None], bool] = known[2]
    key = (param, explicit, min_args)
    if key not in answers:
        answers[key] = _LIGHTNING_SIGNATURE(hook_fx, param, explicit, min_args)
    return answers[key]


def install_signature_memo() -> bool:
    """Put :func:`_is_param_in_hook_signature` in the place of Lightning's in the modules that
    call it (those imported so far); returns whether it is there, under the same conditions
    as :func:`install`."""
    modules = [sys.modules[name] for name in _SIGNATURE_USERS if name in sys.modules]
    ours = (_LIGHTNING_SIGNATURE, _is_param_in_hook_signature)
    if signature_utils.is_param_in_hook_signature is not _LIGHTNING_SIGNATURE or not all(
        any(getattr(module, "is_param_in_hook_signature", None) is fn for fn in ours) for module in modules
    ):
        return False  # something else (a mock, a tracing tool) has replaced Lightning's
    if not _lightnings_own(_LIGHTNING_SIGNATURE, signature_utils.__name__, "is_param_in_hook_signature"):
        return False
    if _digest(_LIGHTNING_SIGNATURE) not in _SIGNATURE_CHECKED:
        return False
    for module in modules:
        module.is_param_in_hook_signature = _is_param_in_hook_signature  # type: ignore[attr-defined]
    return True


def signature_memo_installed() -> bool:
    """Whether Lightning's loops read hook signatures through econdl's memo."""
    modules = [sys.modules[name] for name in _SIGNATURE_USERS if name in sys.modules]
    return bool(modules) and all(
        getattr(module, "is_param_in_hook_signature", None) is _is_param_in_hook_signature for module in modules
    )


_DIRECT: dict[str, Any] = {
    "_call_callback_hooks": _call_callback_hooks,
    "_call_lightning_module_hook": _call_lightning_module_hook,
    "_call_strategy_hook": _call_strategy_hook,
}


def install_result_to() -> bool:
    """Put :func:`_result_to` in ``_ResultMetric.to``'s place (once); returns whether it is
    there, under the same conditions as :func:`install`."""
    if _ResultMetric.to is _result_to:
        return True
    if _ResultMetric.to is not _LIGHTNING_RESULT_TO:
        return False
    if not _lightnings_own(_LIGHTNING_RESULT_TO, _ResultMetric.__module__, "_ResultMetric.to"):
        return False
    if _digest(_LIGHTNING_RESULT_TO) not in _RESULT_TO_CHECKED:
        return False
    _ResultMetric.to = _result_to  # type: ignore[method-assign]
    return True


def install() -> bool:
    """Put econdl's three functions in Lightning's place (once), :func:`install_result_to` and
    :func:`install_signature_memo`;
    returns whether the three are there.  Nothing is replaced where Lightning's source is not
    one they were checked against, or where something else (a mock, a tracing tool) has
    replaced Lightning's."""
    install_result_to()
    install_signature_memo()
    current = {name: getattr(call, name) for name in _DIRECT}
    if all(current[name] is fn for name, fn in _DIRECT.items()):
        return True
    if any(current[name] is not _ORIGINAL[name] for name in _DIRECT) or _source_digest() not in _CHECKED:
        return False
    if not all(_lightnings_own(fn, call.__name__, name) for name, fn in _ORIGINAL.items()):
        return False
    for name, fn in _DIRECT.items():
        setattr(call, name, fn)
    return True


def installed() -> bool:
    """Whether Lightning's hook dispatch is econdl's."""
    return all(getattr(call, name) is fn for name, fn in _DIRECT.items())


def direct_hooks(trainer: L.Trainer) -> bool:
    """Mark ``trainer`` for direct hook calls (see the module's docstring); returns whether
    they are in place."""
    if not install():
        return False
    trainer.__dict__[_FLAG] = True
    return True


@contextmanager
def fast(trainer: L.Trainer) -> Iterator[None]:
    """Both changes for what runs in the block: ``with fast(trainer): trainer.fit(...)``."""
    direct_hooks(trainer)
    with cuda_count_pinned(trainer):
        yield
