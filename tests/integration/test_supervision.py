"""Supervised players on the real audio path: killed, hung, or their card gone and back.

The players play through the real backend to the virtual sound hub. A player killed or
stopped is replaced by a fresh process that joins the running scene at its place; the other
output plays on, untouched. A card that stays gone spends the restarts, is reported failed,
and is taken up again once it is back.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from showctl.clock import FakeClock
from showctl.players import pool as player_pool
from showctl.players import protocol
from showctl.players.pool import E, Exited, Failed, PoolEvent, Restarted
from showctl.players.restarts import RestartPolicy
from showctl.show.model import Output
from tests.harness.analysis import noise_clip
from tests.harness.soundhub import SoundHub, device_name

RATE = 48000
LOOP = 48000  # samples in each output's looped clip


class Listener:
    """The pool's events (its players' and its own), with when each came."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str, PoolEvent]] = []

    def __call__(self, output: str, event: PoolEvent) -> None:
        if not isinstance(event, protocol.Heartbeat):
            self.events.append((time.monotonic(), output, event))

    async def wait(self, output: str, kind: type[E], after: float, timeout: float = 20) -> E:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, name, event in self.events:
                if at >= after and name == output and isinstance(event, kind):
                    return event
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {kind!r} from {output} in {timeout} s: {self.events[-5:]}")


@pytest.fixture
def clips(tmp_path: Path) -> dict[str, tuple[Path, bool]]:
    out = {}
    for i, name in enumerate(("a", "b")):
        path = tmp_path / f"{name}.wav"
        noise_clip(path, seed=10 + i, seconds=LOOP / RATE)
        out[name] = (path, True)
    return out


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "hung"])
def test_a_player_killed_or_hung_is_replaced_and_joins_the_scene(
    clips: dict[str, tuple[Path, bool]], how: signal.Signals
) -> None:
    async def main(hub: SoundHub) -> None:
        listener = Listener()
        outputs = {name: Output(device_name(i)) for i, name in enumerate(clips)}
        async with player_pool.PlayerPool(outputs, env=hub.env, supervise=True) as pool:
            pool.on_event = listener
            t0 = time.monotonic() + 0.2
            await pool.play(clips, t0, play=7)
            await listener.wait("a", protocol.Started, 0)
            await asyncio.sleep(1.0)
            victim, other = pool.players["a"].pid, pool.players["b"]
            blocks = other.beat.blocks
            hit = time.monotonic()  # how soon it is back is for a benchmark to measure
            os.kill(victim, how)
            joined = await listener.wait("a", protocol.Started, hit)
            assert pool.players["a"].pid != victim
            assert joined.play == 7
            # Joined where the scene is: the content position its first sample has on the
            # timeline, within the loop (the player's own account, by its DAC clock).
            expected = (joined.dac_time - t0) * RATE % LOOP
            assert abs(joined.position % LOOP - expected) <= 2
            await asyncio.sleep(0.6)
            assert pool.players["b"] is other, "the other output keeps its player"
            assert other.beat.blocks > blocks
            health = pool.health()
            assert (health["a"].restarts, health["b"].restarts) == (1, 0)
            assert health["a"].failed is None

    with SoundHub(2) as hub:
        asyncio.run(main(hub))


def test_a_player_that_ends_once_the_stop_began_is_not_replaced() -> None:
    """From ``end_supervision()`` on (the first thing a stop signal does), a player that ends,
    killed by another hand, stays ended: nothing is started while the show stops."""

    async def main() -> None:
        listener = Listener()
        outputs = {name: Output(f"sim-{name}") for name in ("a", "b")}
        async with player_pool.PlayerPool(outputs, backend="sim", supervise=True) as pool:
            pool.on_event = listener
            victim = pool.players["a"]
            pool.end_supervision()
            os.kill(victim.pid, signal.SIGKILL)
            await listener.wait("a", Exited, 0)
            await asyncio.sleep(0.5)  # a restart, were there one, would start at once
            assert pool.players["a"] is victim
            assert pool.health()["a"].restarts == 0

    with capture_logs() as logs:
        asyncio.run(main())
    assert [e["output"] for e in logs if e["event"] == "player_started"] == ["a", "b"]


