"""Reading a YAML file that a user wrote (a config, a sweep file): a mistake in it is a
ConfigFileInvalid that names the file, the line and the likely fix, where PyYAML and
jsonargparse name only "<unicode string>" and a line."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from econdl.errors import ConfigFileInvalid


def _loader_for(path: str | Path) -> type[yaml.SafeLoader]:
    """A safe YAML loader that refuses a key given twice in one mapping (plain YAML keeps the
    last value without a word, so a setting written twice silently loses its first value)."""

    class UniqueKeys(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
            seen: dict[Any, tuple[int, Any]] = {}  # key -> (line, as written)
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` may be overridden
                    continue
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, Hashable):  # PyYAML's own error says so, with the line
                    continue
                line, written = key_node.start_mark.line + 1, getattr(key_node, "value", key)
                if key in seen:
                    first, as_written = seen[key]
                    same = "is given twice" if as_written == written else f"is the same key as {as_written!r}"
                    raise ConfigFileInvalid(
                        f"{path}, line {line}: {written!r} {same} in one section (first on line {first}); "
                        "keep one of the two lines"
                    )
                seen[key] = (line, written)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeys


def read_yaml(path: str | Path) -> Any:
    """The content of the YAML file ``path``; ConfigFileInvalid, naming the line and the fix,
    where it is not valid YAML or gives a key twice in one mapping."""
    try:
        return yaml.load(Path(path).read_text(encoding="utf-8", errors="replace"), Loader=_loader_for(path))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        text = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
        line = text[mark.line] if mark and mark.line < len(text) else ""
        if "\t" in line[: len(line) - len(line.lstrip())] or "'\\t'" in str(err.problem):
            fix = "YAML indents with spaces, not tabs: replace the tab with spaces"
        elif err.context and ("flow" in err.context or "quoted" in err.context):
            opened = err.context_mark.line + 1 if err.context_mark else mark.line + 1 if mark else "?"
            fix = f"close the bracket or quote opened on line {opened} ({err.context})"
        else:
            fix = "check the indentation of this line and the line above (keys of one level start in one column)"
        raise ConfigFileInvalid(f"{where}: not valid YAML ({err.problem}); {fix}") from None
    except yaml.YAMLError as err:
        raise ConfigFileInvalid(f"{path}: not valid YAML ({' '.join(str(err).split())})") from None
