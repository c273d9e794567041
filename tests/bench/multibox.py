"""One show across three boxes, on the sound hub, through a real mosquitto.

    python tests/bench/multibox.py [--quick]

Three ``showctl run`` processes, each a box in a network namespace of its own on a bridge with
the broker (tests/harness/boxes.py): the leader ``hall`` (outputs o0 to o2) and the followers
``annex`` (o3 to o5) and ``attic`` (o6, o7), each playing its outputs through PortAudio into
one 8-channel hub, recorded throughout, so that every box's starts are read off one recording
to the sample.

1. Starts: after the boxes have run SETTLE s, the leader is sent ``go`` again and again: a
   scene of eight different noise clips, back to quiet at their end. Each box's start is the
   mean of its outputs' first samples; ``between_boxes`` is the latest box's minus the
   earliest's, start by start (each box's own outputs keep the sync benchmark's target).
2. Late join: a scene of eight looping noise clips; the attic killed (SIGKILL) and started
   again; one second after it sounds again, where its loops are against the leader's (the
   same T0, the same length): ``late_join`` is how far off, over RESTARTS restarts.
3. The broker stopped for 10 s and started again while the loops play: an output whose loop
   falls silent or moves against the leader's in that time was interrupted.
4. The clock check: the attic started again with its wall clock put OFF ahead (libfaketime,
   its monotonic clock left alone); ``offset_check_error`` is how far the leader's measure of
   it is from OFF, over the readings of the status in CHECK_FOR s.
5. Time namespaces: the three boxes again (``--sim``: simulated sound cards), each in a time
   namespace with its monotonic clock set off by its own amount (TIMENS); each box logs the T0
   of every start on its own monotonic clock, and, taken back by its offset, the three must be
   one instant: ``timens_mapping`` is how far apart they are. Not on the hub: the hub's
   PipeWire stamps its times on the machine's monotonic clock, and a player in an offset
   namespace mixes the two clocks (tests/harness/boxes.py).

FPP's MultiSync, beside it: its remotes are kept within a 30 ms dead band of the master.

Prints figures as lines for people, and one JSON object last. Needs root (namespaces).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import _common
import numpy as np

from showctl.multibox.leading import PINGS
from showctl.multibox.offsets import KEPT
from tests.harness.analysis import channel, find, find_start, noise_clip, silences
from tests.harness.boxes import Network, box_settings, bridged
from tests.harness.broker import Broker
from tests.harness.running import Running
from tests.harness.soundhub import SoundHub, device_name

RATE = 48000
BOXES = {"hall": [0, 1, 2], "annex": [3, 4, 5], "attic": [6, 7]}
OUTPUTS = 8
CLIP_SECONDS = 0.3
LOOP_SECONDS = 2.0
SETTLE = 60.0
RESTARTS = 5
BROKER_AWAY = 10.0
OFF = 0.005  # s: the attic's wall clock put ahead for the clock check
CHECK_FOR = 10.0
#: Each box's monotonic clock, set off in its time namespace (s).
TIMENS = {"hall": 5000, "annex": 1000, "attic": 250000}
#: libfaketime, its wall clock put off, the monotonic clock left alone.
FAKETIME = {
    "LD_PRELOAD": "/usr/$LIB/faketime/libfaketime.so.1",
    "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    "FAKETIME": f"+{OFF}",
}
TARGETS = {
    "between_boxes_p99_ms": 0.5,
    "late_join_p99_ms": 1.0,
    "outputs_interrupted_by_broker_loss": 0,
    "offset_check_error_ms": 0.5,
    "missed_starts": 0,
    "timens_mapping_p99_ms": 0.5,
}

SHOW = """\
version: 1
initial: quiet
media: media
outputs:
{outputs}
boxes:
  hall: {{outputs: [o0, o1, o2]}}
  annex: {{outputs: [o3, o4, o5]}}
  attic: {{outputs: [o6, o7]}}
scenes:
  quiet:
    transitions:
      - {{event: go, to: start}}
      - {{event: loop, to: loop}}
  start:
    audio: {{{start}}}
    transitions:
      - {{audio_end: all, to: quiet}}
  loop:
    audio: {{{loop}}}
    transitions:
      - {{event: quiet, to: quiet}}
