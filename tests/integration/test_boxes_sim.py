"""Boxes as ``showctl run --sim`` processes through a real mosquitto: the leader ``hall`` and
the follower ``annex``.

The annex's maglock is switched by the leader's commands on the annex's own lines: the leader's
status shows the lock as the annex reports it, the leader's emergency reaches the annex, and
with the leader killed the annex latches its lock safe on its own (the door opens) within a
few seconds. A second leader of the show is refused, saying which box leads. The leader's page
(in Debian's chromium) lists both boxes, and the annex gone silent."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from showctl.multibox.leader import SILENT
from showctl.testing import write_wav
from tests.harness.boxes import box_settings
from tests.harness.broker import Broker, Listener, free_port, running_broker
from tests.harness.running import SHOWCTL, Running
from tests.integration.test_surfaces import browser, page_url, wait_for  # noqa: F401  (a fixture)

SHOW = """\
version: 1
initial: game
media: media
outputs:
  north: {device: "hw:CARD=speaker1"}
  south: {device: "hw:CARD=speaker1"}
relays:
  lights: {line: 20, safe: unpowered}
  maglock: {line: 21, safe: unpowered}
matrix:
  lines: [[30, 31]]
boxes:
  hall: {outputs: [north], relays: [lights]}
  annex: {outputs: [south], relays: [maglock], matrix: true}
scenes:
  game:
    audio: {north: {clip: tone.wav, loop: true}, south: {clip: tone.wav, loop: true}}
    leds:
      - {blink: [[0, 0]], interval: 250ms}
    on_enter:
      - {power: maglock}
