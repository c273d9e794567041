"""Game clocks: the show's countdowns across scenes (the escape room's hour), on the injected
monotonic clock.

A clock starts stopped at its length. Actions and the game master's commands start and stop it,
set it back and add or take time; it stands still while the show is paused; at zero it stops
and the controller fires its ``at_zero`` event, once. Conditions compare its time left
(``game < 5min``), and :meth:`GameClocks.next_due` says when the controller must look next:
at a clock's zero, or when one crosses a time that a condition compares it with (so that a
transition with only ``when: game < 5min`` fires as the clock passes five minutes).

Saved with the show's state as each clock's time left at a wall-clock time, and whether it runs:
a clock that ran when showctl stopped has run on meanwhile, as the game in the room did, so a
restart neither gives the players time nor takes it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from showctl.machine import ClockTest, FlagTest
from showctl.show.model import (
    AddTime,
    ClockAction,
    GameClock,
    ResetClock,
    Show,
    StartClock,
    StopClock,
)

logger = structlog.get_logger()

#: A crossing is looked at this long after the exact moment, so that ``game < 5min`` holds then.
PAST = 0.001
#: The log line of each action that changed a clock.
LOGGED = {
    StartClock: "clock_started",
    StopClock: "clock_stopped",
    ResetClock: "clock_reset",
    AddTime: "clock_time_added",
}


@dataclass
class Countdown:
    """One clock: ``left`` seconds at ``since`` (monotonic) while it runs, or left now."""

    length: float
    at_zero: str
    left: float
    since: float | None = None  # when it last started (or was changed) running; None: stopped
    held: bool = False  # stopped by a pause, to run again at the resume

    def remaining(self, now: float) -> float:
        if self.since is None:
            return self.left
        return max(0.0, self.left - (now - self.since))

    @property
    def running(self) -> bool:
        return self.since is not None

    def settle(self, now: float) -> None:
        """Fold the time run into ``left`` (``since`` now)."""
        if self.since is not None:
            self.left, self.since = self.remaining(now), now


def event_of(name: str, spec: GameClock) -> str:
    """The event that ``name`` fires at zero."""
    return spec.at_zero or f"{name}-end"


def compared_times(show: Show) -> dict[str, set[float]]:
    """For each clock, the times left that the show's conditions compare it with."""
    times: dict[str, set[float]] = {}
    for scene in show.scenes.values():
        for transition in scene.transitions:
            for condition in transition.when:
                test = FlagTest.parse(condition, show.clocks)
                if isinstance(test, ClockTest):
                    times.setdefault(test.clock, set()).add(test.seconds)
    return times


