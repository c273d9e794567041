"""Cue programs on the scene timeline: what is lit when, to the exact time, with no clock."""

from __future__ import annotations

import pytest

from showctl.errors import ProgramError
from showctl.leds.programs import Schedule, timeline
from showctl.leds.view import text
from showctl.show.model import (
    All,
    Blink,
    Cue,
    Cycle,
    First,
    Forever,
    Frames,
    Hold,
    Matrix,
    Off,
    On,
    Sequence,
)

MATRIX = Matrix(lines=((0, 1, 2), (3, 4, 5)), names={"a": (0, 0), "b": (0, 1), "c": (0, 2)})


def table(*cues: Cue, until: float = 10.0) -> dict[float, str]:
    """Every frame by its time, as text: ``#`` lit, ``.`` dark, rows joined by ``/``."""
    return {round(t, 6): "/".join(text(frame)) for t, frame in timeline(MATRIX, cues, until)}


def test_blink_count_on_exact_times_and_ends_dark() -> None:
    assert table(Cue(Blink(("a",), 0.25, count=2), at=1.0)) == {
        0.0: ".../...",
        1.0: "#../...",
        1.25: ".../...",
        1.5: "#../...",
        1.75: ".../...",
    }


def test_sequence_runs_one_after_another() -> None:
    program = Sequence((Blink(("a",), 0.1, count=1), Hold(0.3), On(("row 1",))))
    assert table(Cue(program)) == {0.0: "#../...", 0.1: ".../...", 0.5: ".../###"}


def test_all_runs_side_by_side_and_ends_with_the_last() -> None:
    program = Sequence(
        (All((Blink(("a",), 0.1, count=1), Blink(("b",), 0.2, count=1))), On(("c",)))
    )
    # b's blink is on for 0.2 s and off for 0.2 s: the sequence goes on at 0.4.
    assert table(Cue(program)) == {0.0: "##./...", 0.1: ".#./...", 0.2: ".../...", 0.4: "..#/..."}


def test_first_cancels_the_others_and_their_leds_go_dark() -> None:
    """A blink forever, cut short by a hold: the first to finish ends it, mid-blink."""
    program = Sequence((First((Blink(("a",), 0.2), Hold(0.3))), On(("b",))))
    assert table(Cue(program)) == {0.0: "#../...", 0.2: ".../...", 0.3: ".#./..."}


def test_first_with_a_program_that_ends_at_once() -> None:
    program = First((On(("a",)), Blink(("b",), 0.1)))
    assert table(Cue(program)) == {0.0: "#../..."}


def test_cycle_lights_one_led_after_another() -> None:
    assert table(Cue(Cycle(("row 0",), 0.1, count=1))) == {
        0.0: "#../...",
        0.1: ".#./...",
        0.2: "..#/...",
        0.3: ".../...",
    }


def test_forever_repeats_on_the_programs_own_times() -> None:
    frames = table(Cue(Forever(Sequence((On(("a",)), Hold(0.5), Off(("a",)), Hold(0.5))))))
    assert frames[0.0] == "#../..."
    assert frames[0.5] == ".../..."
    assert frames[9.0] == "#../..."
    assert len(frames) == 21  # 0 to 10 s, both included


def test_forever_of_a_program_taking_no_time_is_refused() -> None:
    schedule = Schedule(MATRIX, (Cue(Forever(On(("a",)))),))
    with pytest.raises(ProgramError, match="takes no time"):
        schedule.advance(0.0)


def test_frames_show_bitmaps_and_loop() -> None:
    program = Frames(("#..\n...", ".#.\n..#"), interval=0.5, loop=True)
    frames = table(Cue(program), until=2.0)
    assert frames == {
        0.0: "#../...",
        0.5: ".#./..#",
        1.0: "#../...",
        1.5: ".#./..#",
        2.0: "#../...",
    }


def test_times_do_not_accumulate_error_over_hours() -> None:
    """A 7 ms blink for two hours: the last edge falls on its ideal time, to the nanosecond."""
    interval, count = 0.007, 514_285  # two hours
    schedule = Schedule(MATRIX, (Cue(Blink(("a",), interval, count=count)),))
    last = 0.0
    while (t := schedule.next_time()) is not None:
        schedule.advance(t)
        last = t
    assert last == pytest.approx(2 * count * interval, abs=1e-9)
