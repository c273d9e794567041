"""A measurement played through the players and recorded through the audio seam, and what it
says: each output's arrival against the others, or the one sentence why it cannot be told.

Each output plays its own clip, silent but for its sweeps at their places in the
:func:`~.estimate.schedule`, all started at one T0 by the players as a scene is (so with the
outputs' delays and the calibration's trims); the microphone records from a little before the
T0 to the last sweep's tail. The recording's first sample's ADC time, as the input reports it,
places the T0 in it to within :data:`~.estimate.WITHIN`; the rest is measured.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import structlog

from showctl.audio.base import InputStream, Recorded
from showctl.calibration import stored
from showctl.calibration.estimate import GAP, Measured, measure, schedule, sweep
from showctl.players.player import HEARTBEAT
from showctl.players.pool import PlayerPool
from showctl.show.model import Show

logger = structlog.get_logger()

#: The room heard before the sweeps, this loud (dBFS RMS) or louder, is too noisy to tell an
#: output not heard from one drowned.
NOISY_DB = -45.0
#: The largest spread (s) a verification passes: every output within this of the others.
VERIFIED = 0.00025
#: How long (s) the room is recorded before the T0: its noise.
PRE_ROLL = 0.3
#: A recording whose outputs' sweep spacings disagree by more than this (samples) skipped.
SKIPPED = 2.0
#: A recording's clock further than this (ppm) from the outputs' lost samples: crystals are
#: within a hundred or two.
PLAUSIBLE_PPM = 1000.0
#: Measurements made, at most, until one's recording can be trusted (:func:`glitch`).
TRIES = 3


@dataclass(frozen=True)
class Outcome:
    """One measurement: what the recording says (``measured``; an output's offset is against
    the others with its trim and without its delay, the designer's), the room's noise (dBFS
    RMS), and why it cannot be used (``problem``, one sentence; ``None``: it can)."""

    measured: Measured
    input: str
    rate: int
    noise_db: float
    overflows: int
    seconds: float
    problem: str | None
    #: The outputs whose players jumped during it (an xrun, or a resync back onto the
    #: timeline): their sweeps may have sounded early or late.
    jumped: tuple[str, ...] = ()
    #: The problem is the recording's (:func:`glitch`), not the room's: measuring again may do.
    again: bool = False
    #: The measurements it took (those before it had a recording that could not be trusted).
    tries: int = 1

    def summary(self, rates: Mapping[str, int]) -> dict[str, Any]:
        """For the JSON line and the status: each output's figures (``rates``: each output's
        samples a second, for its offset in samples)."""
        trims = self.measured.trims()
        outputs = {}
        for name, offset in self.measured.offsets.items():
            arrival = self.measured.arrivals[name]
            outputs[name] = {
                "heard": offset is not None,
                "offset_ms": None if offset is None else round(offset * 1e3, 4),
                "offset_samples": None if offset is None else round(offset * rates[name], 2),
                "level_db": round(arrival.level_db, 1),
                "snr_db": round(arrival.snr_db, 1),
                "confidence": round(min(arrival.confidence, 999.0), 1),
                "trim_ms": round(trims[name] * 1e3, 4) if name in trims else None,
            }
        return {
            "input": self.input,
            "rate": self.rate,
            "ppm": round(self.measured.ppm, 2),
            "noise_db": round(self.noise_db, 1),
            "spread_ms": round(self.measured.spread * 1e3, 4),
            "overflows": self.overflows,
            "jumped": list(self.jumped),
            "tries": self.tries,
            "seconds": round(self.seconds, 2),
            "outputs": outputs,
            "problem": self.problem,
        }


def glitch(
    measured: Measured, overflows: int, input_device: str, jumped: tuple[str, ...] = ()
) -> str | None:
    """Why a recording cannot be trusted, whatever the room (measuring again may do), in one
    sentence; ``None``: it can."""
    if overflows:
        return (
            f"the input {input_device!r} lost {overflows} block{'s' * (overflows != 1)} of "
            "the recording (the machine was too busy): measure again"
        )
    if jumped:
        return (
            f"the player{'s' * (len(jumped) > 1)} of {', '.join(map(repr, jumped))} lost "
            "its place during the measurement (the card was not fed in time): measure again"
        )
    if measured.disagreement > SKIPPED or abs(measured.ppm) > PLAUSIBLE_PPM:
        return (
            f"the recording from {input_device!r} skipped (its clock seemed "
            f"{measured.ppm:+.0f} ppm from the outputs', the sweeps "
            f"{measured.disagreement:.1f} samples apart that one clock keeps together): "
            "the machine was too busy, or the input lost samples unreported; measure again"
        )
    return None


def problem(measured: Measured, noise_db: float, input_device: str) -> str | None:
    """Why the room's measurement cannot be used, in one sentence naming what to do; ``None``:
    it can."""
    silent = measured.silent
    if not silent:
        return None
    names = ", ".join(repr(name) for name in silent)
    if noise_db >= NOISY_DB:
        return (
            f"the room is too noisy to measure: the microphone hears {noise_db:.0f} dBFS before "
            f"the sweeps, and not {names}; measure when it is quiet, or bring the microphone "
            "nearer the speakers"
        )
    if len(silent) == len(measured.offsets):
        return (
            f"the microphone heard none of the outputs: is {input_device!r} the microphone, "
            "plugged in and not muted, and are the amplifiers on?"
        )
    return (
        f"output{'s' * (len(silent) > 1)} {names} not heard: unplugged, muted or dead? "
        "Check the card, the cable, the amplifier and the speaker, and measure again"
    )


def room_noise(samples: np.ndarray, before: int) -> float:
    """The recording's level (dBFS RMS) over its first ``before`` samples."""
    quiet = samples[: max(0, before)].astype(np.float64)
    rms = float(np.sqrt(np.mean(np.square(quiet)))) if len(quiet) else 0.0
    return 20 * math.log10(max(rms, 1e-9))


