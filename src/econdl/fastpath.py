"""Two per-step costs of a Lightning fit that econdl removes without changing what it computes.

Both were found by profiling the kink MLP (``benchmarks/step_overhead.py`` measures them):

1. **A CUDA probe on every optimizer step of a CPU fit.**  Importing Lightning sets
   ``PYTORCH_NVML_BASED_CUDA_CHECK=1`` (so that asking whether CUDA is there does not
   initialise it and spoil ``fork``).  torch's Adam and AdamW ask on every ``step()`` (their
   CUDA-graph check), and in that mode, before CUDA is initialised, torch loads and queries
   libnvidia-ml each time: about 0.1-0.3 ms per step on a 2-core machine, 10-15% of a small
   model's step.  For a fit that runs on the CPU, :func:`pin_cuda_device_count` stores the
   answer once for the rest of the process, as torch itself does once CUDA is initialised.
   It initialises nothing, so ``fork`` stays safe.

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

Both apply to the trainers that ``EconCLI`` builds; other Lightning trainers in the same
process keep Lightning's dispatch.  If a Lightning version changes the three functions'
signatures, econdl leaves them alone (``installed()`` says whether it did).
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.trainer import call

_FLAG = "_econdl_direct_hooks"
_LIGHTNING: dict[str, Any] = {
    "_call_callback_hooks": call._call_callback_hooks,
    "_call_lightning_module_hook": call._call_lightning_module_hook,
    "_call_strategy_hook": call._call_strategy_hook,
}
_EXPECTED = {
    "_call_callback_hooks": ["trainer", "hook_name", "args", "monitoring_callbacks", "kwargs"],
    "_call_lightning_module_hook": ["trainer", "hook_name", "args", "pl_module", "kwargs"],
    "_call_strategy_hook": ["trainer", "hook_name", "args", "kwargs"],
}
_log = logging.getLogger(call.__name__)  # Lightning's debug lines for every hook come from here


def pin_cuda_device_count(trainer: L.Trainer) -> bool:
    """For a fit on the CPU: answer torch's "how many CUDA devices?" from a cache for the rest
    of the process (see the module's docstring).  Returns whether it pinned the count."""
    if trainer.accelerator.__class__.__name__ != "CPUAccelerator" or not hasattr(torch.cuda, "_cached_device_count"):
        return False
    if torch.cuda._cached_device_count is None:
        torch.cuda._cached_device_count = torch.cuda.device_count()
    return True


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
    if pl_module is not None:
        prev_fx_name = pl_module._current_fx_name
        _set_fx_name(pl_module, hook_name)
    default = getattr(Callback, hook_name, None)
    for callback in trainer.callbacks:  # type: ignore[attr-defined]
        fn = getattr(callback, hook_name)
        if default is not None and getattr(fn, "__func__", None) is default:
            continue  # the Callback base class's hook, which does nothing
        if callable(fn):
            fn(trainer, pl_module, *args, **kwargs)
    if pl_module is not None:
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


_DIRECT: dict[str, Any] = {
    "_call_callback_hooks": _call_callback_hooks,
    "_call_lightning_module_hook": _call_lightning_module_hook,
    "_call_strategy_hook": _call_strategy_hook,
}


# the Lightning functions replaced must take what econdl's replacements take
_COMPATIBLE = all(list(inspect.signature(fn).parameters) == _EXPECTED[name] for name, fn in _LIGHTNING.items())


def installed() -> bool:
    """Whether Lightning's hook dispatch is econdl's (it is unless the signatures changed)."""
    return all(getattr(call, name) is fn for name, fn in _DIRECT.items())


def direct_hooks(trainer: L.Trainer, enabled: bool = True) -> bool:
    """Mark ``trainer`` for direct hook calls (see the module's docstring); returns whether
    they are in place."""
    if not _COMPATIBLE:
        return False
    for name, fn in _DIRECT.items():
        setattr(call, name, fn)
    trainer.__dict__[_FLAG] = enabled
    return enabled


def speed_up(trainer: L.Trainer) -> None:
    """Both of the module's changes, for a trainer that econdl builds."""
    pin_cuda_device_count(trainer)
    direct_hooks(trainer)
