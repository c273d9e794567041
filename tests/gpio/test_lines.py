"""The GPIO output seam: one contract, run against the simulated lines and, where a chip
exists, the real gpiod backend."""

from __future__ import annotations

import glob
from collections.abc import Iterator
from typing import Any

import pytest

from showctl.errors import GpioError
from showctl.gpio.sim import SimGpio

CHIPS = sorted(glob.glob("/dev/gpiochip*"))


def real_backend() -> Any:
    from showctl.gpio.gpiod_backend import GpiodBackend

    return GpiodBackend()


@pytest.fixture(params=["sim", "gpiod"])
def backend(request: pytest.FixtureRequest) -> Iterator[tuple[Any, str]]:
    if request.param == "sim":
        yield SimGpio(), "/dev/gpiochip0"
    elif not CHIPS:
        pytest.skip("no /dev/gpiochip* on this machine: the gpiod contract runs where one exists")
    else:
        yield real_backend(), CHIPS[0]


def test_lines_start_off_change_together_and_release(backend: tuple[Any, str]) -> None:
    gpio, chip = backend
    lines = gpio.request_outputs(chip, [0, 1, 2])
    lines.set({0: True, 2: True})
    lines.set({0: False})
    lines.close()
    lines.close()  # idempotent
    again = gpio.request_outputs(chip, [0, 1, 2])  # released: can be had again
    again.close()


def test_a_held_line_names_its_holder(backend: tuple[Any, str]) -> None:
    gpio, chip = backend
    first = gpio.request_outputs(chip, [3])
    try:
        with pytest.raises(GpioError, match=r"line 3 of /dev/gpiochip\d+ is in use by 'showctl'"):
            gpio.request_outputs(chip, [4, 3])
    finally:
        first.close()


def test_a_line_outside_the_chip_is_named(backend: tuple[Any, str]) -> None:
    gpio, chip = backend
    with pytest.raises(GpioError, match=r"line 5000 is outside /dev/gpiochip\d+, which has lines"):
        gpio.request_outputs(chip, [5000])


def test_a_missing_chip_is_named_with_the_fix() -> None:
    """Runs with the real backend everywhere: here it is exactly the case of a box without it."""
    with pytest.raises(GpioError, match=r"/dev/gpiochip77 does not exist; check the chip"):
        real_backend().request_outputs("gpiochip77", [0])


def test_sim_history_answers_what_was_lit_when() -> None:
    from showctl.clock import FakeClock

    clock = FakeClock()
    lines = SimGpio(clock).request_outputs("gpiochip0", [0, 1])
    lines.set({0: True, 1: False})
    clock.advance(0.5)
    lines.set({0: False, 1: True})
    assert lines.value_at(0, clock.now - 0.1) is True
    assert lines.value_at(0, clock.now) is False
    assert lines.edges(1) == [(clock.now, True)]
    lines.close()
    assert lines.values == {0: False, 1: False}


def test_inputs_are_held_and_checked_like_outputs(backend: tuple[Any, str]) -> None:
    from showctl.show import Input

    gpio, chip = backend
    with pytest.raises(GpioError, match=r"line 5000 is outside /dev/gpiochip\d+"):
        gpio.request_inputs(chip, {5000: Input(line=5000)})
    inputs = gpio.request_inputs(chip, {6: Input(line=6)})
    try:
        assert inputs.read() == []  # nothing pressed yet
        with pytest.raises(GpioError, match=r"line 6 of /dev/gpiochip\d+ is in use by 'showctl'"):
            gpio.request_outputs(chip, [6])
    finally:
        inputs.close()
        inputs.close()
    gpio.request_outputs(chip, [6]).close()  # released: free again
