"""Audio outputs simulated on a clock, with memory: for ``showctl walk`` and for tests.

:class:`SimulatedOutputs` is what the controller drives when there are no players: it keeps
every command and tells its listener (the controller) what players would, a clip played once
ending its length (read from its header) after its T0 by the clock. It is the
:class:`~.outputs.Outputs` the controller's tests run on, so they exercise the routing a box
runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import soundfile

from showctl.clock import Clock, wait
from showctl.players.outputs import Clip, OutputHealth, OutputListener


@dataclass(frozen=True)
class Mixed:
    """An effect an output was told to mix in: from ``t0``, at ``gain``, with play ``play``."""

    output: str
    clip: Path
    gain: float
    t0: float
    play: int


@dataclass(frozen=True)
class Played:
    """A clip an output was told to play: from ``t0`` (clock seconds), tagged ``play``."""

    output: str
    clip: Path
    loop: bool
    t0: float
    play: int
    seconds: float  # the clip's length
    fade: tuple[float, float] = (0.0, 0.0)  # in, and out under it


class SimulatedOutputs:
    """Audio outputs with memory, on a clock.

    They keep every command (:attr:`plays`, :attr:`stops`, :attr:`effects`, :attr:`loads`) and
    tell their
    :attr:`listener` what happens as the players would: a clip played once ends at its T0
    plus its length by the clock, when :meth:`finish_due` is called (a test moving a fake
    clock calls it) or by :meth:`run` (a task that calls it as its clock comes to each end);
    :meth:`fail` and :meth:`recover` take an output down and back.
    """

    def __init__(self, outputs: Iterable[str], clock: Clock, *, soonest: float = 0.015) -> None:
        self.names = list(outputs)
        self.clock = clock
        self.soonest = soonest
        self.listener: OutputListener | None = None
        self.trims: Mapping[str, float] = {}
        self.plays: list[Played] = []
        self.stops: list[tuple[float, str]] = []
        self.effects: list[Mixed] = []
        self.loads: list[dict[str, set[Clip]]] = []
        self.levels: dict[str, float] = {}  # each output's latest level (a factor)
        self.failed: dict[str, str] = {}
        self._current: dict[str, Played] = {}
        self._changed = asyncio.Event()

    async def play(
        self,
        clips: Mapping[str, Clip],
        t0: float | None = None,
        play: int = 0,
        fade: tuple[float, float] = (0.0, 0.0),
    ) -> float:
        if t0 is None:
            t0 = self.clock.monotonic() + self.soonest
        for output, (clip, loop) in clips.items():
            info = soundfile.info(str(clip))
            seconds = info.frames / info.samplerate
            self._current[output] = Played(output, clip, loop, t0, play, seconds, fade)
            self.plays.append(self._current[output])
        self._changed.set()
        return t0

    async def stop(
        self,
        fade: float = 0.0,
        outputs: Collection[str] | None = None,
        at: float | None = None,
        play: int | None = None,
    ) -> None:
        for output in self.names if outputs is None else outputs:
            self._current.pop(output, None)
            self.stops.append((self.clock.monotonic() if at is None else at, output))

    def effect(self, output: str, clip: Path, gain: float, t0: float | None, play: int) -> float:
        if t0 is None:
            t0 = self.clock.monotonic() + self.soonest
        self.effects.append(Mixed(output, clip, gain, t0, play))
        return t0

    async def load(self, clips: Mapping[str, Collection[Clip]]) -> None:
        self.loads.append({output: set(c) for output, c in clips.items()})

    async def level(self, output: str, gain: float) -> None:
        self.levels[output] = gain

    def health(self) -> dict[str, OutputHealth]:
        return {
            name: OutputHealth(
                failed=self.failed.get(name),
                alive=name not in self.failed,
                playing=name in self._current,
            )
            for name in self.names
        }

    def fail(self, output: str, reason: str = "told so by the test") -> None:
        """``output`` fails, its restarts spent, as a pool says it."""
        self.failed[output] = reason
        self._current.pop(output, None)
        if self.listener is not None:
            self.listener.output_failed(output, reason)

    def recover(self, output: str) -> None:
        """``output``, failed, is back (a card plugged in again)."""
        del self.failed[output]
        if self.listener is not None:
            self.listener.output_recovered(output)

    def finish_due(self) -> None:
        """End every clip played once whose last sample is past, by the clock."""
        now = self.clock.monotonic()
        for output, played in list(self._current.items()):
            if played.t0 + played.seconds <= now and not played.loop:
                del self._current[output]
                if self.listener is not None:
                    self.listener.clip_finished(output, played.play, "end")

    async def run(self) -> None:
        """End each clip played once at its time, by the clock, until cancelled."""
        while True:
            self._changed.clear()
            self.finish_due()
            ends = [p.t0 + p.seconds for p in self._current.values() if not p.loop]
            await wait(
                self.clock, self._changed, min(ends) - self.clock.monotonic() if ends else None
            )
