"""The benchmarks' runner (`make test`'s quick benchmarks): their figures, the targets each met
or missed, and one summary line last; a miss is reported, a failing benchmark fails the run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

RUN = ROOT / "tests" / "bench" / "run.py"

BENCH = """\
import sys
from math import nan
sys.path.insert(0, {bench!r})
import _common
print("what it measured, for people")
_common.report({figures!r}, {targets!r})
"""


def bench(folder: Path, name: str, figures: dict, targets: dict) -> Path:
    path = folder / f"{name}.py"
    path.write_text(BENCH.format(bench=str(RUN.parent), figures=figures, targets=targets))
    return path


def run(*scripts: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN), "--quick", *map(str, scripts)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_each_benchmark_says_which_targets_it_met_and_the_run_ends_with_the_misses(
    tmp_path: Path,
) -> None:
    met = bench(
        tmp_path,
        "loop",
        {"seams": 1000, "max_seam_error_samples": 0},
        {"max_seam_error_samples": 0},
    )
    missed = bench(
        tmp_path,
        "sync",
        {"p99_skew_ms": 0.61, "missed_starts": 0, "healthy": True},
        {"p99_skew_ms": 0.25, "missed_starts": 0, "healthy": True},
    )
    nan = bench(tmp_path, "cost", {"cpu_pct": float("nan")}, {"cpu_pct": 3})
    done = run(met, missed, nan)
    assert done.returncode == 0, "a missed target is reported, not failed"
    lines = done.stdout.splitlines()
    sync = json.loads(lines[3])
    assert (sync["met_p99_skew_ms"], sync["target_p99_skew_ms"]) == (False, 0.25)
    assert (sync["met_missed_starts"], sync["met_healthy"], sync["missed"]) == (
        True,
        True,
        ["p99_skew_ms"],
    )
    assert json.loads(lines[1])["missed"] == []
    assert lines[-1] == (
        "benchmarks: 2 of 3 missed targets (timings are reported, not asserted): "
        "sync p99_skew_ms 0.61 (target 0.25); cost cpu_pct nan (target 3)"
    )


def test_a_benchmark_that_fails_or_reports_no_targets_fails_the_run(tmp_path: Path) -> None:
    crash = tmp_path / "crash.py"
    crash.write_text("raise SystemExit(3)\n")
    silent = tmp_path / "silent.py"
    silent.write_text("print('{\"p99\": 1}')\n")
    done = run(crash, silent)
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1] == (
        "benchmarks: all 0 met their targets; FAILED: crash (exit status 3); "
        "silent (no JSON line of figures and targets last)"
    )
