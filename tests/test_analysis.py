"""The test harness's reading of a hub recording: where each output's clip starts."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.harness.analysis import noise_clip, skews


def test_the_skew_of_a_start_is_read_to_the_sample_and_a_stretch_not_recorded_is_missed(
    tmp_path: Path,
) -> None:
    clips = [noise_clip(tmp_path / f"n{i}.wav", seed=i, seconds=0.1) for i in range(2)]
    recording = np.zeros((48000, 2), dtype=np.int16)
    for i, at in enumerate((1000, 1003)):  # out1 three samples after out0
        recording[at : at + len(clips[i]), i] = np.round(clips[i] * 32767).astype(np.int16)

    found = skews(recording, [(0, 20000), (47990, 60000), (50000, 60000)], clips)

    # The first stretch holds both clips; the recording holds only the start of the second and
    # none of the third (it was cut short): both are missed, not a crash.
    assert found == [3 / 48000]


def test_starts_are_followed_where_the_recorder_lost_samples(tmp_path: Path) -> None:
    clips = [noise_clip(tmp_path / f"n{i}.wav", seed=i, seconds=0.1) for i in range(2)]
    recording = np.zeros((96000, 2), dtype=np.int16)
    # Three starts 30000 samples apart by the clock, each with out1 one sample late; the
    # recorder lost 2000 samples before the second and 5000 more before the third, so they
    # lie that much earlier than the clock's stretches say.
    for at in (1000, 31000 - 2000, 61000 - 7000):
        for i in range(2):
            recording[at + i : at + i + len(clips[i]), i] = np.round(clips[i] * 32767)

    found = skews(recording, [(0, 20000), (30000, 50000), (60000, 80000)], clips)

    assert found == [1 / 48000] * 3


def test_a_stretch_that_holds_two_starts_is_read_by_the_earlier(tmp_path: Path) -> None:
    clips = [noise_clip(tmp_path / f"n{i}.wav", seed=i, seconds=0.1) for i in range(2)]
    recording = np.zeros((96000, 2), dtype=np.int16)
    # Two starts, out1 one sample late in each; out1's first one a little quieter than its
    # second (a better match further on must not be taken for the start).
    for at, gain in ((1000, 0.97), (31000, 1.0)):
        for i in range(2):
            level = gain if i == 1 else 1.0
            recording[at + i : at + i + len(clips[i]), i] = np.round(clips[i] * 32767 * level)

    assert skews(recording, [(0, 60000)], clips) == [1 / 48000]
