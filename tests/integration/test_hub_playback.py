"""The real path: player processes, sounddevice and PortAudio, to the virtual sound hub.

Each output of the hub is one channel of its monitor's recording, so what every output played,
and when, can be read off at the sample. The figures (skew percentiles) are measured by
tests/bench/sync.py; these tests check the behaviour.

The outputs hold LATENCY, 200 ms, ahead, not the default 40: through PipeWire a stream that
misses one cycle of the graph (a quantum: 10.7 ms at 40 ms of latency, 42.7 ms at 200 ms) is
silent for that cycle, and the machines this runs on, virtual and shared, stall a process now
and then for tens of ms with nothing of showctl's doing (see tests/faults/test_faults.py). What
these tests check, content and placement, does not depend on the latency. The loop test turns
the drift lock off: the lock is tested on the simulator, whose clock errors are known.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from showctl.levels import factor
from showctl.players import pool as player_pool
from showctl.players import protocol
from showctl.show.model import Output
from tests.harness.analysis import Window, channel, find, find_start, noise_clip
from tests.harness.soundhub import SoundHub, device_name

OUTPUTS = 8
#: The outputs' latency (see above).
LATENCY = 0.2
#: Seconds the players run before the first start: their streams running.
SETTLE = 3.0
#: Scheduled starts in the test of content and togetherness.
STARTS = 3
#: Samples within which outputs started at one T0 land on the hub (see that test).
TOGETHER = 2
#: Samples compared on each side of a loop's seam.
EDGE = 16


@pytest.fixture(scope="module")
def hub() -> Iterator[SoundHub]:
    with SoundHub(OUTPUTS) as running:
        yield running


def outputs(n: int = OUTPUTS) -> dict[str, Output]:
    return {f"out{i}": Output(device_name(i), latency=LATENCY) for i in range(n)}


async def record_playing(
    hub: SoundHub,
    clips: dict[str, tuple[Path, bool]],
    seconds: float,
    n: int = OUTPUTS,
    lock: bool = True,
) -> tuple[np.ndarray, dict[str, protocol.Heartbeat | None]]:
    async with player_pool.PlayerPool(outputs(n), env=hub.env, lock=lock) as pool:
        with hub.record() as recording:
            await asyncio.sleep(SETTLE)
            await pool.play(clips, time.monotonic() + 0.2)
            await asyncio.sleep(seconds)
            beats = {name: p.beat for name, p in pool.players.items()}
            await pool.stop()
            await asyncio.sleep(0.2)
            return recording.stop(), beats


def test_every_output_plays_its_own_file_together(hub: SoundHub, tmp_path: Path) -> None:
    """Eight outputs, eight different clips, started at one T0 three times: in every start each
    channel carries its own clip and no other, and the eight start together.

    Together means within TOGETHER, 2 samples: the hub's DAC-time reports are exact to a
    sample (PipeWire reports whole samples), so the players' placement is what is seen; 8
    outputs landed within 0 or 1 sample in every start tried. Starts with no shared T0 are
    tens to hundreds of ms apart (sync.py's baseline). The start comes right after the
    players' streams open, as a box's first scene does."""
    paths = [tmp_path / f"n{i}.wav" for i in range(OUTPUTS)]
    clips = [noise_clip(path, seed=i, seconds=0.5) for i, path in enumerate(paths)]
    playing = {f"out{i}": (path, False) for i, path in enumerate(paths)}

    async def play() -> tuple[np.ndarray, list[Window]]:
        windows = []
        async with player_pool.PlayerPool(outputs(), env=hub.env) as pool:
            with hub.record() as recording:
                await asyncio.sleep(SETTLE)
                lead = pool.soonest + player_pool.DEFAULT_LEAD  # as the controller, with room
                for _ in range(STARTS):
                    begin = time.monotonic()
                    await pool.play(playing, begin + lead)
                    await asyncio.sleep(lead + 0.5 + 0.6)  # clip, silence
                    windows.append(
                        (recording.sample_at(begin), recording.sample_at(time.monotonic()))
                    )
                return recording.stop(), windows

    recording, windows = asyncio.run(play())
    for n, (begin, end) in enumerate(windows):
        starts = []
        for i, clip in enumerate(clips):
            recorded = channel(recording[begin:end], i)
            at, match = find_start(recorded, clip)
            assert match > 0.95, f"start {n}: out{i} does not carry its clip"
            others = [find_start(recorded, other)[1] for j, other in enumerate(clips) if j != i]
            assert max(others) < 0.2, f"start {n}: out{i} carries another output's clip"
            starts.append(at)
        spread = max(starts) - min(starts)
        print(f"start {n}: the eight started within {spread} samples ({spread / 48:.3f} ms)")
        assert spread <= TOGETHER, f"start {n}: {starts}"


def test_loop_seams_are_sample_exact(hub: SoundHub, tmp_path: Path) -> None:
    """A 0.1 s clip looped: every pass starts on the sample after the last one of the pass
    before, and the samples across each seam are the clip's own.

    The drift lock is off here: on the hub it would make corrections (see the module's
    docstring) that blur what is measured; it is tested on the simulator, where clock errors
    are known. Everything else is the real path."""
    clip = noise_clip(tmp_path / "short.wav", seed=42, seconds=0.1)
    recording, beats = asyncio.run(
        record_playing(hub, {"out0": (tmp_path / "short.wav", True)}, 2.0, n=1, lock=False)
    )
    assert beats["out0"] is not None
    assert beats["out0"].drops == beats["out0"].repeats == 0
    recorded = channel(recording, 0)
    length = len(clip)
    start, match = find(recorded, clip, earliest=True)
    assert match > 0.99
    wanted = np.concatenate([clip[-EDGE:], clip[:EDGE]])
    for seam in range(1, 16):  # 1.5 s of the 2 s played
        expected = start + seam * length
        found, match = find(recorded[expected - 50 : expected + length + 50], clip)
        assert match > 0.99, f"pass {seam} is missing or garbled"
        assert found - 50 == 0, f"pass {seam} starts {found - 50} samples off"
        across = recorded[expected - EDGE : expected + EDGE]
        assert np.abs(across - wanted).max() <= 2 / 32768, f"seam {seam} is not sample-exact"


def test_late_join_lands_on_the_timeline(hub: SoundHub, tmp_path: Path) -> None:
    """A player started while a scene plays joins where the timeline is: out1, started
    seconds after T0, plays the same samples as out0 at the same moment.

    Within 2 samples, as the starts of the test above; a join at the wrong place would be off
    by seconds."""
    noise_clip(tmp_path / "long.wav", seed=7, seconds=10.0)
    clip = (tmp_path / "long.wav", True)

    async def play() -> np.ndarray:
        # The drift lock is off, as in the loop test: its corrections would blur the comparison.
        first = player_pool.PlayerPool(outputs(1), env=hub.env, lock=False)
        second = player_pool.PlayerPool(
            {"out1": Output(device_name(1), latency=LATENCY)}, env=hub.env, lock=False
        )
        async with first:
            with hub.record() as recording:
                await asyncio.sleep(SETTLE)
                t0 = time.monotonic() + 0.5  # after the 200-ms outputs can place a sample
                await first.play({"out0": clip}, t0)
                await asyncio.sleep(1.0)
                async with second:  # starts a fresh player, well after t0
                    await second.play({"out1": clip}, t0)
                    joined = await second.players["out1"].wait_for(protocol.Started, 5)
                    await asyncio.sleep(1.5)
                return recording.stop(), joined

    recording, joined = asyncio.run(play())
    assert joined.position > 48000  # it joined seconds into the clip, not at its start
    leader, joiner = channel(recording, 0), channel(recording, 1)
    heard = np.flatnonzero(np.abs(joiner) > 0.01)
    segment = joiner[heard[0] + 4800 : heard[0] + 4800 + 2048]  # 0.1 s after it came in
    at, match = find(leader, segment)
    assert match > 0.9, "the joining output does not play the leader's content"
    assert abs(at - (heard[0] + 4800)) <= TOGETHER, f"joined {at - heard[0] - 4800} samples off"


def test_missing_device_is_one_clear_error(hub: SoundHub) -> None:
    """One output's device is missing: a clear error, and the players that did start end."""
    pool = player_pool.PlayerPool(
        {"ok": Output(device_name(0)), "ghost": Output("no-such-card")}, env=hub.env
    )

    async def start() -> None:
        async with pool:
            pass

    with pytest.raises(player_pool.PlayerError) as caught:
        asyncio.run(start())
    assert all(p.process.returncode is not None for p in pool.players.values())
    message = str(caught.value)
    assert message.startswith("output 'ghost': no output device matches 'no-such-card'")
    assert "hub_out0" in message


def test_a_level_scales_the_output_and_leaves_its_timeline(hub: SoundHub, tmp_path: Path) -> None:
    """Two outputs play one clip from one T0, out1 at -6 dB (its level sent before, as the
    controller does at a start): on the hub out1 is the same clip at -6 dB, to within 0.1 dB,
    starting on the same sample as out0 (within TOGETHER)."""
    path = tmp_path / "level.wav"
    clip = noise_clip(path, seed=11, seconds=1.0)

    async def play() -> np.ndarray:
        async with player_pool.PlayerPool(outputs(2), env=hub.env) as pool:
            with hub.record() as recording:
                await pool.level("out1", factor(-6.0))
                await asyncio.sleep(SETTLE)
                await pool.play(
                    {"out0": (path, False), "out1": (path, False)}, time.monotonic() + 0.3
                )
                await asyncio.sleep(0.3 + 1.0 + 0.3)
                return recording.stop()

    recording = asyncio.run(play())
    full, quiet = channel(recording, 0), channel(recording, 1)
    at0, match0 = find_start(full, clip)
    at1, match1 = find_start(quiet, clip * factor(-6.0))
    assert match0 > 0.95
    assert match1 > 0.95
    assert abs(at1 - at0) <= TOGETHER, "the level moved the timeline"
    span = slice(at0 + 2400, at0 + len(clip) - 2400)  # clear of the ends
    rms = [float(np.sqrt(np.mean(np.square(c[span], dtype=np.float64)))) for c in (full, quiet)]
    db = 20 * np.log10(rms[1] / rms[0])
    print(f"out1 at {db:.3f} dB of out0, {at1 - at0} samples apart")
    assert db == pytest.approx(-6.0, abs=0.1)


def test_an_output_s_delay_holds_it_back_by_whole_samples(hub: SoundHub, tmp_path: Path) -> None:
    """out1's delay of 2.35 ms (113 samples at 48 kHz) holds back everything it plays: its
    clip starts 113 samples after out0's on the hub (within TOGETHER), from one T0."""
    path = tmp_path / "delayed.wav"
    clip = noise_clip(path, seed=12, seconds=0.5)
    delayed = {**outputs(2), "out1": Output(device_name(1), latency=LATENCY, delay=0.00235)}

    async def play() -> np.ndarray:
        async with player_pool.PlayerPool(delayed, env=hub.env) as pool:
            with hub.record() as recording:
                await asyncio.sleep(SETTLE)
                both = {"out0": (path, False), "out1": (path, False)}
                await pool.play(both, time.monotonic() + 0.3)
                await asyncio.sleep(0.3 + 0.5 + 0.3)
                return recording.stop()

    recording = asyncio.run(play())
    at0, match0 = find_start(channel(recording, 0), clip)
    at1, match1 = find_start(channel(recording, 1), clip)
    assert min(match0, match1) > 0.95
    print(f"out1 {at1 - at0} samples after out0 (its delay: 113)")
    assert abs((at1 - at0) - 113) <= TOGETHER
