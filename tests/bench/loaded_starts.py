"""Starts on a loaded machine: does every output's start come whole, with both cores busy?

    python tests/bench/loaded_starts.py [--quick] [--starts N]

Eight supervised player processes (the pool ``showctl run`` uses, on the real backend:
sounddevice, PortAudio, the virtual sound hub's PipeWire ALSA PCMs) play eight different noise
clips, one start every PERIOD seconds, each placed as the controller places a scene: T0 is now
plus the players' ``soonest`` (which covers the commands' measured way to them), as the pool
places it for the controller, the clips read ahead by the players (``load``) as the controller
has them read. Meanwhile HOGS processes spin on the CPU (a real load at normal priority, not a
sleep), one a core of this machine's two. The pool and its players run at the priority the
systemd unit gives showctl (its ``Nice=``; the players' command readers, and the pool while it
writes a start's commands, at the real-time priority of :mod:`showctl.realtime`, which the
unit's ``LimitRTPRIO=`` grants and this benchmark checks they have), the hub and the hogs at
the normal one. The players run SETTLE seconds first, under the load too.

- **cut starts**: starts that some player began late, its clip's first samples never heard, as
  the pool counts them (``cut_starts`` in each output's health, logged as ``start_cut``);
- **not whole**: starts in whose stretch of the hub's recording some clip is not found from its
  first sample (the recording's own word on the same thing);
- **skew**: for the starts found whole, the latest output's first sample minus the earliest's.

Prints figures for people, and one JSON object last. Starts the hub if none runs.
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

from showctl import log, realtime
from showctl.players.pool import PlayerPool
from showctl.show.model import Output
from tests.harness.analysis import Window, noise_clip, skews
from tests.harness.soundhub import SoundHub, device_name

OUTPUTS = 8
RATE = 48000
CLIP_SECONDS = 0.25
#: Seconds from one start to the next: the clip, and silence enough to tell starts apart.
PERIOD = 1.0
#: Processes spinning on the CPU while the players run: one a core.
HOGS = os.cpu_count() or 2
#: Seconds the players run (under the load) before the starts that count.
SETTLE = 20.0
QUICK_SETTLE = 10.0
#: The skew a start must keep (p99), as sync.py's: 2 samples at 48 kHz.
TARGET_SKEW_MS = 0.042


def unit_nice() -> int:
    """The ``Nice=`` of ``systemd/showctl.service``: the priority showctl runs at on a box."""
    unit = (_common.ROOT / "systemd" / "showctl.service").read_text()
    return next(int(line.split("=")[1]) for line in unit.splitlines() if line.startswith("Nice="))


def reads_at_real_time(pid: int) -> bool:
    """Whether a thread of process ``pid`` (its command reader) runs at showctl's real-time
    priority."""
    tasks = [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    return any(
        os.sched_getscheduler(t) == os.SCHED_FIFO
        and os.sched_getparam(t).sched_priority == realtime.PLAYERS
        for t in tasks
    )


def hogs() -> list[subprocess.Popen[bytes]]:
    """HOGS processes that keep a core each busy until killed."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(HOGS)]


async def run(
    hub: SoundHub, paths: list[Path], starts: int, settle: float
) -> tuple[np.ndarray, list[Window], int, float]:
    """The recording, each start's stretch of it, the starts the pool counted as cut, and the
    lead of the last start (s)."""
    outputs = {f"out{i}": Output(device_name(i)) for i in range(OUTPUTS)}
    windows: list[Window] = []
    clips = {f"out{i}": (p, False) for i, p in enumerate(paths)}
    ahead = {name: {clip} for name, clip in clips.items()}
    async with PlayerPool(outputs, env=hub.env) as pool:
        if not all(reads_at_real_time(p.pid) for p in pool.players.values()):
            raise SystemExit("the players read without real-time priority: run this as root")
        await pool.load(ahead)
        await asyncio.sleep(settle)
        with hub.record() as recording:
            await asyncio.sleep(0.5)
            lead = 0.0
            for k in range(starts):
                begin = time.monotonic()
                t0 = await pool.play(clips, play=k + 1)  # placed as for ShowController's scenes
                lead = t0 - begin
                await pool.load(ahead)  # the next scene's clips read ahead, as the controller has
                await asyncio.sleep(max(0.0, begin + PERIOD - time.monotonic()))
                windows.append((recording.sample_at(begin), recording.sample_at(time.monotonic())))
            await asyncio.sleep(0.3)
            cut = sum(h.cut_starts for h in pool.health().values())
            return recording.stop(), windows, cut, lead


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 starts instead of 100")
    parser.add_argument("--starts", type=int, help="how many starts")
    args = parser.parse_args()
    starts = args.starts or (20 if args.quick else 100)
    settle = QUICK_SETTLE if args.quick else SETTLE
    log.configure("warning", "json", sys.stderr)
    load = hogs()
    nice = unit_nice()
    try:
        with SoundHub(OUTPUTS) as hub, tempfile.TemporaryDirectory() as folder:
            os.setpriority(os.PRIO_PROCESS, 0, nice)  # the hub and the hogs keep theirs
            paths = [Path(folder) / f"noise{i}.wav" for i in range(OUTPUTS)]
            clips = [noise_clip(p, seed=300 + i, seconds=CLIP_SECONDS) for i, p in enumerate(paths)]
            recording, windows, cut, lead = asyncio.run(run(hub, paths, starts, settle))
    finally:
        for hog in load:
            hog.kill()
            hog.wait()
    ms = [s * 1000 for s in skews(recording, windows, clips)]
    print(
        f"{starts} starts on {OUTPUTS} outputs at nice {nice} and real-time priority "
        f"{realtime.PLAYERS} with {HOGS} processes spinning on the CPU at nice 0 (the last lead "
        f"{lead * 1e3:.1f} ms):\n"
        f"  cut short (the pool's count, over all outputs): {cut} (target 0)\n"
        f"  not found whole in the recording: {starts - len(ms)}\n"
        f"  skew p50 {_common.percentile(ms, 50):.3f} ms, p99 {_common.percentile(ms, 99):.3f} ms"
        f" (target {TARGET_SKEW_MS})"
    )
    _common.report(
        {
            "outputs": OUTPUTS,
            "hogs": HOGS,
            "nice": nice,
            "realtime_priority": realtime.PLAYERS,
            "starts": starts,
            "lead_ms": round(lead * 1e3, 3),
            "cut_starts": cut,
            "not_whole": starts - len(ms),
            "skew_p50_ms": round(_common.percentile(ms, 50), 4),
            "skew_p99_ms": round(_common.percentile(ms, 99), 4),
        },
        {"cut_starts": 0, "not_whole": 0, "skew_p99_ms": TARGET_SKEW_MS},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
