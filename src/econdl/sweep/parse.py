"""``econdl fit``'s own parser, used without fitting: to check the search space before
the first trial, and to write the best trial's fully resolved config."""

from __future__ import annotations

import contextlib
import io
import re
from argparse import ArgumentError
from typing import Any

from econdl.cli import EconCLI, check_config_files
from econdl.diagnose import _argument_message, one_line
from econdl.errors import ConfigError
from econdl.sweep.spec import SweepSpec, cli_value


class _Parsed(Exception):
    """Carries the CLI out of its constructor once the arguments are parsed."""


class _ParseOnlyCLI(EconCLI):
    def before_instantiate_classes(self) -> None:
        raise _Parsed(self)


def _error_text(stderr: str) -> str:
    """The part of a jsonargparse error after ``error:``, without the usage block."""
    match = re.search(r"error:(.*)", stderr, flags=re.S)
    return (match.group(1) if match else stderr).strip()


class FitParser:
    """Parses ``econdl fit`` argument lists exactly as the command does, without running it."""

    def __init__(self, args: list[str]) -> None:
        check_config_files(args)  # a key given twice is refused before any trial, as `econdl fit` refuses it
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr):
                _ParseOnlyCLI(args=args)
        except _Parsed as done:
            self.cli: Any = done.args[0]
        except ArgumentError as err:
            raise ConfigError(f"`econdl {' '.join(args)}` is not accepted: {one_line(str(err))}") from None
        except SystemExit:
            raise ValueError(f"`econdl {' '.join(args)}` is not accepted: {_error_text(stderr.getvalue())}") from None
        else:  # pragma: no cover - the constructor always parses first
            raise RuntimeError("econdl fit parser did not stop after parsing")

    def parse(self, args: list[str]) -> Any:
        """The ``fit`` namespace for ``args``; ValueError with jsonargparse's reason otherwise."""
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr):
                return self.cli.parser.parse_args(args).fit
        except ArgumentError as err:
            raise ConfigError(_argument_message(err)) from None
        except SystemExit:
            raise ValueError(_error_text(stderr.getvalue())) from None

    def refusal(self, config: Any) -> str | None:
        """Why the model's or the data module's constructor refuses ``config`` (its one-line
        message, as ``econdl fit`` would print it), or None if both build.  Nothing is fitted,
        no data is read and no trainer is made."""
        from econdl.diagnose import diagnose

        parser = self.cli._parser("fit")
        build = getattr(parser, "instantiate", None) or parser.instantiate_classes
        try:
            build(config)
        except Exception as err:
            found = diagnose(err)
            return found.message if found.kind == "user" and found.message else None
        return None

    def dump(self, config: Any) -> str:
        """The config as YAML, as ``econdl fit`` saves it in a run directory."""
        return self.cli._parser("fit").dump(config, skip_validation=True)


def check_search_space(spec: SweepSpec, parser: FitParser, extra: list[str]) -> Any:
    """Fail before the first trial if a search-space key or value is not accepted by ``econdl fit``:
    every key and range end (every choice) is parsed, and the model and data module are built
    with it, so that a value their constructors refuse is named here rather than by failed trials.
    Returns the base config (without sampled values) as parsed."""
    base = spec.fit_args(extra=extra)
    base_config = parser.parse(base)
    refused = parser.refusal(base_config)
    if refused:
        raise ConfigError(
            f"the sweep's base config with its fixed options (`econdl {' '.join(base)}`) is refused: {refused}"
        )
    for param in spec.params:
        for value in param.corners():
            try:
                config = parser.parse([*base, f"--{param.key}={cli_value(value)}"])
            except ValueError as err:
                raise ConfigError(
                    f"search_space key {param.key!r} (value {value!r}) is not accepted by "
                    f"`econdl fit --config {spec.base_config}`: {err} "
                    f"(list every key with `econdl fit --config {spec.base_config} --print_config`)"
                ) from None
            refused = parser.refusal(config)
            if refused:
                raise ConfigError(
                    f"search_space key {param.key!r}: its value {value!r} is refused ({refused}), so trials "
                    "drawing it would fail; change its range or choices in the sweep file"
                )
    return base_config
