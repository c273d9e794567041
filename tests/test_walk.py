"""The walk: a person can watch a show's flow, scene by scene, without hardware."""

from __future__ import annotations

import asyncio

import pytest
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
    logs = run(DEMO, steps=4)
    assert scenes_entered(logs) == ["tides", "chorus", "tides", "chorus"]
    plays = [e for e in logs if e["event"] == "output_plays" and e["scene"] == "chorus"]
    assert {e["output"] for e in plays} == set(DEMO.outputs)
    assert all(e["seconds"] == 4.0 and e["loop"] is False for e in plays)
    fired = [(e["scene"], e["trigger"], e["at"]) for e in logs if e["event"] == "trigger_fired"]
    assert fired[:2] == [("tides", "after:0", 30.0), ("chorus", "audio_end:all", 4.0)]


def test_escape_room_walks_to_the_finale_and_round_again() -> None:
    logs = run(ESCAPE_ROOM, steps=6)
    assert scenes_entered(logs) == ["idle", "intro", "puzzles", "finale", "reset", "idle"]
    changed = [(e["flag"], e["value"]) for e in logs if e["event"] == "flag_changed"]
    assert changed[:3] == [("door_closed", True), ("gears_solved", True), ("portrait_solved", True)]


def test_plan_orders_triggers_in_time() -> None:
    steps = plan(ESCAPE_ROOM, ESCAPE_ROOM.scenes["puzzles"], pause=3.0)
    assert [(s.at, s.trigger, s.simulated) for s in steps] == [
        (3.0, "input:gears", True),
        (6.0, "input:portrait", True),
        (240.0, "after:3", False),
        (900.0, "after:4", False),
    ]


def test_walk_keeps_to_absolute_deadlines() -> None:
    """At speed 100, the chorus (4 s of audio) takes 40 ms of loop time, not more per step."""

    async def timed() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await walk(DEMO, speed=100, steps=2)
        return loop.time() - start

    with capture_logs():
        elapsed = asyncio.run(timed())
    assert elapsed == pytest.approx(0.34, abs=0.3)  # 30 s + 4 s at 100x; loose: shared machines


def test_describe_program() -> None:
    cue = DEMO.scenes["tides"].leds[2]
    assert describe_program(cue.program) == "forever(sequence(cycle inner, hold 1.0))"
