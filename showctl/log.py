"""Structured logs: one stream for showctl's own events and for the stdlib logs of libraries.

Events are stable snake_case names with their data as keys (``scene_entered``, ``scene=...``).
Context that holds for a while (``show``, ``scene``, ``output``, ``pid``) is bound with
:func:`structlog.contextvars.bind_contextvars` and appears on every line until unbound.

On a terminal the lines are coloured and aligned for people; elsewhere (journald, a pipe,
a file) each line is one JSON object.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog

LogFormat = Literal["auto", "json", "console"]


def configure(level: str = "info", fmt: LogFormat = "auto", stream: TextIO | None = None) -> None:
    """Send every log, structlog's and the stdlib's, to ``stream`` (default: stdout).

    ``fmt="auto"`` renders JSON lines unless ``stream`` is a terminal. May be called again
    to reconfigure (the tests do); not thread-safe against concurrent logging while it runs.
    """
    stream = stream or sys.stdout
    if fmt == "auto":
        fmt = "console" if stream.isatty() else "json"
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty())
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # transitions narrates every callback at INFO: worth reading only when debugging.
    logging.getLogger("transitions").setLevel("DEBUG" if level == "debug" else "WARNING")
