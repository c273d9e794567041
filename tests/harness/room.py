"""A show controller on simulated parts and a fake clock, for tests that play a show through.

The controller is the real one; its outputs are :class:`~showctl.testing.SimulatedOutputs`
(they remember what each output was told to play, and end clips by the clock), its inputs
simulated GPIO lines watched by the real :class:`~showctl.triggers.InputWatcher`, its LEDs the
real :class:`~showctl.leds.LedPlayer` on simulated lines and its relays the real
:class:`~showctl.room.relays.Relays`, both stepped by the test instead of by their threads. Time
moves only when the test says.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np

from showctl.clock import FakeClock
from showctl.controller import ShowController
from showctl.gpio.base import chip_path
from showctl.gpio.sim import SimGpio, SimInputLines, SimOutputLines
from showctl.leds.matrix import LedPlayer, open_matrix
from showctl.room.messages import Messages
from showctl.room.relays import Relays
from showctl.show.model import Show
from showctl.testing import SimulatedOutputs
from showctl.triggers import InputWatcher
from showctl.wall_clock import KernelClock, WallClock


class Room:
    """``async with Room(show) as room``: started, in the show's first scene."""

    def __init__(
        self,
        show: Show,
        state_path: Path | None = None,
        wall_offset: float = 1.8e9,
        missing: tuple[str, ...] = (),
        messages: Messages | None = None,
        synchronised: bool = True,
    ) -> None:
        """``missing``: outputs failed before the controller starts (their cards not there);
        ``messages``: where the show's messages go (started and closed with the room). The
        wall clock is the fake clock ``wall_offset`` on; the kernel says it is synchronised
        while ``synchronised`` is true."""
        self.show = show
        self.clock = FakeClock()
        self.wall_offset = wall_offset
        self.synchronised = synchronised
        self.gpio = SimGpio(self.clock)
        self.outputs = SimulatedOutputs(show.outputs, self.clock)
        for name in missing:
            self.outputs.fail(name)  # before the controller listens, as at a boot
        self.leds = (
            LedPlayer(open_matrix(show.matrix, self.gpio), clock=self.clock)
            if show.matrix
            else None
        )
        self.relays = Relays(show.relays, self.gpio, self.clock) if show.relays else None
        self.controller = ShowController(
            show,
            self.outputs,
            leds=self.leds,
            relays=self.relays,
            messages=messages,
            state_path=state_path,
            clock=self.clock,
            wall=self.wall,
            wall_clock=WallClock(
                wall=self.wall,
                monotonic=self.clock.monotonic,
                kernel=lambda: KernelClock(self.synchronised),
            ),
        )
        self.watcher = InputWatcher(
            show, self.gpio, lambda name, edge: self.controller.fire(name, "gpio")
        )

    async def __aenter__(self) -> Room:
        if self.controller.messages is not None:
            await self.controller.messages.start()
        self.watcher.start()
        await self.controller.start()
        await self.settle()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.controller.saved()  # as showctl does when it stops
        self.watcher.close()
        if self.leds is not None:
            self.leds.stop()
        if self.relays is not None:
            self.relays.close()
        if self.controller.messages is not None:
            await self.controller.messages.close()

    def wall(self) -> float:
        return self.clock.now + self.wall_offset

    @property
    def scene(self) -> str:
        return self.controller.state.scene

    @property
    def flags(self) -> set[str]:
        return set(self.controller.state.flags)

    def inputs(self, name: str) -> SimInputLines:
        return self.gpio.inputs[chip_path(self.show.inputs[name].chip)]

    async def press(self, name: str) -> None:
        """Press and release an input (a button, a closing switch), 200 ms apart."""
        line = self.show.inputs[name].line
        self.inputs(name).press(line)
        await self.settle()
        await self.wait(0.2)
        self.inputs(name).release(line)
        await self.settle()

    async def wait(self, seconds: float, step: float = 0.05) -> None:
        """Let ``seconds`` pass on the fake clock, in steps, everything running at each."""
        end = self.clock.now + seconds
        while self.clock.now < end:
            self.clock.advance(min(step, end - self.clock.now))
            self.outputs.finish_due()
            self.controller.expire_due()
            await self.controller.follow_hours()
            await self.settle()
            self.show_leds()
            if self.relays is not None:
                self.relays.step()

    async def until(self, scene_time: float) -> None:
        """Wait until ``scene_time`` seconds after the current scene's T0."""
        target = self.controller.t0 + scene_time
        assert target >= self.clock.now, f"{scene_time} s into the scene is already past"
        await self.wait(target - self.clock.now)

    async def settle(self) -> None:
        """Let the loop hand over ready input edges, then handle every queued trigger."""
        for _ in range(3):
            await asyncio.sleep(0)
        while not self.controller.queue.empty():
            await self.controller.handle(self.controller.queue.get_nowait())
        await self.controller.saved()

    def show_leds(self) -> None:
        if self.leds is not None:
            while self.leds.step() is not None:
                pass

    def lit(self) -> np.ndarray:
        """The matrix as its lines show it now: rows x columns of booleans (direct drive)."""
        assert self.leds is not None
        assert self.show.matrix is not None
        lines = self.leds.matrix.lines
        assert isinstance(lines, SimOutputLines)
        return np.array(
            [[lines.values[line] for line in row] for row in self.show.matrix.lines], dtype=bool
        )

    def powered(self, relay: str) -> bool:
        assert self.relays is not None
        return self.relays.powered[relay]

    def played(self, output: str) -> list[str]:
        """The clips an output was told to play, by file name, in order."""
        return [p.clip.name for p in self.outputs.plays if p.output == output]


def play(show: Show, body: Callable[[Room], Awaitable[None]], **room: Any) -> None:
    """Run ``body`` with a started :class:`Room` of ``show`` (``room``: its keywords)."""

    async def main() -> None:
        async with Room(show, **room) as started:
            await body(started)

    asyncio.run(main())
