"""The nightly calibration check on a running controller (its outputs simulated, the
measurement replaced by its verdict): when it runs, when it does not and why, the show standing
still meanwhile and taken up where it was, and what it leaves in the status and the health."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from showctl.calibration import nightly, session
from showctl.calibration.estimate import Arrival, Measured
from showctl.health import check_speakers
from showctl.settings import CalibrationSettings
from showctl.show import loader, model
from showctl.testing import write_wav
from tests.harness.room import Room, play

SHOW = """\
version: 1
initial: a
media: media
outputs:
  left: {device: "hw:CARD=a"}
  right: {device: "hw:CARD=b"}
scenes:
  a:
    audio: {left: {clip: tone.wav, loop: true}}
    transitions:
      - {after: 60s, to: b}
  b: {}
"""
SETTINGS = CalibrationSettings(input="mic", at="03:30")


@pytest.fixture
def show(tmp_path: Path) -> Callable[[str], model.Show]:
    write_wav(tmp_path / "media" / "tone.wav", seconds=1.0)

    def make(extra: str = "") -> model.Show:
        path = tmp_path / "room.yaml"
        path.write_text(SHOW + extra)
        return loader.load(path)

    return make


def verified(offsets: dict[str, float | None]) -> session.Calibrated:
    heard = Arrival(0.0, -12.0, 40.0, 5.0)
    measured = Measured(offsets, 2.0, dict.fromkeys(offsets, heard))
    problem = session.problem(measured, -70.0, "mic")
    outcome = session.Outcome(measured, "mic", 48000, -70.0, 0, 6.0, problem)
    return session.Calibrated(dict.fromkeys(offsets, 48000), verification=outcome)


def test_the_check_stands_the_show_still_and_names_the_speaker_that_moved(
    show: Callable[[str], model.Show], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    async def measuring(*args: Any, **kwargs: Any) -> session.Calibrated:
        seen["paused"] = room_of["room"].controller.paused
        seen["verify"] = (kwargs["write"], kwargs["verify"])
        return verified({"left": 0.0, "right": 0.0031})

    monkeypatch.setattr(nightly.session, "calibrate", measuring)
    room_of: dict[str, Room] = {}

    async def body(room: Room) -> None:
        room_of["room"] = room
        c = room.controller
        await room.wait(20)
        check = nightly.NightlyCheck(SETTINGS, c, None, lambda: None)  # type: ignore[arg-type]
        with capture_logs() as logs:
            checked = await check.check()
        assert seen == {"paused": pytest.approx(20, abs=0.1), "verify": (False, True)}
        assert c.paused is None, "taken up again"
        assert room.scene == "a"
        assert c.status()["seconds"] == pytest.approx(20, abs=0.1)
        assert checked["passed"] is False
        assert checked["says"].startswith(
            "the outputs arrive 3.100 ms apart, more than 0.25 ms: output 'right' after 'left'."
        )
        assert c.status()["calibration"]["check"] == checked
        finding = check_speakers(c.status()["calibration"]["check"])
        assert finding.state == "problem"
        assert "recalibrate" in finding.fix
        events = [e["event"] for e in logs]
        assert "calibration_check_failed" in events
        entered = next(e for e in logs if e["event"] == "scene_entered")
        assert entered["resumed"] == "after a calibration"
        await room.wait(40.1)  # the scene's 60 s timer stood still for the check, and goes on
        assert room.scene == "b"

    play(show(""), body)


def test_a_speaker_not_heard_is_named_and_a_pass_is_said(
    show: Callable[[str], model.Show], monkeypatch: pytest.MonkeyPatch
) -> None:
    results = [verified({"left": 0.0, "right": None}), verified({"left": 0.0, "right": 0.0001})]

    async def measuring(*args: Any, **kwargs: Any) -> session.Calibrated:
        return results.pop(0)

    monkeypatch.setattr(nightly.session, "calibrate", measuring)

    async def body(room: Room) -> None:
        check = nightly.NightlyCheck(SETTINGS, room.controller, None, lambda: None)  # type: ignore[arg-type]
        silent = await check.check()
        assert silent["passed"] is False
        assert silent["silent"] == ["right"]
        assert silent["says"].startswith("output 'right' not heard: unplugged, muted or dead?")
        passed = await check.check()
        assert passed["passed"] is True
        assert passed["says"] == "every output within 0.25 ms of the others"
        assert check_speakers(passed).state == "ok"

    play(show(""), body)


@pytest.mark.parametrize(
    ("extra", "synchronised", "record", "says"),
    [
        ("", False, True, "the box's clock is not trusted"),
        (
            "hours:\n  closed: b\n  weekly:\n    mon-sun: 00:01-23:59\n",
            True,
            True,
            "the gallery is open at 03:30",
        ),
        ("", True, False, "the simulated audio backend has no microphone"),
    ],
)
def test_a_check_that_cannot_run_is_skipped_saying_why(
    show: Callable[[str], model.Show],
    monkeypatch: pytest.MonkeyPatch,
    extra: str,
    synchronised: bool,
    record: bool,
    says: str,
) -> None:
    async def measuring(*args: Any, **kwargs: Any) -> session.Calibrated:
        raise AssertionError("no measurement may be made")

    monkeypatch.setattr(nightly.session, "calibrate", measuring)

    async def body(room: Room) -> None:
        await room.wait(1)
        check = nightly.NightlyCheck(
            SETTINGS,
            room.controller,
            None,
            (lambda: None) if record else None,  # type: ignore[arg-type]
        )
        with capture_logs() as logs:
            checked = await check.check()
        assert checked["passed"] is None
        assert checked["says"].startswith(says)
        assert [e["event"] for e in logs] == ["calibration_check_skipped"]
        assert check_speakers(checked).state == "skipped"
        assert room.controller.paused is None

    play(show(extra), body, synchronised=synchronised)


def test_it_checks_once_a_day_at_its_time() -> None:
    times = [
        dt.datetime(2026, 12, 2, 3, 29, 50),
        dt.datetime(2026, 12, 2, 3, 30, 10),
        dt.datetime(2026, 12, 2, 3, 30, 30),
        dt.datetime(2026, 12, 2, 3, 30, 50),
        dt.datetime(2026, 12, 2, 12, 0),
        dt.datetime(2026, 12, 3, 3, 30, 5),
    ]
    checks: list[dt.datetime] = []

    class Counting(nightly.NightlyCheck):
        async def check(self) -> dict[str, Any]:
            checks.append(clock.now)
            return {}

    class Clock:
        now = times[0]

        def __call__(self) -> dt.datetime:
            return self.now

        async def sleep(self, seconds: float) -> None:
            assert seconds == nightly.LOOK_EVERY
            if not times:
                raise EOFError
            self.now = times.pop(0)

    clock = Clock()
    check = Counting(SETTINGS, None, None, None, now=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    with pytest.raises(EOFError):
        asyncio.run(check.run())
    assert checks == [dt.datetime(2026, 12, 2, 3, 30, 10), dt.datetime(2026, 12, 3, 3, 30, 5)]
