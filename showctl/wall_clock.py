"""The wall clock: whether it can be trusted, and when it is stepped.

A box without a real-time clock boots with the time it last saved (or 1970), and has the right
time only once NTP (chrony, systemd-timesyncd) has set it, perhaps minutes later, perhaps never
(no network). Opening hours that acted on the clock before then would play the wrong show (FPP
issue #1669). So the clock is trusted only once, by the settings' ``[clock] trust``:

- ``synchronised`` (the default): the kernel says it is synchronised: ``adjtimex``'s state is
  not ``TIME_ERROR`` (chrony, systemd-timesyncd, ntpd and phc2sys all clear it);
- ``rtc``: that, or the box's battery-backed real-time clock (``/sys/class/rtc/rtc0``) is
  readable and agrees with the system clock within :data:`RTC_AGREES` seconds;
- ``always``: from the start (a box whose clock is kept by something showctl cannot see, such
  as a virtual machine's host).

Whatever the rule, a clock before :data:`FLOOR` (a box that lost its time) is not trusted. Once
trusted, the clock stays so while showctl runs: between synchronisations it runs on well, as NTP
has trimmed it (the kernel marks it unsynchronised again after hours without NTP, long before
it is minutes wrong). :meth:`WallClock.look` also tells when the clock was stepped (by NTP at
last, or by hand), so that whatever was worked out from it is worked out again.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import structlog

logger = structlog.get_logger()

Trust = Literal["synchronised", "rtc", "always"]
#: Before this (2026-01-01 UTC), the wall clock is wrong whatever else says.
FLOOR = 1_767_225_600.0
#: How far the system clock may be from the real-time clock for ``rtc`` to trust it (s).
RTC_AGREES = 5.0
#: A change of the wall clock against the monotonic clock larger than this is a step (s).
STEP = 2.0
#: The real-time clock's time as the kernel reads it (seconds since the epoch).
RTC_SECONDS = Path("/sys/class/rtc/rtc0/since_epoch")

TIME_ERROR = 5  # adjtimex: the clock is not synchronised


class _Timex(ctypes.Structure):
    """``struct timex`` of Linux (``<sys/timex.h>``), as ``adjtimex(2)`` fills it."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("padding", ctypes.c_int * 11),
    ]


@dataclass(frozen=True)
class KernelClock:
    """What the kernel says of the system clock: synchronised or not, and its own estimate of
    its error (s; ``None``: unknown)."""

    synchronised: bool
    error: float | None = None


def kernel_clock() -> KernelClock:
    """Ask the kernel (``adjtimex`` with no change: any user may). Never raises: a system
    without it says not synchronised."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        timex = _Timex()
        state = libc.adjtimex(ctypes.byref(timex))
    except (OSError, AttributeError):
        return KernelClock(False)
    if state < 0 or state == TIME_ERROR:
        return KernelClock(False)
    return KernelClock(True, timex.esterror / 1e6)


def rtc_time() -> float | None:
    """The real-time clock's time (seconds since the epoch), or ``None``: no RTC, or it cannot
    be read (a flat battery)."""
    try:
        return float(RTC_SECONDS.read_text())
    except (OSError, ValueError):
        return None


class WallClock:
    """The wall clock, judged by ``trust``: :meth:`look` once a second or so.

    ``wall`` and ``monotonic`` are the two clocks (injected in tests); ``kernel`` and ``rtc``
    read what the system says (:func:`kernel_clock`, :func:`rtc_time`)."""

    def __init__(
        self,
        trust: Trust = "synchronised",
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        kernel: Callable[[], KernelClock] = kernel_clock,
        rtc: Callable[[], float | None] = rtc_time,
    ) -> None:
        self.trust = trust
        self.wall = wall
        self.monotonic = monotonic
        self._kernel = kernel
        self._rtc = rtc
        self.trusted = False
        self.why = "not looked at yet"
        self.since = self.monotonic()  # when trusted changed (monotonic s)
        self._offset: float | None = None  # wall minus monotonic at the last look

    def look(self) -> float | None:
        """Judge the clock again (logged when that changes: ``wall_clock_trusted``, or
        ``wall_clock_untrusted`` at the start); the step the wall clock made since the last
        look (s, logged as ``wall_clock_stepped``), or ``None``."""
        wall, now = self.wall(), self.monotonic()
        offset = wall - now
        step = None if self._offset is None else offset - self._offset
        self._offset = offset
        if step is not None and abs(step) > STEP:
            logger.warning("wall_clock_stepped", seconds=round(step, 3), trusted=self.trusted)
        else:
            step = None
        if not self.trusted:
            trusted, why = self.judge()
            if trusted or why != self.why:
                self.trusted, self.why, self.since = trusted, why, now
                if trusted:
                    logger.info("wall_clock_trusted", why=why)
                else:
                    logger.warning(
                        "wall_clock_untrusted", why=why, fix="see the README's section on clocks"
                    )
        return step

    def judge(self) -> tuple[bool, str]:
        """Whether the clock is to be trusted now by the rule, and why; logs nothing."""
        wall = self.wall()
        if wall < FLOOR:
            return False, "the clock is before 2026: the box has lost its time"
        if self.trust == "always":
            return True, "the settings trust it (clock.trust = always)"
        if self._kernel().synchronised:
            return True, "the kernel says it is synchronised (NTP)"
        if self.trust == "rtc":
            rtc = self._rtc()
            if rtc is not None and abs(rtc - wall) <= RTC_AGREES:
                return True, "it agrees with the real-time clock (clock.trust = rtc)"
            if rtc is None:
                return False, "not synchronised, and the real-time clock cannot be read"
            return False, f"not synchronised, and {rtc - wall:+.0f} s from the real-time clock"
        return False, "the kernel says it is not synchronised (no NTP server reached yet)"

    def state(self) -> dict[str, Any]:
        """For the status: trusted or not, why, and since when (wall-clock s)."""
        since = self.wall() - (self.monotonic() - self.since)
        return {"trusted": self.trusted, "why": self.why, "since": round(since, 3)}
