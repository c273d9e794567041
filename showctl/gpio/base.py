"""What the rest of showctl needs of GPIO lines, whatever drives them.

Values are *logical*: ``True`` lights an LED, whichever way it is wired; the backend applies
the show's ``active_low`` (the kernel does, for gpiod).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

#: The consumer name showctl's requests carry: what ``gpioinfo`` shows as the lines' user.
CONSUMER = "showctl"


class OutputLines(Protocol):
    """Output lines requested together, changed together."""

    @property
    def offsets(self) -> Sequence[int]: ...

    def set(self, values: Mapping[int, bool]) -> None:
        """Set lines (by offset) at once: one change for all of them. Raises
        :class:`GpioError` if the lines can no longer be driven."""
        ...

    def close(self) -> None:
        """Put the lines back at the values they were requested with (off, unless ``rest``
        said otherwise), then release them. Idempotent; never raises."""
        ...


@dataclass(frozen=True)
class Edge:
    """A change of an input line: which, which way, and when (monotonic s, as the kernel
    stamped it where the backend can say)."""

    offset: int
    rising: bool
    time: float


@dataclass(frozen=True)
class InputLine:
    """How an input line is asked for: the change that counts, the time within which changes
    are one, and the line's internal pull resistor."""

    edge: Literal["rising", "falling", "both"] = "falling"
    debounce: float = 0.02  # seconds
    bias: Literal["pull-up", "pull-down", "disabled", "as-is"] = "pull-up"


class InputLines(Protocol):
    """Input lines requested together, their edges read as they come."""

    def fileno(self) -> int:
        """A descriptor that is readable while edges wait: for the event loop to watch."""
        ...

    def read(self) -> list[Edge]:
        """The edges waiting, oldest first; an empty list if none. Never blocks."""
        ...

    def close(self) -> None:
        """Release the lines. Idempotent; never raises."""
        ...


class GpioBackend(Protocol):
    def request_outputs(
        self,
        chip: str,
        offsets: Sequence[int],
        *,
        active_low: Collection[int] = (),
        rest: Mapping[int, bool] | None = None,
    ) -> OutputLines:
        """Hold ``offsets`` of ``chip`` as outputs, each at its value in ``rest`` from the
        request itself (no glitch), off where it says nothing; those in ``active_low`` are on
        when low. Raises :class:`GpioError`."""
        ...

    def request_inputs(self, chip: str, inputs: Mapping[int, InputLine]) -> InputLines:
        """Hold the lines of ``chip`` as inputs (by offset), each as its spec asks: the edge
        that counts, the debounce time and the bias. Raises :class:`GpioError`."""
        ...


def chip_path(chip: str) -> str:
    """``gpiochip0`` or ``/dev/gpiochip0`` as a path."""
    return chip if chip.startswith("/") else f"/dev/{chip}"