def test_the_lead_covers_the_commands_way_and_a_start_cut_short_is_told(
    clips: dict[str, tuple[Path, bool]],
) -> None:
    """The pool measures how long its commands take to reach the players (pings at start,
    then its plays) and puts the longest in ``soonest``, where it places a start's T0; a start
    whose command came after its T0 is logged with what was lost and counted in the output's
    health, and a scene taken up where it was (T0 passed) is not. Whether the lead was enough
    is a timing, left to the loaded_starts benchmark: a busy machine can cut the first start."""

    async def main() -> None:
        listener = Listener()
        outputs = {name: Output(f"sim-{name}") for name in clips}
        async with player_pool.PlayerPool(outputs, backend="sim") as pool:
            pool.on_event = listener
            pinged = player_pool.PING_ROUNDS * len(outputs)
            deadline = time.monotonic() + 5
            while len(pool._deliveries) < pinged and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert len(pool._deliveries) == pinged, "measured before the first start"
            longest = max(player_pool.DELIVERY_FLOOR, *pool._deliveries)
            assert pool.delivery == longest * (1 + player_pool.DELIVERY_MARGIN)
            deadline = time.monotonic() + 5  # the heartbeats' figures
            while not all(len(p.soonests) > 1 for p in pool.players.values()):
                assert time.monotonic() < deadline, "no heartbeat said how soon"
                await asyncio.sleep(0.05)
            assert all(s > 0 for p in pool.players.values() for s in p.soonests)
            assert all(p.soonest == max(p.soonests) for p in pool.players.values())
            soonest = max(p.soonest for p in pool.players.values())
            lead = pool.soonest
            assert lead == soonest + pool.delivery
            sent = time.monotonic()
            t0 = await pool.play(clips, play=1)
            assert t0 >= sent + lead
            for name in clips:
                assert (await listener.wait(name, protocol.Started, sent)).t0 == t0
            assert len(pool._deliveries) == pinged + len(outputs)
            before = {n: h.cut_starts for n, h in pool.health().items()}

            sent = time.monotonic()
            await pool.play(clips, sent + 0.0005, play=2)  # T0 before any player can have it
            for name in clips:
                started = await listener.wait(name, protocol.Started, sent)
                assert started.position > 0
            taken = time.monotonic()
            await pool.play(clips, taken - 5, play=3)  # a scene taken up
            for name in clips:
                assert (await listener.wait(name, protocol.Started, taken)).play == 3
            cut = {n: h.cut_starts - before[n] for n, h in pool.health().items()}
            assert cut == {"a": 1, "b": 1}

    with capture_logs() as logs:
        asyncio.run(main())
    cut = [e for e in logs if e["event"] == "start_cut" and e["play"] != 1]
    assert sorted(e["output"] for e in cut) == ["a", "b"]
    assert all(e["play"] == 2 and e["lost_ms"] > 0 for e in cut)


def test_a_card_that_stays_gone_fails_its_output_until_it_is_back(
    clips: dict[str, tuple[Path, bool]],
) -> None:
    """The hub stops (both cards gone): each output's restarts are spent, it is failed with the
    reason; the hub starts again (the cards are back): the next retry takes them up, and they
    play the scene again from its place."""
    policy = RestartPolicy(budget=2, backoff_first=0.05, retry_failed=3.0)

    async def main(hub: SoundHub) -> None:
        listener = Listener()
        outputs = {name: Output(device_name(i)) for i, name in enumerate(clips)}
        pool = player_pool.PlayerPool(outputs, env=hub.env, supervise=True, policy=policy)
        async with pool:
            pool.on_event = listener
            await pool.play(clips, time.monotonic() + 0.2, play=3)
            await listener.wait("a", protocol.Started, 0)
            gone = time.monotonic()
            hub.stop()
            failed = await listener.wait("a", Failed, gone, timeout=60)
            assert "hub_out0" in failed.reason
            assert pool.failed["a"] == failed.reason
            assert pool.health()["a"].failed == failed.reason
            hub.start()
            back = time.monotonic()
            restarted = await listener.wait("a", Restarted, back, timeout=60)
            assert restarted.recovered is True
            assert (await listener.wait("a", protocol.Started, back)).play == 3
            assert "a" not in pool.failed

    with SoundHub(2) as hub:
        asyncio.run(main(hub))


