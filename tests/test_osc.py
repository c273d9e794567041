"""The OSC surface on a real UDP socket: each address and its reply, refusals, garbage, floods."""

from __future__ import annotations

import asyncio
import json
import random
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from structlog.testing import capture_logs

from showctl.commands import MAX_NAME
from showctl.settings import OscSettings
from showctl.show import loader, model
from showctl.surfaces.osc import QUEUE_SIZE, REFUSALS_LOGGED, OscSurface
from showctl.testing import write_wav
from tests.harness.room import Room

#: Three scenes in a ring: a -(begin)-> b -(input door)-> c -(back)-> a; c sets a flag.
STAGE = """\
version: 1
initial: a
media: media
outputs:
  left: {device: "hw:CARD=a"}
inputs:
  door: {line: 3}
flags: [seen]
scenes:
  a:
    audio: {left: {clip: tone.wav, loop: true}}
    transitions:
      - {event: begin, to: b}
  b:
    audio: {left: {clip: tone.wav, loop: true}}
    transitions:
      - {input: door, to: c}
  c:
    on_enter: {set: seen}
    transitions:
      - {event: back, to: a}
"""

UNKNOWN = (
    "unknown OSC address {}; send /showctl/ and one of: status, trigger/NAME, goto/SCENE, go, "
    "reset, pause, resume, reload/[now], power/RELAY, unpower/RELAY, pulse/RELAY/DURATION, "
    "action/NAME, sound/NAME, hint/NAME, hint-text/TEXT, add-time/CLOCK/TIME, start-clock/CLOCK, "
    "stop-clock/CLOCK, level/OUTPUT/DB, "
    "emergency, all-clear (or scene/NAME, event/NAME, input/NAME)"
)
HAS = "it has: back, begin, input:door"


@pytest.fixture
def stage(tmp_path: Path) -> model.Show:
    write_wav(tmp_path / "media" / "tone.wav", seconds=1.0)
    path = tmp_path / "stage.yaml"
    path.write_text(STAGE)
    return loader.load(path)


class Desk:
    """A show-control desk on a UDP socket of its own: sends to the surface and reads the
    replies that come back to the port it sent from."""

    def __init__(self, port: int) -> None:
        self.to = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.name = f"127.0.0.1:{self.sock.getsockname()[1]}"

    def send(self, address: str) -> None:
        self.sock.sendto(OscMessageBuilder(address=address).build().dgram, self.to)

    def send_bytes(self, data: bytes) -> None:
        self.sock.sendto(data, self.to)

    async def reply(self, timeout: float = 5.0) -> tuple[str, list[Any]]:
        """The next reply: its address and arguments."""
        async with asyncio.timeout(timeout):
            data = await asyncio.get_running_loop().sock_recv(self.sock, 65536)
        message = OscMessage(data)
        return message.address, message.params

    async def ask(self, address: str) -> tuple[str, list[Any]]:
        self.send(address)
        return await self.reply()

    def close(self) -> None:
        self.sock.close()


Body = Callable[[Room, OscSurface, Desk], Awaitable[None]]


def on_stage(show_: model.Show, body: Body) -> None:
    """Run ``body`` with a room, its surface on a free port, and a desk; nothing may reach the
    loop's exception handler (an exception from a protocol callback would)."""
    loop_errors: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))
        async with Room(show_) as room:
            surface = OscSurface(OscSettings(host="127.0.0.1", port=0), room.controller)
            await surface.start()
            desk = Desk(surface.port)
            try:
                async with asyncio.timeout(30):  # a failing test fails; it never hangs
                    await body(room, surface, desk)
            finally:
                desk.close()
                await surface.close()

    asyncio.run(main())
    assert loop_errors == []


#: Address, then the scene, paused and flags the reply must carry.
STEPS = [
    ("/showctl/status", "a", 0, []),
    ("/showctl/go", "b", 0, []),  # a's first transition with a "to"
    ("/showctl/input/door", "c", 0, ["seen"]),
    ("/showctl/event/back", "a", 0, ["seen"]),
    ("/showctl/event/begin", "b", 0, ["seen"]),
    ("/showctl/event/input:door", "c", 0, ["seen"]),
    ("/showctl/scene/b", "b", 0, ["seen"]),
    ("/showctl/pause", "b", 1, ["seen"]),
    ("/showctl/status", "b", 1, ["seen"]),
    ("/showctl/resume", "b", 0, ["seen"]),
    ("/showctl/reset", "a", 0, []),
]


