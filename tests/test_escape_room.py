"""The escape room, end to end: played through every scene by simulated props and time.

The controller, its state machine, the input watcher and the LED player are the real ones; the
props are simulated GPIO inputs, the clock a fake one moved by the script, and the outputs
remember what they were told to play (see tests/harness/room.py).
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

from pythonosc.osc_message import OscMessage
from structlog.testing import capture_logs

from showctl import saved_state
from showctl.room.messages import Messages
from showctl.show import loader
from showctl.show.model import Relay
from tests.conftest import ROOT
from tests.harness.room import Room

ESCAPE_ROOM = loader.load(ROOT / "shows" / "escape-room.yaml")
PENDULUM = (1, 1)
GEARS_LAMP, PORTRAIT_LAMP = (0, 0), (0, 2)


async def idle(room: Room) -> None:
    """The room waits: the hum loops, the pendulum lamp blinks once a second."""
    assert room.scene == "idle"
    assert room.played("room") == ["hum.wav"]
    assert room.outputs.plays[0].loop
    await room.until(0.5)
    assert room.lit()[PENDULUM]
    assert room.lit().sum() == 1
    await room.wait(1.0)
    assert not room.lit().any()


async def won_game(room: Room) -> None:
    """The first game: won, with a hint the clock whispered by itself on the way."""
    c = room.controller
    await idle(room)

    await room.press("start")
    assert room.scene == "idle", "the start button does nothing while the door is open"
    await room.press("door")
    assert (room.scene, room.flags) == ("idle", {"door_closed"})
    creak = room.outputs.effects[-1]
    assert (creak.output, creak.clip.name) == ("room", "creak.wav"), "the door creaks shut"
    assert room.controller.state_path is not None
    saved = saved_state.load(room.controller.state_path, str(ESCAPE_ROOM.path.resolve()))
    assert saved is not None
    assert saved.flags == {"door_closed"}, "every change is saved"
    assert not room.powered("door-lock")
    await room.press("start")
    assert room.scene == "intro"
    assert room.played("room")[-1] == "intro.wav"
    assert room.powered("door-lock"), "the game runs with the door held"
    assert "hint" in [o for _, o in room.outputs.stops], "the hint speaker is silent"

    await room.press("gears")
    assert room.flags == {"door_closed"}, "the intro does not listen to the puzzles"
    assert c.counts["ignored"] == 1

    # intro.wav is 5 s: its end leads to the puzzles
    await room.wait(5.5)
    assert room.scene == "puzzles"
    assert room.played("room")[-1] == "puzzles.wav"

    # 4 minutes with the gears unsolved and no hint given: the clock whispers the gears' hint
    # over the ticking, and the players' screen reads it
    await room.wait(240)
    assert room.scene == "puzzles"
    whisper = room.outputs.effects[-1]
    assert (whisper.output, whisper.clip.name) == ("hint", "hint.wav")
    assert c.status()["counters"] == {"hints": 1}
    assert [h["name"] for h in c.status()["hints"]] == ["gears"]

    await room.press("gears")
    assert room.scene == "puzzles"
    await room.press("portrait")
    assert room.scene == "finale", "both puzzles solved"
    await room.until(0.25)  # the third 100 ms blink: on
    lit = room.lit()
    assert lit[GEARS_LAMP]
    assert lit[PORTRAIT_LAMP]
    assert lit[PENDULUM]

    await finale_opens(room)
    await room.wait(1.5)
    assert (room.scene, room.flags) == ("reset", set())
    assert clock(room) == {"left": 3600.0, "running": False, "length": 3600.0}
    assert (c.status()["counters"], c.status()["hints"]) == ({"hints": 0}, []), "a new game"
    await room.wait(0.2)
    assert room.lit().all(), "the room lights up for the game master"

    answer = await c.trigger("room-ready")
    assert answer["ok"]
    assert room.scene == "idle"


async def finale_opens(room: Room) -> None:
    """The drawer's solenoid: a 500 ms pulse at the clock's strike (2 s); the door at 4 s. The
    game clock stands meanwhile: its time left is the team's score."""
    score = clock(room)
    assert not score["running"]
    await room.until(1.95)
    assert not room.powered("drawer")
    await room.until(2.0)
    assert room.powered("drawer")
    await room.until(2.45)
    assert room.powered("drawer")
    await room.until(2.5)
    assert not room.powered("drawer")
    assert room.powered("door-lock")
    await room.until(4.0)
    assert not room.powered("door-lock")
    assert clock(room) == score


