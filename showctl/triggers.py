"""Triggers from GPIO inputs: each edge of a show's input becomes the machine's ``input:NAME``.

The input lines of each chip are one request; its descriptor is watched by the asyncio loop
(``add_reader``), so an edge is handled as soon as the kernel has it, with no polling thread.
The kernel (or the simulated backend) applies each input's edge kind and debounce. A chip that
fails while running is reported once and no longer watched; the show goes on without it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from showctl.errors import GpioError
from showctl.gpio.base import Edge, GpioBackend, InputLine, InputLines, chip_path
from showctl.show.model import Show

logger = structlog.get_logger()

#: Called with the machine trigger (``input:NAME``) and the edge that fired it.
Fire = Callable[[str, Edge], None]


class InputWatcher:
    """The show's GPIO inputs, watched by the running event loop."""

    def __init__(self, show: Show, gpio: GpioBackend, fire: Fire) -> None:
        self._gpio = gpio
        self._fire = fire
        self._chips: dict[str, dict[int, tuple[str, InputLine]]] = {}
        for name, spec in show.inputs.items():
            line = InputLine(spec.edge, spec.debounce, spec.bias)
            self._chips.setdefault(chip_path(spec.chip), {})[spec.line] = (name, line)
        self._lines: dict[str, InputLines] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Request every chip's input lines and watch them. Call from the event loop's thread.
        Raises :class:`GpioError` (nothing is left held)."""
        self._loop = asyncio.get_running_loop()
        try:
            for chip, inputs in self._chips.items():
                lines = self._gpio.request_inputs(
                    chip, {o: spec for o, (_, spec) in inputs.items()}
                )
                self._lines[chip] = lines
                self._loop.add_reader(lines.fileno(), self._readable, chip)
        except GpioError:
            self.close()
            raise

    def _readable(self, chip: str) -> None:
        lines = self._lines[chip]
        try:
            edges = lines.read()
        except GpioError as e:
            logger.error("inputs_failed", chip=chip, reason=str(e))
            self._drop(chip)
            return
        for edge in edges:
            name, _ = self._chips[chip][edge.offset]
            self._fire(f"input:{name}", edge)

    def _drop(self, chip: str) -> None:
        lines = self._lines.pop(chip)
        if self._loop is not None:
            self._loop.remove_reader(lines.fileno())
        lines.close()

    def close(self) -> None:
        """Stop watching and release every line. Idempotent; never raises."""
        for chip in list(self._lines):
            self._drop(chip)
