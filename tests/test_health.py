"""The box's health: each check on injected readings, and the reports of a running show sent to
a real HTTP server (at once on a problem, every period otherwise), never holding the show up."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from showctl.cli import main
from showctl.health import (
    RETRY,
    HealthMonitor,
    Sensors,
    check_disk,
    check_power,
    check_temperature,
)
from showctl.settings import HealthSettings
from showctl.show import loader, model
from showctl.testing import write_wav
from tests.conftest import ROOT
from tests.harness.room import Room
from tests.harness.running import NO_SURFACES, Running

SHOW = """\
version: 1
initial: a
media: media
outputs:
  left: {device: "hw:CARD=a"}
  right: {device: "hw:CARD=b"}
scenes:
  a:
    audio: {left: {clip: tone.wav, loop: true}, right: {clip: tone.wav, loop: true}}
    transitions: [{event: next, to: a}]
"""


def sensors(
    tmp_path: Path, temperature: str | None = None, throttled: str | None = None
) -> Sensors:
    thermal, flags = tmp_path / "temp", tmp_path / "get_throttled"
    if temperature is not None:
        thermal.write_text(temperature)
    if throttled is not None:
        flags.write_text(throttled)
    return Sensors(thermal, flags, vcgencmd=str(tmp_path / "no-vcgencmd"))


def test_the_temperature_is_read_or_skipped_with_why(tmp_path: Path) -> None:
    assert check_temperature(80, sensors(tmp_path, "47312\n")).says == "47.3 °C"
    hot = check_temperature(80, sensors(tmp_path, "81000\n"))
    assert (hot.state, hot.says) == ("problem", "81.0 °C, at or above 80 °C")
    assert hot.fix.startswith("give the box air")
    skipped = check_temperature(80, sensors(tmp_path / "none"))
    assert skipped.state == "skipped"
    assert skipped.says.endswith("/none/temp (not a Raspberry Pi?)")


@pytest.mark.parametrize(
    ("flags", "state", "says"),
    [
        ("0x0", "ok", "no under-voltage or throttling now"),
        ("0x40000", "ok", "no under-voltage or throttling now (since boot: throttled)"),
        (
            "0x50005",
            "problem",
            "the firmware reports now: under-voltage, throttled (flags 0x50005)",
        ),
        ("0x10000", "problem", "the firmware reports since boot: under-voltage (flags 0x10000)"),
    ],
)
def test_the_firmware_s_throttling_flags_are_read(
    tmp_path: Path, flags: str, state: str, says: str
) -> None:
    found = check_power(sensors(tmp_path, throttled=flags))
    assert (found.state, found.says) == (state, says)


def test_power_is_skipped_where_no_firmware_reports_it(tmp_path: Path) -> None:
    found = check_power(sensors(tmp_path))
    assert (found.state, found.says) == (
        "skipped",
        "no firmware reports throttling here (not a Raspberry Pi)",
    )


def test_a_nearly_full_disk_is_a_problem(tmp_path: Path) -> None:
    full = Sensors(disk_usage=lambda path: SimpleNamespace(free=50e6))
    found = check_disk(tmp_path, 200, full)
    assert (found.state, found.says) == ("problem", f"50 MB free on the file system of {tmp_path}")


class Server:
    """A real HTTP server on loopback, keeping what is posted to /ping and /ping/fail."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.came = asyncio.Event()

    async def start(self) -> str:
        async def ping(request: web.Request) -> web.Response:
            self.posts.append((request.path, await request.json()))
            self.came.set()
            return web.Response(text="OK")

        app = web.Application()
        app.router.add_post("/ping", ping)
        app.router.add_post("/ping/fail", ping)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}/ping"

    async def next(self) -> tuple[str, dict[str, Any]]:
        await asyncio.wait_for(self.came.wait(), 5)
        self.came.clear()
        return self.posts[-1]


@pytest.fixture
def show(tmp_path: Path) -> model.Show:
    write_wav(tmp_path / "media" / "tone.wav", seconds=1.0)
    path = tmp_path / "health.yaml"
    path.write_text(SHOW)
    return loader.load(path)


