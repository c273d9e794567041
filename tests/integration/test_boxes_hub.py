"""A show across two boxes on the sound hub: ``showctl run`` as the leader (``hall``: outputs 0
and 1) and as a follower (``annex``: outputs 2 and 3), through a real mosquitto, each its own
players through PortAudio. A scene started by the leader (a trigger on its control socket)
sounds on all four outputs from one T0: read off the hub's recording, the boxes' starts are
within a few samples of each other. The annex gone, the leader says so and plays on; a box
whose wall clock is put off is flagged with how far; a box without the broker is refused in
one sentence. The figures over many starts, with the boxes' clocks in namespaces of their own,
are to be tests/bench/multibox.py's."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from showctl.multibox.leader import SILENT
from tests.harness.analysis import channel, find, noise_clip
from tests.harness.boxes import HOST as BRIDGE_HOST
from tests.harness.boxes import Network, box_settings
from tests.harness.broker import Broker, running_broker
from tests.harness.running import Running
from tests.harness.soundhub import SoundHub, device_name

SHOW = """\
version: 1
initial: quiet
media: media
outputs:
{outputs}
boxes:
  hall: {{outputs: [o0, o1]}}
  annex: {{outputs: [o2, o3]}}
scenes:
  quiet:
    transitions:
      - {{event: go, to: noise}}
  noise:
    audio: {{{audio}}}
    transitions:
      - {{event: quiet, to: quiet}}
"""
#: Samples within which the two boxes' starts land (each box's own outputs: within 2).
TOGETHER = 4


@pytest.fixture(scope="module")
def hub() -> Iterator[SoundHub]:
    with SoundHub(4) as running:
        yield running


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with running_broker(tmp_path / "broker") as started:
        yield started


def write_show(folder: Path) -> tuple[Path, dict[str, np.ndarray]]:
    clips = {
        f"o{i}": noise_clip(folder / "media" / f"o{i}.wav", seed=i, seconds=2.0) for i in range(4)
    }
    outputs = "\n".join(f"  o{i}: {{device: {device_name(i)}, latency: 200ms}}" for i in range(4))
    audio = ", ".join(f"o{i}: {{clip: o{i}.wav, loop: true}}" for i in range(4))
    show = folder / "show.yaml"
    show.write_text(SHOW.format(outputs=outputs, audio=audio))
    return show, clips


def assert_together(played: np.ndarray, clips: dict[str, np.ndarray]) -> None:
    """Every output's clip is in its channel, all started within :data:`TOGETHER` samples."""
    starts = {}
    for i in range(4):
        at, match = find(channel(played, i), clips[f"o{i}"][:4800])
        assert match > 0.9, f"o{i} not found whole ({match:.2f})"
        starts[f"o{i}"] = at
    assert max(starts.values()) - min(starts.values()) <= TOGETHER, starts


def start_boxes(
    hub: SoundHub, broker: Broker, folder: Path, show: Path, annex_env: dict[str, str] | None = None
) -> tuple[Running, Running]:
    """``showctl run`` as the follower ``annex`` (its environment with ``annex_env``) and as
    the leader ``hall``, on the hub's outputs."""
    annex = Running(
        folder,
        show,
        settings=box_settings(folder, broker, "annex"),
        env={**hub.env, **(annex_env or {})},
        sim=False,
        name="annex",
        answers=False,
    )
    hall = Running(
        folder,
        show,
        settings=box_settings(folder, broker, "hall"),
        env=hub.env,
        sim=False,
        name="hall",
    )
    return hall, annex


def test_a_scene_started_by_the_leader_sounds_on_every_box_from_one_t0(
    hub: SoundHub, broker: Broker, tmp_path: Path
) -> None:
    show, clips = write_show(tmp_path)
    leader, annex = start_boxes(hub, broker, tmp_path, show)
    try:
        time.sleep(3.0)  # the players' streams running, the annex's health heard
        with hub.record() as recording:
            assert leader.answer("trigger", "go")["scene"] == "noise"
            time.sleep(2.0)
            played = recording.stop()
        status = leader.answer("status")
        assert set(status["outputs"]) == {"o0", "o1", "o2", "o3"}
        assert not any(o["failed"] for o in status["outputs"].values()), status["outputs"]
        annex_said = status["boxes"]["annex"]
        assert annex_said["heard_s_ago"] < 2.0
        # One machine, one wall clock: the check over the link finds the annex on it.
        assert abs(annex_said["clock"]["offset_ms"]) < 1.0, annex_said
        assert annex_said["clock"]["flagged"] is False
        # The annex gone: the leader says so, and its own outputs play on.
        annex.process.kill()
        annex.process.wait(timeout=15)
        time.sleep(SILENT + 1.5)
        status = leader.answer("status")
        assert status["scene"] == "noise"
        gone = {o: h["failed"] for o, h in status["outputs"].items()}
        assert gone == {
            "o0": None,
            "o1": None,
            "o2": "its box 'annex' has not been heard from for 3 s",
            "o3": "its box 'annex' has not been heard from for 3 s",
        }
    finally:
        assert leader.stop() == 0
        annex.stop()
    assert_together(played, clips)