def test_every_address_acts_and_replies_with_the_new_state(stage: model.Show) -> None:
    """Each address moves the show as it says, and the reply, sent back to the desk's port,
    is /showctl/state with the new scene, paused 1/0 and the controller's summary as JSON."""
    got: list[tuple[Any, ...]] = []

    async def body(room: Room, surface: OscSurface, desk: Desk) -> None:
        for address, *_ in STEPS:
            reply, (scene, paused, summary) = await desk.ask(address)
            state = json.loads(summary)
            assert state == json.loads(json.dumps(room.controller.summary()))
            got.append((address, reply, scene, paused, state["flags"], room.scene))
            assert state["scene"] == scene
            assert state["paused"] == bool(paused) == (room.controller.paused is not None)

    on_stage(stage, body)
    expected = [
        (address, "/showctl/state", scene, paused, flags, scene)
        for address, scene, paused, flags in STEPS
    ]
    assert got == expected


def test_an_event_that_moves_nothing_is_answered_with_why(stage: model.Show) -> None:
    """The state comes back with a fourth argument: why nothing happened."""

    async def body(room: Room, surface: OscSurface, desk: Desk) -> None:
        reply, args = await desk.ask("/showctl/event/back")
        assert (reply, args[:2], args[3:]) == (
            "/showctl/state",
            ["a", 0],
            ["scene 'a' does not take event 'back'; it takes event 'begin'"],
        )
        assert room.scene == "a"

    on_stage(stage, body)


def test_a_button_let_go_does_nothing_so_one_press_is_one_go(stage: model.Show) -> None:
    """A desk's button sends 1 on press and 0 on release: the release is dropped unanswered."""

    async def body(room: Room, surface: OscSurface, desk: Desk) -> None:
        scene = room.scene

        def go(value: object) -> bytes:
            builder = OscMessageBuilder("/showctl/go")
            builder.add_arg(value)
            return builder.build().dgram

        for value in (0, 0.0, False):
            desk.send_bytes(go(value))
        reply, (after, *_) = await desk.ask("/showctl/status")  # the releases came first
        assert (reply, after, surface.counts["released"]) == ("/showctl/state", scene, 3)
        desk.send_bytes(go(1))
        reply, (after, *_) = await desk.reply()
        assert after != scene

    on_stage(stage, body)


@pytest.mark.parametrize(
    ("address", "error"),
    [
        ("/showctl/scene/nowhere", "the show has no scene 'nowhere'; its scenes are: a, b, c"),
        ("/showctl/event/nothing", f"the show has no event or input 'nothing'; {HAS}"),
        ("/showctl/input/window", f"the show has no event or input 'input:window'; {HAS}"),
        ("/showctl/event/goto:b", f"the show has no event or input 'goto:b'; {HAS}"),
        ("/showctl/explode", UNKNOWN.format("/showctl/explode")),
        ("/lights/go", UNKNOWN.format("/lights/go")),
        # Patterns are not expanded: this is not a GO, a reset and a pause at once.
        ("/showctl/*", UNKNOWN.format("/showctl/*")),
        ("/showctl/scene/*", "the show has no scene '*'; its scenes are: a, b, c"),
        (
            "/showctl/scene/",
            "the OSC address /showctl/scene/ names no scene; add it, as in /showctl/scene/NAME",
        ),
        (
            "/showctl/event",
            "the OSC address /showctl/event names no event; add it, as in /showctl/event/NAME",
        ),
        (
            "/showctl/scene/" + "x" * (MAX_NAME + 1),
            f"goto's scene is {MAX_NAME + 1} characters long; give one of at most {MAX_NAME}",
        ),
    ],
)
def test_a_refusal_answers_one_sentence_changes_nothing_and_is_logged(
    stage: model.Show, address: str, error: str
) -> None:
    """An unknown scene, event, input or address, or a bad name: /showctl/error with the
    sentence, the show where it was, and an osc_message_refused line."""
    replies: list[tuple[str, list[Any]]] = []
    desks: list[str] = []

    async def body(room: Room, surface: OscSurface, desk: Desk) -> None:
        desks.append(desk.name)
        replies.append(await desk.ask(address))
        assert (room.scene, room.controller.entry, room.flags) == ("a", 1, set())
        assert room.controller.paused is None
        assert surface.counts == {"refused": 1}

    with capture_logs() as logs:
        on_stage(stage, body)
    assert replies == [("/showctl/error", [error])]
    refused = [e for e in logs if e["event"] == "osc_message_refused"]
    shown = address if len(address) <= 80 else address[:80] + "..."
    assert refused == [
        {
            "event": "osc_message_refused",
            "log_level": "warning",
            "address": shown,
            "sender": desks[0],
            "error": error,
        }
    ]


