"""The GPIO contract: one set of tests, run on the simulated lines and on gpiod on a kernel
chip (``rig``, see :mod:`tests.gpio.rig`), reading what the lines do electrically."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from showctl.errors import GpioError
from showctl.gpio.base import InputLine
from showctl.gpio.sim import SimGpio, SimOutputLines
from showctl.leds.matrix import MultiplexedMatrix, open_matrix
from showctl.show.model import Matrix
from tests.gpio.rig import RELEASED, KernelRig, Rig, settle, wait_edges


def real_backend():  # type: ignore[no-untyped-def]
    from showctl.gpio.gpiod_backend import GpiodBackend

    return GpiodBackend()


def levels(rig: Rig, offsets: list[int]) -> list[bool]:
    return [rig.level(o) for o in offsets]


# --- outputs --------------------------------------------------------------------------------


def test_outputs_start_off_change_together_and_are_let_go(rig: Rig) -> None:
    lines = rig.gpio.request_outputs(rig.chip, [0, 1, 2])
    assert levels(rig, [0, 1, 2]) == [False, False, False]
    lines.set({0: True, 2: True})
    assert levels(rig, [0, 1, 2]) == [True, False, True]
    lines.set({0: False})
    assert levels(rig, [0, 1, 2]) == [False, False, True]
    lines.close()
    assert levels(rig, [0, 1, 2]) == [RELEASED] * 3
    lines.close()  # idempotent
    again = rig.gpio.request_outputs(rig.chip, [0, 1, 2])  # released: can be had again
    again.close()


def test_an_active_low_line_is_high_while_held_off(rig: Rig) -> None:
    """Held, an active-low line is high while off. Let go, it rests where the chip puts it: on
    these chips low, which lights an active-low LED or pulls in an active-low relay after
    showctl has ended (the README says how to wire for it)."""
    lines = rig.gpio.request_outputs(rig.chip, [20, 21], active_low=[21])
    assert levels(rig, [20, 21]) == [False, True]
    lines.set({20: True, 21: True})
    assert levels(rig, [20, 21]) == [True, False]
    lines.set({20: False, 21: False})
    assert levels(rig, [20, 21]) == [False, True]
    lines.close()
    assert levels(rig, [20, 21]) == [RELEASED, RELEASED]


def test_outputs_held_at_rest_start_there_and_go_back_before_they_are_let_go(rig: Rig) -> None:
    """A relay whose safe state is powered (an emergency light) is requested powered: the line
    is driven so from the request itself, with no moment off, and put back so before it is
    let go."""
    lines = rig.gpio.request_outputs(rig.chip, [23, 24], active_low=[24], rest={23: True})
    assert levels(rig, [23, 24]) == [True, True]  # 24: off, and active low
    lines.set({23: False, 24: True})
    assert levels(rig, [23, 24]) == [False, False]
    lines.close()
    assert levels(rig, [23, 24]) == [RELEASED, RELEASED]
    if isinstance(lines, SimOutputLines):  # what it drove just before letting go
        assert lines.history[-1].values == {23: True, 24: False}
        assert lines.edges(23) == [(lines.history[0].time, False), (lines.history[1].time, True)]


def test_lines_set_after_release_are_refused(rig: Rig) -> None:
    lines = rig.gpio.request_outputs(rig.chip, [22])
    lines.close()
    with pytest.raises(GpioError, match=r"gpiochip\d+"):
        lines.set({22: True})


def test_a_line_held_by_another_program_names_it(rig: Rig) -> None:
    release = rig.hold(3, "maglock-panel")
    try:
        with pytest.raises(
            GpioError,
            match=r"line 3 of /dev/gpiochip\d+ is in use by 'maglock-panel'; stop that program",
        ):
            rig.gpio.request_outputs(rig.chip, [4, 3])
        # Nothing was taken by the refused request: line 4 is free.
        rig.gpio.request_outputs(rig.chip, [4]).close()
    finally:
        release()


def test_a_line_held_by_showctl_itself_is_named_too(rig: Rig) -> None:
    first = rig.gpio.request_outputs(rig.chip, [5])
    try:
        with pytest.raises(GpioError, match=r"line 5 of /dev/gpiochip\d+ is in use by 'showctl'"):
            rig.gpio.request_outputs(rig.chip, [5])
    finally:
        first.close()


def test_a_line_outside_the_chip_is_named(rig: Rig) -> None:
    with pytest.raises(GpioError, match=r"line 5000 is outside /dev/gpiochip\d+, which has lines"):
        rig.gpio.request_outputs(rig.chip, [5000])


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


# --- the LED matrix -------------------------------------------------------------------------


def test_a_direct_matrix_shows_a_frame_in_one_change(rig: Rig) -> None:
    matrix = Matrix(lines=((30, 31, 32), (33, 34, 35)), chip=rig.chip)
    leds = open_matrix(matrix, rig.gpio)
    try:
        leds.show(np.array([[True, False, True], [False, True, False]]))
        assert levels(rig, [30, 31, 32, 33, 34, 35]) == [True, False, True, False, True, False]
        leds.show(np.zeros((2, 3), dtype=bool))
        assert levels(rig, [30, 31, 32, 33, 34, 35]) == [False] * 6
    finally:
        leds.close()


def test_an_active_low_direct_matrix_sinks_its_lit_leds(rig: Rig) -> None:
    matrix = Matrix(lines=((36, 37),), chip=rig.chip, active_low=True)
    leds = open_matrix(matrix, rig.gpio)
    try:
        assert levels(rig, [36, 37]) == [True, True]  # dark
        leds.show(np.array([[True, False]]))
        assert levels(rig, [36, 37]) == [False, True]
        leds.show(np.zeros((1, 2), dtype=bool))
        assert levels(rig, [36, 37]) == [True, True]
    finally:
        leds.close()


def test_a_multiplexed_matrix_lights_one_row_at_a_time(rig: Rig) -> None:
    """Rows select active high; columns (active low here) sink the selected row's lit LEDs."""
    matrix = Matrix(row_lines=(40, 41), column_lines=(42, 43, 44), active_low=True, chip=rig.chip)
    lines = rig.gpio.request_outputs(rig.chip, matrix.offsets, active_low=matrix.column_lines)
    leds = MultiplexedMatrix(matrix, lines, start=False)
    try:
        leds.show(np.array([[True, False, False], [False, True, True]]))
        leds.scan_row(0)
        assert levels(rig, [40, 41]) == [True, False]
        assert levels(rig, [42, 43, 44]) == [False, True, True]
        leds.scan_row(1)
        assert levels(rig, [40, 41]) == [False, True]
        assert levels(rig, [42, 43, 44]) == [True, False, False]
    finally:
        leds.close()
    assert levels(rig, [40, 41, 42, 43, 44]) == [RELEASED] * 5


