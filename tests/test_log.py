"""Logs: JSON lines off a terminal, contextvars on every line, stdlib logs in the same stream."""

from __future__ import annotations

import io
import json
import logging
import threading
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


class Blocked(io.StringIO):
    """A stream whose writes wait until it is let go, as a pipe nobody reads."""

    def __init__(self) -> None:
        super().__init__()
        self.free = threading.Event()
        self.waiting = threading.Event()

    def write(self, text: str) -> int:
        self.waiting.set()
        self.free.wait()
        return super().write(text)


def test_a_blocked_stream_holds_up_nothing_and_the_dropped_lines_are_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(log, "BACKLOG", 100)
    stream = Blocked()
    log.configure("info", "json", stream, background=True)
    logger = structlog.get_logger()
    logger.info("first")
    assert stream.waiting.wait(30), "the writer never wrote"
    done = threading.Event()

    def chatter() -> None:
        for i in range(1000):
            logger.info("line", i=i)
        done.set()

    threading.Thread(target=chatter, daemon=True).start()
    assert done.wait(30), "logging waited for the blocked stream"
    stream.free.set()
    handler = logging.getLogger().handlers[0]
    handler.flush()  # the backlog, then the count
    logger.info("after")
    handler.flush()
    said = lines(stream)
    written = [e["i"] for e in said if e["event"] == "line"]
    assert written == list(range(len(written))), "the lines kept are the first, in order"
    assert len(written) == 100, "the backlog is kept"
    assert [e["event"] for e in said[:1]] == ["first"]
    assert [e["count"] for e in said if e["event"] == "log_lines_dropped"] == [900]
    assert said[-1]["event"] == "after", "the stream moves again"
