"""Calibration's measurement: where each output's sound arrives at a microphone, to a fraction of
a sample, from one recording.

**The signal** is an exponential sine sweep (Farina's method), 100 Hz to 16 kHz over
:data:`SWEEP_SECONDS`, each output's in turn in one recording. A sweep rather than a
maximum-length sequence: the harmonic distortion of small amplifiers and speakers lands ahead
of a sweep's response instead of spreading over an MLS's whole period as noise, and a sweep's
correlation peak stays sharp when the microphone's clock runs a little apart from the
outputs', where an MLS's circular correlation smears.

**The estimate** is a matched filter: the recording correlated with the sweep, by FFT, around
where each sweep is expected; the direct sound is the earliest peak within
:data:`DIRECT_FRACTION` of the strongest (a reflection may be louder than a speaker facing away),
placed between samples by a parabola through it and its neighbours. Its strength against the
correlation's floor away from it is the signal-to-noise ratio; against the next peak, the
confidence.

**Clocks**: the microphone's card runs on its own crystal and its recording's start is known
only roughly. Every arrival is found in the one recording, against the same reference sweep;
every output plays its sweep twice (each in turn, then each again), so that each output's two
arrivals give the rate of the recording's clock against the outputs' (:func:`rate_ratio`),
which is taken out of every arrival before they are compared. The outputs do not play all
together: their sum cannot be taken apart into outputs to the sample, and each in turn is what
names a speaker not heard.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]

SWEEP_SECONDS = 0.3
LOW, HIGH = 100.0, 16000.0
#: A sweep's level (of full scale): loud enough to measure, well below clipping.
LEVEL = 0.5
#: A sweep's ends fade over this (s): a hard edge would ring.
EDGE = 0.01
#: The direct sound is the earliest peak at least this much of the strongest.
DIRECT_FRACTION = 0.5
#: How far (s) before the strongest peak the direct sound is looked for.
EARLY = 0.05
#: An arrival heard less than this far (dB) above the correlation's floor is not heard.
HEARD_SNR = 20.0


def sweep(rate: int, seconds: float = SWEEP_SECONDS) -> Samples:
    """The measurement signal at ``rate``: :func:`sweep_at` on its sample times."""
    return sweep_at(np.arange(round(seconds * rate)) / rate, seconds).astype(np.float32)


def sweep_at(t: npt.NDArray[np.float64], seconds: float = SWEEP_SECONDS) -> npt.NDArray[np.float64]:
    """The sweep's value at times ``t`` (s from its start; 0 outside it): exponential from
    :data:`LOW` to :data:`HIGH`, at :data:`LEVEL`, its ends faded over :data:`EDGE`."""
    k = math.log(HIGH / LOW)
    phase = 2 * math.pi * LOW * seconds / k * (np.exp(t / seconds * k) - 1)
    fade = np.clip(np.minimum(t, seconds - t) / EDGE, 0.0, 1.0)
    inside = (t >= 0) & (t <= seconds)
    return np.where(inside, LEVEL * np.sin(phase) * fade, 0.0)


@dataclass(frozen=True)
class Arrival:
    """Where a sweep's direct sound is in a recording (a fractional sample index), how loud
    (dB against the sweep as it was played), how far above the floor
    (``snr_db``), and how much above the next peak (``confidence``, ≥ 1)."""

    at: float
    level_db: float
    snr_db: float
    confidence: float

    @property
    def heard(self) -> bool:
        return self.snr_db >= HEARD_SNR


def correlate(recording: Samples, reference: Samples) -> npt.NDArray[np.float64]:
    """The reference's correlation with the recording at every start in it (by FFT),
    normalised so that a copy of it as loud as itself peaks at 1."""
    n = len(recording) + len(reference)
    size = 1 << (n - 1).bit_length()
    spectrum = np.fft.rfft(recording, size) * np.conj(np.fft.rfft(reference, size))
    energy = float(np.dot(reference.astype(np.float64), reference))
    return np.fft.irfft(spectrum, size)[: len(recording)] / energy


def find(recording: Samples, reference: Samples, rate: int, near: float, within: float) -> Arrival:
    """The arrival of ``reference`` in ``recording`` starting ``within`` seconds either side of
    sample ``near``."""
    begin = max(0, round(near - within * rate))
    end = min(len(recording), round(near + within * rate) + len(reference))
    c = correlate(recording[begin:end], reference)[: end - begin - len(reference) + 1]
    size = envelope(c)
    strongest = int(np.argmax(size))
    early = max(0, strongest - round(EARLY * rate))
    loud = np.flatnonzero(size[early : strongest + 1] >= DIRECT_FRACTION * size[strongest])
    peak = early + int(loud[0])
    while peak + 1 < len(size) and size[peak + 1] > size[peak]:
        peak += 1  # up to the top of the direct sound's own peak
    _, height = _vertex(size, peak)  # its height from the smooth envelope
    near_peak = c[max(0, peak - 2) : peak + 3]
    top_at = max(0, peak - 2) + int(np.argmax(near_peak))
    shift, _ = _vertex(c, top_at)  # its place from the correlation itself, the sharper
    shift += top_at - peak
    guard = round(0.002 * rate)  # the peak's own width, and its first reflections
    away = np.concatenate([size[: max(0, peak - guard)], size[peak + guard :]])
    floor = float(np.sqrt(np.mean(np.square(away)))) if len(away) else 0.0
    top = abs(height)
    second = float(away.max()) if len(away) else 0.0
    return Arrival(
        at=begin + peak + shift,
        level_db=20 * math.log10(max(top, 1e-12)),
        snr_db=20 * math.log10(max(top, 1e-12) / max(floor, 1e-12)),
        confidence=top / max(second, 1e-12),
    )


def envelope(c: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The magnitude of ``c``'s analytic signal: its envelope, smooth where ``c`` swings."""
    n = len(c)
    weights = np.zeros(n)
    weights[0] = 1.0
    weights[1 : (n + 1) // 2] = 2.0
    if n % 2 == 0:
        weights[n // 2] = 1.0
    return np.abs(np.fft.ifft(np.fft.fft(c) * weights))


def _vertex(c: npt.NDArray[np.float64], i: int) -> tuple[float, float]:
    """Where between samples the peak at ``i`` is (from ``i``), and its height: the vertex of
    the parabola through it and its neighbours."""
    if i == 0 or i + 1 >= len(c):
        return 0.0, float(c[i])
    left, mid, right = float(c[i - 1]), float(c[i]), float(c[i + 1])
    bend = left - 2 * mid + right
    if bend == 0:
        return 0.0, mid
    shift = 0.5 * (left - right) / bend
    return shift, mid - 0.25 * (left - right) * shift


def rate_ratio(first: float, last: float, apart: float) -> float:
    """The recording's samples per output sample, from one output's two arrivals ``apart``
    output samples apart (1.0001: the microphone's clock 100 ppm fast)."""
    return (last - first) / apart


#: Seconds between one sweep's start and the next's: the sweep and the room's tail after it.
GAP = SWEEP_SECONDS + 0.2
#: How far (s) an arrival is looked for either side of where it is expected: the recording's
#: start as the input's timestamps give it, and the outputs' differences, are known no closer.
WITHIN = 0.2


def schedule(
    outputs: list[str], held: dict[str, float] | None = None, gap: float = GAP
) -> list[tuple[str, float]]:
    """When each output plays its sweep, in seconds from the measurement's T0 on the outputs'
    clock: each in turn, twice (every output's two arrivals give the recording's clock rate,
    whichever outputs are heard). An output ``held`` back (s: its delay and trim) plays that
    much sooner, so that every sweep arrives in a slot of its own."""
    held = held or {}
    most = max(held.values(), default=0.0)
    order = [*outputs, *outputs]
    return [(name, i * gap + most - held.get(name, 0.0)) for i, name in enumerate(order)]


@dataclass(frozen=True)
class Measured:
    """What one recording says: each output's arrival, relative to the earliest one heard
    (s; ``None``: not heard), the recording's clock against the outputs' (ppm), and each
    output's :class:`Arrival` (its first) as found."""

    offsets: dict[str, float | None]
    ppm: float
    arrivals: dict[str, Arrival]
    #: How far apart (recording samples) the heard outputs' spacings between their two sweeps
    #: are: one clock makes them equal, so more than a sample says the recording skipped (or
    #: a player jumped) between some sweeps and not others.
    disagreement: float = 0.0

    @property
    def spread(self) -> float:
        """The latest arrival heard, less the earliest (s)."""
        heard = [o for o in self.offsets.values() if o is not None]
        return max(heard) - min(heard) if heard else 0.0

    @property
    def silent(self) -> list[str]:
        """The outputs not heard."""
        return [name for name, offset in self.offsets.items() if offset is None]

    def shifted(self, by: dict[str, float]) -> Measured:
        """The offsets with each output's ``by`` (s) added, again from the earliest heard."""
        moved = {n: o + by.get(n, 0.0) for n, o in self.offsets.items() if o is not None}
        earliest = min(moved.values(), default=0.0)
        offsets = {n: moved[n] - earliest if n in moved else None for n in self.offsets}
        return replace(self, offsets=offsets)

    def trims(self) -> dict[str, float]:
        """How much to hold each output back (s) so that all arrive with the latest: the
        delays that bring them together."""
        latest = max((o for o in self.offsets.values() if o is not None), default=0.0)
        return {name: latest - o for name, o in self.offsets.items() if o is not None}


def measure(
    recording: Samples,
    rate: int,
    plan: list[tuple[str, float]],
    start: float,
    within: float = WITHIN,
) -> Measured:
    """Find every sweep of ``plan`` (each output's two, from :func:`schedule`; an output's
    known delay may be added to its times, and is then not in its offset) in ``recording``,
    whose sample ``start`` is, to ``within`` s, the measurement's T0: each output's arrival
    against the others, the recording's clock rate (the median of the heard outputs' own) taken
    out. An output is heard when both its sweeps are."""
    reference = sweep(rate)
    found: dict[str, list[tuple[float, Arrival]]] = {}
    for name, at in plan:
        arrival = find(recording, reference, rate, near=start + at * rate, within=within)
        found.setdefault(name, []).append((at, arrival))
    heard = {
        name: pair for name, pair in found.items() if all(arrival.heard for _, arrival in pair)
    }
    ratios = [
        rate_ratio(first.at, last.at, (later - at) * rate)
        for (at, first), (later, last) in heard.values()
    ]
    spacings = [last.at - first.at for (_, first), (_, last) in heard.values()]
    disagreement = max(spacings) - min(spacings) if spacings else 0.0
    ratio = float(np.median(ratios)) if ratios else 1.0
    if not 0.99 < ratio < 1.01:
        ratio = 1.0  # no clock is that far off: a sweep was mistaken; taken as the outputs'
    # Each arrival on the outputs' clock, less when it was played: its lateness, the same for
    # an output's two sweeps but for noise (their mean is kept).
    late = {
        name: float(np.mean([(arrival.at - start) / ratio / rate - at for at, arrival in pair]))
        for name, pair in heard.items()
    }
    earliest = min(late.values(), default=0.0)
    offsets = {name: late[name] - earliest if name in late else None for name in found}
    first = {name: pair[0][1] for name, pair in found.items()}
    return Measured(offsets, (ratio - 1) * 1e6, first, disagreement)
