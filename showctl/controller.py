"""The show controller: the show's state machine, driving the outputs, the LEDs and the state file.

Triggers (GPIO inputs, timers, the end of the audio, events from the control socket) go into
one queue; a single task takes them one at a time and fires them on the machine
(:mod:`showctl.machine`), so the show moves in a predictable order whatever comes at once.
Entering a scene tells every output what to play from one T0 a little ahead, which the outputs
place as they are told (far enough for every player: their ``soonest``, which covers the
commands' whole way to them, as measured), starts the scene's LED cues from T0, arms its timers
from T0 and saves the state.

Nothing a trigger does can crash the controller: a trigger the show does not know, or one the
scene does not listen to, is counted and logged (at most once a second per trigger, with the
count of the ones not logged, so that a flood does not flood the log); when the queue is full,
the newest triggers are dropped and counted. ``status()`` answers without waiting on the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import math
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import structlog

from showctl import saved_state
from showctl.calibration import stored
from showctl.clock import Clock, MonotonicClock, wait
from showctl.commands import MAX_TEXT, Answer, Refusal, refused
from showctl.game_clock import GameClocks
from showctl.hours import ShowHours, Verdict
from showctl.leds.matrix import LedPlayer
from showctl.leds.meter import scene_schedule
from showctl.levels import MASTER, Levels, factor, parse_db
from showctl.log import Tally
from showctl.machine import FLAGS_CHANGED, ShowState, build_machine, trigger_name
from showctl.players.outputs import Outputs
from showctl.settings import Settings
from showctl.show._convert import parse_duration
from showctl.show.loader import check
from showctl.show.model import (
    FAULT,
    HINTS,
    AddTime,
    ClockAction,
    ControllerAction,
    GiveHint,
    Message,
    PlaySound,
    Power,
    Pulse,
    RelayAction,
    Show,
    StartClock,
    StopClock,
    Unpower,
    Zero,
)
from showctl.wall_clock import WallClock

if TYPE_CHECKING:  # the room's parts are the app's to make: the CLI's commands load none
    from showctl.health import HealthMonitor
    from showctl.room.messages import Messages
    from showctl.room.props import Props
    from showctl.room.relays import Bank

logger = structlog.get_logger()

#: Triggers waiting at most; more are dropped (and counted) until the queue drains.
QUEUE_SIZE = 1000
#: At most one log line a second for each ignored, unknown or dropped trigger.
LOG_EVERY = 1.0
#: The (event, trigger) pairs whose last line is remembered for that, at most (then the ones
#: older than LOG_EVERY are forgotten).
TALLY_KEYS = 1000
#: After the disk refused the state (full, read-only), it is written again this much later (s).
SAVE_RETRY = 5.0
#: How long the sound fades out when the show is paused (s).
PAUSE_FADE = 0.2
#: A sound on a scene's timeline is sent to its output this long before it is due (s): its
#: command, read ahead, waits in the player for its sample.
SOUND_AHEAD = 1.0
#: The hints given that the status shows (and the state keeps), the latest last.
HINT_HISTORY = 20
#: How often the wall clock and the opening hours are looked at (s).
HOURS_EVERY = 1.0
#: The trigger loop checks in at least this often while it is not stuck (seconds): well
#: inside the watchdog's half interval, whatever WatchdogSec is set to (a second or more).
CHECK_IN = 0.25


@dataclass(frozen=True)
class SoundAt:
    """A sound of the timeline, due at ``due`` (monotonic s), waiting to be sent."""

    sound: str
    due: float


@dataclass(frozen=True)
class Trigger:
    """A machine trigger (``input:door``), where it came from, and, for timers and the end of
    the audio, the scene entry it belongs to (a later scene does not take it)."""

    name: str
    source: str
    entry: int | None = None
    #: Told the :class:`Outcome` once the trigger is handled, refused or dropped (on the
    #: loop's thread; it must not block): how a surface that fired it answers its sender.
    reply: Callable[[Outcome], None] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Outcome:
    """What a trigger did: whether a transition ran (``moved``) and, when none did, why not, in
    a sentence for the person who fired it (the scene does not take it, its conditions did not
    hold, the show is paused, the show has no such trigger)."""

    trigger: str
    moved: bool
    why: str | None = None


@dataclass(frozen=True)
class TakeUp:
    """A scene taken up where it was rather than entered anew: ``at`` seconds into it, after
    a ``restart`` of showctl, a ``pause``, a ``reload``, the opening hours' ``closing``, or a
    nightly ``calibration`` check."""

    at: float
    after: Literal["restart", "pause", "reload", "closing", "calibration"]


class ShowController:
    """One show, running. Create it, ``await start()``, then ``await run()`` until cancelled.

    Every method runs on the event loop's thread. ``clock`` places T0 and the timers;
    ``wall`` is for the state file (seconds since the epoch survive a reboot). It is its
    outputs' :class:`~showctl.players.outputs.OutputListener`: it makes itself theirs.
    """

    #: The box's health, when the app runs its checks: its latest report is in the status.
    health: HealthMonitor | None = None
    #: The latest nightly calibration check's result (``None``: none yet), for the status.
    checked: dict[str, Any] | None = None
    #: Of a show across boxes, on the leader: every box's state, for the status.
    boxes: Callable[[], dict[str, Any]] | None = None
    _loop: asyncio.AbstractEventLoop | None = None  # the loop it runs on, from start()

    def __init__(
        self,
        show: Show,
        outputs: Outputs,
        *,
        leds: LedPlayer | None = None,
        relays: Bank | None = None,
        messages: Messages | None = None,
        props: Props | None = None,
        settings: Settings | None = None,
        state_path: Path | None = None,
        clock: Clock | None = None,
        wall: Callable[[], float] = time.time,
        wall_clock: WallClock | None = None,
    ) -> None:
        self.show = show
        self.outputs = outputs
        outputs.listener = self
        self.leds = leds
        self.relays = relays
        if relays is not None:
            relays.on_change = self._threadsafe_changed
        self.messages = messages
        if messages is not None:
            messages.on_change = self.changed
        self.settings = settings  # what a reloaded show is checked against
        self.props = props
        if props is not None:
            props.fire = self.fire
            props.on_change = self.changed
        self.state_path = state_path
        self.clock = clock or MonotonicClock()
        self.wall = wall
        #: The opening hours, on the wall clock as it is trusted.
        self.hours = ShowHours(wall_clock or WallClock(wall=wall, monotonic=self.clock.monotonic))
        #: Why the opening hours closed the show (``None``: they did not).
        self.closed: Verdict | None = None
        #: Where the hours closed the show: the scene and how far into it (s), for a resume.
        self.reopen: tuple[str, float] | None = None
        self.clocks = GameClocks(show)
        self.levels = Levels(show)
        self.calibration = self._calibrate(show)
        self._fading_out = 0.0  # how the scene playing fades out under the next (s)
        self.state = ShowState(act=self._act, clock_left=self._clock_left)
        self.machine = build_machine(show, self.state)
        self.queue: asyncio.Queue[Trigger] = asyncio.Queue(QUEUE_SIZE)
        self.counts: Counter[str] = Counter()  # handled, unmet, ignored, unknown, dropped
        self.entry = 0  # scene entries so far: tags plays, timers and audio ends
        self.t0 = 0.0
        self.fault: str | None = None
        self.pending: Show | None = None  # a reloaded show, taking over at the next change
        self._timers: list[tuple[float, str]] = []
        #: The timeline's messages, clock actions and sounds, by the time they are sent.
        self._cues: list[tuple[float, Message | ClockAction | GiveHint | SoundAt]] = []
        #: Sounds (and hints' clips, ``hint:NAME``) fired by actions, to go out once their
        #: T0 is known.
        self._sounds: list[str] = []
        #: The hints given, the latest last: {name (None: typed), text, count, at (wall s)}.
        self.hints: deque[dict[str, Any]] = deque(maxlen=HINT_HISTORY)
        self._timers_changed = asyncio.Event()
        self._once: set[str] = set()  # outputs playing a clip once in this scene
        #: While paused: how far into the scene it was (s); the show stands still there.
        self.paused: float | None = None
        self._finished: set[str] = set()
        #: Told each scene entered, before its T0 (the terminal view, systemd's status).
        self.on_scene: Callable[[str], None] = lambda scene: None
        #: Called after every change a client could show: a scene entered, flags or counters
        #: changed, paused or resumed, an output failed or back (see :meth:`watch`).
        self._watchers: list[Callable[[], None]] = []
        #: Called with "controller" while the trigger loop goes round (the watchdog's gate).
        self.check_in: Callable[[str], None] = lambda loop: None
        # One change of the show at a time: the queue's triggers, and control requests.
        self._busy = asyncio.Lock()
        self._logged = Tally(logger, self.clock.monotonic, LOG_EVERY, TALLY_KEYS)
        self._saver: asyncio.Task[None] | None = None
        self._save_wanted = False
        self._save_retry: asyncio.TimerHandle | None = None  # after the disk refused the state
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- the loop -------------------------------------------------------------------------

    async def start(self) -> None:
        """Take the show up: resume the saved scene if the show says so, else start over; run
        degraded without the outputs already failed (or go to the fault state if all are).
        A show with opening hours does what they say now: closed, it is in their closed scene
        (and takes up at the opening where the hours last closed it)."""
        self._loop = asyncio.get_running_loop()
        saved = None
        if self.state_path is not None:
            saved = await asyncio.to_thread(saved_state.load, self.state_path, self._key)
        self.hours.wall_clock.look()
        if saved is not None:
            self.levels.take_up(self.show, saved.levels)
        await self._send_levels()
        now = self._verdict()
        if now is not None:
            logger.info("hours", open=now.open, why=now.why, zone=self.hours.zone)
        closed = self.show.hours.closed if self.show.hours is not None else None
        if now is not None and not now.open:
            self.closed = now
        if self.show.restart == "resume" and saved is not None and saved.scene in self.show.scenes:
            scene, elapsed = saved.scene, max(0.0, self.wall() - saved.started)
            if self.closed is not None and closed is not None:  # closed now
                self.reopen = saved.reopen if scene == closed else (scene, 0.0)
                scene, elapsed = closed, elapsed if scene == closed else 0.0
            elif scene == closed and saved.reopen and saved.reopen[0] in self.show.scenes:
                scene, elapsed = saved.reopen  # open now: where the hours closed it
            self.state.flags = set(saved.flags) & set(self.show.flags)
            self.state.counters = self._counters_kept(saved.counters, self.show)
            self.hints.extend(dict(hint) for hint in saved.hints)
            self.machine.set_state(scene, model=self.state)
            if scene != saved.scene:
                self.state.apply(self.show.scenes[scene].on_enter)
            zero = self.clocks.restore(saved.clocks, self.clock.monotonic(), self.wall())
            await self._enter(TakeUp(elapsed, "restart"))
            for event in zero:  # reached while showctl was down: fired now
                self._put(Trigger(f"event:{event}", "clock"))
        else:
            await self._start_over(closed if self.closed is not None else None)
        for output, health in self.outputs.health().items():  # cards missing at start
            if health.failed:
                self.output_failed(output, health.failed)

    async def run(self) -> None:
        """Handle triggers and timers until cancelled. Checks in (``check_in("controller")``)
        at least every :data:`CHECK_IN` seconds while it is not stuck."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._timer_loop(), name="controller-timers")
            tasks.create_task(self._hours_loop(), name="controller-hours")
            while True:
                self.check_in("controller")
                try:
                    # Not wait_for: in Python 3.11 it drops a cancel that comes as the queue
                    # hands over a trigger, and the controller would never stop (a walk's
                    # flood of triggers showed it).
                    async with asyncio.timeout(CHECK_IN):
                        trigger = await self.queue.get()
                except TimeoutError:
                    continue
                await self.handle(trigger)

    def fire(self, name: str, source: str, reply: Callable[[Outcome], None] | None = None) -> None:
        """Queue a trigger (never blocks; when the queue is full it is dropped and counted).
        ``reply``, if given, is told its :class:`Outcome` once it is handled. A trigger of the
        show's emergency releases the room first, at once (not after the queue)."""
        if self._alarm(name, source) and name not in self.machine.events:
            if reply is not None:
                reply(Outcome(name, False, "the emergency release is on"))
            return
        self._put(Trigger(name, source, reply=reply))

    async def handle(self, trigger: Trigger) -> Outcome:
        """Fire one trigger on the machine now, after whatever is being handled; whether it
        moved the show (a transition ran), and if not why not; the trigger's ``reply`` is told
        too. Counted and logged when the show does not know it or the scene does not listen."""
        async with self._busy:
            outcome = await self._handle(trigger)
        if trigger.reply is not None:
            trigger.reply(outcome)
        return outcome

    async def _handle(self, trigger: Trigger) -> Outcome:
        name = trigger.name
        if trigger.entry is not None and trigger.entry != self.entry:
            return Outcome(name, False, "it belongs to a scene since left")
        scene = self.state.scene
        if name not in self.machine.events:
            self._tally("unknown", trigger, hint="the show has no such input or event")
            return Outcome(name, False, f"the show has no {_spoken(name)}")
        if name not in self.machine.get_triggers(scene):
            why = f"scene {scene!r} does not take {_spoken(name)}; {self._takes(scene)}"
            self._tally("ignored", trigger, hint=why)
            return Outcome(name, False, why)
        if self.paused is not None and not name.startswith(("goto:", FAULT)):
            why = "the show is paused; resume it first"
            self._tally("ignored", trigger, hint=why)
            return Outcome(name, False, why)
        memory, entries = self.state.memory, self.state.entries
        self.state.moved = False
        await self.state.trigger(name)
        moved = self.state.moved
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            # transitions swallows a cancel that lands inside a trigger; pass it on, or the
            # task cancelled (a surface closing, the show stopping) would go on running.
            raise asyncio.CancelledError
        self.counts["handled" if moved else "unmet"] += 1
        outcome = Outcome(name, moved, None if moved else self._unmet(scene, name))
        if self.state.entries == entries:
            self._send_sounds(None)  # no scene entered: the sounds its actions fired go now
        if self.state.entries == entries and self.state.memory == memory:
            # Nothing changed (a condition did not hold, or the flags were already so): a
            # button pressed again and again is not worth a line each.
            self._tally_log(
                "trigger_changed_nothing",
                level="info",
                trigger=name,
                scene=scene,
                why=outcome.why or "its flags and counters were already so",
            )
            return outcome
        self._tally_log(
            "trigger_fired", level="info", trigger=name, source=trigger.source, scene=scene
        )
        if self.state.entries != entries:
            await self._enter()
        else:
            await self._flags_changed()
        return outcome

    # --- control --------------------------------------------------------------------------

    def watch(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` (on the loop's thread, must not block) after every change a
        client could show; returns what stops it."""
        self._watchers.append(callback)
        return lambda: self._watchers.remove(callback)

    def changed(self) -> None:
        """Tell the watchers that something changed (the outputs' health, say)."""
        for callback in list(self._watchers):
            try:
                callback()
            except Exception:  # a surface's bug must not stop the show
                logger.exception("watcher_failed")

    def next_scene(self) -> str | None:
        """Where :meth:`go` leads: the current scene's first transition with a ``to``; ``None``
        when it has none (as in the fault state). Never waits."""
        spec = self.show.scenes.get(self.state.scene)
        return next((t.to for t in spec.transitions if t.to), None) if spec else None

    async def go(self) -> Answer:
        """Go to the next scene, :meth:`next_scene` (the "skip" of a game master, the GO of a
        cue desk)."""
        scene = self.state.scene
        target = self.next_scene()
        if target is None:
            return refused(
                Refusal.NOT_NOW,
                f"scene {scene!r} leads to no other scene, so there is no next one; "
                f"go to a scene by name instead (its scenes are: {self._scenes})",
            )
        return await self.goto(target)

    async def pause(self) -> Answer:
        """Hold the show where it is: the sound fades out, the LEDs hold their frame, the
        timers stand still, and triggers are ignored until :meth:`resume` (``goto`` and
        ``reset`` end the pause too). Pausing a paused show changes nothing."""
        async with self._busy:
            if self.paused is None and self.state.scene != FAULT:
                held = await self._hold()
                logger.info("show_paused", scene=self.state.scene, seconds=round(held, 3))
                self.changed()
        return self.status()

    async def _hold(self) -> float:
        """Stand the show still where it is (:meth:`pause`'s work); how far into the scene."""
        self.paused = held = max(0.0, self.clock.monotonic() - self.t0)
        self.clocks.pause(self.clock.monotonic())
        self._timers.clear()
        self._cues.clear()
        if self.relays is not None:
            self.relays.forget()
        self._timers_changed.set()
        await self.outputs.stop(fade=PAUSE_FADE)
        if self.leds is not None:
            self.leds.hold()
        return held

    @contextlib.asynccontextmanager
    async def outputs_lent(self) -> AsyncIterator[None]:
        """The outputs lent to a calibration check: the show stands still meanwhile, as paused
        (nothing else changes it: triggers and commands wait), and is taken up where it was
        after, its trims as the calibration file said (a check sets its own)."""
        async with self._busy:
            held = None
            if self.paused is None and self.state.scene != FAULT:
                held = await self._hold()
            try:
                yield
            finally:
                self.outputs.trims = self.calibration.trims
                if held is not None:
                    await self._enter(TakeUp(held, "calibration"))

    async def resume(self) -> Answer:
        """Go on from where :meth:`pause` held the show: the sound, the LEDs and the timers
        take up the scene at the time it was paused. Resuming a running show changes nothing."""
        async with self._busy:
            if self.paused is not None:
                logger.info("show_resumed", scene=self.state.scene)
                await self._enter(TakeUp(self.paused, "pause"))
        return self.status()

    async def goto(self, scene: str) -> Answer:
        """Go to ``scene`` now, as a transition would (its exit and enter actions run)."""
        if scene not in self.show.scenes:
            return refused(
                Refusal.UNKNOWN_NAME,
                f"the show has no scene {scene!r}; its scenes are: {self._scenes}",
            )
        await self.handle(Trigger(f"goto:{scene}", "control"))
        return self.status()

    async def reset(self) -> Answer:
        """Start the show over: every flag clear, every counter 0, the initial scene entered
        anew."""
        async with self._busy:
            logger.info("show_reset", scene=self.state.scene)
            await self._start_over()
        return self.status()

    async def trigger(self, name: str) -> Answer:
        """Fire an event (``room-ready``) or an input (``input:door``) now, from the control
        socket. Unknown names get a refusal naming what the show has."""
        named = name if ":" in name else f"event:{name}"
        if self._alarm(named, "control") and named not in self.machine.events:
            return self.status()
        full = self.resolve(name, "control")
        if isinstance(full, Answer):
            return full
        outcome = await self.handle(Trigger(full, "control"))
        return Answer(self.status(), moved=outcome.moved, why=outcome.why)

    def resolve(self, name: str, source: str) -> str | Answer:
        """The machine trigger that an operator's ``name`` fires (``door`` is the event
        ``event:door``; ``input:door`` the input), or the refusal of a name the show does not
        have (counted and logged as an unknown trigger from ``source``)."""
        full = name if ":" in name else f"event:{name}"
        if full.startswith(("event:", "input:")) and (
            full in self.machine.events or self._sets_off(full)
        ):
            return full
        self._tally("unknown", Trigger(full, source), hint="the show has no such event")
        return refused(
            Refusal.UNKNOWN_NAME,
            f"the show has no event or input {name[:80]!r}; it has: {self._triggerables}",
        )

    async def reload(self, *, now: bool = False) -> Answer:
        """Read the show file again. An invalid one changes nothing (its errors are logged with
        their places and answered). A valid one takes over at the next scene change, or at once
        with ``now``. A show with other outputs, matrix, inputs or relays needs a restart of
        showctl. It is checked against the settings showctl runs with."""
        new, problems = await asyncio.to_thread(
            functools.partial(check, self.show.path, settings=self.settings)
        )
        errors = [str(p) for p in problems if p.severity == "error"]
        if new is None:
            for error in errors:
                logger.error("reload_problem", problem=error)
            logger.error("reload_rejected", path=str(self.show.path), errors=len(errors))
            return refused(
                Refusal.INVALID_SHOW,
                f"{self.show.path} has {len(errors)} error{'s' * (len(errors) != 1)}; the "
                "running show goes on unchanged. Correct them (showctl check) and reload again",
                problems=errors,
            )
        changed = [
            part
            for part in ("outputs", "matrix", "inputs", "relays")
            if getattr(new, part) != getattr(self.show, part)
        ]
        if changed:
            logger.error("reload_rejected", path=str(self.show.path), changed=changed)
            return refused(
                Refusal.NEEDS_RESTART,
                f"the new {self.show.path} changes the show's {' and '.join(changed)}, which "
                "showctl takes up only at start; the running show goes on unchanged. "
                "Restart showctl (systemctl restart showctl) to take it up",
            )
        self.pending = new
        logger.info("reload_accepted", path=str(self.show.path), now=now)
        if now:
            async with self._busy:
                self._take_over()
                if self.paused is None:  # paused, the new show is taken up at the resume
                    at = max(0.0, self.clock.monotonic() - self.t0)
                    await self._enter(TakeUp(at, "reload"))
                else:
                    self.changed()
        return self.status()

    def reload_soon(self) -> None:
        """Reload in the background (SIGHUP's handler: it may not wait)."""
        self._background(self.reload(), "reload")

    # --- the room -------------------------------------------------------------------------

    async def power(self, relay: str) -> Answer:
        """Power a relay now (refused while the emergency release holds)."""
        return self._by_hand(relay, lambda relays: relays.power(relay))

    async def unpower(self, relay: str) -> Answer:
        """Unpower a relay now (refused while the emergency release holds a relay that is safe
        powered)."""
        return self._by_hand(relay, lambda relays: relays.unpower(relay))

    async def pulse(self, relay: str, duration: str) -> Answer:
        """Power a relay for ``duration`` (``500ms``, ``2s``), then unpower it."""
        seconds = parse_duration(duration)
        if seconds is None or not 0.01 <= seconds <= 86400:
            return refused(
                Refusal.BAD_ARGUMENT,
                f"pulse's duration {duration[:40]!r} is not a time from 10ms to 24h; "
                "give one such as '500ms' or '2s'",
            )
        return self._by_hand(relay, lambda relays: relays.pulse(relay, seconds))

    async def action(self, name: str) -> Answer:
        """Run the show's named action ``name`` now (its actions in order), or refuse it whole:
        an unknown name, or a relay it would switch away from safe during the emergency."""
        actions = self.show.actions.get(name)
        if actions is None:
            names = ", ".join(self.show.actions) or "none"
            return refused(
                Refusal.UNKNOWN_NAME,
                f"the show has no named action {name[:80]!r}; its actions are: {names}",
            )
        for action in actions:
            if isinstance(action, RelayAction) and self.relays is not None:
                pulse = action.duration if isinstance(action, Pulse) else None
                powered = not isinstance(action, Unpower)
                why = self.relays.refusal(action.relay, powered, pulse)
                if why is not None:
                    return refused(Refusal.NOT_NOW, f"{name!r} is refused: {why}")
        logger.info("named_action", action=name)
        for action in actions:
            self._act(action)
        self._send_sounds(None)
        return self.status()

    async def sound(self, name: str) -> Answer:
        """Play the show's sound ``name`` now, over what its output plays."""
        if name not in self.show.sounds:
            names = ", ".join(self.show.sounds) or "none"
            return refused(
                Refusal.UNKNOWN_NAME,
                f"the show has no sound {name[:80]!r}; its sounds are: {names}",
            )
        self._play_sound(name, None, "command")
        return self.status()

    async def hint(self, name: str) -> Answer:
        """Give the show's hint ``name`` now: its text to the players' screen, its clip over
        the room's sound; one more in the count of hints."""
        if name not in self.show.hints:
            names = ", ".join(self.show.hints) or "none"
            return refused(
                Refusal.UNKNOWN_NAME,
                f"the show has no hint {name[:80]!r}; its hints are: {names} (or type one: "
                "hint-text)",
            )
        return await self._hint_now(name, None)

    async def hint_text(self, text: str) -> Answer:
        """Give a hint typed by the game master: its text to the players' screen; one more in
        the count of hints."""
        text = text.strip()
        if not text or len(text) > MAX_TEXT:
            return refused(
                Refusal.BAD_ARGUMENT,
                f"a hint's text is 1 to {MAX_TEXT} characters long, not {len(text)}; "
                + ("type what the players should read" if not text else "shorten it"),
            )
        return await self._hint_now(None, text)

    async def _hint_now(self, name: str | None, typed: str | None) -> Answer:
        async with self._busy:
            self._give_hint("command", name, typed)
            self._send_sounds(None)
            await self._flags_changed()  # 'hints' is a counter that conditions compare
        return self.status()

    def _give_hint(self, source: str, name: str | None, typed: str | None = None) -> None:
        """Count a hint of the show (``name``) or one ``typed``, keep it for the page and the
        screens (:meth:`changed` tells them), and queue its clip if it has one."""
        text = self.show.hints[name].text if name is not None else typed or ""
        count = self.state.counters.get(HINTS, 0) + 1
        self.state.counters[HINTS] = count
        self.hints.append({"name": name, "text": text, "count": count, "at": round(self.wall(), 3)})
        logger.info("hint_given", hint=name, text=text, count=count, source=source)
        if name is not None and self.show.hints[name].sound is not None:
            self._sounds.append(f"hint:{name}")

    async def level(self, output: str, db: str) -> Answer:
        """Set ``output``'s level (or the master's) to ``db`` dB, or back to the show's with
        ``show``: from now on, and after a restart (it is saved)."""
        value = None if db.strip() == "show" else parse_db(db)
        if value is None and db.strip() != "show":
            return refused(
                Refusal.BAD_ARGUMENT,
                f"a level is a number of dB such as -6, or show for the show file's; "
                f"not {db[:40]!r}",
            )
        why = self.levels.set(output, value)
        if why is not None:
            known = output in (*self.show.outputs, MASTER)
            return refused(Refusal.BAD_ARGUMENT if known else Refusal.UNKNOWN_NAME, why)
        logger.info("level_set", output=output, db=value, show_db=self._show_db(output))
        await self._send_levels()
        self._save()
        self.changed()
        return self.status()

    def _show_db(self, output: str) -> float:
        return self.show.gain if output == MASTER else self.show.outputs[output].gain

    async def _send_levels(self) -> None:
        """Tell every output the level it plays at (the master and its own)."""
        for name in self.show.outputs:
            await self.outputs.level(name, factor(self.levels.db(name)))

    async def emergency(self) -> Answer:
        """Release the room: every relay to its safe state at once, held there until
        ``all-clear``."""
        self.release("the emergency command")
        return self.status()

    async def all_clear(self) -> Answer:
        """Lift the emergency release; the relays stay safe until the show or the game master
        switches them."""
        if self.relays is None or self.relays.emergency is None:
            return refused(Refusal.NOT_NOW, "no emergency release is on, so there is none to clear")
        self.relays.all_clear()
        return self.status()

    # --- the game clocks -------------------------------------------------------------------

    async def start_clock(self, clock: str) -> Answer:
        """Start a game clock, or set it going again where it stopped."""
        if self.paused is not None:
            return refused(
                Refusal.NOT_NOW, f"the show is paused; resume it first, then start {clock!r}"
            )
        return self._clock_command(clock, StartClock(clock))

    async def stop_clock(self, clock: str) -> Answer:
        """Stop a game clock where it is."""
        return self._clock_command(clock, StopClock(clock))

    async def add_time(self, clock: str, time: str) -> Answer:
        """Add ``time`` to a game clock (``5min``), or take it away (``-2min``); taken below
        zero, the clock stops at zero and its end fires once."""
        seconds = parse_duration(time)
        if seconds is None or not -86400 <= seconds <= 86400:
            return refused(
                Refusal.BAD_ARGUMENT,
                f"add-time's time {time[:40]!r} is not a time of at most 24h; give one such as "
                "'5min', or '-2min' to take time away",
            )
        return self._clock_command(clock, AddTime(clock, seconds))

    def _clock_command(self, clock: str, action: ClockAction) -> Answer:
        if clock not in self.clocks.clocks:
            names = ", ".join(self.show.clocks) or "none"
            return refused(
                Refusal.UNKNOWN_NAME,
                f"the show has no game clock {clock[:80]!r}; its clocks are: {names}",
            )
        self._clock_act(action, "command")
        return self.status()

    def _clock_act(self, action: ClockAction, source: str) -> None:
        """Run a clock's action; a change is saved, shown and looked at by the timers."""
        if self.clocks.act(action, self.clock.monotonic(), source):
            self._timers_changed.set()
            self._save()
            self.changed()

    def _clock_left(self, clock: str) -> float:
        return self.clocks.left(clock, self.clock.monotonic())

    def release(self, why: str) -> None:
        """The emergency release: every relay safe now and held so (idempotent)."""
        if self.relays is None:
            logger.critical("emergency", reason=why, relays=0)
            return
        self.relays.latch(why)

    def _alarm(self, trigger: str, source: str) -> bool:
        """Whether ``trigger`` is one of the show's emergency triggers; if so, release."""
        if not self._sets_off(trigger):
            return False
        self.release(f"{_spoken(trigger)} from {source}")
        return True

    def _sets_off(self, trigger: str) -> bool:
        """Whether ``trigger`` (``input:NAME``, ``event:NAME``) sets off the emergency."""
        emergency = self.show.emergency
        kind, _, name = trigger.partition(":")
        if emergency is None:
            return False
        return name in (emergency.inputs if kind == "input" else emergency.events)

    def _by_hand(self, relay: str, switch: Callable[[Bank], str | None]) -> Answer:
        if self.relays is None or relay not in self.relays.specs:
            names = ", ".join(self.show.relays) or "none"
            return refused(
                Refusal.UNKNOWN_NAME,
                f"the show has no relay {relay[:80]!r}; its relays are: {names}",
            )
        why = switch(self.relays)
        return self.status() if why is None else refused(Refusal.NOT_NOW, why)

    def _act(self, action: ControllerAction | Zero) -> None:
        """Carry out one of the show's actions on the room, a game clock, a sound or a hint
        now (a scene entered or left, a transition's ``do``), or forget the hints given (the
        counter ``hints`` zeroed); a sound waits for the T0 of what fired it
        (:meth:`_send_sounds`). One refused (the emergency release) is logged and dropped."""
        if isinstance(action, PlaySound):
            self._sounds.append(action.sound)
            return
        if isinstance(action, GiveHint):
            self._give_hint("show", action.hint)
            return
        if isinstance(action, Zero):  # of the hints given: a new game
            self.hints.clear()
            return
        if isinstance(action, ClockAction):
            self._clock_act(action, "show")
            return
        if isinstance(action, Message):
            self._send(action)
            return
        if self.relays is None:
            return
        if isinstance(action, Power):
            why = self.relays.power(action.relay, why="show")
        elif isinstance(action, Unpower):
            why = self.relays.unpower(action.relay, why="show")
        else:
            why = self.relays.pulse(action.relay, action.duration, why="show")
        if why is not None:
            self._tally_log(
                "relay_change_dropped", key=f"dropped:{action.relay}", relay=action.relay, why=why
            )

    def _place(self, action: ControllerAction, due: float) -> None:
        """Put an action of the scene's timeline at its time: a relay's change on the relays'
        thread, a message, a clock's action or a hint on the controller's timers (within a few
        ms of it), a sound to its output SOUND_AHEAD before its sample."""
        if isinstance(action, PlaySound | Message | ClockAction | GiveHint):
            self._cues.append(
                (due - SOUND_AHEAD, SoundAt(action.sound, due))
                if isinstance(action, PlaySound)
                else (due, action)
            )
            self._cues.sort(key=lambda cue: cue[0])
            self._timers_changed.set()
            return
        if self.relays is None:
            return
        if isinstance(action, Pulse):
            self.relays.at(due, action.relay, True, self.entry, pulse=action.duration)
        else:
            self.relays.at(due, action.relay, isinstance(action, Power), self.entry)

    def _send_sounds(self, t0: float | None) -> None:
        """Send the sounds that actions fired: from ``t0`` (a scene's just entered), or as soon
        as their outputs can."""
        sounds, self._sounds = self._sounds, []
        for name in sounds:
            self._play_sound(name, t0, "show")

    def _play_sound(self, name: str, t0: float | None, source: str) -> None:
        """Play the sound ``name`` (or a hint's clip, ``hint:NAME``) from ``t0``, or as soon
        as its output can."""
        spec = self.show.effects()[name]
        at = self.outputs.effect(
            spec.output, self.show.clip_path(spec.clip), 10 ** (spec.gain / 20), t0, self.entry
        )
        logger.info(
            "sound_played",
            sound=name,
            output=spec.output,
            t0=round(at, 6),
            source=source,
        )

    def _send(self, message: Message) -> None:
        if self.messages is None:
            return
        try:
            self.messages.send(message)
        except Exception:  # a bug in sending must not stop the show's transition
            logger.exception("message_not_sent", message=message.TAG)

    def _threadsafe_changed(self) -> None:
        """:meth:`changed`, from the relays' thread or the loop's."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.changed)

    def status(self) -> Answer:
        """Where the show is, in JSON-ready form. Never waits."""
        now = self.clock.monotonic()
        return Answer(
            ok=True,
            show=self.show.title,
            path=str(self.show.path),
            scene=self.state.scene,
            next=self.next_scene(),
            seconds=round(max(0.0, now - self.t0) if self.paused is None else self.paused, 3),
            paused=self.paused is not None,
            flags=sorted(self.state.flags),
            counters=dict(sorted(self.state.counters.items())),
            fault=self.fault,
            reload_pending=self.pending is not None,
            triggers=dict(self.counts),
            queued=self.queue.qsize(),
            timers=[
                {"trigger": name, "in": round(due - now, 3)} for due, name in sorted(self._timers)
            ],
            clocks=self.clocks.state(now),
            hints=list(self.hints),
            levels=self.levels.state(),
            **self.hours.state(self.closed is not None),
            outputs={
                name: {
                    **dataclasses.asdict(h),
                    "delay": self.show.outputs[name].delay,
                    "trim": self.outputs.trims.get(name, 0.0),
                }
                for name, h in self.outputs.health().items()
            },
            calibration={**self.calibration.status(), "check": self.checked},
            leds=self._leds_state(),
            **self._room_state(),
            **({"messages": self.messages.state()} if self.messages is not None else {}),
            **({"health": self.health.latest} if self.health and self.health.latest else {}),
            **({"boxes": self.boxes()} if self.boxes is not None else {}),
            **({"prop_lines": self.props.lines()} if self.props and self.props.serial else {}),
        )

    def summary(self) -> Answer:
        """What changes only when the show moves (no running times or counts), JSON-ready: the
        state the network surfaces publish (MQTT retained, OSC replies). Never waits."""
        return Answer(
            show=self.show.title,
            scene=self.state.scene,
            paused=self.paused is not None,
            flags=sorted(self.state.flags),
            counters=dict(sorted(self.state.counters.items())),
            fault=self.fault,
            outputs={name: h.failed or "ok" for name, h in self.outputs.health().items()},
            leds=self._leds_state(),
            **self._room_state(),
        )

    def _room_state(self) -> dict[str, Any]:
        """The relays (powered or not), the emergency release and the props' presence, for
        the status and the summary."""
        relays = self.relays
        props = {} if self.props is None else self.props.presence
        return {
            "props": dict(props),
            "relays": {} if relays is None else dict(relays.powered),
            "emergency": None if relays is None else relays.emergency,
            **({"relays_failed": relays.failed} if relays is not None and relays.failed else {}),
        }

    def _leds_state(self) -> str | None:
        """The LEDs' state for the status: ``ok``, why they stopped, or ``None`` (no matrix)."""
        return None if self.leds is None else (self.leds.failed or "ok")

    def output_failed(self, output: str, reason: str) -> None:
        """An output is failed (its restarts spent). The show goes on with the others, degraded;
        with none left it cannot, and the controller enters the fault state."""
        logger.error("show_degraded", output=output, reason=reason)
        self.changed()
        health = self.outputs.health()
        if health and all(h.failed for h in health.values()):
            self.enter_fault(f"every audio output has failed (the last: {output}, {reason})")

    def output_recovered(self, output: str) -> None:
        """A failed output is back. Out of a fault, the show starts over."""
        logger.info("output_recovered", output=output)
        self.changed()
        if self.state.scene == FAULT:
            self._background(self.reset(), "recover")

    def enter_fault(self, reason: str) -> None:
        """The show cannot go on: stop the outputs, darken the LEDs, say why. ``reset`` or
        ``goto`` leaves it."""
        if self.state.scene == FAULT:
            return
        self.fault = reason
        logger.error("show_fault", reason=reason)
        self._put(Trigger(FAULT, "controller"))

    # --- from the outputs and timers ------------------------------------------------------

    def output_changed(self, output: str) -> None:
        """An output's health changed otherwise (restarted, a start cut short)."""
        self.changed()

    def clip_finished(self, output: str, play: int, reason: str) -> None:
        """An output's clip ended (``reason`` ``end`` or ``already over``): fire ``audio_end``
        (once: a restarted player says "already over" again)."""
        if play != self.entry or output not in self._once or reason not in ("end", "already over"):
            return  # a clip of an earlier scene, or one stopped on purpose
        if output in self._finished:
            return
        self._finished.add(output)
        for which in (output, "all") if self._once <= self._finished else (output,):
            name = f"audio_end:{which}"
            if name in self.machine.events:
                self._put(Trigger(name, "audio", self.entry))

    def expire_due(self) -> None:
        """Fire the timers that are due by the clock, and carry out the timeline's cues due
        (messages, sounds, clocks' actions, hints)."""
        now = self.clock.monotonic()
        due = [t for t in self._timers if t[0] <= now]
        for timer in due:
            self._timers.remove(timer)
            self._put(Trigger(timer[1], "timer", self.entry))
        hinted = False
        while self._cues and self._cues[0][0] <= now:
            cue = self._cues.pop(0)[1]
            if isinstance(cue, SoundAt):
                self._play_sound(cue.sound, cue.due, "timeline")
            elif isinstance(cue, ClockAction):
                self._clock_act(cue, "timeline")
            elif isinstance(cue, GiveHint):
                self._give_hint("timeline", cue.hint)
                self._send_sounds(None)
                hinted = True
            else:
                self._send(cue)
        zero, crossed = self.clocks.look(now)
        for event in zero:
            self._put(Trigger(f"event:{event}", "clock"))
        if zero or hinted:
            self._save()
            self.changed()
        # A time compared passed, or the count of hints changed: the conditions again.
        if (crossed or hinted) and FLAGS_CHANGED in self.machine.get_triggers(self.state.scene):
            self._put(Trigger(FLAGS_CHANGED, "controller", self.entry))

    async def _timer_loop(self) -> None:
        while True:
            self._timers_changed.clear()
            self.expire_due()
            dues = [due for due, _ in [*self._timers, *self._cues[:1]]]
            clock_due = self.clocks.next_due(self.clock.monotonic())
            if clock_due is not None:
                dues.append(clock_due)
            due = min(dues, default=None)
            until = None if due is None else max(0.0, due - self.clock.monotonic())
            await wait(self.clock, self._timers_changed, until)

    # --- opening hours ------------------------------------------------------------------

    def _verdict(self) -> Verdict | None:
        """What the opening hours say now (those of a reloaded show waiting to take over);
        ``None``: the show has none."""
        return self.hours.now((self.pending or self.show).hours)

    async def _hours_loop(self) -> None:
        """Look at the wall clock and the hours every :data:`HOURS_EVERY` s, and close or open
        the show when they say so. A step of the clock, or the clock trusted at last, is taken
        up at once: what the hours say is worked out from the clock each time."""
        while True:
            await self.follow_hours()
            await self.clock.sleep(HOURS_EVERY)

    async def follow_hours(self) -> None:
        """Look at the wall clock and the hours once, and close or open the show if they say
        so (what :meth:`run` does every :data:`HOURS_EVERY` s)."""
        self.hours.wall_clock.look()
        said = self.hours.said
        now = self._verdict()
        if now is not None and (said is None or now.why != said.why):
            self.changed()  # the status says what the hours say
        if now is not None and not now.open and self.closed is None:
            await self._close(now)
        elif (now is None or now.open) and self.closed is not None:
            await self._open(now)

    async def _close(self, why: Verdict) -> None:
        """The hours close the show: into their closed scene, as a ``goto`` would go (the
        scene left runs its exit actions), remembering where it was."""
        async with self._busy:
            show = self.pending or self.show
            assert show.hours is not None
            scene = self.state.scene
            if scene not in (show.hours.closed, FAULT):
                at = self.paused if self.paused is not None else self.clock.monotonic() - self.t0
                self.reopen = (scene, max(0.0, at))
            self.closed = why
            logger.info("show_closed", why=why.why, scene=scene, reopen=self.reopen)
            if scene != show.hours.closed:
                await self._handle(Trigger(f"goto:{show.hours.closed}", "hours"))
            self._save()
            self.changed()

    async def _open(self, why: Verdict | None) -> None:
        """The hours open the show: it starts over, or, with ``restart: resume``, takes up
        the scene where they closed it."""
        async with self._busy:
            self.closed = None
            reopen, self.reopen = self.reopen, None
            logger.info("show_opened", why=why.why if why else "the show has no hours now")
            if self.pending is not None:
                self._take_over()
            if self.show.restart == "resume" and reopen and reopen[0] in self.show.scenes:
                self.machine.set_state(reopen[0], model=self.state)
                await self._enter(TakeUp(reopen[1], "closing"))
            else:
                await self._start_over()

    # --- scenes ---------------------------------------------------------------------------

    async def _start_over(self, scene: str | None = None) -> None:
        """Every flag clear, every counter 0, the clocks reset, and the initial scene (or
        ``scene``) entered anew."""
        if self.pending is not None:
            self._take_over()
        scene = scene or self.show.initial
        self.state.flags.clear()
        self.state.counters.clear()
        self.hints.clear()
        self.clocks.reset()
        self.machine.set_state(scene, model=self.state)
        self.state.apply(self.show.scenes[scene].on_enter)
        await self._enter()

    def _calibrate(self, show: Show) -> stored.Trims:
        """Read ``show``'s calibration file and hold its outputs back by its trims from the
        next start; each part of it that does not fit the show is logged, and not applied."""
        trims = stored.load_for(show)
        for problem in trims.problems:
            logger.warning("calibration_problem", problem=problem)
        self.outputs.trims = trims.trims
        return trims

    def _take_over(self) -> None:
        """Put the reloaded show in place, in the same scene if it still has it."""
        new, self.pending = self.pending, None
        assert new is not None
        scene = self.state.scene if self.state.scene in new.scenes else new.initial
        self.show = new
        self.state = ShowState(
            flags=self.state.flags & set(new.flags),
            counters=self._counters_kept(self.state.counters, new),
            act=self._act,
            clock_left=self._clock_left,
        )
        self.clocks.take_up(new)
        self.levels.take_up(new)
        self.calibration = self._calibrate(new)
        self._background(self._send_levels(), "levels")
        self.machine = build_machine(new, self.state, initial=scene)
        logger.info("show_reloaded", scene=scene)

    async def _enter(self, take_up: TakeUp | None = None) -> None:
        """The machine is in a new state: play it from one T0 on every output and the LEDs;
        or, with ``take_up``, take the scene up where it was (its T0 that far back)."""
        if self.pending is not None and take_up is None:
            self._take_over()
        self.entry += 1
        self.paused = None
        scene_name = self.state.scene
        self.on_scene(scene_name)
        now = self.clock.monotonic()
        self.clocks.resume(now)  # those a pause held (a resume, a goto, a reset)
        self.t0 = now if take_up is None else now - take_up.at  # a start's comes with its play
        self._timers.clear()
        self._cues.clear()
        self._once, self._finished = set(), set()
        if self.relays is not None:
            self.relays.forget()
        if scene_name == FAULT:
            self._sounds.clear()  # the outputs fall silent
            if self.relays is not None:
                self.relays.make_safe("fault")
            await self.outputs.stop()
            if self.leds is not None and self.show.matrix is not None:
                self.leds.play(scene_schedule(self.show, None), self.t0)
            self._timers_changed.set()
            self.changed()
            return
        self.fault = None
        scene = self.show.scenes[scene_name]
        clips = self.show.clips(scene_name)
        # Before anything is sent: a clip already over (a resumed scene) says so at once.
        self._once = {output for output, (_, loop) in clips.items() if not loop}
        fade = self._fades(scene_name, take_up)
        t0 = None if take_up is None else self.t0
        self.t0 = await self.outputs.play(clips, t0, self.entry, fade)
        silent = [name for name in self.show.outputs if name not in clips]
        if silent:
            await self.outputs.stop(outputs=silent, at=self.t0, play=self.entry, fade=fade[1])
        # Sounds fired by what entered the scene start with it (a scene taken up: from now).
        self._send_sounds(self.t0 if take_up is None else None)
        if self.leds is not None and self.show.matrix is not None:
            self.leds.play(scene_schedule(self.show, scene_name), self.t0)
        # A timer that fell due while showctl was down fires at once; one that fell due while
        # it ran (before a pause or a reload) has had its turn.
        since = now if take_up is not None and take_up.after != "restart" else -math.inf
        self._timers = [
            (due, f"after:{i}")
            for i, t in enumerate(scene.transitions)
            if t.after is not None and (due := self.t0 + t.after) > since
        ]
        self._timers_changed.set()
        # The room's timeline: only what is still ahead, even after a restart (the relays
        # started safe; replaying what is past would fire every pulse at once).
        for timed in scene.timeline:
            if (due := self.t0 + timed.at) > now:
                self._place(timed.action, due)
        when: dict[str, Any] = (
            {"lead_ms": round((self.t0 - now) * 1e3, 3)}
            if take_up is None
            else {"seconds": round(take_up.at, 3), "resumed": f"after a {take_up.after}"}
        )
        logger.info(
            "scene_entered",
            scene=scene_name,
            t0=round(self.t0, 6),
            **when,
            outputs=len(clips),
            flags=sorted(self.state.flags),
            **({"description": scene.description} if scene.description else {}),
        )
        self._save()
        self.changed()
        await self.outputs.load(self._next_clips())
        if FLAGS_CHANGED in self.machine.get_triggers(scene_name):
            await self._handle(Trigger(FLAGS_CHANGED, "controller", self.entry))

    def _fades(self, scene: str, take_up: TakeUp | None) -> tuple[float, float]:
        """How ``scene``, entered, fades in (not when a reload takes it up where it is) and how
        the one before fades out under it (not when a scene is taken up: nothing sounds); it
        remembers how ``scene`` will fade out under the next."""
        fade = self.show.fade_of(scene)
        fade_in = 0.0 if take_up is not None and take_up.after == "reload" else fade.fade_in
        fade_out = self._fading_out if take_up is None else 0.0
        self._fading_out = fade.fade_out
        return fade_in, fade_out

    @staticmethod
    def _counters_kept(counters: Mapping[str, int], show: Show) -> dict[str, int]:
        """The counters ``show`` has (and the hints given) of ``counters``."""
        return {n: c for n, c in counters.items() if n in show.counters or n == HINTS}

    async def _flags_changed(self) -> None:
        self._save()
        self.changed()
        # Paused, the conditions are looked at again when the show is resumed.
        if self.paused is None and FLAGS_CHANGED in self.machine.get_triggers(self.state.scene):
            await self._handle(Trigger(FLAGS_CHANGED, "controller", self.entry))

    def _next_clips(self) -> dict[str, set[tuple[Path, bool]]]:
        """The clips of every scene the current one can lead to, and every sound's, per
        output."""
        clips: dict[str, set[tuple[Path, bool]]] = {}
        for sound in self.show.effects().values():
            clips.setdefault(sound.output, set()).add((self.show.clip_path(sound.clip), False))
        for t in self.show.scenes[self.state.scene].transitions:
            if t.to is not None:
                for output, clip in self.show.clips(t.to).items():
                    clips.setdefault(output, set()).add(clip)
        return clips

    def _save(self) -> None:
        """Save the state in the background (two fsyncs take milliseconds). Changes made while
        a save runs are saved together once it is done: a flood of changes is not a flood of
        writes, and the file always ends with the latest state."""
        if self.state_path is None:
            return
        self._save_wanted = True
        if self._saver is None or self._saver.done():
            self._saver = asyncio.create_task(self._save_latest(), name="state-save")

    async def saved(self) -> None:
        """Wait until the latest state is on disk (or the disk refused it: no retry then)."""
        while self._saver is not None and not self._saver.done():
            await asyncio.shield(self._saver)
        if self._save_retry is not None:
            self._save_retry.cancel()

    async def _save_latest(self) -> None:
        assert self.state_path is not None
        while self._save_wanted:
            self._save_wanted = False
            record = saved_state.SavedState(
                show=self._key,
                scene=self.state.scene,
                started=self.wall() + (self.t0 - self.clock.monotonic()),
                flags=frozenset(self.state.flags),
                counters=dict(self.state.counters),
                hints=tuple(self.hints),
                clocks=self.clocks.saved(self.clock.monotonic(), self.wall()),
                reopen=self.reopen,
                levels=dict(self.levels.live),
            )
            try:
                await asyncio.to_thread(saved_state.save, self.state_path, record)
            except OSError as e:  # the disk full or read-only, for a while perhaps: try later
                self._tally_log("state_not_saved", path=str(self.state_path), reason=str(e))
                if self._save_retry is not None:
                    self._save_retry.cancel()
                self._save_retry = asyncio.get_running_loop().call_later(SAVE_RETRY, self._save)
                return
            if self._save_retry is not None:  # the disk takes the state again
                self._save_retry.cancel()
                self._save_retry = None
                logger.info("state_saved_again", path=str(self.state_path))

    # --- helpers --------------------------------------------------------------------------

    @property
    def _key(self) -> str:
        return str(self.show.path.resolve())

    @property
    def _scenes(self) -> str:
        return ", ".join(self.show.scenes)

    @property
    def _triggerables(self) -> str:
        names = sorted(
            name.removeprefix("event:")
            for name in self.machine.events
            if name.startswith(("event:", "input:"))
        )
        return ", ".join(names) or "none"

    def _background(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._tasks.discard)

    def _takes(self, scene: str) -> str:
        """What a scene takes from people and props, said for a refusal."""
        names = sorted(
            _spoken(n)
            for n in self.machine.get_triggers(scene)
            if n.startswith(("event:", "input:"))
        )
        return f"it takes {', '.join(names)}" if names else "it takes no event or input"

    def _unmet(self, scene: str, name: str) -> str:
        """Why ``name`` moved nothing in ``scene``: the conditions of its transitions."""
        spec = self.show.scenes.get(scene)
        conditions = [
            " and ".join(t.when)
            for i, t in enumerate(spec.transitions if spec else ())
            if trigger_name(t, i) == name and t.when
        ]
        if not conditions:
            return f"{_spoken(name)} moved nothing in scene {scene!r}"
        return (
            f"in scene {scene!r}, {_spoken(name)} needs {' or '.join(conditions)}, "
            "which did not hold"
        )

    def _put(self, trigger: Trigger) -> None:
        try:
            self.queue.put_nowait(trigger)
        except asyncio.QueueFull:
            why = "more triggers than the controller can take"
            self._tally("dropped", trigger, hint=why)
            if trigger.reply is not None:
                trigger.reply(Outcome(trigger.name, False, f"dropped: {why}"))

    def _tally(self, kind: str, trigger: Trigger, hint: str) -> None:
        self.counts[kind] += 1
        # Names the show does not know come without end (a flood of made-up ones over the
        # network): at most a line a second for each source, not for each name.
        per = trigger.source if kind == "unknown" else trigger.name
        self._tally_log(
            f"trigger_{kind}",
            key=f"trigger_{kind}:{per}",
            trigger=trigger.name,
            source=trigger.source,
            scene=self.state.scene,
            hint=hint,
        )

    def _tally_log(
        self, event: str, level: str = "warning", key: str | None = None, **data: Any
    ) -> None:
        """Log ``event``, at most once a second for each ``key`` (default: event and trigger)."""
        self._logged.log(key or f"{event}:{data.get('trigger', '')}", event, level, **data)


def _spoken(name: str) -> str:
    """A machine trigger as a person says it: ``input:door`` is "input 'door'"."""
    kind, _, what = name.partition(":")
    return f"{kind} {what!r}" if what else name
