"""The relays' runtime on simulated lines and a fake clock: safe states, the longest on-time,
pulses, the timeline, the emergency latch, and letting go."""

from __future__ import annotations

import time

import pytest
from structlog.testing import capture_logs

from showctl.clock import FakeClock
from showctl.errors import GpioError
from showctl.gpio.sim import SimGpio
from showctl.room.relays import Relays
from showctl.show.model import Relay

SPECS = {
    "door": Relay(line=4, active_low=True),  # a fail-safe maglock on an active-low board
    "drawer": Relay(line=5, max_on=2.0),  # a solenoid
    "exit-light": Relay(line=6, chip="gpiochip1", safe="powered"),
}


def rig() -> tuple[FakeClock, SimGpio, Relays]:
    clock = FakeClock()
    gpio = SimGpio(clock)
    return clock, gpio, Relays(SPECS, gpio, clock)


def test_every_relay_is_held_safe_from_its_request_and_by_chip() -> None:
    _clock, gpio, relays = rig()
    chip0, chip1 = gpio.chip("gpiochip0"), gpio.chip("gpiochip1")
    # Electrical levels: the maglock's active-low line high (unpowered), the solenoid's low,
    # the exit light's high (powered) on a chip of its own.
    assert (chip0.level(4), chip0.level(5), chip1.level(6)) == (True, False, True)
    assert relays.powered == {
        "door": False,
        "drawer": False,
        "exit-light": True,
    }
    relays.close()


def test_a_relay_is_cut_at_its_max_on_whatever_asked() -> None:
    clock, _gpio, relays = rig()
    with capture_logs() as logs:
        assert relays.power("drawer") is None
        clock.advance(1.0)
        relays.power("drawer")  # powered again: the cut still counts from when it went on
        assert relays.due() == clock.now + 1.0
        clock.advance(0.999)
        assert relays.step() == 0
        clock.advance(0.001)
        assert relays.step() == 1
    assert relays.powered["drawer"] is False
    assert [e for e in logs if e["event"] == "relay_max_on"] == [
        {"event": "relay_max_on", "relay": "drawer", "max_on": 2.0, "log_level": "warning"}
    ]
    relays.close()


def test_unpowered_before_its_max_on_the_cut_is_taken_back() -> None:
    _clock, _gpio, relays = rig()
    relays.power("drawer")
    relays.unpower("drawer")
    assert relays.due() is None
    relays.close()


def test_a_pulse_lasts_its_length_and_one_longer_than_max_on_is_refused() -> None:
    clock, gpio, relays = rig()
    chip = gpio.chip("gpiochip0")
    start = clock.now
    assert relays.pulse("drawer", 0.5) is None
    assert chip.level(5) is True
    clock.advance(0.5)
    relays.step()
    assert chip.level(5) is False
    assert gpio.outputs["/dev/gpiochip0"].edges(5) == [(start, True), (start + 0.5, False)]
    refusal = relays.pulse("drawer", 3.0)
    assert refusal == (
        "a pulse of 3s is longer than 'drawer' may stay powered (its max_on, 2s); pulse it for "
        "2s or less"
    )
    assert chip.level(5) is False
    relays.close()


def test_timeline_changes_come_at_their_time_and_a_scene_left_forgets_the_rest() -> None:
    """A pulse of the timeline that has begun keeps its end when the scene is left; a change
    that has not come is forgotten."""
    clock, gpio, relays = rig()
    t0 = clock.now + 0.1
    relays.at(t0 + 1.0, "drawer", True, entry=1, pulse=0.5)
    relays.at(t0 + 3.0, "door", True, entry=1)
    clock.advance(1.1)
    assert relays.step() == 1
    assert relays.powered["drawer"] is True
    assert gpio.outputs["/dev/gpiochip0"].edges(5) == [(t0 + 1.0, True)]
    relays.forget()  # the scene is left
    assert relays.due() == t0 + 1.5  # the pulse's end, on the timeline's time
    clock.advance(0.5)
    relays.step()
    assert relays.powered["drawer"] is False
    clock.advance(5)
    assert relays.step() == 0
    assert relays.powered["door"] is False
    relays.close()


