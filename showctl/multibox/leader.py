"""The leader's outputs: its own, and those of the other boxes, driven as one.

The leader's controller drives every output of the show through the
:class:`~showctl.players.outputs.Outputs` seam. :class:`SpreadOutputs` is that seam for a show
across boxes: what is for the leader's own outputs goes to its player pool, what is for
another box's goes to that box (:class:`RemoteOutputs`: a :mod:`.messages` command, its times
on the wall clock). A start is placed once for all: its T0 as far ahead as the slowest box
needs, so that every output of every box starts on the same sample.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from showctl.multibox import messages
from showctl.multibox.leds import RemoteLeds
from showctl.multibox.offsets import Offsets
from showctl.multibox.relays import SpreadRelays
from showctl.multibox.wallclock import WallClock
from showctl.players.outputs import Clip, OutputHealth, OutputListener, Outputs
from showctl.show.model import Show
from showctl.wall_clock import kernel_clock

logger = structlog.get_logger()

#: A box not heard from for this long (s; it reports every second) is gone: its outputs are
#: failed for the controller until it is heard again.
SILENT = 3.0

#: The least time (s) between a command and its T0 on another box: the bus's way (a broker on
#: the local network: a few ms) and the box's own players' lead, with room to spare.
FLOOR = 0.1


@dataclass
class RemoteOutputs:
    """The outputs of ``show`` on boxes other than the leader's: each command for them is sent
    to their box, its times mapped onto the wall clock. What a box that starts late needs (what
    each output plays or that it is silent, its level, the clips to keep ready) is retained,
    one message an output, so that the latest of each is there for it; an effect is not (it
    is over before a box could join it)."""

    show: Show
    sender: messages.Sender
    wall: WallClock = field(default_factory=WallClock)
    #: How soon after a command every other box can place a sample (s).
    soonest: float = FLOOR

    def __post_init__(self) -> None:
        self.box_of = {
            output: box
            for box, wired in self.show.boxes.items()
            if box != self.sender.me
            for output in wired.outputs
        }

    @property
    def boxes(self) -> list[str]:
        """The other boxes, by name."""
        return sorted(box for box in self.show.boxes if box != self.sender.me)

    def _media(self, path: Path) -> str:
        """A clip's path in the media folder, as every box has it."""
        return path.resolve().relative_to(self.show.media_dir).as_posix()

    def play(
        self, clips: Mapping[str, Clip], t0: float, play: int, fade: tuple[float, float]
    ) -> None:
        t0_ns = self.wall.to_wall_ns(t0)
        for o in clips:
            if o in self.box_of:
                clip = {o: (self._media(clips[o][0]), clips[o][1])}
                self.sender(self.box_of[o], f"output/{o}", messages.Play(clip, t0_ns, play, fade))

    def stop(
        self, fade: float, outputs: Collection[str] | None, at: float | None, play: int | None
    ) -> None:
        at_ns = None if at is None else self.wall.to_wall_ns(at)
        for o in self.box_of if outputs is None else outputs:
            if o in self.box_of:
                stop = messages.Stop((o,), at_ns, play, fade)
                self.sender(self.box_of[o], f"output/{o}", stop)

    def effect(self, output: str, clip: Path, gain: float, t0: float, play: int) -> None:
        effect = messages.Effect(output, self._media(clip), gain, self.wall.to_wall_ns(t0), play)
        self.sender(self.box_of[output], "effect", effect, retain=False)

    def load(self, clips: Mapping[str, Collection[Clip]]) -> None:
        for box in self.boxes:
            own = {
                o: tuple((self._media(path), loop) for path, loop in sorted(clips.get(o, ())))
                for o, b in self.box_of.items()
                if b == box
            }
            self.sender(box, "load", messages.Load(own))

    def level(self, output: str, gain: float) -> None:
        self.sender(self.box_of[output], f"level/{output}", messages.Level(output, gain))


