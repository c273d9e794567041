"""A box left alone for an hour, with something going wrong every minute.

    python tests/bench/soak.py [--quick] [--minutes N] [--every SECONDS] [--seed N]

The demo show (shows/demo.yaml, its eight outputs put on the virtual sound hub's) runs in
``showctl run`` under a pretend systemd (tests/harness/box.py: the notify socket, a log pipe,
its state on a small file system of its own; it needs root), its players on the real backend,
its LED matrix on simulated GPIO lines (there is no GPIO chip here).
Every EVERY seconds one fault, picked at random, is done to it (the list is FAULTS: players
killed or hung, a card pulled out and put back, an invalid show reloaded, the controller's loop
held up, its state folder read-only or full, its log stream blocked, a flood of triggers); the
box is waited for until it is healthy again (the players hit replaced, every output alive and
none failed), and the next fault comes EVERY seconds after the last, or 10 s after the box is
healthy again if that is later (a card pulled out heals only at the next retry, a minute on).

Measured: the controller's resident memory (RSS), sampled every few seconds, from the end of
the first EVERY seconds (its warm-up) to the end; the state lost: a check, after each fault and
at the end, that the state on disk is the controller's (scene, flags, counters), failed; and
whether every output plays and none is failed at the end.

Prints figures for people, and one JSON object last. Starts a hub of its own, and stops it.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import _common

from tests.harness.box import Box
from tests.harness.soundhub import SoundHub, device_name

OUTPUTS = 8
#: How long a fault that lasts (a card out, a read-only or full disk, blocked logs) lasts (s).
SPELL = 15.0
#: How long the box is given to heal after a fault before it counts as not healed (s): a failed
#: output is retried every minute.
HEAL_WAIT = 90.0


def demo_on_the_hub(folder: Path) -> Path:
    """A copy of the demo show whose outputs are the hub's, its clips where they are."""
    text = (_common.ROOT / "shows" / "demo.yaml").read_text()
    for i in range(OUTPUTS):
        text = text.replace(f'"hw:CARD=speaker{i + 1}"', f'"{device_name(i)}"')
    text = re.sub(r"^media: .*$", f"media: {_common.ROOT / 'media' / 'demo'}", text, flags=re.M)
    path = folder / "demo.yaml"
    path.write_text(text)
    return path


# --- the faults: each does its harm and undoes what it must --------------------------------


def kill_player(box: Box, hub: SoundHub, rng: random.Random) -> list[int]:
    pid = rng.choice(list(box.pids().values()))
    os.kill(pid, signal.SIGKILL)
    return [pid]


def kill_two(box: Box, hub: SoundHub, rng: random.Random) -> list[int]:
    pids = rng.sample(list(box.pids().values()), 2)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return pids


def hang_player(box: Box, hub: SoundHub, rng: random.Random) -> list[int]:
    pid = rng.choice(list(box.pids().values()))
    os.kill(pid, signal.SIGSTOP)
    return [pid]


def pull_card(box: Box, hub: SoundHub, rng: random.Random) -> list[int]:
    card = rng.randrange(OUTPUTS)
    hub.unplug(card)
    time.sleep(SPELL)
    hub.plug(card)
    return []


def reload_invalid(box: Box, hub: SoundHub, rng: random.Random) -> list[int]:
    good = box.show.read_text()
    try:
        box.show.write_text(good.replace("to: chorus", "to: chorsu"))
        if box.ask({"cmd": "reload", "now": True})["ok"]:
            raise SystemExit("an invalid show was taken on reload")
    finally:
        box.show.write_text(good)
    return []


def hold_loop(box: Box, hub: SoundHub, rng: random.Random) -> list[int]:
    box.hold_loop()  # shorter than the watchdog's interval: a slow moment, not a hang
    time.sleep(box.hold)
    return []


def state_read_only(box: Box, hub: SoundHub, rng: random.Random) -> list[int]:
    box.remount("ro")
    try:
        box.ask({"cmd": "goto", "scene": rng.choice(["tides", "chorus"])})
        time.sleep(SPELL)
    finally:
        box.remount("rw")
    return []


def disk_full(box: Box, hub: SoundHub, rng: random.Random) -> list[int]:
    filler = box.fill()
    try:
        box.ask({"cmd": "goto", "scene": rng.choice(["tides", "chorus"])})
        time.sleep(SPELL)
    finally:
        filler.unlink()
    return []


def logs_blocked(box: Box, hub: SoundHub, rng: random.Random) -> list[int]:
    box.pause_logs()
    try:
        for _ in range(20):
            box.ask({"cmd": "goto", "scene": rng.choice(["tides", "chorus"])})
            time.sleep(SPELL / 20)
    finally:
        box.resume_logs()
    return []


def trigger_flood(box: Box, hub: SoundHub, rng: random.Random) -> list[int]:
    for i in range(2000):
        box.ask({"cmd": "trigger", "name": f"nonsense-{i}"})
    return []


