"""`showctl play --sim`: player processes on simulated devices, each capturing what it played."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile

from showctl.testing import write_wav

SHOW = """\
version: 1
initial: hello
media: media
outputs:
  left: {device: "sim-left", rate: 48000}
  right: {device: "sim-right", rate: 48000}
scenes:
  hello:
    audio:
      left: low.wav
      right: high.wav
    transitions: [{audio_end: all, to: hello}]
"""


def dominant(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.argmax(spectrum) * 48000 / len(samples))


def play(folder: Path, scene: str, *options: str) -> subprocess.CompletedProcess[str]:
    """Write the show and its clips (300 Hz left, 1200 Hz right) and run `showctl play`."""
    write_wav(folder / "media" / "low.wav", seconds=0.5, frequency=300.0)
    write_wav(folder / "media" / "high.wav", seconds=0.5, frequency=1200.0)
    (folder / "show.yaml").write_text(SHOW)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "showctl",
            "play",
            str(folder / "show.yaml"),
            "--scene",
            scene,
            "--sim",
            *options,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_play_scene_on_simulated_outputs(tmp_path: Path) -> None:
    captures = tmp_path / "captures"
    result = play(tmp_path, "hello", "--capture", str(captures), "--timeout", "20")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "scene 'hello': 2 outputs started within" in result.stdout
    assert "2 finished" in result.stdout
    for device, pitch in (("sim-left", 300.0), ("sim-right", 1200.0)):
        played, rate = soundfile.read(str(captures / f"{device}.wav"), dtype="float32")
        heard = np.flatnonzero(np.abs(played) > 0.01)
        span = played[heard[0] : heard[-1] + 1]
        assert abs(len(span) - 0.5 * rate) < 0.01 * rate, device  # the whole clip, once
        assert abs(dominant(span) - pitch) < 5, device


def test_play_unknown_scene(tmp_path: Path) -> None:
    result = play(tmp_path, "goodbye")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"{tmp_path / 'show.yaml'} has no scene 'goodbye'; its scenes are: hello"
    )


def test_play_timeout_reports_what_finished(tmp_path: Path) -> None:
    """--timeout stops waiting and reports, rather than failing."""
    result = play(tmp_path, "hello", "--timeout", "0.1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "2 outputs started within" in result.stdout
    assert "0 finished" in result.stdout
