"""The real GPIO path end to end, on a kernel chip: an edge reaches the controller's event loop,
a matrix frame reaches the lines. Run in the emulated virtual machine, so the times printed are
an order of magnitude, never a benchmark: only what arrives, and in order, is asserted."""

from __future__ import annotations

import asyncio
import statistics
import time

import numpy as np
import pytest

from showctl.gpio.base import Edge
from showctl.leds.matrix import open_matrix
from showctl.show.model import Input, Matrix, Show
from showctl.triggers import InputWatcher
from tests.gpio.rig import KernelRig

pytestmark = pytest.mark.gpiochip

PRESSES = 20


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1e3:.2f} ms, max {max(values) * 1e3:.2f} ms"


def test_edges_reach_the_event_loop_in_order(kernel_rig: KernelRig) -> None:
    show = Show(version=1, initial="a", scenes={}, inputs={
        "door": Input(line=60, chip=kernel_rig.chip, debounce=0),
    })  # fmt: skip

    async def press() -> list[tuple[float, float, float, Edge]]:
        seen: list[tuple[float, Edge]] = []
        arrived = asyncio.Event()

        def fire(trigger: str, edge: Edge) -> None:
            assert trigger == "input:door"
            seen.append((time.monotonic(), edge))
            arrived.set()

        watcher = InputWatcher(show, kernel_rig.gpio, fire)
        watcher.start()
        out = []
        try:
            for _ in range(PRESSES):
                arrived.clear()
                driven = time.monotonic()
                kernel_rig.drive(60, False)  # closes: falling, the door's kind
                await asyncio.wait_for(arrived.wait(), 10)
                out.append((driven, *seen[-1]))
                kernel_rig.drive(60, True)  # opens: not the door's kind, no edge
                await asyncio.sleep(0.02)
        finally:
            watcher.close()
        assert len(seen) == PRESSES  # one edge a press, none for the releases
        return out

    presses = asyncio.run(press())
    assert all(driven <= edge.time <= fired for driven, fired, edge in presses)
    print(
        f"kernel path, {PRESSES} presses: sysfs write to the kernel's stamp "
        f"{ms([e.time - d for d, _, e in presses])}; stamp to the event loop's callback "
        f"{ms([f - e.time for _, f, e in presses])}"
    )


def test_a_matrix_frame_reaches_the_lines(kernel_rig: KernelRig) -> None:
    matrix = Matrix(lines=((61, 62), (63, 0)), chip=kernel_rig.chip)
    leds = open_matrix(matrix, kernel_rig.gpio)
    took = []
    try:
        for k in range(PRESSES):
            frame = np.array([[k % 2 == 0, k % 3 == 0], [k % 5 == 0, True]])
            start = time.monotonic()
            leds.show(frame)
            took.append(time.monotonic() - start)
            read = [kernel_rig.level(o) for o in (61, 62, 63, 0)]
            assert read == frame.ravel().tolist()
    finally:
        leds.close()
    print(f"kernel path, {PRESSES} frames: one set_values of 4 lines {ms(took)}")
