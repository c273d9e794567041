"""The DAC clock fit: true rate and timing recovered from noisy reports."""

from __future__ import annotations

import numpy as np
import pytest

from showctl.audio.timeline import DacClock


def feed(
    clock: DacClock,
    rate: float,
    seconds: float,
    jitter: float,
    seed: int = 0,
    start: float = 1000.0,
    block: int = 256,
    since: float = 0.0,
) -> None:
    """Reports of frames from ``since`` to ``seconds`` seconds into the stream."""
    rng = np.random.default_rng(seed)
    for frame in range(int(since * 48000), int(seconds * 48000), block):
        clock.add(frame, start + frame / rate + rng.normal(0, jitter))


@pytest.mark.parametrize("ppm", [-100.0, 0.0, 37.0, 100.0])
def test_recovers_rate_and_time(ppm: float) -> None:
    """With 0.5 ms of report jitter (ten times this harness's), the fit places frames within
    50 us and measures the rate within 5 ppm."""
    rate = 48000 * (1 + ppm * 1e-6)
    clock = DacClock(48000)
    feed(clock, rate, seconds=10, jitter=0.0005)
    frame = 10 * 48000
    assert clock.time_of(frame) == pytest.approx(1000.0 + frame / rate, abs=50e-6)
    assert clock.ppm == pytest.approx(ppm, abs=5.0)


def test_a_known_rate_holds_a_young_fit_steady() -> None:
    """Two seconds of reports with 0.5 ms of jitter: a fresh fit's slope errs by tens of ppm
    or more; one given the card's rate (the player before measured it) stays within a few."""
    rate = 48000 * (1 + 150e-6)
    errors = {"fresh": [], "known": []}
    for seed in range(20):
        for kind, known in (("fresh", None), ("known", 150.0)):
            clock = DacClock(48000, known_ppm=known)
            feed(clock, rate, seconds=2, jitter=0.0005, seed=seed)
            errors[kind].append(abs(clock.ppm - 150.0))
    assert max(errors["known"]) < 5.0
    assert max(errors["fresh"]) > 20.0


def test_a_known_rate_is_ready_sooner() -> None:
    """Given the card's rate, a fit has only the line's place to learn: ready after 0.8 s of
    a stream (where one without waits for a second), and placing frames within 20 us (reports
    with 30 us of jitter, as on the test harness)."""
    rate = 48000 * (1 + 150e-6)
    known, fresh = DacClock(48000, known_ppm=150.0), DacClock(48000)
    for clock in (known, fresh):
        feed(clock, rate, seconds=0.8, jitter=0.00003)
    assert known.ready
    assert not fresh.ready
    frame = int(0.85 * 48000)
    assert known.time_of(frame) == pytest.approx(1000.0 + frame / rate, abs=20e-6)


def test_reports_exact_to_a_sample_make_the_fit_ready_at_once() -> None:
    """Reports on their line within a sample (a sound server's, such as PipeWire's) make the
    fit ready as soon as it is warm, known rate or not; reports that wander by 30 us wait out
    the spans. Both place frames within a sample. (A restarted output sounds that much sooner.)"""
    exact, wandering = DacClock(48000), DacClock(48000)
    for clock, jitter in ((exact, 0.000005), (wandering, 0.00003)):
        feed(clock, 48000 * (1 + 150e-6), seconds=0.65, jitter=jitter, block=1024)
    assert exact.ready
    assert not wandering.ready
    feed(wandering, 48000 * (1 + 150e-6), seconds=1.05, jitter=0.00003, block=1024, since=0.65)
    assert wandering.ready
    frame = int(1.1 * 48000)
    for clock in (exact, wandering):
        assert clock.time_of(frame) == pytest.approx(
            1000.0 + frame / 48000 / (1 + 150e-6), abs=21e-6
        )


def test_a_known_rate_gives_way_to_what_the_reports_show() -> None:
    """The rate given is wrong (another card came back): over the window, the reports win."""
    clock = DacClock(48000, known_ppm=150.0)
    feed(clock, 48000 * (1 - 50e-6), seconds=60, jitter=0.0005)
    assert clock.ppm == pytest.approx(-50.0, abs=5.0)


def test_outliers_are_left_out() -> None:
    clock = DacClock(48000)
    feed(clock, 48000, seconds=3, jitter=0.0)
    frame = 3 * 48000
    clock.add(frame, 1000.0 + frame / 48000 + 0.050)  # a report 50 ms off
    assert clock.time_of(frame) == pytest.approx(1000.0 + frame / 48000, abs=1e-6)


