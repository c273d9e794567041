"""``showctl calibrate`` run on the sound hub, for the tests and the benchmark: a show of the
hub's outputs, the command as a technician runs it, and the truth to hold it to.

The truth is the hub's own recording (each output one channel): where each output's first
sweep began, less its slot in the measurement, is that output's arrival, exactly what the
microphone (a source on the hub hearing every output mixed) heard of it, unless the recording
skipped (:func:`arrivals` says so).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from showctl.calibration.estimate import GAP
from tests.harness.soundhub import MIC, SoundHub, device_name


def write_show(folder: Path, outputs: int, delays: dict[int, str] | None = None) -> Path:
    """A show of the hub's first ``outputs`` outputs (``o0``...), 200 ms of latency each (see
    tests/integration/test_hub_playback.py), some with a ``delay`` (``delays``)."""
    delays = delays or {}
    lines = ["version: 1", "name: calibrated", "initial: quiet", "outputs:"]
    for i in range(outputs):
        delay = f", delay: {delays[i]}" if i in delays else ""
        lines.append(f"  o{i}: {{device: {device_name(i)}, latency: 200ms{delay}}}")
    lines += ["scenes:", "  quiet: {}"]
    show = folder / "show.yaml"
    show.write_text("\n".join(lines) + "\n")
    return show


def calibrate(
    hub: SoundHub, show: Path, *args: str, input_device: str = MIC
) -> subprocess.Popen[str]:
    """``showctl calibrate SHOW --input MIC ARGS`` started on the hub; its log on stdout."""
    return subprocess.Popen(
        [sys.executable, "-m", "showctl", "calibrate", str(show), "--input", input_device, *args],
        env={**os.environ, **hub.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, dict[str, Any], str, str]:
    """Wait for a calibration: its exit code, its JSON line, and its stdout and stderr."""
    out, err = process.communicate(timeout=180)
    lines = out.strip().splitlines()
    summary = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    if "passed" not in summary:  # its last line is a log line: it could not calibrate at all
        raise CalibrateFailed(f"exit status {process.returncode}: {err.strip()[-2000:]}")
    return process.returncode, summary, out, err


class CalibrateFailed(AssertionError):
    """``showctl calibrate`` ended without its verdict (``cannot calibrate: ...``)."""


def arrivals(
    recording: npt.NDArray[np.int16], rate: int, measurement: int = 0
) -> dict[str, int] | None:
    """Each output's arrival (samples) against the earliest, as the hub recorded measurement
    ``measurement`` (0: the first; one made again counts): its first sweep's first sample not
    silent, less its slot. ``None`` when the recording skipped between the sweeps (the hub's
    recorder, a client of the graph, loses a cycle now and then on a busy machine): each
    output's two sweeps are ``outputs`` slots apart on the outputs' clock (to the sample a
    player's drift lock may drop or repeat), and the spans between them cover the whole
    measurement."""
    outputs = recording.shape[1]
    late, spacings = [], []
    for i in range(outputs):
        sounding = np.flatnonzero(recording[:, i])
        # A sweep begins where the channel sounds after a silence longer than any within one.
        starts = sounding[np.flatnonzero(np.diff(sounding, prepend=-rate) > rate // 10)]
        first, second = starts[2 * measurement : 2 * measurement + 2]
        late.append(int(first) - round(i * GAP * rate))
        spacings.append(int(second - first))
    if any(abs(s - round(outputs * GAP * rate)) > 1 for s in spacings):  # a player's lock: 1
        return None
    return {f"o{i}": t - min(late) for i, t in enumerate(late)}