def test_the_emergency_holds_every_relay_safe_until_all_clear() -> None:
    clock, _gpio, relays = rig()
    relays.power("door")
    relays.unpower("exit-light")
    relays.at(clock.now + 1, "door", True, entry=1)
    with capture_logs() as logs:
        relays.latch("the fire alarm's contact opened")
        relays.latch("panic button")  # latched already: the first reason stays
    assert [e["event"] for e in logs if e["log_level"] == "critical"] == ["emergency"]
    assert relays.powered == {"door": False, "drawer": False, "exit-light": True}
    assert relays.due() is None  # the timeline forgotten
    refusal = relays.power("door")
    assert refusal is not None
    assert refusal.startswith(
        "the emergency release holds every relay in its safe state (the fire alarm's contact "
        "opened); clear it first (all-clear)"
    )
    assert relays.unpower("exit-light") is not None
    assert relays.pulse("drawer", 0.5) is not None
    assert relays.unpower("door") is None  # to safe: always allowed
    assert relays.powered == {"door": False, "drawer": False, "exit-light": True}
    assert relays.all_clear() is True
    assert relays.all_clear() is False
    assert relays.power("door") is None
    relays.close()


def test_a_timeline_change_during_the_emergency_is_dropped_and_said() -> None:
    clock, _gpio, relays = rig()
    relays.latch("panic")
    relays.at(clock.now + 0.5, "door", True, entry=3)
    clock.advance(0.5)
    with capture_logs() as logs:
        relays.step()
    assert relays.powered["door"] is False
    assert [e["event"] for e in logs] == ["relay_change_dropped"]
    relays.close()


def test_close_puts_every_relay_safe_then_lets_the_lines_go() -> None:
    _clock, gpio, relays = rig()
    relays.power("door")
    relays.unpower("exit-light")
    held = dict(gpio.chip("gpiochip0").holders)
    assert sorted(held) == [4, 5]
    relays.close()
    relays.close()  # idempotent
    assert gpio.chip("gpiochip0").holders == {}
    assert gpio.chip("gpiochip1").holders == {}


def test_what_each_line_drove_last_before_it_was_let_go() -> None:
    _clock, gpio, relays = rig()
    relays.power("door")
    relays.unpower("exit-light")
    relays.close()
    assert gpio.outputs["/dev/gpiochip0"].history[-1].values == {4: False, 5: False}
    assert gpio.outputs["/dev/gpiochip1"].history[-1].values == {6: True}


def test_lines_that_fail_are_said_once_and_nothing_else_stops() -> None:
    _clock, _gpio, relays = rig()
    calls: list[str] = []
    relays.on_change = lambda: calls.append("changed")
    for lines in relays._lines.values():
        lines.close()  # as if the chip went away
    with capture_logs() as logs:
        relays.power("door")
        relays.power("drawer")
    assert relays.failed is not None
    assert [e["event"] for e in logs] == ["relays_failed"]
    assert calls == ["changed"]
    relays.close()


def test_a_line_in_use_is_refused_and_nothing_is_held() -> None:
    gpio = SimGpio(FakeClock())
    other = gpio.request_outputs("gpiochip1", [6])
    with pytest.raises(GpioError, match="line 6 of /dev/gpiochip1 is in use by 'showctl'"):
        Relays(SPECS, gpio)
    assert gpio.chip("gpiochip0").holders == {}
    other.close()


def test_the_thread_switches_at_the_time_on_the_real_clock() -> None:
    gpio = SimGpio()
    relays = Relays(SPECS, gpio)
    relays.start()
    try:
        due = time.monotonic() + 0.05
        relays.at(due, "drawer", True, entry=1, pulse=0.05)
        deadline = time.monotonic() + 5
        while relays.powered["drawer"] is False and time.monotonic() < deadline:
            time.sleep(0.005)
        assert gpio.outputs["/dev/gpiochip0"].edges(5)[0][0] >= due
        while relays.powered["drawer"] is True and time.monotonic() < deadline:
            time.sleep(0.005)
        assert relays.powered["drawer"] is False
    finally:
        relays.close()
