"""Relays, inputs and the matrix on a box that follows. Its relays are switched by the leader's
commands on the box's own lines, each box keeping its relays' safe states, the emergency one for
the whole room (a box latches on its own first: an emergency input wired to it, or its leader
lost); its inputs are triggers for the leader; its matrix plays the scene the leader says from
the leader's T0. The bus between the boxes is a list here."""

from __future__ import annotations

import asyncio
import functools
import json
from collections import deque
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from showctl.clock import FakeClock
from showctl.gpio.sim import SimGpio
from showctl.leds.matrix import LedPlayer, open_matrix
from showctl.leds.meter import scene_schedule
from showctl.multibox import follower, leader, messages
from showctl.multibox.leds import RemoteLeds
from showctl.multibox.relays import SpreadRelays
from showctl.players.simulated import SimulatedOutputs
from showctl.room.relays import Relays
from showctl.show import loader
from showctl.testing import write_wav

ROOM = """\
version: 1
initial: a
media: media
outputs:
  north: {device: "hw:CARD=speaker1"}
  south: {device: "hw:CARD=speaker1"}
inputs:
  panic: {line: 5}
  door: {line: 6}
matrix:
  lines: [[30, 31]]
relays:
  lights: {line: 20, safe: unpowered}
  maglock: {line: 21, safe: unpowered, max_on: 600}
emergency: {inputs: [panic]}
boxes:
  hall: {outputs: [north], relays: [lights]}
  annex: {outputs: [south], inputs: [panic, door], relays: [maglock], matrix: true}
scenes:
  a:
    audio: {north: tone.wav}
    leds:
      - {at: 1s, "on": [[0, 1]]}
    transitions:
      - {input: door, to: a}
"""

#: The GPIO chip every relay of the show is on (each box has its own).
CHIP = "/dev/gpiochip0"


class Room:
    """The leader ``hall`` (its lights) and the follower ``annex`` (the maglock, the panic
    button and the door), each with its own simulated GPIO chip; what goes between them is
    kept until :meth:`deliver`."""

    def __init__(self, tmp_path: Path) -> None:
        write_wav(tmp_path / "media" / "tone.wav", seconds=1.0)
        (tmp_path / "show.yaml").write_text(ROOM)
        self.show = loader.load(tmp_path / "show.yaml")
        digest = messages.digest(self.show.path)
        self.to_annex: list[tuple[str, str, bytes, bool]] = []
        self.to_hall: list[tuple[str, bytes, bool]] = []
        self.clock = FakeClock(100.0)
        self.hall_gpio, self.annex_gpio = SimGpio(self.clock), SimGpio(self.clock)
        self.hall_relays = Relays(self.show.part("hall").relays, self.hall_gpio, self.clock)
        self.annex_relays = Relays(self.show.part("annex").relays, self.annex_gpio, self.clock)
        sender = messages.Sender("hall", digest, lambda *sent: self.to_annex.append(sent))
        self.relays = SpreadRelays(
            self.show,
            "hall",
            self.hall_relays,
            lambda box, switch: sender(box, "relays", switch, retain=False),
        )
        remote = leader.RemoteOutputs(self.show, sender)
        outputs = leader.SpreadOutputs(SimulatedOutputs(["north"], self.clock), remote)
        self.fired: list[tuple[str, str]] = []
        assert self.show.matrix is not None
        self.leds = RemoteLeds(self.show.matrix, "annex", sender)
        self.reports = leader.Reports(
            outputs, self.relays, self.leds, fire=lambda *fired: self.fired.append(fired)
        )
        self.annex_leds = LedPlayer(
            open_matrix(self.show.matrix, self.annex_gpio), clock=self.clock
        )
        self.follower = follower.Follower(
            SimulatedOutputs(["south"], self.clock),
            digest,
            self.show.media_dir,
            "annex",
            relays=self.annex_relays,
            leds=self.annex_leds,
            schedule=functools.partial(scene_schedule, self.show),
            scenes=frozenset(self.show.scenes),
            report=lambda *sent: self.to_hall.append(sent),
        )
        self.changes = 0
        self.relays.on_change = self._changed

    def _changed(self) -> None:
        self.changes += 1

    async def deliver(self) -> None:
        """What each box sent, to the other, until neither has more to say."""
        self.follower.report_health()
        while self.to_annex or self.to_hall:
            for box, what, payload, _ in self.to_annex:
                assert box == "annex"
                await self.follower.receive(payload, what)
            self.to_annex.clear()
            self.follower.report_health()  # as on every change of its relays
            for what, payload, _ in self.to_hall:
                await self.reports.received(payload, what)
            self.to_hall.clear()

    def maglock_line(self) -> bool:
        return self.annex_gpio.chip(CHIP).level(21)


