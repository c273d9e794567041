"""Game clocks on the controller's fake clock: across scenes, at zero, bent by the game master,
still while paused, through a restart and a reload, and read by conditions."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from showctl import saved_state
from showctl.show import loader, model
from tests.harness.room import Room, play

SHOW = """\
version: 1
initial: lobby
media: media
restart: resume
outputs:
  room: {device: "hw:CARD=a"}
inputs:
  button: {line: 3}
clocks:
  game: {length: 60s, at_zero: time-up}
scenes:
  lobby:
    transitions:
      - {input: button, to: play}
  play:
    on_enter: {start_clock: game}
    transitions:
      - {event: penalty, do: {add_time: game, time: -10s}}
      - {event: won, do: {stop_clock: game}, to: won}
      - {when: "game < 20s", to: hurry}
      - {event: time-up, to: over}
  hurry:
    transitions:
      - {event: time-up, to: over}
      - {event: won, do: {stop_clock: game}, to: won}
  over:
    on_enter: {reset_clock: game}
  won: {}
"""


@pytest.fixture
def show(tmp_path: Path) -> model.Show:
    (tmp_path / "media").mkdir()
    path = tmp_path / "clocks.yaml"
    path.write_text(SHOW)
    return loader.load(path)


def left(room: Room) -> float:
    return float(room.controller.status()["clocks"]["game"]["left"])


def test_the_clock_runs_across_scenes_and_its_end_fires_once(show) -> None:
    async def body(room: Room) -> None:
        assert room.controller.status()["clocks"] == {
            "game": {"left": 60.0, "running": False, "length": 60.0}
        }
        await room.press("button")  # into play: the clock starts
        assert room.scene == "play"
        await room.wait(39.5)  # and 0.2 s of the press: 20.3 s left
        assert room.scene == "play", "not below 20 s yet"
        await room.wait(0.5)
        assert room.scene == "hurry", "the clock passing 20 s left moved the show"
        assert 19.0 < left(room) < 20.0
        await room.wait(20)
        assert room.scene == "over"

    with capture_logs() as logs:
        play(show, body)
    zero = [e for e in logs if e["event"] == "clock_at_zero"]
    assert zero == [
        {"event": "clock_at_zero", "clock": "game", "fires": "time-up", "log_level": "info"}
    ]


def test_the_game_master_bends_the_clock_and_each_change_is_logged(show) -> None:
    async def body(room: Room) -> None:
        c = room.controller
        await room.press("button")
        answer = await c.add_time("game", "5min")
        assert answer["ok"]
        assert answer["clocks"]["game"]["left"] == pytest.approx(359.8, abs=0.1)
        await c.stop_clock("game")
        await room.wait(10)
        assert left(room) == pytest.approx(359.8, abs=0.1), "a stopped clock stands"
        await c.start_clock("game")
        await room.wait(1)
        assert left(room) == pytest.approx(358.8, abs=0.1)
        # More taken than is left: zero at once, and its end fires once.
        await c.add_time("game", "-1h")
        await room.wait(0.2)
        assert room.scene == "over"
        refused = await c.add_time("game", "five minutes")
        assert refused["refused"] == "bad_argument"
        assert "'five minutes' is not a time" in refused["error"]
        unknown = await c.stop_clock("gmae")
        assert unknown["refused"] == "unknown_name"
        assert unknown["error"].endswith("its clocks are: game")

    with capture_logs() as logs:
        play(show, body)
    changes = [
        (e["event"], e.get("added"), e["source"])
        for e in logs
        if e["event"].startswith("clock_") and "source" in e
    ]
    assert changes == [
        ("clock_started", None, "show"),
        ("clock_time_added", 300.0, "command"),
        ("clock_stopped", None, "command"),
        ("clock_started", None, "command"),
        ("clock_time_added", -3600.0, "command"),
        ("clock_reset", None, "show"),  # the over scene's own action
    ]
    assert len([e for e in logs if e["event"] == "clock_at_zero"]) == 1


def test_time_taken_past_a_compared_time_moves_the_show_too(show) -> None:
    async def body(room: Room) -> None:
        await room.press("button")
        await room.wait(25)  # 35 s left
        room.controller.fire("event:penalty", "test")
        await room.wait(0.1)
        assert room.scene == "play", "25 s left"
        room.controller.fire("event:penalty", "test")
        await room.wait(0.1)
        assert room.scene == "hurry", "15 s left: below 20 s"

    play(show, body)


def test_the_clock_stands_still_while_the_show_is_paused(show) -> None:
    async def body(room: Room) -> None:
        c = room.controller
        await room.press("button")
        await room.wait(10)
        await c.pause()
        before = left(room)
        assert not c.status()["clocks"]["game"]["running"]
        await room.wait(100)
        assert left(room) == before
        refused = await c.start_clock("game")
        assert refused["refused"] == "not_now"
        await c.resume()
        await room.wait(5)
        assert left(room) == pytest.approx(before - 5, abs=0.1)
        assert room.scene == "play"

    play(show, body)


def test_a_restart_neither_gives_nor_takes_time(show, tmp_path) -> None:
    saved = tmp_path / "state.json"
    key = str(show.path.resolve())

    async def first(room: Room) -> None:
        await room.press("button")
        await room.wait(10)

    play(show, first, state_path=saved)
    before = saved_state.load(saved, key)
    assert before is not None
    assert before.clocks["game"]["running"] is True

    async def after(room: Room) -> None:
        # 15 s after the clock started (10 s with showctl, then down): the game in the room
        # went on, and so did its clock.
        assert room.scene == "play"
        assert left(room) == pytest.approx(60 - 15, abs=0.1)
        assert room.controller.status()["clocks"]["game"]["running"]

    # The clock was saved as it started; the Room's fake clock starts at 1000.
    wall = float(before.clocks["game"]["at"]) + 15 - 1000.0
    play(show, after, state_path=saved, wall_offset=wall)

    async def long_after(room: Room) -> None:
        assert room.scene == "over", "its zero came while showctl was down: fired at the start"

    play(show, long_after, state_path=saved, wall_offset=wall + 3600)


def test_a_reload_keeps_the_clocks_time(show) -> None:
    async def body(room: Room) -> None:
        c = room.controller
        await room.press("button")
        await room.wait(10)
        show.path.write_text(SHOW.replace("length: 60s", "length: 90s"))
        assert (await c.reload(now=True))["ok"]
        assert left(room) == pytest.approx(49.8, abs=0.2)
        assert c.status()["clocks"]["game"]["length"] == 90.0

    play(show, body)
