"""Shared by the benchmarks: paths, the sound hub, and the one-JSON-line result."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q)) if values else float("nan")


def report(figures: dict[str, Any], targets: Mapping[str, float | bool]) -> None:
    """Print the figures as one JSON object, the last line of the benchmark's output.

    ``targets`` maps the name of a figure to its target: a number it must not exceed, or
    ``True`` (it must be true). Each is added to the line as ``target_NAME``, whether it was
    met as ``met_NAME``, and the names of those missed as ``missed`` (a figure that could not
    be measured, NaN, misses). Nothing fails on a miss: timings are reported, not asserted.
    """
    line = dict(figures)
    missed = []
    for name, target in targets.items():
        value = figures[name]
        met = bool(value) if target is True else bool(value <= target)
        line[f"target_{name}"] = target
        line[f"met_{name}"] = met
        if not met:
            missed.append(name)
    line["missed"] = missed
    print(json.dumps(line, sort_keys=False), flush=True)
