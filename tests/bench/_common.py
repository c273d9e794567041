"""Shared by the benchmarks: paths, the sound hub, and the one-JSON-line result."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q)) if values else float("nan")


def report(figures: dict[str, Any]) -> None:
    """Print the figures as one JSON object, the last line of the benchmark's output."""
    print(json.dumps(figures, sort_keys=False), flush=True)
