"""The fault-injection suite: a box left alone, and everything that goes wrong with one.

One ``showctl run`` (a :class:`~tests.harness.box.Box`: systemd's notify socket and watchdog,
a log pipe, its state on a small file system of its own) plays a show of two scenes on the
virtual sound hub's eight outputs through the real backend, each output looping a noise clip of
its own. The cases run one after another on it, each doing one thing to it and checking what
must hold afterwards, and each leaving it healthy for the next. The README's table of fault
cases is this file's.

Where the others must "play on untouched", the hub's recording is read: none of their channels
falls silent (a run of zero samples, which noise never has) while the fault happens.

The outputs ask for LATENCY, 200 ms, not the default 40. The machines this runs on stall now and
then, with nothing of showctl's doing: 7 players left alone on the (PulseAudio) hub went silent
together for 32 to 82 ms, once in 14 minutes watched; and in some runs of this suite such a stall
fell inside a fault's recording. Holding that hub's PulseAudio still for 80 ms (SIGSTOP)
silenced every 40-ms output and none of the 200-ms ones. On the PipeWire hub a stream that misses
a cycle of the graph is silent for that cycle: 200 ms of latency makes the cycle 2048 samples
(42.7 ms) and gives a stall that much room. What this suite looks for, a fault in one output
reaching the others (a stop, a restart, a command sent to them), silences them whatever their
latency.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests.harness.analysis import noise_clip, silences, silent_channels
from tests.harness.box import Box
from tests.harness.soundhub import SoundHub, device_name

OUTPUTS = 8
#: The outputs' latency: buffers that ride out the machine's own stalls (see above).
LATENCY = "200ms"

SHOW_HEAD = """\
version: 1
name: Fault suite
initial: a
restart: resume
media: media
outputs:
"""


def write_show(folder: Path) -> Path:
    lines = [SHOW_HEAD]
    lines += [
        f'  out{i}: {{device: "{device_name(i)}", latency: {LATENCY}}}\n' for i in range(OUTPUTS)
    ]
    lines.append("scenes:\n")
    for scene, other in (("a", "b"), ("b", "a")):
        lines.append(f"  {scene}:\n    audio:\n")
        lines += [f"      out{i}: {{clip: {scene}{i}.wav, loop: true}}\n" for i in range(OUTPUTS)]
        lines.append(f"    transitions:\n      - {{event: next, to: {other}}}\n")
    for i in range(OUTPUTS):
        noise_clip(folder / "media" / f"a{i}.wav", seed=500 + i, seconds=1.0)
        noise_clip(folder / "media" / f"b{i}.wav", seed=600 + i, seconds=1.0)
    path = folder / "show.yaml"
    path.write_text("".join(lines))
    return path


@pytest.fixture(scope="module")
def hub() -> Iterator[SoundHub]:
    with SoundHub(OUTPUTS) as running:
        yield running


@pytest.fixture(scope="module")
def box(hub: SoundHub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    folder = tmp_path_factory.mktemp("box")
    with Box(folder, write_show(folder), hub.env) as running:
        yield running


@pytest.fixture(autouse=True)
def _healthy_before_and_after(request: pytest.FixtureRequest) -> Iterator[None]:
    if "box" not in request.fixturenames:
        yield
        return
    box: Box = request.getfixturevalue("box")
    box.wait_healthy(playing=True)  # every scene here loops: every output plays
    yield
    if box.process.poll() is None:
        box.wait_healthy(timeout=30, playing=True)


def index(output: str) -> int:
    return int(output.removeprefix("out"))


def others_play_on(box: Box, samples: np.ndarray, victims: list[str]) -> None:
    """No output but the ``victims`` fell silent in the hub's recording ``samples``; if one did,
    where in the recording, and the players' counts of late clips and late callbacks."""
    others = [i for i in range(OUTPUTS) if f"out{i}" not in victims]
    runs = {f"out{i}": silences(samples[:, i]) for i in others}
    quiet = {name: (r[0][0], sum(n for _, n in r)) for name, r in runs.items() if r}
    if quiet:
        counts = {name: (o["underruns"], o["xruns"]) for name, o in box.status()["outputs"].items()}
        pytest.fail(
            f"another output fell silent (first silent sample, samples silent; of "
            f"{len(samples)}): {quiet}; (underruns, xruns) now: {counts}"
        )


# --- players that die or hang ----------------------------------------------------------------


