"""The real audio backend: PortAudio through ``sounddevice``. The only module importing it.

Outputs play (:class:`SoundDeviceStream`); an input records a measurement
(:class:`SoundDeviceInput`). A device is named by a stable query from the show file:

- ``hw:CARD=NAME`` (optionally ``,DEV=N``): the ALSA card with that id, which udev rules can
  make stable across reboots and replugging; resolved through ``/proc/asound/cards`` to the
  PortAudio device whose name ends in ``(hw:INDEX,DEV)``;
- anything else: a device whose name is exactly the query, or else the one output device whose
  name contains it (ignoring case), among the devices that can play (or, for an input, record).
  None, or more than one, is an error listing the candidates.

PortAudio's device list is frozen when the library starts, so a card plugged in later is seen
by a fresh player process, not by a running one.
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from showctl.audio.base import Recorded, Render
from showctl.errors import AudioDeviceError

try:
    import sounddevice as sd
except OSError as e:  # the PortAudio library itself is missing
    raise AudioDeviceError(
        f"PortAudio cannot be loaded ({e}); install the Debian package libportaudio2"
    ) from e

#: Samples a block. Fixed: through PulseAudio's ALSA plugin a variable size stalls, and through
#: PipeWire's the callback is called without pause, a core's worth of CPU.
BLOCK = 256
INPUT_BLOCK = 2048
CARDS = Path("/proc/asound/cards")
_CARD_QUERY = re.compile(r"^hw:CARD=([^,]+)(?:,DEV=(\d+))?$")


@dataclass(frozen=True)
class Device:
    """An output (or input) device as PortAudio lists it."""

    index: int
    name: str
    channels: int
    default_rate: float


def list_devices(kind: str = "output") -> list[Device]:
    """Every device that can play (``kind`` "input": record), in PortAudio's order."""
    try:
        devices: Any = sd.query_devices()
    except sd.PortAudioError as e:
        raise AudioDeviceError(f"the audio devices cannot be listed ({e})") from e
    key = f"max_{kind}_channels"
    return [
        Device(i, d["name"], d[key], d["default_samplerate"])
        for i, d in enumerate(devices)
        if d[key] > 0
    ]


def alsa_cards() -> dict[str, int]:
    """ALSA card ids (as in ``hw:CARD=id``) by card index, from ``/proc/asound/cards``."""
    try:
        text = CARDS.read_text()
    except OSError:
        return {}
    return {m[2]: int(m[1]) for m in re.finditer(r"^\s*(\d+)\s+\[(\S+)\s*\]", text, re.M)}


def matches(query: str, devices: list[Device]) -> list[Device]:
    """The devices a query names (see the module's docstring). Exact names win."""
    card = _CARD_QUERY.match(query)
    if card:
        index = alsa_cards().get(card[1])
        if index is None:
            return []
        tag = f"(hw:{index},{card[2] or 0})"
        return [d for d in devices if d.name.endswith(tag)]
    exact = [d for d in devices if d.name == query]
    return exact or [d for d in devices if query.lower() in d.name.lower()]


def query_for(device: Device, cards: dict[str, int]) -> str:
    """The query to write in a show for ``device``: ``hw:CARD=id`` where ALSA names the card
    (stable across reboots), else the device's name. ``cards`` is :func:`alsa_cards`."""
    tag = re.search(r"\(hw:(\d+),(\d+)\)$", device.name)
    ids = {index: card for card, index in cards.items()}
    if tag and int(tag[1]) in ids:
        return f"hw:CARD={ids[int(tag[1])]}" + (f",DEV={tag[2]}" if tag[2] != "0" else "")
    return device.name


def find(query: str, kind: str = "output") -> Device:
    """The one output (``kind`` "input": input) device a query names. Raises
    :class:`AudioDeviceError` listing the candidates when there is none or more than one."""
    devices = list_devices(kind)
    found = matches(query, devices)
    if len(found) == 1:
        return found[0]
    names = ", ".join(repr(d.name) for d in (found or devices)) or "none"
    if not found:
        raise AudioDeviceError(
            f"no {kind} device matches {query!r}; the {kind} devices are: {names}. "
            "Plug the card in, or correct the query (showctl devices lists them)"
        )
    raise AudioDeviceError(
        f"{query!r} matches {len(found)} {kind} devices: {names}; "
        "write a longer part of the name, or hw:CARD=..."
    )


def to_monotonic(dac_time: float, current_time: float) -> float:
    """PortAudio's DAC time of a block, on the monotonic clock.

    PortAudio's times are on the clock ALSA timestamps with: CLOCK_MONOTONIC on ``hw:`` devices
    set to it, CLOCK_REALTIME otherwise (through the PulseAudio plugin, for one). Which one is
    told by ``current_time``; the offset between the two clocks is read back to back, so no
    delay in running this callback (the GIL, the scheduler) enters the result. Only a clock
    that is neither falls back to ``now + (dac_time - current_time)``, which does.
    """
    now = time.monotonic()
    if abs(current_time - now) < 1.0:
        return dac_time
    wall = time.time()
    if abs(current_time - wall) < 1.0:
        # Realtime minus monotonic, with the wall reading bracketed by two monotonic ones.
        offset = wall - (now + time.monotonic()) / 2
        return dac_time - offset
    return now + dac_time - current_time


