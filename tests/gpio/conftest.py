"""The ``rig`` fixture: every GPIO contract test runs on the simulated lines and on gpiod on a
kernel chip (see :mod:`tests.gpio.rig`); without that chip, the kernel's half is deselected here
and run in a virtual machine by ``test_kernel_chip.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gpio.rig import KernelRig, Rig, SimRig, kernel_chip


@pytest.fixture(params=["sim", pytest.param("gpiod", marks=pytest.mark.gpiochip)])
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    if request.param == "sim":
        yield SimRig()
        return
    chip = kernel_chip()
    assert chip is not None  # deselected without one (see pytest_collection_modifyitems)
    yield KernelRig(*chip)


@pytest.fixture
def kernel_rig() -> KernelRig:
    """The kernel's rig alone, for what only a kernel can show (a process killed)."""
    chip = kernel_chip()
    assert chip is not None
    return KernelRig(*chip)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if kernel_chip() is not None:
        return
    deselected = [item for item in items if item.get_closest_marker("gpiochip")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("gpiochip")]
