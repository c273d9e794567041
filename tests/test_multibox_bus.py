"""The boxes' link through a real broker (mosquitto): the leader's commands reach the box
whose outputs they are for, and a box that starts late gets the latest of each from what the
broker retains, and joins."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from showctl.clock import MonotonicClock
from showctl.multibox import bus, follower, leader, messages
from showctl.players.simulated import SimulatedOutputs
from showctl.settings import MqttSettings
from showctl.show import loader
from showctl.testing import write_wav
from tests.harness.broker import Broker, running_broker
from tests.test_multibox import TWO_ROOMS


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with running_broker(tmp_path / "broker") as started:
        yield started


async def until(what: str, done: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not done():
        assert asyncio.get_running_loop().time() < deadline, f"{what} within {timeout:g} s"
        await asyncio.sleep(0.02)


def test_the_leaders_commands_reach_their_box_and_a_late_box_joins_what_plays(
    tmp_path: Path, broker: Broker
) -> None:
    write_wav(tmp_path / "media" / "tone.wav", seconds=1.0)
    (tmp_path / "show.yaml").write_text(TWO_ROOMS)
    show = loader.load(tmp_path / "show.yaml")
    digest = messages.digest(show.path)
    settings = MqttSettings(host=broker.host, port=broker.port, base="room")

    def annex() -> tuple[SimulatedOutputs, follower.Follower, bus.Bus]:
        outputs = SimulatedOutputs(["south", "west"], MonotonicClock())
        applying = follower.Follower(outputs, digest, show.media_dir)
        return outputs, applying, bus.Bus(settings, "annex", ["annex/#"], applying.receive)

    async def main() -> None:
        hall = bus.Bus(settings, "hall", [], lambda payload, what, got_ns: asyncio.sleep(0))
        hall.start()
        remote = leader.RemoteOutputs(show, messages.Sender("hall", digest, hall.send))
        spread = leader.SpreadOutputs(SimulatedOutputs(["north"], MonotonicClock()), remote)
        outputs, applying, link = annex()
        link.start()
        running = asyncio.create_task(link.run())
        await until("both boxes on the broker", lambda: hall.connected and link.connected)
        t0 = await spread.play(show.clips("a"), play=1)
        await spread.level("west", 0.5)
        await until("the annex plays", lambda: len(outputs.plays) == 1 and outputs.levels)
        assert outputs.plays[0].output == "south"
        assert outputs.plays[0].t0 == pytest.approx(t0, abs=0.001)
        running.cancel()
        await link.close()

        # The annex restarts: the broker's retained messages tell it what plays, and it joins.
        late, applying, link = annex()
        link.start()
        running = asyncio.create_task(link.run())
        await until("the restarted annex plays", lambda: len(late.plays) == 1 and late.levels)
        assert late.plays[0].t0 == pytest.approx(t0, abs=0.001), "the same T0: a late join"
        assert late.levels == {"west": 0.5}
        assert applying.refused == {}
        running.cancel()
        await link.close()
        await hall.close()

    asyncio.run(main())
