"""How fast a killed player's output sounds again, and how close to the others it comes back.

    python tests/bench/recovery.py [--quick] [--kills N]

Eight supervised player processes (the pool ``showctl run`` uses, on the real backend:
sounddevice, PortAudio, the virtual sound hub's PipeWire ALSA PCMs) loop eight different noise
clips from one T0. After the players have run SETTLE seconds, one of them at a time is killed
with SIGKILL (each output in turn); the pool starts a fresh player, which joins the scene where
the timeline is. Everything is read off the hub's recording:

- **gap**: from the kill until the output's channel sounds again. The recording is put on the
  monotonic clock by the other outputs: where their clips are says which timeline time each
  recorded sample carries.
- **skew after**: AFTER seconds after it sounds again, where the restarted output's clip is,
  against the others' (the median of theirs), in a stretch of WINDOW samples; and the same
  PLACED seconds after it sounds again (**skew placed**: where its first samples landed).
- **others interrupted**: another output whose channel fell silent (a run of zero samples)
  between the kill and the skew's stretch, or whose player changed.

Prints figures for people, and one JSON object last. Starts the hub if none runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common
import numpy as np

from showctl import log
from showctl.players import protocol
from showctl.players.pool import PlayerPool, PoolEvent
from showctl.show.model import Output
from tests.harness.analysis import SILENT_RUN, Samples, channel, find, noise_clip, silent_channels
from tests.harness.soundhub import Recording, SoundHub, device_name

OUTPUTS = 8
RATE = 48000
LOOP = RATE  # samples in each output's looped clip: one second
#: Seconds the players run before the first kill (a box's players have run long before).
SETTLE = 30.0
#: The same with --quick: long enough for the pool to learn each card's rate (RATE_LEARNED).
QUICK_SETTLE = 22.0
#: When the skew is read, in seconds after the restarted output sounds again: AFTER (the
#: target's), and PLACED (where the fresh player put its first samples).
AFTER = 1.0
PLACED = 0.1
#: Samples of the stretch in which each clip is found, and of its parts.
WINDOW = 4800
PART = 1024


async def run(clips: list[Samples], folder: Path, hub: SoundHub, kills: int, settle: float) -> Any:
    names = [f"out{i}" for i in range(OUTPUTS)]
    outputs = {name: Output(device_name(i)) for i, name in enumerate(names)}
    paths = {name: (folder / f"noise{i}.wav", True) for i, name in enumerate(names)}
    joined: dict[str, list[float]] = {name: [] for name in names}

    def on_event(output: str, event: PoolEvent) -> None:
        if isinstance(event, protocol.Started):
            joined[output].append(time.monotonic())

    results = []
    async with PlayerPool(outputs, env=hub.env, supervise=True) as pool:
        pool.on_event = on_event
        t0 = time.monotonic() + 0.3
        await pool.play(paths, t0)
        await asyncio.sleep(settle)
        for k in range(kills):
            victim = k % OUTPUTS
            name = names[victim]
            pids = {n: p.pid for n, p in pool.players.items()}
            with hub.record() as recording:
                await asyncio.sleep(0.5)
                at = time.monotonic()
                os.kill(pids[name], signal.SIGKILL)
                while not joined[name] or joined[name][-1] < at:
                    if time.monotonic() - at > 20:
                        raise SystemExit(f"output {name} did not come back within 20 s")
                    await asyncio.sleep(0.01)
                await asyncio.sleep(AFTER + 0.5)
                samples = recording.stop()
            changed = [n for n, p in pool.players.items() if n != name and p.pid != pids[n]]
            results.append(measure(samples, recording, at, victim, t0, clips, changed))
            print(
                f"  kill {k + 1}: {name} back after {results[-1][0]:.3f} s, "
                f"{results[-1][2] * 1e3:+.3f} ms from the others as it came back, "
                f"{results[-1][1] * 1e3:+.3f} ms {AFTER:g} s later",
                file=sys.stderr,
            )
    return results


def position(segment: Samples, clip: Samples) -> tuple[int, float]:
    """Where in the looped ``clip`` the stretch ``segment`` begins (a content sample), and how
    well it matches there: judged, as :func:`find_start` does, by the first of its parts of
    PART samples that is found whole (a drift correction inside a part spoils its match)."""
    looped = np.concatenate([clip, clip[: len(segment)]])
    best = (0, 0.0)
    for k in range(len(segment) // PART):
        at, match = find(looped, segment[k * PART : (k + 1) * PART])
        found = ((at - k * PART) % len(clip), match)
        if match > 0.95:
            return found
        best = max(best, found, key=lambda f: f[1])
    return best


def measure(
    samples: np.ndarray,
    recording: Recording,
    at: float,
    victim: int,
    t0: float,
    clips: list[Samples],
    changed: list[str],
) -> tuple[float, float, float, int]:
    """The gap (s), the skew after and as placed (s), and how many other outputs were
    interrupted."""
    # Put the recording on the timeline: at sample ``r``, the others' clips are at ``content``.
    # A stretch before the kill, where the others surely sound, in which most of their clips
    # are found clearly (a drift correction spoils a match, a cycle the hub missed is silence):
    # the latest such, stepping back a stretch at a time to the recording's start.
    others = [i for i in range(OUTPUTS) if i != victim]
    r = recording.sample_at(at) - RATE // 4
    while True:
        found = [position(channel(samples[r : r + WINDOW], i), clips[i]) for i in others]
        clear = [p for p, match in found if match >= 0.9]
        if len(clear) > len(others) // 2 or r < WINDOW:
            break
        r -= WINDOW
    if len(clear) <= len(others) // 2:
        matches = ", ".join(
            f"{i}: {match:.2f}" for i, (_, match) in zip(others, found, strict=True)
        )
        raise SystemExit(f"the other outputs' clips were not found before the kill ({matches})")
    content = float(np.median(clear))
    approx = (recording.started + r / RATE - t0) * RATE  # the timeline's sample, roughly
    loops = round((approx - content) / LOOP)
    timeline_at_r = t0 + (loops * LOOP + content) / RATE
    killed_at = r + round((at - timeline_at_r) * RATE)
    # The victim's channel: silent from about the kill, sounding again at ``back``.
    audible = np.abs(samples[killed_at:, victim].astype(np.int32)) > 0
    sounding = np.convolve(audible, np.ones(SILENT_RUN), mode="valid") >= SILENT_RUN // 2
    quiet = np.flatnonzero(~sounding)
    if not len(quiet):
        raise SystemExit(f"output {victim} never fell silent after its kill")
    again = np.flatnonzero(sounding[quiet[0] :])
    if not len(again):
        raise SystemExit(f"output {victim} did not sound again in the recording")
    back = killed_at + quiet[0] + int(again[0])
    gap = (back - killed_at) / RATE

    # The skew: the victim's content position against the others', as it comes back and
    # AFTER seconds later.
    def skew_at(s: int) -> float:
        segment = samples[s : s + WINDOW]
        if len(segment) < WINDOW:
            raise SystemExit("the recording ended before the skew's stretch")
        mine, match = position(channel(segment, victim), clips[victim])
        theirs = np.median([position(channel(segment, i), clips[i])[0] for i in others])
        return ((mine - theirs + LOOP / 2) % LOOP - LOOP / 2) / RATE if match > 0.5 else np.inf

    s = back + int(AFTER * RATE)
    skew, placed = skew_at(s), skew_at(back + int(PLACED * RATE))
    # The others: no silence from before the kill to the end of the skew's stretch.
    interrupted = set(changed) | {str(i) for i in silent_channels(samples[r : s + WINDOW], others)}
    return gap, skew, placed, len(interrupted)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"4 kills after {QUICK_SETTLE:g} s, not 16 after {SETTLE:g} s",
    )
    parser.add_argument("--kills", type=int, help="how many kills")
    args = parser.parse_args()
    kills = args.kills or (4 if args.quick else 16)
    settle = QUICK_SETTLE if args.quick else SETTLE
    log.configure("warning", "json", sys.stderr)
    with SoundHub(OUTPUTS) as hub, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clips = [
            noise_clip(folder / f"noise{i}.wav", seed=300 + i, seconds=LOOP / RATE)
            for i in range(OUTPUTS)
        ]
        results = asyncio.run(run(clips, folder, hub, kills, settle))
    gaps = [r[0] for r in results]
    skews_ms = [abs(r[1]) * 1e3 for r in results]
    placed_ms = [abs(r[2]) * 1e3 for r in results]
    p = _common.percentile
    figures = {
        "kills": len(results),
        "gap_p50_s": round(p(gaps, 50), 3),
        "gap_p99_s": round(p(gaps, 99), 3),
        "skew_after_p50_ms": round(p(skews_ms, 50), 4),
        "skew_after_p99_ms": round(p(skews_ms, 99), 4),
        "others_interrupted": sum(r[3] for r in results),
        "skew_placed_p50_ms": round(p(placed_ms, 50), 4),
        "skew_placed_p99_ms": round(p(placed_ms, 99), 4),
    }
    print(
        f"{figures['kills']} kills of one of {OUTPUTS} players:\n"
        f"  back after p50 {figures['gap_p50_s']} s, p99 {figures['gap_p99_s']} s (target 1.5)\n"
        f"  off the others by p99 {figures['skew_placed_p99_ms']} ms as it comes back, "
        f"{figures['skew_after_p99_ms']} ms {AFTER:g} s later (target 0.042)\n"
        f"  other outputs interrupted: {figures['others_interrupted']} (must be 0)"
    )
    _common.report(figures, {"gap_p99_s": 1.5, "skew_after_p99_ms": 0.042, "others_interrupted": 0})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
