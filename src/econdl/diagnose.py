"""Tell the user's mistakes from econdl's bugs, for the one place that reports failures.

``diagnose(err)`` reads an exception and its causes and returns what the user should see:
the user's own message for a mistake (digging it out of jsonargparse's wrappers), a line
naming the fix for a resource that ran out, or ``kind="bug"`` for everything else.
"""

from __future__ import annotations

import argparse
import errno
import os
import inspect
import re
import traceback
from pathlib import Path
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from econdl.errors import EcondlError, missing_config

Kind = Literal["user", "resource", "bug"]

# What jsonargparse puts around the reason when a value or a constructor call fails.
_WRAPPERS = (
    "Does not validate against any of the Union subtypes",
    "Problem with given class_path",
    "Parser key",
    "Validation failed",
)

# Lightning refusing two callbacks whose saved states would share one key (same type, monitor, mode)
_TWIN_CALLBACKS = re.compile(r"Found more than one stateful callback of type `(\w+)`")


# Lightning's ModelCheckpoint watching a metric that no one logs
_UNLOGGED_MONITOR = re.compile(
    r"`ModelCheckpoint\(monitor='([^']+)'\)` could not find the monitored key in the returned metrics: \[(.*?)\]"
)

# torch's optimizers and schedules check their settings in __init__ and raise ValueError
_TORCH_OPTIM = os.sep + os.path.join("torch", "optim") + os.sep
_OPTIMIZER_SETTING = {  # the words of torch's messages -> the argument they are about
    "learning rate": "lr",
    "epsilon value": "eps",
    "beta parameter": "betas",
    "weight_decay value": "weight_decay",
    "momentum value": "momentum",
}


@dataclass(frozen=True)
class Diagnosis:
    """How a failure is reported: its kind, the one-line message, the exit code."""

    kind: Kind
    message: str = ""
    exit_code: int = 1


