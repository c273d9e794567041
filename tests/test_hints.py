"""Hints on the controller's fake clock: given by the game master (named or typed) and by the
show, counted in the built-in counter ``hints`` that conditions read, their clips played over
the room's sound, kept through a restart and cleared by a reset."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from showctl import saved_state
from showctl.show import loader, model
from showctl.testing import write_wav
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
hints:
  gears: {text: The third gear turns the other way., clip: whisper.wav, output: room, gain: -6}
  map: {text: Look at the map upside down.}
  knock: {clip: whisper.wav, output: room}
scenes:
  lobby:
    transitions:
      - {input: button, to: play}
  play:
    audio: {room: {clip: music.wav, loop: true}}
    timeline:
      - {at: 30s, hint: map}
    transitions:
      - {when: "hints >= 3", to: helped}
      - {event: stuck, do: {hint: gears}}
      - {event: new-game, do: {zero: hints}}
  helped: {}
"""


@pytest.fixture
def show(tmp_path: Path) -> model.Show:
    write_wav(tmp_path / "media" / "music.wav", seconds=1.0)
    write_wav(tmp_path / "media" / "whisper.wav", seconds=0.5)
    path = tmp_path / "hints.yaml"
    path.write_text(SHOW)
    return loader.load(path)


def given(room: Room) -> list[tuple[str | None, str, int]]:
    return [(h["name"], h["text"], h["count"]) for h in room.controller.status()["hints"]]


def test_hints_are_counted_kept_and_read_by_conditions(show) -> None:
    async def body(room: Room) -> None:
        c = room.controller
        await room.press("button")
        answer = await c.hint("gears")
        assert answer["ok"]
        assert answer["counters"] == {"hints": 1}
        assert [(e.output, e.clip.name, round(e.gain, 3)) for e in room.outputs.effects] == [
            ("room", "whisper.wav", 0.501)
        ], "its clip plays over the room's music at its gain (-6 dB)"
        answer = await c.hint_text("  Count the portholes.  ")
        assert answer["counters"] == {"hints": 2}
        assert len(room.outputs.effects) == 1, "a typed hint has no clip"
        assert room.scene == "play"
        await room.until(30.1)  # the timeline's hint: the third, and 'hints >= 3' holds
        assert room.scene == "helped"
        assert given(room) == [
            ("gears", "The third gear turns the other way.", 1),
            (None, "Count the portholes.", 2),
            ("map", "Look at the map upside down.", 3),
        ]
        assert all(h["at"] > 1.7e9 for h in c.status()["hints"]), "wall-clock times"
        await c.reset()
        assert c.status()["counters"] == {}
        assert given(room) == []

    with capture_logs() as logs:
        play(show, body)
    assert [(e["hint"], e["count"], e["source"]) for e in logs if e["event"] == "hint_given"] == [
        ("gears", 1, "command"),
        (None, 2, "command"),
        ("map", 3, "timeline"),
    ]


def test_a_hint_of_a_transition_counts_and_its_clip_plays(show) -> None:
    async def body(room: Room) -> None:
        await room.press("button")
        room.controller.fire("event:stuck", "test")
        await room.settle()
        assert room.controller.status()["counters"] == {"hints": 1}
        assert [e.clip.name for e in room.outputs.effects] == ["whisper.wav"]
        room.controller.fire("event:new-game", "test")  # zero: hints forgets them too
        await room.settle()
        assert room.controller.status()["counters"] == {"hints": 0}
        assert given(room) == []

    play(show, body)


def test_bad_hints_are_refused_and_change_nothing(show) -> None:
    async def body(room: Room) -> None:
        c = room.controller
        unknown = await c.hint("gaers")
        assert unknown == {
            "ok": False,
            "refused": "unknown_name",
            "error": "the show has no hint 'gaers'; its hints are: gears, map, knock (or type "
            "one: hint-text)",
        }
        blank = await c.hint_text("   ")
        assert blank["refused"] == "bad_argument"
        assert blank["error"] == (
            "a hint's text is 1 to 500 characters long, not 0; type what the players should read"
        )
        assert c.status()["counters"] == {}
        assert c.status()["hints"] == []

    play(show, body)


def test_a_hint_while_paused_counts_and_its_condition_waits_for_the_resume(show) -> None:
    async def body(room: Room) -> None:
        c = room.controller
        await room.press("button")
        for _ in range(2):
            await c.hint("knock")
        await c.pause()
        await c.hint("map")
        assert room.scene == "play", "paused: nothing moves"
        await c.resume()
        assert room.scene == "helped"

    play(show, body)


def test_the_hints_given_are_kept_through_a_restart(show, tmp_path) -> None:
    saved = tmp_path / "state.json"

    async def first(room: Room) -> None:
        await room.press("button")
        await room.controller.hint("gears")
        await room.controller.hint_text("Try the red lever.")
        await room.settle()  # the state saved

    play(show, first, state_path=saved)
    state = saved_state.load(saved, str(show.path.resolve()))
    assert state is not None
    assert state.counters == {"hints": 2}

    async def after(room: Room) -> None:
        assert room.scene == "play"
        assert given(room) == [
            ("gears", "The third gear turns the other way.", 1),
            (None, "Try the red lever.", 2),
        ]
        await room.controller.hint("map")
        assert room.scene == "helped", "the count went on from 2"

    play(show, after, state_path=saved)
