"""A check of the PipeWire sound hub by hand (not a pytest test): does showctl place a start
exactly on it, and is PortAudio's ``currentTime`` on the monotonic clock through it?

    .venv/bin/python tests/harness/pipewire_check.py [--starts 5] [--settle 10]

1. Starts the hub (tests/harness/soundhub.py) unless one runs, and 8 showctl players
   through the real backend (``PlayerPool``, sounddevice, PortAudio, PipeWire's ALSA plugin).
   After ``--settle`` seconds, plays a one-sample click on all 8 at one T0, ``--starts`` times,
   recording the hub; prints for every start the spread of the click across the 8 channels,
   in samples (the latest channel's click minus the earliest's).
2. A tiny sounddevice script on output 0 prints, from its callback, ``time.monotonic() -
   currentTime`` (and the same against the wall and boot clocks, for contrast): a few µs to a
   fraction of a ms, always positive, means ``currentTime`` is CLOCK_MONOTONIC.
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

import numpy as np
import numpy.typing as npt
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from showctl import log
from showctl.players import pool as player_pool
from showctl.show.model import Output
from tests.harness.soundhub import SoundHub, device_name

OUTPUTS = 8
RATE = 48000
#: Where the click is in its clip (not at sample 0, should a start be faded in).
CLICK_AT = 480
CLIP_SECONDS = 0.1
PAUSE = 0.6  # seconds after each start's clip

CLOCK_SCRIPT = """
import time, sounddevice as sd
rows = []
def callback(out, frames, t, status):
    now = time.monotonic(), time.clock_gettime(time.CLOCK_BOOTTIME), time.time()
    rows.append((now[0] - t.currentTime, now[1] - t.currentTime, now[2] - t.currentTime,
                 t.outputBufferDacTime - t.currentTime))
    out.fill(0)
with sd.OutputStream(device=DEVICE, channels=1, samplerate=48000, callback=callback,
                     latency=0.02):
    time.sleep(3.0)
rows = rows[20:]  # after the stream's first blocks
for i, name in enumerate(("monotonic", "boottime", "wall clock")):
    values = sorted(r[i] for r in rows)
    print(f"  {name} - currentTime: min {values[0]*1e6:.1f} us, "
          f"median {values[len(values)//2]*1e6:.1f} us, max {values[-1]*1e6:.1f} us "
          f"({len(values)} callbacks)")
dac = sorted(r[3] for r in rows)
print(f"  outputBufferDacTime - currentTime: median {dac[len(dac)//2]*1e3:.3f} ms")
"""


def click_clip(path: Path) -> None:
    samples = np.zeros(int(CLIP_SECONDS * RATE), dtype=np.float32)
    samples[CLICK_AT] = 0.5
    soundfile.write(str(path), samples, RATE, subtype="FLOAT")


def click_positions(recording: npt.NDArray[np.int16], begin: int, end: int) -> list[int | None]:
    """Where each channel's click is in ``recording[begin:end]`` (its first loud sample)."""
    found: list[int | None] = []
    for i in range(recording.shape[1]):
        loud = np.flatnonzero(np.abs(recording[begin:end, i].astype(np.int32)) > 8192)
        found.append(begin + int(loud[0]) if len(loud) else None)
    return found


async def clicks(
    hub: SoundHub, path: Path, starts: int, settle: float
) -> tuple[npt.NDArray[np.int16], list[tuple[int, int]]]:
    outputs = {f"out{i}": Output(device_name(i)) for i in range(OUTPUTS)}
    windows = []
    async with player_pool.PlayerPool(outputs, env=hub.env) as pool:
        with hub.record() as recording:
            await asyncio.sleep(settle)
            for _ in range(starts):
                begin = time.monotonic()
                t0 = begin + player_pool.DEFAULT_LEAD
                await pool.play(dict.fromkeys(outputs, (path, False)), t0)
                await asyncio.sleep(player_pool.DEFAULT_LEAD + CLIP_SECONDS + PAUSE)
                windows.append((recording.sample_at(begin), recording.sample_at(time.monotonic())))
            await asyncio.sleep(0.3)
            return recording.stop(), windows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--settle", type=float, default=10.0)
    args = parser.parse_args()
    log.configure("warning", "json", sys.stderr)
    with SoundHub(OUTPUTS) as hub, tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "click.wav"
        click_clip(path)
        recording, windows = asyncio.run(clicks(hub, path, args.starts, args.settle))
        print(
            f"{args.starts} starts of a one-sample click on {OUTPUTS} outputs after "
            f"{args.settle:g} s (recording {len(recording)} frames):"
        )
        spreads = []
        for n, (begin, end) in enumerate(windows):
            at = click_positions(recording, begin, end)
            heard = [a for a in at if a is not None]
            missing = [i for i, a in enumerate(at) if a is None]
            spread = max(heard) - min(heard) if heard else None
            if spread is not None and not missing:
                spreads.append(spread)
            relative = [None if a is None else a - min(heard) for a in at]
            # Where the click landed against where the monotonic clock puts T0 + CLICK_AT: how
            # far the recording's own start (or a gap in it) shifts ``sample_at``.
            expected = begin + round((player_pool.DEFAULT_LEAD) * RATE) + CLICK_AT
            shift = f"{(min(heard) - expected) / RATE * 1000:+.1f} ms" if heard else "-"
            print(
                f"  start {n}: spread {spread} samples; per channel {relative}; "
                f"recording offset {shift}" + (f"; no click on {missing}" if missing else "")
            )
        print(f"max spread {max(spreads, default=None)} samples over {len(spreads)} whole starts")
        print(f"PortAudio's clocks in a callback on {device_name(0)}:")
        script = CLOCK_SCRIPT.replace("DEVICE", repr(device_name(0)))
        subprocess.run([sys.executable, "-c", script], env={**os.environ, **hub.env}, check=True)
    return 0 if spreads and max(spreads) <= 1 and len(spreads) == args.starts else 1


if __name__ == "__main__":
    raise SystemExit(main())
