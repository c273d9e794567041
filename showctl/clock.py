"""Time, injected: the real monotonic clock, or a fake one that tests move by hand."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on CLOCK_MONOTONIC (or the fake's own count)."""
        ...


class MonotonicClock:
    """The system's CLOCK_MONOTONIC."""

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock that stands still until :meth:`advance` moves it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
