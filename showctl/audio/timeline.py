"""Where a stream's frames land on the monotonic clock.

A sound card reports, block by block, when the block's first frame will leave the DAC. Each
report is noisy (scheduling, the PulseAudio plugin's latency estimate), but frames leave at the
card's own steady rate, so the reports lie on a line: ``time = a + frame / rate``.
:class:`DacClock` fits that line by least squares with exponential forgetting, in O(1) per block
and with no arrays, so the audio callback can run it. The fitted line says when any frame is
heard (to place a start on the sample) and the card's true rate (to keep it locked to the
timeline: drift).

A fresh fit learns the card's rate over its first seconds, and meanwhile its slope errs by
hundreds of ppm, which the drift lock follows (a millisecond off within seconds, on the test
harness). A player that replaces another on the same card is given the rate the one before it
measured: its fit starts from that rate and leaves it only as far as the reports show.

A stream's timing can jump (an xrun; on a sound server, the graph changing under it): every
report after lies on a line parallel to the old one. A few reports in a row that agree on how
far they are off move the fit's line by that much at once, and it stays ready, for the
renderer to step its content back onto the timeline (the card's rate is the one thing the jump
did not change). Outliers that do not agree mean the fit, not the stream, is wrong: it starts
afresh.
"""

from __future__ import annotations

import math


