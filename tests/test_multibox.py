"""The parts of a show across boxes that need no second box: the wall clock mapped onto the
monotonic clock (also in a time namespace of its own, as each box of the tests runs), and the
leader's commands for a box's outputs, refused when they are not for this box's show."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from showctl.clock import FakeClock
from showctl.health import Finding, check_boxes
from showctl.multibox import follower, leader, messages, wallclock
from showctl.multibox import offsets as offsets_module
from showctl.players.simulated import SimulatedOutputs
from showctl.show import loader
from showctl.testing import write_wav


def test_a_wall_clock_time_maps_onto_the_monotonic_clock_and_back() -> None:
    clock = wallclock.WallClock()
    offset = clock.read()
    assert offset.within < 0.001
    wall = clock.to_wall_ns(1000.0)
    assert clock.to_monotonic(wall) == pytest.approx(1000.0, abs=1e-3)


def test_a_step_of_the_wall_clock_is_noticed_and_a_slew_is_not() -> None:
    now = {"wall": 1.8e18, "mono": 100.0}
    steps: list[float] = []

    def tick() -> float:
        now["mono"] += 1e-6
        return now["mono"]

    clock = wallclock.WallClock(lambda: int(now["wall"]), tick, steps.append)
    clock.read()
    now["wall"] += 0.0002e9  # chrony's slew: 0.2 ms
    clock.read()
    assert steps == []
    now["wall"] += 2.0e9  # stepped 2 s
    clock.read()
    assert steps == [pytest.approx(2.0, abs=1e-4)]


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux's unshare")
def test_in_a_time_namespace_the_same_wall_time_maps_to_its_own_monotonic_time() -> None:
    """A box whose monotonic clock is 5000 s ahead (a time namespace, as the harness runs
    each box): one wall-clock T0 lands 5000 s later on its monotonic clock."""
    program = (
        "import sys, time; sys.path.insert(0, sys.argv[1]); "
        "from showctl.multibox.wallclock import WallClock; "
        "print(WallClock().read().offset)"
    )
    root = str(Path(__file__).resolve().parents[1])
    inside = subprocess.run(
        ["unshare", "--time", "--monotonic", "5000", "--fork", sys.executable, "-c", program, root],
        capture_output=True,
        text=True,
        check=False,
    )
    if inside.returncode != 0 and "Operation not permitted" in inside.stderr:
        pytest.skip("time namespaces need root (CI has it)")
    assert inside.returncode == 0, inside.stderr
    outside = wallclock.WallClock().read().offset
    assert outside - float(inside.stdout) == pytest.approx(5000.0, abs=0.01)


SHOW = "0123456789abcdef"


def sent(**changes: object) -> bytes:
    message = {
        "show": SHOW,
        "leader": "hall",
        "seq": 7,
        "kind": "play",
        "clips": {"south": ["tide-south.wav", True]},
        "t0_ns": 10**18,
        "play": 3,
    }
    return json.dumps({**message, **changes}).encode()


@pytest.mark.parametrize(
    "command",
    [
        messages.Play(
            {"south": ("tide-south.wav", True)}, 1_800_000_000_123_456_789, 3, (1.0, 2.0)
        ),
        messages.Stop(("south", "west"), 1_800_000_000_000_000_000, 3, 0.5),
        messages.Stop(),
        messages.Effect("west", "creak.wav", 0.5, 1_800_000_000_000_000_000, 4),
        messages.Load({"south": (("a.wav", False), ("b.wav", True)), "west": ()}),
        messages.Level("south", 0.25),
    ],
    ids=lambda c: c.KIND,
)
def test_every_command_goes_and_comes_back_whole(command: messages.Command) -> None:
    message = messages.Message(SHOW, "hall", 7, command)
    assert messages.decode(message.encode(), SHOW) == message


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (b"{nope", "not a message: not JSON"),
        (b"[1, 2]", "not a message: not a JSON object"),
        (sent(kind="jump"), "not a message: its kind is 'jump'; one of play, stop, effect"),
        (sent(t0_ns="soon"), "not a play message: 't0_ns' is 'soon'"),
        (sent(play=True), "not a play message: 'play' is True"),
        (sent(clips={"south": ["a.wav", "yes"]}), "not a play message: 'clips' is"),
        (sent(seq=None), "not a play message: 'seq' is None"),
        (
            sent(show="fedcba9876543210"),
            "the leader 'hall' plays another show (digest fedcba9876543210, this box's "
            "0123456789abcdef): copy the same show file to every box",
        ),
    ],
)
def test_a_message_that_is_not_for_this_show_is_refused_saying_why(
    payload: bytes, says: str
) -> None:
    with pytest.raises(messages.Refused) as refused:
        messages.decode(payload, SHOW)
    assert str(refused.value).startswith(says)


def test_a_message_missing_a_key_says_which() -> None:
    data = json.loads(sent())
    del data["t0_ns"]
    with pytest.raises(messages.Refused, match="not a play message: 't0_ns' is missing"):
        messages.decode(json.dumps(data).encode(), SHOW)


def test_the_digest_is_the_show_files(tmp_path: Path) -> None:
    show = tmp_path / "show.yaml"
    show.write_text("version: 1\n")
    first = messages.digest(show)
    assert len(first) == messages.DIGEST_DIGITS
    show.write_text("version: 1\n# edited on one box\n")
    assert messages.digest(show) != first


TWO_ROOMS = """\
version: 1
initial: a
media: media
outputs:
  north: {device: "hw:CARD=speaker1"}
  south: {device: "hw:CARD=speaker1"}
  west: {device: "hw:CARD=speaker2"}
