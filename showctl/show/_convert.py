"""YAML nodes to frozen dataclasses, and the JSON Schema of the same dataclasses.

The show format is written once, as the dataclasses of :mod:`showctl.show.model` with their
type hints; this module reads those hints both to convert a document (collecting every error
with its location, never stopping at the first) and to export the JSON Schema that editors use.

What the hints may say:

- ``str``, ``int``, ``float``, ``bool``, ``Literal[...]``, ``X | None``;
- ``tuple[X, ...]`` (a YAML list), ``tuple[X, Y]`` (a list of exactly two), ``Mapping[str, X]``;
- a dataclass (a YAML mapping; unknown keys are errors with a suggestion);
- a union of *tagged* dataclasses: each has ``KIND`` (what they all are, such as ``program``),
  ``TAG`` (the key that names this one, such as ``blink``) and ``TAG_FIELD`` (the field that
  key's value goes into), so
  ``{blink: centre, interval: 1s}`` becomes ``Blink(leds=..., interval=1.0)``;
- a union of ``str`` and ``tuple[...]``, told apart by the node's kind;
- ``Annotated[...]`` with :class:`Range`, :class:`Seconds`, :class:`Pattern`, :class:`OneOrMany`,
  :class:`NonEmpty` and :class:`Doc` (the field's description in the schema).

A field with ``metadata={"internal": True}`` is filled by the loader, not by the document; one
with ``metadata={"key": "in"}`` is written so in the document (a key that is a Python keyword).

A dataclass may also set ``INLINE`` (the name of a field whose type takes every key the class
does not know itself), ``SCALAR_FIELD`` (a plain scalar fills that field alone) and
``SCALAR_WORDS`` (plain words that stand for a whole value, such as ``silence``).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import re
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import yaml

from showctl.errors import Problem, Severity
from showctl.show._yaml import Path, flatten_merge_keys, format_path, location, scalar_value

T = TypeVar("T")

#: Stop expanding aliases past this many nodes (a "billion laughs" document).
MAX_NODES = 100_000


# --- markers for Annotated ------------------------------------------------------------------


@dataclass(frozen=True)
class Range:
    """The number must lie in ``[min, max]``."""

    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Seconds:
    """A duration: a number of seconds, or text such as ``250ms``, ``2s``, ``5min``, ``1h 30min``.

    Stored as a float of seconds. ``above`` is an exclusive lower bound, ``max`` inclusive.
    """

    above: float | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Pattern:
    """Text must match ``regex``; ``what`` describes it in an error message."""

    regex: str
    what: str


@dataclass(frozen=True)
class OneOrMany:
    """A ``tuple[X, ...]`` that also accepts a single X written without brackets."""


@dataclass(frozen=True)
class NonEmpty:
    """A list or mapping that must have at least one entry."""


@dataclass(frozen=True)
class Doc:
    """What a field means, for people: it becomes the field's description in the JSON Schema."""

    text: str


# --- helpers --------------------------------------------------------------------------------


class _Invalid:
    """Stands for a value that could not be converted; its errors are already recorded."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()

_DURATION_TERM = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|sec|min|h)\s*")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float | None:
    """Seconds in ``"250ms"``, ``"2s"``, ``"1min 30s"`` or ``"1.5"``, with a sign if given
    (``"-2min"``); ``None`` if unreadable."""
    try:
        return float(text)
    except ValueError:
        pass
    text = text.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    if text.startswith(("-", "+")):
        text = text[1:]
    pos, total = 0, 0.0
    while pos < len(text):
        m = _DURATION_TERM.match(text, pos)
        if not m or m.end() == pos:
            return None
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    return sign * total if pos else None


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def describe(node: yaml.Node) -> str:
    """What a node is, for 'expected ..., found ...' messages."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag == "tag:yaml.org,2002:null":
        return "nothing"
    return repr(node.value)


def _unwrap(tp: Any) -> tuple[Any, tuple[Any, ...]]:
    """Split ``Annotated[T, m1, m2]`` into ``(T, (m1, m2))``."""
    if typing.get_origin(tp) is typing.Annotated:
        base, *meta = typing.get_args(tp)
        return base, tuple(meta)
    return tp, ()


def _marker(meta: tuple[Any, ...], kind: type[Any]) -> Any:
    return next((m for m in meta if isinstance(m, kind)), None)


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _is_tagged(tp: Any) -> bool:
    return dataclasses.is_dataclass(tp) and hasattr(tp, "TAG")