#: Each does its harm, undoes what it must, and returns the players it hit (their pids).
FAULTS: dict[str, Callable[[Box, SoundHub, random.Random], list[int]]] = {
    f.__name__: f
    for f in (
        kill_player,
        kill_two,
        hang_player,
        pull_card,
        reload_invalid,
        hold_loop,
        state_read_only,
        disk_full,
        logs_blocked,
        trigger_flood,
    )
}


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status)[1]) / 1024  # type: ignore[index]


class Soak:
    """What one soak saw."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []  # (monotonic, the controller's RSS in MB)
        self.faults: Counter[str] = Counter()
        self.heal: list[float] = []  # seconds from each fault's end until healthy again
        self.not_healed = 0
        self.state_lost = 0
        self.healthy = False
        self.began = self.end = 0.0

    def run(
        self, box: Box, hub: SoundHub, rng: random.Random, minutes: float, every: float
    ) -> None:
        done = threading.Event()

        def sample() -> None:
            while not done.wait(5.0):
                self.samples.append((time.monotonic(), rss_mb(box.process.pid)))

        box.wait_healthy(timeout=60, playing=True)
        self.began = time.monotonic()
        threading.Thread(target=sample, daemon=True).start()
        due = self.began + every
        while due < self.began + minutes * 60:
            time.sleep(max(0.0, due - time.monotonic()))
            name = rng.choice(list(FAULTS))
            self.faults[name] += 1
            hit = time.monotonic()
            victims = FAULTS[name](box, hub, rng)
            undone = time.monotonic()
            try:
                box.wait(
                    lambda hit=set(victims): not hit & set(box.pids().values()) and box.healthy(),
                    HEAL_WAIT,
                    "the box to heal",
                )
                self.heal.append(time.monotonic() - undone)
            except AssertionError:
                self.not_healed += 1
            try:
                box.wait(box.state_agrees, 15, "the state on disk")
            except AssertionError:
                self.state_lost += 1
            due = max(due + every, time.monotonic() + 10)  # a slow heal moves the next on
            rss = self.samples[-1][1] if self.samples else float("nan")
            print(
                f"  {(hit - self.began) / 60:5.1f} min: {name}, healthy "
                f"{time.monotonic() - undone:.1f} s after; RSS {rss:.1f} MB",
                file=sys.stderr,
            )
        time.sleep(max(0.0, self.began + minutes * 60 - time.monotonic()))
        done.set()
        self.healthy = box.healthy()
        self.state_lost += not box.state_agrees()
        self.end = time.monotonic()

    def figures(self, every: float) -> dict[str, object]:
        first = self.samples[0][1]
        warm = [mb for t, mb in self.samples if abs(t - (self.began + every)) <= 10] or [first]
        last = [mb for t, mb in self.samples if t >= self.end - 30]
        return {
            "minutes": round((self.end - self.began) / 60, 1),
            "faults": sum(self.faults.values()),
            "rss_growth_mb": round(statistics.median(last) - statistics.median(warm), 2),
            "state_lost": self.state_lost,
            "healthy_at_end": self.healthy,
            "rss_after_warmup_mb": round(statistics.median(warm), 1),
            "rss_max_mb": round(max(mb for _, mb in self.samples), 1),
            "not_healed": self.not_healed,
            "heal_p50_s": round(_common.percentile(self.heal, 50), 1),
            "heal_max_s": round(max(self.heal, default=float("nan")), 1),
            "fault_counts": dict(sorted(self.faults.items())),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 minutes, a fault every 20 s")
    parser.add_argument("--minutes", type=float, help="how long (default: 60)")
    parser.add_argument("--every", type=float, help="seconds between faults (default: 60)")
    parser.add_argument("--seed", type=int, default=1, help="of the random faults")
    args = parser.parse_args()
    minutes = args.minutes or (2.0 if args.quick else 60.0)
    every = args.every or (20.0 if args.quick else 60.0)
    soak = Soak()
    # A hub of its own: a soak runs for an hour, and other tests' recordings must not hear it.
    # Started afresh (not one a soak cut short left running), and so stopped at the end.
    hub = SoundHub(OUTPUTS, folder=Path(tempfile.gettempdir()) / "showctl-soak-hub")
    hub.stop()
    with hub, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with Box(
            folder, demo_on_the_hub(folder), hub.env, retry_failed=60.0, hold=2.0, sim_gpio=True
        ) as box:
            soak.run(box, hub, random.Random(args.seed), minutes, every)
    figures = soak.figures(every)
    print(
        f"{figures['minutes']} minutes, {figures['faults']} faults: the controller's RSS grew "
        f"{figures['rss_growth_mb']} MB (target 5); the state lost {figures['state_lost']} "
        f"times; healthy at the end: {figures['healthy_at_end']}",
        file=sys.stderr,
    )
    _common.report(
        figures, {"rss_growth_mb": 5, "state_lost": 0, "not_healed": 0, "healthy_at_end": True}
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
