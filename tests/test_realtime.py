"""Real-time priority: the players' command readers and the writing of a start's commands have
it, and where it is not granted showctl says so once and plays on."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

from showctl import realtime
from showctl.audio.clip import ClipStream, inspect
from showctl.players.pool import PlayerPool
from showctl.show.model import Output
from showctl.testing import write_wav
from tests.conftest import ROOT


def test_a_player_reads_its_commands_at_real_time_priority_and_plays_at_its_ordinary_one() -> None:
    """Its command reader at real-time priority; its audio thread, heartbeat and main thread
    at the ordinary one, as the controller's threads are (the LED cues among them)."""

    async def main() -> list[tuple[int, int]]:
        async with PlayerPool({"a": Output("sim-a")}, backend="sim") as pool:
            pid = pool.players["a"].pid
            tasks = [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
            return [(os.sched_getscheduler(t), os.sched_getparam(t).sched_priority) for t in tasks]

    threads = asyncio.run(main())
    assert len(threads) >= 4  # the main thread, the audio thread, the heartbeat, the commands
    assert sorted(threads) == [(os.SCHED_OTHER, 0)] * (len(threads) - 1) + [
        (os.SCHED_FIFO, realtime.PLAYERS)
    ]


def test_a_raise_lasts_its_block_and_leaves_the_thread_as_it_was() -> None:
    refused: list[str] = []
    raise_ = realtime.Raise(refused.append)
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    seen_by_another: list[int] = []
    with raise_():
        assert os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK == os.SCHED_FIFO
        assert os.sched_getparam(0).sched_priority == realtime.PLAYERS
        other = threading.Thread(target=lambda: seen_by_another.append(os.sched_getscheduler(0)))
        other.start()
        other.join()
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
    assert os.getpriority(os.PRIO_PROCESS, 0) == nice
    assert seen_by_another == [os.SCHED_OTHER]  # only the writer is raised, not what it starts
    assert refused == []


def test_where_real_time_priority_is_not_granted_it_is_said_once_and_the_work_goes_on() -> None:
    """As a user without ``LimitRTPRIO`` (here: root without CAP_SYS_NICE and a limit of 0)."""
    probe = (
        "import json, os\n"
        "from showctl import realtime\n"
        "said = []\n"
        "raise_, ran = realtime.Raise(said.append), 0\n"
        "for _ in range(3):\n"
        "    with raise_():\n"
        "        ran += 1\n"
        "took = realtime.take()\n"
        "print(json.dumps([took, said, ran, os.sched_getscheduler(0)]))\n"
    )
    done = subprocess.run(
        [
            "setpriv",
            "--inh-caps=-sys_nice",
            "--bounding-set=-sys_nice",
            "--",
            sys.executable,
            "-c",
            probe,
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0)),
    )
    took, said, ran, policy = json.loads(done.stdout)
    assert took == (
        "showctl runs without real-time priority (Operation not permitted): on a busy box a "
        "start may be cut short; run it as systemd/showctl.service does (LimitRTPRIO=40) or "
        "grant its user rtprio 40"
    )
    assert said == [took]
    assert (ran, policy) == (3, os.SCHED_OTHER)


def test_the_unit_grants_what_showctl_asks_for() -> None:
    unit = Path(ROOT / "systemd" / "showctl.service").read_text().splitlines()
    assert f"LimitRTPRIO={realtime.PLAYERS}" in unit
    assert "RestrictRealtime=no" in unit
    assert "LimitRTTIME=1s" in unit  # a thread that spins at that priority is killed


def test_a_clip_the_reader_opens_is_read_ahead_at_the_ordinary_priority(tmp_path: Path) -> None:
    """A clip's reader thread, started by the command reader, has no deadline of its own: it
    goes back to the ordinary priority, at the process's nice."""
    path = write_wav(tmp_path / "a.wav", seconds=1.0)
    policies: list[int] = []

    def command_reader() -> None:
        assert realtime.take() is None
        clip = ClipStream(inspect(path, 48000), loop=True)  # read on by a thread for ever
        assert clip._thread is not None
        tid = clip._thread.native_id
        assert tid is not None
        deadline = time.monotonic() + 2  # born at real-time priority, it leaves it at once
        while os.sched_getscheduler(tid) != os.SCHED_OTHER and time.monotonic() < deadline:
            time.sleep(0.01)
        policies.append(os.sched_getscheduler(tid))
        clip.close()

    thread = threading.Thread(target=command_reader)
    thread.start()
    thread.join()
    assert policies == [os.SCHED_OTHER]
