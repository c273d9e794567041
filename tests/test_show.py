"""Loading show files into the frozen model: shorthands, defaults, durations, LED selections."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from showctl.show import loader, model
from showctl.show._convert import parse_duration
from tests.conftest import BASE, ROOT


def load_text(text: str, folder: Path) -> model.Show:
    path = folder / "show.yaml"
    path.write_text(text)
    return loader.load(path)


def test_demo_show_model() -> None:
    """The gallery demo: 8 outputs, the 5x5 matrix on the documented lines, cued scenes."""
    demo = loader.load(ROOT / "shows" / "demo.yaml")
    assert len(demo.outputs) == 8
    assert {o.rate for o in demo.outputs.values()} == {48000}
    assert demo.matrix is not None
    assert demo.matrix.chip == "/dev/gpiochip0"
    assert demo.matrix.lines == (
        (11, 10, 27, 4, 2),
        (0, 9, 22, 17, 3),
        (5, 20, 1, 25, 18),
        (6, 16, 7, 24, 15),
        (13, 12, 8, 23, 14),
    )
    cued = [name for name, scene in demo.scenes.items() if scene.leds]
    assert len(cued) >= 2
    assert demo.restart == "start-over"
    tides = demo.scenes["tides"]
    assert set(tides.audio) == set(demo.outputs)
    assert all(play.loop for play in tides.audio.values())
    assert tides.transitions[0] == model.Transition(to="chorus", after=30.0)


def test_escape_room_model() -> None:
    room = loader.load(ROOT / "shows" / "escape-room.yaml")
    assert set(room.inputs) == {"door", "start", "gears", "portrait", "panic"}
    assert room.inputs["portrait"] == model.Input(
        line=23, edge="rising", debounce=0.1, bias="pull-down"
    )
    assert {"idle", "intro", "puzzles", "finale", "reset"} <= set(room.scenes)
    assert room.restart == "resume"
    hint = room.scenes["puzzles"].transitions[3]
    assert (hint.after, hint.when, hint.do, hint.to) == (
        240.0,
        ("not gears_solved", "hints == 0"),
        (model.GiveHint("gears"),),
        None,
    )
    assert room.hints["gears"].sound == model.SoundEffect("hint.wav", "hint")
    assert room.hints["portrait"].sound is None


def test_models_are_frozen(show_dir: Path) -> None:
    loaded = load_text(BASE, show_dir)
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.initial = "b"  # type: ignore[misc]
    with pytest.raises(TypeError):
        loaded.outputs["new"] = loaded.outputs["left"]  # type: ignore[index]


def test_defaults_and_shorthands(show_dir: Path) -> None:
    text = BASE.replace("left: tone.wav", "left: silence").replace(
        "        to: b\n", "        to: b\n        do: {set: done}\n        when: not done\n"
    )
    loaded = load_text(text, show_dir)
    assert loaded.name == ""
    assert loaded.restart == "start-over"
    assert loaded.outputs["left"].rate == 48000
    assert loaded.inputs["button"] == model.Input(line=10)
    assert loaded.scenes["a"].audio["left"] == model.Sound(clip=None)
    transition = loaded.scenes["a"].transitions[0]
    assert transition.do == (model.SetFlag("done"),)
    assert transition.when == ("not done",)
    assert transition.trigger == "input"
    assert loaded.media_dir == (show_dir / "media").resolve()


def test_program_tree(show_dir: Path) -> None:
    cues = """\
      - at: 1.5s
        any:
          - sequence: [{on: dot}, {hold: 250ms}, {off: dot}]
          - frames: ["#..\\n..#"]
            interval: 1s
            loop: true
"""
    loaded = load_text(
        BASE.replace("      - blink: dot\n        interval: 100ms\n", cues), show_dir
    )
    (cue,) = loaded.scenes["a"].leds
    assert cue == model.Cue(
        at=1.5,
        program=model.First(
            (
                model.Sequence((model.On(("dot",)), model.Hold(0.25), model.Off(("dot",)))),
                model.Frames(("#..\n..#",), interval=1.0, loop=True),
            )
        ),
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1.5", 1.5),
        ("250ms", 0.25),
        ("2s", 2.0),
        ("5min", 300.0),
        ("1h", 3600.0),
        ("1min 30s", 90.0),
        ("1h30min", 5400.0),
        (".5s", 0.5),
        ("-2min", -120.0),  # a time taken from a game clock
        ("+1min 30s", 90.0),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "5 minutes", "1m", "s", "--1s", "-", "1s 2"])
def test_unreadable_durations(text: str) -> None:
    assert parse_duration(text) is None


def test_matrix_selections_keep_their_order() -> None:
    matrix = model.Matrix(
        lines=((1, 2, 3), (4, 5, 6)),
        names={"a": (1, 2)},  # type: ignore[arg-type]
        groups={"corners": ((0, 0), "a", (0, 2))},  # type: ignore[arg-type]
    )
    assert matrix.resolve(("row 1",)) == ((1, 0), (1, 1), (1, 2))
    assert matrix.resolve(("col 2", "row 0")) == ((0, 2), (1, 2), (0, 0), (0, 1))
    assert matrix.resolve(("corners",)) == ((0, 0), (1, 2), (0, 2))
    assert matrix.resolve(("all",)) == ((0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2))
    with pytest.raises(KeyError, match="no LED or group named 'b'"):
        matrix.resolve(("b",))


def test_check_media_false_skips_the_clips(show_dir: Path) -> None:
    path = show_dir / "show.yaml"
    path.write_text(BASE.replace("tone.wav", "absent.wav"))
    assert loader.check(path, check_media=False)[1] == []
    assert len(loader.check(path)[1]) == 1