def test_the_leader_switches_a_relay_on_another_box_and_sees_it_switched(tmp_path: Path) -> None:
    room = Room(tmp_path)

    async def main() -> None:
        assert room.relays.specs.keys() == {"lights", "maglock"}
        assert room.relays.powered == {"lights": False, "maglock": False}  # safe, as it starts
        assert room.relays.power("maglock", "show") is None
        assert room.relays.powered["maglock"] is False  # not until the box says so
        await room.deliver()
        assert room.maglock_line() is True
        assert room.relays.powered == {"lights": False, "maglock": True}
        assert room.changes >= 1
        assert room.relays.power("lights") is None  # the leader's own, on its own lines
        assert room.hall_gpio.chip(CHIP).level(20) is True
        assert room.to_annex == []

    asyncio.run(main())


def test_a_relay_on_another_box_keeps_its_max_on_on_both_sides(tmp_path: Path) -> None:
    room = Room(tmp_path)
    refused = room.relays.pulse("maglock", 900)
    assert refused is not None
    assert "longer than 'maglock' may stay powered (its max_on, 600s)" in refused
    assert room.to_annex == []  # refused at the leader: nothing sent

    async def main() -> None:
        assert room.relays.power("maglock") is None
        await room.deliver()
        room.clock.advance(601)
        room.annex_relays.step()  # the box's own cut, whatever the leader says
        assert room.maglock_line() is False

    asyncio.run(main())


def test_a_timeline_switch_lands_at_its_time_on_the_other_box(tmp_path: Path) -> None:
    room = Room(tmp_path)

    async def main() -> None:
        room.relays.at(room.clock.monotonic() + 2.0, "maglock", True, entry=1)
        await room.deliver()
        room.clock.advance(1.9)
        room.annex_relays.step()
        assert room.maglock_line() is False
        room.clock.advance(0.2)
        room.annex_relays.step()
        assert room.maglock_line() is True

    asyncio.run(main())


def test_the_leaders_emergency_and_all_clear_reach_every_box(tmp_path: Path) -> None:
    room = Room(tmp_path)

    async def main() -> None:
        room.relays.power("maglock")
        room.relays.power("lights")
        await room.deliver()
        room.relays.latch("the emergency command")
        await room.deliver()
        assert room.maglock_line() is False
        assert room.annex_relays.emergency == "the emergency command"
        refused = room.relays.power("maglock")
        assert refused is not None
        assert refused.startswith("the emergency release holds every relay in its safe state")
        assert room.relays.all_clear() is True
        await room.deliver()
        assert room.annex_relays.emergency is None
        assert room.relays.emergency is None
        assert room.relays.power("maglock") is None

    asyncio.run(main())


def test_an_emergency_input_on_another_box_latches_it_at_once_and_then_the_whole_room(
    tmp_path: Path,
) -> None:
    room = Room(tmp_path)

    async def main() -> None:
        room.relays.power("maglock")
        room.relays.power("lights")
        await room.deliver()
        room.follower.input_fired("input:panic", emergency=True)
        # Before anything reaches the leader: the box's own relays are safe.
        assert room.maglock_line() is False
        assert room.annex_relays.emergency == "panic on box 'annex'"
        await room.deliver()
        assert room.fired == [("input:panic", "box annex")]
        assert room.relays.emergency == "box 'annex': panic on box 'annex'"
        assert room.hall_gpio.chip(CHIP).level(20) is False

    asyncio.run(main())


