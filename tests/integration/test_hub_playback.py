"""The real path: player processes, sounddevice and PortAudio, to the virtual sound hub.

Each output of the hub is one channel of its monitor's recording, so what every output played,
and when, can be read off at the sample. The figures (skew percentiles) are measured by
tests/bench/sync.py; these tests check the behaviour.

Through the hub's ALSA pulse plugin, PortAudio pulls samples about 120 ppm faster than the hub
plays them while reporting a steady latency, so the drift lock sees a fast card and repeats a
sample every ~0.2 s (each counted in the player's heartbeat). A real card reports its delay
truly; here, content is identified by short segments between corrections, and seams are
checked against the corrections the player reports.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from showctl import supervisor
from showctl.show import Output
from tests.harness.analysis import channel, find, find_start, noise_clip
from tests.harness.soundhub import SoundHub, device_name

OUTPUTS = 8
#: Seconds the players run before the first start. An installed box starts its players at
#: boot; through the hub's plugin a fresh stream's timing reports need some 20 s to settle
#: (see tests/bench/sync.py). Tests of content only need the stream running.
SETTLE = 3.0
SETTLE_FOR_TIMING = 20.0


@pytest.fixture(scope="module")
def hub() -> Iterator[SoundHub]:
    with SoundHub(OUTPUTS) as running:
        yield running


def outputs(n: int = OUTPUTS) -> dict[str, Output]:
    return {f"out{i}": Output(device_name(i)) for i in range(n)}


async def record_playing(
    hub: SoundHub,
    clips: dict[str, tuple[Path, bool]],
    seconds: float,
    n: int = OUTPUTS,
    settle: float = SETTLE,
) -> tuple[np.ndarray, dict[str, dict]]:
    async with supervisor.PlayerPool(outputs(n), env=hub.env) as pool:
        with hub.record() as recording:
            await asyncio.sleep(settle)
            await pool.play(clips, time.monotonic() + 0.2)
            await asyncio.sleep(seconds)
            beats = {name: p.last.get("heartbeat", {}) for name, p in pool.players.items()}
            await pool.stop()
            await asyncio.sleep(0.2)
            return recording.stop(), beats


def test_every_output_plays_its_own_file_together(hub: SoundHub, tmp_path: Path) -> None:
    """Eight outputs, eight different clips: each channel carries its own clip and no other,
    and the eight start within a millisecond (the benchmark measures how much within)."""
    clips = {
        f"out{i}": noise_clip(tmp_path / f"n{i}.wav", seed=i, seconds=0.5) for i in range(OUTPUTS)
    }
    playing = {name: (tmp_path / f"n{i}.wav", False) for i, name in enumerate(clips)}
    recording, _ = asyncio.run(record_playing(hub, playing, 1.0, settle=SETTLE_FOR_TIMING))
    starts = []
    for i, (name, clip) in enumerate(clips.items()):
        recorded = channel(recording, i)
        at, match = find_start(recorded, clip)
        assert match > 0.95, f"{name} does not carry its clip"
        others = [
            find_start(recorded, other)[1]
            for other_name, other in clips.items()
            if other_name != name
        ]
        assert max(others) < 0.2, f"{name} carries another output's clip"
        starts.append(at)
    assert max(starts) - min(starts) <= 48, starts


def test_loop_seams_have_no_gap(hub: SoundHub, tmp_path: Path) -> None:
    """A 0.1 s clip looped for 2 s: every pass starts right after the one before; a pass may
    be one sample off only where the drift lock says it corrected."""
    clip = noise_clip(tmp_path / "short.wav", seed=42, seconds=0.1)
    recording, beats = asyncio.run(
        record_playing(hub, {"out0": (tmp_path / "short.wav", True)}, 2.0, n=1)
    )
    recorded = channel(recording, 0)
    first, _ = find(recorded, clip)
    length = len(clip)
    steps = []
    for k in range(1, 18):
        window = recorded[first + k * length - 50 : first + (k + 1) * length + 50]
        at, match = find(window, clip)
        assert match > 0.95
        steps.append(at - 50)
    slips = [b - a for a, b in zip([0, *steps], steps, strict=False)]
    corrections = beats["out0"].get("drops", 0) + beats["out0"].get("repeats", 0)
    assert all(abs(s) <= 1 for s in slips), slips
    assert sum(1 for s in slips if s) <= corrections, (slips, corrections)


def test_missing_device_is_one_clear_error(hub: SoundHub) -> None:
    """One output's device is missing: a clear error, and the players that did start end."""
    pool = supervisor.PlayerPool(
        {"ok": Output(device_name(0)), "ghost": Output("no-such-card")}, env=hub.env
    )

    async def start() -> None:
        async with pool:
            pass

    with pytest.raises(supervisor.PlayerError) as caught:
        asyncio.run(start())
    assert all(p.process.returncode is not None for p in pool.players.values())
    message = str(caught.value)
    assert message.startswith("output 'ghost': no output device matches 'no-such-card'")
    assert "hub_out0" in message
