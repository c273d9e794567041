"""The relays of a show across boxes, switched by the leader as one bank.

The leader's controller switches every relay of the show as it switches its own (the
:class:`~showctl.room.relays.Bank` seam). :class:`SpreadRelays` is that bank for a show across
boxes: the leader's own relays (``local``) are switched here; another box's are switched by
that box, told by a :class:`~.messages.Switch` command on its ``relays`` topic (in order, not
retained). Each box keeps its relays' safe states, ``max_on`` and emergency latch itself,
whatever the link does; what its relays are is what it reports (:meth:`SpreadRelays.reported`).

The leader keeps what it wants of the other boxes' relays in ``intended``, relays of its own
on no lines, switched exactly as the boxes' are (the same timeline, pulses and ``max_on``
cuts). A box heard for the first time since the leader started is told each of its relays'
intended state (:meth:`SpreadRelays.again`): the show's first scene may have switched them
before the link was up. A box heard again after it was gone (it restarted, or was cut off and
latched) keeps its relays as they are, safe, as the relays of a box that restarts do, and the
leader takes that as what it wants (the game master switches them again). Nothing is retained
on the broker for relays: a box never takes up a lock from a message a dead leader left.

The emergency is one for the room: the leader's latch is sent to every box, and a box that
latched on its own (an emergency input wired to it, or its leader lost: see
:class:`~.follower.Follower`) sets off the leader's latch, so every relay of every box is safe.
The game master's all-clear lifts it on every box.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from showctl.gpio.sim import SimGpio
from showctl.multibox import messages
from showctl.multibox.wallclock import WallClock
from showctl.room.relays import Relays
from showctl.show.model import Relay, Show

#: Sends a command to a box's ``relays`` topic: ``command(box, switch)``.
Command = Callable[[str, messages.Switch], None]


@dataclass
class _Said:
    """A box's relays as it last reported them."""

    powered: dict[str, bool] = field(default_factory=dict)
    emergency: str | None = None
    latched_ns: int = 0  # when its latch was set (wall ns): a later one is a new emergency
    failed: str | None = None
    gone: bool = False  # not heard from: back, its relays as they are are what is wanted


