"""Time, injected: the real monotonic clock, or a fake one that tests move by hand."""

from __future__ import annotations

import time
from typing import Any, Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on CLOCK_MONOTONIC (or the fake's own count)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock (on the event loop)."""
        ...


class MonotonicClock:
    """The system's CLOCK_MONOTONIC."""

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        # Imported here: a player process, which has this clock, runs no event loop.
        import asyncio  # noqa: PLC0415

        await asyncio.sleep(seconds)


class FakeClock:
    """A clock that stands still until :meth:`advance` moves it; its sleepers wake when it has
    moved past their time."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, Any]] = []  # (due, future)

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        import asyncio  # noqa: PLC0415  (as above)

        if seconds <= 0:
            await asyncio.sleep(0)
            return
        woken = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, woken))
        await woken

    def advance(self, seconds: float) -> None:
        """Move the clock on, and wake the sleepers whose time has come (on the loop's next
        round)."""
        self.now += seconds
        due = [s for s in self._sleepers if s[0] <= self.now]
        self._sleepers = [s for s in self._sleepers if s[0] > self.now]
        for _, woken in due:
            if not woken.done():
                woken.set_result(None)
