"""Random and mutated YAML never makes the loader raise, and every problem carries a location."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from showctl.errors import ShowError
from showctl.show import loader
from tests.conftest import SHOWS
from tests.test_examples import as_plain_data

EXAMPLES = {path: path.read_text() for path in SHOWS}
# 300 examples a test (tests/conftest.py); `pytest --hypothesis-profile=deep` runs 6000.
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_well_reported(text: str, base: Path) -> None:
    """The loader's contract on any input: no exception, located problems, None iff errors."""
    loaded, problems = loader.check_text(text, file="fuzz.yaml", base=base)
    lines = text.count("\n") + 2
    for problem in problems:
        assert problem.file == "fuzz.yaml"
        assert 1 <= problem.line <= lines, problem
        assert problem.column >= 1, problem
        assert problem.message, problem
    has_errors = any(p.severity == "error" for p in problems)
    assert (loaded is None) == has_errors, problems


# Scalars that YAML resolves to every type, and text shaped like the show's own words.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "all",
            "row 1",
            "col 9",
            "silence",
            "250ms",
            "1min 30s",
            "not x",
            "on",
            "../x.wav",
            "/etc/passwd",
            "tone.wav",
            "intro",
            "\x00",
            "a" * 300,
        ]
    ),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.text(max_size=10) | st.sampled_from(["blink", "to", "at"]), children, max_size=4
        ),
    ),
    max_leaves=20,
)


@FUZZ
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    assert_well_reported(text, Path("fuzz.yaml"))


@FUZZ
@given(st.sampled_from(sorted(EXAMPLES)), st.data())
def test_mutated_example_text(path: Path, data: st.DataObject) -> None:
    """Typing mistakes: characters deleted, inserted, lines duplicated or swapped."""
    text = EXAMPLES[path]
    for _ in range(data.draw(st.integers(1, 4))):
        lines = text.split("\n")
        kind = data.draw(st.sampled_from(["delete", "insert", "duplicate", "swap", "indent"]))
        i = data.draw(st.integers(0, len(lines) - 1))
        j = data.draw(st.integers(0, len(lines) - 1))
        if kind == "delete":
            start = data.draw(st.integers(0, len(text)))
            text = text[:start] + text[start + data.draw(st.integers(1, 20)) :]
            continue
        if kind == "insert":
            start = data.draw(st.integers(0, len(text)))
            text = (
                text[:start]
                + data.draw(
                    st.text(max_size=8)
                    | st.sampled_from(
                        [": ", "- ", "{", "]", "&a ", "*a", "<<: ", "\t", "!!int ", "\n  "]
                    )
                )
                + text[start:]
            )
            continue
        if kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines[i] = " " * data.draw(st.integers(0, 6)) + lines[i].lstrip()
        text = "\n".join(lines)
    assert_well_reported(text, path)


def _paths(node: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


def _get(document: object, path: tuple[object, ...]) -> object:
    for key in path:
        document = document[key]  # type: ignore[index]
    return document


@FUZZ
@given(st.sampled_from(sorted(EXAMPLES)), st.data())
def test_mutated_example_data(path: Path, data: st.DataObject) -> None:
    """Wrong values anywhere: a part of a valid show deleted, or replaced by random data.

    Half the replacements hit text (clip and LED names, references) with odd text:
    NUL bytes, slashes, dots, very long names.
    """
    document = as_plain_data(path)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(document)[1:]
        texts = [p for p in paths if isinstance(_get(document, p), str)]
        if texts and data.draw(st.booleans()):
            target = data.draw(st.sampled_from(texts))
            value: object = data.draw(
                st.text(alphabet=st.sampled_from("a./\x00 \u00e9-_:"), max_size=10)
                | st.text(min_size=250, max_size=300)
            )
        else:
            target = data.draw(st.sampled_from(paths))
            value = None if data.draw(st.booleans()) else data.draw(documents)
        parent = _get(document, target[:-1])
        if value is None and isinstance(parent, dict):
            del parent[target[-1]]
        else:
            parent[target[-1]] = value  # type: ignore[index]
    assert_well_reported(yaml.safe_dump(document, allow_unicode=True), path)


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=200))
def test_load_raises_only_show_error(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("load") / "show.yaml"
    path.write_text(text, encoding="utf-8")
    loaded, _ = loader.check(path)
    if loaded is not None:
        assert loader.load(path) == loaded
        return
    with pytest.raises(ShowError) as caught:  # and nothing else
        loader.load(path)
    assert caught.value.problems
    assert all(p.line >= 1 and p.column >= 1 for p in caught.value.problems)
