"""The leader's link to the other boxes of a show across boxes: the commands for their outputs
and relays out (:mod:`.leader`, :mod:`.relays`), their reports in, the clock check's pings and
the leader's heartbeat; and, as it starts, the refusal to lead a show another box leads
already. Without boxes, it is nothing: the controller drives the box's own pool and relays.

paho (the MQTT client) is loaded only for a show across boxes.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from showctl.errors import ControlError
from showctl.gpio.base import GpioBackend
from showctl.leds.matrix import LedPlayer, Shown, open_matrix
from showctl.multibox import messages
from showctl.multibox.leader import Leadership, RemoteOutputs, Reports, SpreadOutputs
from showctl.multibox.leds import RemoteLeds
from showctl.multibox.messages import Sender
from showctl.multibox.relays import SpreadRelays
from showctl.players.outputs import Outputs
from showctl.room.relays import Bank, Relays
from showctl.settings import Settings
from showctl.show.model import Show

if TYPE_CHECKING:
    from showctl.controller import ShowController
    from showctl.multibox.bus import Bus

#: Seconds between the leader's heartbeats (and its looks for boxes gone silent).
BEAT_EVERY = 1.0
#: Pings of each other box's clock a heartbeat.
PINGS = 4
#: How long (s) a leader that starts waits for the broker, then for its retained messages,
#: before it looks for another leader: with no broker, it leads (and looks again later).
CONNECT_WAIT = 2.0
RETAINED_WAIT = 0.3


class Links:
    """The leader's link to the other boxes of ``show`` (none without boxes). ``local_relays``:
    the leader's own; :attr:`relays` is what the controller switches (with boxes, every relay
    of the show)."""

    def __init__(self, show: Show, settings: Settings, local_relays: Relays | None) -> None:
        self.show = show
        self.local_relays = local_relays
        self.relays: Bank | None = local_relays
        self.bus: Bus | None = None
        self.spread_relays: SpreadRelays | None = None  # with boxes: every relay of the show
        self.reports: Reports | None = None
        self.remote_leds: RemoteLeds | None = None
        if not show.boxes:
            return
        from showctl.multibox.bus import Bus  # noqa: PLC0415  (paho: only for boxes)

        self.me = me = settings.box.me
        self.leadership = Leadership(me)
        self.bus = Bus(settings.mqtt, me, [f"{me}/#", "+/leads"], self._received)
        self.sender = Sender(me, messages.digest(show.path), self.bus.send)
        if local_relays is not None:
            self.spread_relays = SpreadRelays(
                show,
                me,
                local_relays,
                lambda box, switch: self.sender(box, "relays", switch, retain=False),
            )
            self.relays = self.spread_relays

    async def start(self) -> None:
        """Connect to the broker; raises :class:`ControlError` saying which box leads, if
        another leads this show already (heard beating). Nothing is sent to the boxes before."""
        if self.bus is None:
            return
        bus, leadership = self.bus, self.leadership
        bus.on_up = self._up
        bus.start()
        reading = asyncio.create_task(bus.run(), name="box-link-start")
        try:
            if await _within(CONNECT_WAIT, lambda: bus.connected):
                await asyncio.sleep(RETAINED_WAIT)
                if leadership.fresh():  # a leader beat lately: is it beating still?
                    await _within(2 * BEAT_EVERY + 0.5, lambda: leadership.rival() is not None)
        finally:
            reading.cancel()
        rival = leadership.rival()
        if rival is not None:
            raise ControlError(rival)

    def leds(
        self, own: Show, gpio: GpioBackend, on_frame: Callable[[Shown], None]
    ) -> LedPlayer | None:
        """The player of the show's matrix: on this box's lines (``own``: the show as this box
        wires it), or on another box's, its frames made here too; ``None``: no matrix."""
        if own.matrix is not None:
            return LedPlayer(open_matrix(own.matrix, gpio), on_frame=on_frame)
        wired = [box for box, parts in self.show.boxes.items() if parts.matrix]
        if self.bus is None or self.show.matrix is None or not wired:
            return None
        self.remote_leds = RemoteLeds(self.show.matrix, wired[0], self.sender, on_frame)
        return self.remote_leds

    def outputs(self, pool: Outputs) -> Outputs:
        """The outputs the controller drives: ``pool``, and with boxes the others' too."""
        if self.bus is None:
            return pool
        spread = SpreadOutputs(pool, RemoteOutputs(self.show, self.sender))
        self.reports = Reports(
            spread, self.spread_relays, self.remote_leds, rivals=self.leadership.rivals
        )
        return spread

    def _up(self) -> None:
        """The link is up (again): what the other boxes missed while it was away."""
        self.sender.again()
        if self.spread_relays is not None:
            for box in self.spread_relays.boxes:
                self.spread_relays.again(box)

    async def _received(self, payload: bytes, what: str, got_ns: int) -> None:
        if what == "leads":
            try:
                self.leadership.heard(payload)
            except (ValueError, KeyError, TypeError):
                if self.reports is not None:
                    self.reports.refused += 1
        elif self.reports is not None:
            await self.reports.received(payload, what, got_ns)

    def work(self, controller: ShowController) -> dict[str, Coroutine[Any, Any, None]]:
        """The link's work while the show runs: messages in, the clock check's pings and the
        heartbeat out."""
        if self.bus is None or self.reports is None:
            return {}
        controller.boxes = self.reports.state
        self.reports.fire = controller.fire
        return {"box-link": self.bus.run(), "box-clocks": self._ping(self.bus, self.reports)}

    async def _ping(self, bus: Bus, reports: Reports) -> None:
        clocks = reports.clocks
        for n in itertools.count():
            if n % PINGS == 0:
                bus.send(self.me, "leads", self.leadership.beat(), True)
                reports.sweep(time.time())
            for box in reports.outputs.remote.boxes:
                bus.send(box, "ping", clocks.ping(time.time_ns()), False)
            await asyncio.sleep(BEAT_EVERY / PINGS)

    async def close(self) -> None:
        if self.bus is not None:
            await self.bus.close()
        if self.spread_relays is not None:
            self.spread_relays.close()


async def _within(seconds: float, done: Callable[[], bool]) -> bool:
    """Wait until ``done()``, at most ``seconds``; whether it was."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True