def tags_of(cls: type[Any]) -> tuple[str, ...]:
    """The keys that name a tagged dataclass: its ``TAG`` and any ``TAG_ALIASES``."""
    return (cls.TAG, *getattr(cls, "TAG_ALIASES", ()))


@functools.cache
def _hints(cls: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def yaml_fields(cls: type[Any]) -> list[dataclasses.Field[Any]]:
    """The fields of a dataclass that a show file may set, in declaration order."""
    return [f for f in dataclasses.fields(cls) if not f.metadata.get("internal")]


def yaml_key(f: dataclasses.Field[Any]) -> str:
    """The key a field is written as in a show file: its name, unless it says otherwise."""
    return str(f.metadata.get("key", f.name))


def _required(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


# --- conversion -----------------------------------------------------------------------------


class Converter:
    """Converts YAML nodes to typed values, recording problems and the location of every path.

    Not thread-safe; one converter per document.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.locations: dict[Path, tuple[int, int]] = {}
        #: For a list some of whose items failed to convert: the numbers of those kept.
        self.kept: dict[Path, list[int]] = {}
        #: For every mapping converted: all of its keys, including those whose value was invalid.
        self.keys: dict[Path, tuple[str, ...]] = {}
        self._active: set[int] = set()  # ids of nodes being converted (alias cycles)
        self._count = 0

    # problems

    def items(self, path: Path, values: Iterable[T]) -> Iterator[tuple[Path, T]]:
        """Each item of the list converted at ``path``, with its path in the document: an item
        that failed to convert is left out of the list, not of the numbering."""
        kept = self.kept.get(path)
        for i, value in enumerate(values):
            yield (*path, kept[i] if kept else i), value

    def report(self, path: Path, message: str, *, severity: Severity = "error") -> None:
        """Record a problem about ``path``, placed where it (or its nearest parent) is."""
        line, column = self.locate(path)
        self.problems.append(Problem(self.file, line, column, format_path(path), message, severity))

    def _error(self, node: yaml.Node, path: Path, message: str) -> Any:
        line, column = location(node)
        self.problems.append(Problem(self.file, line, column, format_path(path), message))
        return INVALID

    def locate(self, path: Path) -> tuple[int, int]:
        """Line and column of ``path``, or of its nearest ancestor that has one."""
        while path not in self.locations and path:
            path = path[:-1]
        return self.locations.get(path, (1, 1))

    def failed_under(self, path: Path) -> bool:
        """Whether an error was recorded at ``path`` or anywhere inside it."""
        prefix = format_path(path)
        return any(
            p.severity == "error"
            and (p.path == prefix or p.path.startswith((prefix + ".", prefix + "[")))
            for p in self.problems
        )

    # conversion

    def convert(self, tp: Any, node: yaml.Node, path: Path) -> Any:
        """Convert ``node`` to type ``tp``; :data:`INVALID` after recording why it cannot be."""
        self._count += 1
        if self._count > MAX_NODES:
            if self._count == MAX_NODES + 1:
                self._error(node, path, f"the document expands to more than {MAX_NODES} values")
            return INVALID
        if id(node) in self._active:
            return self._error(node, path, "this alias refers to a value that contains it")
        self.locations.setdefault(path, location(node))
        self._active.add(id(node))
        try:
            return self._convert(tp, node, path)
        finally:
            self._active.discard(id(node))

    def _convert(self, tp: Any, node: yaml.Node, path: Path) -> Any:
        base, meta = _unwrap(tp)
        if _is_union(base):
            return self._union(base, node, path)
        if typing.get_origin(base) is Literal:
            return self._literal(base, node, path)
        if base in (str, int, float, bool):
            return self._scalar(base, meta, node, path)
        origin = typing.get_origin(base)
        if origin is tuple:
            return self._tuple(base, meta, node, path)
        if origin in (Mapping, dict, typing.Mapping):
            return self._mapping(base, meta, node, path)
        if dataclasses.is_dataclass(base):
            return self._dataclass(base, node, path)
        raise TypeError(f"no conversion for type {tp!r}")  # a bug in the model, not the document

    def _scalar(self, tp: Any, meta: tuple[Any, ...], node: yaml.Node, path: Path) -> Any:
        seconds = _marker(meta, Seconds)
        expected = {
            str: "text",
            int: "a whole number",
            float: "a number",
            bool: "true or false",
        }[tp]
        if seconds:
            expected = "a duration such as 0.5, 250ms, 2s or 5min"
        if not isinstance(node, yaml.ScalarNode):
            return self._error(node, path, f"expected {expected}, found {describe(node)}")
        if tp is str and node.tag == _TIMESTAMP:
            return self._text(meta, node, path)  # a date is its text (2026-02-30 too: checked)
        try:
            value = scalar_value(node)
        except ValueError as e:
            return self._error(node, path, str(e))
        if tp is str:
            if value is None:
                return self._error(node, path, f"expected {expected}, found nothing")
            return self._text(meta, node, path)
        if tp is bool:
            if not isinstance(value, bool):
                return self._error(node, path, f"expected {expected}, found {describe(node)}")
            return value
        if seconds and isinstance(value, str):
            parsed = parse_duration(value)
            if parsed is None:
                return self._error(node, path, f"expected {expected}, found {value!r}")
            value = parsed
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or (tp is int and not isinstance(value, int)) or not math.isfinite(value):
            return self._error(node, path, f"expected {expected}, found {describe(node)}")
        return self._check_range(meta, node, path, int(value) if tp is int else float(value))

    def _text(self, meta: tuple[Any, ...], node: yaml.ScalarNode, path: Path) -> Any:
        text = str(node.value)
        pattern = _marker(meta, Pattern)
        if pattern and not re.fullmatch(pattern.regex, text):
            return self._error(node, path, f"expected {pattern.what}, found {text!r}")
        return text

    def _check_range(self, meta: tuple[Any, ...], node: yaml.Node, path: Path, value: float) -> Any:
        unit = " s" if _marker(meta, Seconds) else ""
        bound = _marker(meta, Range) or _marker(meta, Seconds)
        if bound is None:
            return value
        above = getattr(bound, "above", None)
        if above is not None and not value > above:
            return self._error(node, path, f"must be more than {above:g}{unit}, found {value:g}")
        if bound.min is not None and value < bound.min:
            return self._error(node, path, f"must be at least {bound.min:g}{unit}, found {value:g}")
        if bound.max is not None and value > bound.max:
            return self._error(node, path, f"must be at most {bound.max:g}{unit}, found {value:g}")
        return value

    def _literal(self, tp: Any, node: yaml.Node, path: Path) -> Any:
        choices = typing.get_args(tp)
        words = f"one of {', '.join(str(c) for c in choices)}" if len(choices) > 1 else choices[0]
        if isinstance(node, yaml.ScalarNode):
            try:
                value = scalar_value(node)
            except ValueError as e:
                return self._error(node, path, str(e))
            for choice in choices:
                if isinstance(choice, int) and type(value) is int and value == choice:
                    return choice
                if isinstance(choice, str) and node.value == choice:
                    return choice
            found = repr(value) if isinstance(value, str) else str(node.value)
            hint = suggest(str(node.value), [str(c) for c in choices])
        else:
            found, hint = describe(node), ""
        return self._error(node, path, f"expected {words}, found {found}{hint}")

    def _union(self, tp: Any, node: yaml.Node, path: Path) -> Any:
        members = [m for m in typing.get_args(tp) if m is not type(None)]
        if len(members) < len(typing.get_args(tp)) and _is_null(node):
            return None
        # Same node, another type: _convert, since convert() would take it for an alias cycle.
        if len(members) == 1:
            return self._convert(members[0], node, path)
        if all(_is_tagged(m) for m in members):
            return self._tagged(members, node, path)
        if isinstance(node, yaml.ScalarNode) and all(m in _PLAIN for m in members):
            return self._convert(_plain_member(members, node), node, path)
        # A union of text and a list (an LED given by name or as [row, column]).
        for member in members:
            if _accepts_kind(member, node):
                return self._convert(member, node, path)
        kinds = " or ".join(_kind_name(m) for m in members)
        return self._error(node, path, f"expected {kinds}, found {describe(node)}")

    def _tagged(self, members: list[Any], node: yaml.Node, path: Path) -> Any:
        by_tag = {tag: m for m in members for tag in tags_of(m)}
        names = f"{members[0].KIND} ({', '.join(m.TAG for m in members)})"
        if not isinstance(node, yaml.MappingNode):
            hint = suggest(str(node.value), by_tag) if isinstance(node, yaml.ScalarNode) else ""
            return self._error(node, path, f"expected a {names}, found {describe(node)}{hint}")
        keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
        found = [k for k in keys if k in by_tag]
        if len(found) > 1:
            return self._error(
                node, path, f"give one {members[0].KIND} here, not several ({', '.join(found)})"
            )
        if not found:
            hint = next((h for k in keys if (h := suggest(k, by_tag))), "")
            return self._error(node, path, f"expected a {names}{hint}")
        return self._dataclass(by_tag[found[0]], node, path, tag=found[0])

    def _tuple(self, tp: Any, meta: tuple[Any, ...], node: yaml.Node, path: Path) -> Any:
        args = typing.get_args(tp)
        if not isinstance(node, yaml.SequenceNode):
            if len(args) == 2 and args[1] is Ellipsis and _marker(meta, OneOrMany):
                item = self._convert(args[0], node, path)
                return INVALID if item is INVALID else (item,)
            return self._error(node, path, f"expected a list, found {describe(node)}")
        items = node.value
        if len(args) == 2 and args[1] is Ellipsis:
            if _marker(meta, NonEmpty) and not items:
                return self._error(node, path, "must not be empty")
            # Invalid items are left out (their errors are recorded), so later checks still run;
            # the items kept keep their numbers (see items()).
            converted = [self.convert(args[0], n, (*path, i)) for i, n in enumerate(items)]
            if any(c is INVALID for c in converted):
                self.kept[path] = [i for i, c in enumerate(converted) if c is not INVALID]
            return tuple(c for c in converted if c is not INVALID)
        if len(items) != len(args):
            return self._error(
                node, path, f"expected a list of {len(args)}, found {len(items)} entries"
            )
        converted = [
            self.convert(a, n, (*path, i)) for i, (a, n) in enumerate(zip(args, items, strict=True))
        ]
        if any(c is INVALID for c in converted):
            return INVALID
        return tuple(converted)

    def _mapping(self, tp: Any, meta: tuple[Any, ...], node: yaml.Node, path: Path) -> Any:
        key_type, value_type = typing.get_args(tp)
        pairs = self._pairs(node, path)
        if pairs is None:
            return INVALID
        if _marker(meta, NonEmpty) and not pairs:
            return self._error(node, path, "must not be empty")
        self.keys[path] = tuple(k for k, _, _ in pairs)
        out = {}
        for key, key_node, value_node in pairs:
            if self.convert(key_type, key_node, (*path, key)) is INVALID:
                continue
            value = self.convert(value_type, value_node, (*path, key))
            if value is not INVALID:  # keep the valid entries, so later checks still run
                out[key] = value
        return types.MappingProxyType(out)

    def _pairs(self, node: yaml.Node, path: Path) -> list[tuple[str, yaml.Node, yaml.Node]] | None:
        """The entries of a mapping node with text keys; duplicate keys are errors."""
        if not isinstance(node, yaml.MappingNode):
            self._error(node, path, f"expected a mapping, found {describe(node)}")
            return None
        try:
            flatten_merge_keys(node)
        except ValueError as e:
            self._error(node, path, f"cannot merge here: {e}")
            return None
        seen: dict[str, yaml.Node] = {}
        pairs: list[tuple[str, yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or _is_null(key_node):
                self._error(key_node, path, f"keys must be text, found {describe(key_node)}")
                continue
            key = str(key_node.value)
            if key in seen:
                line, _ = location(seen[key])
                self._error(
                    key_node, (*path, key), f"'{key}' is given twice (first on line {line})"
                )
                continue
            seen[key] = key_node
            # Findings about an entry point at its value when that is a scalar (`to: nowhere`)
            # and at its key when a block follows (`island:` rather than the block's first line).
            place = value_node if isinstance(value_node, yaml.ScalarNode) else key_node
            self.locations.setdefault((*path, key), location(place))
            pairs.append((key, key_node, value_node))
        return pairs

    def _dataclass(self, cls: Any, node: yaml.Node, path: Path, tag: str | None = None) -> Any:
        hints = _hints(cls)
        fields = {f.name: f for f in yaml_fields(cls)}
        if isinstance(node, yaml.ScalarNode) and not _is_null(node):
            words: Mapping[str, Mapping[str, Any]] = getattr(cls, "SCALAR_WORDS", {})
            if node.value in words:
                return cls(**words[node.value])
            scalar_field = getattr(cls, "SCALAR_FIELD", None)
            if scalar_field:
                value = self._convert(hints[scalar_field], node, path)
                return INVALID if value is INVALID else cls(**{scalar_field: value})
        pairs = self._pairs(node, path)
        if pairs is None:
            return INVALID
        inline = getattr(cls, "INLINE", None)
        tag_field = getattr(cls, "TAG_FIELD", None)
        own = {yaml_key(f): n for n, f in fields.items() if n not in (inline, tag_field)}
        values: dict[str, Any] = {}
        rest: list[tuple[yaml.Node, yaml.Node]] = []
        ok = True
        for key, key_node, value_node in pairs:
            name = tag_field if tag is not None and key == tag else own.get(key)
            if name is None and inline:
                rest.append((key_node, value_node))
                continue
            if name is None:
                known = [cls.TAG if n == tag_field else yaml_key(f) for n, f in fields.items()]
                self._error(key_node, (*path, key), f"unknown key '{key}'{suggest(key, known)}")
                ok = False
                continue
            value = self.convert(hints[name], value_node, (*path, key))
            if value is not INVALID:
                values[name] = value
            # else: an optional field keeps its default so that later checks still run;
            # a required one makes the object invalid (checked below).
        if inline:
            view = yaml.MappingNode(node.tag, rest, node.start_mark, node.end_mark)
            value = self.convert(hints[inline], view, path)
            if value is INVALID:
                ok = False
            else:
                values[inline] = value
        for name, f in fields.items():
            if _required(f) and name not in values and name != inline:
                key = cls.TAG if name == tag_field else yaml_key(f)
                if not any(k == key for k, _, _ in pairs):  # else its value failed, reported
                    self._error(node, path, f"missing required key '{key}'")
                ok = False
        return cls(**values) if ok else INVALID


_PLAIN = (str, int, float, bool)
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


def _plain_member(members: list[Any], node: yaml.ScalarNode) -> Any:
    """Which plain type of a union a scalar is: true or false, a number, else text."""
    try:
        value = scalar_value(node)
    except ValueError:
        value = None
    if isinstance(value, bool):
        return bool if bool in members else str
    if isinstance(value, int) and int in members:
        return int
    if isinstance(value, int | float) and float in members:
        return float
    return str if str in members else members[0]


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _accepts_kind(tp: Any, node: yaml.Node) -> bool:
    base, _ = _unwrap(tp)
    if typing.get_origin(base) is tuple:
        return isinstance(node, yaml.SequenceNode)
    if dataclasses.is_dataclass(base):
        return isinstance(node, yaml.MappingNode)
    return isinstance(node, yaml.ScalarNode)


def _kind_name(tp: Any) -> str:
    base, _ = _unwrap(tp)
    if typing.get_origin(base) is tuple:
        return "a list"
    if dataclasses.is_dataclass(base):
        return "a mapping"
    return {str: "text", int: "a whole number", float: "a number", bool: "true or false"}.get(
        base, str(base)
    )


# --- JSON Schema ----------------------------------------------------------------------------

_DURATION_PATTERN = (
    r"^\s*[-+]?\s*((\d+(\.\d*)?|\.\d+)\s*(ms|s|sec|min|h)\s*)+$|^\s*[-+]?\d+(\.\d*)?\s*$"
)


class SchemaBuilder:
    """Builds a JSON Schema (draft 7, which editors support widely) from the same type hints."""

    def __init__(self) -> None:
        self.definitions: dict[str, Any] = {}

    def document(self, root: type[Any], **header: Any) -> dict[str, Any]:
        body = self._object(root)
        return {
            "$schema": "http://json-schema.org/draft-07/schema#",
            **header,
            **body,
            "definitions": dict(sorted(self.definitions.items())),
        }

    def schema(self, tp: Any) -> dict[str, Any]:
        base, meta = _unwrap(tp)
        if _is_union(base):
            members = [m for m in typing.get_args(base) if m is not type(None)]
            if all(_is_tagged(m) for m in members):
                schemas = [self._tagged_union(members)]
            else:
                schemas = [self.schema(m) for m in members]
            if len(members) < len(typing.get_args(base)):
                schemas.append({"type": "null"})
            return schemas[0] if len(schemas) == 1 else {"anyOf": schemas}
        if typing.get_origin(base) is Literal:
            return {"enum": list(typing.get_args(base))}
        if base is str:
            pattern = _marker(meta, Pattern)
            return {"type": "string", **({"pattern": pattern.regex} if pattern else {})}
        if base is bool:
            return {"type": "boolean"}
        if base in (int, float):
            return self._number(base, meta)
        origin = typing.get_origin(base)
        if origin is tuple:
            args = typing.get_args(base)
            if len(args) == 2 and args[1] is Ellipsis:
                out: dict[str, Any] = {"type": "array", "items": self.schema(args[0])}
                if _marker(meta, NonEmpty):
                    out["minItems"] = 1
                if _marker(meta, OneOrMany):
                    return {"anyOf": [self.schema(args[0]), out]}
                return out
            return {
                "type": "array",
                "items": [self.schema(a) for a in args],
                "minItems": len(args),
                "maxItems": len(args),
            }
        if origin in (Mapping, dict, typing.Mapping):
            key_type, value_type = typing.get_args(base)
            out = {"type": "object", "additionalProperties": self.schema(value_type)}
            key_pattern = _marker(_unwrap(key_type)[1], Pattern)
            if key_pattern:
                out["propertyNames"] = {"pattern": key_pattern.regex}
            if _marker(meta, NonEmpty):
                out["minProperties"] = 1
            return out
        if isinstance(base, type) and dataclasses.is_dataclass(base):
            return self._ref(base)
        raise TypeError(f"no schema for type {tp!r}")

    def _number(self, base: Any, meta: tuple[Any, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "integer" if base is int else "number"}
        bound = _marker(meta, Range) or _marker(meta, Seconds)
        if bound is not None:
            if bound.min is not None:
                out["minimum"] = bound.min
            if bound.max is not None:
                out["maximum"] = bound.max
            if getattr(bound, "above", None) is not None:
                out["exclusiveMinimum"] = bound.above
        if _marker(meta, Seconds):
            return {"anyOf": [out, {"type": "string", "pattern": _DURATION_PATTERN}]}
        return out

    def _ref(self, cls: type[Any]) -> dict[str, Any]:
        name = cls.__name__
        if name not in self.definitions:
            self.definitions[name] = {}  # placeholder: recursive types refer to it while building
            self.definitions[name] = self._object(cls)
        return {"$ref": f"#/definitions/{name}"}

    def _object(self, cls: Any, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        hints = _hints(cls)
        inline = getattr(cls, "INLINE", None)
        properties: dict[str, Any] = {}
        required: list[str] = []
        for f in yaml_fields(cls):
            if f.name == inline:
                continue
            prop = dict(self.schema(hints[f.name]))
            doc_marker = _marker(_unwrap(hints[f.name])[1], Doc)
            if doc_marker:
                prop["description"] = doc_marker.text
            if not _required(f) and isinstance(f.default, str | int | float | bool):
                prop["default"] = f.default
            properties[yaml_key(f)] = prop
            if _required(f):
                required.append(yaml_key(f))
        properties.update(extra or {})
        doc = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
        if inline:
            # Each kind of the inline union, with this class's own keys beside its own.
            variants = []
            for member in typing.get_args(_unwrap(hints[inline])[0]):
                for tag in tags_of(member):
                    variants.append(self._tagged_object(member, tag, properties))
            return {"description": doc, "anyOf": variants}
        obj: dict[str, Any] = {
            "type": "object",
            "description": doc,
            "properties": properties,
            "additionalProperties": False,
        }
        if required:
            obj["required"] = required
        scalar_forms = []
        if getattr(cls, "SCALAR_WORDS", None):
            scalar_forms.append({"enum": list(cls.SCALAR_WORDS)})
        if getattr(cls, "SCALAR_FIELD", None):
            scalar_forms.append(self.schema(hints[cls.SCALAR_FIELD]))
        if scalar_forms:
            return {"description": doc, "anyOf": [*scalar_forms, obj]}
        return obj

    def _tagged_object(
        self, cls: Any, tag: str, extra: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        obj = self._object(cls, extra)
        props = dict(obj["properties"])
        props = {(tag if k == cls.TAG_FIELD else k): v for k, v in props.items()}
        required = [tag if r == cls.TAG_FIELD else r for r in obj.get("required", [])]
        return {**obj, "properties": props, "required": required}

    def _tagged_union(self, members: list[Any]) -> dict[str, Any]:
        """A union of tagged dataclasses, one variant per tag (aliases included), defined once."""
        name = members[0].KIND.capitalize()
        if name not in self.definitions:
            self.definitions[name] = {}
            variants = [self._tagged_object(m, t) for m in members for t in tags_of(m)]
            self.definitions[name] = {"anyOf": variants}
        return {"$ref": f"#/definitions/{name}"}
