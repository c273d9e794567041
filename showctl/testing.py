"""Helpers shipped for tests: of showctl's own, and of programs built on it."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from showctl.clock import Clock
from showctl.players.outputs import Clip, OutputHealth, OutputListener


def write_wav(
    path: Path,
    *,
    seconds: float = 0.1,
    rate: int = 48000,
    channels: int = 1,
    frequency: float = 440.0,
    format: str = "WAV",
    subtype: str = "PCM_16",
) -> Path:
    """Write a sine tone to ``path`` (creating its folder) and return the path."""
    t = np.arange(round(seconds * rate)) / rate
    tone = 0.5 * np.sin(2 * np.pi * frequency * t)
    data = np.repeat(tone[:, None], channels, axis=1) if channels > 1 else tone
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), data, rate, format=format, subtype=subtype)
    return path


@dataclass(frozen=True)
class Played:
    """A clip an output was told to play: from ``t0`` (clock seconds), tagged ``play``."""

    output: str
    clip: Path
    loop: bool
    t0: float
    play: int
    seconds: float  # the clip's length


class RecordingOutputs:
    """Audio outputs with memory, on a clock, for tests of the controller without players.

    They keep every command (:attr:`plays`, :attr:`stops`, :attr:`loads`) and tell their
    :attr:`listener` (the controller) what happens as the players would: a clip played once
    ends ``length`` seconds (read from its header) after its T0, by the clock, at
    :meth:`finish_due`; :meth:`fail` and :meth:`recover` take an output down and back.
    """

    def __init__(self, outputs: Iterable[str], clock: Clock, *, soonest: float = 0.015) -> None:
        self.names = list(outputs)
        self.clock = clock
        self.soonest = soonest
        self.listener: OutputListener | None = None
        self.plays: list[Played] = []
        self.stops: list[tuple[float, str]] = []
        self.loads: list[dict[str, set[Clip]]] = []
        self.failed: dict[str, str] = {}
        self._current: dict[str, Played] = {}

    async def play(self, clips: Mapping[str, Clip], t0: float, play: int = 0) -> None:
        for output, (clip, loop) in clips.items():
            info = soundfile.info(str(clip))
            seconds = info.frames / info.samplerate
            self._current[output] = Played(output, clip, loop, t0, play, seconds)
            self.plays.append(self._current[output])

    async def stop(
        self, fade: float = 0.0, outputs: Collection[str] | None = None, at: float | None = None
    ) -> None:
        for output in self.names if outputs is None else outputs:
            self._current.pop(output, None)
            self.stops.append((self.clock.monotonic() if at is None else at, output))

    async def load(self, clips: Mapping[str, Collection[Clip]]) -> None:
        self.loads.append({output: set(c) for output, c in clips.items()})

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
            if not played.loop and played.t0 + played.seconds <= now:
                del self._current[output]
                if self.listener is not None:
                    self.listener.clip_finished(output, played.play, "end")