def clock(room: Room) -> dict[str, float]:
    return dict(room.controller.status()["clocks"]["game"])


async def lost_game(room: Room) -> None:
    """The second game: the game master sends the portrait's hint after a minute, so the clock
    whispers none; the players never solve the gears and run out of time, which the game
    master shortens by 45 minutes (a penalty)."""
    c = room.controller
    await room.press("door")
    await room.press("start")
    assert clock(room) == {"left": 3599.8, "running": True, "length": 3600.0}, "a new hour"
    await room.wait(5.5)
    await room.wait(60)
    assert (await c.hint("portrait"))["counters"] == {"hints": 1}
    whispers = len(room.outputs.effects)
    await room.wait(190)
    assert room.scene == "puzzles"
    assert len(room.outputs.effects) == whispers, "a hint was given: the clock whispers none"
    assert [h["name"] for h in c.status()["hints"]] == ["portrait"]
    assert (await c.add_time("game", "-45min"))["ok"]
    await room.wait(clock(room)["left"] - 0.1)
    assert room.scene == "puzzles"
    await room.wait(0.2)
    assert room.scene == "game-over", "the clock at zero"
    assert clock(room)["left"] == 0
    assert not room.powered("door-lock"), "time is up: the door opens"
    await room.until(0.6)
    assert room.lit().all(), "every LED blinks on together"
    await room.wait(3.5)
    assert room.scene == "reset"


def test_the_room_played_through_every_scene(tmp_path: Path) -> None:
    """Two games: one won (with a hint on the way), one lost on time; each scene checked for
    its flags, what every output plays, and its lights."""
    saved = tmp_path / "saved_state.json"

    async def play() -> Room:
        async with Room(ESCAPE_ROOM, state_path=saved) as room:
            await won_game(room)
            await lost_game(room)
        return room

    room = asyncio.run(play())
    entered = [p.clip.name for p in room.outputs.plays if p.output == "room"]
    assert entered == [
        "hum.wav",
        "intro.wav",
        "puzzles.wav",
        "finale.wav",
        "hum.wav",
        "intro.wav",
        "puzzles.wav",
        "game-over.wav",
    ]
    assert room.played("hint") == [], "the hint speaker only whispers hints, over silence"
    assert [e.clip.name for e in room.outputs.effects if e.output == "hint"] == ["hint.wav"]


def test_the_room_declares_its_relays_with_their_safe_states() -> None:
    """Both safe unpowered (the maglock is fail-safe); the solenoid has its longest on-time."""
    relays = ESCAPE_ROOM.relays
    assert relays["door-lock"] == Relay(line=4, active_low=True, safe="unpowered")
    assert relays["drawer"] == Relay(line=7, active_low=True, safe="unpowered", max_on=2.0)