#: Datagrams that are not OSC, or OSC cut short.
GARBAGE = [
    b"",
    b"\x00" * 8,
    b"\x9f" + random.Random(7).randbytes(200),
    b"/\xff\x00\x00",  # python-osc raises UnicodeDecodeError for this, not its ParseError
    b"#bundle\x00\x00\x00",  # a bundle cut short
    b"/showctl/go\x00,i\x00\x00",  # a GO whose integer argument is missing
    b"/showctl/reset\x00\x00,s\x00\x00/sho",  # a reset whose string has no end
]


def test_garbage_is_dropped_unanswered_and_logged_once_a_second(stage: model.Show) -> None:
    """Datagrams that are not OSC change nothing and get no reply; the surface still answers;
    one log line a second says so, the next with the count of those not logged."""

    async def body(room: Room, surface: OscSurface, desk: Desk) -> None:
        for data in GARBAGE:
            desk.send_bytes(data)
        assert await desk.ask("/showctl/status") == (
            "/showctl/state",
            ["a", 0, json.dumps(room.controller.summary())],
        )
        assert (room.scene, room.controller.entry) == ("a", 1)
        assert surface.counts == {"garbage": len(GARBAGE), "answered": 1}
        room.clock.advance(1.0)
        desk.send_bytes(GARBAGE[0])
        await desk.ask("/showctl/status")

    with capture_logs() as logs:
        on_stage(stage, body)
    dropped = [e for e in logs if e["event"] == "osc_datagram_dropped"]
    assert [(e["garbage"], e.get("not_logged")) for e in dropped] == [
        (1, None),
        (len(GARBAGE) + 1, len(GARBAGE) - 1),
    ]


def test_a_bundle_is_handled_in_order_and_what_overflows_the_queue_is_dropped(
    stage: model.Show,
) -> None:
    """A bundle's messages are handled in their order, one reply each; beyond QUEUE_SIZE
    waiting, messages are dropped and counted, with one log line, and the surface goes on."""
    extra = 10

    async def body(room: Room, surface: OscSurface, desk: Desk) -> None:
        bundle = OscBundleBuilder(IMMEDIATELY)
        addresses = ["/showctl/scene/c", "/showctl/scene/b", "/showctl/pause"]
        addresses += ["/showctl/status"] * (QUEUE_SIZE + extra - len(addresses))
        for address in addresses:
            bundle.add_content(OscMessageBuilder(address=address).build())
        desk.send_bytes(bundle.build().dgram)
        first = [await desk.reply() for _ in range(3)]
        assert [(address, args[:2]) for address, args in first] == [
            ("/showctl/state", ["c", 0]),
            ("/showctl/state", ["b", 0]),
            ("/showctl/state", ["b", 1]),
        ]
        other = Desk(surface.port)  # the first desk's buffer may be full of replies
        try:
            assert (await other.ask("/showctl/status"))[1][:2] == ["b", 1]
        finally:
            other.close()
        assert surface.counts == {"answered": QUEUE_SIZE + 1, "dropped": extra}

    with capture_logs() as logs:
        on_stage(stage, body)
    assert len([e for e in logs if e["event"] == "osc_messages_dropped"]) == 1


