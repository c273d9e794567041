# ruff: noqa: E501  (the transition table below is as wide as it renders)
"""The show as a transitions state machine: the table, conditions, actions, internal moves."""

from __future__ import annotations

import asyncio
from pathlib import Path

from showctl.machine import ShowState, build_machine, render_table
from showctl.show import loader
from tests.conftest import ROOT

run = asyncio.run

ESCAPE_ROOM = loader.load(ROOT / "shows" / "escape-room.yaml")

ESCAPE_ROOM_TABLE = """\
from       trigger           when                              do                            to
idle       input:door        -                                 set door_closed, sound creak  (stay)
idle       input:start       door_closed                       -                             intro
intro      audio_end:room    -                                 -                             puzzles
intro      event:time-up     -                                 -                             game-over
puzzles    input:gears       -                                 set gears_solved              (stay)
puzzles    input:portrait    -                                 set portrait_solved           (stay)
puzzles    flags_changed     gears_solved and portrait_solved  -                             finale
puzzles    after:3           not gears_solved and hints == 0   hint gears                    (stay)
puzzles    event:time-up     -                                 -                             game-over
finale     audio_end:room    -                                 -                             reset
game-over  audio_end:room    -                                 -                             reset
reset      event:room-ready  -                                 -                             idle"""


def test_escape_room_table() -> None:
    """The machine is data: this is every state and transition of the escape room."""
    assert render_table(ESCAPE_ROOM) == ESCAPE_ROOM_TABLE


def test_conditions_and_actions() -> None:
    state = ShowState()
    build_machine(ESCAPE_ROOM, state)
    assert state.scene == "idle"
    run(state.trigger("input:start"))
    assert state.scene == "idle", "the start button does nothing while the door is open"
    run(state.trigger("input:door"))
    assert (state.scene, state.flags) == ("idle", {"door_closed"})
    run(state.trigger("input:start"))
    assert state.scene == "intro"
    run(state.trigger("input:gears"))
    assert state.flags == {"door_closed"}, "intro does not listen to the puzzles"
    run(state.trigger("audio_end:room"))
    run(state.trigger("input:gears"))
    run(state.trigger("flags_changed"))
    assert state.scene == "puzzles", "one puzzle is not enough"
    run(state.trigger("after:3"))
    assert state.scene == "puzzles", "no hint once the gears are solved"
    run(state.trigger("input:portrait"))
    run(state.trigger("flags_changed"))
    assert state.scene == "finale"
    run(state.trigger("audio_end:room"))
    assert (state.scene, state.flags) == ("reset", set()), "reset clears every flag on entry"


def test_toggle(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "version: 1\ninitial: a\nflags: [lit]\nscenes:\n  a:\n    transitions:\n"
        "      - {event: flip, do: {toggle: lit}}\n      - {event: go, when: lit, to: a}\n"
    )
    state = ShowState()
    build_machine(loader.load(path), state)
    for expected in ({"lit"}, set(), {"lit"}):
        run(state.trigger("event:flip"))
        assert state.flags == expected


def test_counters_count_compare_and_zero(tmp_path: Path) -> None:
    """Three wrong answers open the hint; the right one zeroes the count."""
    path = tmp_path / "t.yaml"
    path.write_text(
        "version: 1\ninitial: a\ncounters: [wrong]\nscenes:\n  a:\n    transitions:\n"
        "      - {event: wrong, do: {count: wrong}}\n"
        "      - {when: wrong >= 3, to: hint}\n"
        "      - {event: right, do: {zero: wrong}}\n"
        "  hint:\n    transitions: [{event: back, to: a}]\n"
    )
    state = ShowState()
    build_machine(loader.load(path), state)
    run(state.trigger("event:wrong"))
    run(state.trigger("event:wrong"))
    run(state.trigger("flags_changed"))
    assert (state.scene, state.counters) == ("a", {"wrong": 2})
    run(state.trigger("event:right"))
    assert state.counters == {"wrong": 0}
    for _ in range(3):
        run(state.trigger("event:wrong"))
    run(state.trigger("flags_changed"))
    assert state.scene == "hint"
