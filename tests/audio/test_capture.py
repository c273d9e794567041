"""What a simulated output captures: a WAV file named after the output, whole at any moment,
kept across a restart of its player."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import numpy as np
import soundfile

from showctl.audio.sim import SimStream
from showctl.clock import FakeClock
from showctl.players import pool as player_pool
from showctl.players import protocol
from showctl.players.pool import PoolEvent, Restarted
from showctl.show.model import Output

RATE = 48000
LOOP = 20000  # samples in the looped clip: each one says where in the clip it is


def ramp_loop(path: Path) -> Path:
    """A clip whose sample i is (i + 1) / 2**15 as 16-bit PCM."""
    soundfile.write(str(path), (np.arange(LOOP) + 1).astype(np.int16), RATE, subtype="PCM_16")
    return path


def runs(samples: np.ndarray) -> list[tuple[int, int]]:
    """The runs of sound in a capture of :func:`ramp_loop`: the clip's sample each begins
    with, and its length."""
    heard = np.flatnonzero(samples != 0)
    breaks = np.flatnonzero(np.diff(heard) > 1)
    starts, ends = np.r_[0, breaks + 1], np.r_[breaks, len(heard) - 1]
    return [
        (round(samples[heard[s]] * 32768) - 1, int(heard[e] - heard[s] + 1))
        for s, e in zip(starts, ends, strict=True)
    ]


def test_a_capture_is_whole_while_it_is_written(tmp_path: Path) -> None:
    """Its header counts every sample played so far: a reader that trusts the header (not
    only libsndfile, which repairs one left at 0) sees them all, even if the player is
    killed before it closes the file."""
    path = tmp_path / "north.wav"
    stream = SimStream("sim-north", RATE, clock=FakeClock(), latency=0.04, capture=path)
    stream.start(lambda block, dac_time: block.fill(0.5))
    stream.run_until(stream.dac_time(RATE))
    data = path.read_bytes()
    (size,) = np.frombuffer(data[40:44], dtype="<u4")
    assert (size, len(data) - 44) == (4 * stream.frames, 4 * stream.frames)
    assert stream.frames >= RATE
    played, rate = soundfile.read(str(path), dtype="float32")
    assert (rate, len(played), set(played)) == (RATE, stream.frames, {0.5})
    stream.close()


def test_a_restarted_player_adds_to_its_outputs_capture(tmp_path: Path) -> None:
    """A player killed mid-clip is replaced; the capture, north.wav, keeps what the first one
    played (the clip from its first sample, at T0) and goes on with what the fresh one plays
    (joining the loop where the timeline is)."""
    clip = ramp_loop(tmp_path / "ramp.wav")
    captures = tmp_path / "captures"
    events: list[PoolEvent] = []

    async def wait_for(kind: type[PoolEvent], after: int) -> None:
        while not any(isinstance(e, kind) for e in events[after:]):
            await asyncio.sleep(0.02)

    async def main() -> None:
        outputs = {"north": Output("sim-north")}
        async with player_pool.PlayerPool(
            outputs, backend="sim", capture=captures, supervise=True
        ) as pool:
            pool.on_event = lambda output, event: events.append(event)
            await pool.play({"north": (clip, True)}, time.monotonic() + 0.2)
            await asyncio.wait_for(wait_for(protocol.Started, 0), 5)
            await asyncio.sleep(1.0)
            killed = len(events)
            os.kill(pool.players["north"].pid, signal.SIGKILL)
            await asyncio.wait_for(wait_for(Restarted, killed), 20)
            await asyncio.wait_for(wait_for(protocol.Started, killed), 5)
            await asyncio.sleep(1.0)
            assert pool.restarts["north"] == 1

    asyncio.run(main())
    assert sorted(p.name for p in captures.iterdir()) == ["north.wav"]
    played, rate = soundfile.read(str(captures / "north.wav"), dtype="float32")
    found = runs(played)
    assert len(found) == 2, f"runs of sound (clip sample, length): {found}"
    assert found[0][0] == 0, "the first player's part, from the clip's first sample, is kept"
    assert min(length for _, length in found) > 0.9 * rate
