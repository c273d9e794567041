"""What one player costs: resident memory and CPU, playing a 1-minute and a 1-hour file.

    python tests/bench/cost.py [--quick] [--seconds S]

A real player process (sounddevice, PortAudio, the sound hub) plays a 48 kHz mono WAV of one
minute, then one of an hour (345 MB, written to a temporary folder first), each for S seconds
(60; 10 with --quick). Memory is the process's resident set (VmRSS) at the end of each; CPU is
the process's user+system time over the playing seconds, as a percentage of one core. Streaming
from disk keeps the two memory figures alike: the file's length must not show. In the same
run, the reference: a bare sounddevice stream on the same device (what the harness itself
costs: PortAudio, the in-process PulseAudio client, Python, numpy). Prints one JSON object
last. Starts the sound hub if none runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import _common
import numpy as np
import soundfile

from showctl import log, supervisor
from showctl.show import Output
from tests.harness.soundhub import SoundHub, device_name

RATE = 48000


def write_long(path: Path, seconds: int) -> None:
    """A mono 16-bit WAV of ``seconds``, written a minute at a time (bounded memory here too)."""
    rng = np.random.default_rng(7)
    with soundfile.SoundFile(str(path), "w", RATE, 1, subtype="PCM_16") as f:
        for _ in range(0, seconds, 60):
            f.write((rng.standard_normal(RATE * 60) * 3000).astype(np.int16))


def usage(pid: int) -> tuple[float, float]:
    """(resident MB, CPU seconds used so far) of a process."""
    with open(f"/proc/{pid}/status") as f:
        rss_kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss_kb / 1024, (int(fields[11]) + int(fields[12])) / ticks


async def measure(hub: SoundHub, clip: Path, seconds: float) -> tuple[float, float]:
    async with supervisor.PlayerPool({"a": Output(device_name(0))}, env=hub.env) as pool:
        pid = pool.players["a"].pid
        await pool.play({"a": (clip, False)}, time.monotonic() + 0.2)
        await pool.players["a"].wait_for("started", 5)
        await asyncio.sleep(1.0)  # the read-ahead fills
        _, cpu_before = usage(pid)
        began = time.monotonic()
        await asyncio.sleep(seconds)
        rss, cpu_after = usage(pid)
        return rss, 100 * (cpu_after - cpu_before) / (time.monotonic() - began)


async def reference(hub: SoundHub, seconds: float) -> tuple[float, float]:
    """The harness's floor: a bare sounddevice stream with an empty callback, in a process of
    its own (PortAudio, the in-process PulseAudio client, Python and numpy; no showctl)."""
    code = (
        "import sys, time, sounddevice as sd\n"
        "def cb(out, frames, t, status): out.fill(0)\n"
        f"s = sd.OutputStream(device={device_name(0)!r}, samplerate={RATE}, channels=1,"
        " dtype='float32', callback=cb, latency=0.02, blocksize=256)\n"
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
        _, cpu_before = usage(process.pid)
        began = time.monotonic()
        await asyncio.sleep(seconds)
        rss, cpu_after = usage(process.pid)
        return rss, 100 * (cpu_after - cpu_before) / (time.monotonic() - began)
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
        rss_1min, cpu_1min = asyncio.run(measure(hub, short, seconds))
        rss_1h, cpu_1h = asyncio.run(measure(hub, long, seconds))
        rss_floor, cpu_floor = asyncio.run(reference(hub, seconds))
    print(
        f"the harness's floor (a bare sounddevice stream): {rss_floor:.1f} MB resident, "
        f"{cpu_floor:.2f} % CPU"
    )
    print(f"1-minute file: {rss_1min:.1f} MB resident, {cpu_1min:.2f} % CPU")
    print(
        f"1-hour file ({long.stat().st_size / 1e6 if long.exists() else 345:.0f} MB): "
        f"{rss_1h:.1f} MB resident, {cpu_1h:.2f} % CPU"
    )
    _common.report(
        {
            "rss_mb_1min": round(rss_1min, 1),
            "rss_mb_1h": round(rss_1h, 1),
            "cpu_pct": round(max(cpu_1min, cpu_1h), 2),
            "seconds": seconds,
            "reference_rss_mb": round(rss_floor, 1),
            "reference_cpu_pct": round(cpu_floor, 2),
            "target_rss_mb": 60,
            "target_cpu_pct": 3,
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
