"""The room's hands on time: relays switched on a scene's timeline, a button's MQTT message,
and what an HTTP target that never answers costs the controller's loop.

    python tests/bench/actions.py [--quick]

The show controller runs here as ``showctl run --sim`` composes it (a player process on the
simulated backend, the relays' thread on simulated lines that keep every change with its time,
the input watcher on the event loop, the MQTT surface on a real mosquitto), with the GPIO
simulated so that this script can press the button. Its scene has four relays switched at
timeline offsets; a button's transition publishes an MQTT message and makes two HTTP requests:
to a server that accepts the connection and never answers, and to one that answers at once (the
baseline). The room's other end (both servers and the chest's MQTT subscriber) runs in a process
of its own, as it would on other machines, so that it takes nothing from the controller's.

- **Edges**: each relay change against T0 + its ``at`` (the time its line was set, on the
  monotonic clock, minus when it was due).
- **Publish**: from the button's edge (stamped on the monotonic clock, as the kernel stamps a
  real one) to the message's arrival at a subscriber of its own, on the same machine.
- **Loop held**: the longest time one step of the HTTP requests' work held the controller's
  loop: ``send()`` itself (the request written to the HTTP sender's process) and each step of
  the task that reads the sender's answers (and tallies them), timed around it by the loop
  thread's CPU clock (the work the step did), and by the wall clock beside it (which counts too
  the time other threads took the interpreter from it meanwhile: the relays', paho's). The
  button is pressed 20 times a second, each press a request held open for its 2-s timeout, so
  the requests past 16 waiting are dropped and counted, as a flood would be. The sends to the
  server that answers at once are the baseline.

- **The machine's floor**: in the room's process, beside all this, a bare thread waking every
  10 ms on the same kind of wait as the relays' thread; how late it woke. What this machine's
  own scheduling costs any thread (a shared virtual machine's: its idle p99 has been seen from
  0.5 to 2.3 ms), to read the edges' errors against.

Prints figures for people, and one JSON object last.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections.abc import Coroutine, Generator
from pathlib import Path
from typing import Any

import _common

from showctl import log
from showctl.app import quiet_collector
from showctl.clock import MonotonicClock
from showctl.controller import ShowController
from showctl.gpio.base import chip_path
from showctl.gpio.sim import SimGpio, SimOutputLines
from showctl.players.pool import PlayerPool
from showctl.room.messages import Messages
from showctl.room.relays import Relays
from showctl.room.webhooks import Webhooks
from showctl.settings import MqttSettings
from showctl.show import loader
from showctl.show.model import HttpRequest
from showctl.surfaces.mqtt import MqttSurface
from showctl.testing import write_wav
from showctl.triggers import InputWatcher
from tests.harness.broker import Listener, running_broker

RELAYS = 4
#: The scene's length: its timeline's changes fall in it, then it starts again.
SCENE = 5.0
TOPIC = "room1/props/chest/command"
#: Seconds between presses of the button.
PRESS_EVERY = 0.05


def show_text(edges: int, never: str, answers: str) -> str:
    """A scene whose timeline switches the relays ``edges`` times (each relay changing at most
    every 50 ms), and a button that publishes and calls both HTTP targets."""
    rng = random.Random(20)
    per_relay = edges // RELAYS
    slots = int((SCENE - 0.5) / 0.05)
    timeline = []
    for r in range(RELAYS):
        times = sorted(rng.sample(range(1, slots), per_relay))
        for i, slot in enumerate(times):
            word = "power" if i % 2 == 0 else "unpower"
            timeline.append(
                f"      - {{at: {slot * 0.05 + rng.random() * 0.02:.4f}, {word}: r{r}}}"
            )
    relays = "\n".join(f"  r{r}: {{line: {10 + r}}}" for r in range(RELAYS))
    return f"""\
version: 1
initial: run
media: media
outputs:
  out: {{device: sim0}}
inputs:
  button: {{line: 3}}