def _cannot_open(kind: str, device: Device, rate: int, e: Exception) -> AudioDeviceError:
    return AudioDeviceError(
        f"{kind} device {device.name!r} cannot be opened at {rate} Hz ({e}); "
        "is another program using it, or does it not support this rate?"
    )


class SoundDeviceStream:
    """An open PortAudio output stream, mono float32, :data:`BLOCK` samples a block."""

    def __init__(self, device: Device, rate: int, latency: float) -> None:
        self._device = device
        self._rate = rate
        self._render: Render | None = None
        self._failed: str | None = None
        self._closing = False
        self._xruns = 0
        try:
            self._stream = sd.OutputStream(
                samplerate=rate,
                blocksize=BLOCK,
                device=device.index,
                channels=1,
                dtype="float32",
                latency=latency,
                callback=self._callback,
                finished_callback=self._finished,
            )
        except (sd.PortAudioError, ValueError) as e:
            raise _cannot_open("output", device, rate, e) from e

    @property
    def rate(self) -> int:
        return self._rate

    @property
    def device(self) -> str:
        return self._device.name

    @property
    def xruns(self) -> int:
        return self._xruns

    @property
    def failed(self) -> str | None:
        return self._failed

    def start(self, render: Render) -> None:
        self._render = render
        try:
            self._stream.start()
        except sd.PortAudioError as e:
            raise AudioDeviceError(f"output device {self.device!r} cannot start ({e})") from e

    def _callback(self, out: np.ndarray, frames: int, times: Any, status: Any) -> None:
        dac_time = to_monotonic(times.outputBufferDacTime, times.currentTime)
        if status.output_underflow:
            self._xruns += 1
        assert self._render is not None
        try:
            self._render(out[:, 0], dac_time)
        except Exception as e:  # a bug: PortAudio stops the stream; the player reports why
            self._failed = f"the audio callback failed on {self.device!r}: {e!r}"
            raise sd.CallbackAbort from e

    def _finished(self) -> None:
        if self._render is not None and not self._closing and self._failed is None:
            self._failed = (
                f"output device {self.device!r} stopped: was it unplugged? Plug it back in "
                "(showctl devices lists the cards present)"
            )

    def close(self) -> None:
        self._closing = True
        with contextlib.suppress(sd.PortAudioError):  # teardown never raises
            self._stream.close(ignore_errors=True)


class SoundDeviceInput:
    """An open PortAudio input stream recording its device's first channel into memory, as
    float32, :data:`INPUT_BLOCK` samples a block: a measurement needs no quick answer, and a
    long block costs the machine the least."""

    def __init__(self, device: Device, rate: int, latency: float = 0.2) -> None:
        self._device = device
        self._rate = rate
        self._blocks: list[np.ndarray] = []
        self._started: float | None = None
        self._overflows = 0
        try:
            self._stream = sd.InputStream(
                samplerate=rate,
                blocksize=INPUT_BLOCK,
                device=device.index,
                channels=1,
                dtype="float32",
                latency=latency,
                callback=self._callback,
            )
        except (sd.PortAudioError, ValueError) as e:
            raise _cannot_open("input", device, rate, e) from e

    @property
    def device(self) -> str:
        return self._device.name

    def start(self) -> None:
        try:
            self._stream.start()
        except sd.PortAudioError as e:
            raise AudioDeviceError(f"input device {self.device!r} cannot start ({e})") from e

    def _callback(self, data: np.ndarray, frames: int, times: Any, status: Any) -> None:
        if self._started is None:
            self._started = to_monotonic(times.inputBufferAdcTime, times.currentTime)
        if status.input_overflow:
            self._overflows += 1
        self._blocks.append(data[:, 0].copy())

    def stop(self) -> Recorded:
        with contextlib.suppress(sd.PortAudioError):  # teardown never raises
            self._stream.close(ignore_errors=True)
        samples = np.concatenate(self._blocks) if self._blocks else np.zeros(0, np.float32)
        started = time.monotonic() if self._started is None else self._started
        return Recorded(samples, self._rate, started, self._overflows)


class SoundDeviceBackend:
    """Opens real output devices through PortAudio."""

    def open(self, query: str, rate: int, latency: float) -> SoundDeviceStream:
        return SoundDeviceStream(find(query), rate, latency)

    def record(self, query: str, rate: int) -> SoundDeviceInput:
        """An input stream on the one input device matching ``query``, not yet started."""
        return SoundDeviceInput(find(query, "input"), rate)
