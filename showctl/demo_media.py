"""The demo media: small mono WAVs for the example shows, made by a deterministic generator.

``showctl demo-media DIR`` writes them; the committed copies under ``media/`` are its output
(a test compares the two). Every output of a show has its own fundamental frequency
(:data:`DEMO_PITCHES`, :data:`ROOM_PITCHES`), so a recording can tell by analysis which file
came out of which output. Loops hold a whole number of cycles of everything in them, so the
seam of a sample-exact loop is inaudible.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile

RATE = 48000
Signal = npt.NDArray[np.float64]

#: The gallery demo: one pitch per loudspeaker (Hz), 8 compass points, a pentatonic spread.
DEMO_PITCHES = {
    "north": 220.0,
    "northeast": 264.0,
    "east": 330.0,
    "southeast": 396.0,
    "south": 440.0,
    "southwest": 528.0,
    "west": 660.0,
    "northwest": 792.0,
}
#: The escape room: the voice pitch of each output (Hz).
ROOM_PITCHES = {"room": 110.0, "hint": 200.0}


def _time(seconds: float) -> Signal:
    return np.arange(round(seconds * RATE)) / RATE


def _fade(signal: Signal, seconds: float = 0.02) -> Signal:
    """Raised-cosine fade in and out, so a clip played once starts and ends on silence."""
    n = min(round(seconds * RATE), len(signal) // 2)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))
    out = signal.copy()
    out[:n] *= ramp
    out[len(out) - n :] *= ramp[::-1]
    return out


def tide(pitch: float, seconds: float = 3.0) -> Signal:
    """A loop: a tone with a slow swell; period and swell both fit the loop exactly."""
    t = _time(seconds)
    swell = 0.55 - 0.35 * np.cos(2 * np.pi * t / seconds)
    tone = np.sin(2 * np.pi * pitch * t) + 0.25 * np.sin(2 * np.pi * 2 * pitch * t)
    return 0.5 * swell * tone


def chorus(pitch: float, pulses: int, seconds: float = 4.0) -> Signal:
    """Played once: ``pulses`` decaying bell strikes a second, so outputs differ in rhythm too."""
    t = _time(seconds)
    phase = (t * pulses) % 1.0
    strike = np.exp(-6.0 * phase)
    tone = np.sin(2 * np.pi * pitch * t) + 0.3 * np.sin(2 * np.pi * 3 * pitch * t)
    return _fade(0.45 * strike * tone)


def voice(pitch: float, seconds: float, seed: int) -> Signal:
    """Speech-like babble: a buzz at ``pitch`` through moving vowel formants, in syllables."""
    rng = np.random.default_rng(seed)
    t = _time(seconds)
    syllables = int(seconds * 4)
    edges = np.linspace(0, len(t), syllables + 1).astype(int)
    out = np.zeros(len(t))
    vowels = [(730, 1090), (270, 2290), (300, 870), (530, 1840), (570, 840)]
    harmonics = np.arange(1, int(3500 / pitch) + 1)
    for start, end in itertools.pairwise(edges):
        f1, f2 = vowels[rng.integers(len(vowels))]
        seg = t[start:end]
        gains = np.exp(-(((harmonics * pitch - f1) / 150.0) ** 2)) + 0.6 * np.exp(
            -(((harmonics * pitch - f2) / 250.0) ** 2)
        )
        wave = (gains[:, None] * np.sin(2 * np.pi * np.outer(harmonics, seg) * pitch)).sum(0)
        envelope = np.sin(np.linspace(0, np.pi, end - start)) ** 2
        out[start:end] = wave * envelope * (0.6 + 0.4 * rng.random())
    return _fade(0.35 * out / max(np.abs(out).max(), 1e-9))


def drone(pitch: float, seconds: float, seed: int) -> Signal:
    """A loop: a low drone and soft noise, both periodic in the loop length."""
    rng = np.random.default_rng(seed)
    t = _time(seconds)
    tone = sum(np.sin(2 * np.pi * k * pitch * t) / k for k in (1, 2, 3))
    spectrum = np.zeros(len(t) // 2 + 1, dtype=complex)
    band = slice(round(200 * seconds), round(1200 * seconds))  # whole cycles only
    size = band.stop - band.start
    spectrum[band] = np.exp(2j * np.pi * rng.random(size))
    noise = np.fft.irfft(spectrum, n=len(t))
    noise /= np.abs(noise).max()
    return 0.3 * tone / 1.83 + 0.08 * noise


def sweep(start: float, stop: float, seconds: float) -> Signal:
    """Played once: a tone gliding from ``start`` to ``stop`` Hz."""
    t = _time(seconds)
    freq = start * (stop / start) ** (t / seconds)
    phase = 2 * np.pi * np.cumsum(freq) / RATE
    return _fade(0.4 * np.sin(phase), 0.2)


def fanfare(pitch: float, seconds: float) -> Signal:
    """Played once: a rising arpeggio on ``pitch``."""
    t = _time(seconds)
    steps = [1.0, 1.25, 1.5, 2.0]
    out = np.zeros(len(t))
    n = len(t) // len(steps)
    for i, ratio in enumerate(steps):
        seg = t[: len(t) - i * n]
        note = np.sin(2 * np.pi * pitch * ratio * seg) * np.exp(-1.5 * seg)
        out[i * n :] += note
    return _fade(0.3 * out)


def creak(seconds: float, seed: int) -> Signal:
    """Played once, over a scene: a door's creak, stick-slip pulses whose rate wanders, each
    ringing a wooden resonance."""
    rng = np.random.default_rng(seed)
    t = _time(seconds)
    out = np.zeros(len(t))
    ring = np.exp(-t[: RATE // 100] * 900) * np.sin(2 * np.pi * 950 * t[: RATE // 100])
    at = 0.0
    while at < seconds - 0.01:
        rate = 40 + 35 * np.sin(np.pi * at / seconds) + 8 * rng.standard_normal()
        start = round(at * RATE)
        piece = ring[: len(out) - start] * (0.5 + 0.5 * rng.random())
        out[start : start + len(piece)] += piece
        at += 1.0 / max(rate, 15.0)
    envelope = np.sin(np.linspace(0, np.pi, len(t))) ** 0.5
    return _fade(0.5 * out * envelope / max(np.abs(out).max(), 1e-9))


def clips() -> Iterator[tuple[str, Callable[[], Signal]]]:
    """Every demo clip: its path under the media folder and how to make it."""
    for i, (output, pitch) in enumerate(DEMO_PITCHES.items()):
        yield f"demo/tide-{output}.wav", partial(tide, pitch)
        yield f"demo/chorus-{output}.wav", partial(chorus, pitch, i + 1)
    room, hint = ROOM_PITCHES["room"], ROOM_PITCHES["hint"]
    yield "escape-room/hum.wav", partial(drone, room / 2, 2.0, seed=1)
    yield "escape-room/intro.wav", partial(voice, room, 5.0, seed=2)
    yield "escape-room/puzzles.wav", partial(drone, room * 2 / 3, 3.0, seed=3)
    yield "escape-room/hint.wav", partial(voice, hint, 3.0, seed=4)
    yield "escape-room/finale.wav", partial(fanfare, room * 2, 5.0)
    yield "escape-room/game-over.wav", partial(sweep, room * 4, room, 3.0)
    yield "escape-room/creak.wav", partial(creak, 0.8, seed=5)


def to_pcm16(signal: Signal) -> npt.NDArray[np.int16]:
    """Float samples in [-1, 1] to 16-bit PCM."""
    return np.round(np.clip(signal, -1.0, 1.0) * 32767).astype(np.int16)


def write_demo_media(folder: Path) -> list[Path]:
    """Write every demo clip under ``folder`` (16-bit mono WAV at 48 kHz); returns the files."""
    written = []
    for name, make in clips():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), to_pcm16(make()), RATE, subtype="PCM_16", format="WAV")
        written.append(path)
    return written
