"""`showctl play --sim`: player processes on simulated devices, each capturing what it played."""

from __future__ import annotations

import resource
import signal
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


def play(
    folder: Path, scene: str, *options: str, max_file_size: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Write the show and its clips (300 Hz left, 1200 Hz right) and run `showctl play`;
    with ``max_file_size``, no file it writes can grow beyond that (bytes): a full disk."""

    def limit() -> None:
        if max_file_size is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past it fails instead
            resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_size, max_file_size))

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
        preexec_fn=limit,
    )


def test_play_scene_on_simulated_outputs(tmp_path: Path) -> None:
    """Each output's capture is named after the output (left.wav), not its device."""
    captures = tmp_path / "captures"
    result = play(tmp_path, "hello", "--capture", str(captures), "--timeout", "20")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "scene 'hello': 2 outputs started within" in result.stdout
    assert "2 finished" in result.stdout
    assert sorted(p.name for p in captures.iterdir()) == ["left.wav", "right.wav"]
    for output, pitch in (("left", 300.0), ("right", 1200.0)):
        played, rate = soundfile.read(str(captures / f"{output}.wav"), dtype="float32")
        heard = np.flatnonzero(np.abs(played) > 0.01)
        span = played[heard[0] : heard[-1] + 1]
        assert abs(len(span) - 0.5 * rate) < 0.01 * rate, output  # the whole clip, once
        assert abs(dominant(span) - pitch) < 5, output


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


def test_play_capture_folder_that_cannot_be_written(tmp_path: Path) -> None:
    """A capture folder that cannot be written is one sentence naming it and the fix."""
    folder = tmp_path / "not-a-folder"
    folder.write_text("a file where the captures would go")
    result = play(tmp_path, "hello", "--capture", str(folder), "--timeout", "20")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()  # the first output's error, whichever it is
    assert line in {
        f"output '{output}': the capture {folder / output}.wav cannot be written (File exists); "
        "free some space, or give --capture a folder that can be written to"
        for output in ("left", "right")
    }


def test_play_capture_that_fills_its_disk(tmp_path: Path) -> None:
    """A capture that cannot be written on (its disk full) stops its output with one sentence
    naming it, at once, though the output was still starting."""
    captures = tmp_path / "captures"
    result = play(tmp_path, "hello", "--capture", str(captures), max_file_size=100_000)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line in {
        f"output '{output}': the capture {captures / output}.wav cannot be written (File too "
        "large); free some space, or give --capture a folder that can be written to"
        for output in ("left", "right")
    }
