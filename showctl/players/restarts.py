"""When a player that ended or hung is started again, and when its output is given up on.

The rules are data (:class:`RestartPolicy`) and one pure function (:func:`next_restart`): the
pool asks it, with the times of the output's recent restarts and the time now, and sleeps what
it answers. Nothing here reads a clock or sleeps, so the rules are tested on plain numbers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RestartPolicy:
    """How the pool keeps players alive (seconds, and counts)."""

    #: Restarts of one output allowed within ``window`` before it is failed.
    budget: int = 5
    window: float = 60.0
    #: The first restart in the window is at once; the second waits ``backoff_first``, and
    #: each one after twice as long as the one before, at most ``backoff_max``.
    backoff_first: float = 0.1
    backoff_max: float = 8.0
    #: How often a failed output is tried again (a card plugged back in is taken up then).
    retry_failed: float = 60.0
    #: How often a player whose card is missing at start is tried again, while the pool waits.
    card_poll: float = 1.0
    #: A ready player sends a heartbeat twice a second; one silent this long is hung.
    heartbeat_timeout: float = 2.0


@dataclass(frozen=True)
class Restart:
    """What to do about an output whose player ended: wait ``wait`` seconds, then start a
    fresh player; ``fail``: first report the output failed (the wait is then the retry's).
    ``recent`` is the restarts in the window to keep, this one not yet among them."""

    wait: float
    fail: bool
    recent: tuple[float, ...]


def next_restart(
    policy: RestartPolicy, recent: tuple[float, ...], now: float, *, fail: bool = False
) -> Restart:
    """The restart of an output whose restarts so far were at ``recent`` (clock seconds), at
    ``now``; ``fail``: the output is failed whatever the budget (its card never came)."""
    kept = tuple(t for t in recent if now - t < policy.window)
    if fail or len(kept) >= policy.budget:
        return Restart(policy.retry_failed, True, ())  # a retry starts a fresh window
    if not kept:
        return Restart(0.0, False, kept)
    wait = min(policy.backoff_max, policy.backoff_first * 2 ** (len(kept) - 1))
    return Restart(wait, False, kept)
