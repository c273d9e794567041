"""Start skew across 8 outputs through the real backend on the virtual sound hub.

    python tests/bench/sync.py [--quick] [--starts N]

Eight player processes (sounddevice, PortAudio, the hub's ALSA pulse PCMs) play eight
different noise clips, all scheduled at one T0, again and again; the hub's monitor is
recorded throughout, and each clip is found in its channel by cross-correlation, to the
sample. The skew of a start is the latest output's first sample minus the earliest's.

The players run for SETTLE seconds before the first start, as an installed box's would.
In the same run, the baseline: eight processes that each open their device and write their
whole file as soon as they can, with no shared start time.

Prints figures as lines for people, and one JSON object last. Starts the hub if none runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common
import numpy as np

from showctl import log, supervisor
from showctl.show import Output
from tests.harness.analysis import channel, find_start, noise_clip
from tests.harness.soundhub import SoundHub, device_name

OUTPUTS = 8
RATE = 48000
CLIP_SECONDS = 0.25
ROUND_PAUSE = 0.6  # seconds of silence after each start's clips
#: Seconds the players run before the first start. A box starts its players at boot, long
#: before a scene; and through the hub's ALSA pulse plugin a fresh stream's timing reports take
#: that long to settle (measured: per-output errors of up to 60 samples after 4 s, decaying
#: over some seconds; within a few samples after 20 s).
SETTLE = 20.0


Window = tuple[int, int]


def skews(recording: np.ndarray, windows: list[Window], clips: list[np.ndarray]) -> list[float]:
    """The skew of each start, in seconds: in each start's stretch of the recording, where
    every output's clip begins. A start where some clip is not found whole counts as missed."""
    out = []
    for start, end in windows:
        segment = recording[start:end]
        firsts = []
        for i, clip in enumerate(clips):
            at, match = find_start(channel(segment, i), clip)
            if match < 0.9:
                break
            firsts.append(at)
        else:
            out.append((max(firsts) - min(firsts)) / RATE)
    return out


async def scheduled(
    hub: SoundHub, paths: list[Path], starts: int
) -> tuple[np.ndarray, list[Window]]:
    outputs = {f"out{i}": Output(device_name(i)) for i in range(OUTPUTS)}
    windows = []
    async with supervisor.PlayerPool(outputs, env=hub.env) as pool:
        with hub.record() as recording:
            await asyncio.sleep(SETTLE)
            for _ in range(starts):
                begin = time.monotonic()
                t0 = begin + supervisor.DEFAULT_LEAD
                await pool.play({f"out{i}": (p, False) for i, p in enumerate(paths)}, t0)
                await asyncio.sleep(supervisor.DEFAULT_LEAD + CLIP_SECONDS + ROUND_PAUSE)
                windows.append((recording.sample_at(begin), recording.sample_at(time.monotonic())))
            await asyncio.sleep(0.3)
            return recording.stop(), windows


def naive(hub: SoundHub, paths: list[Path], starts: int) -> tuple[np.ndarray, list[Window]]:
    script = Path(__file__).with_name("_naive_player.py")
    env = {**os.environ, **hub.env}
    windows = []
    with hub.record() as recording:
        time.sleep(0.5)
        for _ in range(starts):
            begin = time.monotonic()
            processes = [
                subprocess.Popen(
                    [sys.executable, str(script), device_name(i), str(p)],
                    env=env,
                    stderr=subprocess.DEVNULL,
                )
                for i, p in enumerate(paths)
            ]
            for process in processes:
                process.wait(timeout=30)
            time.sleep(ROUND_PAUSE)
            windows.append((recording.sample_at(begin), recording.sample_at(time.monotonic())))
        time.sleep(0.3)
        return recording.stop(), windows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 starts instead of 40")
    parser.add_argument("--starts", type=int, help="how many scheduled starts")
    args = parser.parse_args()
    starts = args.starts or (5 if args.quick else 40)
    log.configure("warning", "json", sys.stderr)
    with SoundHub(OUTPUTS) as hub, tempfile.TemporaryDirectory() as folder:
        paths = [Path(folder) / f"noise{i}.wav" for i in range(OUTPUTS)]
        clips = [noise_clip(p, seed=100 + i, seconds=CLIP_SECONDS) for i, p in enumerate(paths)]
        ours = skews(*asyncio.run(scheduled(hub, paths, starts)), clips)
        base = skews(*naive(hub, paths, starts), clips)
    ms = [s * 1000 for s in ours]
    base_ms = [s * 1000 for s in base]
    print(
        f"scheduled start: {len(ms)} starts, skew p50 {_common.percentile(ms, 50):.3f} ms, "
        f"p99 {_common.percentile(ms, 99):.3f} ms, max {max(ms, default=float('nan')):.3f} ms"
    )
    print(
        f"naive baseline: {len(base_ms)} starts, skew p50 "
        f"{_common.percentile(base_ms, 50):.3f} ms, p99 {_common.percentile(base_ms, 99):.3f} ms"
    )
    _common.report(
        {
            "outputs": OUTPUTS,
            "starts": len(ms),
            "p50_skew_ms": round(_common.percentile(ms, 50), 3),
            "p99_skew_ms": round(_common.percentile(ms, 99), 3),
            "max_skew_ms": round(max(ms, default=float("nan")), 3),
            "baseline_p99_skew_ms": round(_common.percentile(base_ms, 99), 3),
            "baseline_starts": len(base_ms),
            "missed_starts": starts - len(ms),
            "baseline_missed_starts": starts - len(base_ms),
            "target_p99_skew_ms": 0.25,
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
