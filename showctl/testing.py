"""Helpers shipped for tests: of showctl's own, and of programs built on it."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from showctl.clock import Clock


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

    They keep every command (:attr:`plays`, :attr:`stops`, :attr:`loads`); a clip played once
    ends ``length`` seconds (read from its header) after its T0, by the clock:
    :meth:`finish_due` then tells ``on_finished`` (the controller's ``audio_finished``).
    """

    def __init__(
        self,
        outputs: Iterable[str],
        clock: Clock,
        *,
        soonest: float = 0.015,
        on_finished: Callable[[str, int, str], None] | None = None,
    ) -> None:
        self.names = list(outputs)
        self.clock = clock
        self.soonest = soonest
        self.on_finished = on_finished
        self.plays: list[Played] = []
        self.stops: list[tuple[float, str]] = []
        self.loads: list[dict[str, set[tuple[Path, bool]]]] = []
        self.alive = dict.fromkeys(self.names, True)
        self._current: dict[str, Played] = {}

    async def play(self, clips: Mapping[str, tuple[Path, bool]], t0: float, play: int = 0) -> None:
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

    async def load(self, clips: Mapping[str, Collection[tuple[Path, bool]]]) -> None:
        self.loads.append({output: set(c) for output, c in clips.items()})

    def health(self) -> dict[str, dict[str, Any]]:
        return {
            name: {
                "alive": self.alive[name],
                "failed": None if self.alive[name] else "told so by the test",
                "playing": name in self._current,
            }
            for name in self.names
        }

    def finish_due(self) -> None:
        """End every clip played once whose last sample is past, by the clock."""
        now = self.clock.monotonic()
        for output, played in list(self._current.items()):
            if not played.loop and played.t0 + played.seconds <= now:
                del self._current[output]
                if self.on_finished is not None:
                    self.on_finished(output, played.play, "end")
