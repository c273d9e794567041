"""From a GPIO edge to the new scene's first sample on every output, and to its LED change.

    python tests/bench/trigger_latency.py [--quick] [--cycles N]

The show controller runs here with its real parts but the GPIO: player processes on the real
backend (sounddevice, PortAudio, the virtual sound hub's PipeWire ALSA PCMs), the input watcher on
the event loop, the LED player's thread. A simulated button (its edge stamped on the monotonic
clock, as the kernel stamps a real one) flips the show between two scenes:

- ``quiet``: every output silent, the matrix dark;
- ``sound``: every output plays its own noise clip from T0, the matrix all lit from T0.

The outputs hold 10 ms of sound ahead (``latency: 10ms``, or ``--latency``), as a room with
buttons would set.

For each press into ``sound``: the audio latency is the latest output's first sample, by the
DAC time the players report, minus the edge; the skew is read off the hub's recording, where
each clip is found in its channel to the sample. For every press: the LED latency is when the
simulated lines changed minus T0, the time the sound is heard. The players run SETTLE
seconds first, as an installed box's have before its visitors come.

Prints figures for people, and one JSON object last. Starts the hub if none runs.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import _common

from showctl import log
from showctl.controller import ShowController
from showctl.gpio.base import chip_path
from showctl.gpio.sim import SimGpio, SimOutputLines
from showctl.leds.matrix import LedPlayer, open_matrix
from showctl.players import protocol
from showctl.players.pool import PlayerPool, PoolEvent
from showctl.show import loader, model
from showctl.triggers import InputWatcher
from tests.harness.analysis import Window, noise_clip, skews
from tests.harness.soundhub import SoundHub, device_name

OUTPUTS = 8
RATE = 48000
CLIP_SECONDS = 0.3
#: Seconds the players run before the first press (as in sync.py: a box's players have run
#: long before most scenes; through the hub's plugin, young streams' timing is rougher).
SETTLE = 60.0
#: Presses into sound and back, not measured, at the end of the settling: an installed box has
#: played its scenes before, and the controller has measured how long its commands take to
#: reach the players (its lead covers that; before the first play it assumes 20 ms).
WARM_UP = 2
#: The outputs' latency (ms), as a room with buttons would set it (``--latency`` to try others;
#: the README says what lower ones did on this project's build machine).
LATENCY_MS = 10.0
SHOW = """\
version: 1
initial: quiet
outputs:
{outputs}
matrix:
  lines: [[0, 1, 2, 3], [4, 5, 6, 7]]
inputs:
  button: {{line: 20, debounce: 5ms}}
scenes:
  quiet:
    transitions:
      - {{input: button, to: sound}}
  sound:
    audio:
{audio}
    leds:
      - on: all
    transitions:
      - {{input: button, to: quiet}}
