"""The matrix on simulated lines: frames at T0 + their time, one change a frame, failures once."""

from __future__ import annotations

import time

import numpy as np

from showctl.clock import FakeClock
from showctl.gpio.sim import SimGpio
from showctl.leds.matrix import LedMatrix, LedPlayer, MultiplexedMatrix, open_matrix
from showctl.leds.programs import Schedule
from showctl.show.model import Blink, Cue, Matrix

MATRIX = Matrix(lines=((10, 11), (12, 13)), names={"a": (0, 0), "d": (1, 1)})


def rig() -> tuple[FakeClock, LedPlayer, object]:
    clock = FakeClock()
    lines = SimGpio(clock).request_outputs("gpiochip0", [10, 11, 12, 13])
    player = LedPlayer(LedMatrix(MATRIX, lines), clock=clock)
    return clock, player, lines


def test_frames_are_shown_at_t0_plus_their_time_one_set_each() -> None:
    clock, player, lines = rig()
    t0 = clock.now + 0.2
    player.play(Schedule(MATRIX, (Cue(Blink(("a", "d"), 0.5, count=1), at=1.0),)), t0)
    assert player.step() is None  # nothing due before T0
    clock.advance(0.2)
    first = player.step()
    assert first is not None
    assert first.due == t0
    assert not first.frame.any()
    clock.advance(1.0)
    lit = player.step()
    assert lit is not None
    assert lit.due == t0 + 1.0
    assert lines.history[-1].values == {10: True, 11: False, 12: False, 13: True}  # type: ignore[attr-defined]
    assert player.due() == t0 + 1.5


def test_a_scene_joined_late_shows_where_it_is_without_replaying_the_past() -> None:
    """A scene resumed 10.3 s in, blinking ``a`` each 0.5 s: the frame of 10.3 s (``a`` lit)
    at once, in one change, and the next change at 10.5 s."""
    clock, player, lines = rig()
    t0 = clock.now - 10.3
    player.play(Schedule(MATRIX, (Cue(Blink(("a",), 0.5)),)), t0)
    shown = player.step()
    assert shown is not None
    assert shown.frame.tolist() == [[True, False], [False, False]]
    assert len(lines.history) == 1  # type: ignore[attr-defined]
    assert player.step() is None
    assert player.due() == t0 + 10.5


def test_a_gpio_failure_is_reported_once_and_the_cues_stop() -> None:
    clock, player, lines = rig()
    player.play(Schedule(MATRIX, (Cue(Blink(("a",), 0.1)),)), clock.now)
    lines.close()  # type: ignore[attr-defined]  # as if the chip went away
    assert player.step() is None
    assert player.failed is not None
    assert "gpiochip0" in player.failed
    assert player.due() is None  # nothing more is tried


MUX = Matrix(row_lines=(0, 1, 2), column_lines=(5, 6), active_low=True, refresh=100)


def test_a_multiplexed_row_lights_alone_with_its_columns() -> None:
    lines = SimGpio(FakeClock()).request_outputs("gpiochip0", MUX.offsets)
    matrix = MultiplexedMatrix(MUX, lines, start=False)
    matrix.show(np.array([[True, False], [False, True], [True, True]]))
    matrix.scan_row(1)
    assert lines.history[-1].values == {0: False, 1: True, 2: False, 5: False, 6: True}
    matrix.scan()
    assert [c.values for c in lines.history[-3:]] == [
        {0: True, 1: False, 2: False, 5: True, 6: False},
        {0: False, 1: True, 2: False, 5: False, 6: True},
        {0: False, 1: False, 2: True, 5: True, 6: True},
    ]
    matrix.close()
    assert lines.closed


def test_open_matrix_requests_the_lines_with_their_polarity() -> None:
    gpio = SimGpio(FakeClock())
    mux = open_matrix(MUX, gpio)
    mux.close()
    direct = open_matrix(Matrix(lines=((7, 8),), active_low=True), gpio)
    direct.close()
    assert isinstance(mux, MultiplexedMatrix)
    assert mux.lines.active_low == {5, 6}  # type: ignore[attr-defined]  # columns only
    assert direct.lines.active_low == {7, 8}  # type: ignore[attr-defined]


