"""A fault on the real path: the sound device goes away while its player plays.

The hub's output is unplugged under a playing player: its device is no longer listed and the
stream playing on it is destroyed. Through PipeWire's ALSA plugin PortAudio then either ends
the stream (the player says the device stopped) or stops calling it back (the player finds it
stalled after a second, and its close hanging, gives up on that); either way one error, and the
player exits. Runs its own hub, after the module of the other hub tests.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from structlog.testing import capture_logs

from showctl.players import pool as player_pool
from showctl.players import protocol
from showctl.players.pool import Exited, PoolEvent
from showctl.show.model import Output
from tests.harness.analysis import noise_clip
from tests.harness.soundhub import SoundHub, device_name


def test_a_device_that_vanishes_is_one_error_and_exit_status_1(tmp_path: Path) -> None:
    clip = tmp_path / "noise.wav"
    noise_clip(clip, seed=3, seconds=1.0)

    async def play_then_pull_the_card(hub: SoundHub) -> list[PoolEvent]:
        async with player_pool.PlayerPool({"a": Output(device_name(0))}, env=hub.env) as pool:
            player = pool.players["a"]
            await pool.play({"a": (clip, True)}, time.monotonic() + 0.2)
            await player.wait_for(protocol.Started, 10)
            hub.unplug(0)
            said: list[PoolEvent] = []  # its last words, heartbeats aside, until it exited
            while not said or not isinstance(said[-1], Exited):
                event = await asyncio.wait_for(player.events.get(), 10)
                if not isinstance(event, protocol.Heartbeat):
                    said.append(event)
            return said

    with capture_logs() as logs, SoundHub(1) as hub:
        said = asyncio.run(play_then_pull_the_card(hub))
    # One error, then the exit (on a loaded machine a resync or a pong may come before).
    errors = [event for event in said if isinstance(event, protocol.Error)]
    assert len(errors) == 1, said
    error, exited = errors[0], said[-1]
    assert error.message in {
        "output 'a': output device 'hub_out0' stopped: was it unplugged? Plug it back in "
        "(showctl devices lists the cards present)",
        "output 'a': device 'hub_out0' has asked for no samples for over 1 s (its driver hangs); "
        "restarting the player may bring it back, else check the device",
    }
    assert exited == Exited(1)
    assert [e["output"] for e in logs if e["event"] == "player_error"] == ["a"]
