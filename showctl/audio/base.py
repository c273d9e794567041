"""The audio seam: what a player needs of a sound card, in domain words, and what a
measurement needs of a microphone's.

A backend opens an :class:`OutputStream` on a device named by a query from the show file. The
stream runs from :meth:`OutputStream.start` until :meth:`OutputStream.close`, calling its
:data:`Render` function on the audio thread for every block with the block's samples to fill and
the time, on the monotonic clock, at which the block's first sample leaves the DAC.

An :class:`InputStream` records a device's first channel from :meth:`InputStream.start` to
:meth:`InputStream.stop`: the samples, and when the first of them entered the ADC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

Block = npt.NDArray[np.float32]
#: Fills ``block`` (mono float32 samples) whose first sample leaves the DAC at ``dac_time``
#: (monotonic seconds). Runs on the audio thread: it must only copy and count.
Render = Callable[[Block, float], None]


class OutputStream(Protocol):
    """A running output on one device, mono, at a fixed rate and block size."""

    @property
    def rate(self) -> int:
        """Samples a second."""
        ...

    @property
    def device(self) -> str:
        """The device's full name, as the system lists it."""
        ...

    def start(self, render: Render) -> None:
        """Start calling ``render`` for every block. Raises :class:`AudioDeviceError`."""
        ...

    def close(self) -> None:
        """Stop and release the device. Idempotent; never raises."""
        ...

    @property
    def xruns(self) -> int:
        """Blocks the device ran out of samples for (it played late: an audible gap)."""
        ...

    @property
    def failed(self) -> str | None:
        """Why the stream stopped by itself (a device gone), or ``None`` while it runs."""
        ...


class OutputBackend(Protocol):
    """Opens output streams on devices named by a show file's query."""

    def open(self, query: str, rate: int, latency: float) -> OutputStream:
        """Open the one device matching ``query``, holding about ``latency`` seconds of sound
        ahead. Raises :class:`AudioDeviceError`."""
        ...


@dataclass(frozen=True)
class Recorded:
    """What an input recorded: mono samples at ``rate``, the first of which entered the ADC at
    ``started`` (monotonic seconds, as closely as the card tells), with ``overflows`` blocks
    lost on the way (the recording is not whole)."""

    samples: Block
    rate: int
    started: float
    overflows: int


class InputStream(Protocol):
    """A recording in progress on one device's first channel."""

    @property
    def device(self) -> str:
        """The device's full name, as the system lists it."""
        ...

    def start(self) -> None:
        """Start recording. Raises :class:`AudioDeviceError`."""
        ...

    def stop(self) -> Recorded:
        """Stop and release the device; what was recorded."""
        ...
