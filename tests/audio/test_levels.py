"""An output's level and a scene's fades, in the renderer on a simulated device and a fake clock:
a level reached without a step, a fade in from the clip's first sample, a fade out under the
next clip, which still starts on its sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from showctl.audio.renderer import LEVEL_RAMP, Level, Start
from tests.audio.test_effects import constant_clip, dac_now, stream_of
from tests.audio.test_renderer import RATE, played, rig


def test_a_level_is_reached_over_its_ramp_and_then_held(tmp_path: Path) -> None:
    _, stream, renderer = rig(tmp_path)
    t0 = dac_now(stream) + 0.1
    renderer.commands.append(Start(stream_of(constant_clip(tmp_path, "c.wav", 0.5, RATE * 3)), t0))
    stream.run_until(t0 + 1.0)
    changed_at = stream.frames  # the level comes with the next block
    renderer.commands.append(Level(0.5))
    stream.run_until(t0 + 2.0)
    stream.close()
    samples = played(tmp_path)
    ramp = round(LEVEL_RAMP * RATE)
    assert samples[changed_at - 1] == pytest.approx(0.5)
    steps = np.diff(samples[changed_at - 1 : changed_at + ramp + 1])
    assert np.all(steps <= 0)
    assert np.max(-steps) < 0.25 / ramp * 1.01, "a ramp, not a step"
    assert samples[changed_at + ramp : changed_at + ramp + RATE // 2] == pytest.approx(0.25)


def test_a_scene_fades_in_from_its_first_sample(tmp_path: Path) -> None:
    _, stream, renderer = rig(tmp_path)
    t0 = dac_now(stream) + 0.1234
    clip = stream_of(constant_clip(tmp_path, "c.wav", 0.5, RATE * 2))
    renderer.commands.append(Start(clip, t0, fade_in=0.5))
    stream.run_until(t0 + 1.0)
    stream.close()
    samples = played(tmp_path)
    first = int(np.argmax(samples != 0))
    assert abs(stream.dac_time(first) - t0) * RATE <= 0.5, "on its sample"
    fade = round(0.5 * RATE)
    expected = 0.5 * np.arange(1, fade + 1) / fade
    assert samples[first : first + fade] == pytest.approx(expected, abs=1e-4)
    assert samples[first + fade : first + fade + RATE // 4] == pytest.approx(0.5)


def test_a_scene_fades_out_under_the_next_which_starts_on_its_sample(tmp_path: Path) -> None:
    _, stream, renderer = rig(tmp_path)
    t0 = dac_now(stream) + 0.1
    old = stream_of(constant_clip(tmp_path, "old.wav", 0.25, RATE), loop=True)
    renderer.commands.append(Start(old, t0, id=1))
    stream.run_until(t0 + 0.5)
    t1 = dac_now(stream) + 0.2345
    new = stream_of(constant_clip(tmp_path, "new.wav", 0.5, RATE * 2))
    renderer.commands.append(Start(new, t1, id=2, fade_out=1.0))
    stream.run_until(t1 + 1.5)
    stream.close()
    samples = played(tmp_path)
    change = int(np.argmax(samples > 0.3))  # the new clip's first sample, over the old one
    assert abs(stream.dac_time(change) - t1) * RATE <= 0.5, "on its sample"
    assert samples[change - 1] == pytest.approx(0.25), "the old clip up to the sample before"
    fade = round(1.0 * RATE)
    under = 0.25 * (1 - np.arange(1, fade + 1) / fade)
    assert samples[change : change + fade] == pytest.approx(0.5 + under, abs=1e-4)
    assert samples[change + fade : change + fade + RATE // 4] == pytest.approx(0.5)
    finished = [data for name, data in renderer.events if name == "finished"]
    assert finished[0]["play"] == 1
    assert finished[0]["reason"] == "replaced"