def test_at_start_the_pool_waits_for_missing_cards_then_starts_degraded(
    clips: dict[str, tuple[Path, bool]],
) -> None:
    """Boot: the cards are not there yet (the hub is down). Cards that come within the wait are
    taken up; cards that do not are failed, the pool starts without them, and takes them up
    once they are there."""
    policy = RestartPolicy(card_poll=0.3, retry_failed=2.0)
    outputs = {name: Output(device_name(i)) for i, name in enumerate(clips)}

    async def cards_come_in_time(hub: SoundHub, logs: list[dict[str, Any]]) -> None:
        async def plug_in_once_both_are_missed() -> None:
            while sum(e["event"] == "card_missing" for e in logs) < 2:
                await asyncio.sleep(0.05)
            await asyncio.to_thread(hub.start)

        plugging = asyncio.create_task(plug_in_once_both_are_missed())
        pool = player_pool.PlayerPool(
            outputs, env=hub.env, supervise=True, wait_for_cards=60, policy=policy
        )
        async with pool:
            assert plugging.done()
            assert pool.failed == {}
            assert all(h.alive for h in pool.health().values())

    async def cards_come_late(hub: SoundHub) -> None:
        listener = Listener()
        began = time.monotonic()
        pool = player_pool.PlayerPool(
            outputs, env=hub.env, supervise=True, wait_for_cards=1.0, policy=policy
        )
        async with pool:
            assert time.monotonic() - began >= 1.0
            assert set(pool.failed) == {"a", "b"}
            assert "hub_out0" in pool.failed["a"]
            pool.on_event = listener
            await pool.play(clips, time.monotonic() + 0.2, play=5)  # a scene, without them
            await asyncio.to_thread(hub.start)
            back = time.monotonic()
            assert (await listener.wait("a", Restarted, back)).recovered is True
            assert (await listener.wait("a", protocol.Started, back)).play == 5
            assert (await listener.wait("b", Restarted, back)).recovered is True
            assert "a" not in pool.failed

    hub = SoundHub(2)
    hub.stop()  # a hub left running by another test would be there already
    try:
        with capture_logs() as logs:
            asyncio.run(cards_come_in_time(hub, logs))
        missing = [e for e in logs if e["event"] == "card_missing"]
        assert sorted(e["output"] for e in missing) == ["a", "b"], "one line per card"
        assert "hub_out0" in next(e["reason"] for e in missing if e["output"] == "a")
        assert sorted(e["output"] for e in logs if e["event"] == "card_found") == ["a", "b"]
        hub.stop()
        with capture_logs() as logs:
            asyncio.run(cards_come_late(hub))
        restarted = [e["output"] for e in logs if e["event"] == "player_restarted"]
        assert sorted(restarted) == ["a", "b"], "one player per output, started once"
    finally:
        hub.stop()


def test_the_pool_keeps_its_restart_rules_on_its_own_clock() -> None:
    """A pool on a fake clock (its players real, on simulated cards): the first restart is at
    once; the second waits the back-off, which only the clock moving ends; with the budget
    spent the output is failed."""
    clock = FakeClock()
    policy = RestartPolicy(budget=2, backoff_first=5.0, retry_failed=100.0)

    async def main() -> None:
        listener = Listener()
        outputs = {"a": Output("sim-a")}
        async with player_pool.PlayerPool(
            outputs, backend="sim", supervise=True, policy=policy, clock=clock
        ) as pool:
            pool.on_event = listener
            os.kill(pool.players["a"].pid, signal.SIGKILL)
            await listener.wait("a", Restarted, 0)
            second = pool.players["a"]
            killed = time.monotonic()
            os.kill(second.pid, signal.SIGKILL)
            await listener.wait("a", Exited, killed)
            await asyncio.sleep(0.5)  # however long, the back-off is the fake clock's
            assert pool.players["a"] is second
            clock.advance(5.0)
            await listener.wait("a", Restarted, killed)
            killed = time.monotonic()
            os.kill(pool.players["a"].pid, signal.SIGKILL)
            failed = await listener.wait("a", Failed, killed)
            assert failed.reason == "its player ended (exit status -9)"
            assert pool.restarts["a"] == 2

    asyncio.run(main())