boxes:
  hall: {outputs: [north]}
  annex: {outputs: [south, west]}
scenes:
  a:
    audio: {north: tone.wav, south: tone.wav}
    transitions:
      - {audio_end: all, to: a}
"""


class Boxes:
    """The leader ``hall`` and the follower ``annex`` on one wall clock, their monotonic clocks
    1000 s and 5000 s behind it, the bus between them a list."""

    def __init__(self, tmp_path: Path) -> None:
        write_wav(tmp_path / "media" / "tone.wav", seconds=1.0)
        (tmp_path / "show.yaml").write_text(TWO_ROOMS)
        self.show = loader.load(tmp_path / "show.yaml")
        self.wall_ns = 1_800_000_000 * 10**9
        hall = WallClockOf(self, 1000)
        annex = WallClockOf(self, 5000)
        self.hall = SimulatedOutputs(["north"], FakeClock(hall.monotonic()))
        self.annex = SimulatedOutputs(["south", "west"], FakeClock(annex.monotonic()))
        digest = messages.digest(self.show.path)
        self.bus: list[tuple[str, str, bytes, bool]] = []
        remote = leader.RemoteOutputs(
            self.show,
            messages.Sender("hall", digest, lambda *sent: self.bus.append(sent)),
            hall.clock,
        )
        self.outputs = leader.SpreadOutputs(self.hall, remote)
        self.follower = follower.Follower(self.annex, digest, self.show.media_dir, wall=annex.clock)

    async def deliver(self) -> None:
        for box, what, payload, _ in self.bus:
            assert box == "annex"
            await self.follower.receive(payload, what)
        self.bus.clear()


class WallClockOf:
    """A box's :class:`WallClock` on the shared fake wall clock, ``behind`` s behind it."""

    def __init__(self, boxes: Boxes, behind: float) -> None:
        self.boxes, self.behind = boxes, behind
        self.clock = wallclock.WallClock(lambda: boxes.wall_ns, self.monotonic)

    def monotonic(self) -> float:
        return self.boxes.wall_ns / 1e9 - self.behind