"""


def write_show(folder: Path, latency_ms: float) -> tuple[Path, list[Any]]:
    clips = [
        noise_clip(folder / f"noise{i}.wav", seed=200 + i, seconds=CLIP_SECONDS)
        for i in range(OUTPUTS)
    ]
    outputs = "\n".join(
        f'  out{i}: {{device: "{device_name(i)}", latency: {latency_ms:g}ms}}'
        for i in range(OUTPUTS)
    )
    audio = "\n".join(f"      out{i}: noise{i}.wav" for i in range(OUTPUTS))
    path = folder / "bench.yaml"
    path.write_text(SHOW.format(outputs=outputs, audio=audio))
    return path, clips


class TimedPool(PlayerPool):
    """The players, noting when the controller has written its last play command."""

    sent: float = 0.0

    async def play(
        self,
        clips: Mapping[str, tuple[Path, bool]],
        t0: float | None = None,
        play: int = 0,
        fade: tuple[float, float] = (0.0, 0.0),
    ) -> float:
        t0 = await super().play(clips, t0, play, fade)
        self.sent = time.monotonic()
        return t0


class Bench:
    """The controller, its players, LEDs and button; presses and what came of them."""

    def __init__(self, hub: SoundHub, loaded: model.Show) -> None:
        self.hub = hub
        self.show = loaded
        self.gpio = SimGpio()
        assert loaded.matrix is not None
        self.leds = LedPlayer(open_matrix(loaded.matrix, self.gpio))
        self.pool = TimedPool(loaded.outputs, env=hub.env)
        self.started: dict[int, dict[str, protocol.Started]] = {}
        self.audio_ms: list[float] = []
        self.dac_skew_ms: list[float] = []
        self.led_ms: list[float] = []
        self.controller_ms: list[float] = []
        self.cut_starts = 0
        self.windows: list[Window] = []

    def on_event(self, output: str, event: PoolEvent) -> None:
        if isinstance(event, protocol.Started):
            self.started.setdefault(event.play, {})[output] = event

    async def run(self, cycles: int, settle: float) -> Any:
        async with self.pool:
            controller = ShowController(self.show, self.pool, leds=self.leds)
            self.pool.on_event = self.on_event
            watcher = InputWatcher(
                self.show, self.gpio, lambda name, edge: controller.fire(name, "gpio")
            )
            watcher.start()
            self.leds.start()
            await controller.start()
            running = asyncio.create_task(controller.run(), name="controller")
            button = self.gpio.inputs[chip_path(self.show.inputs["button"].chip)]
            line = self.show.inputs["button"].line
            lines = self.leds.matrix.lines
            assert isinstance(lines, SimOutputLines)
            try:
                with self.hub.record() as recording:
                    await asyncio.sleep(settle)
                    for cycle in range(WARM_UP + cycles):
                        for scene in ("sound", "quiet"):
                            entry = controller.entry
                            begin = time.monotonic()
                            button.press(line)
                            edge = time.monotonic()  # press() stamps its edge at this time
                            await self.wait_for_entry(controller, entry + 1, scene)
                            await asyncio.sleep(0.05)
                            button.release(line)
                            t0 = controller.t0
                            await asyncio.sleep(random.uniform(0.45, 0.7))
                            if cycle < WARM_UP:
                                self.started.clear()
                                continue
                            self.led_ms.append((first_change(lines, t0) - t0) * 1e3)
                            if scene == "sound":
                                self.controller_ms.append((self.pool.sent - edge) * 1e3)
                                self.measure_audio(entry + 1, edge)
                                self.windows.append(
                                    (
                                        recording.sample_at(begin),
                                        recording.sample_at(time.monotonic()),
                                    )
                                )
                    await asyncio.sleep(0.3)
                    return recording.stop(), self.pool.soonest
            finally:
                running.cancel()
                watcher.close()
                self.leds.stop()

    async def wait_for_entry(self, controller: ShowController, entry: int, scene: str) -> None:
        deadline = time.monotonic() + 5
        while controller.entry < entry or controller.state.scene != scene:
            if time.monotonic() > deadline:
                raise SystemExit(f"the press did not lead to scene {scene!r} within 5 s")
            await asyncio.sleep(0.001)

    def measure_audio(self, play: int, edge: float) -> None:
        started = self.started.pop(play, {})
        if len(started) < OUTPUTS:
            raise SystemExit(f"only {len(started)} of {OUTPUTS} outputs started play {play}")
        times = [e.dac_time for e in started.values()]
        self.audio_ms.append((max(times) - edge) * 1e3)
        self.dac_skew_ms.append((max(times) - min(times)) * 1e3)
        self.cut_starts += sum(e.position > 0 for e in started.values())


def first_change(lines: SimOutputLines, t0: float) -> float:
    """When line 0 of the matrix last changed at or after ``t0`` minus a little (the scene's
    change: nothing else changes the lines between presses)."""
    changes = [t for t, _ in lines.edges(lines.offsets[0]) if t >= t0 - 0.5]
    return changes[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"15 cycles after 15 s instead of 60 after {SETTLE:g} s",
    )
    parser.add_argument("--cycles", type=int, help="presses into the sound scene (and back)")
    parser.add_argument(
        "--latency",
        type=float,
        default=LATENCY_MS,
        help=f"the outputs' latency in ms (default {LATENCY_MS:g})",
    )
    args = parser.parse_args()
    cycles = args.cycles or (15 if args.quick else 60)
    settle = 15.0 if args.quick else SETTLE
    log.configure("warning", "json", sys.stderr)
    with SoundHub(OUTPUTS) as hub, tempfile.TemporaryDirectory() as folder:
        path, clips = write_show(Path(folder), args.latency)
        bench = Bench(hub, loader.load(path))
        recording, soonest = asyncio.run(bench.run(cycles, settle))
        skew_ms = [s * 1e3 for s in skews(recording, bench.windows, clips, RATE)]
    p = _common.percentile
    figures = {
        "latency_ms": args.latency,
        "triggers": len(bench.led_ms),
        "audio_triggers": len(bench.audio_ms),
        "lead_ms": round(soonest * 1e3, 3),
        "delivery_ms": round(bench.pool.delivery * 1e3, 3),
        "controller_p99_ms": round(p(bench.controller_ms, 99), 3),
        "audio_p50_ms": round(p(bench.audio_ms, 50), 3),
        "audio_p99_ms": round(p(bench.audio_ms, 99), 3),
        "audio_max_ms": round(max(bench.audio_ms), 3),
        "skew_p50_ms": round(p(skew_ms, 50), 4),
        "skew_p99_ms": round(p(skew_ms, 99), 4),
        "skew_missed": len(bench.windows) - len(skew_ms),
        "skew_dac_p99_ms": round(p(bench.dac_skew_ms, 99), 4),
        "cut_starts": bench.cut_starts,
        "led_p50_ms": round(p(bench.led_ms, 50), 3),
        "led_p99_ms": round(p(bench.led_ms, 99), 3),
    }
    print(
        f"{figures['triggers']} presses, {figures['audio_triggers']} into sound on {OUTPUTS} "
        f"outputs (T0 {figures['lead_ms']} ms after the commands are written: the players' "
        f"output latency, and {figures['delivery_ms']} ms for the commands to reach them, the "
        f"longest lately and a quarter again)\n"
        f"  edge to every play command written: p99 {figures['controller_p99_ms']} ms\n"
        f"  edge to every output's first sample: p50 {figures['audio_p50_ms']} ms, "
        f"p99 {figures['audio_p99_ms']} ms (target 15)\n"
        f"  skew in the hub's recording: p99 {figures['skew_p99_ms']} ms (target 0.042), "
        f"{figures['skew_missed']} starts not found whole\n"
        f"  outputs that started late, their first samples lost: {figures['cut_starts']}\n"
        f"  LEDs after the sound's T0: p99 {figures['led_p99_ms']} ms (target 2)"
    )
    _common.report(
        figures,
        {
            "audio_p99_ms": 15,
            "skew_p99_ms": 0.042,
            "skew_missed": 0,
            "cut_starts": 0,
            "led_p99_ms": 2,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