"""


def write_show(folder: Path) -> tuple[Path, list[np.ndarray], list[np.ndarray]]:
    """The show, and each output's start clip and loop (as samples)."""
    media = folder / "media"
    starts = [noise_clip(media / f"start{i}.wav", 200 + i, CLIP_SECONDS) for i in range(OUTPUTS)]
    loops = [noise_clip(media / f"loop{i}.wav", 300 + i, LOOP_SECONDS) for i in range(OUTPUTS)]
    show = folder / "show.yaml"
    show.write_text(
        SHOW.format(
            outputs="\n".join(
                f"  o{i}: {{device: {device_name(i)}, latency: 200ms}}" for i in range(OUTPUTS)
            ),
            start=", ".join(f"o{i}: start{i}.wav" for i in range(OUTPUTS)),
            loop=", ".join(f"o{i}: {{clip: loop{i}.wav, loop: true}}" for i in range(OUTPUTS)),
        )
    )
    return show, starts, loops


class Boxes:
    """The three boxes, each in its network namespace (and with ``timens``, its time
    namespace), started and started again by name."""

    def __init__(
        self,
        folder: Path,
        show: Path,
        net: Network,
        broker: Broker,
        env: dict[str, str],
        sim: bool = False,
        timens: bool = False,
    ) -> None:
        self.folder, self.show, self.broker, self.env, self.sim = folder, show, broker, env, sim
        self.net = {b: net.add(b, TIMENS[b] if timens else 0) for b in BOXES}
        self.running: dict[str, Running] = {}
        self.runs = 0
        for box in ("annex", "attic", "hall"):
            self.start(box)

    def start(self, box: str, env: dict[str, str] | None = None) -> Running:
        self.runs += 1
        self.running[box] = Running(
            self.folder,
            self.show,
            settings=box_settings(self.folder, self.broker, box),
            env={**self.env, **(env or {})},
            sim=self.sim,
            name=f"{box}-{self.runs}",
            wrap=self.net[box].command,
            answers=box == "hall",
        )
        return self.running[box]

    def kill(self, box: str) -> None:
        process = self.running[box].process
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)

    @property
    def hall(self) -> Running:
        return self.running["hall"]

    def stop(self) -> None:
        for running in self.running.values():
            running.stop()


def go(hall: Running, event: str) -> None:
    done = hall.ask("trigger", event)
    if done.returncode != 0:
        raise RuntimeError(f"trigger {event}: {done.stderr.strip()}")