def test_a_start_lands_on_one_wall_instant_on_every_box(tmp_path: Path) -> None:
    boxes = Boxes(tmp_path)

    async def main() -> None:
        clips = boxes.show.clips("a")
        t0 = await boxes.outputs.play(clips, play=1)
        await boxes.deliver()
        (north,) = boxes.hall.plays
        (south,) = boxes.annex.plays
        assert (north.output, south.output) == ("north", "south")
        assert north.t0 == t0
        assert t0 - boxes.hall.clock.monotonic() == pytest.approx(leader.FLOOR)
        assert south.t0 == pytest.approx(t0 - 4000, abs=1e-6), "the annex's clock: 4000 s behind"
        assert south.clip == tmp_path / "media" / "tone.wav"
        # A stop of every output, and a level and an effect on the annex's west.
        await boxes.outputs.stop(fade=0.5, at=t0 + 10)
        await boxes.outputs.level("west", 0.5)
        boxes.outputs.effect("west", tmp_path / "media" / "tone.wav", 0.25, t0 + 2, 1)
        sent = list(boxes.bus)
        await boxes.deliver()
        assert boxes.annex.stops == [
            (pytest.approx(t0 + 10 - 4000), "south"),
            (pytest.approx(t0 + 10 - 4000), "west"),
        ]
        assert boxes.hall.stops == [(t0 + 10, "north")]
        assert boxes.annex.levels == {"west": 0.5}
        assert [(e.output, e.gain, pytest.approx(e.t0)) for e in boxes.annex.effects] == [
            ("west", 0.25, t0 + 2 - 4000)
        ]
        assert boxes.follower.applied == 5  # a stop an output, a level, an effect
        assert [(what, retain) for _, what, _, retain in sent] == [
            ("output/south", True),
            ("output/west", True),
            ("level/west", True),
            ("effect", False),
        ]
        health = boxes.outputs.health()
        assert health["south"].failed == "its box has not been heard from"

    asyncio.run(main())


def test_a_follower_counts_what_it_refuses_and_drops_what_is_older(tmp_path: Path) -> None:
    boxes = Boxes(tmp_path)

    async def main() -> None:
        await boxes.outputs.level("west", 0.5)
        await boxes.outputs.level("west", 0.25)
        (_, what, first, _), (_, _, second, _) = boxes.bus
        await boxes.follower.receive(second, what)
        await boxes.follower.receive(first, what)  # a retained message read after a live one
        assert boxes.annex.levels == {"west": 0.25}
        assert boxes.follower.dropped == 1
        for _ in range(100):
            await boxes.follower.receive(b"garbage")
        await boxes.follower.receive(
            messages.Message("fedcba9876543210", "hall", 99, messages.Level("west", 1.0)).encode()
        )
        assert dict(boxes.follower.refused) == {
            "not a message": 100,
            "the leader 'hall' plays another show (digest fedcba9876543210, this box's "
            f"{messages.digest(boxes.show.path)})": 1,
        }
        assert boxes.annex.levels == {"west": 0.25}

    asyncio.run(main())


def test_a_boxs_clock_is_measured_against_the_leaders_and_flagged_past_the_bound() -> None:
    """The annex's wall clock 3 ms ahead of the hall's; the way there 2 ms, back 1 ms, but one
    answer held up 40 ms on its way back: the shortest way's exchange is believed."""
    offsets = offsets_module.Offsets()
    hall = 1_800_000_000 * 10**9
    ahead, there, back = 3_000_000, 2_000_000, 1_000_000
    for held in (0, 40_000_000, 0):
        sent = offsets.ping(hall)
        got = hall + there + ahead  # on the annex's clock
        reply = offsets_module.answer(sent, "annex", got, got + 500_000)
        hall += there + 500_000 + back + held
        exchange = offsets.answered(reply, hall)
        assert exchange is not None
        hall += 1_000_000_000
    best = offsets.believed("annex")
    assert best is not None
    # Within half the way's asymmetry (2 ms there, 1 ms back: 0.5 ms).
    assert best.offset == pytest.approx(0.003 + 0.0005, abs=1e-9)
    assert best.way == pytest.approx(0.003, abs=1e-9)
    assert offsets.state() == {"annex": {"offset_ms": 3.5, "way_ms": 3.0, "flagged": True}}
    assert offsets.answered(b"nonsense", hall) is None
    within = offsets_module.Offsets(bound=0.005)
    within.kept = offsets.kept
    assert within.state()["annex"]["flagged"] is False
    said = {"state": "follows", "clock": offsets.state()["annex"]}
    assert check_boxes({"annex": said}).says == "box 'annex''s clock is +3.50 ms from the leader's"


