"""Run benchmarks one after another and end with one line: the targets they missed.

``python tests/bench/run.py [--quick] NAME...`` runs ``tests/bench/NAME.py`` for each NAME (or
a path to a script), passing ``--quick`` on, each one's output shown as it comes. Each must end
with the one JSON line of :func:`_common.report`, which says which targets it missed. The last
line printed is the summary, e.g.::

    benchmarks: 2 of 8 missed targets (timings are reported, not asserted): sync p99_skew_ms
    0.61 (target 0.25); cost cpu_pct 3.03 (target 3)

A missed target does not fail the run: these machines are shared and noisy, and some figures
are bounded by the virtual sound hub (README, Benchmarks). A benchmark that fails (a non-zero
exit) or prints no figures does: exit status 1, after the summary.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run(script: Path, quick: bool) -> tuple[dict[str, Any] | None, str | None]:
    """Run one benchmark, its output passed through; its figures, or why there are none."""
    args = [sys.executable, str(script), *(["--quick"] if quick else [])]
    with subprocess.Popen(args, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        last = ""
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            last = line if line.strip() else last
    if process.returncode != 0:
        return None, f"exit status {process.returncode}"
    try:
        figures = json.loads(last)
    except ValueError:
        figures = None
    if not isinstance(figures, dict) or "missed" not in figures:
        return None, "no JSON line of figures and targets last"
    return figures, None


def summary(results: dict[str, dict[str, Any]], failed: dict[str, str]) -> str:
    """The one line that ends the run."""
    misses = [
        f"{name} {key} {figures[key]} (target {figures[f'target_{key}']})"
        for name, figures in results.items()
        for key in figures["missed"]
    ]
    missing = sum(bool(f["missed"]) for f in results.values())
    line = (
        f"benchmarks: {missing} of {len(results)} missed targets (timings are reported, not "
        f"asserted): {'; '.join(misses)}"
        if misses
        else f"benchmarks: all {len(results)} met their targets"
    )
    if failed:
        line += "; FAILED: " + "; ".join(f"{name} ({why})" for name, why in failed.items())
    return line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="run each in its quick mode")
    parser.add_argument("benchmarks", nargs="+", help="names in tests/bench/, or paths")
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    for name in args.benchmarks:
        script = Path(name) if name.endswith(".py") else HERE / f"{name}.py"
        figures, why = run(script, args.quick)
        if figures is None:
            failed[script.stem] = str(why)
        else:
            results[script.stem] = figures
    print(summary(results, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