def test_the_panic_button_releases_the_door_at_once_and_holds_it_until_all_clear() -> None:
    """Pressed mid-game, the panic button unpowers the maglock before any queued trigger is
    handled; the show goes on, but nothing (the show, the game master) can power the lock
    until the all-clear."""

    async def play() -> None:
        async with Room(ESCAPE_ROOM) as room:
            c = room.controller
            await room.press("door")
            await room.press("start")
            assert room.powered("door-lock")
            chip = room.gpio.chip("gpiochip0")
            assert chip.level(4) is False  # active low: powered
            room.inputs("panic").press(18)
            await asyncio.sleep(0)  # the edge handed over, the queue not yet handled
            await asyncio.sleep(0)
            assert not room.powered("door-lock")
            assert chip.level(4) is True
            await room.settle()
            status = c.status()
            assert status["emergency"] == "input 'panic' from gpio"
            assert status["relays"] == {"door-lock": False, "drawer": False}
            refused = await c.power("door-lock")
            assert refused["refused"] == "not_now"
            assert "clear it first (all-clear)" in refused["error"]
            await c.goto("intro")  # its on_enter powers the lock: dropped, and said
            assert not room.powered("door-lock")
            assert (await c.all_clear())["emergency"] is None
            assert (await c.all_clear())["refused"] == "not_now"
            assert not room.powered("door-lock"), "the all-clear leaves every relay safe"
            assert (await c.power("door-lock"))["relays"]["door-lock"] is True

    asyncio.run(play())


def test_the_fire_panel_s_event_releases_the_room_even_though_no_scene_takes_it() -> None:
    async def play() -> None:
        async with Room(ESCAPE_ROOM) as room:
            c = room.controller
            await c.goto("intro")
            assert room.powered("door-lock")
            answer = await c.trigger("fire-alarm")
            assert answer["ok"]
            assert answer["emergency"] == "event 'fire-alarm' from control"
            assert not room.powered("door-lock")
            assert c.counts["unknown"] == 0

    asyncio.run(play())


def test_a_scene_left_early_drops_its_timeline_but_a_pulse_begun_ends() -> None:
    async def play() -> None:
        async with Room(ESCAPE_ROOM) as room:
            c = room.controller
            await c.goto("finale")
            await room.until(2.1)
            assert room.powered("drawer")
            await c.goto("puzzles")  # the game master jumps back: 4 s's unlock never comes
            await room.wait(0.5)
            assert not room.powered("drawer"), "the pulse ends on time"
            await c.power("door-lock")
            await room.wait(3)
            assert room.powered("door-lock")

    asyncio.run(play())


def test_the_fault_state_puts_every_relay_safe() -> None:
    async def play() -> None:
        async with Room(ESCAPE_ROOM) as room:
            c = room.controller
            await c.goto("intro")
            assert room.powered("door-lock")
            room.outputs.fail("room")
            room.outputs.fail("hint")
            c.output_failed("hint", "gone")
            await room.settle()
            assert room.scene == "fault"
            assert not room.powered("door-lock")

    asyncio.run(play())


def test_a_pulse_by_hand_is_kept_to_the_relay_s_max_on() -> None:
    async def play() -> None:
        async with Room(ESCAPE_ROOM) as room:
            c = room.controller
            too_long = await c.pulse("drawer", "3s")
            assert too_long["refused"] == "not_now"
            assert "max_on, 2s" in too_long["error"]
            bad = await c.pulse("drawer", "soon")
            assert bad == {
                "ok": False,
                "refused": "bad_argument",
                "error": "pulse's duration 'soon' is not a time from 10ms to 24h; give one such "
                "as '500ms' or '2s'",
            }
            unknown = await c.power("drawr")
            assert unknown["error"] == (
                "the show has no relay 'drawr'; its relays are: door-lock, drawer"
            )
            assert (await c.pulse("drawer", "300ms"))["relays"]["drawer"] is True
            await room.wait(0.3)
            assert not room.powered("drawer")

    asyncio.run(play())


