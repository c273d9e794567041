"""LED cue programs on a scene's timeline, built up as the asyncio blinking talk builds them.

Each program of the show (``blink``, ``all``, ``sequence``, ``first``, ``forever``, ...) runs as
a task: a generator that changes the frame and then waits for an *absolute* time on the scene's
timeline (seconds after T0), never "for an interval": a program keeps its own time, so errors
cannot accumulate however long it runs. ``all`` and ``first`` start child tasks and wait for all
of them, or for the first (the others are cancelled, and a cancelled program turns its LEDs
off, as a task's ``finally`` would). A :class:`Schedule` is the small event loop that runs the
tasks; it knows no clock. Whoever drives it asks :meth:`Schedule.next_time`, waits until then
(the real clock, a fake one, or not at all to render a cue) and calls :meth:`Schedule.advance`.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from showctl.errors import ProgramError
from showctl.show._checks import frame_leds
from showctl.show.model import (
    All,
    Blink,
    Cue,
    Cycle,
    First,
    Forever,
    Frames,
    Hold,
    Matrix,
    Meter,
    Off,
    On,
    Program,
    Sequence,
)

Frame = npt.NDArray[np.bool_]
Led = tuple[int, int]


@dataclass(frozen=True)
class Wait:
    """Resume the task at ``time`` on the timeline."""

    time: float


@dataclass(frozen=True)
class Join:
    """Resume the task when all of ``tasks`` are done (or the first, with ``first``); the
    task is sent the time they ended."""

    tasks: tuple[Task, ...]
    first: bool = False


Step = Generator[Wait | Join, float, float]
#: Frames of a level meter: one per 1/rate s from the clip's start, as the show's output plays.
MeterFrames = Callable[[Meter, float], Iterable[Frame]]


@dataclass(eq=False)
class Task:
    body: Step
    parent: Task | None = None
    join: Join | None = None  # what the task waits for, if it waits for children
    started: bool = False
    done: bool = False
    end: float = 0.0
    children_left: int = 0


@dataclass
class Schedule:
    """The cues of one scene, as tasks on its timeline, and the frame they make."""

    matrix: Matrix
    cues: tuple[Cue, ...]
    meter: MeterFrames | None = None
    #: The scene whose cues these are (``None``: none, the matrix dark).
    scene: str | None = None
    frame: Frame = field(init=False)
    _queue: list[tuple[float, int, Task, float]] = field(init=False, default_factory=list)
    _seq: itertools.count[int] = field(init=False, default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.frame = np.zeros((self.matrix.rows, self.matrix.columns), dtype=bool)
        # A scene starts dark, at T0: a frame is due then even when the first cue comes later.
        self._push(0.0, Task(self._run(Off(("all",)), 0.0)), 0.0)
        for cue in self.cues:
            self._push(cue.at, Task(self._run(cue.program, cue.at)), cue.at)

    def next_time(self) -> float | None:
        """When on the timeline something is due next; ``None`` when every program is done."""
        return self._queue[0][0] if self._queue else None

    def advance(self, time: float) -> None:
        """Run everything due up to ``time``, in time order; the frame is then as at ``time``."""
        while self._queue and self._queue[0][0] <= time:
            _, _, task, value = heapq.heappop(self._queue)
            if not task.done:
                self._step(task, value)

    def close(self) -> None:
        """Stop every program (the scene ends). The frame keeps what they left."""
        for _, _, task, _ in self._queue:
            task.body.close()
        self._queue.clear()

    # the loop

    def _push(self, time: float, task: Task, value: float) -> None:
        heapq.heappush(self._queue, (time, next(self._seq), task, value))

    def _step(self, task: Task, value: float) -> None:
        try:
            # A generator not yet started takes None only; mypy knows just the send type.
            request = task.body.send(value if task.started else None)  # type: ignore[arg-type]
            task.started = True
        except StopIteration as stop:
            self._finish(task, float(stop.value))
            return
        if isinstance(request, Wait):
            self._push(request.time, task, request.time)
            return
        task.join = request
        task.children_left = len(request.tasks)
        for child in request.tasks:
            child.parent = task
        for child in request.tasks:
            if not child.done:  # a sibling that ended at once may have cancelled it (first)
                self._step(child, value)  # children start at once, at the parent's time

    def _finish(self, task: Task, end: float) -> None:
        task.done, task.end = True, end
        parent = task.parent
        if parent is None or parent.done or parent.join is None:
            return
        parent.children_left -= 1
        if parent.join.first:
            for sibling in parent.join.tasks:
                if not sibling.done:
                    self._cancel(sibling)
            self._resume(parent, end)
        elif parent.children_left == 0:
            self._resume(parent, max(child.end for child in parent.join.tasks))

    def _resume(self, parent: Task, end: float) -> None:
        parent.join = None
        self._push(end, parent, end)

    def _cancel(self, task: Task) -> None:
        task.done = True
        if task.join is not None:
            for child in task.join.tasks:
                if not child.done:
                    self._cancel(child)
        task.body.close()  # runs the program's finally: its LEDs go off

    # the programs

    def _set(self, leds: Iterable[Led], value: bool) -> None:
        for row, column in leds:
            self.frame[row, column] = value

    def _run(self, program: Program, t: float) -> Step:
        """The task body of ``program`` started at ``t``; returns the time it ended."""
        if isinstance(program, On | Off):
            self._set(self.matrix.resolve(program.leds), isinstance(program, On))
            return t
        if isinstance(program, Hold):
            yield Wait(t + program.duration)
            return t + program.duration
        if isinstance(program, Blink):
            return (yield from self._blink(self.matrix.resolve(program.leds), program, t))
        if isinstance(program, Cycle):
            return (yield from self._cycle(self.matrix.resolve(program.leds), program, t))
        if isinstance(program, Frames):
            return (yield from self._frames(program, t))
        if isinstance(program, Meter):
            return (yield from self._meter(program, t))
        if isinstance(program, Sequence):
            for child in program.programs:
                t = yield from self._run(child, t)
            return t
        if isinstance(program, All | First):
            tasks = tuple(Task(self._run(child, t)) for child in program.programs)
            return (yield Join(tasks, first=isinstance(program, First)))
        if isinstance(program, Forever):
            while True:
                end = yield from self._run(program.program, t)
                if end <= t:
                    raise ProgramError("forever: its program takes no time, so it cannot repeat")
                t = end
        raise ProgramError(f"unknown program {program!r}")

    def _blink(self, leds: tuple[Led, ...], program: Blink, t: float) -> Step:
        edge = 0  # times are t + edge * interval: counted, never summed, so exact for ever
        try:
            for _ in _times(program.count):
                self._set(leds, True)
                edge += 1
                yield Wait(t + edge * program.interval)
                self._set(leds, False)
                edge += 1
                yield Wait(t + edge * program.interval)
        finally:
            self._set(leds, False)
        return t + edge * program.interval

    def _cycle(self, leds: tuple[Led, ...], program: Cycle, t: float) -> Step:
        step = 0
        try:
            for _ in _times(program.count):
                for led in leds:
                    self._set((led,), True)
                    step += 1
                    yield Wait(t + step * program.interval)
                    self._set((led,), False)
        finally:
            self._set(leds, False)
        return t + step * program.interval

    def _frames(self, program: Frames, t: float) -> Step:
        images = [np.zeros_like(self.frame) for _ in program.images]
        for image, text in zip(images, program.images, strict=True):
            for row, column in frame_leds(text):
                image[row, column] = True
        step = 0
        for _ in _times(None if program.loop else 1):
            for image in images:
                self.frame[:] = image
                step += 1
                yield Wait(t + step * program.interval)
        return t + step * program.interval

    def _meter(self, program: Meter, t: float) -> Step:
        if self.meter is None:
            raise ProgramError("a meter needs the scene's audio, and none was given")
        end = t
        try:
            for k, image in enumerate(self.meter(program, t), start=1):
                self.frame[:] = image
                end = t + k / program.rate  # counted from t, never summed: no accumulated error
                yield Wait(end)
        finally:
            self.frame[:] = False
        return end


def _times(count: int | None) -> Iterable[int]:
    return itertools.count() if count is None else range(count)


def timeline(
    matrix: Matrix,
    cues: tuple[Cue, ...],
    until: float,
    meter: MeterFrames | None = None,
) -> list[tuple[float, Frame]]:
    """Every frame the cues show up to ``until`` (seconds), with its time: what a scene's
    matrix does, without a clock. For rendering a cue and for tests."""
    schedule = Schedule(matrix, cues, meter)
    schedule.advance(0.0)
    frames = [(0.0, schedule.frame.copy())]
    while (t := schedule.next_time()) is not None and t <= until:
        schedule.advance(t)
        if not np.array_equal(schedule.frame, frames[-1][1]):
            frames.append((t, schedule.frame.copy()))
    schedule.close()
    return frames