def test_the_scan_thread_keeps_scanning() -> None:
    """Behaviour, not timing: started, the scan goes round and round until closed."""
    gpio = SimGpio()
    matrix = open_matrix(MUX, gpio)
    assert isinstance(matrix, MultiplexedMatrix)
    deadline = time.monotonic() + 5
    while matrix.scans < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    matrix.close()
    assert matrix.scans >= 3
    assert matrix.failed is None


def test_a_program_that_cannot_run_stops_the_cues_not_the_thread() -> None:
    """A meter with no audio given (a bug if it ever happens): reported, and nothing more."""
    from showctl.show.model import Meter

    clock, player, _ = rig()
    player.play(Schedule(MATRIX, (Cue(Meter("out")),)), clock.now)
    assert player.step() is None
    assert player.failed is not None
    assert "a meter needs the scene's audio" in player.failed
    assert player.due() is None


def test_a_multiplexed_matrix_whose_chip_goes_is_reported_once() -> None:
    from structlog.testing import capture_logs

    clock = FakeClock()
    lines = SimGpio(clock).request_outputs("gpiochip0", MUX.offsets)
    matrix = MultiplexedMatrix(MUX, lines, start=False)
    player = LedPlayer(matrix, clock=clock)
    player.play(Schedule(MUX, (Cue(Blink(("all",), 0.1)),)), clock.now)
    with capture_logs() as logs:
        lines.close()  # as if the chip went away
        assert matrix.scan_step(0) is False
        clock.advance(0.1)
        player.step()  # the cues go on computing frames; nothing more is said
        clock.advance(0.1)
        player.step()
    assert [entry["event"] for entry in logs] == ["leds_failed"]
    assert matrix.failed is not None
    assert "gpiochip0" in matrix.failed


class Gate:
    """A liveness gate that remembers who checked in and out."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.gone: set[str] = set()

    def check_in(self, loop: str) -> None:
        self.seen.add(loop)

    def check_out(self, loop: str) -> None:
        self.gone.add(loop)


def test_both_led_threads_check_in_and_a_failed_scan_is_told_and_checks_out() -> None:
    """The cue thread checks in while nothing is due; the scan thread while it scans. When the
    scan's lines fail, the player says so (``failed``, and ``on_failed``, once), and the scan
    thread, ended, checks out, so it does not hold the watchdog."""
    gate, told = Gate(), []
    lines = SimGpio().request_outputs("gpiochip0", MUX.offsets)
    matrix = MultiplexedMatrix(MUX, lines)
    player = LedPlayer(matrix)
    player.watch_by(gate.check_in, gate.check_out)
    player.on_failed = lambda: told.append(player.failed)
    player.start()
    deadline = time.monotonic() + 5
    while gate.seen != {"leds", "led-scan"} and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gate.seen == {"leds", "led-scan"}
    lines.close()  # as if the chip went away
    while not gate.gone and time.monotonic() < deadline:
        time.sleep(0.01)
    player.stop()
    assert gate.gone == {"led-scan"}
    assert len(told) == 1
    assert "gpiochip0" in str(told[0])


def test_the_status_and_the_summary_say_the_leds_stopped(tmp_path) -> None:
    """What the page, MQTT's state, OSC's replies and ``showctl status`` read."""
    from showctl.controller import ShowController
    from showctl.show import loader
    from showctl.testing import SimulatedOutputs, write_wav

    write_wav(tmp_path / "tone.wav")
    (tmp_path / "show.yaml").write_text(
        "version: 1\ninitial: a\nmedia: .\noutputs: {o: {device: x}}\n"
        "matrix: {row_lines: [0, 1, 2], column_lines: [5, 6]}\n"
        "scenes: {a: {audio: {o: tone.wav}}}\n"
    )
    show = loader.load(tmp_path / "show.yaml")
    clock = FakeClock()
    lines = SimGpio(clock).request_outputs("gpiochip0", MUX.offsets)
    matrix = MultiplexedMatrix(MUX, lines, start=False)
    controller = ShowController(
        show, SimulatedOutputs(["o"], clock), leds=LedPlayer(matrix, clock=clock), clock=clock
    )
    assert (controller.status()["leds"], controller.summary()["leds"]) == ("ok", "ok")
    lines.close()
    assert matrix.scan_step(0) is False
    reason = controller.status()["leds"]
    assert "gpiochip0" in reason
    assert controller.summary()["leds"] == reason
