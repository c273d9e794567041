"""Every show in shows/ checks clean, validates against the exported schema, and walks."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from showctl.cli import main
from showctl.show import schema as show_schema
from showctl.show._yaml import compose
from tests.conftest import ROOT, SHOWS


def as_plain_data(path: Path) -> object:
    """The document as JSON-like data, keys as text, the way YAML editors read it."""
    import yaml

    def plain(node: yaml.Node) -> object:
        if isinstance(node, yaml.MappingNode):
            yaml.SafeLoader("").flatten_mapping(node)
            return {k.value: plain(v) for k, v in node.value}
        if isinstance(node, yaml.SequenceNode):
            return [plain(v) for v in node.value]
        return yaml.SafeLoader("").construct_object(node)

    root = compose(path.read_text())
    assert root is not None
    return plain(root)


def test_there_are_example_shows() -> None:
    assert {p.name for p in SHOWS} >= {"demo.yaml", "escape-room.yaml"}


@pytest.mark.parametrize("path", SHOWS, ids=lambda p: p.name)
def test_example_checks_clean(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`showctl check --strict` passes: no error and no warning, with the settings the show
    runs with (``NAME.toml`` beside it, if there is one)."""
    settings = path.with_suffix(".toml")
    given = ["--settings", str(settings)] if settings.exists() else []
    assert main(["check", "--strict", str(path), *given]) == 0
    assert capsys.readouterr().out == f"{path}: 0 errors, 0 warnings: ok\n"


@pytest.mark.parametrize("path", SHOWS, ids=lambda p: p.name)
def test_example_validates_against_schema(path: Path) -> None:
    jsonschema.Draft7Validator(show_schema.json_schema()).validate(as_plain_data(path))


def test_schema_is_a_valid_draft7_schema() -> None:
    jsonschema.Draft7Validator.check_schema(show_schema.json_schema())


def test_committed_schema_is_current() -> None:
    """shows/schema.json (what the examples' editor modeline points at) is `showctl schema`."""
    committed = (ROOT / "shows" / "schema.json").read_text()
    assert committed == show_schema.json_schema_text(), (
        "run: showctl schema --out shows/schema.json"
    )


def test_schema_rejects_what_the_loader_rejects() -> None:
    """The schema is no rubber stamp: the ten-mistakes show fails it."""
    data = as_plain_data(Path(__file__).parent / "data" / "ten-mistakes.yaml")
    errors = list(jsonschema.Draft7Validator(show_schema.json_schema()).iter_errors(data))
    assert errors


def test_schema_describes_fields() -> None:
    """Editors show descriptions on hover: the fields carry them."""
    schema = show_schema.json_schema()
    rate = schema["definitions"]["Output"]["properties"]["rate"]
    assert rate["type"] == "integer"
    assert rate["default"] == 48000
    assert "Sample rate in Hz" in rate["description"]
    assert json.loads(show_schema.json_schema_text()) == schema