def test_holds_up_after_a_month() -> None:
    """Frame indices of a month (1.2e11) lose no precision: the sums are kept centred."""
    clock = DacClock(48000)
    start = 48000 * 86400 * 30
    for frame in range(start, start + 48000 * 3, 256):
        clock.add(frame, 5.0 + frame / 48000.0)
    assert clock.time_of(start + 48000 * 3) == pytest.approx(
        5.0 + (start + 144000) / 48000, abs=1e-6
    )
    assert clock.ppm == pytest.approx(0.0, abs=0.01)


def test_nominal_rate_until_warm() -> None:
    clock = DacClock(48000)
    clock.add(0, 9.0)  # the stream's first report: ignored while it settles
    clock.add(48000, 10.0)
    assert not clock.ready
    assert clock.time_of(96000) == pytest.approx(11.0)


def test_start_up_burst_and_stall_are_ignored() -> None:
    """A stream's first blocks come in a burst (the buffer filling), then it stalls: reports
    of its first half second do not enter the fit."""
    clock = DacClock(48000)
    frame = 0
    for i in range(20):  # burst: 20 blocks reported within 1 ms
        clock.add(frame, 50.0 + i * 0.00005)
        frame += 256
    start = 51.0  # a one-second stall, then steady blocks
    while frame < 48000 * 2:
        clock.add(frame, start + frame / 48000)
        frame += 256
    assert clock.ready
    assert clock.time_of(frame) == pytest.approx(start + frame / 48000, abs=1e-6)
    assert clock.ppm == pytest.approx(0.0, abs=0.1)


def test_a_jump_in_the_timing_moves_the_line_at_once() -> None:
    """The reports move to a new line (an xrun shifted the stream by 10 ms): after four that
    agree, the fit moves by that much and stays ready throughout (the old code restarted it,
    unready for half a second and more, while the output played off the timeline)."""
    clock = DacClock(48000)
    feed(clock, 48000, seconds=3, jitter=0.0)
    for frame in range(3 * 48000, 6 * 48000, 1024):
        clock.add(frame, 1000.0 + frame / 48000 + 0.010)
        assert clock.ready
    assert (clock.shifts, clock.resets) == (1, 0)
    assert clock.time_of(6 * 48000) == pytest.approx(1000.0 + 6 + 0.010, abs=1e-6)


def test_outliers_that_disagree_start_the_fit_afresh() -> None:
    """Reports off by amounts that differ (the fit's line is wrong, or the timing still jumps
    about) are no shift: after eight, the fit restarts and follows the reports."""
    clock = DacClock(48000)
    feed(clock, 48000, seconds=3, jitter=0.0)
    frames = range(3 * 48000, 6 * 48000, 1024)
    for i, frame in enumerate(frames):
        clock.add(frame, 1000.0 + frame / 48000 + (0.010 if i >= 7 else 0.003 + 0.001 * i))
    assert (clock.shifts, clock.resets) == (0, 1)
    assert clock.ready
    assert clock.time_of(6 * 48000) == pytest.approx(1000.0 + 6 + 0.010, abs=1e-6)


def test_a_refit_keeps_the_rate_it_had_measured() -> None:
    """After a jump in the timing, the fit goes on from the rate measured before it (over its
    whole window), whether the jump moved it or (reports too noisy to agree on it) restarted
    it: a second later it is within a few ppm, where a fit from nothing errs by up to hundreds
    (20 runs with 0.5 ms of report jitter)."""
    rate = 48000 * (1 + 150e-6)
    errors = []
    for seed in range(20):
        clock = DacClock(48000)
        feed(clock, rate, seconds=40, jitter=0.0005, seed=seed)
        feed(clock, rate, 41, jitter=0.0005, seed=seed, start=1000.010, since=40)  # an xrun
        assert clock.resets + clock.shifts == 1
        errors.append(abs(clock.ppm - 150.0))
    assert max(errors) < 5.0


def test_a_young_refit_starts_from_nothing() -> None:
    """A jump in a fit younger than its window: a restart does not keep the rate it had (a
    young stream's slope may be far off, and would be held there), a shift goes on with the
    young fit: either way, 30 s later the fit is within a few ppm."""
    clock = DacClock(48000)
    feed(clock, 48000 * (1 + 600e-6), 2, jitter=0.0)  # settling: hundreds of ppm fast
    feed(clock, 48000, 32, jitter=0.0005, start=1000.010, since=2)
    assert clock.resets + clock.shifts == 1
    assert clock.ppm == pytest.approx(0.0, abs=5.0)


def test_always_has_a_line_after_a_reset() -> None:
    """A reset (here: an impossible clock) leaves a usable fit, never empty sums."""
    clock = DacClock(48000)
    for i in range(1000):  # reports claiming a clock 10 % fast: reset after reset
        clock.add(i * 256, 7.0 + i * 256 / 52800)
        clock.time_of(i * 256 + 256)  # would divide by zero on an empty fit
    assert clock.resets > 0