@pytest.mark.skipif(os.geteuid() != 0, reason="namespaces need root (CI has it)")
def test_boxes_on_networks_of_their_own_start_on_one_sample(hub: SoundHub, tmp_path: Path) -> None:
    """Each box in a network namespace of its own, on a bridge with the broker, as boxes on
    one switch: the leader's T0 lands on one sample on both. (Not in time namespaces of their
    own: the hub's clock is the machine's, see tests/harness/boxes.py.)"""
    show, clips = write_show(tmp_path)
    with Network() as net:
        broker = Broker(tmp_path / "broker", host=BRIDGE_HOST)
        broker.start()
        boxes = {"hall": net.add("hall", 0), "annex": net.add("annex", 0)}
        run = {
            name: Running(
                tmp_path,
                show,
                settings=box_settings(tmp_path, broker, name),
                env=hub.env,
                sim=False,
                name=name,
                wrap=box.command,
                answers=name == "hall",
            )
            for name, box in boxes.items()
        }
        try:
            time.sleep(3.0)
            with hub.record() as recording:
                assert run["hall"].answer("trigger", "go")["scene"] == "noise"
                time.sleep(2.0)
                played = recording.stop()
            status = run["hall"].answer("status")
        finally:
            for running in run.values():
                running.stop()
            broker.stop()
    assert not any(o["failed"] for o in status["outputs"].values()), status["outputs"]
    assert_together(played, clips)


#: libfaketime, its wall clock put off, the monotonic clock left alone (as its own option,
#: --exclude-monotonic, stops Python's sleeps).
FAKETIME = {
    "LD_PRELOAD": "/usr/$LIB/faketime/libfaketime.so.1",
    "FAKETIME_DONT_FAKE_MONOTONIC": "1",
}
#: How far the annex's wall clock is put off (s).
OFF = 0.005


def test_a_box_whose_clock_is_off_is_flagged_with_how_far(
    hub: SoundHub, broker: Broker, tmp_path: Path
) -> None:
    """The annex's wall clock 5 ms ahead (libfaketime): the leader's check over the link
    measures it to within half a millisecond and flags it (the bound is 1 ms)."""
    show, _ = write_show(tmp_path)
    off = {**FAKETIME, "FAKETIME": f"+{OFF}"}
    leader, annex = start_boxes(hub, broker, tmp_path, show, off)
    try:
        deadline = time.monotonic() + 30
        while (
            clock := leader.answer("status").get("boxes", {}).get("annex", {}).get("clock")
        ) is None:
            assert time.monotonic() < deadline, "no answer to the clock check in 30 s"
            time.sleep(0.5)
        time.sleep(3.0)  # a few more exchanges: the shortest way's is believed
        clock = leader.answer("status")["boxes"]["annex"]["clock"]
    finally:
        assert leader.stop() == 0
        assert annex.stop() == 0
    assert clock["offset_ms"] == pytest.approx(OFF * 1e3, abs=0.5), clock
    assert clock["flagged"] is True
    assert any(e["event"] == "box_clock_off" and e["box"] == "annex" for e in leader.logs())


def test_a_box_without_the_broker_is_refused(hub: SoundHub, tmp_path: Path) -> None:
    show, _ = write_show(tmp_path)
    path = tmp_path / "annex.toml"
    path.write_text('[web]\nport = 0\n[box]\nname = "annex"\nleader = "hall"\n')
    done = subprocess.run(
        [sys.executable, "-m", "showctl", "run", str(show), "--settings", str(path)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "is played by boxes (hall, annex): set [mqtt] host to their broker" in done.stderr