class Told:
    """A controller's ear: what the outputs told it."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, ...]] = []

    def clip_finished(self, output: str, play: int, reason: str) -> None:
        self.heard.append(("finished", output, str(play), reason))

    def output_failed(self, output: str, reason: str) -> None:
        self.heard.append(("failed", output, reason))

    def output_recovered(self, output: str) -> None:
        self.heard.append(("recovered", output))

    def output_changed(self, output: str) -> None:
        self.heard.append(("changed", output))


def reporting(
    tmp_path: Path,
) -> tuple[Boxes, Told, leader.Reports, list[tuple[str, bytes, bool]]]:
    """The two boxes, the leader's controller's ear, its side of the reports, and the
    annex's reports as it sent them (to be delivered by the test)."""
    boxes = Boxes(tmp_path)
    told = Told()
    boxes.outputs.listener = told
    back: list[tuple[str, bytes, bool]] = []
    boxes.follower.me = "annex"
    boxes.follower.report = lambda *sent: back.append(sent)
    return boxes, told, leader.Reports(boxes.outputs), back


def test_a_clip_ending_and_an_output_failing_on_another_box_reach_the_leaders_controller(
    tmp_path: Path,
) -> None:
    boxes, told, reports, back = reporting(tmp_path)

    async def main() -> None:
        await boxes.outputs.play(boxes.show.clips("a"), play=2)
        await boxes.deliver()
        boxes.annex.clock.advance(boxes.outputs.soonest + 1.5)  # the 1-s clip is over
        boxes.annex.finish_due()
        boxes.annex.fail("west", "its card is gone")
        boxes.annex.soonest = 0.3
        boxes.follower.report_health()
        for what, payload, _ in back:
            await reports.received(payload, what)
        await reports.received(b"{}", "nonsense")

    asyncio.run(main())
    assert told.heard == [
        ("finished", "south", "2", "end"),
        ("changed", "south"),  # first heard of: its health (working, silent now)
        ("failed", "west", "its card is gone"),
    ]
    assert [(what, retain) for what, _, retain in back] == [
        ("event", False),
        ("health/annex", True),
        ("health/annex", True),
    ]
    assert boxes.outputs.health()["west"].failed == "its card is gone"
    assert boxes.outputs.soonest == pytest.approx(0.3 + reports.way)
    assert reports.refused == 1


def test_a_leader_started_again_is_heard_above_what_it_sent_before(tmp_path: Path) -> None:
    boxes = Boxes(tmp_path)

    async def main() -> None:
        await boxes.outputs.level("west", 0.5)
        await boxes.deliver()
        sender = boxes.outputs.remote.sender
        again = leader.RemoteOutputs(
            boxes.show, messages.Sender("hall", sender.digest, lambda *sent: boxes.bus.append(sent))
        )
        again.level("west", 0.25)
        await boxes.deliver()
        assert boxes.annex.levels == {"west": 0.25}
        assert boxes.follower.dropped == 0

    asyncio.run(main())


def test_the_leader_measures_a_followers_clock_by_pinging_it(tmp_path: Path) -> None:
    """Through the follower's own answer: on one wall clock, it is found on the leader's."""
    boxes = Boxes(tmp_path)
    back: list[tuple[str, bytes, bool]] = []
    boxes.follower.me = "annex"
    boxes.follower.report = lambda *sent: back.append(sent)
    reports = leader.Reports(boxes.outputs)

    async def main() -> None:
        real = follower.Follower(boxes.annex, boxes.follower.show, tmp_path, "annex")
        real.report = lambda *sent: back.append(sent)
        pong = real.pong(reports.clocks.ping(time.time_ns()), time.time_ns())
        assert pong is not None
        await real.receive(b"nonsense", "ping")
        assert real.pong(b"nonsense", time.time_ns()) is None
        await reports.received(pong, "pong")
        assert real.refused == {"not a ping": 1}

    asyncio.run(main())
    clock = reports.state()["annex"]["clock"]
    assert abs(clock["offset_ms"]) < 1.0
    assert clock["flagged"] is False


