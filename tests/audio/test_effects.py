"""Effects mixed over what an output plays, on simulated devices and a fake clock: each on its
sample and at its gain, the scene's clip undisturbed, the oldest of too many ended, effects
ended with their play, and a sum that never passes full scale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from showctl.audio.clip import ClipStream, inspect
from showctl.audio.renderer import (
    CEILING,
    DECLICK,
    KNEE,
    MAX_EFFECTS,
    Effect,
    Renderer,
    Start,
    Stop,
    limit,
)
from showctl.audio.sim import SimStream
from tests.audio.test_renderer import RATE, played, ramp_clip, rig


def constant_clip(tmp_path: Path, name: str, level: float, frames: int) -> Path:
    path = tmp_path / name
    soundfile.write(str(path), np.full(frames, level, dtype=np.float32), RATE, subtype="FLOAT")
    return path


def stream_of(path: Path, *, loop: bool = False) -> ClipStream:
    return ClipStream(inspect(path, RATE), loop=loop, threaded=False)


def dac_now(stream: SimStream) -> float:
    """Where the simulated card is: the DAC time of its next block (its clock runs apart from
    the fake clock's ``now``)."""
    return stream.dac_time(stream.frames)


def start_scene(tmp_path: Path, stream: SimStream, renderer: Renderer, t0: float) -> None:
    """A looped ramp of 5000 samples from ``t0``, play 1: every sample says where it is."""
    renderer.commands.append(Start(stream_of(ramp_clip(tmp_path, 5000), loop=True), t0, id=1))


@pytest.mark.parametrize("block", [256, 480])
def test_an_effect_lands_on_its_sample_at_its_gain_over_an_undisturbed_clip(
    tmp_path: Path, block: int
) -> None:
    _, stream, renderer = rig(tmp_path, block=block)
    t0 = dac_now(stream) + 0.1
    start_scene(tmp_path, stream, renderer, t0)
    stream.run_until(t0 + 1.0)
    due = dac_now(stream) + 0.2137
    effect = constant_clip(tmp_path, "fx.wav", 0.25, 4800)
    renderer.commands.append(Effect(stream_of(effect), due, gain=0.5, play=1))
    stream.run_until(due + 0.3)
    stream.close()
    samples = played(tmp_path)
    first = int(np.ceil((due - stream.dac_time(0)) * RATE - 1e-9))
    assert abs(stream.dac_time(first) - due) * RATE <= 0.5
    mixed = samples[first : first + 4800]
    scene = samples[first - 100 : first]
    # Before it: the clip alone; during it: the clip plus 0.25 * 0.5, every sample.
    ramp = (np.arange(len(samples)) - round((t0 - stream.dac_time(0)) * RATE)) % 5000 + 1
    assert np.allclose(scene, ramp[first - 100 : first] / 32768, atol=1e-6)
    assert np.allclose(mixed - ramp[first : first + 4800] / 32768, 0.125, atol=1e-6)
    assert np.allclose(
        samples[first + 4800 : first + 5000], ramp[first + 4800 : first + 5000] / 32768, atol=1e-6
    )
    assert not renderer._effects, "an effect that ended on its own is let go"


def test_more_effects_than_an_output_takes_end_the_oldest(tmp_path: Path) -> None:
    _, stream, renderer = rig(tmp_path)
    path = constant_clip(tmp_path, "long.wav", 0.01, RATE * 5)
    at = dac_now(stream) + 0.5
    for i in range(MAX_EFFECTS + 1):
        renderer.commands.append(Effect(stream_of(path), at + i * 0.1, play=0))
    stream.run_until(at + MAX_EFFECTS * 0.1 + 0.05)
    dropped = [d for e, d in renderer.events if e == "effect_dropped"]
    assert len(dropped) == 1
    assert len(renderer._effects) == MAX_EFFECTS, "the oldest faded out and was let go"
    stream.close()
    samples = played(tmp_path)
    now = round((at + MAX_EFFECTS * 0.1 + 0.04 - stream.dac_time(0)) * RATE)
    assert samples[now] == pytest.approx(0.01 * MAX_EFFECTS, abs=1e-6)


def test_effects_end_with_their_play_and_the_next_play_s_begin_with_it(tmp_path: Path) -> None:
    """A scene change at T0 (to a silent scene): the old scene's effect fades out over DECLICK
    from the change, while an effect of the new scene, sent before it, sounds from its own
    T0."""
    _, stream, renderer = rig(tmp_path)
    old = constant_clip(tmp_path, "old.wav", 0.25, RATE * 5)
    new = constant_clip(tmp_path, "new.wav", 0.125, RATE)
    renderer.commands.append(Effect(stream_of(old), dac_now(stream) + 0.1, play=1))
    stream.run_until(dac_now(stream) + 0.5)
    change = dac_now(stream) + 0.3
    renderer.commands.append(Stop(at=change, play=2))
    renderer.commands.append(Effect(stream_of(new), change + 0.1, play=2))
    stream.run_until(change + 0.5)
    stream.close()
    samples = played(tmp_path)
    at = round((change - stream.dac_time(0)) * RATE)
    assert np.all(samples[at + 300 : at + 4800] == 0), "the old effect gone with its scene"
    begin = round((change + 0.1 - stream.dac_time(0)) * RATE)
    assert np.allclose(samples[begin + 1 : begin + 4800], 0.125, atol=1e-6)
    # The old effect faded: no step, its last samples fall off over DECLICK.
    tail = samples[at - 1024 : at + 300]
    assert np.max(np.abs(np.diff(tail))) <= 0.25 / (DECLICK * RATE) * 1.01


def test_a_pause_fades_every_effect_with_the_clip(tmp_path: Path) -> None:
    _, stream, renderer = rig(tmp_path)
    fx = stream_of(constant_clip(tmp_path, "fx.wav", 0.5, RATE * 5))
    renderer.commands.append(Effect(fx, dac_now(stream) + 0.1))
    stream.run_until(dac_now(stream) + 0.5)
    paused = dac_now(stream)
    renderer.commands.append(Stop(fade=0.2))
    stream.run_until(dac_now(stream) + 0.5)
    assert not renderer._effects
    stream.close()
    samples = played(tmp_path)
    after = samples[round((paused - stream.dac_time(0)) * RATE) - 256 :]
    assert after[-RATE // 10 :].max() == 0
    assert np.max(np.abs(np.diff(after))) <= 0.5 / (0.2 * RATE) * 1.01, "faded over 0.2 s"


def test_a_loud_sum_is_bent_below_full_scale_never_wrapped_or_cornered() -> None:
    x = np.linspace(-3.0, 3.0, 60001, dtype=np.float32)
    y = x.copy()
    limit(y)
    assert np.abs(y).max() <= CEILING
    assert np.all(np.diff(y) >= 0), "monotonic: no wrap"
    near = np.abs(x) <= 1.2
    assert np.all(np.diff(y[near]) > 0), "no flat top where a sum lands"
    quiet = np.abs(x) <= KNEE
    assert np.array_equal(y[quiet], x[quiet]), "below the knee nothing changes"
    slope = np.diff(y) / np.diff(x)
    assert np.max(np.abs(np.diff(slope))) < 0.01, "no corner at the knee"
    loud_enough = np.linspace(-0.99, 0.99, 1000, dtype=np.float32)
    untouched = loud_enough.copy()
    limit(untouched)
    assert np.array_equal(untouched, loud_enough), "a block that would not clip is left as it is"


def test_effects_summed_past_full_scale_are_limited(tmp_path: Path) -> None:
    _, stream, renderer = rig(tmp_path)
    loud = constant_clip(tmp_path, "loud.wav", 0.9, RATE)
    for _ in range(3):
        renderer.commands.append(Effect(stream_of(loud), dac_now(stream) + 0.1))
    stream.run_until(dac_now(stream) + 0.6)
    stream.close()
    samples = played(tmp_path)
    assert samples.max() <= CEILING, "2.7 at full scale, bent below it"
    assert samples.max() > KNEE
