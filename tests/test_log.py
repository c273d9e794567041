"""Logs: JSON lines off a terminal, contextvars on every line, stdlib logs in the same stream."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from showctl import log


@pytest.fixture(autouse=True)
def _clean_context() -> Iterator[None]:
    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()
    log.configure("warning", "json", io.StringIO())


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_with_context() -> None:
    stream = io.StringIO()
    log.configure("info", "auto", stream)  # a StringIO is no terminal: JSON
    structlog.contextvars.bind_contextvars(show="demo", scene="tides")
    structlog.get_logger().info("scene_entered", outputs=8)
    structlog.contextvars.bind_contextvars(output="north")
    structlog.get_logger().warning("player_restarted", pid=42)
    first, second = lines(stream)
    assert {k: first[k] for k in ("event", "level", "show", "scene", "outputs")} == {
        "event": "scene_entered",
        "level": "info",
        "show": "demo",
        "scene": "tides",
        "outputs": 8,
    }
    assert "timestamp" in first
    assert (second["event"], second["output"], second["pid"]) == ("player_restarted", "north", 42)


def test_stdlib_logs_of_libraries_join_the_stream() -> None:
    """A library's stdlib record (transitions) becomes a JSON line with the same context."""
    stream = io.StringIO()
    log.configure("info", "json", stream)
    structlog.contextvars.bind_contextvars(scene="intro")
    logging.getLogger("transitions.core").warning("Can't trigger event %s", "go")
    (line,) = lines(stream)
    assert line["event"] == "Can't trigger event go"
    assert line["logger"] == "transitions.core"
    assert line["level"] == "warning"
    assert line["scene"] == "intro"


def test_level_filters() -> None:
    stream = io.StringIO()
    log.configure("warning", "json", stream)
    structlog.get_logger().info("quiet")
    structlog.get_logger().error("loud")
    assert [line["event"] for line in lines(stream)] == ["loud"]


def test_transitions_chatter_only_when_debugging() -> None:
    stream = io.StringIO()
    log.configure("info", "json", stream)
    logging.getLogger("transitions.core").info("Finished processing state x exit callbacks.")
    assert stream.getvalue() == ""
    log.configure("debug", "json", stream)
    logging.getLogger("transitions.core").info("Finished processing state x exit callbacks.")
    assert lines(stream)[0]["logger"] == "transitions.core"


def test_console_format_is_for_people() -> None:
    stream = io.StringIO()
    log.configure("info", "console", stream)
    structlog.get_logger().info("scene_entered", scene="tides")
    text = stream.getvalue()
    assert "scene_entered" in text
    assert "scene=tides" in text
    assert not text.lstrip().startswith("{")
    assert "\x1b[" not in text  # no colour codes when the stream is not a terminal


def test_exceptions_are_rendered_in_json() -> None:
    stream = io.StringIO()
    log.configure("info", "json", stream)
    try:
        raise RuntimeError("card gone")
    except RuntimeError:
        structlog.get_logger().exception("player_crashed")
    (line,) = lines(stream)
    assert "RuntimeError: card gone" in str(line["exception"])