async def measure_outputs(pool: PlayerPool, record: Callable[[], InputStream]) -> Outcome:
    """Play the measurement on every output of ``pool`` (running) and record it with the input
    ``record`` opens; what it says. Each offset has the output's trim in and its delay (the
    designer's) out: a measurement of a calibrated show (``--verify``) finds them all near 0."""
    began = time.monotonic()
    jumps = _jumps(pool)
    held = {name: pool.held(name) for name in pool.outputs}
    plan = schedule(list(pool.outputs), held)
    length = max(at for _, at in plan) + GAP  # the longest clip
    with tempfile.TemporaryDirectory(prefix="showctl-calibrate-") as temp:
        clips = {
            name: (_write_clip(Path(temp) / f"{i}.wav", name, plan, o.rate), False)
            for i, (name, o) in enumerate(pool.outputs.items())
        }
        await pool.load({name: [clip] for name, clip in clips.items()})
        stream = await asyncio.to_thread(record)
        await asyncio.to_thread(stream.start)
        try:
            await asyncio.sleep(PRE_ROLL)
            t0 = await pool.play(clips)
            await asyncio.sleep(max(0.0, t0 + max(held.values()) + length - time.monotonic()))
        finally:
            recorded: Recorded = await asyncio.to_thread(stream.stop)
        await pool.load({})
    await asyncio.sleep(HEARTBEAT + 0.1)  # the players' counts of the last sweep's time
    jumped = tuple(
        name
        for name, (pid, count) in _jumps(pool).items()
        if name in jumps and jumps[name] != (pid, count) and jumps[name][0] == pid
    )
    rate = recorded.rate
    start = (t0 - recorded.started) * rate
    arriving = [(name, at + held[name]) for name, at in plan]
    # Found where it is held to, each output's offset is without its delay (the designer's
    # intent) and trim; the trim goes back in: what is verified is the trims' work.
    trims = {name: held[name] - pool.held(name, trimmed=False) for name in held}
    measured = measure(recorded.samples, rate, arriving, start).shifted(trims)
    noise = room_noise(recorded.samples, round(start - 0.05 * rate))
    skipped = glitch(measured, recorded.overflows, stream.device, jumped)
    return Outcome(
        measured,
        stream.device,
        rate,
        noise,
        recorded.overflows,
        time.monotonic() - began,
        skipped or problem(measured, noise, stream.device),
        jumped,
        again=skipped is not None,
    )


async def measure_trusted(pool: PlayerPool, record: Callable[[], InputStream]) -> Outcome:
    """:func:`measure_outputs`, again while its recording cannot be trusted, up to
    :data:`TRIES` times; the last measurement, with the tries it took."""
    for tries in range(1, TRIES + 1):
        outcome = replace(await measure_outputs(pool, record), tries=tries)
        if not outcome.again:
            break
        logger.warning("calibration_measured_again", why=outcome.problem, tries=tries)
    return outcome


def _jumps(pool: PlayerPool) -> dict[str, tuple[int, int]]:
    """Each running output's player (its pid) and its xruns and resyncs so far, from its latest
    heartbeat. A player started again meanwhile is not compared: its output is not heard."""
    return {
        name: (p.pid, p.beat.xruns + p.beat.resyncs)
        for name, p in pool.players.items()
        if p.beat is not None and name not in pool.failed
    }


def _write_clip(path: Path, name: str, plan: list[tuple[str, float]], rate: int) -> Path:
    """Output ``name``'s measurement clip at ``rate``, written to ``path``: silent but for its
    sweeps at their places in ``plan``, and a tail after the last."""
    signal = sweep(rate)
    places = [round(at * rate) for output, at in plan if output == name]
    samples = np.zeros(max(places) + round(GAP * rate), dtype=np.float32)
    for first in places:
        samples[first : first + len(signal)] = signal
    sf.write(path, samples, rate, subtype="FLOAT")
    return path