"""


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with running_broker(tmp_path / "broker") as started:
        yield started


def start(folder: Path, broker: Broker, *boxes: str, web: int = 0) -> dict[str, Running]:
    """SHOW played by ``boxes`` (``--sim``), started in that order; the hall's page on port
    ``web`` (0: none)."""
    write_wav(folder / "media" / "tone.wav", seconds=1.0)
    show = folder / "show.yaml"
    show.write_text(SHOW)
    return {
        box: Running(
            folder,
            show,
            settings=box_settings(folder, broker, box, web if box == "hall" else 0),
            name=box,
            answers=box == "hall",
        )
        for box in boxes
    }


def test_the_leader_switches_a_lock_on_another_box_and_the_box_releases_it_alone(
    broker: Broker, tmp_path: Path
) -> None:
    running = start(tmp_path, broker, "annex", "hall")
    hall, annex = running["hall"], running["annex"]
    try:
        # The scene's own action locks the door on the annex, as the annex reports it.
        wait_for("the lock locked", lambda: hall.answer("status")["relays"]["maglock"] is True)
        status = hall.answer("status")
        assert status["relays"]["lights"] is False
        assert status["leds"] == "ok"  # the annex's matrix, as the annex says
        assert hall.answer("unpower", "maglock")["relays"]["maglock"] in (True, False)
        wait_for("the lock open", lambda: hall.answer("status")["relays"]["maglock"] is False)
        hall.answer("power", "maglock")
        wait_for("the lock locked again", lambda: hall.answer("status")["relays"]["maglock"])
        # The room's emergency: every box's relays safe, held so until the all-clear.
        hall.answer("emergency")
        wait_for("the lock released", lambda: hall.answer("status")["relays"]["maglock"] is False)
        refused = hall.ask("power", "maglock")
        assert refused.returncode != 0
        assert "the emergency release holds every relay" in refused.stderr
        hall.answer("all-clear")
        hall.answer("power", "maglock")
        wait_for(
            "the lock locked after the all-clear",
            lambda: hall.answer("status")["relays"]["maglock"],
        )

        # The leader gone: the annex latches its lock safe on its own.
        def latches() -> list[dict[str, Any]]:
            return [e for e in annex.logs() if e["event"] == "emergency"]

        assert len(latches()) == 1  # the leader's
        hall.process.kill()
        hall.process.wait(timeout=15)
        latched = wait_for("the annex latched", lambda: latches()[1:], SILENT + 5)
        assert latched[-1]["reason"] == f"the leader has not been heard from for {SILENT:g} s"
        switched = [e for e in annex.logs() if e["event"] == "relay_switched"]
        assert switched[-1]["relay"] == "maglock"
        assert switched[-1]["powered"] is False
        assert not [e for e in annex.logs() if e["event"] == "box_message_refused"]
    finally:
        hall.stop()
        annex.stop()


@pytest.mark.parametrize(
    ("second", "says"),
    [
        (
            "hall",
            "another showctl on host {host!r} leads this show as box 'hall'; stop it, or "
            "give this box a [box] name of its own",
        ),
        (
            "annex",
            "box 'hall' (host {host!r}) leads this show already; one box leads: set [box] "
            'leader = "hall" here, or stop it',
        ),
    ],
)
def test_a_second_leader_is_refused_saying_which_box_leads(
    broker: Broker, tmp_path: Path, second: str, says: str
) -> None:
    hall = start(tmp_path, broker, "hall")["hall"]
    show = tmp_path / "show.yaml"
    try:
        time.sleep(1.5)  # its heartbeats on the broker
        written = box_settings(tmp_path, broker, second).read_text()
        rival = tmp_path / "rival.toml"
        rival.write_text(written.replace('leader = "hall"', f'leader = "{second}"'))
        done = subprocess.run(
            [
                *SHOWCTL,
                "run",
                "--sim",
                str(show),
                "--settings",
                str(rival),
                "--socket",
                str(tmp_path / "rival.sock"),
                "--state",
                str(tmp_path / "rival.json"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1, done.stdout
        assert done.stderr == says.format(host=socket.gethostname()) + "\n"
        # The show led by the first plays on, none the wiser but for the log.
        assert hall.answer("status")["relays"]["lights"] is False
        assert hall.process.poll() is None
    finally:
        hall.stop()


def test_a_leader_that_hears_another_beating_says_so_in_its_status_and_health(
    broker: Broker, tmp_path: Path
) -> None:
    """Two leaders started at once (neither heard the other yet): each sees the other beat."""
    hall = start(tmp_path, broker, "hall")["hall"]
    try:
        beat = {"box": "hall", "host": "elsewhere", "instance": "elsewhere/1"}
        found: list[dict[str, str]] = []
        with Listener(broker, "show/boxes/+/leads") as room:
            deadline = time.monotonic() + 20
            while not found and time.monotonic() < deadline:  # the other box beating
                room.publish("show/boxes/hall/leads", json.dumps({**beat, "at_ns": time.time_ns()}))
                time.sleep(0.5)
                status = hall.answer("status")
                health = (status.get("health") or {}).get("findings", [])
                found = [f for f in health if f["check"] == "boxes" and f["state"] == "problem"]
        assert status["boxes"]["hall"]["rivals"] == ["box 'hall' on host 'elsewhere'"]
        assert found, "the health check did not say so within 20 s"
        assert found[0]["says"] == "box 'hall' on host 'elsewhere' leads this show too"
        assert [e["host"] for e in hall.logs() if e["event"] == "box_two_leaders"] == ["elsewhere"]
    finally:
        hall.stop()


def test_the_leaders_page_lists_every_box_and_a_box_gone_silent(
    broker: Broker,
    tmp_path: Path,
    browser: WebDriver,  # noqa: F811  (the fixture)
) -> None:
    running = start(tmp_path, broker, "annex", "hall", web=free_port())
    hall, annex = running["hall"], running["annex"]
    try:
        browser.get(page_url(hall))

        def row(box: str) -> str:  # read at once: the rows are made anew at every status
            script = "const r = document.querySelector(`#boxes [data-box='${arguments[0]}']`);"
            return str(browser.execute_script(script + "return r ? r.innerText : '';", box))

        wait_for("the annex heard", lambda: "follows" in row("annex"))
        assert row("hall").splitlines()[:2] == ["hall", "leads"]
        assert "clock" in row("annex")  # measured against the leader's
        assert row("annex").splitlines()[-1] == "south"
        annex.process.kill()
        wait_for("the annex silent", lambda: "silent" in row("annex"), SILENT + 8)
        health = browser.find_element(By.ID, "health")
        wait_for("the health problem", lambda: "box 'annex' is not heard from" in health.text, 10)
    finally:
        hall.stop()
        annex.stop()