async def received(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """The next datagram on ``sock``, waiting for it in real time (the network's)."""
    end = time.monotonic() + timeout
    while True:
        try:
            return sock.recv(4096)
        except BlockingIOError:
            assert time.monotonic() < end, "no datagram came"
            await asyncio.sleep(0.005)


def test_the_finale_cues_the_lighting_desk_and_tells_the_chest_to_open() -> None:
    """The OSC cue leaves at the finale's T0 (to a real UDP socket standing for the desk), the
    chest's MQTT message at 2 s; a finale left before 2 s never tells the chest."""

    async def play() -> None:
        desk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        desk.bind(("127.0.0.1", 0))
        desk.setblocking(False)
        messages = Messages({"lighting-desk": ("127.0.0.1", desk.getsockname()[1])})
        published: list[tuple[str, str, int, bool, float]] = []
        async with Room(ESCAPE_ROOM, messages=messages) as room:
            messages.mqtt = lambda *message: published.append((*message, room.clock.now)) and None
            c = room.controller
            await c.goto("finale")
            t0 = c.t0
            await room.until(0.05)
            cue = OscMessage(await received(desk))
            assert (cue.address, cue.params) == ("/showctl/cue/finale", [1.0])
            assert published == []
            await room.until(2.05)
            [(*message, sent)] = published
            assert message == ["room1/props/chest/command", "open", 1, False]
            assert t0 + 2.0 <= sent < t0 + 2.06  # the first step of the fake clock past 2 s
            await c.goto("finale")
            await room.until(1.9)
            await c.goto("puzzles")  # left before 2 s: the chest is not told
            await room.wait(1)
            assert len(published) == 1
            assert c.status()["messages"]["sent"] == {"osc": 2, "mqtt": 1}
        desk.close()

    asyncio.run(play())


def test_an_emergency_during_a_scene_change_holds_whatever_the_new_scene_asks() -> None:
    """The panic button pressed while the finale is being entered (its enter actions run, its
    outputs not yet told): the lock goes safe at once, and the finale's timeline, placed
    after, switches nothing away from safe (the drawer's pulse is dropped and said)."""

    async def play() -> None:
        async with Room(ESCAPE_ROOM) as room:
            c = room.controller
            await c.goto("intro")
            assert room.powered("door-lock")
            told = asyncio.Event()
            go_on = asyncio.Event()
            play_scene = room.outputs.play

            async def slow_play(*args: Any, **kwargs: Any) -> float:
                told.set()
                await go_on.wait()  # the outputs take their time
                return await play_scene(*args, **kwargs)

            room.outputs.play = slow_play  # type: ignore[method-assign]
            entering = asyncio.create_task(c.goto("finale"))
            await told.wait()
            room.inputs("panic").press(18)
            for _ in range(3):
                await asyncio.sleep(0)
            assert not room.powered("door-lock"), "released in the middle of the change"
            go_on.set()
            await entering
            assert room.scene == "finale"
            with capture_logs() as logs:
                await room.until(4.5)
            assert room.relays is not None
            assert room.relays.powered == {"door-lock": False, "drawer": False}
            dropped = [e["relay"] for e in logs if e["event"] == "relay_change_dropped"]
            assert dropped == ["drawer"]  # the door's unpower is no change: it is safe already

    asyncio.run(play())


def test_the_game_master_runs_a_named_action_for_a_stuck_prop() -> None:
    async def play() -> None:
        published: list[tuple[str, str, int, bool]] = []
        messages = Messages({})
        async with Room(ESCAPE_ROOM, messages=messages) as room:
            messages.mqtt = lambda *message: published.append(message) and None
            c = room.controller
            answer = await c.action("open-drawer")
            assert answer["relays"]["drawer"] is True
            await room.wait(0.5)
            assert not room.powered("drawer")
            await c.action("open-chest")
            assert published == [("room1/props/chest/command", "open", 1, False)]
            unknown = await c.action("open-safe")
            assert unknown["error"] == (
                "the show has no named action 'open-safe'; its actions are: open-drawer, open-chest"
            )
            await c.emergency()
            held = await c.action("open-drawer")
            assert held["refused"] == "not_now"
            assert held["error"].startswith("'open-drawer' is refused: the emergency release")
            assert not room.powered("drawer")
            await c.action("open-chest")  # no relay in it: the message goes
            assert len(published) == 2

    asyncio.run(play())
