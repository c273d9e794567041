"""YAML read into PyYAML's node tree, so that every value keeps the line and column it came from.

The show loader walks these nodes itself instead of calling ``yaml.safe_load``: that is what lets
each error point at its line, and it lets mapping keys stay text (in YAML 1.1 a bare ``on:`` key
would otherwise become ``True``). Scalar values resolve exactly as ``yaml.safe_load`` resolves them.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

Path = tuple[str | int, ...]

#: Deeper nesting than this is refused before composing: PyYAML's composer is recursive.
MAX_DEPTH = 64

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class YamlProblem(Exception):
    """The text is not a readable YAML document; ``line`` and ``column`` count from 1."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.message = message


def format_path(path: Path) -> str:
    """Render a document path as ``scenes.intro.leds[2].interval``.

    Keys that are not plain names are quoted: ``outputs["front left"]``.
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def compose(text: str) -> yaml.Node | None:
    """Parse one YAML document into its node tree; ``None`` for an empty document.

    Raises
    ------
    YamlProblem
        For a syntax error, more than one document, or nesting deeper than :data:`MAX_DEPTH`.
    """
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise YamlProblem(
                        *_position(event.start_mark),
                        f"nested more than {MAX_DEPTH} levels deep; a show file never needs that",
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        where = _position(e.problem_mark or e.context_mark)
        message = e.problem or e.context or "unreadable"
        if e.context and e.problem:
            started = _position(e.context_mark)
            if started[0] != where[0]:
                message += f" ({e.context} that starts on line {started[0]})"
            else:
                message = f"{e.context}: {message}"
        raise YamlProblem(*where, f"YAML syntax: {message}") from e
    except yaml.YAMLError as e:  # reader errors (bad characters) carry a position but no mark
        position = getattr(e, "position", 0)
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        raise YamlProblem(line, column, f"YAML syntax: {e}") from e


_constructor = yaml.SafeLoader("")


def scalar_value(node: yaml.ScalarNode) -> Any:
    """The value ``yaml.safe_load`` would give this scalar (int, float, bool, None, str, date...).

    Raises ``ValueError`` when the scalar cannot be constructed (for example ``!!int abc``
    or an unknown tag).
    """
    try:
        return _constructor.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as e:
        raise ValueError(f"cannot read this value ({e.__class__.__name__})") from e


def flatten_merge_keys(node: yaml.MappingNode) -> None:
    """Apply ``<<:`` merge keys to a mapping node in place, as ``yaml.safe_load`` does.

    Raises ``ValueError`` for a merge of something that is not a mapping.
    """
    try:
        _constructor.flatten_mapping(node)
    except yaml.YAMLError as e:
        raise ValueError(getattr(e, "problem", None) or str(e)) from e


def location(node: yaml.Node) -> tuple[int, int]:
    """Line and column, counting from 1, where the node starts."""
    return _position(node.start_mark)


def _position(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