def test_a_box_that_loses_its_leader_latches_its_relays_safe(tmp_path: Path) -> None:
    room = Room(tmp_path)

    async def main() -> None:
        room.relays.power("maglock")
        await room.deliver()
        await room.follower.receive(room.reports.clocks.ping(0), "ping")
        assert room.follower.pinged is not None
        room.follower.pinged -= 3.5
        with capture_logs() as logs:
            room.follower.check_leader(3.0)
        assert [e["event"] for e in logs] == ["box_leader_silent", "relay_switched", "emergency"]
        assert room.maglock_line() is False
        assert room.annex_relays.emergency == "the leader has not been heard from for 3 s"
        room.to_hall.clear()  # the pong
        await room.deliver()  # the leader back: the box's latch sets off the room's
        assert room.relays.emergency is not None
        assert room.relays.all_clear() is True
        await room.deliver()
        # The box's report from before the all-clear, read again, latches nothing.
        room.annex_relays.emergency = "the leader has not been heard from for 3 s"
        room.follower.report_health()
        for what, payload, _ in room.to_hall:
            await room.reports.received(payload, what)
        assert room.relays.emergency is None

    asyncio.run(main())


def test_a_box_not_heard_from_says_its_relays_cannot_be_switched(tmp_path: Path) -> None:
    room = Room(tmp_path)

    async def main() -> None:
        await room.deliver()
        room.follower.report_health()
        await room.deliver()
        assert room.relays.failed is None
        room.reports.said["annex"]["at"] -= 10
        with capture_logs():
            room.reports.sweep(room.reports.said["annex"]["at"] + 10)
        assert room.relays.failed == (
            "box 'annex': its box 'annex' has not been heard from for 3 s"
        )
        room.follower.report_health()
        await room.deliver()
        assert room.relays.failed is None

    asyncio.run(main())


@pytest.mark.parametrize(
    ("sent", "refused"),
    [
        ({"box": "annex", "trigger": "input:door"}, 0),
        ({"box": "hall", "trigger": "input:door"}, 1),  # the leader's own are its own
        ({"box": "annex", "trigger": "input:lights"}, 1),  # not one of its inputs
        ({"box": "annex", "trigger": "event:door"}, 1),  # only inputs come this way
        ({"box": "annex"}, 1),
    ],
)
def test_an_input_of_another_box_is_a_trigger_for_the_leader(
    tmp_path: Path, sent: dict[str, str], refused: int
) -> None:
    room = Room(tmp_path)
    asyncio.run(room.reports.received(json.dumps(sent).encode(), "input"))
    assert room.reports.refused == refused
    assert room.fired == ([] if refused else [("input:door", "box annex")])


def test_a_switch_for_a_relay_the_box_does_not_have_is_refused_and_counted(
    tmp_path: Path,
) -> None:
    room = Room(tmp_path)
    room.follower.switch(messages.Switch("power", "lights"))
    room.follower.switch(messages.Switch("at", "maglock", True))  # no time
    assert room.follower.refused == {"not this box's relay": 1, "a switch missing its time": 1}
    assert room.maglock_line() is False


def test_a_box_heard_first_is_told_its_relays_and_one_back_keeps_them_safe(
    tmp_path: Path,
) -> None:
    room = Room(tmp_path)

    async def main() -> None:
        room.relays.power("maglock", "show")
        room.to_annex.clear()  # sent before the link was up: lost
        await room.deliver()  # the box's first report: told the lock's state now
        assert room.maglock_line() is True
        room.relays.at(room.clock.monotonic() + 1.0, "maglock", False, entry=1)
        room.to_annex.clear()
        room.clock.advance(1.1)
        room.relays.intended.step()  # the leader's picture follows the timeline
        assert room.relays.intended.powered["maglock"] is False
        room.relays.intended.power("maglock")
        room.reports.said["annex"]["at"] -= 10  # gone: the box restarts, its relays safe
        room.annex_relays.unpower("maglock")
        with capture_logs():
            room.reports.sweep(room.reports.said["annex"]["at"] + 10)
            await room.deliver()
        assert room.maglock_line() is False  # not locked again behind the game master's back
        assert room.relays.powered["maglock"] is False
        assert room.relays.intended.powered["maglock"] is False
        assert room.relays.failed is None

    asyncio.run(main())