# --- inputs ---------------------------------------------------------------------------------


def test_inputs_are_held_and_checked_like_outputs(rig: Rig) -> None:
    with pytest.raises(GpioError, match=r"line 5000 is outside /dev/gpiochip\d+"):
        rig.gpio.request_inputs(rig.chip, {5000: InputLine()})
    inputs = rig.gpio.request_inputs(rig.chip, {6: InputLine()})
    try:
        assert inputs.read() == []  # nothing pressed yet
        with pytest.raises(GpioError, match=r"line 6 of /dev/gpiochip\d+ is in use by 'showctl'"):
            rig.gpio.request_outputs(rig.chip, [6])
    finally:
        inputs.close()
        inputs.close()
    rig.gpio.request_outputs(rig.chip, [6]).close()  # released: free again


@pytest.mark.parametrize(("bias", "rest"), [("pull-up", True), ("pull-down", False)])
def test_an_input_rests_at_its_bias(rig: Rig, bias: str, rest: bool) -> None:
    inputs = rig.gpio.request_inputs(rig.chip, {7: InputLine(bias=bias)})  # type: ignore[arg-type]
    try:
        assert rig.level(7) is rest
        assert settle(inputs, 0.2) == []  # resting is no edge
    finally:
        inputs.close()


def test_a_switch_closing_is_a_falling_edge_stamped_on_the_monotonic_clock(rig: Rig) -> None:
    """The default input: a switch to ground, a pull-up, the falling edge counts; opening the
    switch again (rising) is not of its kind."""
    inputs = rig.gpio.request_inputs(rig.chip, {8: InputLine(debounce=0)})
    try:
        before = time.monotonic()
        rig.drive(8, False)
        edges = wait_edges(inputs, 1)
        after = time.monotonic()
        assert [(e.offset, e.rising) for e in edges] == [(8, False)]
        assert before <= edges[0].time <= after
        rig.drive(8, True)
        assert settle(inputs, 0.3) == []
    finally:
        inputs.close()


def test_both_edges_come_in_order(rig: Rig) -> None:
    """The line is let fall only once its rise is read: with both edges watched and no
    debounce, the kernel names an edge by the line's level when its interrupt thread runs
    (gpiolib-cdev.c, edge_irq_thread), so a rise and fall quicker than that thread are both
    read as falls (seen once in the emulated machine). Real switches want a debounce anyway."""
    inputs = rig.gpio.request_inputs(
        rig.chip, {9: InputLine(edge="both", bias="pull-down", debounce=0)}
    )
    try:
        rig.drive(9, True)
        edges = wait_edges(inputs, 1)
        rig.drive(9, False)
        edges += wait_edges(inputs, 1)
        assert [e.rising for e in edges] == [True, False]
        assert edges[0].time <= edges[1].time
    finally:
        inputs.close()