class SpreadRelays:
    """Every relay of ``show``: the leader's own (``local``, on its lines), and the others'
    (switched by their box through ``command``)."""

    def __init__(self, show: Show, me: str, local: Relays, command: Command) -> None:
        self.local = local
        self.command = command
        self.wall = WallClock()
        self.box_of = {
            relay: box for box, wired in show.boxes.items() if box != me for relay in wired.relays
        }
        #: The other boxes' relays as the leader wants them now (on no lines).
        self.intended = Relays(
            {relay: show.relays[relay] for relay in self.box_of},
            SimGpio(record=False),
            local.clock,
            log=False,
        )
        self.intended.start()
        self._specs: dict[str, Relay] = {**local.specs, **self.intended.specs}
        self.said: dict[str, _Said] = {}
        self.on_change: Callable[[], None] = lambda: None
        local.on_change = self._changed

    def _changed(self) -> None:
        self.on_change()  # whatever the controller set since

    @property
    def boxes(self) -> list[str]:
        return sorted(set(self.box_of.values()))

    @property
    def specs(self) -> Mapping[str, Relay]:
        return self._specs

    @property
    def powered(self) -> Mapping[str, bool]:
        """Each relay's state: the leader's own, and the others' as their box said (until it
        has, the safe state it starts in)."""
        remote = {
            relay: self.said.get(box, _Said()).powered.get(
                relay, self._specs[relay].safe == "powered"
            )
            for relay, box in self.box_of.items()
        }
        return {**self.local.powered, **remote}

    @property
    def emergency(self) -> str | None:
        return self.local.emergency

    @property
    def failed(self) -> str | None:
        """Why some relays cannot be switched: the leader's own, or a box's as it said."""
        failures = [self.local.failed] if self.local.failed else []
        failures += [
            f"box {box!r}: {said.failed}" for box, said in self.said.items() if said.failed
        ]
        return "; ".join(failures) or None

    def _to(self, box: str | None, switch: messages.Switch) -> None:
        for each in self.boxes if box is None else [box]:
            self.command(each, switch)

    def _own(self, name: str) -> Relays:
        return self.intended if name in self.box_of else self.local

    def _sent(self, name: str, refused: str | None, switch: messages.Switch) -> str | None:
        if refused is None and name in self.box_of:
            self._to(self.box_of[name], switch)
        return refused

    def power(self, name: str, why: str = "command") -> str | None:
        switch = messages.Switch("power", name, why=why)
        return self._sent(name, self._own(name).power(name, why), switch)

    def unpower(self, name: str, why: str = "command") -> str | None:
        switch = messages.Switch("unpower", name, why=why)
        return self._sent(name, self._own(name).unpower(name, why), switch)

    def pulse(self, name: str, seconds: float, why: str = "command") -> str | None:
        switch = messages.Switch("pulse", name, pulse=seconds, why=why)
        return self._sent(name, self._own(name).pulse(name, seconds, why), switch)

    def at(
        self, due: float, name: str, powered: bool, entry: int, pulse: float | None = None
    ) -> None:
        self._own(name).at(due, name, powered, entry, pulse)
        if name not in self.box_of:
            return
        due_ns = self.wall.to_wall_ns(due)
        switch = messages.Switch("at", name, powered, pulse, due_ns, entry, "timeline")
        self._to(self.box_of[name], switch)

    def forget(self) -> None:
        self.local.forget()
        self.intended.forget()
        self._to(None, messages.Switch("forget"))

    def make_safe(self, why: str) -> None:
        self.local.make_safe(why)
        self.intended.make_safe(why)
        self._to(None, messages.Switch("safe", why=why))

    def latch(self, why: str) -> None:
        self.local.latch(why)
        self.intended.latch(why)
        self._to(None, messages.Switch("latch", why=why))

    def all_clear(self) -> bool:
        was = self.local.all_clear()
        self.intended.all_clear()
        self._to(None, messages.Switch("clear"))
        for said in self.said.values():
            was = was or said.emergency is not None
            said.emergency = None
        return was

    def refusal(self, name: str, powered: bool, pulse: float | None = None) -> str | None:
        return self._own(name).refusal(name, powered, pulse)

    def again(self, box: str) -> None:
        """Tell box ``box`` each of its relays' intended state (it has just been heard): a
        relay in a pulse, powered for what is left of it."""
        for relay, on in self.box_of.items():
            if on != box:
                continue
            why = "the leader's state"
            left = self.intended.pulse_left(relay)
            if left is not None and self.intended.powered[relay]:  # the rest of the pulse
                self.command(box, messages.Switch("pulse", relay, pulse=left, why=why))
            else:
                op = "power" if self.intended.powered[relay] else "unpower"
                self.command(box, messages.Switch(op, relay, why=why))

    def close(self) -> None:
        self.intended.close()

    def reported(self, box: str, data: Mapping[str, Any], back: bool = False) -> None:
        """Take box ``box``'s report of its relays (``powered``, ``emergency``, ``latched_ns``,
        ``failed``); a latch it set since the last one it said sets off every box's. ``back``:
        it has restarted since it last said (its relays safe again), as after silence."""
        if box not in self.said:
            self.again(box)  # heard for the first time
        said = self.said.setdefault(box, _Said())
        was = (said.powered, said.emergency, said.failed)
        mine = {r for r, b in self.box_of.items() if b == box}
        said.powered = {str(r): bool(p) for r, p in data["powered"].items() if r in mine}
        if said.gone or back:  # after a restart or a latch: as it is now is what is wanted
            said.gone = False
            for relay, powered in said.powered.items():
                switch = self.intended.power if powered else self.intended.unpower
                switch(relay, "the box is back")
        said.failed = None if data.get("failed") is None else str(data["failed"])
        emergency, latched_ns = data.get("emergency"), int(data.get("latched_ns") or 0)
        said.emergency = None if emergency is None else str(emergency)
        if said.emergency is not None and latched_ns > said.latched_ns:
            said.latched_ns = latched_ns
            self.latch(f"box {box!r}: {said.emergency}")
        if was != (said.powered, said.emergency, said.failed):
            self.on_change()

    def gone(self, box: str, why: str) -> None:
        """Box ``box`` has not been heard from: say its relays cannot be switched until it is
        back (it latches them safe itself, having lost the leader, or they restart safe)."""
        said = self.said.setdefault(box, _Said())
        said.gone = True
        if said.failed != why:
            said.failed = why
            self.on_change()
