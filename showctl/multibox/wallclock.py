"""The wall clock mapped onto this box's monotonic clock.

Boxes share a wall clock (``CLOCK_REALTIME``, kept together by chrony or linuxptp), and each
places its samples on its own monotonic clock (``CLOCK_MONOTONIC``, which starts at an
arbitrary point on every machine, and in every time namespace). A T0 carried between boxes is
therefore wall-clock time, and each box maps it here: ``monotonic = wall - offset``, the
offset read from a pair of clock readings.

A reading of the wall clock between two readings of the monotonic clock places it to within
their gap; of :data:`READINGS` such triples the one with the smallest gap is kept (a reading
interrupted by the scheduler is thrown away). The offset is read again before each use, as a
wall clock is slewed (chrony's small corrections, which the mapping follows) and may be stepped
(a correction of more than :data:`STEP`, which is noticed and said: a T0 already mapped on the
old offset is a T0 elsewhere on the new one).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: Triples of readings taken for one offset; the tightest is kept.
READINGS = 5
#: A change of the offset of more than this (s) between two readings is a step of the wall
#: clock, not the slew of its discipline (chrony slews at most 0.5 ms a second by default:
#: ``maxslewrate 83333 ppm`` is its ceiling, far more than it uses).
STEP = 0.001


@dataclass(frozen=True)
class Offset:
    """Wall-clock time less monotonic time (s), read within ``within`` (s): the gap between
    the two monotonic readings that bracket the wall-clock one."""

    offset: float
    within: float


@dataclass
class WallClock:
    """Maps wall-clock times (ns, as carried between boxes) onto this box's monotonic clock
    (s, as its players and LEDs take times), and says when the wall clock was stepped."""

    wall_ns: Callable[[], int] = time.time_ns
    monotonic: Callable[[], float] = time.monotonic
    #: Told each step of the wall clock noticed (s: how far it moved, new less old offset).
    on_step: Callable[[float], None] = lambda moved: None
    last: Offset | None = field(default=None, init=False)

    def read(self) -> Offset:
        """The offset now, from the tightest of :data:`READINGS` triples of readings."""
        best: Offset | None = None
        for _ in range(READINGS):
            before = self.monotonic()
            wall = self.wall_ns() / 1e9
            after = self.monotonic()
            found = Offset(wall - (before + after) / 2, after - before)
            if best is None or found.within < best.within:
                best = found
        assert best is not None
        if self.last is not None and abs(best.offset - self.last.offset) > STEP:
            self.on_step(best.offset - self.last.offset)
        self.last = best
        return best

    def to_monotonic(self, wall_ns: int) -> float:
        """The monotonic time (s) of wall-clock time ``wall_ns``, by the offset now."""
        return wall_ns / 1e9 - self.read().offset

    def to_wall_ns(self, monotonic: float) -> int:
        """The wall-clock time (ns) of monotonic time ``monotonic``, by the offset now."""
        return round((monotonic + self.read().offset) * 1e9)
