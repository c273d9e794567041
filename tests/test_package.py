"""The package itself: importable without the hardware libraries."""

from __future__ import annotations

import json
import subprocess
import sys


def loaded(code: str, modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has loaded after running ``code``."""
    probe = (
        f"{code}\nimport json, sys; print(json.dumps([m for m in {modules!r} if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def test_import_pulls_in_no_hardware_library() -> None:
    """`import showctl` and the modules of this foundation load neither sounddevice nor gpiod,
    so they work on a laptop without PortAudio or libgpiod."""
    code = "import showctl, showctl.cli, showctl.show, showctl.walk, showctl.machine"
    assert loaded(code, ("sounddevice", "gpiod")) == []


def test_player_process_stays_lean() -> None:
    """A player (one per output, each within a 60 MB budget) loads neither structlog nor
    asyncio, which with what they pull in (ssl among it) cost 7.5 MB a process; nor the show
    loader, the state machine or the web server."""
    code = (
        "import sys; sys.argv = ['showctl', 'player', '--help']; import showctl.cli, showctl.player"
    )
    heavy = ("structlog", "asyncio", "yaml", "transitions", "showctl.show", "aiohttp")
    assert loaded(code, heavy) == []


def test_the_controller_loads_mqtt_and_osc_only_when_asked() -> None:
    """``showctl run`` with the default settings (the web page only) loads neither paho nor
    python-osc."""
    assert loaded("import showctl.app", ("paho", "pythonosc")) == []
