"""The LED matrix on its GPIO lines, and the thread that shows a scene's cues on time.

:class:`LedMatrix` turns a frame (rows x columns of on/off) into one ``set`` of all its lines,
so a frame changes at once. :class:`LedPlayer` runs a scene's :class:`~.programs.Schedule` in
a thread of its own: every frame is due at T0 plus its time on the scene's timeline, on the
monotonic clock (T0 is when the scene's first sample leaves the DAC, so lights change when the
sound is heard). It waits for absolute deadlines, never for intervals, so errors do not add up.
A GPIO failure is reported once and the matrix goes dark; nothing else stops.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from showctl.gpio.base import GpioError, OutputLines
from showctl.leds.programs import Frame, Schedule
from showctl.show import Matrix

logger = structlog.get_logger()


class LedMatrix:
    """A matrix driven directly: one line per LED."""

    def __init__(self, matrix: Matrix, lines: OutputLines) -> None:
        self.matrix = matrix
        self.lines = lines
        self._offsets = [offset for row in matrix.lines for offset in row]

    def show(self, frame: Frame) -> None:
        """Light the frame: all lines in one change. Raises :class:`GpioError`."""
        self.lines.set(dict(zip(self._offsets, frame.ravel().tolist(), strict=True)))

    def close(self) -> None:
        self.lines.close()


@dataclass(frozen=True)
class Shown:
    """A frame as shown: its time on the scene's timeline (s from T0), when it was due and
    when it was set (monotonic s), and the frame."""

    at: float
    due: float
    shown: float
    frame: Frame


class LedPlayer:
    """Shows the current scene's cues on a matrix, each frame at its deadline (a thread)."""

    def __init__(
        self,
        matrix: LedMatrix,
        *,
        on_frame: Callable[[Shown], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.matrix = matrix
        self.on_frame = on_frame
        self.clock = clock
        self.failed: str | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._schedule: Schedule | None = None
        self._t0 = 0.0
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="leds", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def play(self, schedule: Schedule, t0: float) -> None:
        """Show ``schedule`` from ``t0`` (monotonic s), in place of what was playing."""
        with self._lock:
            if self._schedule is not None:
                self._schedule.close()
            self._schedule, self._t0 = schedule, t0
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread, turn the matrix off and release its lines. Idempotent."""
        with self._lock:
            self._stopping = True
            if self._schedule is not None:
                self._schedule.close()
                self._schedule = None
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self.matrix.close()

    def due(self) -> float | None:
        """The monotonic time the next frame is due, or ``None`` when nothing is."""
        with self._lock:
            if self._schedule is None or self._stopping:
                return None
            at = self._schedule.next_time()
            return None if at is None else self._t0 + at

    def step(self) -> Shown | None:
        """Show the frame due now, if one is (the thread calls this at each deadline)."""
        with self._lock:
            schedule = self._schedule
            if schedule is None or self._stopping:
                return None
            at = schedule.next_time()
            if at is None or self._t0 + at > self.clock():
                return None
            schedule.advance(at)
            frame = schedule.frame.copy()
            due = self._t0 + at
        try:
            self.matrix.show(frame)
        except GpioError as e:
            self._fail(str(e))
            return None
        shown = Shown(at, due, self.clock(), frame)
        if self.on_frame is not None:
            self.on_frame(shown)
        return shown

    def _fail(self, reason: str) -> None:
        self.failed = reason
        logger.error("leds_failed", reason=reason)
        with self._lock:
            if self._schedule is not None:
                self._schedule.close()
            self._schedule = None

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._stopping:
                    return
            self._wake.clear()  # before looking: a play() from now on wakes the wait
            due = self.due()
            if due is None:
                self._wake.wait()
                continue
            delay = due - self.clock()
            if delay > 0 and self._wake.wait(delay):
                continue  # a new scene, or stop: look again
            self.step()