def table(outcome: Outcome, rates: Mapping[str, int], trims: bool) -> str:
    """The measurement for a person: a line per output; with ``trims``, the trim each gets."""
    m = outcome.measured
    lines = [
        f"microphone {outcome.input!r} at {outcome.rate} Hz, its clock {m.ppm:+.1f} ppm from "
        f"the outputs', the room {outcome.noise_db:.0f} dBFS; {outcome.seconds:.1f} s",
        f"  {'output':16} {'arrival':>10} {'samples':>9} {'level':>9} {'SNR':>7} "
        f"{'confidence':>10}" + (f" {'trim':>10}" if trims else ""),
    ]
    trim = m.trims()
    for name, offset in m.offsets.items():
        a = m.arrivals[name]
        if offset is None:
            lines.append(f"  {name:16} {'NOT HEARD':>10} {'':>9} {'':>9} {a.snr_db:5.0f}dB")
            continue
        lines.append(
            f"  {name:16} {offset * 1e3:+8.3f}ms {offset * rates[name]:+9.2f} "
            f"{a.level_db:+7.1f}dB {a.snr_db:5.0f}dB {min(a.confidence, 999.0):10.1f}"
            + (f" {trim[name] * 1e3:8.3f}ms" if trims else "")
        )
    lines.append(f"  spread {m.spread * 1e3:.3f} ms (latest arrival less earliest)")
    return "\n".join(lines)


@dataclass(frozen=True)
class Calibrated:
    """What ``showctl calibrate`` did: the measurement (with the show's delays, without trims;
    ``None`` when only verifying), the calibration file written, and the verification (with
    the trims; ``None`` when not asked)."""

    rates: dict[str, int]
    measurement: Outcome | None = None
    written: Path | None = None
    verification: Outcome | None = None
    #: Why the calibration file's trims, or some, were not applied to the verification.
    untrimmed: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """Every measurement could be used, and the verification (if any) is within
        :data:`VERIFIED`."""
        done = [o for o in (self.measurement, self.verification) if o is not None]
        return all(o.problem is None for o in done) and self.failure is None

    @property
    def failure(self) -> str | None:
        """Why the verification failed, naming the output furthest from the others (of two,
        which comes after which: either may have moved)."""
        v = self.verification
        if v is None or v.problem is not None or v.measured.spread <= VERIFIED:
            return None
        heard = {n: o for n, o in v.measured.offsets.items() if o is not None}
        apart = f"the outputs arrive {v.measured.spread * 1e3:.3f} ms apart, more than " + (
            f"{VERIFIED * 1e3:g} ms: "
        )
        again = "Has a speaker moved, or a card changed? Calibrate again with --write"
        if len(heard) == 2:
            first, last = sorted(heard, key=heard.__getitem__)
            return f"{apart}output {last!r} after {first!r}. {again}"
        middle = float(np.median(list(heard.values())))
        name = max(heard, key=lambda n: abs(heard[n] - middle))
        off = heard[name] - middle
        return (
            f"{apart}output {name!r} {abs(off) * 1e3:.3f} ms {'after' if off > 0 else 'before'} "
            f"the others. {again}"
        )

    def summary(self) -> dict[str, Any]:
        """The one JSON object: each measurement's figures, the file written, the verdict."""
        return {
            "measurement": self.measurement.summary(self.rates) if self.measurement else None,
            "written": str(self.written) if self.written else None,
            "verification": (self.verification.summary(self.rates) if self.verification else None),
            "untrimmed": list(self.untrimmed),
            "passed": self.passed,
            "failure": self.failure,
        }

    def report(self) -> str:
        """The measurements for a person, and the verdict."""
        parts = []
        if self.measurement is not None:
            parts += ["measured (without trims):", table(self.measurement, self.rates, True)]
            if self.measurement.problem:
                parts.append(f"cannot calibrate: {self.measurement.problem}")
        if self.written is not None:
            parts.append(f"trims written to {self.written}")
        parts += [f"warning: {p}" for p in self.untrimmed]
        if self.verification is not None:
            parts += ["verified (with the trims):", table(self.verification, self.rates, False)]
            if self.verification.problem:
                parts.append(f"cannot verify: {self.verification.problem}")
            elif self.failure:
                parts.append(f"FAILED: {self.failure}")
            else:
                parts.append(f"PASSED: every output within {VERIFIED * 1e3:g} ms of the others")
        return "\n".join(parts)


async def calibrate(
    show: Show,
    record: Callable[[], InputStream],
    *,
    write: bool,
    verify: bool,
    pool: PlayerPool | None = None,
) -> Calibrated:
    """Measure ``show``'s outputs (unless only verifying), write the trims (``write``, when the
    measurement could be used), and measure again with the trims (``verify``); on ``pool``
    (running) or on players started for it."""
    if pool is None:
        async with PlayerPool(show.outputs) as started:
            return await calibrate(show, record, write=write, verify=verify, pool=started)
    rates = {name: o.rate for name, o in show.outputs.items()}
    result = Calibrated(rates)
    if write or not verify:
        pool.trims = {}
        outcome = await measure_trusted(pool, record)
        result = replace(result, measurement=outcome)
        if outcome.problem is not None:
            return result
        if write:
            when = datetime.now(UTC).isoformat(timespec="seconds")
            written = stored.write(show, outcome.measured.trims(), when, outcome.input)
            result = replace(result, written=written)
    if verify:
        trims = stored.load_for(show)
        pool.trims = trims.trims
        result = replace(result, untrimmed=trims.problems)
        result = replace(result, verification=await measure_trusted(pool, record))
    return result