def test_a_box_gone_silent_fails_its_outputs_until_it_is_heard_again(tmp_path: Path) -> None:
    boxes, told, reports, back = reporting(tmp_path)

    async def main() -> None:
        boxes.follower.report_health()
        (what, payload, _), *_ = back
        await reports.received(payload, what)
        heard = reports.said["annex"]["at"]
        reports.sweep(heard + 1.0)
        assert not boxes.outputs.health()["south"].failed
        reports.sweep(heard + leader.SILENT + 0.1)
        assert boxes.outputs.health()["south"].failed == (
            "its box 'annex' has not been heard from for 3 s"
        )
        state = reports.state()
        assert state["annex"]["state"] == "silent"
        assert check_boxes(state) == Finding(
            "boxes",
            "problem",
            "box 'annex' is not heard from (its outputs failed)",
            check_boxes(state).fix,
        )
        reports.sweep(heard + leader.SILENT + 5.0)  # said once
        await reports.received(payload, what)
        assert not boxes.outputs.health()["south"].failed
        state = reports.state()
        assert {box: (said["state"], said["outputs"]) for box, said in state.items()} == {
            "hall": ("leads", ["north"]),
            "annex": ("follows", ["south", "west"]),
        }
        assert check_boxes(state).state == "ok"

    asyncio.run(main())
    assert told.heard == [
        ("changed", "south"),
        ("changed", "west"),
        ("failed", "south", "its box 'annex' has not been heard from for 3 s"),
        ("failed", "west", "its box 'annex' has not been heard from for 3 s"),
        ("recovered", "south"),
        ("recovered", "west"),
    ]


def test_a_follower_says_once_when_the_leader_falls_silent_and_when_it_is_back(
    tmp_path: Path,
) -> None:
    boxes = Boxes(tmp_path)
    reports = leader.Reports(boxes.outputs)

    async def main() -> None:
        with capture_logs() as logs:
            boxes.follower.check_leader(3.0)  # never pinged: nothing to say
            await boxes.follower.receive(reports.clocks.ping(time.time_ns()), "ping")
            boxes.follower.check_leader(3.0)
            assert boxes.follower.pinged is not None
            boxes.follower.pinged -= 3.5
            boxes.follower.check_leader(3.0)
            boxes.follower.check_leader(3.0)
            await boxes.follower.receive(reports.clocks.ping(time.time_ns()), "ping")
        assert [e["event"] for e in logs] == ["box_leader_silent", "box_leader_back"]

    asyncio.run(main())


def test_a_leader_hears_a_rival_beating_and_not_itself_nor_a_dead_one() -> None:
    hall = leader.Leadership("hall")
    other = leader.Leadership("hall")  # a second process given the same box name
    hall.heard(hall.beat())
    assert hall.others == {}
    first = other.beat()
    hall.heard(first)
    assert hall.fresh()
    assert hall.rival() is None  # one beat: perhaps the last of a leader just stopped
    with capture_logs() as logs:
        hall.heard(first)  # the retained one again: not a beat
        assert hall.rival() is None
        hall.heard(other.beat())
        hall.heard(other.beat())
    assert [e["event"] for e in logs] == ["box_two_leaders"]
    assert hall.rival() == (
        f"another showctl on host {socket.gethostname()!r} leads this show as box 'hall'; stop "
        "it, or give this box a [box] name of its own"
    )
    assert hall.rivals() == [f"box 'hall' on host {socket.gethostname()!r}"]
    said = {"state": "leads", "clock": None, "rivals": hall.rivals()}
    assert check_boxes({"hall": said}).says == (
        f"box 'hall' on host {socket.gethostname()!r} leads this show too"
    )
    for seen in hall.others.values():
        seen["at_ns"] -= int((leader.SILENT + 1) * 1e9)  # not heard for longer than SILENT
    assert not hall.fresh()
    assert hall.rival() is None
    assert hall.rivals() == []


def test_a_follower_refuses_the_commands_of_a_box_it_does_not_follow(tmp_path: Path) -> None:
    boxes = Boxes(tmp_path)
    boxes.follower.leader = "lobby"

    async def main() -> None:
        with capture_logs() as logs:
            await boxes.outputs.level("west", 0.5)
            await boxes.deliver()
        assert boxes.annex.levels == {}
        assert boxes.follower.refused == {"from box 'hall', which leads it too": 1}
        assert logs[0]["why"] == (
            "from box 'hall', which leads it too: this box follows 'lobby' (its [box] leader)"
        )

    asyncio.run(main())