@dataclass
class SpreadOutputs:
    """Every output of a show across boxes, as one :class:`Outputs`: the leader's own
    (``local``, its player pool) and the others' (``remote``)."""

    local: Outputs
    remote: RemoteOutputs
    #: Each remote output's latest health as its box reported it; not heard from: failed.
    reported: dict[str, OutputHealth] = field(default_factory=dict)

    @property
    def listener(self) -> OutputListener | None:
        return self.local.listener

    @listener.setter
    def listener(self, listener: OutputListener | None) -> None:
        self.local.listener = listener

    @property
    def trims(self) -> Mapping[str, float]:
        return self.local.trims

    @trims.setter
    def trims(self, trims: Mapping[str, float]) -> None:
        self.local.trims = trims

    @property
    def soonest(self) -> float:
        return max(self.local.soonest, self.remote.soonest)

    def _now(self) -> float:
        return self.remote.wall.monotonic()

    async def play(
        self,
        clips: Mapping[str, Clip],
        t0: float | None = None,
        play: int = 0,
        fade: tuple[float, float] = (0.0, 0.0),
    ) -> float:
        if t0 is None:
            t0 = self._now() + self.soonest
        self.remote.play(clips, t0, play, fade)
        here = {o: c for o, c in clips.items() if o not in self.remote.box_of}
        return await self.local.play(here, t0, play, fade)

    async def stop(
        self,
        fade: float = 0.0,
        outputs: Collection[str] | None = None,
        at: float | None = None,
        play: int | None = None,
    ) -> None:
        self.remote.stop(fade, outputs, at, play)
        here = None if outputs is None else [o for o in outputs if o not in self.remote.box_of]
        if here is None or here:
            await self.local.stop(fade, here, at, play)

    def effect(self, output: str, clip: Path, gain: float, t0: float | None, play: int) -> float:
        if output not in self.remote.box_of:
            return self.local.effect(output, clip, gain, t0, play)
        t0 = self._now() + self.remote.soonest if t0 is None else t0
        self.remote.effect(output, clip, gain, t0, play)
        return t0

    async def load(self, clips: Mapping[str, Collection[Clip]]) -> None:
        self.remote.load(clips)
        await self.local.load({o: c for o, c in clips.items() if o not in self.remote.box_of})

    async def level(self, output: str, gain: float) -> None:
        if output in self.remote.box_of:
            self.remote.level(output, gain)
        else:
            await self.local.level(output, gain)

    def health(self) -> dict[str, OutputHealth]:
        unheard = OutputHealth(failed="its box has not been heard from", alive=False)
        remote = {o: self.reported.get(o, unheard) for o in self.remote.box_of}
        return {**self.local.health(), **remote}


