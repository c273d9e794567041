"""``showctl run`` as systemd runs it on a box, for the fault suite and the soak benchmark.

A :class:`Box` starts the controller as a process of its own, its players on the virtual sound
hub through the real backend (or simulated, without a hub). Around it, what a box has:

- a datagram socket named in ``NOTIFY_SOCKET``, as systemd's, with a watchdog asked for: every
  message the controller sends is kept with the time it came;
- its log stream, a pipe read line by line (and made small, so that it fills quickly), whose
  reading can be paused, as a journald that is stuck;
- its state in a folder of its own, a small tmpfs mounted there (so it needs root), which can
  be made read-only or full.

The controller runs under a small wrapper (:data:`WRAPPER`) that shortens the retry of a
failed output (a minute on a box) so that a test need not wait for it, on ``SIGUSR2`` holds
the controller's event loop still for a while, as a hung controller, and can give it simulated
GPIO lines (this machine has no GPIO chip) with real sound cards.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from showctl import saved_state

#: Runs ``showctl`` (its arguments from argv[2] on) with SIGUSR2 holding the loop argv[1] s:
#: a stall of the whole controller, as a fault to recover from.
WRAPPER = """\
import signal, sys, time
from showctl.cli import main
signal.signal(signal.SIGUSR2, lambda *_: time.sleep(float(sys.argv[1])))
sys.exit(main(sys.argv[2:]))
"""
#: Bytes the log pipe holds before the controller's writes to it block (a page).
PIPE_SIZE = 4096


class Box:
    """A running ``showctl run`` of ``show``; ``with Box(...) as box``: ready, then stopped."""

    def __init__(
        self,
        folder: Path,
        show: Path,
        env: dict[str, str] | None = None,
        *,
        sim: bool = False,
        retry_failed: float = 5.0,
        hold: float = 6.0,
        watchdog: float = 4.0,
        state_kb: int = 256,
        sim_gpio: bool = False,
    ) -> None:
        self.folder = folder
        self.show = show
        self.hold = hold  # how long SIGUSR2 holds the loop (s)
        self.socket = folder / "control.sock"
        self.state_dir = folder / "state"
        self.state_path = self.state_dir / "saved_state.json"
        self.logs: list[dict[str, Any]] = []
        self.notes: list[tuple[float, str]] = []  # (monotonic, message) from the notify socket
        self._reading = threading.Event()
        self._reading.set()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={state_kb}k,mode=755", "tmpfs", self.state_dir],
            capture_output=True,
            text=True,
            check=False,
        )
        if mounted.returncode != 0:
            raise RuntimeError(
                f"the box's state folder needs a tmpfs of its own, and mount said: "
                f"{mounted.stderr.strip()}; run the tests as root"
            )
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(folder / "notify.sock"))
        self.notify.settimeout(0.2)
        command = [sys.executable, "-c", WRAPPER, str(hold), "run", str(show)]
        command += ["--socket", str(self.socket), "--state", str(self.state_path)]
        command += ["--retry-failed", str(retry_failed), *(["--sim-gpio"] if sim_gpio else [])]
        self.process = subprocess.Popen(
            [*command, *(["--sim"] if sim else [])],
            env={
                **os.environ,
                **(env or {}),
                "NOTIFY_SOCKET": str(folder / "notify.sock"),
                "WATCHDOG_USEC": str(int(watchdog * 1e6)),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert self.process.stdout is not None
        fcntl.fcntl(self.process.stdout.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        self._threads = [
            threading.Thread(target=self._read_logs, daemon=True),
            threading.Thread(target=self._listen, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def __enter__(self) -> Box:
        try:
            self.wait(lambda: "READY=1" in self.said(), 60, "the controller to say READY=1")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what it says ---------------------------------------------------------------------

    def _read_logs(self) -> None:
        assert self.process.stdout is not None
        while self._reading.wait() and (line := self.process.stdout.readline()):
            with contextlib.suppress(ValueError):
                self.logs.append(json.loads(line))

    def _listen(self) -> None:
        while self.notify.fileno() != -1:
            try:
                data = self.notify.recv(4096)
            except (TimeoutError, OSError):
                continue
            now = time.monotonic()
            self.notes.extend((now, m) for m in data.decode().split("\n") if m)

    def said(self, since: float = 0.0) -> list[str]:
        """What the controller told systemd since ``since`` (monotonic)."""
        return [m for t, m in list(self.notes) if t >= since]

    def pings(self, since: float = 0.0) -> list[float]:
        """When the watchdog was pinged, since ``since``."""
        return [t for t, m in list(self.notes) if m == "WATCHDOG=1" and t >= since]

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e for e in list(self.logs) if e.get("event") == name]

    def pause_logs(self) -> None:
        """Stop reading the log stream (the controller's writes to it block once it is full)."""
        self._reading.clear()

    def resume_logs(self) -> None:
        self._reading.set()

    def log_backlog(self) -> int:
        """Bytes waiting in the log pipe."""
        assert self.process.stdout is not None
        held = bytearray(4)
        fcntl.ioctl(self.process.stdout.fileno(), termios.FIONREAD, held)
        return int.from_bytes(held, sys.byteorder)

    # --- asking it ------------------------------------------------------------------------

    def ask(self, message: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(timeout)
            s.connect(str(self.socket))
            s.sendall(json.dumps(message).encode() + b"\n")
            line = s.makefile().readline()
        if not line:
            raise AssertionError(
                f"no answer to {message}; the controller's last words: {self.tail()}"
            )
        answer: dict[str, Any] = json.loads(line)
        return answer

    def tail(self, lines: int = 10) -> list[dict[str, Any]]:
        """The latest log lines (for a failure's message)."""
        return self.logs[-lines:]

    def status(self) -> dict[str, Any]:
        return self.ask({"cmd": "status"})

    def pids(self) -> dict[str, int]:
        return {name: o["pid"] for name, o in self.status()["outputs"].items()}

    def wait(self, done: Callable[[], object], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the controller ended ({self.process.returncode}): {self.tail()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout:g} s for {what}")
            time.sleep(0.05)

    def healthy(self, playing: bool = False) -> bool:
        """Every output's player alive (and ``playing``), none failed, and the show not in its
        fault saved_state."""
        status = self.status()
        return status["fault"] is None and all(
            o["alive"] and not o["failed"] and (o["playing"] or not playing)
            for o in status["outputs"].values()
        )

    def wait_healthy(self, timeout: float = 20.0, playing: bool = False) -> None:
        self.wait(lambda: self.healthy(playing), timeout, "every output to be healthy")

    # --- its state on disk ----------------------------------------------------------------

    def saved(self) -> saved_state.SavedState | None:
        return saved_state.load(self.state_path, str(self.show.resolve()))

    def state_agrees(self) -> bool:
        """Whether the state on disk is the controller's (scene, flags, counters), asked
        until it holds still."""
        for _ in range(50):
            before = self.status()
            saved = self.saved()
            after = self.status()
            if before["scene"] == after["scene"]:
                return saved is not None and (
                    saved.scene,
                    sorted(saved.flags),
                    dict(saved.counters),
                ) == (after["scene"], after["flags"], after["counters"])
            time.sleep(0.1)
        return False

    def remount(self, option: str) -> None:
        """``ro`` or ``rw``: the state folder's file system made read-only, or writable again."""
        subprocess.run(["mount", "-o", f"remount,{option}", self.state_dir], check=True)

    def fill(self) -> Path:
        """Fill the state folder's file system; returns the file that fills it."""
        filler = self.state_dir / "filler"
        with filler.open("wb", buffering=0) as f, contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 4096)
        return filler

    # --- the end --------------------------------------------------------------------------

    def hold_loop(self) -> None:
        """Hold the controller's event loop still for :attr:`hold` seconds."""
        self.process.send_signal(signal.SIGUSR2)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, as systemd stops it; its exit status."""
        self.resume_logs()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def close(self) -> None:
        try:
            self.stop()
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.notify.close()
        subprocess.run(["umount", "-l", self.state_dir], check=False, capture_output=True)
