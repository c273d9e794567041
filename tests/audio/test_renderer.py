"""The renderer on simulated devices and a fake clock: starts on the sample, loops, drift, joins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from showctl.audio.clip import ClipStream, inspect
from showctl.audio.renderer import DEADBAND, Renderer, Start, Stop
from showctl.audio.sim import SimStream
from showctl.clock import FakeClock
from showctl.testing import write_wav

RATE = 48000


def ramp_clip(tmp_path: Path, frames: int, first: int = 0, name: str = "ramp.wav") -> Path:
    """A clip whose sample i is (first + i + 1) / 2**15 as 16-bit PCM: each sample says where it
    is (and, with ``first``, which clip it is from)."""
    import soundfile

    path = tmp_path / name
    samples = (np.arange(frames) + first + 1).astype(np.int16)
    soundfile.write(str(path), samples, RATE, subtype="PCM_16")
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
        Start(ClipStream(inspect(ramp_clip(tmp_path, 1000), RATE), loop=False, threaded=False), t0)
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
    renderer.commands.append(Start(clip, clock.now + 2.1))
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
    renderer.commands.append(Start(ClipStream(inspect(path, RATE), loop=True, threaded=False), t0))
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
    renderer.commands.append(Start(clip, t0))
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
        Start(ClipStream(inspect(path, RATE), loop=False, threaded=False), clock.now + 2.1)
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


def test_a_scene_change_hands_over_on_the_sample(tmp_path: Path) -> None:
    """A new clip sent while one sounds, for a T0 ahead: the old one plays up to the sample
    before T0, the new one from T0, in the same block."""
    clock, stream, renderer = rig(tmp_path)
    old = ClipStream(inspect(ramp_clip(tmp_path, 5000), RATE), loop=True, threaded=False)
    renderer.commands.append(Start(old, clock.now + 2.1, id=1))
    stream.run_until(clock.now + 3.0)
    new_path = ramp_clip(tmp_path, 5000, first=20000, name="new.wav")
    t0 = clock.now + 3.0 + 0.0123
    renderer.commands.append(
        Start(ClipStream(inspect(new_path, RATE), loop=False, threaded=False), t0, id=2)
    )
    stream.run_until(t0 + 0.2)
    stream.close()
    content = decode(played(tmp_path))
    first_new = int(np.argmax(content >= 20000))
    assert abs(stream.dac_time(first_new) - t0) * RATE <= 0.5
    assert content[first_new] == 20000
    assert 0 <= content[first_new - 1] < 5000, "the old clip sounds up to the new one's T0"
    events = [(e, d["play"], d.get("reason")) for e, d in renderer.events]
    assert events == [
        ("started", 1, None),
        ("finished", 1, "replaced"),
        ("started", 2, None),
        ("finished", 2, "end"),
    ]


def test_a_stop_at_t0_silences_on_its_sample_and_a_later_command_replaces_it(
    tmp_path: Path,
) -> None:
    clock, stream, renderer = rig(tmp_path)
    clip = ClipStream(inspect(ramp_clip(tmp_path, 5000), RATE), loop=True, threaded=False)
    renderer.commands.append(Start(clip, clock.now + 2.1))
    stream.run_until(clock.now + 3.0)
    t0 = clock.now + 3.0 + 0.5
    short = ramp_clip(tmp_path, 100, name="short.wav")
    waiting = ClipStream(inspect(short, RATE), loop=False, threaded=False)
    renderer.commands.append(Start(waiting, t0 - 0.1))
    renderer.commands.append(Stop(at=t0))  # sent later: it takes the place of the play
    stream.run_until(t0 + 0.2)
    stream.close()
    content = decode(played(tmp_path))
    last = int(np.flatnonzero(content >= 0)[-1])
    assert abs(stream.dac_time(last + 1) - t0) * RATE <= 0.5
    assert (content[last + 1 :] == -1).all()
    assert waiting in renderer.retired, "the play that never sounded is handed back to close"


def test_the_peak_level_is_read_from_what_is_played(tmp_path: Path) -> None:
    """Silence reads 0; a looped clip at half scale reads 0.5 (the meter of the heartbeats)."""
    from showctl.testing import write_wav

    clock, stream, renderer = rig(tmp_path, capture=False)
    assert renderer.counters.peak == 0.0
    clip = write_wav(tmp_path / "half.wav", seconds=0.5)  # a sine tone at half scale
    renderer.commands.append(
        Start(ClipStream(inspect(clip, RATE), loop=True, threaded=False), clock.now + 2.1)
    )
    stream.run_until(clock.now + 2.1 + 0.5)
    stream.close()
    assert renderer.counters.peak == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("jump", [960, -480], ids=["late", "early"])
def test_a_jump_in_the_stream_s_timing_is_stepped_over_at_once(tmp_path: Path, jump: int) -> None:
    """An xrun: the card played ``jump`` samples of silence (or, reported the other way, its
    timing moved back) while the clip stood still. Once the clock fit stands again the content
    steps back onto the timeline in one go, said by one ``resynced`` event, instead of a sample
    a block for seconds (crackle, and the output misplaced all the while)."""
    renderer = Renderer(RATE)
    block = np.zeros(256, dtype=np.float32)
    frame, shift = 0, 0  # the stream's next frame; how far its DAC timing has jumped

    def run(seconds: float) -> list[np.ndarray]:
        nonlocal frame
        out = []
        for _ in range(int(seconds * RATE) // len(block)):
            renderer.render(block, 100.0 + (frame + shift) / RATE)
            out.append(decode(block))
            frame += len(block)
        return out

    run(2.0)  # the fit stands
    t0 = 100.0 + (frame + 2400) / RATE
    clip = ClipStream(inspect(ramp_clip(tmp_path, 30000), RATE), loop=True, threaded=False)
    renderer.commands.append(Start(clip, t0, id=4))
    run(1.0)
    shift = jump
    run(2.0)
    last = run(0.1)[-1]

    # Back on the timeline: each sample holds the content its DAC time says.
    expected = (100.0 + (frame - len(block) + shift) / RATE - t0) * RATE
    assert abs(last[0] - expected % 30000) <= DEADBAND
    assert renderer.counters.resyncs == 1
    assert renderer.counters.drops + renderer.counters.repeats <= 2 * DEADBAND
    resynced = [data for event, data in renderer.events if event == "resynced"]
    assert resynced == [{"play": 4, "samples": pytest.approx(jump, abs=2)}]


def test_soonest_is_the_longest_from_a_command_s_coming_to_its_first_sample() -> None:
    """A command that comes just after a callback took the commands waits for the next
    callback, whose block leaves the DAC a latency later: ``soonest`` is that wait and that
    latency, the longest since the heartbeat took it. A callback that runs late does not
    lengthen it; one that runs early (a device that asks for blocks in a burst) does, by as
    much: a start placed by the steady figure would lose that much of its beginning."""
    now = 100.0
    renderer = Renderer(RATE, now=lambda: now)
    block = np.zeros(256, dtype=np.float32)
    period, latency = len(block) / RATE, 0.02

    def callback(late: float = 0.0) -> None:
        nonlocal now
        frame = renderer.counters.blocks * len(block)
        now = 100.0 + frame / RATE + late  # the callback runs a latency before its block sounds
        renderer.render(block, now - late + latency)

    for _ in range(int(2.0 / period)):  # the fit stands
        callback()
    assert renderer.clock.ready
    assert renderer.counters.soonest == pytest.approx(period + latency, abs=1e-6)

    renderer.counters.soonest = 0.0  # as the heartbeat takes it
    callback(late=0.004)
    callback()
    assert renderer.counters.soonest == pytest.approx(period + latency, abs=1e-6)

    callback(late=-0.003)
    callback()
    assert renderer.counters.soonest == pytest.approx(period + latency + 0.003, abs=1e-6)
