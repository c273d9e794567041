"""Sound effects over a scene's clip: what they cost the player, where they land, and whether
the clip keeps its timeline meanwhile.

    python tests/bench/effects.py [--quick]

A real player process (sounddevice, PortAudio, the sound hub) plays a scene's clip, a looped
noise, from a T0, and the hub is recorded. Three phases take turns, INTERVAL seconds each, 8
rounds (two minutes of phases; 2 rounds with --quick): no effect, one effect at a time, and four
at a time, each effect one of six noise bursts of 0.4 s fired at a random time on the scene's
timeline and sent half a second ahead, as the controller sends a timeline's sounds
(``pool.effect``, the controller's own path to the players). Taking turns, rather than one
phase after another, lets a shared machine's slow changes of load fall on every phase alike.

- **CPU**: the player's user+system time as a percentage of one core, one sample a turn of a
  phase (the ``cost.py`` method: the median of the samples), and how much more it is with
  four effects than with none.
- **Placement**: each effect found in the recording, to the sample, against where the scene's
  clip in the same recording says its due time is: the clip's samples just before it, found
  in the recording, place the timeline there, so neither the recorder's missed cycles nor the
  recording's own start can be mistaken for an error. The clip itself sits within its drift
  lock's deadband of the timeline (2 samples), and each of the two is on the sample nearest
  its time: against the clip, an effect placed exactly is up to a sample or two off.
- **The clip's timeline**: the player's own measure of its clip against the timeline (the
  heartbeat's offset, what its drift lock acts on), read twice a second through each phase,
  and its drift corrections and underruns.

Prints figures for people, and one JSON object last. Starts the sound hub if none runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common
import numpy as np
import soundfile
from cost import INTERVAL, usage

from showctl import log
from showctl.players import protocol
from showctl.players.pool import PlayerPool
from showctl.show.model import Output
from tests.harness.analysis import channel, find
from tests.harness.soundhub import Recording, SoundHub, device_name

RATE = 48000
#: The effects' length (s), how many there are, and how far ahead each is sent (s).
EFFECT = 0.4
EFFECTS = 6
AHEAD = 0.5
#: The scene clip's samples before an effect that place the timeline there.
REFERENCE = 4096


def noise(path: Path, seed: int, seconds: float, level: float) -> np.ndarray:
    """Seeded white noise at RMS ``level``: quiet enough that a clip and four effects never
    reach the limiter, which would bend them and blur the match."""
    samples = (np.random.default_rng(seed).standard_normal(round(seconds * RATE)) * level).astype(
        np.float32
    )
    soundfile.write(str(path), samples, RATE, subtype="FLOAT")
    return samples


@dataclass
class Phase:
    """One phase: ``at_once`` effects sounding together."""

    at_once: int
    cpu: list[float] = field(default_factory=list)  # % of a core, per INTERVAL
    offsets: list[float] = field(default_factory=list)  # the clip's, samples, per heartbeat
    fired: list[tuple[float, int]] = field(default_factory=list)  # (due, which effect)
    beats: list[protocol.Heartbeat] = field(default_factory=list)


async def run_phase(
    pool: PlayerPool, phase: Phase, effects: list[Path], seconds: float, rng: random.Random
) -> None:
    """Fire effects through ``seconds`` (none for ``at_once`` 0), sampling the player."""
    player = pool.players["a"]
    start = time.monotonic()
    end = start + seconds

    async def fire() -> None:
        due = time.monotonic() + AHEAD
        while due < end:
            which = rng.randrange(len(effects))
            await asyncio.sleep(max(0.0, due - AHEAD - time.monotonic()))
            pool.effect("a", effects[which], 1.0, due, play=1)
            phase.fired.append((due, which))
            # One at a time: a gap after each; four at a time: one every quarter of a length.
            gap = EFFECT + rng.uniform(0.05, 0.3) if phase.at_once == 1 else EFFECT / 4
            due += gap * rng.uniform(0.9, 1.1) if phase.at_once > 1 else gap

    async def follow() -> None:
        while time.monotonic() < end:
            await asyncio.sleep(0.5)
            if player.beat is not None:
                phase.offsets.append(player.beat.offset)
                phase.beats.append(player.beat)

    async def cpu() -> None:
        _, used = usage(player.pid)
        began = time.monotonic()
        await asyncio.sleep(max(0.0, end - began))
        _, now_used = usage(player.pid)
        phase.cpu.append(100 * (now_used - used) / (time.monotonic() - began))

    await asyncio.gather(follow(), cpu(), *([fire()] if phase.at_once else []))


def placements(
    recorded: np.ndarray,
    recording: Recording,
    loop: np.ndarray,
    effects: list[np.ndarray],
    t0: float,
    fired: list[tuple[float, int]],
) -> list[float]:
    """Each fired effect's error in samples: where it is in the recording minus where the
    scene's clip there says its due time is."""
    errors = []
    for due, which in fired:
        content = round((due - t0) * RATE)  # the clip's sample at the effect's due time
        before = np.resize(np.roll(loop, -((content - REFERENCE) % len(loop))), REFERENCE)
        near = recording.sample_at(due)
        lo = max(0, near - RATE // 5)
        window = recorded[lo : near + RATE // 5]
        at, match = find(window, before)
        if match < 0.5:
            continue  # the clip not found there (a recorder's gap): nothing to judge by
        expected = lo + at + REFERENCE
        got, fx_match = find(
            recorded[expected - 2000 : expected + 2000 + len(effects[which])], effects[which]
        )
        if fx_match < 0.5:
            errors.append(float("inf"))  # not heard where it should be
            continue
        errors.append(float(expected - 2000 + got - expected))
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds instead of 8")
    args = parser.parse_args()
    rounds = 2 if args.quick else 8
    log.configure("warning", "json", open(os.devnull, "w"))  # noqa: SIM115  (for the process)
    rng = random.Random(21)
    phases = [Phase(0), Phase(1), Phase(4)]
    with SoundHub(1) as hub, tempfile.TemporaryDirectory() as folder:
        loop_path = Path(folder) / "scene.wav"
        loop = noise(loop_path, 1, 4.0, 0.08)
        paths = [Path(folder) / f"effect{i}.wav" for i in range(EFFECTS)]
        bursts = [noise(p, 10 + i, EFFECT, 0.05) for i, p in enumerate(paths)]

        async def measure() -> tuple[float, np.ndarray, Recording]:
            async with PlayerPool({"a": Output(device_name(0))}, env=hub.env) as pool:
                await pool.load({"a": {(p, False) for p in paths}})
                with Recording(hub) as recording:
                    t0 = await pool.play({"a": (loop_path, True)}, time.monotonic() + 0.3, 1)
                    await pool.players["a"].wait_for(protocol.Started, 5)
                    await asyncio.sleep(2.0)  # the read-ahead fills, the fit settles
                    for _ in range(rounds):  # interleaved: the machine's moods fall on all
                        for phase in phases:
                            await run_phase(pool, phase, paths, INTERVAL, rng)
                            await asyncio.sleep(AHEAD + EFFECT)  # the last effects end
                    await asyncio.sleep(AHEAD + EFFECT)
                    return t0, channel(recording.stop(), 0), recording

        t0, recorded, recording = asyncio.run(measure())
    figures: dict[str, Any] = {}
    all_errors: list[float] = []  # ms, of every effect of every phase
    for phase in phases:
        n = phase.at_once
        cpu = _common.percentile(phase.cpu, 50)
        offsets_ms = [abs(o) / RATE * 1e3 for o in phase.offsets]
        errors = placements(recorded, recording, loop, bursts, t0, phase.fired)
        errors_ms = [abs(e) / RATE * 1e3 for e in errors]
        all_errors += errors_ms
        last, first = phase.beats[-1], phase.beats[0]
        figures[f"cpu_pct_{n}"] = round(cpu, 2)
        figures[f"cpu_max_pct_{n}"] = round(max(phase.cpu), 2)
        figures[f"clip_offset_p99_ms_{n}"] = round(_common.percentile(offsets_ms, 99), 4)
        corrections = (last.drops + last.repeats) - (first.drops + first.repeats)
        figures[f"clip_corrections_{n}"] = corrections
        figures[f"underruns_{n}"] = last.underruns - first.underruns
        if n:
            figures[f"effects_{n}"] = len(phase.fired)
            figures[f"effects_found_{n}"] = sum(e != float("inf") for e in errors)
            figures[f"effect_p50_ms_{n}"] = round(_common.percentile(errors_ms, 50), 4)
            figures[f"effect_p99_ms_{n}"] = round(_common.percentile(errors_ms, 99), 4)
            figures[f"effect_max_ms_{n}"] = round(max(errors_ms, default=float("nan")), 4)
        print(
            f"{n} effect{'s' * (n != 1)} at a time: player CPU p50 {cpu:.2f} % (max "
            f"{max(phase.cpu):.2f} %); the clip's offset p99 "
            f"{figures[f'clip_offset_p99_ms_{n}']} ms, {corrections} corrections"
            + (
                f"; {len(phase.fired)} effects, placement p50 {figures[f'effect_p50_ms_{n}']} "
                f"ms, p99 {figures[f'effect_p99_ms_{n}']} ms, "
                f"max {figures[f'effect_max_ms_{n}']} ms"
                if n
                else ""
            )
        )
    figures.update(
        {
            "seconds_a_phase": rounds * INTERVAL,
            "cpu_extra_pct_4": round(figures["cpu_pct_4"] - figures["cpu_pct_0"], 2),
            "effect_p99_ms": round(_common.percentile(all_errors, 99), 4),
            "clip_offset_p99_ms": figures["clip_offset_p99_ms_4"],
            # The drift lock holds the clip within its deadband (2 samples): with effects as
            # without, or no worse than without.
            "clip_offset_unchanged": figures["clip_offset_p99_ms_4"]
            <= max(figures["clip_offset_p99_ms_0"], 2 / RATE * 1e3) + 1 / RATE * 1e3,
        }
    )
    _common.report(
        figures,
        {"cpu_extra_pct_4": 1.0, "effect_p99_ms": 0.25, "clip_offset_unchanged": True},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
