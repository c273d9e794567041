"""systemd's notify protocol, and the liveness gate in front of its watchdog.

:class:`Notifier` sends ``READY=1``, ``STATUS=...``, ``WATCHDOG=1`` and ``STOPPING=1`` as
datagrams to the socket systemd names in ``$NOTIFY_SOCKET`` (``Type=notify``); without one (not
under systemd) it does nothing. :class:`Liveness` pings the watchdog only while every loop of
the controller has checked in lately: a loop that hangs stops the pings, and systemd kills and
restarts showctl (``WatchdogSec=``).
"""

from __future__ import annotations

import contextlib
import os
import socket

import structlog

from showctl.clock import Clock, MonotonicClock

logger = structlog.get_logger()


class Notifier:
    """Messages to systemd. Never raises: a service manager that went away is not a fault."""

    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # an abstract socket
            address = "\0" + address[1:]
        self.address = address
        self._socket: socket.socket | None = None
        if address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def watchdog(self) -> float | None:
        """The watchdog's interval asked by systemd (``$WATCHDOG_USEC``, seconds), or None."""
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        if not usec or (pid and int(pid) != os.getpid()):
            return None
        return int(usec) / 1e6

    def send(self, *fields: str) -> None:
        if self._socket is None:
            return
        try:
            self._socket.sendto("\n".join(fields).encode(), self.address)
        except OSError as e:
            logger.warning("notify_failed", reason=str(e))

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}")

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}")

    def stopping(self) -> None:
        self.send("STOPPING=1", "STATUS=stopping")

    def close(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None


class Liveness:
    """Pings the watchdog while every named loop has checked in within ``stale`` seconds.

    Loops call :meth:`check_in` as they go round; :meth:`run` (a task on the event loop, which
    is itself one of the loops watched) pings every ``every`` seconds when none is stale and
    logs ``watchdog_withheld`` with the stale ones when some are, and with ``event loop`` when
    it woke itself more than ``stale`` late.
    """

    def __init__(
        self, notifier: Notifier, every: float, stale: float, clock: Clock | None = None
    ) -> None:
        self.notifier = notifier
        self.every = every
        self.stale = stale
        self.clock = clock or MonotonicClock()
        self._seen: dict[str, float] = {}

    def check_in(self, loop: str) -> None:
        """``loop`` goes round; any thread may call."""
        self._seen[loop] = self.clock.monotonic()

    def check_out(self, loop: str) -> None:
        """``loop`` ended on purpose (a thread stopped): it is no longer watched."""
        self._seen.pop(loop, None)

    def stale_loops(self, now: float) -> list[str]:
        return sorted(name for name, seen in self._seen.items() if now - seen > self.stale)

    async def run(self) -> None:
        withheld: list[str] = []
        while True:
            stale = self.stale_loops(self.clock.monotonic())
            if not stale:
                self.notifier.send("WATCHDOG=1")
            elif stale != withheld:
                logger.error("watchdog_withheld", stale=stale)
            withheld = stale
            before = self.clock.monotonic()
            await self.clock.sleep(self.every)
            held = self.clock.monotonic() - before - self.every
            if held > self.stale:
                # The event loop itself stood still (this task is on it): no ping went out, and
                # a loop that checks in first when it goes on again must not hide that.
                logger.error("watchdog_withheld", stale=["event loop"], seconds=round(held, 3))