@pytest.mark.parametrize("victims", [[f"out{i}"] for i in range(OUTPUTS)] + [["out2", "out5"]])
def test_a_player_killed_is_replaced_and_the_others_play_on(
    box: Box, hub: SoundHub, victims: list[str]
) -> None:
    """SIGKILL each player in turn, and two at once: each killed output has a fresh player,
    playing the scene again; the others' players are the same, and never fell silent."""
    before = box.pids()
    with hub.record() as recording:
        time.sleep(0.3)
        for victim in victims:
            os.kill(before[victim], signal.SIGKILL)
        box.wait(lambda: all(box.pids()[v] != before[v] for v in victims), 10, "new players")
        box.wait_healthy(playing=True)
        time.sleep(0.5)
        samples = recording.stop()
    after = box.pids()
    assert {n: p for n, p in after.items() if n not in victims} == {
        n: p for n, p in before.items() if n not in victims
    }, "another output's player changed"
    others_play_on(box, samples, victims)
    tail = samples[-4800:]
    assert all(np.abs(tail[:, index(v)]).max() > 0 for v in victims), "a victim is still silent"


def test_a_player_stopped_is_found_hung_killed_and_replaced(box: Box, hub: SoundHub) -> None:
    """SIGSTOP: the player is alive but silent; its heartbeat is missed, it is killed and a
    fresh one takes its place."""
    before = box.pids()
    hung = before["out4"]
    with hub.record() as recording:
        os.kill(hung, signal.SIGSTOP)
        box.wait(lambda: box.pids()["out4"] != hung, 15, "the hung player to be replaced")
        box.wait_healthy()
        others_play_on(box, recording.stop(), ["out4"])
    assert not Path(f"/proc/{hung}").exists(), "the hung player was left behind"
    assert any(e["output"] == "out4" for e in box.events("player_hung"))


# --- cards that go away ------------------------------------------------------------------


def test_a_card_that_vanishes_leaves_the_show_degraded_until_it_is_back(
    box: Box, hub: SoundHub
) -> None:
    """Its remap sink unloaded, as a USB card pulled out: the output is failed once its
    restarts are spent, which the status, the logs and systemd's STATUS say, and the others
    play on; plugged back, the next retry takes it up and it plays the scene again."""
    since = time.monotonic()
    with hub.record() as recording:
        hub.unplug(3)
        try:
            box.wait(lambda: box.status()["outputs"]["out3"]["failed"], 30, "out3 to be failed")
            reason = box.status()["outputs"]["out3"]["failed"]
            assert device_name(3) in reason
            # The STATUS is sent before the failure shows in the status answered, but comes in
            # on the harness's own reader thread, which a busy machine may not have run yet.
            box.wait(lambda: "outputs 7/8" in " ".join(box.said(since)), 5, "STATUS outputs 7/8")
            assert any(e["output"] == "out3" for e in box.events("show_degraded"))
            assert box.status()["fault"] is None, "the show goes on with seven"
        finally:
            hub.plug(3)
        others_play_on(box, recording.stop(), ["out3"])
    box.wait_healthy(timeout=30, playing=True)
    assert box.said()[-1].endswith("outputs 8/8") or "outputs 8/8" in " ".join(box.said(since))