def test_a_flood_leaves_the_show_as_it_was_and_the_surface_answering(stage: model.Show) -> None:
    """5000 unknown events as fast as they can be sent: the show does not move, the log gets
    at most REFUSALS_LOGGED refusal lines a second, and a desk is answered afterwards."""

    async def body(room: Room, surface: OscSurface, desk: Desk) -> None:
        for i in range(5000):
            desk.send(f"/showctl/event/nonsense-{i}")
            if i % 50 == 0:
                await asyncio.sleep(0)  # let the surface take some while the flood goes on
        other = Desk(surface.port)
        try:
            for _ in range(20):  # as a desk would: the socket's buffer may be full
                other.send("/showctl/status")
                try:
                    reply = await other.reply(timeout=0.25)
                    break
                except TimeoutError:
                    continue
            else:
                pytest.fail("the surface does not answer after the flood")
        finally:
            other.close()
        assert reply == ("/showctl/state", ["a", 0, json.dumps(room.controller.summary())])
        assert (room.scene, room.controller.entry) == ("a", 1)
        assert surface.counts["refused"] > REFUSALS_LOGGED

    with capture_logs() as logs:
        on_stage(stage, body)
    refused = [e for e in logs if e["event"] == "osc_message_refused"]
    assert len(refused) == REFUSALS_LOGGED


def test_a_bug_in_an_action_is_logged_answered_and_the_surface_goes_on(
    stage: model.Show, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception from the controller (a bug) is logged with its traceback and answered
    with /showctl/error; the next message is answered as usual."""

    async def broken(scene: str) -> None:
        raise RuntimeError("boom")

    async def body(room: Room, surface: OscSurface, desk: Desk) -> None:
        monkeypatch.setattr(room.controller, "goto", broken)
        assert await desk.ask("/showctl/scene/b") == (
            "/showctl/error",
            ["showctl failed to handle /showctl/scene/b; its log says why"],
        )
        assert (await desk.ask("/showctl/status"))[1][0] == "a"

    with capture_logs() as logs:
        on_stage(stage, body)
    failed = [e for e in logs if e["event"] == "osc_message_failed"]
    assert [(e["log_level"], e["exc_info"]) for e in failed] == [("error", True)]


def test_a_taken_port_raises_and_close_frees_the_port_and_may_be_repeated(
    stage: model.Show,
) -> None:
    """start() raises OSError when the port is taken (the caller decides); close() may be
    called before start and twice, and once it returns the port can be bound again."""

    async def main() -> None:
        async with Room(stage) as room:
            first = OscSurface(OscSettings(port=0), room.controller)
            await first.start()
            port = first.port
            second = OscSurface(OscSettings(port=port), room.controller)
            with pytest.raises(OSError, match="in use"):
                await second.start()
            await second.close()
            await first.close()
            await first.close()
            assert first.port == 0
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
                again.bind(("127.0.0.1", port))

    asyncio.run(main())


def test_a_command_s_arguments_come_one_word_each_and_the_last_may_be_a_string_argument(
    tmp_path: Path,
) -> None:
    """``/showctl/add-time/game/-2min``: the clock, then the time; ``/showctl/hint-text`` with
    the text as the message's string argument (a desk's text field); one left out is named."""
    write_wav(tmp_path / "media" / "tone.wav", seconds=1.0)
    path = tmp_path / "clocked.yaml"
    path.write_text(
        STAGE.replace(
            "scenes:\n",
            "clocks:\n  game: {length: 1h}\nhints:\n  map: {text: Upside down.}\nscenes:\n",
        )
        + "      - {event: game-end, to: a}\n"
    )

    async def body(room: Room, surface: OscSurface, desk: Desk) -> None:
        reply, _ = await desk.ask("/showctl/add-time/game/-2min")
        assert reply == "/showctl/state"
        assert room.controller.status()["clocks"]["game"]["left"] == 3480.0
        builder = OscMessageBuilder("/showctl/hint-text")
        builder.add_arg("Look under the rug, twice/thrice.")
        desk.send_bytes(builder.build().dgram)
        reply, _ = await desk.reply()
        assert reply == "/showctl/state"
        reply, _ = await desk.ask("/showctl/hint/map")
        assert [h["text"] for h in room.controller.status()["hints"]] == [
            "Look under the rug, twice/thrice.",
            "Upside down.",
        ]
        assert await desk.ask("/showctl/add-time/game") == (
            "/showctl/error",
            [
                "the OSC address /showctl/add-time/game names no time; add it, as in "
                "/showctl/add-time/CLOCK/TIME"
            ],
        )

    on_stage(loader.load(path), body)
