"""The show's relays on their GPIO lines: safe states, the longest on-time, the emergency
latch, and a thread that switches them on the scene's timeline.

A relay's ``safe`` state is where showctl holds it whenever it is not sure the show wants
otherwise: the lines are requested in it (from the request itself, so there is no moment out of
it), put back in it when the show stops, on the fault state and on an emergency, and left in it
when showctl lets them go. ``max_on`` is kept whatever asks: every time a relay is powered, its
cut is due that long after it went on, and only unpowering it earlier takes the cut back.

The emergency latch puts every relay in its safe state at once and holds it there: until
:meth:`Relays.all_clear`, every change away from safe is refused (a command) or dropped and
logged (the show's own actions), and the changes waiting on the timeline are forgotten.

Changes due at a time (the scene's timeline, a pulse's end, a ``max_on`` cut) wait in a heap
for the relays' thread, which switches each at its deadline on the monotonic clock (T0 is when
the scene's sound is heard, as for the LEDs), those due together on a chip in one change, and
logs them after. Methods are safe to call from any thread.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from showctl.clock import Clock, MonotonicClock
from showctl.errors import GpioError
from showctl.gpio.base import GpioBackend, OutputLines, chip_path
from showctl.show.model import Relay

logger = structlog.get_logger()

#: The thread checks in with the liveness gate at least this often (s), as the LED thread does.
CHECK_IN = 0.25


@dataclass(order=True)
class _Change:
    """A change waiting for its time. ``entry``: the scene entry of a timeline change, which a
    scene left forgets; ``None`` for a pulse's end or a ``max_on`` cut, which always come."""

    due: float
    seq: int
    relay: str = field(compare=False)
    powered: bool = field(compare=False)
    why: str = field(compare=False)
    entry: int | None = field(compare=False, default=None)
    pulse: float | None = field(compare=False, default=None)  # a timeline pulse: its length


class Bank(Protocol):
    """The relays the controller switches: a box's own (:class:`Relays`), or every relay of a
    show across boxes (:class:`showctl.multibox.relays.SpreadRelays`)."""

    on_change: Callable[[], None]

    @property
    def specs(self) -> Mapping[str, Relay]: ...
    @property
    def powered(self) -> Mapping[str, bool]: ...
    @property
    def emergency(self) -> str | None: ...
    @property
    def failed(self) -> str | None: ...

    def power(self, name: str, why: str = "command") -> str | None: ...
    def unpower(self, name: str, why: str = "command") -> str | None: ...
    def pulse(self, name: str, seconds: float, why: str = "command") -> str | None: ...
    def at(
        self, due: float, name: str, powered: bool, entry: int, pulse: float | None = None
    ) -> None: ...
    def forget(self) -> None: ...
    def make_safe(self, why: str) -> None: ...
    def latch(self, why: str) -> None: ...
    def all_clear(self) -> bool: ...
    def refusal(self, name: str, powered: bool, pulse: float | None = None) -> str | None: ...


