"""GPIO inputs as triggers: edges of the show's kind, debounced, fired through the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from showctl.clock import FakeClock
from showctl.errors import GpioError
from showctl.gpio.base import Edge, InputLine
from showctl.gpio.sim import SimGpio
from showctl.show.model import Input, Show
from showctl.triggers import InputWatcher

SHOW = Show(
    version=1,
    initial="a",
    scenes={},
    inputs={
        "door": Input(line=4),  # falling, pull-up: fires when the switch closes
        "lever": Input(line=5, edge="both", debounce=0.05),
        "panel": Input(line=2, chip="gpiochip1", edge="rising", bias="pull-down"),
    },
)


async def collect(gpio: SimGpio, act: Callable[[], None]) -> list[tuple[str, bool]]:
    fired: list[tuple[str, bool]] = []
    watcher = InputWatcher(SHOW, gpio, lambda trigger, edge: fired.append((trigger, edge.rising)))
    watcher.start()
    try:
        act()
        for _ in range(20):  # let the loop see the readable descriptors
            await asyncio.sleep(0)
    finally:
        watcher.close()
    return fired


def test_edges_of_the_shows_kind_fire_their_input() -> None:
    clock = FakeClock()
    gpio = SimGpio(clock)

    def act() -> None:
        door, panel = gpio.inputs["/dev/gpiochip0"], gpio.inputs["/dev/gpiochip1"]
        door.press(4)  # falling: fires
        clock.advance(1)
        door.release(4)  # rising: not door's kind
        panel.press(2)  # pull-down, rising: fires

    assert asyncio.run(collect(gpio, act)) == [("input:door", False), ("input:panel", True)]


def test_a_bounce_within_the_debounce_time_is_one_edge() -> None:
    clock = FakeClock()
    gpio = SimGpio(clock)

    def act() -> None:
        lever = gpio.inputs["/dev/gpiochip0"]
        lever.press(5)
        clock.advance(0.01)
        lever.release(5)  # a bounce, 10 ms later: dropped
        clock.advance(0.2)
        lever.release(5)  # already released: no change
        lever.press(5)

    assert asyncio.run(collect(gpio, act)) == [("input:lever", False), ("input:lever", False)]


def test_a_busy_line_is_named_and_nothing_stays_held() -> None:
    gpio = SimGpio(FakeClock())
    held = gpio.request_outputs("gpiochip1", [2])

    async def start() -> None:
        InputWatcher(SHOW, gpio, lambda trigger, edge: None).start()

    with pytest.raises(GpioError, match="line 2 of /dev/gpiochip1 is in use by 'showctl'"):
        asyncio.run(start())
    held.close()
    assert gpio.chip("gpiochip0").holders == {}  # the first chip's inputs were let go


def test_edge_carries_its_time() -> None:
    clock = FakeClock(start=50.0)
    lines = SimGpio(clock).request_inputs("gpiochip0", {4: InputLine()})
    lines.press(4)  # type: ignore[attr-defined]
    assert lines.read() == [Edge(4, False, 50.0)]
    assert lines.read() == []
    lines.close()
