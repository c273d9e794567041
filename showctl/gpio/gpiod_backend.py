"""The real GPIO backend: the kernel's character device through libgpiod 2.x (``gpiod``).
The only module importing it.

One request holds all the lines of a use (the whole matrix), so that one ``set_values`` changes
them together. The show's ``active_low`` is handed to the kernel, which inverts the lines itself.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta
from typing import Any

from showctl.errors import GpioError
from showctl.gpio.base import CONSUMER, Edge, InputLine, chip_path

try:
    import gpiod
    from gpiod.line import Bias, Clock, Direction, Value
    from gpiod.line import Edge as LineEdge
except ImportError as e:  # pragma: no cover - the wheel carries libgpiod; this is a broken install
    raise GpioError(f"the gpiod library cannot be loaded ({e}); reinstall showctl") from e


def _open(path: str) -> Any:
    try:
        return gpiod.Chip(path)
    except FileNotFoundError as e:
        raise GpioError(
            f"{path} does not exist; check the chip in the show (gpiodetect lists the chips)"
        ) from e
    except PermissionError as e:
        raise GpioError(
            f"{path} cannot be opened: permission denied; add the user to the 'gpio' group"
        ) from e
    except OSError as e:
        raise GpioError(f"{path} cannot be opened ({e.strerror or e})") from e


def _holder(chip: Any, offset: int) -> str:
    try:
        info = chip.get_line_info(offset)
    except OSError:
        return "another program"
    return f"'{info.consumer}'" if info.consumer else "another program"


class GpiodOutputLines:
    def __init__(self, request: Any, path: str, rest: Mapping[int, bool]) -> None:
        self._request = request
        self._path = path
        self._offsets = tuple(request.offsets)
        self._rest = {o: Value.ACTIVE if rest.get(o) else Value.INACTIVE for o in self._offsets}

    @property
    def offsets(self) -> Sequence[int]:
        return self._offsets

    def set(self, values: Mapping[int, bool]) -> None:
        try:
            self._request.set_values(
                {o: Value.ACTIVE if v else Value.INACTIVE for o, v in values.items()}
            )
        except (OSError, gpiod.RequestReleasedError) as e:
            raise GpioError(f"the lines of {self._path} cannot be set any more ({e})") from e

    def close(self) -> None:
        if not self._request:  # released already
            return
        # At rest first (LEDs dark, relays safe), then let go; a chip that is gone drives
        # nothing either.
        with contextlib.suppress(OSError, gpiod.RequestReleasedError):
            self._request.set_values(self._rest)
        with contextlib.suppress(OSError, gpiod.RequestReleasedError):
            self._request.release()


class GpiodBackend:
    @staticmethod
    def _check_offsets(handle: Any, path: str, offsets: Sequence[int]) -> None:
        lines = handle.get_info().num_lines
        for offset in offsets:
            if not 0 <= offset < lines:
                raise GpioError(
                    f"line {offset} is outside {path}, which has lines 0-{lines - 1}; "
                    "correct the line offset in the show"
                )

    @staticmethod
    def _request(handle: Any, path: str, config: dict[tuple[int], Any]) -> Any:
        try:
            return handle.request_lines(config=config, consumer=CONSUMER)
        except OSError as e:
            if e.errno == errno.EBUSY:
                offsets = [offset for (offset,) in config]
                busy = [o for o in offsets if handle.get_line_info(o).used]
                offset = busy[0] if busy else offsets[0]
                raise GpioError(
                    f"line {offset} of {path} is in use by {_holder(handle, offset)}; "
                    "stop that program or choose another line"
                ) from e
            raise GpioError(f"the lines of {path} cannot be requested ({e})") from e

    def request_outputs(
        self,
        chip: str,
        offsets: Sequence[int],
        *,
        active_low: Collection[int] = (),
        rest: Mapping[int, bool] | None = None,
    ) -> GpiodOutputLines:
        rest = rest or {}
        path = chip_path(chip)
        with _open(path) as handle:
            self._check_offsets(handle, path, offsets)
            config = {
                (offset,): gpiod.LineSettings(
                    direction=Direction.OUTPUT,
                    active_low=offset in active_low,
                    output_value=Value.ACTIVE if rest.get(offset) else Value.INACTIVE,
                )
                for offset in offsets
            }
            request = self._request(handle, path, config)
        return GpiodOutputLines(request, path, rest)

    def request_inputs(self, chip: str, inputs: Mapping[int, InputLine]) -> GpiodInputLines:
        path = chip_path(chip)
        with _open(path) as handle:
            self._check_offsets(handle, path, list(inputs))
            config = {
                (offset,): gpiod.LineSettings(
                    direction=Direction.INPUT,
                    edge_detection=getattr(LineEdge, _EDGES[spec.edge]),
                    bias=getattr(Bias, _BIAS[spec.bias]),
                    debounce_period=timedelta(seconds=spec.debounce),
                    event_clock=Clock.MONOTONIC,
                )
                for offset, spec in inputs.items()
            }
            request = self._request(handle, path, config)
        return GpiodInputLines(request, path)


_EDGES = {"rising": "RISING", "falling": "FALLING", "both": "BOTH"}
_BIAS = {"pull-up": "PULL_UP", "pull-down": "PULL_DOWN", "disabled": "DISABLED", "as-is": "AS_IS"}


class GpiodInputLines:
    def __init__(self, request: Any, path: str) -> None:
        self._request = request
        self._path = path

    def fileno(self) -> int:
        return int(self._request.fd)

    def read(self) -> list[Edge]:
        """The edges the kernel holds (stamped on CLOCK_MONOTONIC). Call when readable."""
        try:
            if not self._request.wait_edge_events(0):
                return []
            events = self._request.read_edge_events()
        except (OSError, gpiod.RequestReleasedError) as e:
            raise GpioError(f"the input lines of {self._path} cannot be read ({e})") from e
        return [
            Edge(
                e.line_offset,
                e.event_type == gpiod.EdgeEvent.Type.RISING_EDGE,
                e.timestamp_ns / 1e9,
            )
            for e in events
        ]

    def close(self) -> None:
        if self._request:
            with contextlib.suppress(OSError, gpiod.RequestReleasedError):
                self._request.release()
