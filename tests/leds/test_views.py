"""The matrix for people: the meter, the terminal view, recordings, and cue pictures."""

from __future__ import annotations

import io
import json
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile

from showctl.cli import main
from showctl.leds.matrix import Shown
from showctl.leds.meter import image, level_frames
from showctl.leds.view import (
    Recorder,
    RecordingError,
    TerminalView,
    read_recording,
    sheet,
    text,
    write_png,
)
from showctl.show.model import Meter

RATE = 48000
ROOT = Path(__file__).resolve().parents[2]


def tone(seconds: float, hz: float, amplitude: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.mark.parametrize(
    ("style", "amplitude", "lit"),
    [
        ("bar", 0.0, 0),  # silence: dark
        ("bar", 1.0, 20),  # full scale (-3 dB RMS): 0.94 of 5 rows -> all 5 rows of 4
        ("bar", 10 ** (-27 / 20) * np.sqrt(2), 8),  # -24 dB of a -48 dB floor: half, 2 rows
        ("fill", 10 ** (-27 / 20) * np.sqrt(2), 10),  # half of the 20 LEDs
    ],
)
def test_meter_levels(style: str, amplitude: float, lit: int) -> None:
    program = Meter("out", style=style, floor_db=-48)  # type: ignore[arg-type]
    frame = image(tone(0.05, 1000, amplitude), RATE, program, (5, 4))
    assert int(frame.sum()) == pytest.approx(lit, abs=1)
    if style == "bar" and lit:
        assert frame[-1].all()  # a bar rises from the bottom row


def test_spectrum_puts_a_low_tone_left_and_a_high_one_right() -> None:
    program = Meter("out", style="spectrum")
    low = image(tone(0.05, 80, 0.5), RATE, program, (4, 6))
    high = image(tone(0.05, 12000, 0.5), RATE, program, (4, 6))
    assert low[:, 0].sum() > low[:, -1].sum()
    assert high[:, -1].sum() > high[:, 0].sum()


def test_meter_frames_follow_the_clip_on_its_timeline(tmp_path: Path) -> None:
    """A clip silent for 0.5 s, then loud: frames from 0.5 s on are lit, those before dark;
    and a cue started at 0.25 s reads from the clip's 0.25 s, not its start."""
    clip = tmp_path / "c.wav"
    soundfile.write(str(clip), np.concatenate([np.zeros(RATE // 2), tone(0.5, 440, 0.8)]), RATE)
    program = Meter("out", rate=10)
    frames = list(level_frames(clip, False, program, 0.25, (3, 3)))
    assert len(frames) == 8  # 0.75 s left of the clip at 10 frames a second
    assert [bool(f.any()) for f in frames] == [False, False] + [True] * 5 + [True]


def test_terminal_view_draws_in_place_with_logs_above() -> None:
    out = io.StringIO()
    view = TerminalView(out, "demo")
    frame = np.array([[True, False], [False, True]])
    view.show(0.5, frame)
    view.log_stream().write("a log line\n")
    view.show(1.0, ~frame)
    written = out.getvalue()
    assert written.count("\x1b[3F\x1b[J") == 2  # the 3-line block is erased before each redraw
    assert written.index("a log line") < written.rindex("t =    1.000 s")
    assert written.endswith("· ●\n● ·\n")


def test_recording_round_trip_and_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "leds.jsonl"
    recorder = Recorder(path, 2, 2)
    frame = np.array([[True, False], [False, False]])
    recorder(Shown(at=1.5, due=101.5, shown=101.5004, frame=frame))
    recorder.close()
    [(t, back)] = list(read_recording(path))
    assert t == 1.5
    assert np.array_equal(back, frame)
    assert json.loads(path.read_text().splitlines()[1])["late_ms"] == pytest.approx(0.4)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"showctl_leds": 1}\n{"t": "soon"}\n')
    with pytest.raises(RecordingError, match=r"bad.jsonl:2: not a frame of an LED recording"):
        list(read_recording(bad))


def test_png_sheet_is_a_valid_picture(tmp_path: Path) -> None:
    frames = [np.eye(3, dtype=bool), ~np.eye(3, dtype=bool), np.zeros((3, 3), bool)]
    picture = sheet(frames, columns=2)
    path = tmp_path / "cue.png"
    write_png(path, picture)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (height, width) == picture.shape[:2]
    idat = data[data.index(b"IDAT") + 4 : data.index(b"IEND") - 8]
    assert len(zlib.decompress(idat)) == height * (width * 3 + 1)
    assert text(frames[0]) == ["#..", ".#.", "..#"]


def test_leds_render_draws_the_demo_scene(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "tides.png"
    status = main(
        ["leds", "render", str(ROOT / "shows/demo.yaml"), "--scene", "tides", "--out", str(out)]
    )
    assert status == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert "32 frames of scene 'tides'" in capsys.readouterr().out
    assert (
        main(
            ["leds", "render", str(ROOT / "shows/demo.yaml"), "--scene", "nope", "--out", str(out)]
        )
        == 1
    )
    assert "no scene 'nope'; its scenes are: tides, chorus" in capsys.readouterr().err


def test_the_readme_picture_is_the_demo_cue_as_rendered_now(tmp_path: Path) -> None:
    """shows/demo-tides.png, shown in the README, is what `showctl leds render` draws today."""
    out = tmp_path / "tides.png"
    command = ["leds", "render", str(ROOT / "shows/demo.yaml"), "--scene", "tides"]
    assert main([*command, "--out", str(out), "--seconds", "4", "--every", "0.125"]) == 0
    assert out.read_bytes() == (ROOT / "shows/demo-tides.png").read_bytes(), (
        "re-render it: showctl leds render shows/demo.yaml --scene tides --out shows/demo-tides.png"
    )


def test_walk_shows_and_records_the_cues_as_the_timeline_has_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`showctl walk --leds --record-leds`: the matrix drawn in the terminal, and a recording
    whose every frame is the one the cue's timeline has at that time (the walk's time: the
    30-s scene in a second)."""
    from showctl.leds.programs import timeline
    from showctl.show import loader

    record = tmp_path / "leds.jsonl"
    demo = ROOT / "shows/demo.yaml"
    argv = ["walk", str(demo), "--steps", "1", "--speed", "30", "--leds", "--record-leds"]
    assert main([*argv, str(record)]) == 0
    assert "LEDs (simulated)" in capsys.readouterr().out
    recorded = []
    for t, frame in read_recording(record):
        if recorded and t < recorded[-1][0]:
            break  # the next scene's cues, begun as the walk ends
        recorded.append((t, frame))
    assert len(recorded) >= 4  # a chase stepping every 125 ms
    loaded = loader.load(demo)
    assert loaded.matrix is not None
    expected = dict(timeline(loaded.matrix, loaded.scenes["tides"].leds, 31.0))
    for t, frame in recorded:
        assert np.array_equal(frame, expected[t]), f"frame at {t} s"


def test_leds_replay_plays_a_recording_and_refuses_a_bad_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "leds.jsonl"
    recorder = Recorder(path, 1, 2)
    for k in range(3):
        frame = np.array([[k % 2 == 0, k % 2 == 1]])
        recorder(Shown(at=k * 0.1, due=k * 0.1, shown=k * 0.1, frame=frame))
    recorder.close()
    assert main(["leds", "replay", str(path), "--speed", "50"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("3 frames\n")
    assert "● ·" in out
    assert "· ●" in out
    not_a_recording = tmp_path / "show.yaml"
    not_a_recording.write_text("version: 1\n")
    assert main(["leds", "replay", str(not_a_recording)]) == 1
    assert "show.yaml:1: not a frame of an LED recording" in capsys.readouterr().err
    assert main(["leds", "replay", str(tmp_path / "none.jsonl")]) == 1
    assert "none.jsonl cannot be read (No such file or directory); give a recording" in (
        capsys.readouterr().err
    )