def box_starts(
    recording: np.ndarray, windows: list[tuple[int, int]], clips: list[np.ndarray]
) -> tuple[list[float], list[float]]:
    """For each start (a stretch of the recording) found whole: the spread between the boxes
    (their outputs' mean first samples) and within the box that spread most, in ms."""
    between, within = [], []
    for start, end in windows:
        segment = recording[max(0, start - RATE // 10) : end]
        firsts = []
        for i, clip in enumerate(clips):
            at, match = find_start(channel(segment, i), clip, earliest=True)
            if match < 0.9:
                break
            firsts.append(at)
        else:
            means = [float(np.mean([firsts[i] for i in o])) for o in BOXES.values()]
            spreads = [
                max(firsts[i] for i in o) - min(firsts[i] for i in o) for o in BOXES.values()
            ]
            between.append((max(means) - min(means)) / RATE * 1e3)
            within.append(max(spreads) / RATE * 1e3)
    return between, within


def phase(recording: np.ndarray, i: int, at: int, loop: np.ndarray) -> int | None:
    """Where in its loop output ``i`` is at sample ``at`` of the recording (samples), or
    ``None`` if what it plays there is not its loop."""
    segment = channel(recording[at : at + 2048], i)
    found, match = find(np.concatenate([loop, loop]), segment)
    return found % len(loop) if match > 0.9 else None


def against_leader(recording: np.ndarray, i: int, at: int, loops: list[np.ndarray]) -> float | None:
    """How far output ``i``'s loop is from the leader's o0's at sample ``at`` (ms), or None."""
    mine, leaders = phase(recording, i, at, loops[i]), phase(recording, 0, at, loops[0])
    if mine is None or leaders is None:
        return None
    off = (mine - leaders + len(loops[0]) // 2) % len(loops[0]) - len(loops[0]) // 2
    return off / RATE * 1e3


def late_joins(played: np.ndarray, killed: list[int], loops: list[np.ndarray]) -> list[float]:
    """For each restart of the attic (a sample while it was down: its channels silent), how
    far each of its loops is from the leader's one second after it sounds again (ms; NaN: not
    found, a miss)."""
    joins = []
    for dead in killed:
        for i in BOXES["attic"]:
            gaps = silences(played[dead:, i])
            if not gaps:
                joins.append(float("nan"))  # never silent: not measured
                continue
            sounds = dead + gaps[0][0] + gaps[0][1]  # the end of the silence
            off = against_leader(played, i, sounds + RATE, loops)
            joins.append(abs(off) if off is not None else float("nan"))
    return joins


def was_interrupted(played: np.ndarray, i: int, loops: list[np.ndarray]) -> bool:
    """Whether output ``i``'s loop fell silent or moved against the leader's in ``played``
    (looked at every half second)."""
    if silences(played[:, i]):
        return True
    offs = [against_leader(played, i, at, loops) for at in range(0, len(played) - RATE, RATE // 2)]
    return any(o is None or abs(o) > 0.5 for o in offs)


def clock_readings(hall: Running) -> list[float]:
    """The leader's measure of the attic's clock (ms), once a second while it is heard, until
    CHECK_FOR readings (or 40 s), from when the exchanges it believes (the shortest way of the
    latest KEPT) are all with the attic started again."""
    deadline = time.monotonic() + 20
    while hall.answer("status")["boxes"]["attic"]["state"] != "follows":
        if time.monotonic() > deadline:
            return []
        time.sleep(0.5)
    time.sleep(KEPT / PINGS + 1)  # the exchanges with the attic before it restarted, forgotten
    readings: list[float] = []
    deadline = time.monotonic() + 40
    while len(readings) < CHECK_FOR and time.monotonic() < deadline:
        attic = hall.answer("status")["boxes"]["attic"]
        if attic["clock"] is not None and attic["heard_s_ago"] < 1.5:
            readings.append(attic["clock"]["offset_ms"])
        time.sleep(1.0)
    return readings


def on_the_hub(folder: Path, starts: int, settle: float, restarts: int) -> dict[str, object]:
    """Phases 1 to 4: the boxes on the hub."""
    show, clips, loops = write_show(folder)
    figures: dict[str, object] = {}
    with ExitStack() as stack:
        hub = stack.enter_context(SoundHub(OUTPUTS))
        net, broker = stack.enter_context(bridged(folder / "broker"))
        boxes = Boxes(folder, show, net, broker, hub.env)
        stack.callback(boxes.stop)
        recording = stack.enter_context(hub.record())
        time.sleep(settle)
        # 1. Starts.
        windows = []
        while len(windows) < starts:
            begin = time.monotonic()
            go(boxes.hall, "go")
            time.sleep(0.15 + CLIP_SECONDS + 0.45)
            windows.append((recording.sample_at(begin), recording.sample_at(time.monotonic())))
        # 2. Late joins.
        go(boxes.hall, "loop")
        time.sleep(3.0)
        killed = []
        for _ in range(restarts):
            boxes.kill("attic")
            time.sleep(1.5)
            killed.append(recording.sample_at(time.monotonic()))
            boxes.start("attic")
            time.sleep(6.0)
        # 3. The broker away.
        away = recording.sample_at(time.monotonic())
        broker.stop()
        time.sleep(BROKER_AWAY)
        broker.start()
        time.sleep(5.0)
        back = recording.sample_at(time.monotonic())
        played = recording.stop()
        status = boxes.hall.answer("status")
        # 4. The clock check.
        boxes.kill("attic")
        boxes.start("attic", FAKETIME)
        readings = clock_readings(boxes.hall)
    between, within = box_starts(played, windows, clips)
    figures |= {
        "starts": len(between),
        "missed_starts": starts - len(between),
        "between_boxes_p50_ms": round(_common.percentile(between, 50), 4),
        "between_boxes_p99_ms": round(_common.percentile(between, 99), 4),
        "between_boxes_max_ms": round(max(between, default=float("nan")), 4),
        "within_a_box_p99_ms": round(_common.percentile(within, 99), 4),
    }
    joins = late_joins(played, killed, loops)
    figures |= {
        "late_joins": len(joins) // len(BOXES["attic"]),
        "late_join_p50_ms": round(_common.percentile(joins, 50), 4),
        "late_join_p99_ms": round(_common.percentile(joins, 99), 4),
    }
    interrupted = [
        f"o{i}" for i in range(1, OUTPUTS) if was_interrupted(played[away:back], i, loops)
    ]
    figures |= {
        "outputs_interrupted_by_broker_loss": len(interrupted),
        "interrupted": interrupted,
        "failed_after_broker_back": sorted(o for o, h in status["outputs"].items() if h["failed"]),
    }
    errors = [abs(r - OFF * 1e3) for r in readings]
    figures |= {
        "offset_readings": len(readings),
        "offset_measured_ms": round(_common.percentile(readings, 50), 4),
        "offset_check_error_ms": round(max(errors, default=float("nan")), 4),
    }
    return figures


def in_time_namespaces(folder: Path, starts: int) -> dict[str, object]:
    """Phase 5: the boxes simulated, each in a time namespace of its own."""
    show, _, _ = write_show(folder)
    with bridged(folder / "broker") as (net, broker):
        boxes = Boxes(folder, show, net, broker, {}, sim=True, timens=True)
        try:
            time.sleep(3.0)
            for _ in range(starts):
                go(boxes.hall, "go")
                time.sleep(0.15 + CLIP_SECONDS + 0.45)
            time.sleep(1.0)
            logs = {box: running.logs() for box, running in boxes.running.items()}
        finally:
            boxes.stop()
    led = [
        e["t0"] - TIMENS["hall"]
        for e in logs["hall"]
        if e["event"] == "scene_entered" and e["scene"] == "start"
    ]
    followed: dict[int, list[float]] = {}  # each start's T0 on every output of the others
    for box in ("annex", "attic"):
        for e in logs[box]:
            if e["event"] == "box_play":
                followed.setdefault(e["play"], []).append(e["t0"] - TIMENS[box])
    apart = [
        (max([*t0s, t0]) - min([*t0s, t0])) * 1e3
        for t0, (_, t0s) in zip(led, sorted(followed.items()), strict=False)
        if len(t0s) == OUTPUTS - len(BOXES["hall"])
    ]
    return {
        "timens_starts": len(apart),
        "timens_mapping_p99_ms": round(_common.percentile(apart, 99), 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"10 starts after 15 s and 2 restarts, not 40 after {SETTLE:g} s and {RESTARTS}",
    )
    args = parser.parse_args()
    starts, settle, restarts = (10, 15.0, 2) if args.quick else (40, SETTLE, RESTARTS)
    with tempfile.TemporaryDirectory() as folder:
        figures = {"boxes": len(BOXES), "outputs": OUTPUTS}
        figures |= on_the_hub(Path(folder) / "hub", starts, settle, restarts)
        figures |= in_time_namespaces(Path(folder) / "timens", starts)
    print(
        f"{figures['starts']} starts across {len(BOXES)} boxes: between the boxes p50 "
        f"{figures['between_boxes_p50_ms']} ms, p99 {figures['between_boxes_p99_ms']} ms, max "
        f"{figures['between_boxes_max_ms']} ms (within a box p99 {figures['within_a_box_p99_ms']}"
        f" ms); FPP MultiSync's dead band: 30 ms"
    )
    print(
        f"late joins: {figures['late_joins']} restarts, p99 {figures['late_join_p99_ms']} ms; "
        f"broker away {BROKER_AWAY:g} s: interrupted {figures['interrupted']}; clock check: "
        f"{OFF * 1e3:g} ms put, {figures['offset_measured_ms']} ms measured; time namespaces: "
        f"{figures['timens_starts']} starts mapped within {figures['timens_mapping_p99_ms']} ms"
    )
    _common.report(figures, TARGETS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
