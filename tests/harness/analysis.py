"""Reading a recording of the sound hub: where each clip landed, to the sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile

Samples = npt.NDArray[np.float32]


def noise_clip(path: Path, seed: int, seconds: float, rate: int = 48000) -> Samples:
    """Write seeded white noise (one unambiguous alignment, unlike a tone) and return it."""
    samples = np.random.default_rng(seed).standard_normal(int(seconds * rate)) * 0.25
    samples = np.clip(samples, -0.99, 0.99).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), samples, rate, subtype="FLOAT")
    return samples


def correlate(recorded: Samples, clip: Samples) -> Samples:
    """Cross-correlation of ``clip`` at every start position in ``recorded`` (by FFT)."""
    n = len(recorded) + len(clip)
    size = 1 << (n - 1).bit_length()
    spectrum = np.fft.rfft(recorded, size) * np.conj(np.fft.rfft(clip, size))
    return np.fft.irfft(spectrum, size)[: len(recorded)].astype(np.float32)


def find(recorded: Samples, clip: Samples, *, earliest: bool = False) -> tuple[int, float]:
    """Where ``clip`` starts in ``recorded`` (a sample index) and how well it matches there
    (the normalised correlation, 1.0 for a perfect copy): the best match, or with ``earliest``
    the first place it matches well (a loop's first pass, not any of them)."""
    energy = float(np.dot(clip, clip))
    if not energy:
        return 0, 0.0
    c = correlate(recorded, clip) / energy
    good = np.flatnonzero(c > 0.9) if earliest else np.array([], dtype=int)
    at = int(good[0]) if len(good) else int(np.argmax(c))
    return at, float(c[at])


def find_start(
    recorded: Samples,
    clip: Samples,
    segment: int = 1024,
    tries: int = 5,
    *,
    earliest: bool = False,
) -> tuple[int, float]:
    """Where ``clip`` starts in ``recorded``, judged by the first of its leading segments that
    is found whole; and that segment's match.

    A single-sample drift correction inside a segment spoils its match (noise decorrelates at
    one sample), so a later segment decides then; its start is off by at most the corrections
    before it.
    """
    best = (0, 0.0)
    for k in range(tries):
        at, match = find(recorded, clip[k * segment : (k + 1) * segment], earliest=earliest)
        if match > 0.95:
            return at - k * segment, match
        best = max(best, (at - k * segment, match), key=lambda found: found[1])
    return best


def channel(recording: npt.NDArray[np.int16], index: int) -> Samples:
    return (recording[:, index].astype(np.float32) / 32768.0).astype(np.float32)


#: A stretch of a recording: its first sample and the one after its last.
Window = tuple[int, int]
#: How far before its stretch a start is looked for, in seconds (see :func:`skews`).
SLACK = 0.1


def skews(
    recording: npt.NDArray[np.int16],
    windows: list[Window],
    clips: list[Samples],
    rate: int = 48000,
) -> list[float]:
    """The skew of each start, in seconds: in each start's stretch of the recording, where
    every output's clip begins (output ``i`` in channel ``i``). A start where some clip is not
    found whole (or whose stretch the recording does not hold) counts as missed (left out).

    The stretches are told by the clock (:meth:`Recording.sample_at`), but a recorder that
    misses a cycle of the hub's graph loses that cycle's samples, on every channel at once, and
    what follows comes earlier than the clock says (up to a few thousand samples in a minute
    at a 128-sample cycle, on this project's build machine). The skew between channels is not
    changed by it, so the stretches follow the content: each is looked for from SLACK seconds
    before it, moved by what the starts found so far say of the recorder's losses. A stretch
    that holds the next start's head too is read by the earliest in every channel.
    """
    out = []
    shift = 0  # where the content is, against the clock's stretch (samples)
    lead_in: int | None = None  # the first start's clips, after the start of its stretch
    for start, end in windows:
        begin = max(0, start + shift - int(SLACK * rate))
        segment = recording[begin : end + shift]
        if len(segment) < max(len(clip) for clip in clips):
            continue
        firsts = []
        for i, clip in enumerate(clips):
            at, match = find_start(channel(segment, i), clip, earliest=True)
            if match < 0.9:
                break
            firsts.append(begin + at)
        else:
            out.append((max(firsts) - min(firsts)) / rate)
            lead_in = min(firsts) - start - shift if lead_in is None else lead_in
            shift = min(firsts) - start - lead_in
    return out


#: This many zero samples in a row is silence in a noise channel (noise has no such run).
SILENT_RUN = 32


def silences(recorded: npt.NDArray[np.int16]) -> list[tuple[int, int]]:
    """The runs of SILENT_RUN or more zero samples in one channel: (first sample, length)."""
    zero = np.concatenate([[0], (recorded == 0).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(zero))  # where each run of zeros begins, and ends
    return [
        (int(a), int(b - a))
        for a, b in zip(edges[::2], edges[1::2], strict=True)
        if b - a >= SILENT_RUN
    ]


def silent_channels(recording: npt.NDArray[np.int16], channels: list[int]) -> list[int]:
    """Those of ``channels`` of a hub recording with a run of SILENT_RUN zero samples."""
    return [i for i in channels if silences(recording[:, i])]


def wav_data_sizes(path: Path) -> tuple[int, int]:
    """A RIFF/WAVE file's sample data (bytes): as its header declares it, and as the file
    holds it. A writer that never closed the file leaves the header's at 0."""
    data = path.read_bytes()
    position = 12
    while position + 8 <= len(data):
        declared = int.from_bytes(data[position + 4 : position + 8], "little")
        if data[position : position + 4] == b"data":
            return declared, len(data) - position - 8
        position += 8 + declared + (declared & 1)
    raise AssertionError(f"{path} has no data chunk")
