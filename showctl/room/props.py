"""The room's props, as the settings name them (``[props.NAME]``): serial ones read and written
line by line, and whether each is there.

A serial prop (an Arduino on USB) is opened by its stable path (``/dev/serial/by-id/...``) with
pyserial-asyncio, whose transport reads only when the port is readable: a prop that sends
hundreds of lines a second costs a little work per chunk read, and nothing waits for it. Opening
the port resets an Arduino, so showctl waits ``reset_wait`` before it sends anything (lines sent
meanwhile wait, up to :data:`MAX_WAITING`). A received line that the prop's ``events`` name
fires that event; other lines are counted and dropped. A port that is not there, or vanishes
(unplugged), is tried again every :data:`RETRY` s; the show goes on without it, and the log
says once that the prop went offline and once that it is back.

A prop on MQTT says it is there on its ``presence`` topic, which carries its last will: the
payload ``offline`` (or empty) means gone, anything else there. Either way the prop's presence
is in the status and logged when it changes (``prop_online``, ``prop_offline``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Mapping

import structlog

from showctl.settings import PropSettings

logger = structlog.get_logger()

#: Seconds between attempts to open a port that is not there.
RETRY = 3.0
#: Lines sent while the prop resets, kept to send once it is up; more are dropped.
MAX_WAITING = 32
#: The longest line taken (bytes); a longer one is dropped whole.
MAX_LINE = 1024
#: Presence payloads that mean gone (a last will), compared without case.
GONE = frozenset({"", "offline", "disconnected", "0", "false"})

#: How a prop fires an event: (trigger, source), the controller's ``fire``.
Fire = Callable[[str, str], None]


class SerialProp(asyncio.Protocol):
    """One prop on a serial port: :meth:`run` keeps it open, :meth:`send` writes a line."""

    def __init__(self, name: str, spec: PropSettings, props: Props) -> None:
        self.name = name
        self.spec = spec
        self.props = props
        self.counts: Counter[str] = Counter()  # lines received, fired, ignored, sent, dropped
        self.ready = False  # open, and the board's reset waited out
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._waiting: list[bytes] = []
        self._lost = asyncio.Event()

    async def run(self) -> None:
        """Open the port, wait out the reset, read until it is lost; again, for ever."""
        import serial  # noqa: PLC0415  (loaded only when the settings name a serial prop)
        import serial_asyncio  # noqa: PLC0415

        loop = asyncio.get_running_loop()
        while True:
            self._lost.clear()
            try:
                await serial_asyncio.create_serial_connection(
                    loop, lambda: self, self.spec.serial, baudrate=self.spec.baud
                )
            except (serial.SerialException, OSError) as e:
                self.props.went("offline", self.name, f"{self.spec.serial} cannot be opened ({e})")
                await asyncio.sleep(self.props.retry)
                continue
            try:
                await asyncio.sleep(self.spec.reset_wait)  # the board boots after the open
                if not self._lost.is_set():
                    self.ready = True
                    self.props.went("online", self.name, self.spec.serial)
                    for line in self._waiting:
                        self._write(line)
                    self._waiting.clear()
                await self._lost.wait()
            finally:
                self.ready = False
                if self._transport is not None:
                    self._transport.close()
            await asyncio.sleep(self.props.retry)

    def send(self, line: str) -> str | None:
        """Write ``line`` (a newline added); ``None``, or why it was not sent."""
        data = line.encode() + b"\n"
        if self.ready:
            self._write(data)
            return None
        if self._transport is not None and len(self._waiting) < MAX_WAITING:
            self._waiting.append(data)  # sent once the board is up
            return None
        self.counts["dropped"] += 1
        return f"{self.spec.serial} is not open"

    def _write(self, data: bytes) -> None:
        assert self._transport is not None
        self._transport.write(data)
        self.counts["sent"] += 1

    # --- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        lines = (self._buffer + data).split(b"\n")
        self._buffer = lines.pop()
        if len(self._buffer) > MAX_LINE:
            self._buffer = b""
            self.counts["dropped"] += 1
        for raw in lines:
            self.counts["received"] += 1
            text = raw.strip().decode(errors="replace")
            event = self.spec.events.get(text)
            if event is None:
                self.counts["ignored"] += 1
                continue
            self.counts["fired"] += 1
            self.props.fire(event if ":" in event else f"event:{event}", f"serial {self.name}")

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._waiting.clear()
        if self.ready:
            self.props.went("offline", self.name, f"{self.spec.serial} was lost ({exc})")
        self._lost.set()


class Props:
    """Every prop of the settings: the serial ones kept open, the presence of all."""

    def __init__(self, props: Mapping[str, PropSettings], retry: float = RETRY) -> None:
        """``retry``: seconds between attempts to open a serial port that is not there."""
        self.specs = dict(props)
        self.retry = retry
        #: Where a prop's events go: the controller's ``fire``, set once it runs.
        self.fire: Fire = lambda trigger, source: None
        #: Called after a prop comes or goes (on the loop's thread).
        self.on_change: Callable[[], None] = lambda: None
        self.serial = {n: SerialProp(n, s, self) for n, s in props.items() if s.serial}
        #: presence topic -> prop
        self.topics = {s.presence: n for n, s in props.items() if s.presence}
        self.presence: dict[str, str] = dict.fromkeys(props, "unknown")
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for name, prop in self.serial.items():
            self._tasks.append(asyncio.create_task(prop.run(), name=f"prop-{name}"))

    async def close(self) -> None:
        """Close every port. Idempotent."""
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def send(self, name: str, line: str) -> str | None:
        """Write a line to serial prop ``name``; ``None``, or why it was not sent."""
        return self.serial[name].send(line)

    def heard(self, topic: str, payload: bytes) -> None:
        """A message on a presence topic (from the MQTT surface)."""
        name = self.topics[topic]
        gone = payload.decode(errors="replace").strip().lower() in GONE
        self.went("offline" if gone else "online", name, f"mqtt {topic}")

    def went(self, presence: str, name: str, how: str) -> None:
        """Prop ``name`` is ``online`` or ``offline`` now; logged when that is new."""
        if self.presence[name] == presence:
            return
        self.presence[name] = presence
        if presence == "online":
            logger.info("prop_online", prop=name, how=how)
        else:
            logger.warning("prop_offline", prop=name, why=how)
        self.on_change()

    def lines(self) -> dict[str, dict[str, int]]:
        """Each serial prop's counts of lines (received, fired, ignored, sent, dropped), for
        the status: a prop that talks while nothing fires shows its lines ignored."""
        return {name: dict(prop.counts) for name, prop in self.serial.items()}
