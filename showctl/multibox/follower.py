"""A box that follows: the leader's commands (:mod:`.messages`) for this box's outputs,
applied to its own outputs (its player pool), every wall-clock time mapped onto this box's
monotonic clock (:mod:`.wallclock`) as the command is applied.

A command for another show, or not one at all, is refused and counted (``refused``: by why,
at most :data:`REASONS` kinds kept), and logged once a kind; a command older than one already
applied on the same topic (a lower ``seq`` from the same leader: a retained message read after
a live one) is dropped and counted. What happens to the outputs themselves is the pool's: a
play whose T0 is already past (a box that started late) joins the timeline where it is, on the
sample.

What its outputs do goes back to the leader (``report(what, payload, retain)``, to the leader's
topics): each clip's end (``event``: the leader's controller waits for it, an ``audio_end``
transition), and the outputs' health and how soon this box can place a sample (``health/BOX``,
retained: the latest is what counts), at every change and when asked (:meth:`report_health`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from showctl.leds.matrix import LedPlayer
from showctl.leds.programs import Schedule
from showctl.multibox import messages, offsets
from showctl.multibox.wallclock import WallClock
from showctl.players.outputs import Outputs
from showctl.room.relays import Relays
from showctl.wall_clock import kernel_clock

logger = structlog.get_logger()

#: The switches of one relay (the others are of all this box's relays).
ONE_RELAY = ("power", "unpower", "pulse", "at")

#: Kinds of refusal kept in the counts (a flood of garbage cannot grow them).
REASONS = 32


@dataclass
class Follower:
    """Applies the leader's commands to ``outputs`` (this box's), for the show of digest
    ``show`` whose media folder is ``media``."""

    outputs: Outputs
    show: str
    media: Path
    me: str = ""
    #: The box it follows (its settings' ``[box] leader``); ``""``: whichever leads.
    leader: str = ""
    #: This box's relays, if it has some.
    relays: Relays | None = None
    #: The show's matrix, if it is wired to this box, what it shows in a scene, and the scenes.
    leds: LedPlayer | None = None
    schedule: Callable[[str | None], Schedule] | None = None
    scenes: Collection[str] = ()
    #: Sends to the leader: ``report(what, payload, retain)``.
    report: Callable[[str, bytes, bool], None] = lambda what, payload, retain: None
    wall: WallClock = field(default_factory=WallClock)
    #: Commands applied, and refused by why.
    applied: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    dropped: int = 0  # older than one applied
    #: When the leader's latest ping came (monotonic s; ``None``: none yet), and whether its
    #: silence since was said.
    pinged: float | None = None
    silent: bool = False
    #: When it started (wall ns): a leader that hears another start knows it restarted.
    started_ns: int = field(default_factory=time.time_ns)
    #: The latest ``seq`` applied, by leader and topic.
    seq: dict[tuple[str, str], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.outputs.listener = self

    # --- what the outputs tell: to the leader ---------------------------------------------

    def clip_finished(self, output: str, play: int, reason: str) -> None:
        event = {"box": self.me, "output": output, "play": play, "reason": reason}
        self.report("event", json.dumps(event).encode(), False)

    def output_failed(self, output: str, reason: str) -> None:
        self.report_health()

    def output_recovered(self, output: str) -> None:
        self.report_health()

    def output_changed(self, output: str) -> None:
        self.report_health()

    def pong(self, payload: bytes, got_ns: int) -> bytes | None:
        """The answer to a ``ping`` of the clock check got at ``got_ns`` (wall clock), stamped
        now; ``None``: not a ping. The link calls it on its own thread as the ping comes, so
        that nothing waits between the stamps and the socket."""
        try:
            return offsets.answer(payload, self.me, got_ns, time.time_ns())
        except (ValueError, KeyError, TypeError):
            return None

    def input_fired(self, trigger: str, emergency: bool) -> None:
        """One of this box's inputs fired ``trigger``: for the leader's scenes. One of the
        show's emergency inputs latches this box's relays first, at once, link or not."""
        if emergency and self.relays is not None:
            self.relays.latch(f"{trigger.partition(':')[2]} on box {self.me!r}")
        event = {"box": self.me, "trigger": trigger}
        self.report("input", json.dumps(event).encode(), False)

    def check_leader(self, silent_for: float) -> None:
        """Say once when the leader has not pinged for ``silent_for`` s: what plays goes on,
        and the relays are latched safe (no one is left to open a lock)."""
        pinged = self.pinged
        if pinged is not None and not self.silent and time.monotonic() - pinged > silent_for:
            self.silent = True
            logger.error("box_leader_silent", box=self.me, seconds=silent_for)
            if self.relays is not None:
                self.relays.latch(f"the leader has not been heard from for {silent_for:g} s")

    def report_health(self) -> None:
        """Tell the leader the outputs' health and how soon this box can place a sample."""
        health = {o: dataclasses.asdict(h) for o, h in self.outputs.health().items()}
        clock = kernel_clock()
        state = {
            "box": self.me,
            "outputs": health,
            "soonest": self.outputs.soonest,
            "synchronised": clock.synchronised,
            "clock_error": clock.error,  # the kernel's own estimate (s), from its discipline
            "started_ns": self.started_ns,
        }
        if self.leds is not None:
            state["leds"] = self.leds.failed
        if self.relays is not None:
            relays = self.relays
            state["relays"] = {
                "powered": relays.powered,
                "emergency": relays.emergency,
                "latched_ns": relays.latched_ns,
                "failed": relays.failed,
            }
        self.report(f"health/{self.me}", json.dumps(state).encode(), True)

    # --- what the leader says: to the outputs ---------------------------------------------

    async def receive(self, payload: bytes, topic: str = "", got_ns: int | None = None) -> None:
        """Apply one message from the bus, come on ``topic`` (never raises for what the
        message holds); a ``ping`` of the clock check says the leader is there (the link has
        answered it already: :meth:`pong`; ``got_ns``: when the link got it, on the wall
        clock; else now)."""
        if topic == "ping":
            self.pinged = time.monotonic()
            if self.silent:
                self.silent = False
                logger.info("box_leader_back", box=self.me)
            if self.pong(payload, time.time_ns() if got_ns is None else got_ns) is None:
                self.refused["not a ping"] += 1
            return
        try:
            message = messages.decode(payload, self.show)
            if self.leader and message.leader != self.leader:
                raise messages.Refused(
                    f"from box {message.leader!r}, which leads it too: this box follows "
                    f"{self.leader!r} (its [box] leader)"
                )
        except messages.Refused as e:
            reason = str(e).split(":")[0]
            if reason not in self.refused and len(self.refused) >= REASONS:
                reason = "other"
            if not self.refused[reason]:
                logger.warning("box_message_refused", why=str(e))
            self.refused[reason] += 1
            return
        if message.seq <= self.seq.get((message.leader, topic), -1):
            self.dropped += 1
            return
        self.seq[message.leader, topic] = message.seq
        await self.apply(message.command)
        self.applied += 1

    async def apply(self, command: messages.Command) -> None:
        """Do what ``command`` says to this box's outputs."""
        match command:
            case messages.Play(clips, t0_ns, play, fade):
                paths = {o: (self.media / clip, loop) for o, (clip, loop) in clips.items()}
                t0 = self.wall.to_monotonic(t0_ns)
                logger.info("box_play", outputs=sorted(clips), play=play, t0=round(t0, 6))
                await self.outputs.play(paths, t0, play, fade)
            case messages.Stop(outputs, at_ns, play, fade):
                at = None if at_ns is None else self.wall.to_monotonic(at_ns)
                await self.outputs.stop(fade, outputs, at, play)
            case messages.Effect(output, clip, gain, t0_ns, play):
                t0 = self.wall.to_monotonic(t0_ns)
                self.outputs.effect(output, self.media / clip, gain, t0, play)
            case messages.Load(clips):
                await self.outputs.load(
                    {o: [(self.media / c, loop) for c, loop in cs] for o, cs in clips.items()}
                )
            case messages.Level(output, gain):
                await self.outputs.level(output, gain)
            case messages.Switch():
                self.switch(command)
            case messages.Leds(scene, t0_ns, hold):
                if self.leds is None or self.schedule is None:
                    self.refused["not this box's matrix"] += 1
                elif hold:
                    self.leds.hold()
                elif scene is not None and scene not in self.scenes:
                    self.refused["not a scene of the show"] += 1
                else:
                    self.leds.play(self.schedule(scene), self.wall.to_monotonic(t0_ns))

    def switch(self, command: messages.Switch) -> None:
        """Do what ``command`` says to this box's relays; a change they refuse is logged."""
        relays, name, why = self.relays, command.relay or "", command.why or "leader"
        if relays is None or (command.op in ONE_RELAY and name not in relays.specs):
            self.refused["not this box's relay"] += 1
            return
        refused = None
        match command.op:
            case "power":
                refused = relays.power(name, why)
            case "unpower":
                refused = relays.unpower(name, why)
            case "pulse" if command.pulse is not None:
                refused = relays.pulse(name, command.pulse, why)
            case "at" if command.due_ns is not None:
                due = self.wall.to_monotonic(command.due_ns)
                relays.at(due, name, command.powered, command.entry, command.pulse)
            case "forget":
                relays.forget()
            case "safe":
                relays.make_safe(why)
            case "latch":
                relays.latch(command.why or "the leader's emergency")
            case "clear":
                relays.all_clear()
            case _:
                self.refused["a switch missing its time"] += 1
        if refused is not None:
            logger.warning("relay_change_dropped", relay=name, why=refused)
