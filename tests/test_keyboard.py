"""``showctl run --sim`` in a terminal: the matrix drawn, a key per input and event, played."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from showctl import show
from showctl.app import keys_for, legend
from tests.conftest import ROOT

ESCAPE_ROOM = show.load(ROOT / "shows" / "escape-room.yaml")


def test_every_input_and_event_has_its_own_key() -> None:
    keys = keys_for(ESCAPE_ROOM)
    assert keys == {
        "d": "input:door",
        "s": "input:start",
        "g": "input:gears",
        "p": "input:portrait",
        "1": "event:room-ready",
    }
    assert legend(keys) == (
        "keys: [d] door  [s] start  [g] gears  [p] portrait  [1] room-ready  [q] quit",
    )


def test_inputs_sharing_letters_get_the_next_free_one(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "version: 1\ninitial: a\ninputs:\n  qa: {line: 1}\n  aa: {line: 2}\n  ab: {line: 3}\n"
        "scenes:\n  a:\n    transitions:\n"
        "      - {input: qa, to: a}\n      - {input: aa, to: a}\n      - {input: ab, to: a}\n"
    )
    assert keys_for(show.load(path)) == {"a": "input:qa", "1": "input:aa", "b": "input:ab"}


class Terminal:
    """A process on a pseudo-terminal: what it drew, and keys typed into it."""

    def __init__(self, args: list[str]) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        self.screen = b""

    def read_until(self, text: bytes, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            assert time.monotonic() < deadline, (
                f"{text!r} not on the screen:\n{self.screen[-2000:]!r}"
            )
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.screen += os.read(self.master, 65536)
                except OSError:  # the process has closed the terminal
                    break

    def type(self, key: str) -> None:
        os.write(self.master, key.encode())


def test_the_room_is_played_from_the_keyboard(tmp_path: Path, escape_room: Path) -> None:
    socket = tmp_path / "control.sock"
    show = escape_room
    state = tmp_path / "state.json"
    run = ["run", "--sim", str(show), "--socket", str(socket), "--state", str(state)]
    terminal = Terminal([sys.executable, "-m", "showctl", *run])

    def scene() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "showctl", "status", "--socket", str(socket)],
            capture_output=True,
            text=True,
            check=True,
        )
        return str(json.loads(done.stdout)["scene"])

    try:
        terminal.read_until(b"[d] door  [s] start")
        terminal.read_until(b"scene_entered")
        terminal.type("d")
        terminal.read_until(b"door_closed")
        terminal.type("s")
        terminal.read_until(b"intro")
        assert scene() == "intro"
        terminal.type("q")
        assert terminal.process.wait(timeout=15) == 0
    finally:
        if terminal.process.poll() is None:
            terminal.process.kill()
            terminal.process.wait()
        os.close(terminal.master)
    assert b"The Clockmaker's Study (escape room) (simulated)" in terminal.screen
