"""Helpers shipped for tests: of showctl's own, and of programs built on it.

:class:`SimulatedOutputs` (audio outputs with memory, on a clock: what the controller's tests
run on) and :class:`~showctl.clock.FakeClock` are here too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from showctl.clock import FakeClock
from showctl.players.simulated import Played, SimulatedOutputs

__all__ = ["FakeClock", "Played", "SimulatedOutputs", "write_wav"]


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