def monitor(room: Room, settings: HealthSettings, tmp_path: Path) -> HealthMonitor:
    return HealthMonitor(
        settings,
        room.controller.status,
        room.wall,
        room.clock.monotonic,
        room.clock.sleep,
        tmp_path,
        sensors(tmp_path, "45000", "0x0"),
    )


def test_reports_reach_the_health_url_at_once_on_a_problem(show, tmp_path: Path) -> None:
    """The first look reports; an output that fails is reported at once to the fail URL,
    logged once with its fix, and again each period while it lasts; its recovery is reported
    at once to the URL."""

    async def main() -> None:
        server = Server()
        url = await server.start()
        async with Room(show) as room:
            health = monitor(room, HealthSettings(url, f"{url}/fail", every=300), tmp_path)
            await health.look()
            path, first = await server.next()
            assert (path, first["ok"], first["outputs"]) == ("/ping", True, {"ok": 2, "total": 2})
            states = {f["check"]: f["state"] for f in first["findings"]}
            assert states == {
                "show": "ok",
                "outputs": "ok",
                "speakers": "skipped",  # no calibration check has run
                "clock": "ok",
                "disk": "ok",
                "temperature": "ok",
                "power": "ok",
            }
            with capture_logs() as logs:
                room.outputs.fail("left", "its card is gone")
                await health.look()
                path, failed = await server.next()
                await health.look()  # the same problem: no new report before the period is over
                await room.wait(1.0, step=1.0)
            assert (path, failed["ok"], failed["outputs"]) == (
                "/ping/fail",
                False,
                {"ok": 1, "total": 2},
            )
            assert [e["check"] for e in logs if e["event"] == "health_problem"] == ["outputs"]
            assert len(server.posts) == 2
            room.clock.advance(300)
            await health.look()
            assert (await server.next())[0] == "/ping/fail"
            with capture_logs() as logs:
                room.outputs.recover("left")
                await health.look()
                assert (await server.next())[0] == "/ping"
            assert [e["check"] for e in logs if e["event"] == "health_recovered"] == ["outputs"]
        await server.runner.cleanup()

    asyncio.run(main())


def test_an_unreachable_url_is_logged_once_retried_and_the_show_goes_on(
    show, tmp_path: Path
) -> None:
    async def main() -> None:
        async with Room(show) as room:
            health = monitor(room, HealthSettings("http://127.0.0.1:9/ping"), tmp_path)
            with capture_logs() as logs:
                for _ in range(3):
                    await health.look()
                    await asyncio.sleep(0.2)  # the connection refused
                    room.clock.advance(RETRY)
                room.controller.fire("event:next", "test")
                await room.settle()
            failed = [e for e in logs if e["event"] == "health_report_failed"]
            assert len(failed) == 1, "once for its cause"
            assert "127.0.0.1:9" in failed[0]["reason"]
            assert health.sent == 0
            assert [e["scene"] for e in logs if e["event"] == "scene_entered"] == ["a"]
            await health.close()

    asyncio.run(main())


def test_doctor_says_what_is_wrong_and_how_to_mend_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``showctl doctor`` against a running show (its clock trusted by the settings): every
    check in a line and status 0; with no show running, that is a problem with its fix, and
    status 1."""
    settings = tmp_path / "trusted.toml"
    settings.write_text(NO_SURFACES + '[clock]\ntrust = "always"\n')
    running = Running(tmp_path, ROOT / "shows" / "gallery.yaml", settings)
    try:
        given = ["--socket", str(running.socket), "--settings", str(settings)]
        assert main(["doctor", *given, "--state", str(running.state)]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert [line.split()[:2] for line in lines[:5]] == [
            ["ok", "show"],
            ["ok", "outputs"],
            ["skipped", "speakers"],
            ["ok", "clock"],
            ["ok", "disk"],
        ]
        assert lines[1].endswith("2 of 2 outputs play")
        assert lines[-1] == "All is well."
    finally:
        assert running.stop() == 0
    assert main(["doctor", *given]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"PROBLEM  show         no showctl controller is running at {running.socket}"
    assert out[1].strip().startswith("fix: start it: systemctl start showctl")
    assert out[-1] == "1 problem."