relays:
{relays}
scenes:
  run:
    audio: {{out: {{clip: tone.wav, loop: true}}}}
    timeline:
{chr(10).join(timeline)}
    transitions:
      - input: button
        do:
          - {{publish: {TOPIC}, payload: open, qos: 0}}
          - {{http: "{never}", timeout: 2s}}
          - {{http: "{answers}", timeout: 2s}}
      - after: {SCENE}
        to: run
"""


class Target:
    """An HTTP server on its own thread that takes every connection and either never says a
    word (``answers=False``) or answers each request at once with 204 No Content."""

    def __init__(self, *, answers: bool) -> None:
        self.answers = answers
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/hook"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.held.append(conn)
            if self.answers:
                threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    @staticmethod
    def _answer(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            conn.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")


@types.coroutine
def timed(
    coro: Coroutine[Any, Any, Any], steps: list[tuple[float, float]]
) -> Generator[Any, Any, Any]:
    """Run ``coro`` as the task would, timing each of its steps on the loop: (the loop
    thread's CPU time in it, its wall time)."""
    value: Any = None
    error: BaseException | None = None
    while True:
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            yielded = coro.send(value) if error is None else coro.throw(error)
        except StopIteration as stop:
            steps.append((time.thread_time() - cpu, time.perf_counter() - wall))
            return stop.value
        steps.append((time.thread_time() - cpu, time.perf_counter() - wall))
        try:
            value, error = (yield yielded), None
        except BaseException as e:  # a cancel, passed on into the coroutine
            value, error = None, e


class TimedWebhooks(Webhooks):
    """The HTTP sender's controller end, each step of the task reading its answers timed."""

    def __init__(self, answered: Any, steps: list[tuple[float, float]]) -> None:
        super().__init__(answered)
        self.steps = steps

    async def _read(self, answers: asyncio.StreamReader) -> None:
        await timed(super()._read(answers), self.steps)


class TimedMessages(Messages):
    """The show's messages, each step of an HTTP request's work on the loop timed (see
    :func:`timed`): its send by URL, and the reading of the answers."""

    def __init__(self) -> None:
        super().__init__({})
        self.sends: dict[str, list[tuple[float, float]]] = {}  # (CPU, wall) seconds
        self.answer_steps: list[tuple[float, float]] = []
        self._http = TimedWebhooks(self._answered, self.answer_steps)

    def send(self, action: Any) -> None:
        cpu, wall = time.thread_time(), time.perf_counter()
        super().send(action)
        if isinstance(action, HttpRequest):
            step = (time.thread_time() - cpu, time.perf_counter() - wall)
            self.sends.setdefault(action.url, []).append(step)


async def press(lines: Any, line: int, times: int) -> list[float]:
    """Press and release the button ``times``, PRESS_EVERY apart; when each edge came."""
    pressed: list[float] = []
    for _ in range(times):
        pressed.append(time.monotonic())  # the edge's stamp, within microseconds
        lines.press(line)
        await asyncio.sleep(PRESS_EVERY / 2)
        lines.release(line)
        await asyncio.sleep(PRESS_EVERY / 2)
    return pressed


def room(host: str, port: int) -> None:
    """The room's other end, in a process of its own (``--room HOST PORT``): the two HTTP
    targets, a subscriber to the chest's topic and the floor's thread. Prints the targets'
    URLs, then, once its stdin closes, when each message came (monotonic s, one clock for every
    process) and how late the floor's thread woke each time (s)."""
    never, answers = Target(answers=False), Target(answers=True)
    received: list[float] = []
    subscriber = Listener(_Broker(host, port), TOPIC)
    subscriber.client.on_message = lambda client, userdata, message: received.append(
        time.monotonic()
    )
    stop = threading.Event()
    late: list[float] = []

    def floor() -> None:
        due = time.monotonic()
        while not stop.is_set():
            due += 0.01
            stop.wait(max(0.0, due - time.monotonic()))
            late.append(time.monotonic() - due)

    waker = threading.Thread(target=floor)
    with subscriber:
        waker.start()
        print(json.dumps({"never": never.url, "answers": answers.url}), flush=True)
        sys.stdin.read()
    stop.set()
    waker.join()
    print(json.dumps({"received": received, "late": late}), flush=True)


@dataclasses.dataclass
class _Broker:
    """Where the broker is, as the Listener asks it."""

    host: str
    port: int
    tls: bool = False


async def measure(edges_wanted: int, presses: int, folder: Path, broker: Any) -> dict[str, Any]:
    other_end = subprocess.Popen(
        [sys.executable, __file__, "--room", broker.host, str(broker.port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert other_end.stdin is not None
    assert other_end.stdout is not None
    urls = json.loads(other_end.stdout.readline())
    write_wav(folder / "media" / "tone.wav", seconds=1.0)
    path = folder / "actions.yaml"
    path.write_text(show_text(edges_wanted, urls["never"], urls["answers"]))
    show = loader.load(path)
    gpio = SimGpio(MonotonicClock())
    relays = Relays(show.relays, gpio)
    relays.start()
    messages = TimedMessages()
    await messages.start(http=True)
    pool = PlayerPool(show.outputs, backend="sim", supervise=True)
    await pool.start()
    controller = ShowController(show, pool, relays=relays, messages=messages)
    mqtt = MqttSurface(
        MqttSettings(host=broker.host, port=broker.port, client_id="showctl-bench"), controller
    )
    mqtt.start()
    messages.mqtt = mqtt.publish
    watcher = InputWatcher(show, gpio, lambda name, edge: controller.fire(name, "gpio"))
    watcher.start()
    t0s: dict[int, float] = {}  # scene entry -> its T0, the last the controller said
    controller.watch(lambda: t0s.__setitem__(controller.entry, controller.t0))
    while not mqtt.connected:
        await asyncio.sleep(0.05)
    await controller.start()
    quiet_collector()  # as showctl run does once the show is up
    runner = asyncio.create_task(controller.run())
    await asyncio.sleep(2.0)  # the scene's timeline alone, no request waiting
    button = show.inputs["button"]
    pressed = await press(gpio.inputs[chip_path(button.chip)], button.line, presses)
    await asyncio.sleep(max(2.0, SCENE * 2 - presses * PRESS_EVERY))
    ended = time.monotonic()
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    other_end.stdin.close()
    room_said = json.loads(other_end.stdout.readline())
    received = room_said["received"]
    other_end.wait()
    watcher.close()
    await mqtt.close()
    await pool.close()
    await messages.close()
    relays.close()
    return {
        "edges": _edge_errors(show, gpio.outputs, list(t0s.values()), ended),
        "publish": [r - p for p, r in zip(pressed, received, strict=False)],
        "published": len(received),
        "floor": room_said["late"],
        "presses": presses,
        "sends": messages.sends.get(urls["never"], []),
        "answered_sends": messages.sends.get(urls["answers"], []),
        "answer_steps": messages.answer_steps,
        "failed": messages.failed["http"],
        "sent": messages.sent["http"],
    }


def _edge_errors(
    show: Any, lines_of: dict[str, SimOutputLines], t0s: list[float], ended: float
) -> list[float]:
    """Each relay change up to ``ended`` against when it was due: the nearest T0 + at of its
    relay, over the scene's entries."""
    scene = show.scenes["run"]
    errors: list[float] = []
    for name, relay in show.relays.items():
        lines = lines_of[chip_path(relay.chip)]
        changes = lines.edges(relay.line)
        due = sorted(
            t0 + timed.at
            for t0 in t0s
            for timed in scene.timeline
            if getattr(timed.action, "relay", None) == name
        )
        for when, _ in changes:
            if when > ended:
                break  # the relays put safe at the end
            nearest = min(due, key=lambda d: abs(d - when), default=None)
            if nearest is not None:
                errors.append(when - nearest)
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 edges and 40 presses")
    parser.add_argument("--room", nargs=2, metavar=("HOST", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.room:
        room(args.room[0], int(args.room[1]))
        return 0
    edges, presses = (40, 40) if args.quick else (200, 200)
    log.configure(level="error", stream=sys.stderr)
    with tempfile.TemporaryDirectory() as folder, running_broker(Path(folder) / "broker") as b:
        got = asyncio.run(measure(edges, presses, Path(folder), b))
    ms = [1e3 * abs(e) for e in got["edges"]]
    publish = [1e3 * p for p in got["publish"]]
    steps = got["sends"] + got["answer_steps"]
    cpu = [1e3 * c for c, _ in steps]
    wall = [1e3 * w for _, w in steps]
    answered = [1e3 * c for c, _ in got["answered_sends"]]
    never_sends = [1e3 * c for c, _ in got["sends"]]
    floor = [1e3 * late for late in got["floor"]]
    figures = {
        "actions": len(ms) + got["published"],
        "edges": len(ms),
        "edge_p50_ms": round(_common.percentile(ms, 50), 3),
        "edge_p99_ms": round(_common.percentile(ms, 99), 3),
        "edge_max_ms": round(max(ms, default=float("nan")), 3),
        "edges_over_2ms": sum(m > 2.0 for m in ms),
        "floor_wakes": len(floor),
        "floor_p99_ms": round(_common.percentile(floor, 99), 3),
        "floor_max_ms": round(max(floor, default=float("nan")), 3),
        "presses": got["presses"],
        "published": got["published"],
        "publish_p50_ms": round(_common.percentile(publish, 50), 3),
        "publish_p99_ms": round(_common.percentile(publish, 99), 3),
        "publish_max_ms": round(max(publish, default=float("nan")), 3),
        "http_steps": len(cpu),
        "loop_held_max_ms": round(max(cpu, default=float("nan")), 3),
        "loop_held_p99_ms": round(_common.percentile(cpu, 99), 3),
        "loop_held_wall_max_ms": round(max(wall, default=float("nan")), 3),
        "loop_held_wall_p99_ms": round(_common.percentile(wall, 99), 3),
        "never_answering_send_max_ms": round(max(never_sends, default=float("nan")), 3),
        "answering_send_max_ms": round(max(answered, default=float("nan")), 3),
        "answering_send_p99_ms": round(_common.percentile(answered, 99), 3),
        "http_answered": got["sent"],
        "http_failed": got["failed"],
        "every_press_published": got["published"] == got["presses"],
    }
    print(
        f"{figures['edges']} relay edges: error p50 {figures['edge_p50_ms']} ms, p99 "
        f"{figures['edge_p99_ms']} ms, max {figures['edge_max_ms']} ms "
        f"({figures['edges_over_2ms']} over 2 ms); the machine's floor, a bare thread's "
        f"{len(floor)} wake-ups in another process: p99 {figures['floor_p99_ms']} ms late, max "
        f"{figures['floor_max_ms']} ms"
    )
    print(
        f"{got['published']} of {got['presses']} presses published: p50 "
        f"{figures['publish_p50_ms']} ms, p99 {figures['publish_p99_ms']} ms, max "
        f"{figures['publish_max_ms']} ms"
    )
    print(
        f"HTTP on the loop ({len(got['sends'])} sends to a target that never answers, "
        f"{len(got['answer_steps'])} steps reading answers; {got['sent']} answered, "
        f"{got['failed']} failed): the longest {figures['loop_held_max_ms']} ms of CPU (p99 "
        f"{figures['loop_held_p99_ms']} ms), {figures['loop_held_wall_max_ms']} ms of wall time "
        f"(p99 {figures['loop_held_wall_p99_ms']} ms); a send to the never-answering target "
        f"{figures['never_answering_send_max_ms']} ms at most, the baseline, to a target that "
        f"answers at once, {figures['answering_send_max_ms']} ms (p99 "
        f"{figures['answering_send_p99_ms']} ms)"
    )
    _common.report(
        figures,
        {
            "edge_p99_ms": 2.0,
            "publish_p99_ms": 10.0,
            "loop_held_max_ms": 1.0,
            "every_press_published": True,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
