"""The calibration file beside a show: what ``showctl calibrate --write`` stores, what a running
show takes from it (and, at a reload, again), and every way it can fail to fit the show, each
named and that output left untrimmed; and the verdicts of a measurement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from showctl.calibration import session, stored
from showctl.calibration.estimate import Arrival, Measured
from showctl.show import loader, model
from tests.harness.room import Room, play

SHOW = """\
version: 1
initial: a
outputs:
  left: {device: "hw:CARD=a"}
  right: {device: "hw:CARD=b", delay: 1ms}
scenes:
  a: {}
"""


@pytest.fixture
def show(tmp_path: Path) -> model.Show:
    path = tmp_path / "room.yaml"
    path.write_text(SHOW)
    return loader.load(path)


def test_trims_written_are_read_back_beside_the_show(show: model.Show) -> None:
    assert stored.load_for(show) == stored.Trims(show.path.with_name("room.calibration.json"))
    written = stored.write(show, {"left": 0.0125, "right": 0.0}, "2026-12-02T03:00:00+00:00", "mic")
    assert written == show.path.with_name("room.calibration.json")
    trims = stored.load_for(show)
    assert trims.trims == {"left": 0.0125, "right": 0.0}
    assert trims.measured == "2026-12-02T03:00:00+00:00"
    assert trims.problems == ()
    assert not written.with_name(written.name + ".new").exists()


def rewrite(show: model.Show, change: dict[str, object]) -> None:
    path = stored.path_for(show.path)
    data = json.loads(path.read_text())
    data["outputs"].update(change)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"gone": {"device": "hw:CARD=c", "trim": 0.001}}, "'gone', which the show no longer has"),
        ({"left": {"device": "hw:CARD=z", "trim": 0.001}}, "'left' was calibrated on 'hw:CARD=z'"),
        ({"left": {"device": "hw:CARD=a", "trim": 1.5}}, "by 1.5s, outside 0 to 1s"),
    ],
)
def test_a_trim_that_no_longer_fits_the_show_is_named_and_not_applied(
    show: model.Show, change: dict[str, object], says: str
) -> None:
    stored.write(show, {"left": 0.002, "right": 0.0}, "then", "mic")
    rewrite(show, change)
    trims = stored.load_for(show)
    assert len(trims.problems) == 1
    assert says in trims.problems[0]
    assert "--write" in trims.problems[0]
    kept = {"right": 0.0} if "left" in change else {"left": 0.002, "right": 0.0}
    assert trims.trims == kept


def test_an_output_the_file_lacks_and_a_file_that_cannot_be_read_are_named(
    show: model.Show,
) -> None:
    stored.write(show, {"left": 0.002}, "then", "mic")
    trims = stored.load_for(show)
    assert trims.trims == {"left": 0.002}
    assert trims.problems == (
        "output 'right' is not in room.calibration.json: it plays untrimmed until calibrated "
        "again with --write",
    )
    stored.path_for(show.path).write_text("{not json")
    broken = stored.load_for(show)
    assert broken.trims == {}
    assert broken.problems[0].startswith("room.calibration.json cannot be read (JSONDecodeError")


def test_a_running_show_holds_its_outputs_back_by_the_trims_and_reads_them_again_at_a_reload(
    show: model.Show,
) -> None:
    stored.write(show, {"left": 0.0125, "right": 0.0}, "then", "mic")

    async def body(room: Room) -> None:
        c = room.controller
        assert room.outputs.trims == {"left": 0.0125, "right": 0.0}
        status = c.status()
        assert status["outputs"]["left"]["trim"] == 0.0125
        assert status["outputs"]["right"]["delay"] == 0.001
        assert status["calibration"]["measured"] == "then"
        # Calibrated again while it runs: the reload takes the new trims up, a problem logged.
        stored.write(show, {"left": 0.003}, "now", "mic")
        with capture_logs() as logs:
            await c.reload(now=True)
        assert room.outputs.trims == {"left": 0.003}
        assert c.status()["calibration"]["problems"] == [
            "output 'right' is not in room.calibration.json: it plays untrimmed until "
            "calibrated again with --write"
        ]
        assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["calibration_problem"]

    play(show, body)


def measured(offsets: dict[str, float | None], ppm: float = 3.0, apart: float = 0.0) -> Measured:
    heard = Arrival(0.0, -12.0, 40.0, 5.0)
    return Measured(offsets, ppm, dict.fromkeys(offsets, heard), apart)


def test_a_measurement_is_refused_in_one_sentence_naming_the_outputs_and_the_fix() -> None:
    quiet = -70.0
    ok = measured({"a": 0.0, "b": 0.001})
    assert session.glitch(ok, 0, "mic") is None
    assert session.problem(ok, quiet, "mic") is None
    one = measured({"a": 0.0, "b": None, "c": None})
    assert session.problem(one, quiet, "mic") == (
        "outputs 'b', 'c' not heard: unplugged, muted or dead? Check the card, the cable, the "
        "amplifier and the speaker, and measure again"
    )
    noisy = session.problem(one, -30.0, "mic")
    assert noisy is not None
    assert noisy.startswith("the room is too noisy to measure: the microphone hears -30 dBFS")
    none = session.problem(measured({"a": None, "b": None}), quiet, "mic")
    assert none is not None
    assert none.startswith("the microphone heard none of the outputs: is 'mic' the microphone")
    # The recording's own faults: measured again.
    assert "lost 2 blocks" in (session.glitch(ok, 2, "mic") or "")
    assert "player of 'b' lost its place" in (session.glitch(ok, 0, "mic", ("b",)) or "")
    assert "skipped" in (session.glitch(measured({"a": 0.0}, apart=512.0), 0, "mic") or "")
    assert "skipped" in (session.glitch(measured({"a": 0.0}, ppm=-2222.0), 0, "mic") or "")


def outcome(offsets: dict[str, float | None]) -> session.Outcome:
    return session.Outcome(measured(offsets), "mic", 48000, -70.0, 0, 5.0, None)


def test_a_verification_fails_naming_the_output_furthest_from_the_others() -> None:
    rates = {"a": 48000, "b": 48000, "c": 48000}
    good = session.Calibrated(rates, verification=outcome({"a": 0.0, "b": 0.0001, "c": 0.0002}))
    assert good.passed
    assert "PASSED: every output within 0.25 ms" in good.report()
    moved = session.Calibrated(rates, verification=outcome({"a": 0.0, "b": 0.0001, "c": 0.0031}))
    assert not moved.passed
    assert moved.failure == (
        "the outputs arrive 3.100 ms apart, more than 0.25 ms: output 'c' 3.000 ms after the "
        "others. Has a speaker moved, or a card changed? Calibrate again with --write"
    )
    assert moved.summary()["failure"] == moved.failure
