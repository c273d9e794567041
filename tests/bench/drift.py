"""Drift: 8 simulated cards with clock errors over +-100 ppm, a day of show time on a fake clock.

    python tests/bench/drift.py [--quick] [--hours H]

Each output is a simulated device whose crystal runs ppm fast or slow (spread evenly over
-100..+100 ppm), reporting its DAC times with 0.2 ms of Gaussian jitter, playing one looped clip
started at a common T0. The simulator knows when each sample truly leaves each DAC, so the
true offset of each output from the timeline is known at every block; the figure is the
largest difference between any two outputs at any moment of the run. In the same run, the same
eight outputs without the drift lock.

Blocks are 100 ms (4800 samples), ten a second: the lock makes at most one correction a block,
and 100 ppm needs 4.8 a second. The content comes from memory, not disk (this measures the
lock, not the reader). Prints lines for people and one JSON object last.
"""

from __future__ import annotations

import argparse
import time

import _common
import numpy as np

from showctl.audio.base import Block
from showctl.audio.renderer import Renderer, Start
from showctl.audio.sim import SimStream
from showctl.clock import FakeClock

RATE = 48000
BLOCK = 4800
OUTPUTS = 8
JITTER = 0.0002
CHECK = 10.0  # seconds of show time between two looks at every output


class MemoryLoop:
    """An endless source of silence that counts its position (a loop held in memory)."""

    def __init__(self) -> None:
        self.position = 0
        self.length = None

    def read_into(self, out: Block) -> int:
        out.fill(0.0)
        self.position += len(out)
        return len(out)

    def skip(self, n: int) -> None:
        self.position += n

    def close(self) -> None:
        pass


def offsets(ppm: float, hours: float, lock: bool, seed: int) -> np.ndarray:
    """One output's true offset from the timeline (seconds), every CHECK seconds of the run."""
    clock = FakeClock()
    stream = SimStream(
        f"o{seed}", RATE, clock=clock, ppm=ppm, jitter=JITTER, block=BLOCK, seed=seed
    )
    renderer = Renderer(RATE, lock=lock)
    source = MemoryLoop()
    stream.start(renderer.render)
    start = stream.dac_time(0)
    stream.run_until(start + 3.0)  # the clock settles and warms up
    t0 = start + 3.0 + 0.5
    renderer.commands.append(Start(source, t0))
    out = []
    check = t0 + 1.0
    end = t0 + hours * 3600
    while check <= end:
        stream.run_until(check)
        # The content index of the next sample out, against where the timeline puts it.
        truth = (stream.dac_time(stream.frames) - t0) * RATE
        out.append((source.position - truth) / RATE)
        check += CHECK
    return np.array(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 hour instead of 24")
    parser.add_argument("--hours", type=float, help="hours of show time")
    args = parser.parse_args()
    hours = args.hours or (1.0 if args.quick else 24.0)
    ppms = np.linspace(-100, 100, OUTPUTS)
    began = time.monotonic()
    locked = np.array([offsets(p, hours, True, i) for i, p in enumerate(ppms)])
    free = np.array([offsets(p, hours, False, i) for i, p in enumerate(ppms)])
    spread = (locked.max(axis=0) - locked.min(axis=0)) * 1000
    free_spread = (free.max(axis=0) - free.min(axis=0)) * 1000
    print(
        f"{OUTPUTS} outputs at {', '.join(f'{p:+.0f}' for p in ppms)} ppm, {hours:g} h, "
        f"{JITTER * 1000:g} ms timestamp jitter ({time.monotonic() - began:.0f} s to run)"
    )
    print(
        f"with the drift lock: largest offset between two outputs {spread.max():.3f} ms "
        f"(median over the run {np.median(spread):.3f} ms)"
    )
    print(f"without: {free_spread.max():.1f} ms")
    _common.report(
        {
            "hours": hours,
            "outputs": OUTPUTS,
            "max_offset_ms": round(float(spread.max()), 4),
            "median_offset_ms": round(float(np.median(spread)), 4),
            "uncorrected_max_offset_ms": round(float(free_spread.max()), 1),
        },
        {"max_offset_ms": 0.5},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
