"""Checks that a ``--ckpt_path`` is a checkpoint, and one the config can use, before any weight
is loaded; explains a load that fails anyway in the user's terms.

A checkpoint is read with ``torch.load(weights_only=True)``: it can hold tensors and plain
containers only, never code (see docs/scaling.md on checkpoints from others).  What it was
trained with is read from the hyper-parameters Lightning saves (``hyper_parameters`` and
``datamodule_hyper_parameters``) and compared with what the config builds.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from econdl.errors import CheckpointError, CheckpointNotFound

# Values of --ckpt_path that Lightning resolves itself (or econdl, for "last").
SPECIAL_PATHS = ("last", "best", "hpc")
# Hyper-parameters that change the shape or the meaning of what a model learns: a checkpoint
# with other values cannot serve a config with these.  Others (learning rate, ridge, dropout)
# may differ.
MODEL_KEYS = (
    "widths",
    "channels",
    "in_channels",
    "in_features",
    "out_features",
    "batchnorm",
    "image_size",
    "degree",
    "knots",
    "kind",
    "method",
)
DATA_KEYS = ("lags", "horizon", "exog", "dim", "m", "classes", "variant", "image_size")


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint at ``path`` read without running code; CheckpointError if it is none."""
    path = Path(path)
    if not path.exists():
        raise CheckpointNotFound(
            f"--ckpt_path {path} does not exist; give the path of a .ckpt file (runs keep theirs in "
            "<save_dir>/<task>/<model>/version_N/checkpoints/, logs/ unless --trainer.default_root_dir says "
            "otherwise), or last or best for the newest run of this config"
        )
    if path.is_dir():
        raise CheckpointError(f"--ckpt_path {path} is a folder; give one .ckpt file in it")
    try:
        ckpt = torch.load(path, weights_only=True, map_location="cpu")
    except (
        pickle.UnpicklingError,
        RuntimeError,
        EOFError,
        KeyError,
        ValueError,
        zipfile.BadZipFile,
        UnicodeDecodeError,
        AttributeError,
        IndexError,
        TypeError,
    ) as err:
        raise CheckpointError(
            f"{path} is not an econdl/Lightning checkpoint (torch.load cannot read it as one); "
            "give a .ckpt file written by `econdl fit`"
        ) from err
    except PermissionError as err:
        raise CheckpointError(f"{path} cannot be read: permission denied; give a .ckpt file you can read") from err
    except OSError as err:  # e.g. a file cut short where its archive index points past the end
        raise CheckpointError(
            f"{path} cannot be read as a checkpoint ({err.strerror or err}); it may be truncated or "
            "damaged: give a complete .ckpt file written by `econdl fit`"
        ) from err
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict):
        raise CheckpointError(
            f"{path} is not an econdl/Lightning checkpoint (no state_dict in it); "
            "give a .ckpt file written by `econdl fit`"
        )
    return ckpt


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:160] if text else type(err).__name__


def _short(class_path: Any) -> str:
    return str(class_path or "?").rsplit(".", 1)[-1]


def _plain(value: Any) -> Any:
    """Namespaces as dicts, tuples as lists, so that config and checkpoint values compare."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _flat(spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(class path, init args) of a config entry or of saved hyper-parameters."""
    spec = _plain(spec) or {}
    if "class_path" in spec:
        return str(spec["class_path"]), dict(spec.get("init_args") or {}) | dict(spec.get("dict_kwargs") or {})
    return str(spec.get("_class_path", "")), {k: v for k, v in spec.items() if not k.startswith("_")}


