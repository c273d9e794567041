"""Structured logs: one stream for showctl's own events and for the stdlib logs of libraries.

Events are stable snake_case names with their data as keys (``scene_entered``, ``scene=...``).
Context that holds for a while (``show``, ``scene``, ``output``, ``pid``) is bound with
:func:`structlog.contextvars.bind_contextvars` and appears on every line until unbound.

On a terminal the lines are coloured and aligned for people; elsewhere (journald, a pipe,
a file) each line is one JSON object.

The controller writes its lines from a thread of its own (``background=True``): a stream that
blocks (journald stuck, a pipe nobody reads) then holds up no loop of the show. While
:data:`BACKLOG` lines wait, newer ones are dropped and counted, and the count is logged
(``log_lines_dropped``) once the stream moves again.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import math
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Literal, TextIO

import structlog

LogFormat = Literal["auto", "json", "console"]

#: Lines that may wait for a blocked stream before newer ones are dropped.
BACKLOG = 10_000
DROPPED = "log_lines_dropped"
#: How long the lines still waiting are given to be written at exit (seconds).
FLUSH_WAIT = 0.5
#: Log events kept for the game-master page.
RECENT = 50


def configure(
    level: str = "info",
    fmt: LogFormat = "auto",
    stream: TextIO | None = None,
    background: bool = False,
) -> None:
    """Send every log, structlog's and the stdlib's, to ``stream`` (default: stdout), written
    by a thread of its own when ``background``.

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
    handler = Behind(stream) if background else logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper())
    # transitions narrates every callback at INFO: worth reading only when debugging.
    logging.getLogger("transitions").setLevel("DEBUG" if level == "debug" else "WARNING")


class Behind(logging.Handler):
    """Formats each record where it is logged, and leaves the writing to a thread: the
    logging call never waits for the stream. See the module's docstring."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self.lines: queue.Queue[str | None] = queue.Queue(BACKLOG + 1)
        self.dropped = 0
        self._writer = threading.Thread(target=self._write, name="log-writer", daemon=True)
        self._writer.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        # The count of dropped lines (logged by the writer) has a place of its own in the queue.
        report = isinstance(record.msg, dict) and record.msg.get("event") == DROPPED
        try:
            if self.lines.qsize() >= BACKLOG and not report:
                raise queue.Full
            self.lines.put_nowait(line)
        except queue.Full:  # under the handler's lock
            self.dropped += int(record.msg["count"]) if report else 1  # type: ignore[index]

    def _write(self) -> None:
        while (line := self.lines.get()) is not None:
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass  # the stream is gone (its reader quit): nothing is left to tell
            with self.lock:  # type: ignore[union-attr]  # made by Handler.__init__
                dropped, self.dropped = self.dropped, 0
            if dropped:  # queued before this line is done, so flush() waits for it too
                structlog.get_logger().warning(
                    DROPPED, count=dropped, reason="the log stream was blocked"
                )
            self.lines.task_done()
        self.lines.task_done()

    def flush(self) -> None:
        """Wait up to :data:`FLUSH_WAIT` seconds for the lines still waiting to be written."""
        deadline = time.monotonic() + FLUSH_WAIT
        with self.lines.all_tasks_done:
            while self.lines.unfinished_tasks and (left := deadline - time.monotonic()) > 0:
                self.lines.all_tasks_done.wait(left)

    def close(self) -> None:
        self.flush()
        # The writer's end, once the lines before it are out; with the stream blocked and the
        # backlog full, the (daemon) thread ends with the process.
        with contextlib.suppress(queue.Full):
            self.lines.put_nowait(None)
        super().close()


class Recent(logging.Handler):
    """Keeps the latest :data:`RECENT` log events (INFO and up), for the game-master page.

    :meth:`attach` it to the root logger; every thread may log meanwhile. Each event is a
    JSON-ready dict (``timestamp``, ``level``, ``event`` and its data, as in the JSON lines).
    ``on_record`` is called after each one is kept, on the thread that logged it.
    """

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: collections.deque[tuple[int, dict[str, Any]]] = collections.deque(maxlen=RECENT)
        self.seq = 0
        self.on_record: Callable[[], None] = lambda: None
        self.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=[
                    structlog.stdlib.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                ],
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.JSONRenderer(default=str),
                ],
            )
        )

    def attach(self) -> None:
        logging.getLogger().addHandler(self)

    def detach(self) -> None:
        logging.getLogger().removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = json.loads(self.format(record))
        except Exception:  # a record that cannot be shown is not worth losing the show for
            return
        with self.lock or contextlib.nullcontext():
            self.seq += 1
            self.lines.append((self.seq, line))
        self.on_record()

    def since(self, seq: int) -> tuple[int, list[dict[str, Any]]]:
        """The events after number ``seq`` (0: all that are kept), and the last number."""
        with self.lock or contextlib.nullcontext():
            return self.seq, [line for n, line in self.lines if n > seq]


class Tally:
    """Logs each kind of repeated trouble at most ``lines`` times every ``every`` seconds of
    ``clock``, for each key; the lines held back are counted, and the next line of the key
    carries the count (``not_logged``). At most ``keys`` keys are remembered: keys without end
    (a flood of made-up names) make it forget the ones older than ``every``. Not thread-safe:
    one thread calls it."""

    def __init__(
        self,
        logger: Any,
        clock: Callable[[], float],
        every: float = 1.0,
        keys: int = 1000,
        lines: int = 1,
    ) -> None:
        self.logger = logger
        self.clock = clock
        self.every = every
        self.keys = keys
        self.lines = lines
        # key: (when its window began, lines logged in it, lines not logged since the last)
        self._logged: dict[str, tuple[float, int, int]] = {}

    def __len__(self) -> int:
        """How many keys are remembered."""
        return len(self._logged)

    def log(self, key: str, event: str, level: str = "warning", **data: Any) -> None:
        """Log ``event`` with ``data`` at ``level``, unless ``key`` was logged ``lines`` times
        in the last ``every`` seconds (then only count it)."""
        now = self.clock()
        began, logged, silent = self._logged.get(key, (-math.inf, 0, 0))
        if now - began >= self.every:
            began, logged = now, 0
        elif logged >= self.lines:
            self._logged[key] = (began, logged, silent + 1)
            return
        if key not in self._logged and len(self._logged) >= self.keys:
            self._logged = {k: v for k, v in self._logged.items() if now - v[0] < self.every}
        self._logged[key] = (began, logged + 1, 0)
        getattr(self.logger, level)(event, **data, **({"not_logged": silent} if silent else {}))
