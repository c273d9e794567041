"""Levels and fades on the controller's fake clock: the show's gains, the technician's live ones
(checked, saved, kept through a restart and a reload), and the fades each scene change asks
the outputs for."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from showctl.levels import factor
from showctl.show import loader, model
from showctl.show.loader import check_text
from showctl.testing import write_wav
from tests.harness.room import Room, play

SHOW = """\
version: 1
initial: a
media: media
gain: -6
fade: 500ms
outputs:
  left: {device: "hw:CARD=a", gain: 3}
  right: {device: "hw:CARD=b"}
scenes:
  a:
    audio: {left: {clip: tone.wav, loop: true}, right: {clip: tone.wav, loop: true}}
    fade: {in: 1s, out: 2s}
    transitions: [{event: next, to: b}]
  b:
    audio: {left: {clip: tone.wav, loop: true}}
    transitions: [{event: next, to: a}]
"""


@pytest.fixture
def show(tmp_path: Path) -> model.Show:
    write_wav(tmp_path / "media" / "tone.wav", seconds=1.0)
    path = tmp_path / "levels.yaml"
    path.write_text(SHOW)
    return loader.load(path)


def test_outputs_play_at_the_show_s_gains_and_the_live_ones(show, tmp_path: Path) -> None:
    """Left plays at -6 + 3 = -3 dB, right at -6; a level set live takes the place of the
    show's, is logged and saved, and is kept through a restart; ``show`` goes back."""
    state = tmp_path / "state.json"

    async def set_on_site(room: Room) -> None:
        c = room.controller
        assert room.outputs.levels == {"left": factor(-3), "right": factor(-6)}
        with capture_logs() as logs:
            answer = await c.level("right", "-9dB")
        assert answer["levels"]["right"] == {"show": 0.0, "live": -9.0, "db": -15.0}
        assert room.outputs.levels["right"] == pytest.approx(factor(-15))
        assert [
            (e["output"], e["db"], e["show_db"]) for e in logs if e["event"] == "level_set"
        ] == [("right", -9.0, 0.0)]
        await c.level("master", "-3")
        assert room.outputs.levels == pytest.approx({"left": factor(0), "right": factor(-12)})

    async def after_a_reboot(room: Room) -> None:
        c = room.controller
        assert c.status()["levels"] == {
            "master": {"show": -6.0, "live": -3.0},
            "left": {"show": 3.0, "live": None, "db": 0.0},
            "right": {"show": 0.0, "live": -9.0, "db": -12.0},
        }
        assert room.outputs.levels == pytest.approx({"left": factor(0), "right": factor(-12)})
        await c.level("master", "show")
        assert room.outputs.levels == pytest.approx({"left": factor(-3), "right": factor(-15)})

    play(show, set_on_site, state_path=state)
    play(show, after_a_reboot, state_path=state)


def test_a_bad_level_is_refused_with_its_fix_and_changes_nothing(show) -> None:
    async def body(room: Room) -> None:
        c = room.controller
        loud = await c.level("master", "-1")
        assert (loud["refused"], loud["error"]) == (
            "bad_argument",
            "output 'left' would play at +2 dB (the master at -1 dB and its own at +3 dB), "
            "above 0 dB, where a clip can clip; lower one of them",
        )
        assert (await c.level("left", "-70"))["error"] == "a level is -60 to +12 dB, not -70"
        assert (await c.level("master", "+1"))["error"] == "a level is -60 to +0 dB, not 1"
        assert (await c.level("left", "loud"))["error"] == (
            "a level is a number of dB such as -6, or show for the show file's; not 'loud'"
        )
        unknown = await c.level("centre", "-6")
        assert (unknown["refused"], unknown["error"]) == (
            "unknown_name",
            "the show has no output 'centre'; its levels are: left, right, master",
        )
        assert room.outputs.levels == {"left": factor(-3), "right": factor(-6)}
        assert c.levels.live == {}

    play(show, body)


def test_a_reload_keeps_the_levels_set_on_site(show) -> None:
    async def body(room: Room) -> None:
        c = room.controller
        await c.level("left", "-20")
        show.path.write_text(SHOW.replace("gain: -6", "gain: -10"))
        await c.reload(now=True)
        await room.settle()
        assert c.status()["levels"]["left"] == {"show": 3.0, "live": -20.0, "db": -30.0}
        assert room.outputs.levels["left"] == pytest.approx(factor(-30))

    play(show, body)


def test_scenes_fade_in_and_the_one_before_fades_out_under_them(show) -> None:
    """a fades in over 1 s (its own); going to b, b fades in over the show's 500 ms while a
    fades out under it over 2 s, on the output b plays and on the one b leaves silent."""

    async def body(room: Room) -> None:
        assert room.outputs.plays[-1].fade == (1.0, 0.0)
        room.controller.fire("event:next", "test")
        await room.settle()
        assert room.outputs.plays[-1].fade == (0.5, 2.0)
        room.controller.fire("event:next", "test")
        await room.settle()
        assert room.outputs.plays[-1].fade == (1.0, 0.5)

    play(show, body)


def test_a_show_whose_levels_pass_0_db_is_refused() -> None:
    _, problems = check_text(
        SHOW.replace("gain: -6\n", "gain: -2\n").replace("media: media\n", ""),
        check_media=False,
    )
    assert [(p.path, p.message) for p in problems if p.severity == "error"] == [
        (
            "outputs.left.gain",
            "output 'left' would play at +1 dB (the show's gain -2 dB and its own +3 dB), above "
            "0 dB, where a clip can clip; lower one of them",
        )
    ]
