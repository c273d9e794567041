"""``showctl run --sim`` in a terminal: the matrix drawn, a key per input and event, played;
``q`` or Ctrl-C stops it."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import soundfile

from showctl.app import keys_for, legend
from showctl.show import loader
from tests.conftest import ROOT
from tests.harness.analysis import wav_data_sizes
from tests.harness.running import NO_SURFACES

ESCAPE_ROOM = loader.load(ROOT / "shows" / "escape-room.yaml")
DEMO = ROOT / "shows" / "demo.yaml"


def test_every_input_and_event_has_its_own_key() -> None:
    keys = keys_for(ESCAPE_ROOM)
    assert keys == {
        "d": "input:door",
        "s": "input:start",
        "g": "input:gears",
        "p": "input:portrait",
        "a": "input:panic",
        "1": "event:fire-alarm",
        "2": "event:room-ready",
        "3": "event:time-up",
    }
    assert legend(keys) == (
        "keys: [d] door  [s] start  [g] gears  [p] portrait  [a] panic  [1] fire-alarm  "
        "[2] room-ready  [3] time-up  [q] quit",
    )


def test_inputs_sharing_letters_get_the_next_free_one(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "version: 1\ninitial: a\ninputs:\n  qa: {line: 1}\n  aa: {line: 2}\n  ab: {line: 3}\n"
        "scenes:\n  a:\n    transitions:\n"
        "      - {input: qa, to: a}\n      - {input: aa, to: a}\n      - {input: ab, to: a}\n"
    )
    assert keys_for(loader.load(path)) == {"a": "input:qa", "1": "input:aa", "b": "input:ab"}


class Terminal:
    """A process in the foreground of a pseudo-terminal of its own, as a shell runs a command:
    what it drew, and keys typed into it (Ctrl-C sends SIGINT to its whole process group)."""

    def __init__(self, args: list[str]) -> None:
        self.master, slave = pty.openpty()
        # setsid (util-linux) puts it in a session of its own, whose controlling terminal its
        # stdin becomes; it execs the command in its own process (it forks only a group leader).
        command = ["setsid", "--ctty", *args]
        self.process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        self.screen = b""

    def read_until(self, text: bytes | None, timeout: float = 30.0) -> None:
        """Read what it draws until ``text`` is on the screen, or it closes the terminal
        (for ``None``, until then: all it drew)."""
        deadline = time.monotonic() + timeout
        while text is None or text not in self.screen:
            assert time.monotonic() < deadline, (
                f"{text or 'the end'!r} not on the screen:\n{self.screen[-2000:]!r}"
            )
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.screen += os.read(self.master, 65536)
                except OSError:  # the process has closed the terminal
                    break

    def type(self, key: str) -> None:
        os.write(self.master, key.encode())

    def wait(self, timeout: float = 15.0) -> int:
        """Its exit status, once it has closed the terminal; what it draws meanwhile is read
        (a terminal that fills up would hold it still)."""
        self.read_until(None, timeout)
        return self.process.wait(timeout=5)

    def close(self) -> None:
        """Kill what is left of its process group (nothing, once it has stopped)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        os.close(self.master)


def run_sim(folder: Path, show_file: Path) -> list[str]:
    """``showctl run --sim`` of ``show_file``: its socket, state and captures in ``folder``,
    no web page."""
    settings = folder / "no-surfaces.toml"
    settings.write_text(NO_SURFACES)
    return [
        *(sys.executable, "-m", "showctl", "run", "--sim", str(show_file)),
        *("--socket", str(folder / "control.sock"), "--state", str(folder / "state.json")),
        *("--capture", str(folder / "captures"), "--settings", str(settings)),
    ]


def test_the_room_is_played_from_the_keyboard(tmp_path: Path, escape_room: Path) -> None:
    socket = tmp_path / "control.sock"
    terminal = Terminal(run_sim(tmp_path, escape_room))

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
        assert terminal.wait() == 0
    finally:
        terminal.close()
    assert b"The Clockmaker's Study (escape room) (simulated)" in terminal.screen


def test_q_stops_the_demo(tmp_path: Path) -> None:
    """The demo has no input and no event, so no key of its own: ``q`` is shown, and stops it."""
    terminal = Terminal(run_sim(tmp_path, DEMO))
    try:
        terminal.read_until(b"keys: [q] quit")
        terminal.read_until(b"show_running")
        terminal.type("q")
        assert terminal.wait() == 0
    finally:
        terminal.close()
    assert b"show_stopping" in terminal.screen


def test_ctrl_c_stops_the_demo_as_sigterm_does(tmp_path: Path) -> None:
    """Ctrl-C sends SIGINT to every process of the terminal's foreground group, the eight
    players too. The controller alone stops the show: the sound fades, the players quit
    without a word, and what each played is captured whole."""
    terminal = Terminal(run_sim(tmp_path, DEMO))
    try:
        terminal.read_until(b"show_running")
        typed = len(terminal.screen)
        terminal.type("\x03")
        assert terminal.wait() == 0
    finally:
        terminal.close()
    after = terminal.screen[typed:]
    assert b"show_stopping" in after
    for noise in (b"player_stderr", b"Traceback", b"Fatal Python error"):
        assert noise not in after
    captures = sorted((tmp_path / "captures").glob("*.wav"))
    assert len(captures) == len(loader.load(DEMO).outputs)
    for capture in captures:
        assert soundfile.info(str(capture)).frames > 0, capture.name
        declared, held = wav_data_sizes(capture)
        assert declared == held, f"{capture.name}: the header says {declared} bytes of {held}"