def causes(err: BaseException) -> Iterator[BaseException]:
    """``err``, then what it was raised from, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)


def one_line(text: str) -> str:
    """Collapse a message onto one line (our messages are short; jsonargparse's are not)."""
    return re.sub(r"\s*\n\s*", "; ", str(text).strip()).strip("; ")


def _is_wrapper(err: BaseException) -> bool:
    return isinstance(err, (ValueError, TypeError, argparse.ArgumentError)) and str(err).lstrip().startswith(_WRAPPERS)


def _resource(err: BaseException) -> str | None:
    """The fix for a resource the user can give more of, or None."""
    text = str(err)
    if type(err).__name__ == "OutOfMemoryError" or (isinstance(err, RuntimeError) and "out of memory" in text):
        return (
            "the GPU ran out of memory; use a smaller --data.batch_size (or a smaller network, "
            "or --trainer.precision 16-mixed)"
        )
    if isinstance(err, RuntimeError) and "can't allocate memory" in text:
        return "the machine ran out of memory; use a smaller --data.batch_size or a smaller data set or network"
    if isinstance(err, MemoryError):
        return "the machine ran out of memory; use a smaller --data.batch_size or a smaller data set or network"
    if isinstance(err, OSError) and err.errno in (errno.EMFILE, errno.ENFILE):
        return (
            "too many open files; raise the limit (`ulimit -n 4096`) or use fewer data-loading "
            "workers (--data.num_workers 0)"
        )
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" while writing {err.filename}" if err.filename else ""
        return f"the disk is full{where}; free some space or write the runs elsewhere (--trainer.default_root_dir DIR)"
    return None


_STRUCTURE = re.compile(
    r"^(Does not validate against any of the Union subtypes|Subtypes:|Errors:|Given value"
    r"|Expected a <class 'NoneType'>)"
)


def _optimizer_message(err: BaseException) -> str | None:
    """A setting that torch's optimizer or learning-rate schedule refused (a negative learning
    rate, say), named as the option that sets it; None for anything else."""
    frames = traceback.extract_tb(err.__traceback__) if isinstance(err, ValueError) else []
    if not frames or _TORCH_OPTIM not in frames[-1].filename:
        return None
    section = "lr_scheduler" if os.path.basename(frames[-1].filename) == "lr_scheduler.py" else "optimizer"
    message = one_line(str(err)).rstrip(".")
    if "empty parameter list" in message:  # nothing to optimize: the network, not the optimizer
        return (
            "the model has no parameters to train (torch's optimizer got an empty parameter list): give the "
            "network layers with weights (--model.net ...), or fit a closed-form model instead"
        )
    name = next((arg for words, arg in _OPTIMIZER_SETTING.items() if words in message), None)
    should = re.match(r"(\w+) should ", message)  # ReduceLROnPlateau: "Factor should be < 1.0."
    name = name or (should.group(1).lower() if should else None)
    option = f"--{section}.{name}" if name else f"the {section}'s settings (--{section}.NAME VALUE)"
    return (
        f"{message} (torch's {section} refused it): change {option} in the config's `{section}:` section "
        "or on the command line"
    )


def _argument_message(err: argparse.ArgumentError) -> str:
    """jsonargparse's reason for refusing an option, as one line: the key path, the class it was
    given to and the innermost reason, without the Union preamble and the value dumps."""
    # The message is an indented tree: 'Parser key "k":' and "Problem with given class_path 'C':"
    # nodes, reasons as leaves.  The deepest leaf is the most specific reason.
    stack: list[tuple[int, str]] = []
    best: tuple[int, str, list[str]] | None = None
    given = re.search(r"^\s*Given value: (.*)$", str(err), flags=re.M)
    for raw in str(err).splitlines():
        text = raw.strip().removeprefix("- ").strip()
        if not text or _STRUCTURE.match(text):
            continue
        indent = len(raw) - len(raw.lstrip(" -"))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        inline = re.match(r'(Parser key "[^"]+":)\s*(\S.*)$', text)  # 'Parser key "config": File does not exist'
        if inline:
            stack.append((indent, inline.group(1)))
            text, indent = inline.group(2), indent + 1
        if re.match(r'(Parser key "[^"]+":|Problem with given class_path .*:)$', text):
            stack.append((indent, text))
        elif best is None or indent > best[0]:
            best = (indent, text, [node for _, node in stack])
    if best is None:
        return one_line(str(err))
    _, reason, nodes = best
    keys = [m.group(1) for n in nodes if (m := re.match(r'Parser key "([^"]+)"', n))]
    classes = [m.group(1) for n in nodes if (m := re.match(r"Problem with given class_path '([^']+)'", n))]
    where = f"--{'.'.join(keys)}" if keys else ""
    if classes and classes[-1] not in reason:
        where = f"{where} ({classes[-1]})" if where else classes[-1]
    reason = re.sub(r"Expected a <class '([\w.]+)'>", r"expected \1", reason)
    if re.search(r"has no attribute|No module named|does not correspond to a subclass", reason) and classes:
        reason = f"class {classes[-1]!r} does not exist ({reason})"
        where = f"--{'.'.join(keys)}.class_path" if keys else ""
    value = given.group(1) if given else ""
    if (
        value
        and "Got value" not in reason
        and "NestedArg" not in value
        and "Namespace(" not in value  # a whole parsed list (every callback's settings): kilobytes, no help
        and not re.search(rf"(?<![\w.]){re.escape(value)}(?![\w.])", reason)
    ):
        reason = f"{reason}, got {value!r}"
    return f"{where}: {reason}" if where else reason


def suggest(message: str) -> str:
    """An unrecognised ``--trainer.KEY`` with the Trainer option it was probably meant to be;
    a seed that is no whole number with what a seed is (the parser says "expected bool")."""
    seed = re.match(r"--seed_everything: expected bool, got (.*)$", message)
    if seed:
        return (
            f"--seed_everything {seed.group(1)}: a seed is a whole number from 0 to 4,294,967,295, or true for a "
            "random one, or false for none"
        )
    refused = re.fullmatch(r"(--[\w.]+) \(([\w.]+)\): Option '(\w+)' is not accepted", message)
    if refused:
        close = _close_argument(refused.group(2), refused.group(3))
        if close:
            return f"{message}; did you mean {refused.group(1)}.{close}?"
        names = _arguments(refused.group(2))
        if not names:
            return message
        short = refused.group(2).rpartition(".")[2]
        return (
            f"{message}: {short} takes {', '.join(names)} (`econdl fit --config FILE --print_config` shows "
            f"them with their values)"
        )
    required = re.fullmatch(r"(--[\w.]+) \(([\w.]+)\): the following arguments are required: ([\w, ]+)", message)
    if required:  # --trainer.callbacks+=econdl.callbacks.EarlyStopping without its monitor
        first = required.group(3).split(",")[0].strip()
        example = "val/loss" if first == "monitor" else "VALUE"
        return f"{message}; give each after it, e.g. {required.group(1)}.{first} {example}"
    single = re.fullmatch(
        r"(--[\w.]+)(?: \([\w.]+\))?: expected (?:collections\.abc\.Sequence|list|tuple)\.?,? [Gg]ot(?: value:)? (.*)",
        message,
    )
    if single:  # one value where the option takes a list: --data.exog UNRATE
        value = single.group(2).strip().strip("'\"")
        return f"{message}; {single.group(1)} takes a list: write it in brackets, e.g. {single.group(1)} [{value}]"
    unknown = re.match(r"unrecognized arguments: --trainer\.(\w+)", message)
    if not unknown:
        return message
    close = _close_argument(TRAINER, unknown.group(1))
    if not close:
        return message
    return f"{message}; did you mean --trainer.{close}? (`econdl fit --config FILE --print_config` lists every key)"


TRAINER = "lightning.pytorch.Trainer"


def config_folder(path: str) -> str:
    """``--config DIR``: a subcommand takes one config file; ``econdl compare`` takes folders."""
    folder = Path(path)
    configs = sorted(p.name for p in folder.glob("*.yaml")) if folder.is_dir() else []
    example = f"{str(folder).rstrip('/')}/{configs[0]}" if configs else f"{str(folder).rstrip('/')}/<model>.yaml"
    listed = f" (it holds {', '.join(configs[:6])}{', ...' if len(configs) > 6 else ''})" if configs else ""
    return (
        f"--config {path} is a folder{listed}: give one config file, e.g. --config {example}; to fit every "
        f"config in the folder and compare them, run `econdl compare {path}`"
    )


#: constructor arguments that econdl fills in itself: an optimizer's parameters, a schedule's optimizer
_FILLED_IN = ("params", "optimizer")


def _arguments(class_path: str) -> list[str] | None:
    """The argument names a config can give ``class_path``'s constructor, those it passes on to
    a parent class through ``**kwargs`` included (Lightning's ReduceLROnPlateau takes torch's
    mode, factor, patience, ...); None where it cannot be imported."""
    import importlib

    module, _, attr = class_path.rpartition(".")
    try:
        target = getattr(importlib.import_module(module), attr)
        is_class = inspect.isclass(target)
        inits = [vars(k)["__init__"] for k in inspect.getmro(target) if "__init__" in vars(k)] if is_class else [target]
        names: list[str] = []
        for init in inits:
            params = list(inspect.signature(init).parameters.values())
            positional, keyword = inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD
            names += [p.name for p in params if p.kind not in (positional, keyword) and p.name not in (*names, "self")]
            if not any(p.kind == keyword for p in params):
                break
    except (ImportError, AttributeError, ValueError, TypeError):
        return None
    return [n for n in names if n not in _FILLED_IN]


def _close_argument(class_path: str, name: str) -> str | None:
    """The argument of ``class_path``'s constructor closest to the misspelt ``name``, if any is close."""
    import difflib

    names = _arguments(class_path) or []
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if not close and name in ("learning_rate", "rate"):
        close = [n for n in names if n == "lr"]
    return close[0] if close else None


def unknown_trainer_option(args: list[str]) -> str | None:
    """The message for the first ``--trainer.KEY`` in ``args`` that no Trainer takes (a typo that
    every config of a comparison would refuse), or None."""
    for arg in args:
        found = re.match(r"--trainer\.(\w+)(?:[.=]|$)", arg)
        if found and found.group(1) not in (_arguments(TRAINER) or [found.group(1)]):
            close = _close_argument(TRAINER, found.group(1))
            hint = f"; did you mean --trainer.{close}?" if close else ""
            return f"--trainer.{found.group(1)} is no Trainer option{hint} (`econdl fit --help` lists them)"
    return None


def diagnose(err: BaseException) -> Diagnosis:
    """What the user should see for ``err`` (see the module docstring)."""
    chain = list(causes(err))
    for item in chain:
        if isinstance(item, EcondlError):
            return Diagnosis("user", one_line(str(item)), item.exit_code)
    for item in chain:
        fix = _resource(item)
        if fix:
            return Diagnosis("resource", fix, 1)
    for item in chain:
        refused = _optimizer_message(item)
        if refused:
            return Diagnosis("user", refused, 1)
    if isinstance(err, argparse.ArgumentError):  # the parser refused an option: always the user's
        message = _argument_message(err)
        missing = re.fullmatch(r"--config: File does not exist: '(.+)'", message)
        if missing:
            return Diagnosis("user", missing_config(missing.group(1)), 2)
        folder = re.fullmatch(r"--config: Path is not a file: '(.+)'", message)
        return Diagnosis("user", config_folder(folder.group(1)) if folder else suggest(message), 2)
    if _is_wrapper(err) and len(chain) > 1:
        # a constructor refused a value: its check is the message (ValueError by convention)
        inner = [c for c in chain[1:] if not _is_wrapper(c)]
        if inner and isinstance(inner[-1], ValueError):
            return Diagnosis("user", one_line(str(inner[-1])), 1)
        if inner:
            return Diagnosis("bug")
    for item in chain:
        twin = _TWIN_CALLBACKS.search(str(item))
        if twin:
            return Diagnosis("user", _twin_message(twin.group(1)), 1)
    for item in chain:
        unlogged = _UNLOGGED_MONITOR.search(str(item))
        if unlogged:
            return Diagnosis("user", _unlogged_message(unlogged.group(1), unlogged.group(2)), 1)
    for item in chain:
        if "No supported gpu backend found" in str(item):
            return Diagnosis(
                "user",
                "--trainer.accelerator gpu: torch finds no CUDA GPU on this machine; use --trainer.accelerator cpu "
                "(or auto, which takes a GPU when there is one)",
                1,
            )
    for item in chain:
        if type(item).__name__ == "MisconfigurationException":  # Lightning refusing a trainer setting
            return Diagnosis("user", one_line(str(item)), 1)
    for item in chain:
        where = _unwritable(item)
        if where:
            return Diagnosis("user", where, 1)
    if isinstance(err, (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)) and err.filename:
        return Diagnosis("user", f"{err.filename}: {err.strerror or err}", 1)
    return Diagnosis("bug")


def _unwritable(err: BaseException) -> str | None:
    """A folder that cannot hold what econdl writes (read-only, not permitted, a file in the
    way), named with the fix; None for anything else."""
    if not isinstance(err, OSError) or not err.filename:
        return None
    path = Path(str(err.filename))
    elsewhere = "write the runs to another folder (--trainer.default_root_dir DIR)"
    if err.errno == errno.EROFS:
        return f"{path.parent} is on a read-only file system, where econdl cannot write; {elsewhere}"
    if isinstance(err, NotADirectoryError):
        blocking = next((p for p in [path, *path.parents] if p.is_file()), None)
        if blocking is not None:
            return f"{blocking} is a file, where a folder is needed for {path}; move the file, or {elsewhere}"
    if isinstance(err, PermissionError) and err.errno == errno.EACCES:
        return (
            f"{path}: permission denied; give yourself access to it (chmod), or, if it is where runs are "
            f"written, {elsewhere}"
        )
    made = any(frame.name in ("mkdir", "makedirs") for frame in traceback.extract_tb(err.__traceback__))
    if made and err.errno in (errno.ENOENT, errno.EPERM):  # e.g. under /proc, or a folder the system keeps
        inside = next((p for p in path.parents if p.exists()), None)
        where = f" in {inside}" if inside is not None else ""
        return f"cannot create the folder {path}{where} ({err.strerror}); {elsewhere}"
    return None


def _unlogged_message(key: str, logged: str) -> str:
    names = [name.strip().strip("'\"") for name in logged.split(",") if name.strip()]
    usable = [name for name in names if name.startswith("val/")] or names
    return (
        f"the best checkpoint is chosen by {key}, which this model does not log; it logs "
        f"{', '.join(usable) or 'no validation metric'}: choose one of these with --best_by (e.g. --best_by "
        f"{usable[0] if usable else 'val/loss'}), or `--best_by last` for the final epoch, or change the "
        "monitor of the ModelCheckpoint in your config"
    )


def _twin_message(kind: str) -> str:
    if kind not in ("ModelCheckpoint", "EarlyStopping"):
        return (
            f"two {kind} callbacks with the same settings: a checkpoint cannot hold both their states; "
            "keep one, or give them different settings"
        )
    return (
        f"two {kind} callbacks watch the same metric the same way (monitor and mode), so a checkpoint "
        f"cannot hold both their states; the trainer defaults (configs/trainer/default.yaml) already add "
        "ModelCheckpoint and EarlyStopping on val/loss (mode min), and --best_by points the default "
        "ModelCheckpoint at its metric. Give the one you add another monitor or mode (e.g. "
        "--trainer.callbacks.monitor=val/rmse), or change the default's settings (or --best_by) instead "
        "of adding a second one"
    )
