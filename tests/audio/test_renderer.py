"""The renderer on simulated devices and a fake clock: starts on the sample, loops, drift, joins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from showctl.audio.clip import ClipStream, inspect
from showctl.audio.renderer import DEADBAND, Play, Renderer, Stop
from showctl.audio.sim import SimStream
from showctl.clock import FakeClock
from showctl.testing import write_wav

RATE = 48000


def ramp_clip(tmp_path: Path, frames: int) -> Path:
    """A clip whose sample i is (i + 1) / 2**15 as 16-bit PCM: each sample says where it is."""
    import soundfile

    path = tmp_path / "ramp.wav"
    soundfile.write(str(path), (np.arange(frames) + 1).astype(np.int16), RATE, subtype="PCM_16")
    return path


def decode(samples: np.ndarray) -> np.ndarray:
    """The content index each sample holds (-1 for silence)."""
    return np.round(samples * 32768).astype(int) - 1


def rig(
    tmp_path: Path, *, ppm: float = 0.0, jitter: float = 0.0, block: int = 256, capture: bool = True
) -> tuple[FakeClock, SimStream, Renderer]:
    clock = FakeClock()
    out = tmp_path / "out.wav" if capture else None
    stream = SimStream("a", RATE, clock=clock, ppm=ppm, jitter=jitter, block=block, capture=out)
    renderer = Renderer(RATE)
    stream.start(renderer.render)
    stream.run_until(clock.now + 2.0)  # the stream runs silent while the clock warms up
    return clock, stream, renderer


def played(tmp_path: Path) -> np.ndarray:
    import soundfile

    samples = soundfile.read(str(tmp_path / "out.wav"), dtype="float32")[0]
    assert np.isfinite(samples).all(), "the renderer left samples of a block unwritten"
    return samples


@pytest.mark.parametrize("block", [256, 480, 1024])
def test_start_lands_on_its_sample(tmp_path: Path, block: int) -> None:
    """The clip's first sample leaves the DAC at t0, to the sample, whatever the block size."""
    clock, stream, renderer = rig(tmp_path, block=block)
    t0 = clock.now + 2.0 + 0.3137
    renderer.commands.append(
        Play(ClipStream(inspect(ramp_clip(tmp_path, 1000), RATE), loop=False, threaded=False), t0)
    )
    stream.run_until(t0 + 0.1)
    stream.close()
    content = decode(played(tmp_path))
    first = int(np.argmax(content >= 0))
    heard_at = stream.dac_time(first)
    assert abs(heard_at - t0) * RATE <= 0.5
    assert list(content[first : first + 1000]) == list(range(1000))
    assert renderer.events[0][0] == "started"
    assert renderer.events[-1][0] == "finished"


def test_loops_are_sample_exact(tmp_path: Path) -> None:
    clock, stream, renderer = rig(tmp_path)
    clip = ClipStream(inspect(ramp_clip(tmp_path, 777), RATE), loop=True, threaded=False)
    renderer.commands.append(Play(clip, clock.now + 2.1))
    stream.run_until(clock.now + 2.1 + 1.0)
    stream.close()
    content = decode(played(tmp_path))
    content = content[int(np.argmax(content >= 0)) :]
    assert len(content) > 777 * 50
    assert np.array_equal(content, np.arange(len(content)) % 777)


@pytest.mark.parametrize("ppm", [-100.0, 100.0])
def test_drift_lock_keeps_the_timeline(tmp_path: Path, ppm: float) -> None:
    """A card 100 ppm off, with noisy timestamps: after 10 minutes the content is within the
    deadband (two samples) of the timeline, by 2880 single-sample corrections: uncorrected it
    would be 0.06 s (2880 samples) off."""
    clock, stream, renderer = rig(tmp_path, ppm=ppm, jitter=0.0002, capture=False)
    t0 = clock.now + 2.5
    frames = RATE * 700
    path = tmp_path / "long.wav"
    write_wav(path, seconds=frames / RATE)
    renderer.commands.append(Play(ClipStream(inspect(path, RATE), loop=True, threaded=False), t0))
    stream.run_until(t0 + 600)
    counters = renderer.counters
    assert abs(counters.offset) <= DEADBAND
    assert counters.drops + counters.repeats == pytest.approx(abs(ppm) * 1e-6 * 600 * RATE, rel=0.1)
    assert counters.underruns == 0
    # A fast card plays the content ahead of the timeline: it repeats samples; a slow one drops.
    assert (counters.repeats > 0, counters.drops > 0) == (ppm > 0, ppm < 0)


def test_late_join(tmp_path: Path) -> None:
    """A player started 1.234 s into a scene plays from where the timeline is."""
    _, stream, renderer = rig(tmp_path)
    now = stream.dac_time(stream.frames)
    t0 = now - 1.234  # the scene started 1.234 s ago
    # The player opens the clip a little before where it will join (59232), at 50000.
    clip = ClipStream(
        inspect(ramp_clip(tmp_path, 20000), RATE), loop=True, start=50000, threaded=False
    )
    renderer.commands.append(Play(clip, t0))
    stream.run_until(now + 0.5)
    stream.close()
    content = decode(played(tmp_path))
    index = int(np.argmax(content >= 0))
    expected = (stream.dac_time(index) - t0) * RATE
    assert abs(content[index] - expected % 20000) <= 1


def test_fade_out(tmp_path: Path) -> None:
    clock, stream, renderer = rig(tmp_path)
    path = write_wav(tmp_path / "tone.wav", seconds=3)
    renderer.commands.append(
        Play(ClipStream(inspect(path, RATE), loop=False, threaded=False), clock.now + 2.1)
    )
    stream.run_until(clock.now + 3.0)
    renderer.commands.append(Stop(fade=0.5))
    stream.run_until(clock.now + 4.0)
    stream.close()
    samples = played(tmp_path)
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    fade = samples[loud[-1] - RATE // 2 : loud[-1]]
    assert np.abs(fade[: RATE // 10]).max() > np.abs(fade[-RATE // 10 :]).max() * 3
    assert [e for e, _ in renderer.events][-1] == "finished"
    assert renderer.events[-1][1]["reason"] == "faded"