@dataclass
class Reports:
    """The leader's side of what the other boxes report (:mod:`.follower`): a clip's end goes
    to the controller as its own outputs' do, a box's health and readiness to ``outputs``
    (their health in the status; the T0 of a start as far ahead as the slowest box needs, and
    :attr:`way` more for the link). What cannot be read is counted in ``refused``."""

    outputs: SpreadOutputs
    #: Every relay of the show, if a box other than the leader has some.
    relays: SpreadRelays | None = None
    #: The show's matrix, if it is wired to another box.
    leds: RemoteLeds | None = None
    #: Fires a trigger of the leader's show: ``fire(trigger, source)`` (another box's input).
    fire: Callable[[str, str], None] = lambda trigger, source: None
    #: The other leaders of the show heard now (:meth:`Leadership.rivals`).
    rivals: Callable[[], list[str]] = list
    #: The link's way to a box (s), added to its readiness; the clock check measures it.
    way: float = 0.02
    refused: int = 0
    soonest: dict[str, float] = field(default_factory=dict)  # each box's, as it said
    #: Each box's latest report: its clock as its kernel sees it, and when it came (wall s).
    said: dict[str, dict[str, Any]] = field(default_factory=dict)
    clocks: Offsets = field(default_factory=Offsets)
    flagged: set[str] = field(default_factory=set)  # boxes whose clock is off, logged

    async def received(self, payload: bytes, what: str, got_ns: int | None = None) -> None:
        """Take a box's report, come on ``what`` (got by the link at ``got_ns``, wall clock)."""
        try:
            data: Any = json.loads(payload)
            if what == "event":
                output, play, reason = str(data["output"]), int(data["play"]), str(data["reason"])
                if self.outputs.listener is not None and output in self.outputs.remote.box_of:
                    self.outputs.listener.clip_finished(output, play, reason)
            elif what == "input":
                box, trigger = str(data["box"]), str(data["trigger"])
                kind, _, name = trigger.partition(":")
                remote = self.outputs.remote
                if (
                    kind == "input"
                    and box in remote.boxes
                    and name in remote.show.boxes[box].inputs
                ):
                    self.fire(trigger, f"box {box}")
                else:
                    self.refused += 1
            elif what.startswith("health/"):
                box = what.removeprefix("health/")
                reported = {
                    output: OutputHealth(**health)
                    for output, health in data["outputs"].items()
                    if self.outputs.remote.box_of.get(output) == box
                }
                self.soonest[box] = float(data["soonest"])
                was, started = self.said.get(box, {}), data.get("started_ns")
                restarted = "started" in was and was["started"] != started
                if was.get("gone") or restarted:
                    logger.info("box_back", box=box, restarted=restarted)
                    self.clocks.kept.pop(box, None)  # measured afresh
                self.said[box] = {
                    "synchronised": bool(data.get("synchronised")),
                    "clock_error": data.get("clock_error"),
                    "at": time.time(),
                    "started": started,
                }
                self.outputs.remote.soonest = max(FLOOR, max(self.soonest.values()) + self.way)
                if self.relays is not None and box in self.relays.boxes:
                    self.relays.reported(box, data["relays"], back=restarted)
                if self.leds is not None and box == self.leds.box:
                    self._leds_said(None if data["leds"] is None else str(data["leds"]))
                for output, health in reported.items():
                    self._tell(output, self.outputs.reported.get(output), health)
                    self.outputs.reported[output] = health
            elif what == "pong":
                got = time.time_ns() if got_ns is None else got_ns
                if self.clocks.answered(payload, got) is None:
                    self.refused += 1
                self._flag()
            else:
                self.refused += 1
        except (ValueError, KeyError, TypeError, AttributeError):
            self.refused += 1

    def sweep(self, now: float) -> None:
        """Fail the outputs of each box not heard from for :data:`SILENT` s (``now``: wall s);
        the show goes on without them, and takes them up again when the box is back."""
        for box in self.outputs.remote.boxes:
            said = self.said.get(box)
            if said is None or now - said["at"] < SILENT or said.get("gone"):
                continue
            said["gone"] = True
            logger.error("box_silent", box=box, seconds=round(now - said["at"], 1))
            why = f"its box {box!r} has not been heard from for {SILENT:g} s"
            gone = OutputHealth(failed=why, alive=False)
            if self.relays is not None and box in self.relays.boxes:
                self.relays.gone(box, why)
            if self.leds is not None and box == self.leds.box:
                self._leds_said(why)
            for output, on in self.outputs.remote.box_of.items():
                if on == box:
                    self._tell(output, self.outputs.reported.get(output), gone)
                    self.outputs.reported[output] = gone

    def _flag(self) -> None:
        """Log a box whose clock has gone further from the leader's than the bound, or back."""
        for box, clock in self.clocks.state().items():
            if clock["flagged"] and box not in self.flagged:
                self.flagged.add(box)
                logger.warning("box_clock_off", box=box, offset_ms=clock["offset_ms"])
            elif not clock["flagged"] and box in self.flagged:
                self.flagged.discard(box)
                logger.info("box_clock_back", box=box, offset_ms=clock["offset_ms"])

    def state(self) -> dict[str, dict[str, Any]]:
        """For the status: every box of the show (this leader's too), what it does (``leads``,
        ``follows``, ``silent``: not heard from for :data:`SILENT` s, or ``unheard``), its
        outputs, when it was last heard from (s ago), its clock as its kernel sees it and
        against the leader's, and how soon it can place a sample; the leader's, the other
        leaders of the show heard beating (``rivals``: none, or a box misconfigured)."""
        remote = self.outputs.remote
        clocks = self.clocks.state()
        now = time.time()
        mine = kernel_clock()
        out = {
            remote.sender.me: {
                "state": "leads",
                "outputs": sorted(self.outputs.local.health()),
                "heard_s_ago": 0.0,
                "synchronised": mine.synchronised,
                "clock_error_ms": None if mine.error is None else round(mine.error * 1e3, 3),
                "clock": None,
                "soonest_ms": round(self.outputs.local.soonest * 1e3, 1),
                "rivals": self.rivals(),
            }
        }
        for box in remote.boxes:
            said = self.said.get(box)
            out[box] = {
                "state": (
                    "unheard" if said is None else "silent" if said.get("gone") else "follows"
                ),
                "outputs": sorted(o for o, b in remote.box_of.items() if b == box),
                "heard_s_ago": None if said is None else round(now - said["at"], 1),
                "synchronised": None if said is None else said["synchronised"],
                "clock_error_ms": (
                    None
                    if said is None or said["clock_error"] is None
                    else round(said["clock_error"] * 1e3, 3)
                ),
                "clock": clocks.get(box),
                "soonest_ms": round(self.soonest[box] * 1e3, 1) if box in self.soonest else None,
            }
        return out

    def _leds_said(self, failed: str | None) -> None:
        leds = self.leds
        if leds is not None and failed != leds.reported:
            leds.reported = failed
            leds.on_failed()

    def _tell(self, output: str, was: OutputHealth | None, now: OutputHealth) -> None:
        """Tell the controller how a remote output's health changed, as its own pool would."""
        listener = self.outputs.listener
        if listener is None:
            return
        if now.failed and (was is None or not was.failed):
            listener.output_failed(output, now.failed)
        elif not now.failed and was is not None and was.failed:
            listener.output_recovered(output)
        elif was != now:
            listener.output_changed(output)