# --- bad files and bad shows ----------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "stereo"])
def test_a_clip_broken_before_a_scene_change_is_one_error_and_the_show_goes_on(
    box: Box, hub: SoundHub, damage: str
) -> None:
    """Scene b's clip for out6 is replaced by a broken one; then the scene changes. The error
    names the output and the file; the other outputs play scene b; the show is in b."""
    clip = box.show.parent / "media" / "b6.wav"
    good = clip.read_bytes()
    try:
        if damage == "truncated":
            clip.write_bytes(good[: len(good) // 3])
        else:
            samples, rate = soundfile.read(clip, dtype="float32")
            soundfile.write(clip, np.stack([samples, samples], axis=1), rate, subtype="FLOAT")
        errors = len(box.events("player_error"))
        with hub.record() as recording:
            assert box.ask({"cmd": "trigger", "name": "next"})["ok"]
            box.wait(lambda: len(box.events("player_error")) > errors, 10, "the player's error")
            time.sleep(1.0)
            samples = recording.stop()
        error = box.events("player_error")[-1]
        assert error["output"] == "out6"
        assert "b6.wav" in error["message"]
        assert box.status()["scene"] == "b"
        late = samples[-24000:]
        assert silent_channels(late, [i for i in range(OUTPUTS) if i != 6]) == []
    finally:
        clip.write_bytes(good)
    assert box.ask({"cmd": "trigger", "name": "next"})["ok"]  # back to a, whole
    box.wait(lambda: box.status()["scene"] == "a", 5, "scene a")


def test_an_invalid_show_on_reload_is_refused_and_the_running_show_goes_on(
    box: Box, hub: SoundHub
) -> None:
    show = box.show
    good = show.read_text()
    scene = box.status()["scene"]
    try:
        show.write_text(good.replace("to: b", "to: bb"))
        with hub.record() as recording:
            answer = box.ask({"cmd": "reload", "now": True})
            time.sleep(0.5)
            others_play_on(box, recording.stop(), [])
    finally:
        show.write_text(good)
    assert answer["ok"] is False
    assert "unknown scene 'bb'" in str(answer)
    assert box.status()["scene"] == scene
    assert box.status()["reload_pending"] is False


# --- the controller itself -----------------------------------------------------------------


def test_a_held_controller_loop_stops_the_watchdog_pings(box: Box, hub: SoundHub) -> None:
    """The event loop held still for longer than the watchdog's interval: no ping goes out
    meanwhile (systemd would kill it and start it again), the stall is logged when it ends,
    the pings go on, and no player is blamed for the silence."""
    before = box.pids()
    box.wait(lambda: len(box.pings(time.monotonic() - 1.5)) > 0, 5, "a ping")
    held = time.monotonic()
    with hub.record() as recording:
        box.hold_loop()
        box.wait(lambda: box.pings(held + box.hold), box.hold + 5, "the pings to go on")
        others_play_on(box, recording.stop(), [])  # the players play on their own
    pings = box.pings(held - 2.0)
    gap = max(b - a for a, b in itertools.pairwise(pings))
    assert gap >= box.hold - 0.5, f"the watchdog was pinged while the loop was held ({gap:.1f})"
    assert box.events("watchdog_withheld"), "the stale loops were not logged"
    assert box.pids() == before, "a player was taken for hung while the controller was"


def test_a_read_only_state_folder_is_logged_and_the_state_saved_once_writable(
    box: Box,
) -> None:
    saved = box.saved()
    assert saved is not None
    box.remount("ro")
    try:
        assert box.ask({"cmd": "trigger", "name": "next"})["ok"]
        box.wait(lambda: box.events("state_not_saved"), 5, "state_not_saved")
        assert box.saved() == saved, "the state on disk changed on a read-only file system"
    finally:
        box.remount("rw")
    box.wait(box.state_agrees, 15, "the state to be saved once the folder is writable")


def test_a_full_disk_keeps_the_old_state_whole_and_saves_the_new_once_there_is_room(
    box: Box,
) -> None:
    refused = len(box.events("state_not_saved"))
    saved = box.saved()
    filler = box.fill()
    try:
        assert box.ask({"cmd": "trigger", "name": "next"})["ok"]
        box.wait(lambda: len(box.events("state_not_saved")) > refused, 5, "state_not_saved")
        assert box.saved() == saved, "the old state is whole"
        assert [p.name for p in box.state_dir.iterdir() if p.name.endswith(".tmp")] == []
    finally:
        filler.unlink()
    box.wait(box.state_agrees, 15, "the state to be saved once there is room")


def test_a_blocked_log_stream_holds_up_nothing(box: Box) -> None:
    """Nobody reads the log pipe (a stuck journald): it fills, and the show goes on: scene
    changes, status, the watchdog's pings. Read again, the lines come through."""
    box.pause_logs()
    paused = time.monotonic()
    try:
        for _ in range(40):
            assert box.ask({"cmd": "trigger", "name": "next"})["ok"]
            assert box.status()["fault"] is None
            time.sleep(0.05)
        box.wait(lambda: box.log_backlog() > 2048, 10, "the log pipe to fill")
        time.sleep(2.0)
        pings = box.pings(paused)
        assert len(pings) >= 3, "the watchdog went unpinged while the logs were blocked"
        assert max(b - a for a, b in itertools.pairwise(pings)) < 1.9
    finally:
        box.resume_logs()
    lines = len(box.logs)
    box.ask({"cmd": "trigger", "name": "next"})
    box.wait(lambda: len(box.logs) > lines, 10, "the log lines to come through")


def test_sigterm_stops_the_box_within_two_seconds(box: Box) -> None:
    """The last case: systemd's stop. It fades out, says STOPPING=1, and exits 0 in time."""
    scene = box.status()["scene"]
    asked = time.monotonic()
    assert box.stop() == 0
    assert time.monotonic() - asked < 2.0
    assert "STOPPING=1" in box.said(asked)
    saved = box.saved()
    assert saved is not None
    assert saved.scene == scene
