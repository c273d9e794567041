"""The show controller on a fake clock: triggers, timers, audio ends, state, reload, fault."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from showctl import controller, saved_state, settings
from showctl.controller import QUEUE_SIZE
from showctl.show import loader, model
from tests.conftest import ROOT
from tests.harness.room import Room, play

ESCAPE_ROOM = loader.load(ROOT / "shows" / "escape-room.yaml")

#: Two scenes and a timer; ``a`` counts as a gallery show unless told to resume.
SMALL = """\
version: 1
initial: a
media: media
restart: {restart}
outputs:
  left: {{device: "hw:CARD=a"}}
  right: {{device: "hw:CARD=b"}}
inputs:
  button: {{line: 3}}
flags: [pressed, seen]
scenes:
  a:
    audio: {{left: {{clip: tone.wav, loop: true}}}}
    on_exit: {{set: seen}}
    transitions:
      - {{input: button, do: {{set: pressed}}}}
      - {{event: go, when: pressed, to: b}}
      - {{after: 10s, to: b}}
  b:
    audio: {{left: tone.wav, right: tone.wav}}
    transitions:
      - {{audio_end: all, to: a}}
      - {{event: back, to: a}}
      - {{event: again, to: b}}
"""


@pytest.fixture
def small(tmp_path: Path, tone: Path) -> Callable[..., model.Show]:
    def make(restart: str = "start-over", text: str = SMALL) -> model.Show:
        path = tmp_path / "small.yaml"
        path.write_text(text.format(restart=restart))
        return loader.load(path)

    return make


@pytest.fixture
def tone(tmp_path: Path) -> Path:
    from showctl.testing import write_wav

    return write_wav(tmp_path / "media" / "tone.wav", seconds=1.0)


def test_a_flood_of_new_names_is_counted_in_bounded_memory_and_log_lines(small) -> None:
    """5000 made-up names over 11 s: every one counted, a line a second for their source."""

    async def body(room: Room) -> None:
        c = room.controller
        for i in range(5000):
            c.fire(f"event:nonsense-{i}", "test")
            if i % 500 == 0:
                await room.settle()
                await room.wait(1.1)
        await room.settle()
        assert c.counts["unknown"] == 5000
        assert len(c._logged) <= controller.TALLY_KEYS

    with capture_logs() as logs:
        play(small(), body)
    unknown = [e for e in logs if e["event"] == "trigger_unknown"]
    assert len(unknown) == 11  # one a second; those since the last line wait for the next
    assert unknown[-1]["not_logged"] == 499


def test_unknown_and_unheard_triggers_are_counted_and_logged_once_a_second(small) -> None:
    async def body(room: Room) -> None:
        c = room.controller
        for _ in range(50):
            c.fire("event:nonsense", "test")
            c.fire("event:back", "test")  # scene a does not listen to it
        await room.settle()
        await room.wait(1.1)
        c.fire("event:back", "test")
        await room.settle()
        assert room.scene == "a"
        assert (c.counts["unknown"], c.counts["ignored"]) == (50, 51)

    with capture_logs() as logs:
        play(small(), body)
    ignored = [e for e in logs if e["event"] == "trigger_ignored"]
    assert [e.get("not_logged") for e in ignored] == [None, 49]
    assert len([e for e in logs if e["event"] == "trigger_unknown"]) == 1


def test_a_full_queue_drops_the_newest_triggers_and_counts_them(small) -> None:
    async def body(room: Room) -> None:
        c = room.controller
        for _ in range(QUEUE_SIZE + 5):
            c.fire("input:button", "test")
        assert c.counts["dropped"] == 5
        await room.settle()
        assert room.flags == {"pressed"}
        assert c.counts["handled"] == QUEUE_SIZE

    play(small(), body)


def test_a_timer_belongs_to_its_scene(small) -> None:
    """The 10 s timer of scene a fires once, and not after a has been left and entered again."""

    async def body(room: Room) -> None:
        c = room.controller
        await room.wait(5)
        await room.press("button")
        await c.trigger("go")
        assert room.scene == "b"
        await c.trigger("back")
        assert room.scene == "a"
        entered = c.t0
        await room.wait(9.5)  # the old timer (10 s after the first entry) has come and gone
        assert room.scene == "a"
        await room.wait(entered + 10.01 - room.clock.now)
        assert room.scene == "b"

    play(small(), body)


def test_audio_end_all_waits_for_every_output_and_only_this_scenes_clips(small) -> None:
    async def body(room: Room) -> None:
        c = room.controller
        await c.goto("b")
        play_id = c.entry
        c.clip_finished("right", play_id - 1, "end")  # a clip of an earlier scene
        c.clip_finished("right", play_id, "stopped")  # stopped on purpose, not its end
        c.clip_finished("left", play_id, "end")
        await room.settle()
        assert room.scene == "b", "one output of two has ended"
        c.clip_finished("right", play_id, "end")
        await room.settle()
        assert room.scene == "a"

    play(small(), body)


def test_a_trigger_queued_for_a_scene_is_not_taken_by_its_next_entry(small) -> None:
    """Scene b is entered again while the end of its audio waits in the queue: the new entry
    has its own audio to wait for."""

    async def body(room: Room) -> None:
        c = room.controller
        await c.goto("b")
        c.fire("event:again", "test")
        c.clip_finished("left", c.entry, "end")
        c.clip_finished("right", c.entry, "end")  # audio_end:all queued behind "again"
        await room.settle()
        assert room.scene == "b"

    play(small(), body)


def test_every_change_is_saved_and_a_resumed_scene_goes_on_where_it_was(small, tmp_path) -> None:
    saved = tmp_path / "saved_state.json"
    resumable = small("resume")
    key = str(resumable.path.resolve())

    async def first(room: Room) -> None:
        await room.press("button")
        assert saved_state.load(saved, key).flags == {"pressed"}
        await room.wait(4)

    play(resumable, first, state_path=saved)
    before = saved_state.load(saved, key)
    assert (before.scene, before.flags) == ("a", {"pressed"})

    async def after_restart(room: Room) -> None:
        # 4 s of scene a had passed, and 3 s more while showctl was down (wall clock)
        c = room.controller
        assert (room.scene, room.flags) == ("a", {"pressed"})
        assert room.clock.now - c.t0 == pytest.approx(7.0, abs=0.3)
        assert room.outputs.plays[-1].t0 == c.t0, "the players late-join the running scene"
        await room.wait(2.5)
        assert room.scene == "a"
        await room.wait(0.6)
        assert room.scene == "b", "the timer kept its time across the restart"

    # The Room's fake clock starts at 1000 again; the wall clock reads 7 s after the T0 saved.
    with capture_logs() as logs:
        play(resumable, after_restart, state_path=saved, wall_offset=before.started + 7.0 - 1000.0)
    entered = next(e for e in logs if e["event"] == "scene_entered")
    assert "lead_ms" not in entered, "a scene taken up has no lead: it says where it resumed"
    assert entered["resumed"] == "after a restart"
    assert entered["seconds"] == pytest.approx(7.0, abs=0.3)


def test_a_gallery_starts_over_whatever_was_saved(small, tmp_path) -> None:
    saved = tmp_path / "saved_state.json"
    gallery = small("start-over")
    saved_state.save(
        saved, saved_state.SavedState(str(gallery.path.resolve()), "b", 1.7e9, frozenset())
    )

    async def body(room: Room) -> None:
        assert (room.scene, room.flags) == ("a", set())

    play(gallery, body, state_path=saved)


def test_goto_runs_the_exit_and_enter_actions_and_names_the_scenes_it_has(small) -> None:
    async def body(room: Room) -> None:
        c = room.controller
        answer = await c.goto("nowhere")
        assert answer == {
            "ok": False,
            "refused": "unknown_name",
            "error": "the show has no scene 'nowhere'; its scenes are: a, b",
        }
        answer = await c.goto("b")
        assert answer["scene"] == "b"
        assert answer["flags"] == ["seen"]

    play(small(), body)


def test_reset_clears_the_flags_and_enters_the_first_scene_anew(small) -> None:
    async def body(room: Room) -> None:
        c = room.controller
        await room.press("button")
        await c.goto("b")
        entry = c.entry
        answer = await c.reset()
        assert (answer["scene"], answer["flags"], c.entry) == ("a", [], entry + 1)
        assert room.outputs.plays[-1].clip.name == "tone.wav"

    play(small(), body)


def test_an_invalid_reload_changes_nothing_and_says_where_the_errors_are(small) -> None:
    running = small()

    async def body(room: Room) -> None:
        c = room.controller
        await room.press("button")
        running.path.write_text(
            SMALL.format(restart="start-over").replace("when: pressed, to: b", "to: c")
        )
        answer = await c.reload(now=True)
        assert not answer["ok"]
        assert answer["error"].endswith(
            "has 1 error; the running show goes on unchanged. Correct them (showctl check) "
            "and reload again"
        )
        assert all(p.startswith(f"{running.path}:") for p in answer["problems"])
        assert c.show is running
        assert (room.scene, room.flags) == ("a", {"pressed"})
        await c.trigger("go")
        assert room.scene == "b", "the old show still runs"

    with capture_logs() as logs:
        play(running, body)
    assert [e["event"] for e in logs if e["event"].startswith("reload")] == [
        "reload_problem",
        "reload_rejected",
    ]


def test_a_valid_reload_takes_over_at_the_next_scene_or_at_once(small) -> None:
    running = small()

    async def body(room: Room) -> None:
        c = room.controller
        running.path.write_text(
            SMALL.format(restart="start-over").replace("after: 10s", "after: 2s")
        )
        answer = await c.reload()
        assert answer["reload_pending"]
        assert c.show is running
        await room.wait(5)  # the old show's 10 s timer still counts in this scene
        assert room.scene == "a"
        await room.wait(5.1)
        assert room.scene == "b"
        assert c.show is not running
        assert not c.status()["reload_pending"]
        await c.trigger("back")
        await room.wait(2.1)
        assert room.scene == "b", "the new show's 2 s timer"

        running.path.write_text(SMALL.format(restart="start-over"))
        entry = c.entry
        answer = await c.reload(now=True)
        assert answer["scene"] == "b"
        assert c.entry == entry + 1, "at once"

    play(running, body)


def test_a_reload_at_once_keeps_the_time_the_scenes_timers_have_run(small) -> None:
    """A game master who fixes a typo mid-game does not give the players their time back:
    the scene is taken up where it was. A timer that already fell due (and did nothing, its
    condition unmet) does not fire again."""
    running = small(
        text=SMALL.replace(
            "- {{after: 10s, to: b}}",
            "- {{after: 1s, when: pressed, to: b}}\n      - {{after: 10s, to: b}}",
        )
    )

    seconds = 0.0

    async def body(room: Room) -> None:
        nonlocal seconds
        c = room.controller
        t0 = c.t0
        await room.wait(3)  # the 1 s timer fell due: nothing pressed, it did nothing
        await room.press("button")
        running.path.write_text(running.path.read_text().replace("scenes:", "# a typo\nscenes:"))
        answer = await c.reload(now=True)
        assert (answer["scene"], answer["flags"]) == ("a", ["pressed"])
        assert c.show is not running
        assert c.t0 == t0, "taken up where it was"
        assert room.outputs.plays[-1].t0 == t0, "the outputs join the running scene"
        assert [t["in"] for t in answer["timers"]] == [round(t0 + 10 - room.clock.now, 3)]
        seconds = round(room.clock.now - t0, 3)
        await room.until(9.9)
        assert room.scene == "a"
        await room.until(10.05)
        assert room.scene == "b", "the 10 s timer kept its time"

    with capture_logs() as logs:
        play(running, body)
    taken_up = [e for e in logs if e["event"] == "scene_entered"][-2]
    assert (taken_up["resumed"], taken_up["seconds"]) == ("after a reload", seconds)


def test_a_trigger_that_does_nothing_says_why(small) -> None:
    """The control answer, and the reply of a trigger fired through the queue, say why."""

    async def body(room: Room) -> None:
        c = room.controller
        answer = await c.trigger("back")
        assert (answer["moved"], answer["why"]) == (
            False,
            "scene 'a' does not take event 'back'; it takes event 'go', input 'button'",
        )
        answer = await c.trigger("go")
        assert (answer["moved"], answer["why"]) == (
            False,
            "in scene 'a', event 'go' needs pressed, which did not hold",
        )
        replies: list[controller.Outcome] = []
        c.fire("input:button", "test", reply=replies.append)
        c.fire("event:nonsense", "test", reply=replies.append)
        await room.settle()
        assert replies == [
            controller.Outcome("input:button", True),
            controller.Outcome("event:nonsense", False, "the show has no event 'nonsense'"),
        ]
        answer = await c.trigger("go")
        assert (answer["scene"], answer["moved"], answer["why"]) == ("b", True, None)
        await c.pause()
        answer = await c.trigger("back")
        assert answer["why"] == "the show is paused; resume it first"

    play(small(), body)


def test_a_reload_that_changes_the_hardware_is_refused(small) -> None:
    running = small()

    async def body(room: Room) -> None:
        running.path.write_text(SMALL.format(restart="start-over").replace("line: 3", "line: 4"))
        answer = await room.controller.reload()
        assert answer == {
            "ok": False,
            "refused": "needs_restart",
            "error": f"the new {running.path} changes the show's inputs, which showctl takes "
            "up only at start; the running show goes on unchanged. Restart showctl "
            "(systemctl restart showctl) to take it up",
        }

    play(running, body)


def test_a_reload_that_adds_a_relay_is_refused_too(small) -> None:
    """A relay's lines are requested in their safe states at start: a new one waits for a
    restart, like the inputs."""
    running = small()

    async def body(room: Room) -> None:
        text = SMALL.format(restart="start-over").replace(
            "scenes:", "relays:\n  lock: {line: 20}\nscenes:", 1
        )
        running.path.write_text(text)
        answer = await room.controller.reload()
        assert answer["refused"] == "needs_restart"
        assert "changes the show's relays" in answer["error"]

    play(running, body)


def test_a_reload_is_checked_against_the_settings_showctl_runs_with(small, tmp_path) -> None:
    running = small()

    async def body(room: Room) -> None:
        settings_file = tmp_path / "settings.toml"
        settings_file.write_text('[osc.targets]\nlighting-desk = "127.0.0.1:7700"\n')
        room.controller.settings = settings.load(settings_file)
        text = SMALL.format(restart="start-over").replace(
            "  a:\n", "  a:\n    on_enter: {osc: /go, to: desk}\n", 1
        )
        running.path.write_text(text)
        answer = await room.controller.reload()
        assert answer["refused"] == "invalid_show"
        assert "no OSC target 'desk' in" in answer["problems"][0]

    play(running, body)


def test_with_every_output_failed_the_show_is_in_fault_until_one_is_back(small) -> None:
    async def body(room: Room) -> None:
        c = room.controller
        room.outputs.fail("left", "killed")
        await room.settle()
        assert room.scene == "a", "one output of two: the show goes on"
        room.outputs.fail("right", "killed")
        await room.settle()
        status = c.status()
        assert status["scene"] == "fault"
        assert status["fault"] == "every audio output has failed (the last: right, killed)"
        assert status["timers"] == [], "the scene's timer went with it"
        assert {o for _, o in room.outputs.stops[-2:]} == {"left", "right"}
        await c.trigger("go")
        assert room.scene == "fault", "a fault does not listen to the show's triggers"
        room.outputs.recover("left")  # a card plugged back in
        for _ in range(10):
            await room.settle()
        assert room.scene == "a", "the show starts over"
        assert c.status()["fault"] is None

    play(small(), body)


def test_outputs_failed_at_start_leave_the_show_degraded_or_in_fault(small) -> None:
    async def one_missing(room: Room) -> None:
        assert room.scene == "a"
        assert room.controller.status()["outputs"]["left"]["failed"] == "told so by the test"

    async def all_missing(room: Room) -> None:
        assert room.scene == "fault"
        assert room.controller.fault.startswith("every audio output has failed")

    with capture_logs() as logs:
        play(small(), one_missing, missing=("left",))
    assert [e["output"] for e in logs if e["event"] == "show_degraded"] == ["left"]
    play(small(), all_missing, missing=("left", "right"))


def test_a_state_the_disk_refuses_is_logged_and_saved_once_the_disk_takes_it(
    small, tmp_path, monkeypatch
) -> None:
    """The show goes on; the latest state reaches the disk when it is back."""
    monkeypatch.setattr(controller, "SAVE_RETRY", 0.05)  # real seconds: the loop's timer
    folder = tmp_path / "not-a-folder"  # a file where the state's folder should be
    folder.write_text("")
    path = folder / "saved_state.json"

    async def body(room: Room) -> None:
        await room.press("button")
        await room.controller.trigger("go")
        assert room.scene == "b"
        await asyncio.sleep(0.2)  # retried, refused again
        folder.unlink()
        folder.mkdir()  # the disk is back
        await asyncio.sleep(0.2)
        saved = saved_state.load(path, str(room.show.path.resolve()))
        assert saved is not None, "the state was not written when the disk took it again"
        assert (saved.scene, saved.flags) == ("b", {"pressed", "seen"})

    with capture_logs() as logs:
        play(small(), body, state_path=path)
    events = [e["event"] for e in logs]
    assert events.count("state_not_saved") >= 1
    assert events.count("state_saved_again") == 1


def test_a_task_cancelled_while_it_fires_a_trigger_is_cancelled(small) -> None:
    """transitions swallows a CancelledError inside a trigger; the controller passes it on, so
    a surface closing or the show stopping mid-trigger does not leave a task running."""
    cancelled_inside = 0

    async def body(room: Room) -> None:
        nonlocal cancelled_inside
        c = room.controller
        for steps in range(12):
            await c.goto("a")
            task = asyncio.create_task(c.handle(controller.Trigger("goto:b", "test")))
            for _ in range(steps):
                await asyncio.sleep(0)
            if task.done():
                continue
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            assert task.cancelled(), f"cancelled after {steps} steps, yet it ran on"
            cancelled_inside += steps > 0

    play(small(), body)
    assert cancelled_inside > 0  # some cancels landed inside the trigger, not before it


def test_a_controller_cancelled_as_a_trigger_comes_stops(small) -> None:
    """The trigger loop cancelled in the very turn of the loop that hands it a trigger the scene
    ignores: it stops. (asyncio.wait_for in Python 3.11 returned the trigger and dropped the
    cancel, and the controller ran on: a walk of the escape room hung so.)"""

    async def main() -> None:
        async with Room(small()) as room:
            c = room.controller
            run = asyncio.create_task(c.run())
            for _ in range(5):
                await asyncio.sleep(0)  # the loop waits on its empty queue
            c.fire("event:back", "test")  # wakes the wait (a trigger scene a ignores)...
            run.cancel()  # ...and the cancel comes in the same turn
            done, _ = await asyncio.wait({run}, timeout=2.0)
            assert done, "the cancelled controller ran on"

    asyncio.run(main())
