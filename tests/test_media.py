"""The demo media: committed files match the generator; every output is told apart by pitch."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import soundfile

from showctl import demo_media
from tests.conftest import ROOT

CLIPS = dict(demo_media.clips())


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_committed_media_is_the_generators(name: str) -> None:
    """media/ holds exactly what `showctl demo-media` makes (within one LSB of rounding)."""
    committed, rate = soundfile.read(str(ROOT / "media" / name), dtype="int16")
    assert rate == demo_media.RATE
    made = demo_media.to_pcm16(CLIPS[name]())
    assert committed.shape == made.shape
    assert np.abs(committed.astype(int) - made.astype(int)).max() <= 1


def test_no_stray_media() -> None:
    on_disk = {str(p.relative_to(ROOT / "media")) for p in (ROOT / "media").rglob("*.wav")}
    assert on_disk == set(CLIPS)


@pytest.mark.parametrize("kind", ["tide", "chorus"])
def test_each_demo_output_has_its_own_pitch(kind: str) -> None:
    """An analysis can tell which output a recording came from: its dominant frequency."""
    found = {}
    for output, pitch in demo_media.DEMO_PITCHES.items():
        samples = CLIPS[f"demo/{kind}-{output}.wav"]()
        found[output] = dominant_frequency(samples, demo_media.RATE)
        assert found[output] == pytest.approx(pitch, abs=1.0)
    pitches = sorted(found.values())
    assert min(b / a for a, b in itertools.pairwise(pitches)) > 1.1


def test_chorus_outputs_differ_in_rhythm() -> None:
    """Output N strikes N times a second."""
    for n, output in enumerate(demo_media.DEMO_PITCHES, start=1):
        envelope = np.abs(CLIPS[f"demo/chorus-{output}.wav"]())
        frames = (
            envelope[: demo_media.RATE].reshape(-1, demo_media.RATE // 100).max(axis=1)
        )  # 10 ms
        frames = np.concatenate([[0.0], frames])  # silence before the first strike
        onsets = np.sum((frames[1:] > 0.1) & (frames[:-1] <= 0.1))  # rises through 0.1
        assert onsets == n, output


@pytest.mark.parametrize(
    "name", [n for n in CLIPS if "tide" in n or n.endswith(("hum.wav", "puzzles.wav"))]
)
def test_loops_have_no_click_at_the_seam(name: str) -> None:
    """From the last sample back to the first is a step like any other in the clip."""
    samples = CLIPS[name]()
    steps = np.abs(np.diff(samples))
    seam = abs(samples[0] - samples[-1])
    assert seam <= 1.5 * np.percentile(steps, 99.9)


def test_played_once_clips_start_and_end_silent() -> None:
    for name, make in CLIPS.items():
        if "tide" in name or name.endswith(("hum.wav", "puzzles.wav")):
            continue
        samples = make()
        assert abs(samples[0]) < 1e-3, name
        assert abs(samples[-1]) < 1e-3, name


def test_demo_media_command_writes_files(tmp_path: Path) -> None:
    written = demo_media.write_demo_media(tmp_path)
    assert sorted(str(p.relative_to(tmp_path)) for p in written) == sorted(CLIPS)
    info = soundfile.info(str(written[0]))
    assert (info.channels, info.samplerate, info.subtype) == (1, 48000, "PCM_16")
