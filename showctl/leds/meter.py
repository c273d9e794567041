"""The level meter: what an output plays, shown on the matrix in time with the sound.

The frames come from the output's clip itself, read from its file a frame's worth at a time
(1/rate s of samples; memory stays small whatever the clip's length), and each is placed on
the scene's timeline at the time its samples are heard: the clip's sample ``n`` plays at
``T0 + n / sample_rate``, so the frame of the samples around ``t`` is due at ``t``. Styles:

- ``bar``: the level rises from the bottom row, over the whole width;
- ``fill``: the LEDs light one by one, bottom row first, left to right: a finer level;
- ``spectrum``: one column per frequency band (low on the left, spaced by octaves), each
  column's height that band's level.

Levels are in dBFS between the program's ``floor_db`` (dark) and 0 (everything lit).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile

from showctl.leds.programs import Frame, MeterFrames, Schedule
from showctl.show.model import Meter, Show

Samples = npt.NDArray[np.float32]


def scene_schedule(show: Show, scene: str | None) -> Schedule:
    """What the matrix shows in ``scene`` (its cues, the meter reading its clips); ``None``:
    dark (the fault state)."""
    matrix = show.matrix
    assert matrix is not None
    if scene is None:
        return Schedule(matrix, ())
    return Schedule(matrix, show.scenes[scene].leds, clip_meter(show, scene), scene)


def clip_meter(show: Show, scene: str) -> MeterFrames:
    """The meter frames of a scene's programs: each ``meter`` reads its output's clip."""
    matrix = show.matrix
    assert matrix is not None
    shape = (matrix.rows, matrix.columns)

    def frames(program: Meter, start: float) -> Iterator[Frame]:
        play = show.scenes[scene].audio[program.output]
        assert play.clip is not None  # showctl check makes sure
        return level_frames(show.clip_path(play.clip), play.loop, program, start, shape)

    return frames


def level_frames(
    path: Path, loop: bool, program: Meter, start: float, shape: tuple[int, int]
) -> Iterator[Frame]:
    """A frame every 1/rate s from ``start`` (seconds after the clip's first sample)."""
    with soundfile.SoundFile(str(path)) as f:
        rate, length = f.samplerate, f.frames
        k = 0
        while True:
            begin = round((start + k / program.rate) * rate)
            end = round((start + (k + 1) / program.rate) * rate)
            if not loop and begin >= length:
                return
            yield image(_read(f, begin, end, length), rate, program, shape)
            k += 1


def _read(f: soundfile.SoundFile, begin: int, end: int, length: int) -> Samples:
    """Samples ``begin`` to ``end`` of a clip that loops (indices taken modulo its length)."""
    parts = []
    while begin < end:
        at = begin % length
        count = min(end - begin, length - at)
        f.seek(at)
        parts.append(f.read(count, dtype="float32", always_2d=False))
        begin += count
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def image(samples: Samples, rate: int, program: Meter, shape: tuple[int, int]) -> Frame:
    """One frame of the meter for these samples."""
    rows, columns = shape
    frame = np.zeros(shape, dtype=bool)
    if program.style == "spectrum":
        for column, level in enumerate(band_levels(samples, rate, columns)):
            height = round(_fraction(level, program.floor_db) * rows)
            frame[rows - height :, column] = True
        return frame
    fraction = _fraction(
        _db(float(np.sqrt(np.mean(samples**2)))) if len(samples) else -200.0, program.floor_db
    )
    if program.style == "bar":
        height = round(fraction * rows)
        frame[rows - height :, :] = True
    else:  # fill: bottom row first, left to right
        lit = round(fraction * rows * columns)
        order = [(r, c) for r in range(rows - 1, -1, -1) for c in range(columns)]
        for r, c in order[:lit]:
            frame[r, c] = True
    return frame


def band_levels(samples: Samples, rate: int, bands: int) -> list[float]:
    """The level (dBFS) of ``bands`` octave-spaced bands from 40 Hz to the Nyquist frequency."""
    if len(samples) == 0:
        return [-200.0] * bands
    window = np.hanning(len(samples)).astype(np.float32)
    spectrum = np.abs(np.fft.rfft(samples * window)) / (window.sum() / 2)
    frequencies = np.fft.rfftfreq(len(samples), 1.0 / rate)
    edges = np.geomspace(40.0, rate / 2, bands + 1)
    levels = []
    for low, high in itertools.pairwise(edges):
        band = spectrum[(frequencies >= low) & (frequencies < high)]
        levels.append(_db(float(band.max())) if len(band) else -200.0)
    return levels


def _db(amplitude: float) -> float:
    return 20 * float(np.log10(max(amplitude, 1e-10)))


def _fraction(level_db: float, floor_db: float) -> float:
    return min(1.0, max(0.0, 1.0 - level_db / floor_db))
