"""LED timing: every edge of a long cue against its ideal time, on the real clock.

    python tests/bench/led_timing.py [--quick] [--minutes M]

A program of blinks and sequences (about 50 edges a second on a 5x5 matrix) runs for M minutes
(10; 10 s with --quick) through showctl's LED player (its own thread, absolute deadlines) onto
simulated GPIO lines that stamp every change with the monotonic clock. The error of an edge is
when its line changed minus T0 plus its time on the cue's timeline; the final drift is the error
of the last edges. In the same run and the same process, the baseline from the asyncio blinking
talk: each blink a task that sets its LEDs and then awaits ``asyncio.sleep(interval)``, whose
errors add up edge after edge. Last, how many whole scans a second a 32x32 multiplexed matrix
reaches through the simulated lines (mux_32x32_fps). Prints one JSON object last.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable

import _common
import numpy as np

from showctl.clock import MonotonicClock
from showctl.gpio.sim import SimGpio, SimOutputLines
from showctl.leds.matrix import LedMatrix, LedPlayer, MultiplexedMatrix
from showctl.leds.programs import Schedule, timeline
from showctl.show.model import All, Blink, Cue, Forever, Matrix, Program, Sequence

MATRIX = Matrix(lines=tuple(tuple(range(r * 5, r * 5 + 5)) for r in range(5)))
#: About 52 edges a second: three free-running blinks (14.3, 11.1 and 9.1 edges a second) and a
#: repeating sequence of two (10 edges in 0.58 s).
PROGRAM = All(
    (
        Blink(((0, 0),), 0.07),
        Blink(((1, 1),), 0.09),
        Blink(((2, 2),), 0.11),
        Forever(Sequence((Blink(((3, 3),), 0.05, count=3), Blink(((4, 4),), 0.07, count=2)))),
    )
)
LEAD = 0.5  # seconds from setting up to T0


def edges_by_line(lines: SimOutputLines, since: float) -> dict[int, list[float]]:
    return {o: [t - since for t, _ in lines.edges(o)] for o in lines.offsets}


def ideal_edges(seconds: float) -> dict[int, list[float]]:
    """Every line's edges on the cue's own timeline (no clock): the ideal times."""
    out: dict[int, list[float]] = {o: [] for row in MATRIX.lines for o in row}
    before = np.zeros((MATRIX.rows, MATRIX.columns), dtype=bool)
    for t, frame in timeline(MATRIX, (Cue(PROGRAM),), seconds):
        for r, c in zip(*np.nonzero(frame != before), strict=True):
            out[MATRIX.lines[r][c]].append(t)
        before = frame
    return out


def errors(actual: dict[int, list[float]], ideal: dict[int, list[float]]) -> list[float]:
    """Edge k of each line against ideal edge k: actual minus ideal, in seconds."""
    return [a - i for o, times in actual.items() for a, i in zip(times, ideal[o], strict=False)]


def last_errors(actual: dict[int, list[float]], ideal: dict[int, list[float]]) -> float:
    """The largest error among each line's last edge: what has accumulated by the end."""
    return max(abs(times[-1] - ideal[o][len(times) - 1]) for o, times in actual.items() if times)


async def naive(program: Program, lines: SimOutputLines) -> None:
    """The talk's way: set, then ``await asyncio.sleep(interval)``."""
    if isinstance(program, Blink):
        offsets = [MATRIX.lines[r][c] for r, c in MATRIX.resolve(program.leds)]
        for _ in range(program.count) if program.count else iter(int, 1):
            lines.set(dict.fromkeys(offsets, True))
            await asyncio.sleep(program.interval)
            lines.set(dict.fromkeys(offsets, False))
            await asyncio.sleep(program.interval)
    elif isinstance(program, Sequence):
        for child in program.programs:
            await naive(child, lines)
    elif isinstance(program, Forever):
        while True:
            await naive(program.program, lines)
    elif isinstance(program, All):
        await asyncio.gather(*(naive(child, lines) for child in program.programs))


async def run(seconds: float) -> tuple[dict[int, list[float]], dict[int, list[float]]]:
    ours_lines = SimGpio(MonotonicClock()).request_outputs("gpiochip0", range(25))
    base_lines = SimGpio(MonotonicClock()).request_outputs("gpiochip0", range(25))
    player = LedPlayer(LedMatrix(MATRIX, ours_lines))
    player.start()
    t0 = time.monotonic() + LEAD
    player.play(Schedule(MATRIX, (Cue(PROGRAM),)), t0)
    await asyncio.sleep(LEAD)
    base_t0 = time.monotonic()
    task: Awaitable[None] = asyncio.ensure_future(naive(PROGRAM, base_lines))
    await asyncio.sleep(seconds)
    task.cancel()  # type: ignore[attr-defined]
    player.stop()
    ours = edges_by_line(ours_lines, t0)
    base = edges_by_line(base_lines, base_t0)
    cut = seconds - 0.05  # edges after the end of the run window are not compared
    return (
        {o: [t for t in ts if t <= cut] for o, ts in ours.items()},
        {o: [t for t in ts if t <= cut] for o, ts in base.items()},
    )


def mux_fps(seconds: float) -> float:
    """Whole scans a second of a 32x32 multiplexed matrix (32 row lines, 32 column lines)
    through the simulated lines, scanning as fast as they go: one change a row."""
    matrix = Matrix(row_lines=tuple(range(32)), column_lines=tuple(range(32, 64)))
    lines = SimGpio(MonotonicClock()).request_outputs("gpiochip0", matrix.offsets)
    mux = MultiplexedMatrix(matrix, lines, start=False)
    mux.show(np.random.default_rng(1).random((32, 32)) < 0.5)
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        mux.scan()
        lines.history.clear()  # the simulation's record, not what a real chip would keep
    fps = mux.scans / (time.monotonic() - began)
    mux.close()
    return fps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 seconds instead of 10 minutes")
    parser.add_argument("--minutes", type=float, help="how long the program runs")
    args = parser.parse_args()
    seconds = 60 * args.minutes if args.minutes else (10.0 if args.quick else 600.0)
    ours, base = asyncio.run(run(seconds))
    ideal = ideal_edges(seconds + 1)
    ms = [abs(e) * 1000 for e in errors(ours, ideal)]
    base_ms = [abs(e) * 1000 for e in errors(base, ideal)]
    drift, base_drift = last_errors(ours, ideal) * 1000, last_errors(base, ideal) * 1000
    fps = mux_fps(2.0 if args.quick else 10.0)
    print(
        f"showctl: {len(ms)} edges in {seconds:g} s, error p50 {_common.percentile(ms, 50):.3f} "
        f"ms, p99 {_common.percentile(ms, 99):.3f} ms, at the end {drift:.3f} ms"
    )
    print(
        f"set-then-sleep baseline: {len(base_ms)} edges, error p99 "
        f"{_common.percentile(base_ms, 99):.3f} ms, at the end {base_drift:.3f} ms"
    )
    print(f"a 32x32 multiplexed matrix on the simulated lines: {fps:.0f} whole scans a second")
    _common.report(
        {
            "edges": len(ms),
            "seconds": seconds,
            "p50_err_ms": round(_common.percentile(ms, 50), 3),
            "p99_err_ms": round(_common.percentile(ms, 99), 3),
            "final_drift_ms": round(drift, 3),
            "baseline_p99_err_ms": round(_common.percentile(base_ms, 99), 3),
            "baseline_final_drift_ms": round(base_drift, 3),
            "mux_32x32_fps": round(fps, 1),
        },
        {"p99_err_ms": 1.0, "final_drift_ms": 1.0},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
