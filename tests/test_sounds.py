"""The show's sounds on the controller's fake clock: sent to their output when an action fires
them (with a scene's start when it starts one), on their sample from the timeline, by the game
master's command, and read ahead."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from showctl.show import loader, model
from showctl.testing import write_wav
from tests.harness.room import Room, play

SHOW = """\
version: 1
initial: a
media: media
outputs:
  room: {device: "hw:CARD=a"}
  hint: {device: "hw:CARD=b"}
inputs:
  button: {line: 3}
sounds:
  creak: {clip: creak.wav, output: room, gain: -6}
  whisper: {clip: whisper.wav, output: hint}
scenes:
  a:
    audio: {room: {clip: tone.wav, loop: true}}
    transitions:
      - {input: button, do: {sound: creak}}
      - {event: go, to: b}
  b:
    on_enter: {sound: whisper}
    audio: {room: {clip: tone.wav, loop: true}}
    timeline:
      - {at: 2.5s, sound: creak}
    transitions:
      - {event: back, to: a}
"""


@pytest.fixture
def show(tmp_path: Path) -> model.Show:
    for name in ("tone", "creak", "whisper"):
        write_wav(tmp_path / "media" / f"{name}.wav", seconds=1.0)
    path = tmp_path / "sounds.yaml"
    path.write_text(SHOW)
    return loader.load(path)


def test_an_action_s_sound_goes_out_at_once_and_a_scene_s_with_its_start(show) -> None:
    async def body(room: Room) -> None:
        c = room.controller
        fx = room.outputs.effects
        await room.press("button")
        creak = fx[-1]
        assert (creak.output, creak.clip.name, creak.play) == ("room", "creak.wav", c.entry)
        assert creak.gain == pytest.approx(10 ** (-6 / 20))
        assert creak.t0 == pytest.approx(room.clock.now - 0.2 + room.outputs.soonest, abs=1e-6)
        c.fire("event:go", "test")
        await room.settle()
        whisper = fx[-1]
        assert (whisper.output, whisper.clip.name) == ("hint", "whisper.wav")
        assert (whisper.t0, whisper.play) == (c.t0, c.entry), "with the scene's start"

    play(show, body)


def test_a_timeline_sound_is_sent_ahead_for_its_sample_and_dropped_with_its_scene(show) -> None:
    async def body(room: Room) -> None:
        c = room.controller
        fx = room.outputs.effects
        c.fire("event:go", "test")
        await room.settle()
        sent = len(fx)
        await room.until(1.4)
        assert len(fx) == sent, "not yet: sent a second ahead of its time"
        await room.until(1.55)
        assert fx[-1].t0 == pytest.approx(c.t0 + 2.5)
        assert fx[-1].clip.name == "creak.wav"
        c.fire("event:back", "test")
        c.fire("event:go", "test")
        await room.settle()
        sent = len(fx)
        await room.wait(1.0)
        c.fire("event:back", "test")
        await room.settle()
        await room.wait(3.0)
        assert len(fx) == sent, "its scene was left before it was sent: never played"

    play(show, body)


def test_the_game_master_plays_a_sound_and_an_unknown_one_is_refused(show) -> None:
    async def body(room: Room) -> None:
        c = room.controller
        with capture_logs() as logs:
            answer = await c.sound("whisper")
        assert answer["ok"]
        assert room.outputs.effects[-1].clip.name == "whisper.wav"
        assert [e["source"] for e in logs if e["event"] == "sound_played"] == ["command"]
        refused = await c.sound("screech")
        assert refused["refused"] == "unknown_name"
        assert refused["error"] == "the show has no sound 'screech'; its sounds are: creak, whisper"

    play(show, body)


def test_every_sound_is_read_ahead_on_its_output(show) -> None:
    async def body(room: Room) -> None:
        loads = room.outputs.loads[-1]
        assert {p.name for p, loop in loads["room"] if not loop} >= {"creak.wav"}
        assert {p.name for p, _ in loads["hint"]} == {"whisper.wav"}

    play(show, body)
