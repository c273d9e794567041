"""Levels: each output's gain and the show's master gain, as the show file sets them and as the
technician sets them on site.

An output plays at the show's ``gain`` (the master) plus its own ``gain``, in dB; the two together
may not pass 0 dB, so no level set here makes a clip louder than full scale (a sum of effects
is the limiter's, in the player). A level set live (the command ``level``) takes the place of
the show's for that output or the master, is kept in the state file (a reboot keeps what the
technician set) and through a reload, and is shown beside the show's own; ``level NAME show``
goes back to the show's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from showctl.show.model import Show

#: The name of the master level beside the outputs' (a reserved output name).
MASTER = "master"
#: The quietest level (dB); the loudest an output may be set to on its own.
QUIETEST = -60.0
LOUDEST = 12.0


def factor(db: float) -> float:
    """A gain in dB as the factor the samples are multiplied by."""
    return float(10 ** (db / 20))


def parse_db(text: str) -> float | None:
    """``-6``, ``-6dB``, ``+1.5 dB`` as a number of dB; ``None`` if it is not one."""
    text = text.strip().removesuffix("dB").removesuffix("db").strip()
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class Levels:
    """The show's levels and the live ones; :meth:`set` checks a change first."""

    def __init__(self, show: Show) -> None:
        self.show = show
        self.live: dict[str, float] = {}

    def take_up(self, show: Show, live: Mapping[str, float] | None = None) -> None:
        """Follow ``show`` (a reload), keeping the live levels of what it still has."""
        self.show = show
        live = self.live if live is None else live
        self.live = {k: v for k, v in live.items() if k == MASTER or k in show.outputs}

    def master(self) -> float:
        return self.live.get(MASTER, self.show.gain)

    def own(self, output: str) -> float:
        return self.live.get(output, self.show.outputs[output].gain)

    def db(self, output: str) -> float:
        """What ``output`` plays at, in dB: the master and its own."""
        return self.master() + self.own(output)

    def set(self, name: str, db: float | None) -> str | None:
        """Set output ``name``'s level (or the master's: :data:`MASTER`) to ``db``, or back to
        the show's with ``None``; the sentence that refuses it, or ``None`` once done."""
        if name != MASTER and name not in self.show.outputs:
            names = ", ".join([*self.show.outputs, MASTER])
            return f"the show has no output {name[:80]!r}; its levels are: {names}"
        if db is not None:
            top = 0.0 if name == MASTER else LOUDEST
            if not QUIETEST <= db <= top:
                return f"a level is {QUIETEST:g} to {top:+g} dB, not {db:g}"
        before = dict(self.live)
        if db is None:
            self.live.pop(name, None)
        else:
            self.live[name] = db
        loud = [(output, self.db(output)) for output in self.show.outputs if self.db(output) > 0]
        if loud:
            output, total = loud[0]
            why = (
                f"output {output!r} would play at {total:+g} dB (the master at "
                f"{self.master():+g} dB and its own at {self.own(output):+g} dB), above 0 dB, "
                "where a clip can clip; lower one of them"
            )
            self.live = before
            return why
        return None

    def state(self) -> dict[str, Any]:
        """For the status: the master's and each output's level, the show's and the live one
        (``None``: none set), and what each output plays at."""
        return {
            MASTER: {"show": self.show.gain, "live": self.live.get(MASTER)},
            **{
                name: {"show": output.gain, "live": self.live.get(name), "db": self.db(name)}
                for name, output in self.show.outputs.items()
            },
        }
