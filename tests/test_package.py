"""The package itself: importable without the hardware libraries."""

from __future__ import annotations

import subprocess
import sys


def test_import_pulls_in_no_hardware_library() -> None:
    """`import showctl` and the modules of this foundation load neither sounddevice nor gpiod,
    so they work on a laptop without PortAudio or libgpiod."""
    code = (
        "import sys, showctl, showctl.cli, showctl.show, showctl.walk, showctl.machine;"
        "print(sorted(m for m in ('sounddevice', 'gpiod') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_player_process_stays_lean() -> None:
    """A player (one per output, each within a 60 MB budget) loads neither structlog nor
    asyncio, which with what they pull in (ssl among it) cost 7.5 MB a process; nor the show
    loader, the state machine or the web server."""
    code = (
        "import sys; sys.argv = ['showctl', 'player', '--help'];"
        "import showctl.cli, showctl.player;"
        "print(sorted(m for m in ('structlog', 'asyncio', 'yaml', 'transitions', 'showctl.show',"
        " 'aiohttp') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_controller_loads_mqtt_and_osc_only_when_asked() -> None:
    """``showctl run`` with the default settings (the web page only) loads neither paho nor
    python-osc."""
    code = (
        "import sys, showctl.app;"
        "print(sorted(m for m in ('paho', 'pythonosc') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
