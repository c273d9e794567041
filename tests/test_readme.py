"""The README's show-file reference keeps up with the format."""

from __future__ import annotations

from pathlib import Path

from showctl.show import loader
from showctl.show import schema as show_schema
from showctl.testing import write_wav
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_every_key_of_the_format_is_in_the_reference() -> None:
    """Each key the schema knows appears in the README as `key` (a new key needs its docs)."""
    schema = show_schema.json_schema()
    keys = set(schema["properties"])
    for definition in schema["definitions"].values():
        keys |= set(definition.get("properties", {}))
        for variant in definition.get("anyOf", []):
            keys |= set(variant.get("properties", {}))
    missing = sorted(k for k in keys if f"`{k}" not in README and f"{{{k}:" not in README)
    assert missing == []


def test_readme_gives_the_two_commands() -> None:
    assert "make demo" in README
    assert "make test" in README
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("exec make test")


def test_annotated_example_loads(tmp_path: Path) -> None:
    """The README's complete example is a valid show (its media made up here)."""
    start = README.index("### A complete example, annotated")
    block = README[README.index("```yaml\n", start) + 8 : README.index("```\n", start + 50)]
    for clip in ("hum.wav", "story.wav", "story-right.wav"):
        write_wav(tmp_path / "media" / "example" / clip)
    path = tmp_path / "shows" / "example.yaml"
    path.parent.mkdir()
    path.write_text(block)
    loaded, problems = loader.check(path)
    assert problems == []
    assert loaded is not None
    assert loaded.scenes["playing"].transitions[2].trigger is None
