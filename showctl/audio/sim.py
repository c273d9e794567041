"""A simulated sound card: paced by its own clock, with a clock error and noisy timestamps.

For people without sound cards and for tests of what no real harness can show (drift: the
virtual hub runs every output on one clock). A :class:`SimStream` consumes blocks at its
*true* rate, ``rate * (1 + ppm / 1e6)`` samples a second of the reference clock, and reports
each block's DAC time with Gaussian ``jitter``. It runs in real time on a thread, or, on a
:class:`~showctl.clock.FakeClock`, only when :meth:`SimStream.run_until` is called, as fast as
the machine goes. Everything it plays can be captured to a WAV file.

Like a card whose buffer holds ``latency`` in :data:`PERIODS` periods, the thread wakes once a
period (whole blocks, one at least: three of 256 samples at 40 ms, about as often as a real
card's player on the sound hub wakes) and renders that period's blocks in a row, each asked for
at most one latency before it is heard, then adds them to the capture in one write. A wake-up
and a write for every block made a simulated player cost twice what a real one does.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from pathlib import Path

import numpy as np

from showctl.audio.base import Block, Render
from showctl.clock import Clock, MonotonicClock
from showctl.errors import AudioDeviceError

#: Periods in a simulated card's buffer: how many times a latency its thread wakes up.
PERIODS = 2


class SimStream:
    """One simulated output device. See the module's docstring.

    ``block``: samples a render call fills (the real backend's 256). ``capture``: the WAV file
    that gets what it plays; ``append``: added to the end of it (if it exists) rather than
    begun afresh.
    """

    def __init__(
        self,
        query: str,
        rate: int,
        *,
        clock: Clock,
        ppm: float = 0.0,
        jitter: float = 0.0,
        latency: float = 0.01,
        block: int = 256,
        capture: Path | None = None,
        append: bool = False,
        seed: int = 0,
    ) -> None:
        self._query = query
        self._rate = rate
        self.clock = clock
        self.true_rate = rate * (1.0 + ppm * 1e-6)
        self.jitter = jitter
        self.latency = latency
        self.block = block
        # A period's blocks, rendered in a row into one buffer: the capture writes it at once.
        count = max(1, int(latency * rate / PERIODS) // block)
        self._period = np.zeros(count * block, dtype=np.float32)
        self._blocks = [self._period[i * block : (i + 1) * block] for i in range(count)]
        self.frames = 0  # samples consumed so far
        self._rng = np.random.default_rng(seed)
        self._render: Render | None = None
        self._origin = 0.0
        self._capture = Capture(capture, rate, append=append) if capture else None
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._failed: str | None = None

    @property
    def rate(self) -> int:
        return self._rate

    @property
    def device(self) -> str:
        return f"sim:{self._query}"

    @property
    def xruns(self) -> int:
        return 0  # a simulated device is never starved: it waits for its blocks

    @property
    def failed(self) -> str | None:
        return self._failed

    def dac_time(self, frame: int) -> float:
        """When ``frame`` truly leaves this device's DAC, on the reference clock."""
        return self._origin + frame / self.true_rate

    def start(self, render: Render) -> None:
        self._render = render
        self._origin = self.clock.monotonic() + self.latency
        if isinstance(self.clock, MonotonicClock):
            self._thread = threading.Thread(
                target=self._run, name=f"sim:{self._query}", daemon=True
            )
            self._thread.start()

    def run_until(self, until: float) -> None:
        """Render every block that starts leaving the DAC before ``until`` (fake clocks)."""
        self._play(self._before(until))

    def _before(self, until: float) -> int:
        """How many blocks, from the next one on, start leaving the DAC before ``until``."""
        count = 0
        while self.dac_time(self.frames + count * self.block) < until:
            count += 1
        return count

    def _play(self, count: int) -> None:
        """Render ``count`` blocks in a row, and capture them, a period's at a time."""
        while count > 0 and self._render is not None:
            blocks = self._blocks[:count]
            for block in blocks:
                self._step(block)
            if self._capture is not None:
                self._capture.write(self._period[: len(blocks) * self.block])
            count -= len(blocks)

    def _step(self, block: Block) -> None:
        """Render one block: the render function fills it, told when it is heard."""
        assert self._render is not None
        reported = self.dac_time(self.frames)
        if self.jitter:
            reported += self._rng.normal(0.0, self.jitter)
        # A real device hands over a buffer holding whatever was in it: NaN here, so that a
        # sample the render function leaves unwritten shows in the capture.
        block.fill(np.nan)
        self._render(block, reported)
        self.frames += len(block)

    def _run(self) -> None:
        # Once a period, on absolute deadlines: the blocks asked for by now (each one latency
        # before it is heard), then sleep until a period's more are.
        last = (len(self._blocks) - 1) * self.block
        while not self._closed.is_set():
            try:
                self._play(self._before(time.monotonic() + self.latency))
            except AudioDeviceError as e:  # the capture: the card stops, as one unplugged
                self._failed = str(e)
                return
            delay = self.dac_time(self.frames + last) - self.latency - time.monotonic()
            if delay > 0 and self._closed.wait(delay):
                return

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1)
        self._render = None
        if self._capture is not None:
            self._capture.close()


