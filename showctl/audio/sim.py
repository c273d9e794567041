"""A simulated sound card: paced by its own clock, with a clock error and noisy timestamps.

For people without sound cards and for tests of what no real harness can show (drift: the
virtual hub runs every output on one clock). A :class:`SimStream` consumes blocks at its
*true* rate, ``rate * (1 + ppm / 1e6)`` samples a second of the reference clock, and reports
each block's DAC time with Gaussian ``jitter``. It runs in real time on a thread, or, on a
:class:`~showctl.clock.FakeClock`, only when :meth:`SimStream.run_until` is called, as fast as
the machine goes. Everything it plays can be captured to a WAV file.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import soundfile

from showctl.audio.base import Render
from showctl.clock import Clock, MonotonicClock


class SimStream:
    """One simulated output device. See the module's docstring."""

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
        seed: int = 0,
    ) -> None:
        self._query = query
        self._rate = rate
        self.clock = clock
        self.true_rate = rate * (1.0 + ppm * 1e-6)
        self.jitter = jitter
        self.latency = latency
        self.block = np.zeros(block, dtype=np.float32)
        self.frames = 0  # samples consumed so far
        self._rng = np.random.default_rng(seed)
        self._render: Render | None = None
        self._origin = 0.0
        self._capture = (
            soundfile.SoundFile(str(capture), "w", samplerate=rate, channels=1, subtype="FLOAT")
            if capture
            else None
        )
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

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
        return None

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
        while self._render is not None and self.dac_time(self.frames) < until:
            self._step()

    def _step(self) -> None:
        assert self._render is not None
        reported = self.dac_time(self.frames)
        if self.jitter:
            reported += self._rng.normal(0.0, self.jitter)
        # A real device hands over a buffer holding whatever was in it: NaN here, so that a
        # sample the render function leaves unwritten shows in the capture.
        self.block.fill(np.nan)
        self._render(self.block, reported)
        if self._capture is not None:
            self._capture.write(self.block)
        self.frames += len(self.block)

    def _run(self) -> None:
        # Each block is asked for one latency before it is heard, on absolute deadlines.
        while not self._closed.is_set():
            due = self.dac_time(self.frames) - self.latency
            delay = due - time.monotonic()
            if delay > 0 and self._closed.wait(delay):
                return
            self._step()

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1)
        self._render = None
        if self._capture is not None:
            self._capture.close()
            self._capture = None


class SimBackend:
    """Opens :class:`SimStream` devices; any query is found. ``ppm`` may map query → error."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        ppm: dict[str, float] | None = None,
        jitter: float = 0.0,
        capture_dir: Path | None = None,
        block: int = 256,
    ) -> None:
        self.clock = clock or MonotonicClock()
        self.ppm = ppm or {}
        self.jitter = jitter
        self.capture_dir = capture_dir
        self.block = block

    def open(self, query: str, rate: int, latency: float = 0.01) -> SimStream:
        capture = None
        if self.capture_dir is not None:
            self.capture_dir.mkdir(parents=True, exist_ok=True)
            capture = self.capture_dir / f"{_safe(query)}.wav"
        return SimStream(
            query,
            rate,
            clock=self.clock,
            ppm=self.ppm.get(query, 0.0),
            jitter=self.jitter,
            latency=latency,
            block=self.block,
            capture=capture,
            seed=sum(map(ord, query)),
        )


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
