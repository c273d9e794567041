"""The GPIO contract's two rigs: the simulated lines, and gpiod on a real kernel chip.

Every test that takes ``rig`` runs on both. The kernel's rig is a ``gpio-sim`` chip, made in
a virtual machine by ``tests/harness/gpiosim.py``, which names it in ``SHOWCTL_GPIO_SIM``
(``/dev/gpiochipN:/sys/devices/platform/gpio-sim.M/gpiochipN``): its sysfs attributes read an
output's level and drive an input, as a meter and a switch would on a bench. Where that chip is
not (this machine, without the virtual machine), the tests marked ``gpiochip`` are deselected,
not skipped: ``tests/gpio/test_kernel_chip.py`` runs them in the virtual machine and fails if any
of them fails or is skipped there. A box's own chips are never used: the contract drives lines,
and on a box those are wired to LEDs, relays and locks.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from showctl.gpio.base import Edge, GpioBackend, InputLines
from showctl.gpio.sim import SimGpio

#: Set inside the virtual machine by tests/harness/gpiosim.py: the chip and its sysfs folder.
CHIP_ENV = "SHOWCTL_GPIO_SIM"
#: Where a line that nobody holds rests, on both rigs: low. gpio-sim lets a released line fall
#: to its pull (pull-down unless set), and the simulation does the same. A real SoC may go on
#: driving a released output as it was last set; no chip promises either (see the README).
RELEASED = False


def kernel_chip() -> tuple[str, Path] | None:
    """The gpio-sim chip this run may drive (its device, its sysfs folder), if any."""
    value = os.environ.get(CHIP_ENV)
    if not value:
        return None
    device, sysfs = value.split(":", 1)
    return device, Path(sysfs)


class Rig(Protocol):
    """A backend on a chip, and the bench around it."""

    gpio: GpioBackend
    chip: str

    def level(self, offset: int) -> bool:
        """The line's electrical level now (True: high), whoever drives it."""
        ...

    def drive(self, offset: int, high: bool) -> None:
        """Pull an input line high or low from outside, as a switch does."""
        ...

    def hold(self, offset: int, consumer: str) -> Callable[[], None]:
        """Have another program hold the line; returns what lets it go."""
        ...


class SimRig:
    def __init__(self) -> None:
        self.gpio = SimGpio()
        self.chip = "/dev/gpiochip0"

    def level(self, offset: int) -> bool:
        return self.gpio.chip(self.chip).level(offset)

    def drive(self, offset: int, high: bool) -> None:
        self.gpio.inputs[self.chip].set_level(offset, high)

    def hold(self, offset: int, consumer: str) -> Callable[[], None]:
        holders = self.gpio.chip(self.chip).holders
        holders[offset] = consumer
        return lambda: holders.pop(offset, None)


class KernelRig:
    def __init__(self, device: str, sysfs: Path) -> None:
        from showctl.gpio.gpiod_backend import GpiodBackend

        self.gpio = GpiodBackend()
        self.chip = device
        self.sysfs = sysfs

    def level(self, offset: int) -> bool:
        return (self.sysfs / f"sim_gpio{offset}" / "value").read_text().strip() == "1"

    def drive(self, offset: int, high: bool) -> None:
        (self.sysfs / f"sim_gpio{offset}" / "pull").write_text("pull-up" if high else "pull-down")

    def hold(self, offset: int, consumer: str) -> Callable[[], None]:
        import gpiod

        request = gpiod.request_lines(self.chip, consumer=consumer, config={offset: None})
        return request.release  # type: ignore[no-any-return]


def wait_edges(lines: InputLines, count: int, timeout: float = 5.0) -> list[Edge]:
    """The edges that come within ``timeout`` s, returned as soon as ``count`` have."""
    edges: list[Edge] = []
    deadline = time.monotonic() + timeout
    while len(edges) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        select.select([lines.fileno()], [], [], left)
        edges += lines.read()
    return edges


def settle(lines: InputLines, seconds: float) -> list[Edge]:
    """Every edge that comes within ``seconds``: to show that none (or no more) came."""
    return wait_edges(lines, 10**6, seconds)
