"""Time, injected: the real monotonic clock, a fake one that tests move by hand, or real time
run faster (``showctl walk``).

Every sleep that a clock should govern goes through it (:meth:`Clock.sleep`, :func:`wait`), so
code on a fake clock never sleeps for real. ``asyncio`` is imported only by the coroutines: a
player process, which has a clock, runs no event loop.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import asyncio


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on CLOCK_MONOTONIC (or the clock's own count)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock (on the event loop)."""
        ...


class MonotonicClock:
    """The system's CLOCK_MONOTONIC."""

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        import asyncio  # noqa: PLC0415  (see the module's docstring)

        await asyncio.sleep(seconds)


class ScaledClock:
    """Real time, ``speed`` times faster: a minute of a show in a second at 60."""

    def __init__(self, speed: float, start: float = 0.0) -> None:
        self.speed = speed
        self._start = start
        self._real = time.monotonic()

    def monotonic(self) -> float:
        return self._start + (time.monotonic() - self._real) * self.speed

    async def sleep(self, seconds: float) -> None:
        import asyncio  # noqa: PLC0415  (see the module's docstring)

        await asyncio.sleep(seconds / self.speed)


class FakeClock:
    """A clock that stands still until :meth:`advance` moves it; its sleepers wake when it has
    moved past their time."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, Any]] = []  # (due, future)

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        import asyncio  # noqa: PLC0415  (see the module's docstring)

        if seconds <= 0:
            await asyncio.sleep(0)
            return
        sleeper = (self.now + seconds, asyncio.get_running_loop().create_future())
        self._sleepers.append(sleeper)
        try:
            await sleeper[1]
        finally:
            if sleeper in self._sleepers:  # cancelled before its time
                self._sleepers.remove(sleeper)

    def advance(self, seconds: float) -> None:
        """Move the clock on, and wake the sleepers whose time has come (on the loop's next
        round)."""
        self.now += seconds
        for sleeper in [s for s in self._sleepers if s[0] <= self.now]:
            self._sleepers.remove(sleeper)
            if not sleeper[1].done():
                sleeper[1].set_result(None)


async def wait(clock: Clock, event: asyncio.Event, seconds: float | None) -> None:
    """Wait until ``event`` is set or ``seconds`` of ``clock`` have passed (``None``: for the
    event alone)."""
    import asyncio  # noqa: PLC0415  (see the module's docstring)

    if seconds is None:
        await event.wait()
        return
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    woken = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait((sleeper, woken), return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        woken.cancel()
