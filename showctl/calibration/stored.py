"""The calibration file: each output's measured trim, beside the show (``gallery.yaml``:
``gallery.calibration.json``), written by ``showctl calibrate --write``.

A file of its own rather than the show's ``delay`` keys: an artist's edited show copied over
the old one keeps the room's measurement, and a ``delay`` the designer meant (an echo, a
speaker heard later on purpose) stays theirs, the trims coming on top of it. What no longer
fits the show is never applied silently: an output the show no longer has, one now on another
device (its card's latency is not the one measured), one the file lacks, each is a warning in
the log and the status, and that output plays untrimmed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from showctl.show.model import Show

SUFFIX = ".calibration.json"
VERSION = 1


def path_for(show: Path) -> Path:
    """The calibration file of the show at ``show``."""
    return show.with_name(show.stem + SUFFIX)


@dataclass(frozen=True)
class Trims:
    """The trims that apply to a show's outputs (s), where they come from, and why any output
    is left untrimmed."""

    path: Path
    trims: dict[str, float] = field(default_factory=dict)
    measured: str | None = None  # when (ISO 8601), ``None``: no calibration
    problems: tuple[str, ...] = ()

    def status(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "measured": self.measured,
            "trims": self.trims,
            "problems": list(self.problems),
        }


def load_for(show: Show) -> Trims:
    """The trims of ``show``'s calibration file for its outputs, with the problems found; no
    file: no trims and no problem (a show need not be calibrated). Never raises."""
    path = path_for(show.path)
    if not path.exists():
        return Trims(path)
    name = path.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        measured = str(data["measured"])
        outputs = {
            str(o): (str(entry["device"]), float(entry["trim"]))
            for o, entry in data["outputs"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        reason = e.strerror if isinstance(e, OSError) else f"{type(e).__name__}: {e}"
        return Trims(
            path,
            problems=(
                f"{name} cannot be read ({reason}): every output plays untrimmed; calibrate "
                "again with showctl calibrate --write",
            ),
        )
    trims, problems = {}, []
    for output, (device, trim) in outputs.items():
        if output not in show.outputs:
            problems.append(
                f"{name} trims output {output!r}, which the show no longer has; calibrate "
                "again with --write"
            )
        elif show.outputs[output].device != device:
            problems.append(
                f"output {output!r} was calibrated on {device!r} and now plays on "
                f"{show.outputs[output].device!r}: it plays untrimmed until calibrated again "
                "with --write"
            )
        elif not 0.0 <= trim <= 1.0:
            problems.append(
                f"{name} trims output {output!r} by {trim:g}s, outside 0 to 1s: it plays "
                "untrimmed; calibrate again with --write"
            )
        else:
            trims[output] = trim
    problems += [
        f"output {output!r} is not in {name}: it plays untrimmed until calibrated again with "
        "--write"
        for output in show.outputs
        if output not in outputs
    ]
    return Trims(path, trims, measured, tuple(problems))


def write(show: Show, trims: dict[str, float], measured: str, input_device: str) -> Path:
    """Store ``trims`` (s, an entry for every output of ``show``) as its calibration, at once
    (a reader sees the old file or the new one); the file's path."""
    path = path_for(show.path)
    data = {
        "showctl_calibration": VERSION,
        "measured": measured,
        "input": input_device,
        "outputs": {
            name: {"device": show.outputs[name].device, "trim": round(trim, 9)}
            for name, trim in trims.items()
        },
    }
    written = path.with_name(path.name + ".new")
    written.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(written, path)
    return path
