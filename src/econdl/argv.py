"""Reading an option's values from a command line as the parser would see them, before it
runs (``--name=VALUE`` or ``--name VALUE``)."""

from __future__ import annotations


def option_values(args: list[str], *names: str) -> list[str]:
    """The values ``args`` gives any of ``names`` (e.g. ``"--config", "-c"``), in order."""
    values = []
    for i, arg in enumerate(args):
        for name in names:
            if arg.startswith(f"{name}="):
                values.append(arg.split("=", 1)[1])
            elif arg == name and i + 1 < len(args):
                values.append(args[i + 1])
    return values
