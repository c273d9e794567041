"""The JSON Schema (draft 7) of the show format, made from the model's annotations."""

from __future__ import annotations

import json
from typing import Any

from showctl.show._convert import SchemaBuilder
from showctl.show.model import FORMAT_VERSION, SCHEMA_ID, Show


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 7) of the show format, for editors and validators."""
    return SchemaBuilder().document(
        Show,
        **{"$id": SCHEMA_ID, "title": f"showctl show file, format version {FORMAT_VERSION}"},
    )


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"
