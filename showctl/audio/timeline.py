"""Where a stream's frames land on the monotonic clock.

A sound card reports, block by block, when the block's first frame will leave the DAC. Each
report is noisy (scheduling, the PulseAudio plugin's latency estimate), but frames leave at the
card's own steady rate, so the reports lie on a line: ``time = a + frame / rate``. :class:`DacClock`
fits that line by least squares with exponential forgetting, in O(1) per block and with no
arrays, so the audio callback can run it. The fitted line says when any frame is heard (to place a
start on the sample) and the card's true rate (to keep it locked to the timeline: drift).
"""

from __future__ import annotations

import math


class DacClock:
    """A line through (frame index, DAC time) reports, forgetting the old with ``window`` seconds.

    Not thread-safe: one audio thread calls :meth:`add`, and reads the fit.
    """

    #: Reports further than this from the fit are left out once the fit stands (seconds).
    OUTLIER = 0.002
    #: Reports needed before the fitted slope is used instead of the nominal rate.
    WARMUP = 16

    def __init__(self, nominal_rate: float, window: float = 5.0) -> None:
        self.nominal_rate = nominal_rate
        self._tau = window * nominal_rate  # forgetting constant, in frames
        self._count = 0
        self._x0 = 0  # the frame index the sums are centred on (the newest report)
        self._y0 = 0.0
        self._w = self._sx = self._sy = self._sxx = self._sxy = 0.0

    @property
    def ready(self) -> bool:
        """Whether enough reports have come in for the fit to be trusted."""
        return self._count >= self.WARMUP

    def add(self, frame: int, dac_time: float) -> None:
        """Take the report that frame ``frame`` leaves the DAC at ``dac_time`` (monotonic s)."""
        if self._count and self.ready and abs(dac_time - self.time_of(frame)) > self.OUTLIER:
            return
        if self._count == 0:
            self._x0, self._y0 = frame, dac_time
        decay = math.exp(-(frame - self._x0) / self._tau)
        dx, dy = float(frame - self._x0), dac_time - self._y0
        w, sx, sy = self._w * decay, self._sx * decay, self._sy * decay
        sxx, sxy = self._sxx * decay, self._sxy * decay
        # Move the centre to the new report (x -= dx, y -= dy), then add the report at (0, 0).
        self._sxx = sxx - 2 * dx * sx + w * dx * dx
        self._sxy = sxy - dx * sy - dy * sx + w * dx * dy
        self._sx = sx - w * dx
        self._sy = sy - w * dy
        self._w = w + 1.0
        self._x0, self._y0 = frame, dac_time
        self._count += 1

    def _fit(self) -> tuple[float, float]:
        """Slope (seconds a frame) and the fitted time at the centre frame."""
        w, sx, sy = self._w, self._sx, self._sy
        denominator = w * self._sxx - sx * sx
        if self.ready and denominator > 0:
            slope = (w * self._sxy - sx * sy) / denominator
        else:
            slope = 1.0 / self.nominal_rate
        return slope, (sy - slope * sx) / w

    def time_of(self, frame: int) -> float:
        """When ``frame`` leaves (or left) the DAC, on the monotonic clock."""
        slope, at_centre = self._fit()
        return self._y0 + at_centre + slope * (frame - self._x0)

    @property
    def rate(self) -> float:
        """The card's measured rate in frames per monotonic second."""
        return 1.0 / self._fit()[0]

    @property
    def ppm(self) -> float:
        """The card's clock error against the monotonic clock, in parts per million."""
        return (self.rate / self.nominal_rate - 1.0) * 1e6
