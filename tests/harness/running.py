"""``showctl run`` as a person runs it (``--sim``, or on the sound hub): a process, driven over
its control socket by the commands a person types (``showctl status``, ``trigger``, ...)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

SHOWCTL = [sys.executable, "-m", "showctl"]


#: Settings with every network surface off, and the escape room's lighting desk named (its
#: finale's OSC cue goes nowhere: the discard port).
NO_SURFACES = '[web]\nport = 0\n[osc.targets]\nlighting-desk = "127.0.0.1:9"\n'


class Running:
    """A ``showctl run`` process (``--sim``, or with ``sim`` false on the real backend) and the
    commands that talk to it."""

    def __init__(
        self,
        folder: Path,
        show: Path,
        settings: Path | None = None,
        env: dict[str, str] | None = None,
        sim: bool = True,
        name: str = "run",
        wrap: Callable[[list[str]], list[str]] = lambda argv: argv,
        answers: bool = True,
    ) -> None:
        """``settings``: the settings file (default: :data:`NO_SURFACES`); ``env``: added to
        the environment (the sound hub's, without ``sim``); ``name``: of its log and socket
        (several in one folder); ``wrap``: the command as run (in a box's namespaces,
        tests/harness/boxes.py); ``answers``: it has a control socket to wait for (a box that
        follows has none)."""
        if settings is None:
            settings = folder / "no-surfaces.toml"
            settings.write_text(NO_SURFACES)
        self.socket = folder / name / "control.sock"
        self.state = folder / f"{name}-state.json" if name != "run" else folder / "state.json"
        self.capture = folder / "capture"
        self.log = (folder / f"{name}.log").open("w+")
        self.process = subprocess.Popen(
            wrap(
                [
                    *SHOWCTL,
                    "run",
                    *(["--sim", "--capture", str(self.capture)] if sim else []),
                    str(show),
                    "--socket",
                    str(self.socket),
                    "--state",
                    str(self.state),
                    "--settings",
                    str(settings),
                ]
            ),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            process_group=0,  # its own, as a service has: a signal to it is not pytest's
        )
        deadline = time.monotonic() + 30
        while answers and self.ask("status").returncode != 0:
            assert self.process.poll() is None, self.logs()
            assert time.monotonic() < deadline, "the controller did not answer within 30 s"
            time.sleep(0.2)

    def ask(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*SHOWCTL, *args, "--socket", str(self.socket)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def answer(self, *args: str) -> dict:
        done = self.ask(*args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def logs(self) -> list[dict]:
        self.log.seek(0)
        return [json.loads(line) for line in self.log if line.startswith("{")]

    def stop(self) -> int:
        """SIGTERM to its process group; its exit status (wrapped in a box's namespaces:
        ``unshare``'s, killed by the signal it passes on; the log says how showctl ended)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        return self.process.wait(timeout=15)