class Relays:
    """The relays of a show, held in their safe states from the start. ``start()`` the thread
    that switches them at their times; ``close()`` puts them safe and lets them go."""

    def __init__(
        self,
        relays: Mapping[str, Relay],
        gpio: GpioBackend,
        clock: Clock | None = None,
        *,
        log: bool = True,
    ) -> None:
        """``log``: say what the relays do (not for an image of relays elsewhere)."""
        self._log = logger if log else structlog.wrap_logger(structlog.ReturnLogger(), [])
        self.specs = dict(relays)
        self.clock = clock or MonotonicClock()
        #: Told "relays" as the thread goes round (the liveness gate's check_in).
        self.check_in: Callable[[str], None] = lambda loop: None
        #: Called after every change of a relay, the latch or a failure (on the thread that
        #: made it; it must not block).
        self.on_change: Callable[[], None] = lambda: None
        self.powered = {name: spec.safe == "powered" for name, spec in self.specs.items()}
        #: Why the emergency latch holds every relay safe, or ``None``; since when (wall ns).
        self.emergency: str | None = None
        self.latched_ns = 0
        #: Why a chip's relays cannot be switched any more, or ``None``.
        self.failed: str | None = None
        self._lock = threading.RLock()
        self._waiting: list[_Change] = []
        self._seq = itertools.count()
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="relays", daemon=True)
        self._lines: dict[str, OutputLines] = {}
        by_chip: dict[str, list[str]] = {}
        for name, spec in self.specs.items():
            by_chip.setdefault(chip_path(spec.chip), []).append(name)
        try:
            for chip, names in by_chip.items():
                specs = [self.specs[n] for n in names]
                self._lines[chip] = gpio.request_outputs(
                    chip,
                    [s.line for s in specs],
                    active_low=[s.line for s in specs if s.active_low],
                    rest={s.line: s.safe == "powered" for s in specs},
                )
        except GpioError:
            self._release()
            raise
        for name, spec in self.specs.items():
            self._log.info("relay_safe", relay=name, powered=spec.safe == "powered", why="start")

    # --- what the show and the game master ask -------------------------------------------

    def power(self, name: str, why: str = "command") -> str | None:
        """Power ``name`` now (its ``max_on`` cut due from when it went on); ``None``, or the
        sentence of why it is refused (the emergency latch)."""
        return self._switch(name, True, why)

    def unpower(self, name: str, why: str = "command") -> str | None:
        """Unpower ``name`` now; ``None``, or why it is refused."""
        return self._switch(name, False, why)

    def pulse(self, name: str, seconds: float, why: str = "command") -> str | None:
        """Power ``name`` now and unpower it ``seconds`` later; ``None``, or the sentence of
        why it is refused (the emergency latch, or a pulse longer than the relay's
        ``max_on``)."""
        return self._switch(name, True, why, pulse=seconds)

    def at(
        self, due: float, name: str, powered: bool, entry: int, pulse: float | None = None
    ) -> None:
        """Switch ``name`` at ``due`` (monotonic s), for the scene entry ``entry`` (a scene left
        forgets it, :meth:`forget`); with ``pulse``, power it then and unpower it that long
        after ``due``."""
        with self._lock:
            self._wait(due, name, powered, "timeline", entry=entry, pulse=pulse)

    def forget(self) -> None:
        """Forget the timeline's changes not yet made (the scene is left, or paused). A pulse
        that has begun keeps its end, and every ``max_on`` cut stays."""
        with self._lock:
            self._waiting = [c for c in self._waiting if c.entry is None]
            heapq.heapify(self._waiting)

    def make_safe(self, why: str) -> None:
        """Put every relay in its safe state now and forget every change waiting (the show
        stops, or faults). The show may switch them again after."""
        with self._lock:
            self._waiting.clear()
            self._set([(name, spec.safe == "powered", why) for name, spec in self.specs.items()])
        self._wake.set()

    def latch(self, why: str) -> None:
        """The emergency: every relay safe now, and held so until :meth:`all_clear`."""
        with self._lock:
            first = self.emergency is None
            if first:
                self.emergency, self.latched_ns = why, time.time_ns()
            self.make_safe("emergency")
        if first:
            self._log.critical("emergency", reason=why)
        self.on_change()

    def all_clear(self) -> bool:
        """Lift the emergency latch (the relays stay safe until the show switches them);
        whether it was latched."""
        with self._lock:
            was, self.emergency = self.emergency, None
        if was is not None:
            self._log.warning("emergency_cleared", was=was)
            self.on_change()
        return was is not None

    # --- the thread -----------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def due(self) -> float | None:
        """When the next change is due (monotonic s), or ``None``."""
        with self._lock:
            return self._waiting[0].due if self._waiting else None

    def step(self) -> int:
        """Make the changes due by now: the lines of a chip in one change, then the log; how
        many (the thread calls this)."""
        batch: list[tuple[str, bool, str]] = []
        pulses: list[tuple[str, float]] = []  # (relay, when its pulse ends)
        said: list[tuple[str, dict[str, object]]] = []  # logged once the lines are set
        with self._lock:
            now = self.clock.monotonic()
            while self._waiting and self._waiting[0].due <= now:
                change = heapq.heappop(self._waiting)
                name = change.relay
                if change.why == "max_on":
                    batch.append((name, False, "max_on"))
                    said.append(
                        ("relay_max_on", {"relay": name, "max_on": self.specs[name].max_on})
                    )
                    continue
                refusal = self.refusal(name, change.powered, change.pulse)
                if refusal is not None:
                    said.append(("relay_change_dropped", {"relay": name, "why": refusal}))
                    continue
                batch.append((name, change.powered, change.why))
                if change.pulse is not None:
                    pulses.append((name, change.due + change.pulse))
            self._set(batch)  # the lines first; what waits, and the log, after
            for name, end in pulses:  # a pulse of the timeline takes over from one running
                self._forget_pulse(name)
                self._wait(end, name, False, "pulse end")
        for event, data in said:
            self._log.warning(event, **data)
        return len(batch)

    def close(self) -> None:
        """Stop the thread, put every relay safe and let the lines go. Idempotent."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            self._waiting.clear()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        for name, spec in self.specs.items():
            self.powered[name] = spec.safe == "powered"
        self._release()  # each request back at rest, the safe states, then let go
        self._log.info("relays_released", relays=len(self.specs))

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._stopping:
                    return
            self.check_in("relays")
            self._wake.clear()  # before looking: a change from now on wakes the wait
            due = self.due()
            delay = CHECK_IN if due is None else min(CHECK_IN, due - self.clock.monotonic())
            if delay > 0 and self._wake.wait(delay):
                continue
            self.step()

    # --- inside ---------------------------------------------------------------------------

    def _switch(
        self, name: str, powered: bool, why: str, *, pulse: float | None = None
    ) -> str | None:
        """Switch ``name`` now, taking over from a pulse of it (with ``pulse``, a new one);
        ``None``, or the sentence of why it is refused."""
        with self._lock:
            refusal = self.refusal(name, powered, pulse)
            if refusal is None:
                self._set([(name, powered, why)])
                self._forget_pulse(name)
                if pulse is not None:
                    self._wait(self.clock.monotonic() + pulse, name, False, "pulse end")
        self._wake.set()
        return refusal

    def pulse_left(self, name: str) -> float | None:
        """How long (s) the pulse ``name`` is in has left, or ``None`` if it is in none."""
        with self._lock:
            ends = [c.due for c in self._waiting if c.relay == name and c.why == "pulse end"]
        return max(0.0, min(ends) - self.clock.monotonic()) if ends else None

    def refusal(self, name: str, powered: bool, pulse: float | None = None) -> str | None:
        """Why switching ``name`` (for a ``pulse``) is refused now, or ``None``."""
        limit = self.specs[name].max_on
        if pulse is not None and limit is not None and pulse > limit:
            return (
                f"a pulse of {pulse:g}s is longer than {name!r} may stay powered (its max_on, "
                f"{limit:g}s); pulse it for {limit:g}s or less"
            )
        if self.emergency is not None and powered != (self.specs[name].safe == "powered"):
            return (
                f"the emergency release holds every relay in its safe state "
                f"({self.emergency}); clear it first (all-clear), then switch {name!r}"
            )
        return None

    def _forget_pulse(self, name: str) -> None:
        """Take back the end of a pulse of ``name``: a new switch takes over."""
        self._waiting = [c for c in self._waiting if not (c.relay == name and c.why == "pulse end")]
        heapq.heapify(self._waiting)

    def _set(self, batch: list[tuple[str, bool, str]]) -> None:
        """Drive the lines (under the lock), each chip's in one change, then keep the state,
        ``max_on`` and the log. A later change of a relay in ``batch`` wins."""
        by_chip: dict[str, dict[int, bool]] = {}
        for name, powered, _ in batch:
            spec = self.specs[name]
            by_chip.setdefault(chip_path(spec.chip), {})[spec.line] = powered
        for chip, values in by_chip.items():
            try:
                self._lines[chip].set(values)
            except GpioError as e:
                if self.failed is None:
                    self.failed = str(e)
                    self._log.error("relays_failed", chip=chip, reason=self.failed)
                    self.on_change()
                return
        now = self.clock.monotonic()
        changed = False
        for name, powered, why in batch:
            if powered == self.powered[name]:
                continue
            changed = True
            self.powered[name] = powered
            self._log.info("relay_switched", relay=name, powered=powered, why=why)
            self._waiting = [
                c for c in self._waiting if not (c.relay == name and c.why == "max_on")
            ]
            heapq.heapify(self._waiting)
            max_on = self.specs[name].max_on
            if powered and max_on is not None:
                self._wait(now + max_on, name, False, "max_on")
        if changed:
            self.on_change()

    def _wait(
        self,
        due: float,
        name: str,
        powered: bool,
        why: str,
        *,
        entry: int | None = None,
        pulse: float | None = None,
    ) -> None:
        change = _Change(due, next(self._seq), name, powered, why, entry, pulse)
        heapq.heappush(self._waiting, change)
        self._wake.set()

    def _release(self) -> None:
        for lines in self._lines.values():
            lines.close()