class DacClock:
    """A line through (frame index, DAC time) reports, forgetting the old over the fit's own
    age while it is younger than ``window`` seconds, and over ``window`` seconds after.

    Not thread-safe: one audio thread calls :meth:`add`, and reads the fit.
    """

    #: Reports further than this from the fit are left out once the fit stands (seconds).
    OUTLIER = 0.002
    #: Reports needed before the fitted slope is used instead of the nominal rate.
    WARMUP = 16
    #: This many outliers in a row, off by the same amount (within JITTER), are a jump of the
    #: stream's timing: the line moves by that much (4 reports: 85 ms at a report a 1024 samples).
    SHIFT_AFTER = 4
    #: This many outliers in a row that do not agree mean the fit is wrong: start afresh.
    RESET_AFTER = 8
    #: A crystal is within a few hundred ppm; a fit claiming more is wrong: start afresh.
    MAX_PPM = 2000.0
    #: Seconds of reports the fit must span before it is ready: a slope fitted over less is
    #: too uncertain to place a start or judge drift by.
    READY_SPAN = 0.75
    #: The same with a known rate (the player before measured it, or the fit before a jump):
    #: only where the line lies is left to learn, and a restarted output sounds sooner.
    READY_SPAN_KNOWN = 0.5
    #: Reports that lie on their line within SURE_RMS (seconds, RMS: a sample at 48 kHz) over
    #: at least WARMUP of them need no longer span: the line is known to a fraction of a sample
    #: where it is used, at the newest reports (a sound server such as PipeWire reports exact
    #: times; a card whose reports wander waits out the spans above).
    SURE_RMS = 20e-6
    #: Seconds at the start of a stream whose reports are ignored: the buffer fills in a burst,
    #: then the stream stalls, and through PulseAudio it runs fast for a while.
    SETTLE = 0.25
    #: With a known rate: how sure it is (ppm), and how far a single report strays (seconds).
    #: The two weigh the known rate against the reports' slope (a Gaussian prior on it).
    KNOWN_PPM = 10.0
    JITTER = 0.0005

    def __init__(
        self, nominal_rate: float, window: float = 30.0, known_ppm: float | None = None
    ) -> None:
        """``known_ppm``: the card's clock error as measured before (by the player before)."""
        self.nominal_rate = nominal_rate
        self._tau = window * nominal_rate  # forgetting constant, in frames
        self._prior_slope = 1.0 / (nominal_rate * (1.0 + (known_ppm or 0.0) * 1e-6))
        # A known rate's weight, in the units of the centred sum of squared frames.
        self._known_weight = (self.JITTER * nominal_rate / (self.KNOWN_PPM * 1e-6)) ** 2
        self._prior = 0.0 if known_ppm is None else self._known_weight
        self.resets = 0
        self.shifts = 0
        self._outliers: list[tuple[int, float, float]] = []  # in a row: (frame, time, off by)
        self._stream_start: int | None = None
        self._reset()

    def _reset(self) -> None:
        self._count = 0
        self._first = 0  # the frame of the first report since the (re)start
        self._x0 = 0  # the frame index the sums are centred on (the newest report)
        self._y0 = 0.0
        self._w = self._sx = self._sy = self._sxx = self._sxy = self._syy = 0.0
        self._slope = self._prior_slope  # the fit, kept up to date by _include
        self._at_centre = 0.0

    @property
    def placed(self) -> bool:
        """Whether a report has placed the line (its slope is the nominal rate until warm)."""
        return self._count > 0

    @property
    def warm(self) -> bool:
        """Whether there are reports enough to fit a slope at all."""
        return self._count >= self.WARMUP

    @property
    def ready(self) -> bool:
        """Whether the fit spans enough time to be trusted (to place starts by)."""
        if not self.warm:
            return False
        span = self.READY_SPAN_KNOWN if self._prior else self.READY_SPAN
        return self._x0 - self._first >= span * self.nominal_rate or self._rms() <= self.SURE_RMS

    def _rms(self) -> float:
        """The reports' RMS distance from the fitted line (seconds, weighted as the fit)."""
        w, sx, sy = self._w, self._sx, self._sy
        sxx, sxy, syy = self._sxx - sx * sx / w, self._sxy - sx * sy / w, self._syy - sy * sy / w
        b = self._slope
        return math.sqrt(max(0.0, syy - 2 * b * sxy + b * b * sxx) / w)

    def add(self, frame: int, dac_time: float) -> None:
        """Take the report that frame ``frame`` leaves the DAC at ``dac_time`` (monotonic s)."""
        if self._stream_start is None:
            self._stream_start = frame
        if frame - self._stream_start < self.SETTLE * self.nominal_rate:
            return
        off = dac_time - self.time_of(frame)
        if self.ready and abs(off) > self.OUTLIER:
            self._outliers.append((frame, dac_time, off))
            offs = [o for _, _, o in self._outliers]
            if len(offs) >= self.SHIFT_AFTER and max(offs) - min(offs) <= self.JITTER:
                self._shift(sum(offs) / len(offs))
            elif len(offs) >= self.RESET_AFTER:
                # The fit is wrong (or the timing jumps still): start afresh from the rate it
                # had measured, if over a whole window (a young stream's slope errs by hundreds
                # of ppm, and would be held there).
                self._restart(keep_rate=self._x0 - self._first >= self._tau)
                self._include(frame, dac_time)
                self._outliers.clear()
            return
        self._outliers.clear()
        self._include(frame, dac_time)
        if self.ready and abs(self._fitted_ppm()) > self.MAX_PPM:
            self._restart(keep_rate=False)
            self._include(frame, dac_time)

    def _shift(self, by: float) -> None:
        """Move the line by ``by`` seconds and take in the outliers that showed it: the sums are
        centred on the newest report, so moving that report's time moves every report's."""
        self._y0 += by
        for frame, dac_time, _ in self._outliers:
            self._include(frame, dac_time)
        self._outliers.clear()
        self.shifts += 1

    def _restart(self, keep_rate: bool) -> None:
        if keep_rate:
            self._prior_slope, self._prior = self._slope, self._known_weight
        self._reset()
        self.resets += 1

    def _include(self, frame: int, dac_time: float) -> None:
        if self._count == 0:
            self._x0, self._y0 = frame, dac_time
            self._first = frame
        # Forget with the fit's age until it reaches the window: a young stream's first
        # reports are its worst (through PulseAudio they settle over tens of seconds).
        tau = min(self._tau, max(frame - self._first, self.nominal_rate))
        decay = math.exp(-(frame - self._x0) / tau)
        dx, dy = float(frame - self._x0), dac_time - self._y0
        w, sx, sy = self._w * decay, self._sx * decay, self._sy * decay
        sxx, sxy, syy = self._sxx * decay, self._sxy * decay, self._syy * decay
        # Move the centre to the new report (x -= dx, y -= dy), then add the report at (0, 0).
        self._sxx = sxx - 2 * dx * sx + w * dx * dx
        self._sxy = sxy - dx * sy - dy * sx + w * dx * dy
        self._syy = syy - 2 * dy * sy + w * dy * dy
        self._sx = sx - w * dx
        self._sy = sy - w * dy
        self._w = w + 1.0
        self._x0, self._y0 = frame, dac_time
        self._count += 1
        self._slope = self._fitted_slope()
        self._at_centre = (self._sy - self._slope * self._sx) / self._w

    def _fitted_slope(self) -> float:
        """The least-squares slope (seconds a frame), drawn towards the known rate if there is
        one; before warm-up, the known rate (or the nominal one)."""
        w, sx, sy = self._w, self._sx, self._sy
        sxx = self._sxx - sx * sx / w if w > 0 else 0.0  # centred on the reports' mean
        sxy = self._sxy - sx * sy / w if w > 0 else 0.0
        if self.warm and sxx + self._prior > 0:
            return (sxy + self._prior * self._prior_slope) / (sxx + self._prior)
        return self._prior_slope

    def _fitted_ppm(self) -> float:
        return (1.0 / (self._slope * self.nominal_rate) - 1.0) * 1e6

    def time_of(self, frame: int) -> float:
        """When ``frame`` leaves (or left) the DAC, on the monotonic clock."""
        return self._y0 + self._at_centre + self._slope * (frame - self._x0)

    @property
    def rate(self) -> float:
        """The card's measured rate in frames per monotonic second."""
        return 1.0 / self._slope

    @property
    def ppm(self) -> float:
        """The card's clock error against the monotonic clock, in parts per million."""
        return (self.rate / self.nominal_rate - 1.0) * 1e6