def _differ(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a != b


def _describe(class_path: str, args: dict[str, Any], keys: list[str], net: tuple[str, dict] | None) -> str:
    inner = [f"{k} {args[k]}" for k in keys if k in args]
    if net is not None:
        net_class, net_args = net
        shown = keys if any(k in net_args for k in keys) else ["widths", "channels"]
        net_text = " ".join([_short(net_class), *[f"{k} {net_args[k]}" for k in shown if k in net_args]])
        inner.insert(0, net_text)
    return f"{_short(class_path)}({', '.join(inner)})" if inner else _short(class_path)


def _net(args: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    return _flat(args["net"]) if isinstance(args.get("net"), dict) else None


def mismatch(ckpt: dict[str, Any], model_config: Any, data_config: Any) -> str | None:
    """How the checkpoint's model and data differ from what the config builds, or None."""
    saved_model, saved_data = ckpt.get("hyper_parameters") or {}, ckpt.get("datamodule_hyper_parameters") or {}
    if not saved_model.get("_class_path"):
        return None  # saved outside the CLI: nothing to compare with
    m_ckpt, m_cfg = _flat(saved_model), _flat(model_config)
    d_ckpt, d_cfg = _flat(saved_data), _flat(data_config)
    n_ckpt, n_cfg = _net(m_ckpt[1]), _net(m_cfg[1])
    model_keys = [k for k in MODEL_KEYS if _differ(m_ckpt[1].get(k), m_cfg[1].get(k))]
    net_keys = [k for k in MODEL_KEYS if n_ckpt and n_cfg and _differ(n_ckpt[1].get(k), n_cfg[1].get(k))]
    data_keys = [k for k in DATA_KEYS if _differ(d_ckpt[1].get(k), d_cfg[1].get(k))]
    if n_ckpt is None or n_cfg is None:
        same_net = n_ckpt is None and n_cfg is None
    else:
        same_net = _short(n_ckpt[0]) == _short(n_cfg[0])
    same_model = _short(m_ckpt[0]) == _short(m_cfg[0]) and not model_keys and not net_keys and same_net
    same_data = not d_ckpt[0] or (_short(d_ckpt[0]) == _short(d_cfg[0]) and not data_keys)
    if same_model and same_data:
        return None
    keys = model_keys + net_keys
    held = _describe(m_ckpt[0], m_ckpt[1], keys, n_ckpt)
    built = _describe(m_cfg[0], m_cfg[1], keys, n_cfg)
    return (
        f"this checkpoint holds {held} trained on {_describe(d_ckpt[0], d_ckpt[1], data_keys, None)}; "
        f"the config builds {built} on {_describe(d_cfg[0], d_cfg[1], data_keys, None)}"
    )


def saved_config_hint(path: str | Path) -> str:
    """Where the run that wrote ``path`` keeps its config, as advice."""
    config = Path(path).resolve().parent.parent / "config.yaml"
    if config.is_file():
        return f"pass the config it was trained with (--config {config})"
    return "pass the config it was trained with, or a checkpoint of this config"


def _larger(now: Any, fit: Any) -> bool:
    return isinstance(now, (int, float)) and isinstance(fit, (int, float)) and now > fit


def data_class(class_path: str) -> Any:
    """The econdl data module class a config's ``data.class_path`` names (one of
    ``InMemoryDataModule``'s), or None."""
    import importlib

    module, _, name = str(class_path).rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return None
    return cls if hasattr(cls, "split_keys") else None


def holds_examples(path: str | Path, data: Any) -> bool:
    """Whether the checkpoint at ``path`` keeps the fingerprints of ``data``'s examples (read
    without loading its tensors)."""
    try:
        ckpt = torch.load(path, weights_only=True, map_location="cpu", mmap=True)
    except Exception:  # noqa: BLE001 (a file that is no checkpoint is refused elsewhere, in the user's words)
        return False
    return "examples" in (ckpt.get(data.__qualname__) or {})


def split_mismatch(ckpt: dict[str, Any], data_config: Any, stage: str) -> str | None:
    """How this run's validation or test set (``stage`` ``validate`` or ``test``) is carved
    otherwise than the fit's (the data module's ``split_keys``), or None."""
    saved, built = _flat(ckpt.get("datamodule_hyper_parameters") or {}), _flat(data_config)
    if not saved[0] or not built[0] or _short(saved[0]) != _short(built[0]):
        return None
    cls = data_class(built[0])
    if cls is None:
        return None
    name = cls.__qualname__
    split_keys, aliases, grows = cls.split_keys, getattr(cls, "aliases", {}), getattr(cls, "split_grows", ())

    def canonical(values: dict[str, Any]) -> dict[str, Any]:
        out = dict(values)
        for old, new in aliases.items():  # an option's old name, where given, stands for the option
            if out.get(old) is not None:
                out[new] = out[old]
            out.pop(old, None)
        return out

    if "examples" in (ckpt.get(name) or {}):  # the data module checks the examples themselves, once read
        return None
    fit, now = canonical(saved[1]), canonical(built[1])
    show = lambda v: f"{v:g}" if isinstance(v, float) else "null" if v is None else repr(v)  # noqa: E731

    def changed(keys: tuple[str, ...]) -> str:
        # null counts as a value here: train_size null (every image) and 400 carve different sets
        differ = [k for k in keys if k in fit and k in now and fit[k] != now[k]]
        differ = [k for k in differ if not (k in grows and _larger(now[k], fit[k]))]
        return ", ".join(f"{k} {show(fit[k])} in the fit, {show(now[k])} now" for k in differ)

    split = {"validate": "validation", "test": "test"}.get(stage, stage)
    if shown := changed(split_keys.get(stage, ())):
        return (
            f"this run carves its {split} set with other settings than the fit did ({shown}): it can hold "
            f"examples the model was trained on, which would flatter its scores; {stage} with the fit's data settings"
        )
    if stage == "test" and (shown := changed(split_keys.get("train", ()))):
        return (
            f"this run carves its training set with other settings than the fit did ({shown}): the test's "
            "Training Set row (train/acc) would score other examples than the model was trained on; test with "
            "the fit's data settings"
        )
    return None


def check_fits(
    path: str | Path,
    ckpt: dict[str, Any],
    model_config: Any,
    data_config: Any,
    resume: bool = False,
    stage: str | None = None,
) -> None:
    """CheckpointError naming both sides if the checkpoint was written for another model or data,
    or (to ``validate`` or ``test``, the ``stage``) if this run's split differs from the fit's, or
    naming the first weight (and, to ``resume`` a fit, optimizer state) that is NaN or infinite."""
    problem = mismatch(ckpt, model_config, data_config) or (stage and split_mismatch(ckpt, data_config, stage))
    if problem:
        raise CheckpointError(f"{path}: {problem}; {saved_config_hint(path)}")
    bad = first_non_finite_entry(ckpt, optimizer=resume)
    if bad:
        use = "would train on from frozen or NaN values" if resume else "would score as NaN"
        raise CheckpointError(
            f"{path} holds NaN or infinite values ({bad}): the state of a fit that diverged, which {use}; "
            "use a checkpoint written before it diverged, or fit again with a lower learning rate"
        )


def _non_finite(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all())


def first_non_finite_entry(ckpt: dict[str, Any], optimizer: bool = True) -> str | None:
    """The first weight (``state_dict``) or, with ``optimizer``, optimizer state of ``ckpt``
    holding NaN/inf, or None."""
    for name, value in ckpt["state_dict"].items():
        if _non_finite(value):
            return name
    for state in ckpt.get("optimizer_states") or [] if optimizer else []:
        entries = state.get("state") if isinstance(state, dict) else None
        for param, tensors in (entries or {}).items():
            for key, value in (tensors or {}).items():
                if _non_finite(value):
                    return f"the optimizer's {key} of parameter {param}"
    return None


def explain_load_failure(path: str | Path, err: BaseException) -> CheckpointError | None:
    """A CheckpointError for weights that do not fit the model (``size mismatch``, missing or
    unexpected keys), or None when ``err`` is something else."""
    text = str(err)
    if "Error(s) in loading state_dict" not in text:
        return None
    size = re.search(
        r"size mismatch for ([\w.]+): copying a param with shape torch.Size\((\[[^\]]*\])\) from "
        r"checkpoint, the shape in current model is torch.Size\((\[[^\]]*\])\)",
        text,
    )
    if size:
        detail = (
            f"{size.group(1)} is {size.group(2)} in the checkpoint but {size.group(3)} in the model this data builds"
        )
    else:
        keys = re.search(r"(Missing key\(s\)|Unexpected key\(s\)) in state_dict: ([^\n]{0,160})", text)
        detail = f"{keys.group(1).lower()} {keys.group(2)}" if keys else _first_line(err)
    return CheckpointError(
        f"{path} does not fit the model the config builds: {detail}; the data settings that size the "
        f"network (e.g. lags, image size, classes) must match the training run's; {saved_config_hint(path)}"
    )
