"""``showctl run --sim`` as a person runs it: a process, driven over its control socket.

The players are real processes (on simulated sound cards, writing what they play to WAV
files); the controller is told what to do by ``showctl status/trigger/goto/reset/reload``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import stat
import subprocess
import time
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile

from tests.conftest import ROOT
from tests.harness.analysis import wav_data_sizes
from tests.harness.running import NO_SURFACES, SHOWCTL, Running


@pytest.fixture
def room(tmp_path: Path, escape_room: Path) -> Iterator[Running]:
    running = Running(tmp_path, escape_room)
    yield running
    running.stop()


def test_the_room_is_played_over_the_control_socket(room: Running) -> None:
    assert stat.S_IMODE(room.socket.stat().st_mode) == 0o660, "owner and group only"
    status = room.answer("status")
    assert (status["scene"], status["flags"], status["fault"]) == ("idle", [], None)
    assert {name: o["alive"] for name, o in status["outputs"].items()} == {
        "room": True,
        "hint": True,
    }
    unmoved = room.ask("trigger", "room-ready")
    assert (unmoved.returncode, json.loads(unmoved.stdout)["moved"]) == (0, False)
    assert unmoved.stderr == (
        "room-ready did nothing: scene 'idle' does not take event 'room-ready'; "
        "it takes input 'door', input 'start'\n"
    )
    assert room.answer("trigger", "input:door")["flags"] == ["door_closed"]
    assert room.answer("trigger", "input:start")["scene"] == "intro"
    refused = room.ask("trigger", "room-reddy")
    assert refused.returncode == 1
    assert refused.stderr.startswith("the show has no event or input 'room-reddy'; it has: ")
    assert room.answer("goto", "finale")["scene"] == "finale"
    time.sleep(6)  # finale.wav is 5 s: its end leads to the reset scene
    assert room.answer("status")["scene"] == "reset"
    assert room.answer("trigger", "room-ready")["scene"] == "idle"
    asked = time.monotonic()
    assert room.stop() == 0
    # systemd gives a stop TimeoutStopSec=5; showctl promises to be gone within 2 s.
    assert time.monotonic() - asked < 2.0
    assert not room.socket.exists(), "the socket goes with the controller"

    # What the room speaker played: the hum, the start of the intro, the finale to its end.
    played, rate = soundfile.read(str(room.capture / "room.wav"), dtype="float32")
    assert rate == 48000
    assert (abs(played) > 0.01).mean() > 0.5
    queued = [e["clip"].rsplit("/", 1)[1] for e in room.logs() if e["event"] == "clip_queued"]
    assert queued[:4] == ["hum.wav", "intro.wav", "finale.wav", "hum.wav"]
    assert json.loads(room.state.read_text())["scene"] == "idle"


def test_a_stop_sent_to_every_process_stops_the_show_and_starts_nothing(room: Running) -> None:
    """``timeout``, and systemd under its default ``KillMode=control-group``, stop a command
    with SIGTERM to every process of it at once, the players too. The controller alone stops
    the show: the sound fades, the players quit, none is started again, and what each played
    is captured whole."""
    os.killpg(room.process.pid, signal.SIGTERM)
    assert room.process.wait(timeout=15) == 0
    events = [e["event"] for e in room.logs()]
    after = events[events.index("show_stopping") :]
    assert [e for e in after if e in ("player_started", "player_restarted")] == []
    captures = sorted(room.capture.glob("*.wav"))
    assert len(captures) == 2
    for capture in captures:
        assert soundfile.info(str(capture)).frames > 0, capture.name
        declared, held = wav_data_sizes(capture)
        assert declared == held, f"{capture.name}: the header says {declared} bytes of {held}"


def test_reload_keeps_an_invalid_show_out_and_takes_a_valid_one(room: Running) -> None:
    show = Path(room.answer("status")["path"])
    good = show.read_text()
    show.write_text(good.replace("to: intro", "to: intro-typo"))
    refused = room.ask("reload")
    assert refused.returncode == 1
    assert "1 error; the running show goes on unchanged" in refused.stderr
    assert "unknown scene 'intro-typo'" in refused.stdout + refused.stderr

    room.process.send_signal(signal.SIGHUP)  # the same, as systemctl reload would do
    deadline = time.monotonic() + 10
    while sum(e["event"] == "reload_rejected" for e in room.logs()) < 2:
        assert time.monotonic() < deadline, "SIGHUP did not reload"
        time.sleep(0.1)
    assert room.answer("status")["scene"] == "idle"

    show.write_text(good.replace("interval: 1s", "interval: 2s"))
    assert room.answer("reload")["reload_pending"] is True
    assert room.answer("reload", "--now")["reload_pending"] is False
    assert room.stop() == 0


def test_without_a_controller_the_commands_say_how_to_start_one(tmp_path: Path) -> None:
    done = subprocess.run(
        [*SHOWCTL, "status", "--socket", str(tmp_path / "none.sock")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == (
        f"no showctl controller is running at {tmp_path / 'none.sock'}; start one with "
        "'showctl run SHOW' (or give its socket with --socket)\n"
    )


def test_a_second_controller_on_the_same_socket_is_refused(room: Running, tmp_path: Path) -> None:
    show = Path(room.answer("status")["path"])
    env = {**os.environ}
    done = subprocess.run(
        [*SHOWCTL, "run", "--sim", str(show), "--socket", str(room.socket)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=env,
    )
    assert done.returncode == 1
    assert f"another showctl controller is running and listening at {room.socket}" in done.stderr
    assert room.answer("status")["ok"], "the first one runs on"


def test_a_gallery_closes_at_closing_time(tmp_path: Path) -> None:
    """``showctl run`` under libfaketime, its wall clock put 20 seconds before 18:00 of the
    example gallery's next open day (its monotonic clock left alone): it plays, then closes on
    time into its silent night scene, and says until when."""
    london = zoneinfo.ZoneInfo("Europe/London")
    day = dt.datetime.now(london).date() + dt.timedelta(days=1)
    while day.weekday() == 0 or (day.month, day.day) in ((12, 24), (12, 25), (12, 26)):
        day += dt.timedelta(days=1)  # the gallery is closed on Mondays and at Christmas
    closing = dt.datetime.combine(day, dt.time(18), london)
    offset = round(closing.timestamp() - 20.0 - time.time())  # its start takes seconds
    settings = tmp_path / "trusted.toml"
    settings.write_text(NO_SURFACES + '[clock]\ntrust = "always"\n')  # no NTP in a test
    running = Running(
        tmp_path,
        ROOT / "shows" / "gallery.yaml",
        settings,
        env={  # faketime --exclude-monotonic, with no process of its own between
            "LD_PRELOAD": "/usr/$LIB/faketime/libfaketime.so.1",
            "FAKETIME": f"{offset:+d}",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        },
    )
    try:
        status = running.answer("status")
        until = f"open until {closing:%a} {closing.day} {closing:%b} 18:00"
        assert (status["scene"], status["hours"]["why"]) == ("tides", until)
        said = next(e for e in running.logs() if e["event"] == "hours")  # at the start
        assert (said["open"], said["why"], said["zone"]) == (True, until, "Europe/London")
        deadline = time.monotonic() + 40
        while running.answer("status")["scene"] != "night":
            assert time.monotonic() < deadline, "the gallery did not close within 40 s"
            time.sleep(0.2)
        closed = next(e for e in running.logs() if e["event"] == "show_closed")
        at = dt.datetime.fromisoformat(closed["timestamp"]).timestamp()
        assert 0.0 <= at - closing.timestamp() < 1.5, "closed within a second of 18:00"
        assert closed["why"].startswith("closed until ")
        assert closed["why"].endswith(" 10:00")
        assert running.answer("status")["hours"]["closed"] is True
    finally:
        assert running.stop() == 0
