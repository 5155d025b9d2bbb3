"""The user's mistakes, as exception types of their own.

Code that checks the user's input (files, config values, checkpoints) raises one of
these; the ``econdl`` command prints them as one line, ``econdl: error: MESSAGE``.
Anything else that escapes is treated as a bug in econdl and shown with its
traceback.  Each class still derives from the builtin a caller would catch today
(``ValueError``, ``FileNotFoundError``), so library users lose nothing.

The message names the bad value and the fix, e.g.
``DataError("gdp.csv: column 'GDPC1' not found; columns are DATE, GDP; pass --data.column GDP")``.
"""

from __future__ import annotations


class EcondlError(ValueError):
    """A mistake in what the user gave econdl: printed as one line, no traceback, exit code 1
    (options the parser itself refuses exit with 2, as argparse does)."""

    exit_code: int = 1


class ConfigError(EcondlError):
    """A config value or command-line option that cannot work (bad size, unknown name, ...)."""


class ConfigFileNotFound(ConfigError, FileNotFoundError):
    """A config or sweep file, or a folder of configs, that does not exist: exit code 2, as
    ``econdl fit`` gives for a ``--config`` its parser cannot find."""

    exit_code = 2


class ConfigFileInvalid(ConfigError):
    """A config file that is not valid YAML: refused as the parser refuses it (exit code 2)."""

    exit_code = 2


def missing_config(path: str) -> str:
    """The message for a config file or folder that does not exist.  The configs econdl ships
    sit in its repository, not in an installed package: a path under ``configs/`` says so."""
    message = f"config path {path} does not exist"
    parts = path.replace("\\", "/").split("/")
    if "configs" in parts[:-1]:
        message += (
            "; the configs econdl ships are in the configs/ folder of its repository (the installed package "
            "holds none): run econdl from the repository's root, or give the file's whole path"
        )
    return message


class DataError(EcondlError):
    """A data file or folder that cannot be read as the task expects."""


class DataFileNotFound(DataError, FileNotFoundError):
    """A data file or folder that does not exist."""


class CheckpointError(EcondlError):
    """A checkpoint that is not one, or that was written for another task or model."""


class CheckpointNotFound(CheckpointError, FileNotFoundError):
    """A ``--ckpt_path`` that does not exist."""


class NotFitted(ConfigError, RuntimeError):
    """A closed-form model asked for predictions before it was fitted or loaded."""


class ResourceError(EcondlError):
    """The machine ran out of something the user can give more of (memory, file handles, disk)."""


__all__ = [
    "CheckpointError",
    "CheckpointNotFound",
    "ConfigError",
    "ConfigFileNotFound",
    "DataError",
    "DataFileNotFound",
    "EcondlError",
    "NotFitted",
    "ResourceError",
    "missing_config",
]
