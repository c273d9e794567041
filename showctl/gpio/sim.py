"""Simulated GPIO lines: values in memory, every change kept with its time on a clock.

For the unit tests and for people without hardware (``--sim``). The history answers what a
test wants to know: what was lit at a time, when a line changed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from showctl.clock import Clock, MonotonicClock
from showctl.errors import GpioError
from showctl.gpio.base import CONSUMER, Edge, InputLine, chip_path


@dataclass(frozen=True)
class Change:
    """One ``set`` call: when, and the lines it changed (offset: logical value)."""

    time: float
    values: Mapping[int, bool]


@dataclass
class SimChip:
    """A chip of ``lines`` lines; requests hold lines until closed, as the kernel does.
    ``levels`` are the lines' electrical levels, as a meter reads them: an output's value with
    its ``active_low`` applied, an input's level, and low where nobody holds the line (as the
    kernel's gpio-sim chip does: a line let go falls to its pull, low by default)."""

    path: str
    lines: int = 64
    holders: dict[int, str] = field(default_factory=dict)
    levels: dict[int, bool] = field(default_factory=dict)

    def level(self, offset: int) -> bool:
        return self.levels.get(offset, False)


class SimOutputLines:
    def __init__(
        self,
        chip: SimChip,
        offsets: Sequence[int],
        clock: Clock,
        consumer: str,
        *,
        active_low: Collection[int] = (),
        rest: Mapping[int, bool] | None = None,
        record: bool = True,
    ) -> None:
        self.chip = chip
        self.record = record  # keep every change in ``history`` (for tests: it only grows)
        self._offsets = tuple(offsets)
        self.active_low = frozenset(active_low)  # as requested; values here stay logical
        self.clock = clock
        self.rest = {o: bool((rest or {}).get(o, False)) for o in self._offsets}
        self.values = dict(self.rest)
        self.history: list[Change] = []  # the changes after the request, at ``rest``
        self.closed = False
        for offset in self._offsets:
            chip.holders[offset] = consumer
        self._drive(self.values)

    def _drive(self, values: Mapping[int, bool]) -> None:
        for offset, value in values.items():
            self.chip.levels[offset] = bool(value) != (offset in self.active_low)

    @property
    def offsets(self) -> Sequence[int]:
        return self._offsets

    def set(self, values: Mapping[int, bool]) -> None:
        if self.closed:
            raise GpioError(f"the lines of {self.chip.path} were released; request them again")
        unknown = set(values) - set(self._offsets)
        if unknown:
            raise GpioError(f"line {min(unknown)} of {self.chip.path} was not requested")
        self.values.update({o: bool(v) for o, v in values.items()})
        self._drive(values)
        if self.record:
            self.history.append(Change(self.clock.monotonic(), dict(values)))

    def close(self) -> None:
        if self.closed:
            return
        self.values = dict(self.rest)
        self.history.append(Change(self.clock.monotonic(), dict(self.values)))
        for offset in self._offsets:  # let go: low, as gpio-sim's lines fall to their pull
            self.chip.holders.pop(offset, None)
            self.chip.levels[offset] = False
        self.closed = True

    # what a test asks

    def value_at(self, offset: int, time: float) -> bool:
        """The line's value just after ``time`` (changes at ``time`` included)."""
        value = self.rest[offset]
        for change in self.history:
            if change.time > time:
                break
            value = change.values.get(offset, value)
        return value

    def edges(self, offset: int) -> list[tuple[float, bool]]:
        """Every time the line changed value, and its new value."""
        out: list[tuple[float, bool]] = []
        value = self.rest[offset]
        for change in self.history:
            new = change.values.get(offset, value)
            if new != value:
                out.append((change.time, new))
                value = new
        return out