class GameClocks:
    """The show's clocks, by name. Every method takes ``now``, the monotonic time."""

    def __init__(self, show: Show) -> None:
        self.clocks: dict[str, Countdown] = {}
        self.compared: dict[str, set[float]] = {}
        self._seen: dict[str, float] = {}  # each clock's time left at the last look
        self.take_up(show)

    def take_up(self, show: Show) -> None:
        """Take up a (reloaded) show's clocks: one it had before keeps its time and whether it
        runs; a new one starts stopped at its length; one it has no more is forgotten."""
        clocks = {}
        for name, spec in show.clocks.items():
            was = self.clocks.get(name)
            event = event_of(name, spec)
            clocks[name] = (
                Countdown(spec.length, event, spec.length)
                if was is None
                else Countdown(spec.length, event, was.left, was.since, was.held)
            )
        self.clocks = clocks
        self.compared = compared_times(show)
        self._seen = {}

    def left(self, name: str, now: float) -> float:
        """Seconds left on clock ``name`` (0 for a clock the show does not have)."""
        clock = self.clocks.get(name)
        return 0.0 if clock is None else clock.remaining(now)

    def act(self, action: ClockAction, now: float, source: str = "show") -> bool:
        """Run a clock action; whether the clock changed (logged if so)."""
        clock = self.clocks[action.clock]
        was = (clock.remaining(now), clock.running)
        if isinstance(action, StartClock):
            if clock.since is None and clock.left > 0:
                clock.since, clock.held = now, False
        elif isinstance(action, ResetClock):
            clock.left, clock.since, clock.held = clock.length, None, False
        elif isinstance(action, AddTime):
            clock.settle(now)
            clock.left = max(0.0, clock.left + action.time)
        else:  # StopClock
            clock.settle(now)
            clock.since, clock.held = None, False
        left = clock.remaining(now)
        if (left, clock.running) == was:
            return False
        logger.info(
            LOGGED[type(action)],
            clock=action.clock,
            left=round(left, 3),
            running=clock.running,
            source=source,
            **({"added": action.time} if isinstance(action, AddTime) else {}),
        )
        return True

    def reset(self) -> None:
        """Every clock back to its length, stopped (the show started over)."""
        for clock in self.clocks.values():
            clock.left, clock.since, clock.held = clock.length, None, False

    def pause(self, now: float) -> None:
        """Stop the running clocks where they are, to run again at :meth:`resume`."""
        for clock in self.clocks.values():
            if clock.since is not None:
                clock.settle(now)
                clock.since, clock.held = None, True

    def resume(self, now: float) -> None:
        for clock in self.clocks.values():
            if clock.held:
                clock.since, clock.held = now, False

    def next_due(self, now: float) -> float | None:
        """When a running clock next reaches zero or crosses a compared time (monotonic)."""
        due = math.inf
        for name, clock in self.clocks.items():
            if clock.since is None:
                continue
            left = clock.remaining(now)
            ahead = [t for t in self.compared.get(name, ()) if t < left]
            due = min(due, now + left, *(now + left - t + PAST for t in ahead))
        return None if due == math.inf else due

    def look(self, now: float) -> tuple[list[str], bool]:
        """Stop the running clocks at zero by ``now``: the events they fire (logged); and
        whether a clock crossed a time that a condition compares it with since the last look
        (by running, or by time taken away)."""
        events, crossed = [], False
        for name, clock in self.clocks.items():
            left = clock.remaining(now)
            was = self._seen.get(name, left)
            crossed |= any(left <= t < was for t in self.compared.get(name, ()))
            self._seen[name] = left
            if clock.since is not None and left <= 0:
                clock.left, clock.since = 0.0, None
                logger.info("clock_at_zero", clock=name, fires=clock.at_zero)
                events.append(clock.at_zero)
        return events, crossed

    def state(self, now: float) -> dict[str, dict[str, Any]]:
        """Each clock's time left (s), whether it runs, and its length, JSON-ready."""
        return {
            name: {
                "left": round(clock.remaining(now), 3),
                "running": clock.running,
                "length": clock.length,
            }
            for name, clock in self.clocks.items()
        }

    def saved(self, now: float, wall: float) -> dict[str, dict[str, Any]]:
        """What the state file keeps: each clock's time left at ``wall`` and whether it runs (a
        clock held by a pause runs again after a restart, as the show does)."""
        return {
            name: {
                "left": clock.remaining(now),
                "running": clock.running or clock.held,
                "at": wall,
            }
            for name, clock in self.clocks.items()
        }

    def restore(self, saved: Mapping[str, Mapping[str, Any]], now: float, wall: float) -> list[str]:
        """Take up the saved clocks (the ones the show still has); a running one has run on
        since it was saved. The events of those that reached zero meanwhile."""
        events = []
        for name, record in saved.items():
            clock = self.clocks.get(name)
            if clock is None:
                continue
            running = bool(record["running"])
            left = float(record["left"]) - (max(0.0, wall - float(record["at"])) if running else 0)
            clock.left, clock.since, clock.held = max(0.0, left), None, False
            if running and left <= 0:
                logger.info("clock_at_zero", clock=name, fires=clock.at_zero, while_down=True)
                events.append(clock.at_zero)
            elif running:
                clock.since = now
        return events
