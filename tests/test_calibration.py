"""Calibration's estimator on synthetic recordings, made exactly from the sweep's formula at the
microphone's sample times: known delays to a fraction of a sample, noise, a reverberant room,
a microphone clock 100 ppm off, a speaker not heard."""

from __future__ import annotations

import numpy as np
import pytest

from showctl.calibration.estimate import find, measure, rate_ratio, schedule, sweep, sweep_at

RATE = 48000
REFERENCE = sweep(RATE)


def recorded(
    sounds: list[tuple[float, float]],
    seconds: float,
    *,
    ppm: float = 0.0,
    noise: float = 0.0,
    reflections: tuple[tuple[float, float], ...] = (),
    seed: int = 1,
) -> np.ndarray:
    """What a microphone records: each sweep (its start on the outputs' clock, s; its gain),
    with ``reflections`` (delay s, gain) of each, white noise of RMS ``noise``, on a card whose
    clock runs ``ppm`` fast (more samples a second)."""
    t = np.arange(round(seconds * RATE * (1 + ppm * 1e-6))) / (RATE * (1 + ppm * 1e-6))
    y = np.zeros(len(t))
    for start, gain in sounds:
        for delay, g in ((0.0, 1.0), *reflections):
            y += gain * g * sweep_at(t - start - delay)
    y += np.random.default_rng(seed).standard_normal(len(t)) * noise
    return y.astype(np.float32)


@pytest.mark.parametrize("offset_ms", [0.0, 0.0104, 1.3717, 2.35, 19.999])
def test_a_delay_is_found_to_a_fraction_of_a_sample(offset_ms: float) -> None:
    start = 0.5 + offset_ms / 1e3
    arrival = find(recorded([(start, 0.3)], 2.0), REFERENCE, RATE, near=0.5 * RATE, within=0.05)
    assert arrival.at == pytest.approx(start * RATE, abs=0.05)
    assert arrival.level_db == pytest.approx(20 * np.log10(0.3), abs=0.1)
    assert arrival.heard


def test_noise_down_to_a_stated_signal_to_noise_ratio() -> None:
    """A sweep at -10 dB under white noise at -26 dBFS RMS (0.05; the sweep's own RMS is 0.35
    before its gain: 6 dB above the noise at the microphone): still within a tenth of a
    sample, thanks to the sweep's length."""
    start = 0.5 + 0.00123
    noisy = recorded([(start, 0.3)], 2.0, noise=0.05)
    arrival = find(noisy, REFERENCE, RATE, near=0.5 * RATE, within=0.05)
    assert arrival.at == pytest.approx(start * RATE, abs=0.1)
    assert arrival.snr_db > 30


def test_the_direct_sound_is_found_in_a_reverberant_room() -> None:
    """Reflections at 3, 5 and 11 ms, one louder than the direct sound (a speaker facing a wall,
    away from the microphone): the earliest strong peak is the direct sound."""
    start = 0.5 + 0.0007
    room = recorded([(start, 0.2)], 2.0, reflections=((0.003, 0.6), (0.005, 1.3), (0.011, 0.4)))
    arrival = find(room, REFERENCE, RATE, near=0.5 * RATE, within=0.05)
    assert arrival.at == pytest.approx(start * RATE, abs=0.1)


def test_a_microphone_clock_100_ppm_off_is_measured_and_taken_out() -> None:
    """The first output's sweep at 0.5 s and again at 8.5 s, a second output's at 4.5 s plus
    1.5 ms: the recording's rate against the outputs' comes from the first output's two
    arrivals, and with it taken out the second output's delay is found to a tenth of a sample
    (uncorrected, the 100 ppm would put it 0.4 samples off)."""
    ppm = 100.0
    mic = recorded([(0.5, 0.3), (4.5015, 0.3), (8.5, 0.3)], 10.0, ppm=ppm)
    found = [
        find(mic, REFERENCE, RATE, near=s * RATE * (1 + ppm * 1e-6), within=0.05).at
        for s in (0.5, 4.5015, 8.5)
    ]
    ratio = rate_ratio(found[0], found[2], 8.0 * RATE)
    assert (ratio - 1) * 1e6 == pytest.approx(ppm, abs=1.0)
    delay = (found[1] - found[0]) / ratio - 4.0 * RATE
    assert delay == pytest.approx(0.0015 * RATE, abs=0.1)


def test_a_speaker_not_heard_is_said_so() -> None:
    silent = recorded([], 2.0, noise=0.01)
    arrival = find(silent, REFERENCE, RATE, near=0.5 * RATE, within=0.05)
    assert not arrival.heard
    assert arrival.snr_db < 20


def test_a_measurement_finds_every_output_against_the_others_and_the_trims_that_align_them() -> (
    None
):
    """Four outputs in turn, twice, their sounds arriving 0, 2.35, 0.4 and 7.0 ms late
    (distance, a slow card), on a microphone 100 ppm fast whose recording began 0.3 s before
    the T0 (the measurement told 0.25 s: the input's timestamps are rough): each offset within a
    tenth of a sample, and the trims bring them together; a fifth output not heard is named
    so."""
    late = {"a": 0.0, "b": 0.00235, "c": 0.0004, "d": 0.007}
    plan = schedule([*late, "e"])
    sounds = [(0.3 + at + late[name], 0.3) for name, at in plan if name != "e"]
    mic = recorded(sounds, 0.3 + plan[-1][1] + 2.0, ppm=100.0, noise=0.001)
    measured = measure(mic, RATE, plan, start=0.25 * RATE)
    assert measured.ppm == pytest.approx(100.0, abs=1.0)
    assert measured.silent == ["e"]
    for name, seconds in late.items():
        assert measured.offsets[name] == pytest.approx(seconds, abs=0.1 / RATE)
    trims = measured.trims()
    aligned = [measured.offsets[name] + trims[name] for name in late]
    assert max(aligned) - min(aligned) < 0.1 / RATE
    assert measured.spread == pytest.approx(0.007, abs=0.1 / RATE)