class Capture:
    """What a simulated card plays, as a mono 32-bit float WAV file, written as it plays: its
    header is brought up to date with every write, so the file is whole at any moment (read
    while the show runs, or after its player was killed). With ``append``, a capture of the
    same rate already there is continued (a restarted player's), else it is begun afresh.
    A WAV file holds at most 4 GiB (6.2 hours at 48 kHz): what plays after is not written.
    Not thread-safe: one thread writes. Raises :class:`AudioDeviceError` if the file cannot
    be opened or written.
    """

    #: RIFF, the format (3: IEEE float; mono; 32 bits) and the data chunk's size.
    HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")
    LIMIT = 2**32 - 1 - HEADER.size  # the most data the RIFF chunk's size can count (bytes)

    def __init__(self, path: Path, rate: int, *, append: bool = False) -> None:
        self._path = path
        self._rate = rate
        self._size = 0  # bytes of samples written
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            if append:
                header = os.pread(self._fd, self.HEADER.size, 0)
                fields = self.HEADER.unpack(header) if len(header) == self.HEADER.size else None
                if fields is not None and self._header(fields[-1]) == header:
                    self._size = fields[-1]
            os.ftruncate(self._fd, self.HEADER.size + self._size)
            os.pwrite(self._fd, self._header(self._size), 0)
        except OSError as e:
            raise self._unwritable(e) from e

    def _header(self, size: int) -> bytes:
        rate = self._rate
        return self.HEADER.pack(
            b"RIFF", 36 + size, b"WAVE", b"fmt ", 16, 3, 1, rate, 4 * rate, 4, 32, b"data", size
        )

    def write(self, samples: Block) -> None:
        """Add ``samples`` at the end of the file, and count them in its header."""
        if self._size + samples.nbytes > self.LIMIT:
            return
        try:
            os.pwrite(self._fd, samples.data, self.HEADER.size + self._size)
            os.pwrite(self._fd, self._header(self._size + samples.nbytes), 0)
        except OSError as e:
            raise self._unwritable(e) from e
        self._size += samples.nbytes

    def _unwritable(self, e: OSError) -> AudioDeviceError:
        return AudioDeviceError(
            f"the capture {self._path} cannot be written ({e.strerror or e}); free some space, "
            "or give --capture a folder that can be written to"
        )

    def close(self) -> None:
        """Close the file (it is whole already). Idempotent."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class SimBackend:
    """Opens :class:`SimStream` devices; any query is found. ``ppm`` may map query → error.

    ``capture``: the WAV file what it plays is written to (a player opens one stream), begun
    afresh, or with ``append`` continued (a restarted player's).
    """

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        ppm: dict[str, float] | None = None,
        jitter: float = 0.0,
        capture: Path | None = None,
        append: bool = False,
        block: int = 256,
    ) -> None:
        self.clock = clock or MonotonicClock()
        self.ppm = ppm or {}
        self.jitter = jitter
        self.capture = capture
        self.append = append
        self.block = block

    def open(self, query: str, rate: int, latency: float = 0.01) -> SimStream:
        return SimStream(
            query,
            rate,
            clock=self.clock,
            ppm=self.ppm.get(query, 0.0),
            jitter=self.jitter,
            latency=latency,
            block=self.block,
            capture=self.capture,
            append=self.append,
            seed=sum(map(ord, query)),
        )
