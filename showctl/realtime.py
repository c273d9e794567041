"""Real-time priority for what a start waits on: a player's command reader, and the controller
while it writes a start's commands.

A scene's T0 is placed a few milliseconds past the moment its commands are written, as far as
they lately took to reach the players. On a busy box a process at normal priority, even at
``Nice=-10``, waits up to 20 ms for a core, and a player woken by the first command takes the
controller's core before the others are written (``tests/bench/loaded_starts.py``, both cores
busy: the lead 95 to 100 ms and starts still cut; with these at real-time priority, 76 to 79 ms and
none). Under ``SCHED_FIFO`` at :data:`PLAYERS` they wait for no ordinary process: above every
one of them, below the kernel's threaded interrupts (priority 50), so a button's edge and the
sound card's interrupt still come first, and below the sound server's threads (PipeWire's are
at 88).

The players' audio threads keep their ordinary priority: at real-time priority, the eight of
them, woken together at every block, kept the LED cues' thread from its frames (p99 2.5 ms
late against 0.7); and the LED thread at real-time priority, above or below them, made the test
hub's recorder lose cycles of its graph.

The systemd unit grants it (``LimitRTPRIO=``); where it is not granted (a desktop, a user
without the limit) the kernel refuses, the caller says so once, and showctl runs at its
ordinary priority.

No logging here: the player process logs without structlog.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

#: The ``SCHED_FIFO`` priority of the players' command readers and of the controller's writing
#: of a start.
PLAYERS = 40
REFUSED = (
    "showctl runs without real-time priority ({error}): on a busy box a start may be cut short; "
    f"run it as systemd/showctl.service does (LimitRTPRIO={PLAYERS}) or grant its user "
    f"rtprio {PLAYERS}"
)


def take() -> str | None:
    """Put the calling thread at :data:`PLAYERS` for good; ``None`` when done, else why not
    (one sentence, with the fix)."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(PLAYERS))
    except OSError as e:
        return REFUSED.format(error=e.strerror)
    return None


def ordinary() -> None:
    """Put the calling thread at the ordinary priority, its nice kept: for a thread that a
    real-time one started and that has no deadline of its own (a clip's reader)."""
    if os.sched_getscheduler(0) != os.SCHED_OTHER:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


class Raise:
    """Raises the calling thread to :data:`PLAYERS` for a block, then puts it back, to write
    commands that must all be written before any is carried out: a player woken by the first,
    at the same priority, cannot take the writer's core. Once refused, it tells
    ``refused`` why and stops asking."""

    def __init__(self, refused: Callable[[str], None]) -> None:
        self._refused = refused
        self._asking = True

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        if not self._asking:
            yield
            return
        policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
        try:
            os.sched_setscheduler(
                0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(PLAYERS)
            )
        except OSError as e:
            self._asking = False
            self._refused(REFUSED.format(error=e.strerror))
            yield
            return
        try:
            yield
        finally:
            os.sched_setscheduler(0, policy, param)  # keeps the thread's nice
