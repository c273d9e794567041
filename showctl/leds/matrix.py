"""The LED matrix on its GPIO lines, and the thread that shows a scene's cues on time.

:class:`LedMatrix` turns a frame (rows x columns of on/off) into one ``set`` of all its lines, so a
frame changes at once. :class:`LedPlayer` runs a scene's :class:`~showctl.leds.programs.Schedule` in
a thread of its own: every frame is due at T0 plus its time on the scene's timeline, on the
monotonic clock (T0 is when the scene's first sample leaves the DAC, so lights change when the sound
is heard). It waits for absolute deadlines, never for intervals, so errors do not add up. A GPIO
failure is reported once and the matrix goes dark; nothing else stops."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import structlog

from showctl.clock import Clock, MonotonicClock
from showctl.errors import GpioError, ProgramError
from showctl.gpio.base import GpioBackend, OutputLines
from showctl.leds.programs import Frame, Schedule
from showctl.show.model import Matrix

logger = structlog.get_logger()

#: A scene started this long ago (s) or more is joined where it is now (see LedPlayer.play).
JOIN_AFTER = 0.25
#: The LED threads check in with the liveness gate at least this often (s), even when no frame
#: is due: well inside the watchdog's half interval (see showctl.controller.CHECK_IN).
CHECK_IN = 0.25


def _nobody(loop: str) -> None:
    """A check-in nobody hears (no liveness gate)."""


class LedMatrix:
    """A matrix driven directly: one line per LED, a frame set in one change."""

    def __init__(self, matrix: Matrix, lines: OutputLines) -> None:
        self.matrix = matrix
        self.lines = lines
        #: Why the matrix stopped showing frames on its own (a scan thread's failure), or None.
        self.failed: str | None = None
        #: Told "led-scan" as a scan thread goes round (the liveness gate's check_in).
        self.check_in: Callable[[str], None] = _nobody
        #: Called (on the failing thread) once the matrix has failed.
        self.on_failed: Callable[[], None] = lambda: None
        self._offsets = list(matrix.offsets)

    def show(self, frame: Frame) -> None:
        """Light the frame: all lines in one change. Raises :class:`GpioError`."""
        self.lines.set(dict(zip(self._offsets, frame.ravel().tolist(), strict=True)))

    def close(self) -> None:
        self.lines.close()


class MultiplexedMatrix(LedMatrix):
    """A matrix scanned row by row: a thread lights one row at a time (the row's line and the
    columns' lines in one change), each row for 1/(refresh x rows) s, on absolute deadlines.
    :meth:`show` hands it a frame, which it takes from the next row on. The scan rate it
    reaches is logged every ``REPORT_EVERY`` seconds. It checks in as ``led-scan`` every scan;
    when its lines fail it says so once (:attr:`failed`, logged) and ends, checked out.
    """

    REPORT_EVERY = 10.0

    def __init__(
        self,
        matrix: Matrix,
        lines: OutputLines,
        *,
        start: bool = True,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(matrix, lines)
        self.clock = clock or MonotonicClock()
        self.check_out: Callable[[str], None] = _nobody
        self.scans = 0  # whole scans of the matrix so far
        self._frame: Frame = np.zeros((matrix.rows, matrix.columns), dtype=bool)
        # The row lines' values that select each row: the same every scan, made once.
        self._selects = [
            {line: r == row for r, line in enumerate(matrix.row_lines)}
            for row in range(matrix.rows)
        ]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="led-scan", daemon=True)
        if start:
            self._thread.start()

    def show(self, frame: Frame) -> None:
        """Hand over the next frame. Never raises: a failure of the lines is the scan's to
        report (once), and a failed matrix takes frames and shows nothing."""
        self._frame = frame.copy()  # replaced whole: a row is read from one frame or the other

    def scan_row(self, row: int) -> None:
        """Light ``row`` of the current frame, alone. Raises :class:`GpioError`."""
        values = dict(self._selects[row])
        values.update(zip(self.matrix.column_lines, self._frame[row].tolist(), strict=True))
        self.lines.set(values)

    def scan_step(self, row: int) -> bool:
        """Light ``row``; on a failure of the lines, report it once and say ``False``."""
        try:
            self.scan_row(row)
        except GpioError as e:
            self.failed = str(e)
            logger.error("leds_failed", reason=self.failed)
            self.on_failed()
            return False
        return True

    def scan(self) -> None:
        """One whole scan, as fast as the lines go (what the benchmark measures)."""
        for row in range(self.matrix.rows):
            self.scan_row(row)
        self.scans += 1

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self.lines.close()

    def _run(self) -> None:
        rows = self.matrix.rows
        step = 1.0 / (self.matrix.refresh * rows)
        start = self.clock.monotonic()
        report_at, reported = start + self.REPORT_EVERY, 0
        k = 0
        while not self._stop.is_set():
            if not self.scan_step(k % rows):
                self.check_out("led-scan")  # reported; no longer a loop to watch
                return
            k += 1
            if k % rows == 0:
                self.scans += 1
                self.check_in("led-scan")
            now = self.clock.monotonic()
            if now >= report_at:
                rate = (self.scans - reported) / (now - report_at + self.REPORT_EVERY)
                logger.info("leds_refresh", scans_per_s=round(rate, 1), target=self.matrix.refresh)
                report_at, reported = now + self.REPORT_EVERY, self.scans
            due = start + k * step
            if now > due + rows * step:  # a whole scan behind: go on from now, no burst
                start, k = now, 0
                continue
            self._stop.wait(max(0.0, due - now))


def open_matrix(matrix: Matrix, gpio: GpioBackend, clock: Clock | None = None) -> LedMatrix:
    """Request the matrix's lines (one request) and drive them as the show says."""
    if matrix.multiplexed:
        low = matrix.column_lines if matrix.active_low else ()
        lines = gpio.request_outputs(matrix.chip, matrix.offsets, active_low=low)
        return MultiplexedMatrix(matrix, lines, clock=clock)
    low = matrix.offsets if matrix.active_low else ()
    return LedMatrix(matrix, gpio.request_outputs(matrix.chip, matrix.offsets, active_low=low))


@dataclass(frozen=True)
class Shown:
    """A frame as shown: its time on the scene's timeline (s from T0), when it was due and
    when it was set (monotonic s), and the frame."""

    at: float
    due: float
    shown: float
    frame: Frame


class LedPlayer:
    """Shows the current scene's cues on a matrix, each frame at its deadline (a thread that
    checks in as ``leds`` at least every :data:`CHECK_IN` seconds)."""

    def __init__(
        self,
        matrix: LedMatrix,
        *,
        on_frame: Callable[[Shown], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.matrix = matrix
        self.on_frame = on_frame
        self.clock = clock or MonotonicClock()
        #: Told "leds" as the thread goes round (the liveness gate's check_in).
        self.check_in: Callable[[str], None] = _nobody
        #: Called (on the failing thread) once the LEDs have stopped: :attr:`failed` says why.
        self.on_failed: Callable[[], None] = lambda: None
        matrix.on_failed = self._matrix_failed
        self._failed: str | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._schedule: Schedule | None = None
        self._t0 = 0.0
        self._late = False  # the schedule was fast-forwarded: show its frame at once
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="leds", daemon=True)

    @property
    def failed(self) -> str | None:
        """Why the LEDs stopped (the cues, or the matrix's own scan), or ``None``."""
        return self._failed or self.matrix.failed

    def watch_by(self, check_in: Callable[[str], None], check_out: Callable[[str], None]) -> None:
        """Have this thread and the matrix's own (if it scans) check in with a liveness gate."""
        self.check_in = self.matrix.check_in = check_in
        if isinstance(self.matrix, MultiplexedMatrix):
            self.matrix.check_out = check_out

    def start(self) -> None:
        self._thread.start()

    def play(self, schedule: Schedule, t0: float) -> None:
        """Show ``schedule`` from ``t0`` (monotonic s), in place of what was playing. A ``t0``
        more than :data:`JOIN_AFTER` past (a scene resumed) jumps to where the scene is now and
        shows that at once, without replaying what came before; less late, the frames due are
        shown in order at once."""
        late = self.clock.monotonic() - t0
        if late > JOIN_AFTER:
            schedule.advance(late)
        with self._lock:
            if self._schedule is not None:
                self._schedule.close()
            self._schedule, self._t0, self._late = schedule, t0, late > JOIN_AFTER
        self._wake.set()

    def hold(self) -> None:
        """Keep the frame shown now and show no more (a paused show): :meth:`play` goes on."""
        with self._lock:
            if self._schedule is not None:
                self._schedule.close()
                self._schedule = None
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
            if self._late:
                return self.clock.monotonic()
            at = self._schedule.next_time()
            return None if at is None else self._t0 + at

    def step(self) -> Shown | None:
        """Show the frame due now, if one is (the thread calls this at each deadline)."""
        with self._lock:
            schedule = self._schedule
            if schedule is None or self._stopping:
                return None
            failure: str | None = None
            if self._late:  # joined late: the frame as it is now, where play() left it
                self._late = False
                at = self.clock.monotonic() - self._t0
            else:
                next_at = schedule.next_time()
                if next_at is None or self._t0 + next_at > self.clock.monotonic():
                    return None
                at = next_at
                try:
                    schedule.advance(at)
                except ProgramError as e:  # one that showctl check lets through would be a bug
                    failure = f"an LED program stopped: {e}"
            due = self._t0 + at
            frame = schedule.frame.copy()
        if failure is not None:
            self._fail(failure)
            return None
        try:
            self.matrix.show(frame)
        except GpioError as e:
            self._fail(str(e))
            return None
        shown = Shown(at, due, self.clock.monotonic(), frame)
        if self.on_frame is not None:
            self.on_frame(shown)
        return shown

    def _matrix_failed(self) -> None:
        self.on_failed()  # looked up now: it may be set after this player was made

    def _fail(self, reason: str) -> None:
        self._failed = reason
        logger.error("leds_failed", reason=reason)
        with self._lock:
            if self._schedule is not None:
                self._schedule.close()
            self._schedule = None
        self.on_failed()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._stopping:
                    return
            self.check_in("leds")
            self._wake.clear()  # before looking: a play() from now on wakes the wait
            due = self.due()
            delay = CHECK_IN if due is None else min(CHECK_IN, due - self.clock.monotonic())
            if delay > 0 and self._wake.wait(delay):
                continue  # a new scene, or stop: look again
            if due is not None and due <= self.clock.monotonic():
                self.step()
