"""The check on the boxes' clocks: each box's wall clock against the leader's, measured over the
boxes' link as NTP does, as a check on the discipline that keeps them together (chrony,
linuxptp), never as its replacement.

The leader sends a box a ping with its wall-clock time ``t1``; the box answers with when it got
it (``t2``) and when it answered (``t3``), on its own wall clock; the leader notes when the
answer came (``t4``). The box's clock is ``((t2 - t1) + (t3 - t4)) / 2`` ahead of the
leader's, to within half the way's asymmetry, and the way took ``(t4 - t1) - (t3 - t2)``. Of
the latest :data:`KEPT` exchanges the one with the shortest way is believed (NTP's clock
filter: a message held up on the way is the one whose asymmetry is largest). A box further off
than the bound (default :data:`BOUND`) is flagged.

``t1`` and ``t3`` are taken before their message is written, ``t2`` and ``t4`` after theirs is
read, on the link's own thread (the box answers there, as the ping comes): a wait between a
stamp and the socket (a thread waiting for Python's interpreter lock, up to its 5 ms switch
interval on a busy box) only ever lengthens the way, so the shortest way's exchange is the one
least held up. (A ``t1`` taken once the ping has left would shorten the way by such a wait, and
the filter would then believe the exchanges held up most: tried, and measured worse.)
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

#: Exchanges kept a box (8 s of them, at the leader's 4 pings a second); the one with the
#: shortest way is believed. On a loaded box the way's two halves differ by up to a
#: millisecond; of more exchanges, the shortest is more nearly even.
KEPT = 32
#: An answer to a ping sent more than this many pings ago (to any box) is out of date.
LATE = 256
#: A box whose clock is further than this (s) from the leader's is flagged: the sync across
#: boxes cannot be better than their clocks.
BOUND = 0.001


@dataclass(frozen=True)
class Exchange:
    """One ping and its answer: the box's clock ahead of the leader's (s), and the way (s)."""

    offset: float
    way: float


def answer(ping: bytes, me: str, got_ns: int, now_ns: int) -> bytes:
    """A box's answer to ``ping``, got at ``got_ns`` and answered at ``now_ns`` (its wall
    clock)."""
    data = json.loads(ping)
    return json.dumps(
        {"box": me, "seq": data["seq"], "t1": data["t1"], "t2": got_ns, "t3": now_ns}
    ).encode()


@dataclass
class Offsets:
    """The leader's side: pings out, answers in, each box's believed offset."""

    bound: float = BOUND
    seq: int = 0
    kept: dict[str, deque[Exchange]] = field(default_factory=dict)

    def ping(self, now_ns: int) -> bytes:
        """A ping, sent at ``now_ns`` (the leader's wall clock)."""
        self.seq += 1
        return json.dumps({"seq": self.seq, "t1": now_ns}).encode()

    def answered(self, payload: bytes, now_ns: int) -> Exchange | None:
        """Take an answer got at ``now_ns``; the exchange, or ``None`` for one that is not an
        answer (counted by the caller) or is out of date (a ping before the latest few)."""
        try:
            data: Any = json.loads(payload)
            box, seq = str(data["box"]), int(data["seq"])
            t1, t2, t3 = (int(data[k]) for k in ("t1", "t2", "t3"))
        except (ValueError, KeyError, TypeError):
            return None
        if seq <= self.seq - LATE:
            return None
        exchange = Exchange(((t2 - t1) + (t3 - now_ns)) / 2e9, ((now_ns - t1) - (t3 - t2)) / 1e9)
        self.kept.setdefault(box, deque(maxlen=KEPT)).append(exchange)
        return exchange

    def believed(self, box: str) -> Exchange | None:
        """The exchange believed for ``box``: of those kept, the shortest way's."""
        kept = self.kept.get(box)
        return min(kept, key=lambda e: e.way) if kept else None

    def state(self) -> dict[str, dict[str, Any]]:
        """Each box's clock against the leader's, for the status: ms ahead, the way, flagged."""
        out = {}
        for box in self.kept:
            best = self.believed(box)
            assert best is not None
            out[box] = {
                "offset_ms": round(best.offset * 1e3, 3),
                "way_ms": round(best.way * 1e3, 3),
                "flagged": abs(best.offset) > self.bound,
            }
        return out
