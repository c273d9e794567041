"""Shared fixtures: a small valid show in a folder of its own, with its media."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

from showctl.errors import Problem
from showctl.show import loader
from showctl.testing import write_wav

settings.register_profile("default", max_examples=300)
settings.register_profile("deep", max_examples=6000)
settings.load_profile("default")

ROOT = Path(__file__).resolve().parent.parent
SHOWS = sorted((ROOT / "shows").glob("*.yaml"))

#: A small show that checks clean; tests change one thing in it and look at what is reported.
BASE = """\
version: 1
initial: a
media: media
outputs:
  left: {device: "hw:CARD=a", rate: 48000}
matrix:
  lines: [[1, 2, 3], [4, 5, 6]]
  names: {dot: [0, 1]}
inputs:
  button: {line: 10}
flags: [done]
scenes:
  a:
    audio:
      left: tone.wav
    leds:
      - blink: dot
        interval: 100ms
    transitions:
      - input: button
        to: b
  b:
    transitions:
      - after: 1s
        to: a
"""

CheckFn = Callable[[str], list[Problem]]


@pytest.fixture
def escape_room(tmp_path: Path) -> Path:
    """A copy of shows/escape-room.yaml that a test may change, its media as in the checkout."""
    shows = tmp_path / "shows"
    shows.mkdir()
    (tmp_path / "media").symlink_to(ROOT / "media")
    return Path(shutil.copy(ROOT / "shows" / "escape-room.yaml", shows))


@pytest.fixture
def show_dir(tmp_path: Path) -> Path:
    """A folder with ``media/tone.wav`` (mono, 48 kHz), ready for a show file."""
    write_wav(tmp_path / "media" / "tone.wav", seconds=0.5)
    return tmp_path


@pytest.fixture
def problems(show_dir: Path) -> CheckFn:
    """Write show text to ``show.yaml`` beside the media, check it, return the problems."""

    def check(text: str) -> list[Problem]:
        path = show_dir / "show.yaml"
        path.write_text(text, encoding="utf-8")
        return loader.check(path)[1]

    return check
