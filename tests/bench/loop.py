"""Loop seams: 1000 passes of a looped clip, each seam checked to the sample.

    python tests/bench/loop.py [--quick]

The clip's sample i holds the number i (as 16-bit PCM), so every played sample says which it
is; the clip is 1001 samples long, so its seams fall at every place in the 256-sample blocks.
It plays through the renderer and the streamed clip reader on a simulated device with an exact
clock (drift corrections would be changes of position by design, not seam errors; they are
measured by drift.py). A seam error is the gap (samples missing) or overlap (samples repeated)
between the last sample of one pass and the first of the next. Prints one JSON object last.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import _common
import numpy as np
import soundfile

from showctl.audio.clip import ClipStream, inspect
from showctl.audio.renderer import Renderer, Start
from showctl.audio.sim import SimStream
from showctl.clock import FakeClock

RATE = 48000
LENGTH = 1001


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 seams instead of 1000")
    args = parser.parse_args()
    seams = 100 if args.quick else 1000
    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "ramp.wav"
        soundfile.write(str(clip), (np.arange(LENGTH) + 1).astype(np.int16), RATE, subtype="PCM_16")
        capture = Path(folder) / "played.wav"
        clock = FakeClock()
        stream = SimStream("loop", RATE, clock=clock, capture=capture)
        renderer = Renderer(RATE)
        stream.start(renderer.render)
        start = stream.dac_time(0)
        stream.run_until(start + 2.0)
        t0 = start + 2.1
        renderer.commands.append(
            Start(ClipStream(inspect(clip, RATE), loop=True, chunk=700, threaded=False), t0)
        )
        stream.run_until(t0 + (seams + 2) * LENGTH / RATE)
        stream.close()
        played = soundfile.read(str(capture), dtype="float32")[0]
    index = np.round(played * 32768).astype(int) - 1
    index = index[int(np.argmax(index >= 0)) :]
    wraps = np.flatnonzero(np.diff(index) < 0)[:seams]
    # Samples left out of the end of one pass plus samples left out of the start of the next.
    errors = [(LENGTH - 1 - int(index[w])) + int(index[w + 1]) for w in wraps]
    steps = np.diff(index)
    odd_steps = int(np.sum((steps != 1) & (steps >= 0)))  # a repeated or skipped sample
    worst = max(map(abs, errors), default=-1)
    print(
        f"{len(wraps)} seams; largest gap or overlap {worst} samples; "
        f"steps other than +1 inside the passes: {odd_steps}"
    )
    _common.report(
        {
            "seams": len(wraps),
            "max_seam_error_samples": worst,
            "odd_steps": odd_steps,
        },
        {"max_seam_error_samples": 0},
    )
    return 0 if len(wraps) == seams else 1


if __name__ == "__main__":
    raise SystemExit(main())