@dataclass
class Leadership:
    """The leader ``me``'s heartbeat (:meth:`beat`, retained on its ``leads`` topic every
    second), and the others' it hears (:meth:`heard`): a box that leads the same show from
    another process (a second box configured to lead, or two boxes given one name) is a rival.
    A leader that finds a rival beating as it starts refuses to (:meth:`rival`); one that hears
    a rival later says so in the log, and both play on (no election)."""

    me: str
    #: This process, told apart from every other leader's (the same box restarted too).
    instance: str = field(default_factory=lambda: f"{socket.gethostname()}/{time.time_ns()}")
    #: Each other instance's latest heartbeat, with how many beats of it were heard.
    others: dict[str, dict[str, Any]] = field(default_factory=dict)

    def beat(self) -> bytes:
        now = time.time_ns()
        beat = {"box": self.me, "host": socket.gethostname(), "instance": self.instance}
        return json.dumps({**beat, "at_ns": now}).encode()

    def heard(self, payload: bytes) -> None:
        """Take a leader's heartbeat (this one's own is ignored; a rival's is logged once)."""
        data: Any = json.loads(payload)
        instance, at_ns = str(data["instance"]), int(data["at_ns"])
        if instance == self.instance:
            return
        was = self.others.get(instance)
        if was is not None and at_ns <= was["at_ns"]:
            return
        beats = 1 if was is None else was["beats"] + 1
        self.others[instance] = {
            "box": str(data["box"]),
            "host": str(data["host"]),
            "at_ns": at_ns,
            "beats": beats,
        }
        if beats == 2:  # beating: alive
            logger.error("box_two_leaders", box=self.me, other=data["box"], host=data["host"])

    def fresh(self) -> bool:
        """Whether another leader beat within :data:`SILENT` s (it may be alive)."""
        return any(time.time_ns() - o["at_ns"] < SILENT * 1e9 for o in self.others.values())

    def rivals(self) -> list[str]:
        """The other leaders heard beating now (twice, the latest within :data:`SILENT` s):
        ``box 'NAME' on host 'HOST'`` each."""
        return [f"box {other['box']!r} on host {other['host']!r}" for other in self._beating()]

    def _beating(self) -> list[dict[str, Any]]:
        now = time.time_ns()
        return [
            other
            for other in self.others.values()
            if other["beats"] >= 2 and now - other["at_ns"] < SILENT * 1e9
        ]

    def rival(self) -> str | None:
        """Why this box may not lead: another leader heard beating, in one sentence; or
        ``None``."""
        beating = self._beating()
        if not beating:
            return None
        other = beating[0]
        if other["box"] == self.me:
            return (
                f"another showctl on host {other['host']!r} leads this show as box "
                f"{self.me!r}; stop it, or give this box a [box] name of its own"
            )
        return (
            f"box {other['box']!r} (host {other['host']!r}) leads this show already; "
            f'one box leads: set [box] leader = "{other["box"]}" here, or stop it'
        )