def test_the_latest_retained_message_of_each_topic_is_sent_again_when_the_link_is_back() -> None:
    sent: list[tuple[str, str, bytes, bool]] = []
    sender = messages.Sender("hall", "d1", lambda *message: sent.append(message))
    sender("annex", "level/south", messages.Level("south", 0.5))
    sender("annex", "level/south", messages.Level("south", 0.25))
    sender("annex", "effect", messages.Effect("south", "a.wav", 1.0, 0, 1), retain=False)
    sender("annex", "relays", messages.Switch("forget"), retain=False)
    sent.clear()
    sender.again()
    assert [(box, what, json.loads(p)["gain"], r) for box, what, p, r in sent] == [
        ("annex", "level/south", 0.25, True)
    ]


def test_the_matrix_on_another_box_plays_the_leaders_scene_from_its_t0(tmp_path: Path) -> None:
    room = Room(tmp_path)
    lit = room.annex_gpio.chip(CHIP)

    async def main() -> None:
        t0 = room.clock.monotonic() + 0.5
        room.leds.play(scene_schedule(room.show, "a"), t0)
        await room.deliver()
        room.clock.advance(1.4)  # T0 + 0.9 s: before the cue
        room.annex_leds.step()
        assert (lit.level(30), lit.level(31)) == (False, False)
        room.clock.advance(0.2)  # T0 + 1.1 s
        room.annex_leds.step()
        assert (lit.level(30), lit.level(31)) == (False, True)
        room.leds.play(scene_schedule(room.show, None), room.clock.monotonic())  # the fault
        await room.deliver()
        room.clock.advance(0.01)  # past its T0, whatever the wall clock's mapping rounds
        room.annex_leds.step()
        assert (lit.level(30), lit.level(31)) == (False, False)

    asyncio.run(main())


def test_the_matrix_failing_on_another_box_is_said_by_the_leader(tmp_path: Path) -> None:
    room = Room(tmp_path)
    told: list[str | None] = []
    room.leds.on_failed = lambda: told.append(room.leds.failed)

    async def main() -> None:
        await room.deliver()
        assert room.leds.failed is None
        room.annex_leds._fail("line 30 of /dev/gpiochip0 cannot be set")
        await room.deliver()
        assert told == ["on box 'annex': line 30 of /dev/gpiochip0 cannot be set"]

    asyncio.run(main())


def test_cues_for_a_box_without_the_matrix_or_of_no_scene_are_refused(tmp_path: Path) -> None:
    room = Room(tmp_path)
    asyncio.run(room.follower.apply(messages.Leds("nowhere", 0)))
    room.follower.leds = None
    asyncio.run(room.follower.apply(messages.Leds("a", 0)))
    assert room.follower.refused == {"not a scene of the show": 1, "not this box's matrix": 1}


def test_a_box_told_its_relays_in_a_pulse_is_told_the_rest_of_the_pulse(tmp_path: Path) -> None:
    room = Room(tmp_path)

    async def main() -> None:
        room.relays.pulse("maglock", 2.0, "show")
        room.to_annex.clear()  # sent before the link was up: lost
        room.clock.advance(0.5)
        await room.deliver()  # the box's first report: told the rest of the pulse
        assert room.maglock_line() is True
        room.clock.advance(1.4)
        room.annex_relays.step()
        assert room.maglock_line() is True
        room.clock.advance(0.2)  # 2 s after the pulse began
        room.annex_relays.step()
        assert room.maglock_line() is False

    asyncio.run(main())


def test_a_box_that_restarted_unnoticed_keeps_its_relays_safe_and_is_measured_afresh(
    tmp_path: Path,
) -> None:
    """Restarted within the 3 s it takes to be called silent: its new start is what tells."""
    room = Room(tmp_path)

    async def main() -> None:
        room.relays.power("maglock", "show")
        await room.deliver()
        assert room.maglock_line() is True
        room.reports.clocks.kept["annex"] = room.reports.clocks.kept.get("annex") or deque()
        room.annex_relays.unpower("maglock")  # it restarts: its relays start safe
        room.follower.started_ns += 1
        with capture_logs() as logs:
            await room.deliver()
        assert [e for e in logs if e["event"] == "box_back"] == [
            {"event": "box_back", "box": "annex", "restarted": True, "log_level": "info"}
        ]
        assert "annex" not in room.reports.clocks.kept
        assert room.relays.intended.powered["maglock"] is False  # not locked again behind
        assert room.relays.powered["maglock"] is False  # the game master's back

    asyncio.run(main())