class SimGpio:
    """Simulated chips, made on first use (``/dev/gpiochip0`` and so on), on one clock."""

    def __init__(self, clock: Clock | None = None, lines: int = 64, *, record: bool = True) -> None:
        """``record``: output lines keep every change, for tests to read (``showctl run --sim``
        keeps none: it runs for as long as people leave it)."""
        self.clock = clock or MonotonicClock()
        self.record = record
        self.chips: dict[str, SimChip] = {}
        self.inputs: dict[str, SimInputLines] = {}  # by chip path: where tests press buttons
        self.outputs: dict[str, SimOutputLines] = {}  # by chip path, the latest: what was lit
        self._lines = lines

    @staticmethod
    def _check_free(sim: SimChip, offsets: Iterable[int]) -> None:
        for offset in offsets:
            if not 0 <= offset < sim.lines:
                raise GpioError(
                    f"line {offset} is outside {sim.path}, which has lines 0-{sim.lines - 1}; "
                    "correct the line offset in the show"
                )
            if offset in sim.holders:
                raise GpioError(
                    f"line {offset} of {sim.path} is in use by '{sim.holders[offset]}'; "
                    "stop that program or choose another line"
                )

    def chip(self, chip: str) -> SimChip:
        path = chip_path(chip)
        return self.chips.setdefault(path, SimChip(path, self._lines))

    def request_outputs(
        self,
        chip: str,
        offsets: Sequence[int],
        *,
        active_low: Collection[int] = (),
        rest: Mapping[int, bool] | None = None,
    ) -> SimOutputLines:
        sim = self.chip(chip)
        self._check_free(sim, offsets)
        lines = SimOutputLines(
            sim, offsets, self.clock, CONSUMER, active_low=active_low, rest=rest, record=self.record
        )
        self.outputs[sim.path] = lines
        return lines

    def request_inputs(self, chip: str, inputs: Mapping[int, InputLine]) -> SimInputLines:
        sim = self.chip(chip)
        self._check_free(sim, inputs)
        lines = SimInputLines(sim, inputs, self.clock)
        self.inputs[sim.path] = lines
        return lines


class SimInputLines:
    """Inputs in memory: :meth:`press` and :meth:`release` (or :meth:`set_level`) make edges.

    A line's level follows its bias at rest (high with a pull-up): ``press`` connects it to
    the other level, as a button or a closing reed switch would. Only the edges of the show's
    kind count, and one closer than the input's debounce to the last counted one is dropped.
    A pipe is readable while edges wait, so an event loop watches it as it would a chip's.
    """

    def __init__(self, chip: SimChip, inputs: Mapping[int, InputLine], clock: Clock) -> None:
        self.chip = chip
        self.inputs = dict(inputs)
        self.clock = clock
        self.levels = {o: spec.bias != "pull-down" for o, spec in inputs.items()}
        chip.levels.update(self.levels)
        self._last: dict[int, float] = {}
        self._waiting: list[Edge] = []
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        self.closed = False
        for offset in inputs:
            chip.holders[offset] = CONSUMER

    def press(self, offset: int) -> None:
        self.set_level(offset, self.inputs[offset].bias == "pull-down")

    def release(self, offset: int) -> None:
        self.set_level(offset, self.inputs[offset].bias != "pull-down")

    def set_level(self, offset: int, high: bool) -> None:
        if self.levels[offset] == high:
            return
        self.levels[offset] = self.chip.levels[offset] = high
        spec, now = self.inputs[offset], self.clock.monotonic()
        if spec.edge != "both" and (spec.edge == "rising") != high:
            return
        last = self._last.get(offset)
        if last is not None and now - last < spec.debounce:
            return  # a bounce
        self._last[offset] = now
        self._waiting.append(Edge(offset, high, now))
        os.write(self._write_fd, b".")

    def fileno(self) -> int:
        return self._read_fd

    def read(self) -> list[Edge]:
        with contextlib.suppress(BlockingIOError):
            os.read(self._read_fd, 4096)
        edges, self._waiting = self._waiting, []
        return edges

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for offset in self.inputs:
            self.chip.holders.pop(offset, None)
        os.close(self._read_fd)
        os.close(self._write_fd)
