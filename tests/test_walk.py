"""The walk: a person can watch a show's flow, scene by scene, without hardware, on the show
controller itself."""

from __future__ import annotations

import asyncio

from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from showctl.show import loader, model
from showctl.walk import describe_program, plan, walk
from tests.conftest import ROOT

DEMO = loader.load(ROOT / "shows" / "demo.yaml")
ESCAPE_ROOM = loader.load(ROOT / "shows" / "escape-room.yaml")


def scenes_entered(logs: list[dict[str, object]]) -> list[object]:
    return [e["scene"] for e in logs if e["event"] == "scene_entered"]


def run(walked: model.Show, steps: int) -> list[dict[str, object]]:
    with capture_logs(processors=[merge_contextvars]) as logs:
        asyncio.run(walk(walked, speed=10_000, pause=1, steps=steps))
    return logs


def test_demo_loops_between_its_scenes() -> None:
    """The timer and the end of the audio fire by themselves, as in a show."""
    logs = run(DEMO, steps=4)
    assert scenes_entered(logs) == ["tides", "chorus", "tides", "chorus", "tides"]
    plays = [e for e in logs if e["event"] == "output_plays" and e["scene"] == "chorus"]
    assert {e["output"] for e in plays} == set(DEMO.outputs)
    assert all(e["seconds"] == 4.0 and e["loop"] is False for e in plays)
    fired = [(e["scene"], e["trigger"], e["source"]) for e in logs if e["event"] == "trigger_fired"]
    assert fired[:2] == [("tides", "after:0", "timer"), ("chorus", "audio_end:all", "audio")]
    assert all(e["show"] == DEMO.title for e in logs if e["event"] == "output_plays")


def test_escape_room_walks_to_the_finale_and_round_again() -> None:
    """The walk presses the inputs, and the flags they set open the way."""
    logs = run(ESCAPE_ROOM, steps=6)
    assert scenes_entered(logs)[:6] == ["idle", "intro", "puzzles", "finale", "reset", "idle"]
    changed = [(e["flag"], e["value"]) for e in logs if e["event"] == "flag_changed"]
    assert changed[:3] == [("door_closed", True), ("gears_solved", True), ("portrait_solved", True)]
    pressed = [e["trigger"] for e in logs if e["event"] == "walk_pressed"]
    assert pressed[:2] == ["input:door", "input:start"]


def test_a_stuck_scene_is_reset_as_reset_does(tmp_path) -> None:
    """A scene whose only way out needs a flag nothing sets: the walk resets the show, which
    clears the counters too and runs the initial scene's enter actions, as ``reset`` does."""
    from showctl.testing import write_wav

    write_wav(tmp_path / "tone.wav")
    (tmp_path / "stuck.yaml").write_text(
        "version: 1\ninitial: a\nmedia: .\noutputs: {o: {device: x}}\n"
        "flags: [never, entered]\ncounters: [visits]\n"
        "scenes:\n"
        "  a:\n    audio: {o: {clip: tone.wav, loop: true}}\n"
        "    on_enter: [{set: entered}, {count: visits}]\n"
        "    transitions: [{event: go, to: b}]\n"
        "  b:\n    audio: {o: {clip: tone.wav, loop: true}}\n"
        "    on_enter: [{clear: entered}]\n"
        "    transitions: [{event: out, when: never, to: a}]\n"
    )
    logs = run(loader.load(tmp_path / "stuck.yaml"), steps=3)
    assert scenes_entered(logs)[:3] == ["a", "b", "a"]
    assert [e["scene"] for e in logs if e["event"] == "walk_stuck"] == ["b"]
    assert "show_reset" in [e["event"] for e in logs]
    counted = [e["value"] for e in logs if e["event"] == "counter_changed"]
    assert counted[:2] == [1, 1], "reset zeroed the counter, and a's enter actions ran again"


def test_plan_orders_triggers_in_time_and_leaves_a_clock_s_end_to_the_clock() -> None:
    steps = plan(ESCAPE_ROOM, ESCAPE_ROOM.scenes["puzzles"], pause=3.0)
    assert [(s.at, s.trigger, s.pressed) for s in steps] == [
        (3.0, "input:gears", True),
        (6.0, "input:portrait", True),
        (240.0, "after:3", False),
    ], "event:time-up is the game clock's to fire, not the walk's"


def test_describe_program() -> None:
    cue = DEMO.scenes["tides"].leds[2]
    assert describe_program(cue.program) == "forever(sequence(cycle inner, hold 1.0))"
