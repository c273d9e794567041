"""The audio callback of a player: silence, or a clip placed on the shared timeline.

Every block, :meth:`Renderer.render` learns when the block's first sample leaves the DAC and
feeds that to a :class:`~showctl.audio.timeline.DacClock`. A clip playing from ``t0`` belongs at
content sample ``(t - t0) * rate`` at DAC time ``t``:

- **start**: the first block that reaches ``t0`` gets ``round((t0 - t) * rate)`` zeros, then the
  clip, so the start lands on the sample and not on a block boundary; a player that comes in late
  (``t0`` already past) skips to where the timeline is (a late join);
- **scene change**: a clip (or a stop) sent while another sounds, for a T0 still ahead, waits:
  the sounding clip plays up to the sample before T0 and the new one from T0, in one block, so
  every output changes on the same sample;
- **drift lock**: afterwards, where the content is is compared with where the timeline says it
  should be, by the fitted DAC clock; when they part by more than ``DEADBAND`` samples, one
  sample is dropped or repeated in the next block, so the output stays locked to the monotonic
  clock whatever its card's crystal does;
- **resync**: when they part by more than ``RESYNC`` seconds, the stream's timing jumped (an
  xrun: the card played silence while the clip stood still), and the content steps back onto
  the timeline at once (``resynced`` event), not by a sample a block for seconds, which is heard
  as crackle and misplaces the output meanwhile. The lock waits while the clock fit is not
  ready (after such a jump it starts afresh), as a start does: it is judged by the fit.

**Effects** are clips mixed in over what plays (a door's creak over the room's music), each
from its own ``t0`` on the sample as a start is, at its gain; at most :data:`MAX_EFFECTS` sound
at once (one more ends the oldest, faded over :data:`DECLICK`). An effect belongs to a play, and
ends (faded over :data:`DECLICK`) when another play or a stop takes over the output, or at its
own end. Where effects sound, a soft limiter keeps the sum below full scale: in a block that
would pass it, samples past :data:`KNEE` bend towards it smoothly instead of wrapping or
clipping hard. The scene's clip is
placed and kept on the timeline as before, whatever is mixed over it.

The callback only copies and counts. Commands arrive on a deque from the control thread,
events leave on another; both are appended and popped whole, which needs no lock.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from showctl.audio.base import Block
from showctl.audio.timeline import DacClock

#: How far (in samples) the content may stray from the timeline before a correction.
DEADBAND = 2.0
#: How far (seconds) the content may stray before it steps back at once instead: the clock
#: fit's own threshold for a report that is not on its line (a jump, see DacClock.OUTLIER).
RESYNC = 0.002
#: Samples between the DAC-time reports fed to the clock fit: one a few blocks is plenty for a
#: fit over many seconds, and each costs the callback time (CPU is what a player is short of).
REPORT_EVERY = 1024


class Source(Protocol):
    """Samples to play, as :class:`~showctl.audio.clip.ClipStream` gives them."""

    position: int  # the content index of the next sample

    @property
    def length(self) -> int | None:
        """Samples in all (``None``: endless, a loop)."""
        ...

    def read_into(self, out: Block) -> int:
        """Copy the next samples into ``out``; how many there were."""
        ...

    def skip(self, n: int) -> None:
        """Move on ``n`` samples without playing them."""
        ...

    def close(self) -> None:
        """Release the source; never raises. Not called on the audio thread."""
        ...


@dataclass
class Start:
    """Start ``stream`` with its sample ``0`` at ``t0`` (monotonic seconds, DAC time); its
    ``started`` and ``finished`` events carry ``id`` (as ``play``)."""

    stream: Source
    t0: float
    id: int = 0
    #: When the player had the command (monotonic seconds), reported with ``started``: how
    #: long the command took to come is what the controller's lead must cover.
    queued: float = 0.0
    #: Seconds it fades in over from its first sample (0: at once).
    fade_in: float = 0.0
    #: Seconds the clip it takes over from fades out over, mixed under it (0: cut at T0).
    fade_out: float = 0.0

    @property
    def due(self) -> float:
        """When it takes effect: its T0."""
        return self.t0


@dataclass
class Stop:
    """Stop now, or at ``at`` (monotonic seconds, DAC time); at once, or fading out over
    ``fade`` seconds. The effects of other plays than ``play`` end (all of them: ``None``)."""

    fade: float = 0.0
    at: float | None = None
    play: int | None = None

    @property
    def due(self) -> float | None:
        """When it takes effect: ``at``, or now (``None``)."""
        return self.at


@dataclass
class Level:
    """Play at ``gain`` (a factor, at most 1) from now on, reached over :data:`LEVEL_RAMP`."""

    gain: float


#: How long a change of level takes (s): a step at once would click.
LEVEL_RAMP = 0.05

#: Effects sounding at once on an output, at most.
MAX_EFFECTS = 8
#: How long an effect cut short (its play over, or the oldest of too many) fades out (s).
DECLICK = 0.005
#: Where the limiter bends the samples of a block whose sum of a clip and its effects would pass
#: full scale (3 dB below it), and what it never reaches: the largest 16-bit sample, so that no
#: card's conversion wraps.
KNEE = 10 ** (-3 / 20)
CEILING = 1.0 - 2.0**-15


@dataclass
class Effect:
    """Mix ``stream`` in at ``gain`` (a factor), its sample 0 at ``t0`` (monotonic s, DAC
    time); it belongs to play ``play``."""

    stream: Source
    t0: float
    gain: float = 1.0
    play: int = 0
    started: bool = False
    #: The whole clip, when its stream holds it all (a short one): mixed from it directly.
    samples: Block | None = None
    #: Gain change a sample while it fades out (0: not fading).
    fade_step: float = 0.0
    level: float = 1.0  # the fade's gain now
    #: Fade out over this from its start (s): a scene's clip going on under the next one's.
    fade_out: float = 0.0


#: The level meter reads one block in this many (one in 85 ms at 256 samples, 48 kHz): reading
#: every block cost the player half a point of a core on the hub (2.96 % against 2.47 %).
PEAK_EVERY = 16


@dataclass
class Counters:
    """What the callback has done, for heartbeats. Written by the audio thread only."""

    blocks: int = 0
    underruns: int = 0
    drops: int = 0
    repeats: int = 0
    resyncs: int = 0
    offset: float = 0.0  # content minus timeline at the last block, in samples
    peak: float = 0.0  # the loudest sample since the heartbeat thread last took it (0..1)
    #: The longest, since the heartbeat thread last took it, from a command's coming (just
    #: after a callback took the commands) to the DAC time of the first sample it can place
    #: (the next callback's block): what a start's T0 must leave, past the commands' way (s).
    soonest: float = 0.0


@dataclass
class Renderer:
    """Fills a player's blocks. :meth:`render` is the stream's render function."""

    rate: int
    #: Keep the content on the timeline (off only to measure what the lock is worth).
    lock: bool = True
    #: The card's clock error as the player before measured it (see DacClock), if any.
    known_ppm: float | None = None
    clock: DacClock = field(init=False)
    commands: collections.deque[Start | Stop | Effect | Level] = field(
        default_factory=collections.deque
    )
    events: collections.deque[tuple[str, dict[str, Any]]] = field(default_factory=collections.deque)
    counters: Counters = field(default_factory=Counters)
    #: Streams the callback is done with, for the control thread to close.
    retired: collections.deque[Source] = field(default_factory=collections.deque)
    #: Called (on the audio thread) after an event is appended: wakes whoever passes them on.
    notify: Callable[[], None] = lambda: None
    #: The monotonic clock the DAC times are on (a fake one in tests).
    now: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self.clock = DacClock(self.rate, known_ppm=self.known_ppm)
        self._frame = 0  # the stream's index of the next block's first sample
        self._next_report = 0  # the frame from which the next block's DAC time is fed to the fit
        self._took = 0.0  # when the last callback took the commands (monotonic s; 0: none yet)
        self._playing: Start | None = None
        #: What takes over from the sounding clip at its time, on the sample: a scene change.
        self._next: Start | Stop | None = None
        self._started = False
        self._holding = False  # silent until the timeline reaches the content (a resync)
        self._gain = 1.0  # the clip's fade now (0..1)
        self._fade_step = 0.0  # its change a sample while fading in (> 0) or out (< 0)
        self._level = 1.0  # the output's level now (a factor)
        self._level_to = 1.0  # where a change of level goes
        self._level_step = 0.0  # its change a sample
        self._effects: list[Effect] = []  # in the order they came: the oldest first
        self._scratch = np.zeros(0, dtype=np.float32)  # an effect's samples, before its gain

    @property
    def playing(self) -> bool:
        return self._playing is not None

    def render(self, block: Block, dac_time: float) -> None:
        """Fill ``block``, whose first sample leaves the DAC at ``dac_time`` (audio thread)."""
        n = len(block)
        if self._frame >= self._next_report:
            self.clock.add(self._frame, dac_time)
            self._next_report = self._frame + REPORT_EVERY
        if self._took and self.clock.placed:
            soonest = self.clock.time_of(self._frame) - self._took
            self.counters.soonest = max(self.counters.soonest, soonest)
        while self.commands:
            self._apply(self.commands.popleft())
        self._took = self.now()
        head = 0
        if self._next is not None:
            due = self._next.due
            assert due is not None  # only a command with a time waits
            split = round((due - self.clock.time_of(self._frame)) * self.rate)
            if split < n:  # the change falls in this block: the sounding clip up to its sample
                head = max(0, split)
                self._fill_part(block[:head], self._frame)
                self._change(self._next, self._frame + head)
                self._next = None
        self._fill_part(block[head:], self._frame + head)
        if self._effects:
            self._mix(block, self._frame)
        if self._level != 1.0 or self._level_step:
            self._apply_level(block)
        self._frame += n
        self.counters.blocks += 1
        if self.counters.blocks % PEAK_EVERY == 0:
            peak = max(float(block.max()), -float(block.min()))  # no array made: two reductions
            self.counters.peak = max(self.counters.peak, peak)

    def _fill_part(self, part: Block, frame: int) -> None:
        """Fill ``part``, whose first sample is the stream's ``frame``."""
        if not len(part):
            return
        if self._playing is None:
            part.fill(0.0)
        else:
            self._fill(part, self._playing, frame)

    def _apply(self, command: Start | Stop | Effect | Level) -> None:
        """Take a command. One that comes while a clip sounds and is due later (a new scene's
        clip, or a stop at its T0) waits for its sample; anything else acts at once. An effect
        waits for its own T0 beside the others; a level is taken from this block on."""
        if isinstance(command, Effect):
            self._effects.append(command)
            return
        if isinstance(command, Level):
            self._level_to = min(1.0, max(0.0, command.gain))
            self._level_step = (self._level_to - self._level) / (LEVEL_RAMP * self.rate)
            return
        due = command.due
        sounding = self._playing is not None and self._started
        if sounding and due is not None and self.clock.time_of(self._frame) < due:
            self._drop_next()
            self._next = command
            return
        self._drop_next()
        self._change(command, self._frame)

    def _change(self, command: Start | Stop, frame: int) -> None:
        play = command.id if isinstance(command, Start) else command.play
        for effect in self._effects:  # those of another play end with it
            if play is None or effect.play != play:
                self._fade_effect(effect, command.fade if isinstance(command, Stop) else 0.0)
        if isinstance(command, Start):
            sounding = self._playing if self._started else None
            if sounding is not None and command.fade_out > 0:
                self._fade_under(sounding, command, frame)
            else:
                self._end("replaced" if self._started else None, at_frame=frame)
            self._playing, self._started = command, False
            self._gain, self._fade_step = 1.0, 0.0
            if command.fade_in > 0:
                self._gain, self._fade_step = 0.0, 1.0 / max(1.0, command.fade_in * self.rate)
        elif command.fade > 0 and self._playing is not None:
            self._fade_step = -1.0 / max(1.0, command.fade * self.rate)
        else:
            self._end("stopped", at_frame=frame)

    def _fade_under(self, sounding: Start, command: Start, frame: int) -> None:
        """The clip sounding is replaced by ``command``'s at ``frame``, and goes on under it
        fading out over its ``fade_out``: mixed from here as an effect of the new play."""
        self._emit(
            "finished", play=sounding.id, reason="replaced", dac_time=self.clock.time_of(frame)
        )
        at = self.clock.time_of(frame)
        fading = Effect(sounding.stream, at, self._gain, command.id, fade_out=command.fade_out)
        self._effects.append(fading)  # from ``frame`` on: its stream goes on where it was
        self._playing = None

    def _drop_next(self) -> None:
        """Forget a change still waiting; a clip that never sounded is handed back."""
        if isinstance(self._next, Start):
            self.retired.append(self._next.stream)
        self._next = None

    def _end(self, reason: str | None, at_frame: int) -> None:
        """Let go of the clip, its last sample before ``at_frame``; the control thread closes
        its stream (never here)."""
        if self._playing is None:
            return
        self.retired.append(self._playing.stream)
        if reason is not None:
            self._emit(
                "finished",
                play=self._playing.id,
                reason=reason,
                dac_time=self.clock.time_of(at_frame),
            )
        self._playing = None

    def _emit(self, event: str, **data: Any) -> None:
        self.events.append((event, data))
        self.notify()

    def _fill(self, block: Block, play: Start, frame: int) -> None:
        """Fill all of ``block`` (from the stream's ``frame`` on) from the clip: zeros where it
        has no samples for it."""
        n = len(block)
        stream = play.stream
        # The content sample the timeline puts at this block's first sample.
        due = (self.clock.time_of(frame) - play.t0) * self.rate
        begin = 0
        repeat = False
        if not self._started:
            gap = stream.position - round(due)  # samples until the stream's next one is due
            if gap >= n:
                block.fill(0.0)  # t0 comes after this block: silence
                return
            if gap > 0:
                begin = gap  # zeros first: the start lands on its sample
            elif gap < 0:
                stream.skip(-gap)  # t0 has passed: join where the timeline is
            self._started, self._holding = True, False
            self._emit(
                "started",
                play=play.id,
                t0=play.t0,
                queued=play.queued,
                position=stream.position,
                zeros=begin,
                dac_time=self.clock.time_of(frame + begin),
            )
        else:
            begin, repeat = self._keep_on_timeline(play, due, n)
        got = stream.read_into(block[begin:])
        if repeat and got:
            block[0] = block[1]
        elif begin:
            block[:begin] = 0.0
        missing = n - begin - got
        if missing:
            block[begin + got :] = 0.0
            if stream.length is not None and stream.position >= stream.length:
                self._end("end", at_frame=frame + begin + got)
                return
            self.counters.underruns += 1
            stream.skip(missing)  # stay on the timeline: the reader catches up
        if self._fade_step:
            faded = block[begin:]
            gains = self._gain + self._fade_step * np.arange(1, len(faded) + 1, dtype=np.float32)
            np.clip(gains, 0.0, 1.0, out=gains)
            faded *= gains
            self._gain = float(gains[-1])
            if self._fade_step > 0 and self._gain >= 1.0:
                self._fade_step = 0.0  # faded in
            elif self._gain <= 0.0:
                self._end("faded", at_frame=frame + n)

    def _apply_level(self, block: Block) -> None:
        """The output's level on ``block``, in place: steady, or on its way to a new one."""
        if not self._level_step:
            block *= self._level
            return
        levels = self._level + self._level_step * np.arange(1, len(block) + 1, dtype=np.float32)
        if self._level_step > 0:
            np.minimum(levels, self._level_to, out=levels)
        else:
            np.maximum(levels, self._level_to, out=levels)
        block *= levels
        self._level = float(levels[-1])
        if self._level == self._level_to:
            self._level_step = 0.0

    # --- effects ---------------------------------------------------------------------------

    def _fade_effect(self, effect: Effect, fade: float) -> None:
        """End ``effect`` by fading it out over ``fade`` s (at least DECLICK)."""
        if not effect.fade_step:
            effect.fade_step = -1.0 / max(1.0, max(fade, DECLICK) * self.rate)

    def _mix(self, block: Block, frame: int) -> None:
        """Mix the effects due into ``block`` (the stream's ``frame`` on), then limit the sum
        if any sounded in it."""
        n = len(block)
        if len(self._scratch) < n:
            self._scratch = np.zeros(n, dtype=np.float32)
        sounded = False
        for effect in list(self._effects):
            begin = 0
            if not effect.started:
                if effect.fade_step:  # ended before it began: never heard
                    self._retire_effect(effect)
                    continue
                gap = round((effect.t0 - self.clock.time_of(frame)) * self.rate)
                if gap >= n:
                    continue  # later
                if gap > 0:
                    begin = gap
                elif gap < 0:
                    effect.stream.skip(-gap)  # late: join where its timeline is
                effect.started = True
                effect.samples = getattr(effect.stream, "whole", None)
                if effect.fade_out:
                    self._fade_effect(effect, effect.fade_out)
                self._make_room(effect)
            if effect.samples is not None and not effect.fade_step:  # the short way
                sounded |= self._add_whole(effect, block[begin:])
                continue
            part = self._scratch[: n - begin]
            got = effect.stream.read_into(part)
            if got:
                sounded = True
                self._gain_of(effect, part[:got])
                block[begin : begin + got] += part[:got]
            ended = (
                effect.stream.length is not None and effect.stream.position >= effect.stream.length
            )
            if ended or (effect.fade_step and effect.level <= 0.0):
                self._retire_effect(effect)
            elif got < n - begin:  # the reader fell behind: stay on the effect's timeline
                self.counters.underruns += 1
                effect.stream.skip(n - begin - got)
        if sounded:
            limit(block)

    def _add_whole(self, effect: Effect, part: Block) -> bool:
        """Add the next samples of an effect held whole into ``part``, at its gain; whether
        any sounded. Let go at its end. (Per effect and block this is a few operations: the
        general way, through the stream's ring and its own gain, cost a point of a core more
        with four effects sounding.)"""
        samples, at = effect.samples, effect.stream.position
        assert samples is not None
        got = min(len(part), len(samples) - at)
        if got > 0:
            if effect.gain == 1.0:
                part[:got] += samples[at : at + got]
            else:
                scaled = self._scratch[:got]
                np.multiply(samples[at : at + got], effect.gain, out=scaled)
                part[:got] += scaled
            effect.stream.position = at + got
        if at + got >= len(samples):
            self._retire_effect(effect)
        return got > 0

    def _gain_of(self, effect: Effect, part: Block) -> None:
        """Apply ``effect``'s gain, and its fade if it is fading, to ``part`` in place."""
        if not effect.fade_step:
            if effect.gain != 1.0:
                part *= effect.gain
            return
        levels = effect.level + effect.fade_step * np.arange(1, len(part) + 1, dtype=np.float32)
        np.clip(levels, 0.0, 1.0, out=levels)
        part *= levels * effect.gain
        effect.level = float(levels[-1])

    def _make_room(self, effect: Effect) -> None:
        """With ``effect`` begun, more than MAX_EFFECTS sounding: the oldest fades out."""
        sounding = [e for e in self._effects if e.started and not e.fade_step]
        for oldest in sounding[: max(0, len(sounding) - MAX_EFFECTS)]:
            self._fade_effect(oldest, 0.0)
            self._emit("effect_dropped", play=oldest.play, sounding=MAX_EFFECTS)

    def _retire_effect(self, effect: Effect) -> None:
        self._effects.remove(effect)
        self.retired.append(effect.stream)

    def _keep_on_timeline(self, play: Start, due: float, n: int) -> tuple[int, bool]:
        """Keep a sounding clip on the timeline (``due``: the content sample this block's first
        belongs at): the zeros to put before the clip's samples in this block, and whether its
        first sample is played twice."""
        stream = play.stream
        offset = stream.position - due
        self.counters.offset = offset
        if not self.lock or not self.clock.ready:
            return 0, False  # nothing to judge the content by
        if abs(offset) > RESYNC * self.rate:  # a jump: back onto the timeline at once
            if not self._holding:
                self.counters.resyncs += 1
                self._emit("resynced", play=play.id, samples=round(-offset))
            if offset > 0:  # ahead: silence until the timeline comes (blocks of it, maybe)
                self._holding = offset > n
                return min(n, round(offset)), False
            stream.skip(round(-offset))
            return 0, False
        if offset > DEADBAND:  # ahead of the timeline: a sample twice
            self.counters.repeats += 1
            return 1, True
        if offset < -DEADBAND:  # behind: leave one sample out
            stream.skip(1)
            self.counters.drops += 1
        return 0, False


def limit(block: Block) -> None:
    """Keep ``block`` below full scale, in place. A block that would not pass :data:`CEILING`
    is left as it is; in one that would, samples past :data:`KNEE` bend towards the ceiling
    along a tanh curve that meets the straight line smoothly, so a loud sum is rounded off,
    never wrapped or cut flat at a corner."""
    if max(float(block.max()), -float(block.min())) <= CEILING:
        return
    size = np.abs(block)
    over = size > KNEE
    room = CEILING - KNEE
    bent = KNEE + room * np.tanh((size[over] - KNEE) / room)
    block[over] = np.copysign(bent, block[over]).astype(np.float32)
