"""What one player costs: resident memory and CPU, playing a 1-minute and a 1-hour file.

    python tests/bench/cost.py [--quick] [--seconds S]

A real player process (sounddevice, PortAudio, the sound hub) plays a 48 kHz mono WAV of one
minute, then one of an hour (345 MB, written to a temporary folder first), each for S seconds
(60; 10 with --quick). Memory is the process's resident set (VmRSS) at the end of each. CPU is
its user+system time as a percentage of one core, sampled every INTERVAL seconds: the figure is
the median of the samples (the larger of the two files'), with their p99. Streaming from disk
keeps the two memory figures alike: the file's length must not show. In the same run, the
reference: a bare sounddevice stream on the same device (what the harness itself costs:
PortAudio, the in-process PipeWire client, Python, numpy); and a simulated player (the
simulated backend, writing what it plays to a WAV file as ``make demo`` does) playing the
1-minute file, measured the same way: a simulated output must cost no more than a real one.
Prints one JSON object last. Starts the sound hub if none runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common
import numpy as np
import soundfile

from showctl import log
from showctl.audio.sounddevice_backend import BLOCK
from showctl.players import pool as player_pool
from showctl.players import protocol
from showctl.show.model import Output
from tests.harness.soundhub import SoundHub, device_name

RATE = 48000
#: Seconds of each CPU sample: the figure is the median over the samples, so that a burst of
#: load from elsewhere on a shared machine does not decide it.
INTERVAL = 5.0


def write_long(path: Path, seconds: int) -> None:
    """A mono 16-bit WAV of ``seconds``, written a minute at a time (bounded memory here too)."""
    rng = np.random.default_rng(7)
    with soundfile.SoundFile(str(path), "w", RATE, 1, subtype="PCM_16") as f:
        for _ in range(0, seconds, 60):
            f.write((rng.standard_normal(RATE * 60) * 3000).astype(np.int16))


def usage(pid: int) -> tuple[float, float]:
    """(resident MB, CPU seconds used so far) of a process: the run time the scheduler counted
    for each of its threads, in nanoseconds (``/proc/PID/task/*/schedstat``), not clock ticks."""
    with open(f"/proc/{pid}/status") as f:
        rss_kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    used = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            used += int((task / "schedstat").read_text().split()[0])
    return rss_kb / 1024, used / 1e9


async def sample(pid: int, seconds: float) -> tuple[float, list[float]]:
    """The process's resident MB at the end, and its CPU (% of one core) in each INTERVAL."""
    cpu = []
    rss, used = usage(pid)
    began = time.monotonic()
    for _ in range(max(1, round(seconds / INTERVAL))):
        await asyncio.sleep(INTERVAL)
        rss, now_used = usage(pid)
        now = time.monotonic()
        cpu.append(100 * (now_used - used) / (now - began))
        used, began = now_used, now
    return rss, cpu


async def measure(
    clip: Path, seconds: float, device: str, **options: Any
) -> tuple[float, list[float]]:
    """Play ``clip`` on one output of ``device`` (a player pool with ``options``), and sample
    its player once the clip plays."""
    async with player_pool.PlayerPool({"a": Output(device)}, **options) as pool:
        await pool.play({"a": (clip, False)}, time.monotonic() + 0.2)
        await pool.players["a"].wait_for(protocol.Started, 5)
        await asyncio.sleep(1.0)  # the read-ahead fills
        return await sample(pool.players["a"].pid, seconds)


async def reference(hub: SoundHub, seconds: float) -> tuple[float, list[float]]:
    """The harness's floor: a bare sounddevice stream with an empty callback, in a process of
    its own (PortAudio, the in-process PipeWire client, Python and numpy; no showctl), with
    the block size and latency the players ask for."""
    code = (
        "import sys, time, sounddevice as sd\n"
        "def cb(out, frames, t, status): out.fill(0)\n"
        f"s = sd.OutputStream(device={device_name(0)!r}, samplerate={RATE}, channels=1,"
        f" dtype='float32', callback=cb, latency={Output('x').latency}, blocksize={BLOCK})\n"
        "s.start(); print('ready', flush=True); time.sleep(1e6)\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, **hub.env},
    )
    try:
        assert process.stdout is not None
        await asyncio.wait_for(process.stdout.readline(), 10)
        await asyncio.sleep(1.0)
        return await sample(process.pid, seconds)
    finally:
        process.kill()
        await process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 s a file instead of 60")
    parser.add_argument("--seconds", type=float, help="seconds to play each file")
    args = parser.parse_args()
    seconds = args.seconds or (10.0 if args.quick else 60.0)
    log.configure("warning", "json", open(os.devnull, "w"))  # noqa: SIM115  (for the process)
    with SoundHub(1) as hub, tempfile.TemporaryDirectory() as folder:
        short, long = Path(folder) / "minute.wav", Path(folder) / "hour.wav"
        write_long(short, 60)
        write_long(long, 3600)
        real = {"device": device_name(0), "env": hub.env}
        rss_1min, cpu_1min = asyncio.run(measure(short, seconds, **real))
        rss_1h, cpu_1h = asyncio.run(measure(long, seconds, **real))
        rss_floor, cpu_floor = asyncio.run(reference(hub, seconds))
        sim = {"device": "sim-a", "backend": "sim", "capture": Path(folder) / "captures"}
        rss_sim, cpu_sim = asyncio.run(measure(short, seconds, **sim))
    p50 = {
        name: _common.percentile(cpu, 50)
        for name, cpu in (
            ("1min", cpu_1min),
            ("1h", cpu_1h),
            ("floor", cpu_floor),
            ("sim", cpu_sim),
        )
    }
    print(
        f"the harness's floor (a bare sounddevice stream): {rss_floor:.1f} MB resident, "
        f"CPU p50 {p50['floor']:.2f} %, max {max(cpu_floor):.2f} %"
    )
    print(
        f"1-minute file: {rss_1min:.1f} MB resident, "
        f"CPU p50 {p50['1min']:.2f} %, max {max(cpu_1min):.2f} %"
    )
    print(
        f"1-hour file ({long.stat().st_size / 1e6 if long.exists() else 345:.0f} MB): "
        f"{rss_1h:.1f} MB resident, CPU p50 {p50['1h']:.2f} %, max {max(cpu_1h):.2f} %"
    )
    print(
        f"simulated output, capturing, 1-minute file: {rss_sim:.1f} MB resident, "
        f"CPU p50 {p50['sim']:.2f} %, max {max(cpu_sim):.2f} %"
    )
    _common.report(
        {
            "rss_mb_1min": round(rss_1min, 1),
            "rss_mb_1h": round(rss_1h, 1),
            "cpu_pct": round(max(p50["1min"], p50["1h"]), 2),
            "cpu_p99_pct": round(_common.percentile(cpu_1min + cpu_1h, 99), 2),
            "cpu_samples": len(cpu_1min) + len(cpu_1h),
            "seconds": seconds,
            "reference_rss_mb": round(rss_floor, 1),
            "reference_cpu_pct": round(p50["floor"], 2),
            "sim_rss_mb": round(rss_sim, 1),
            "sim_cpu_pct": round(p50["sim"], 2),
            "sim_cpu_p99_pct": round(_common.percentile(cpu_sim, 99), 2),
        },
        {"rss_mb_1min": 60, "rss_mb_1h": 60, "cpu_pct": 3, "sim_cpu_pct": 3},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