def test_a_bounce_within_the_debounce_time_is_one_edge(rig: Rig) -> None:
    """A contact that bounces (closed, open, closed within a few ms) is one press. The debounce
    is long (0.3 s) so that the bounce falls within it even in an emulated machine; the kernel
    reports the edge once the line has held still that long, the simulation at the first."""
    inputs = rig.gpio.request_inputs(rig.chip, {11: InputLine(debounce=0.3)})
    try:
        rig.drive(11, False)
        rig.drive(11, True)
        rig.drive(11, False)
        edges = wait_edges(inputs, 1, timeout=3.0) + settle(inputs, 0.6)
        assert [e.rising for e in edges] == [False]
    finally:
        inputs.close()


# --- what a kernel does with a program's lines (for the locks' safe states) ------------------

HOLDER = textwrap.dedent(
    """
    import sys, time
    from showctl.gpio.gpiod_backend import GpiodBackend

    lines = GpiodBackend().request_outputs(sys.argv[1], [50, 51], active_low=[51])
    lines.set({50: True, 51: True})
    print("set", flush=True)
    sys.stdin.readline()
    if sys.argv[2] == "close":
        lines.close()
    else:
        time.sleep(60)  # killed here
    """
)


@pytest.mark.gpiochip
@pytest.mark.parametrize("end", ["close", "kill"])
def test_what_the_chip_shows_after_the_program_ends(kernel_rig: KernelRig, end: str) -> None:
    """A program that held lines 50 (on) and 51 (on, active low, so low) ends: by closing them
    (showctl's way out: off, then let go) or killed by SIGKILL. Either way the kernel lets the
    lines go. What they then show is the chip driver's choice: this records gpio-sim's, both
    low, the pull (a real SoC may keep a released line as it was: see the README)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, kernel_rig.chip, "close" if end == "close" else "hold"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "set"
    assert levels(kernel_rig, [50, 51]) == [True, False]
    if end == "kill":
        os.kill(proc.pid, signal.SIGKILL)
    else:
        proc.stdin.write("close\n")
        proc.stdin.flush()
    assert proc.wait(timeout=30) == (-signal.SIGKILL if end == "kill" else 0)
    assert levels(kernel_rig, [50, 51]) == [RELEASED, RELEASED]
    kernel_rig.gpio.request_outputs(kernel_rig.chip, [50, 51]).close()  # let go: free again


LOCK_HOLDER = textwrap.dedent(
    """
    import sys, time
    from showctl import log
    from showctl.gpio.gpiod_backend import GpiodBackend
    from showctl.room.relays import Relays
    from showctl.show.model import Relay

    log.configure("warning", "json", sys.stderr)  # stdout is the test's

    relays = Relays(
        {
            "door-lock": Relay(line=52, chip=sys.argv[1], active_low=True),
            "exit-light": Relay(line=53, chip=sys.argv[1], safe="powered"),
        },
        GpiodBackend(),
    )
    print("safe", flush=True)
    sys.stdin.readline()
    relays.power("door-lock")
    relays.unpower("exit-light")
    print("held", flush=True)
    sys.stdin.readline()
    if sys.argv[2] == "stop":  # what showctl does on SIGTERM, Ctrl-C or an error it catches
        relays.make_safe("stop")
        print("safe", flush=True)
        sys.stdin.readline()
        relays.close()
        print("released", flush=True)
    else:
        time.sleep(60)  # killed here
    """
)


@pytest.mark.gpiochip
@pytest.mark.parametrize("end", ["stop", "kill"])
def test_a_lock_held_when_showctl_stops_or_is_killed(kernel_rig: KernelRig, end: str) -> None:
    """showctl's relays on a kernel chip: a fail-safe maglock on an active-low board (line 52)
    and an emergency light safe powered (line 53). From the request on, both are safe (52 high:
    the lock's relay off; 53 high: the light on). Held (the lock powered, the light off), then:
    stopped, showctl puts both safe, then lets them go; killed (SIGKILL), the kernel lets them
    go as they were held. Either way gpio-sim lets a released line fall to its pull, low: the
    active-low lock's relay would pull in and the light go off once showctl is gone. That is
    why the README asks for wiring whose undriven level is the safe one."""
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, kernel_rig.chip, end],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None

    def step(expect: str) -> None:
        """Let the holder go on to its next step, and wait until it says ``expect``."""
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == expect

    assert proc.stdout.readline().strip() == "safe"
    assert levels(kernel_rig, [52, 53]) == [True, True]
    step("held")
    assert levels(kernel_rig, [52, 53]) == [False, False]
    if end == "kill":
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    else:
        step("safe")
        assert levels(kernel_rig, [52, 53]) == [True, True]
        step("released")
        assert proc.wait(timeout=30) == 0
    assert levels(kernel_rig, [52, 53]) == [RELEASED, RELEASED]
