"""showctl under systemd: the unit file, and the notify protocol spoken to a socket we hold."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from showctl.clock import FakeClock
from showctl.watchdog import Liveness, Notifier
from tests.conftest import ROOT

UNIT = ROOT / "systemd" / "showctl.service"
INSTALLED = "/opt/showctl/venv/bin/showctl"


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: run deploy/system-packages.sh")
    return subprocess.run(
        ["systemd-analyze", *args], capture_output=True, text=True, check=False, timeout=60
    )


def test_the_unit_verifies_but_for_the_program_the_install_puts_in_place() -> None:
    """``systemd-analyze verify`` finds nothing wrong with the unit; the one thing it cannot
    find on a build machine is the installed program, which deploy/install.sh provides."""
    done = analyze("verify", str(UNIT))
    complaints = [line for line in done.stderr.splitlines() if line.strip()]
    assert complaints == [
        f"showctl.service: Command {INSTALLED} is not executable: No such file or directory"
    ]


def test_the_unit_is_hardened_to_an_exposure_of_2_or_less() -> None:
    done = analyze("security", "--offline=true", str(UNIT))
    found = re.search(r"Overall exposure level for showctl\.service: ([0-9.]+)", done.stdout)
    assert found, done.stdout[-500:]
    assert float(found[1]) <= 2.0


def unit_settings() -> dict[str, dict[str, str]]:
    """The unit's settings by section (the last value of each)."""
    sections: dict[str, dict[str, str]] = {}
    current = ""
    for line in UNIT.read_text().splitlines():
        if line.startswith("["):
            current = line.strip("[]")
        elif "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            sections.setdefault(current, {})[key] = value
    return sections


def test_the_restart_limits_are_in_the_unit_section() -> None:
    """systemd reads StartLimitIntervalSec and StartLimitBurst only under [Unit]."""
    sections = unit_settings()
    assert {"StartLimitIntervalSec", "StartLimitBurst"} <= set(sections["Unit"])
    assert {"Type", "WatchdogSec", "Restart", "User", "DeviceAllow"} <= set(sections["Service"])


def test_a_stop_signals_the_controller_alone_and_kills_what_it_leaves() -> None:
    """``KillMode=mixed``: SIGTERM (and the watchdog's SIGABRT) to the controller only, which
    fades the players out and tells them to quit; SIGKILL to whatever is left after it exits."""
    assert unit_settings()["Service"]["KillMode"] == "mixed"


def test_the_watchdog_is_pinged_only_while_every_loop_checks_in() -> None:
    class Heard(Notifier):
        def __init__(self) -> None:
            super().__init__("")
            self.sent: list[str] = []

        def send(self, *fields: str) -> None:
            self.sent.extend(fields)

    async def main() -> list[int]:
        clock = FakeClock()
        heard = Heard()
        gate = Liveness(heard, every=1.0, stale=2.0, clock=clock)
        gate.check_in("controller")  # and then it hangs
        pinging = asyncio.create_task(gate.run())
        pings = []
        for _ in range(6):
            gate.check_in("players")  # goes round
            for _ in range(3):
                await asyncio.sleep(0)  # the gate's turn
            pings.append(heard.sent.count("WATCHDOG=1"))
            clock.advance(1.0)
        pinging.cancel()
        return pings

    with capture_logs() as logs:
        pings = asyncio.run(main())
    assert pings == [1, 2, 3, 3, 3, 3], "pinged each second until the controller was stale"
    assert [(e["event"], e["stale"]) for e in logs] == [("watchdog_withheld", ["controller"])]


def test_the_stale_loops_are_named() -> None:
    gate = Liveness(Notifier(""), every=1, stale=1)
    gate.check_in("controller")
    gate.check_in("players")
    now = time.monotonic()
    assert gate.stale_loops(now) == []
    gate.check_in("players")
    assert gate.stale_loops(now + 5) == ["controller", "players"]


def test_run_tells_systemd_ready_status_watchdog_and_stopping(
    tmp_path: Path, escape_room: Path
) -> None:
    """``showctl run`` under a pretend systemd: READY=1 with the status once the players are
    ready, a STATUS at each scene, WATCHDOG=1 every second (a quarter of the 4 s asked) and
    none withheld, STOPPING=1 at SIGTERM."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    address = tmp_path / "notify.sock"
    listener.bind(str(address))
    listener.settimeout(0.2)
    control = tmp_path / "control.sock"
    env = {**os.environ, "NOTIFY_SOCKET": str(address), "WATCHDOG_USEC": "4000000"}
    run = ["run", "--sim", str(escape_room), "--socket", str(control)]
    process = subprocess.Popen(
        [sys.executable, "-m", "showctl", *run, "--state", str(tmp_path / "state.json")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    messages: list[tuple[float, str]] = []
    done = threading.Event()

    def listen() -> None:
        """Stamp each message as it comes, all along (the triggers' commands, each a process
        that starts in half a second, must not delay the stamps)."""
        while not done.is_set():
            try:
                data = listener.recv(4096)
            except TimeoutError:
                continue
            messages.extend((time.monotonic(), m) for m in data.decode().split("\n"))

    listening = threading.Thread(target=listen, daemon=True)
    listening.start()
    try:
        time.sleep(20)
        shown = subprocess.run(
            [sys.executable, "-m", "showctl", "trigger", "input:door", "--socket", str(control)],
            capture_output=True,
            check=True,
        )
        assert shown.returncode == 0
        subprocess.run(
            [sys.executable, "-m", "showctl", "trigger", "input:start", "--socket", str(control)],
            capture_output=True,
            check=True,
        )
        time.sleep(1.5)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        time.sleep(0.5)  # its last datagrams read
    finally:
        if process.poll() is None:
            process.kill()
        done.set()
        listening.join()
        listener.close()
    said = [m for _, m in messages]
    ready = said.index("READY=1")
    assert said[ready + 1] == "STATUS=scene idle; outputs 2/2"
    assert "STATUS=scene intro; outputs 2/2" in said[ready:]
    pings = [t for t, m in messages if m == "WATCHDOG=1"]
    assert len(pings) >= 10
    assert max(b - a for a, b in itertools.pairwise(pings)) < 1.9, "a ping was withheld"
    assert said[-2:] == ["STOPPING=1", "STATUS=stopping"]
