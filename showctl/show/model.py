"""The show file, format version 1: its data model, as frozen dataclasses.

A show is YAML written by an artist or a room designer; :mod:`showctl.show.loader` reads one
into these classes (or says every problem found), and :mod:`showctl.show.schema` exports their
JSON Schema. Nothing past the loader sees raw YAML.

Times are seconds (floats); in the file they may be written ``250ms``, ``2s``, ``5min``, ``1h``.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from showctl.show._convert import (
    Doc,
    NonEmpty,
    OneOrMany,
    Pattern,
    Range,
    Seconds,
)

FORMAT_VERSION = 1
#: The state showctl enters when the show cannot go on as written: no scene may have this name.
FAULT = "fault"
SCHEMA_ID = "https://showctl.invalid/schema/show-v1.json"

Name = Annotated[
    str,
    Pattern(
        r"^[A-Za-z_][A-Za-z0-9_-]*$",
        "a name made of letters, digits, '-' and '_', starting with a letter",
    ),
]
Offset = Annotated[int, Range(min=0, max=1023)]
Index = Annotated[int, Range(min=0, max=255)]
#: A GPIO chip: a path such as /dev/gpiochip0, or its name gpiochip0.
Chip = Annotated[str, Pattern(r"^(/dev/)?gpiochip[0-9]+$", "a GPIO chip such as /dev/gpiochip0")]
#: A time of LED change: shorter than 5 ms is faster than a matrix frame can be shown.
Interval = Annotated[float, Seconds(min=0.005, max=3600)]
Count = Annotated[int, Range(min=1, max=1_000_000)]
#: A time on a scene's timeline, from its start.
SceneTime = Annotated[float, Seconds(min=0, max=86400)]
#: An LED chosen by name or by ``[row, column]``, or a set: ``all``, ``row 2``, ``col 0``, a group.
LedRef = (
    Annotated[
        str,
        Pattern(
            r"^(row \d+|col \d+|[A-Za-z_][A-Za-z0-9_-]*)$",
            "an LED name, a group name, 'all', 'row N' or 'col N'",
        ),
    ]
    | tuple[Index, Index]
)
Selection = Annotated[tuple[LedRef, ...], OneOrMany(), NonEmpty()]


# --- outputs, matrix, inputs ----------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    """An audio output: one sound card (or one channel of the virtual hub), playing mono."""

    device: Annotated[
        str,
        Doc(
            "Which device: an ALSA name such as 'hw:CARD=Speaker1' (stable across reboots) or a "
            "unique part of the device's name as `showctl devices` lists it."
        ),
    ]
    rate: Annotated[
        Annotated[int, Range(min=8000, max=384000)],
        Doc("Sample rate in Hz. Every clip played on this output must have this rate."),
    ] = 48000
    latency: Annotated[
        Annotated[float, Seconds(min=0.002, max=0.5)],
        Doc(
            "How much sound the card holds ahead. Less lets a scene start sooner after its "
            "trigger (10ms for an escape room's buttons), and costs more CPU and leaves less "
            "room for a busy moment; 40ms suits a gallery."
        ),
    ] = 0.04
    gain: Annotated[
        Annotated[float, Range(min=-60, max=12)],
        Doc(
            "Its level in dB (0: as the clips are; -6: half), added to the show's gain; the "
            "two together may not pass 0 dB. The technician sets it on site (the command "
            "level)."
        ),
    ] = 0.0
    delay: Annotated[
        Annotated[float, Seconds(min=0, max=1)],
        Doc(
            "Hold everything it plays back by this much, in whole samples: for a speaker "
            "nearer the listeners than the others (about 2.9ms a metre) or a card that is "
            "quicker than the others. A calibration (showctl calibrate) measures those and "
            "adds its own trims; with one, keep delay for an offset meant to be heard."
        ),
    ] = 0.0


@dataclass(frozen=True)
class Matrix:
    """The LED matrix: which GPIO lines drive its LEDs, by row and column.

    Driven directly (``lines``: a line per LED, all lit at once) or multiplexed (``row_lines``
    and ``column_lines``: one row at a time, each row lit in turn ``refresh`` times a second;
    rows + columns lines instead of rows x columns).
    """

    lines: Annotated[
        Annotated[tuple[Annotated[tuple[Offset, ...], NonEmpty()], ...], NonEmpty()],
        Doc(
            "Direct drive: the line of each LED, one list per row, top row first. Every row has "
            "the same length."
        ),
    ] = ()
    row_lines: Annotated[
        Annotated[tuple[Offset, ...], NonEmpty()],
        Doc("Multiplexed drive: the line of each row, top row first; active selects the row."),
    ] = ()
    column_lines: Annotated[
        Annotated[tuple[Offset, ...], NonEmpty()],
        Doc(
            "Multiplexed drive: the line of each column, left first; active lights the LED of "
            "the selected row."
        ),
    ] = ()
    refresh: Annotated[
        Annotated[float, Range(min=25, max=2000)],
        Doc(
            "Multiplexed drive: whole scans of the matrix a second (100 or more does not flicker)."
        ),
    ] = 100.0
    chip: Annotated[Chip, Doc("The GPIO chip of the LED lines.")] = "/dev/gpiochip0"
    active_low: Annotated[
        bool,
        Doc(
            "True when an LED lights with its line low (wired between the pin and 3.3 V). With "
            "multiplexed drive, this is for the column lines; row lines are active high."
        ),
    ] = False
    names: Annotated[
        Mapping[Name, tuple[Index, Index]],
        Doc("Names for single LEDs, as [row, column] counted from 0."),
    ] = dataclasses.field(default_factory=lambda: types.MappingProxyType({}))
    groups: Annotated[
        Mapping[Name, Selection],
        Doc("Names for sets of LEDs, each a list of LED names, 'row N', 'col N' or [row, column]."),
    ] = dataclasses.field(default_factory=lambda: types.MappingProxyType({}))

    @property
    def multiplexed(self) -> bool:
        return bool(self.row_lines)

    @property
    def rows(self) -> int:
        return len(self.row_lines) if self.multiplexed else len(self.lines)

    @property
    def columns(self) -> int:
        return len(self.column_lines) if self.multiplexed else len(self.lines[0])

    @property
    def offsets(self) -> tuple[Offset, ...]:
        """Every line the matrix uses: an LED's each (direct), or the rows' then the columns'."""
        if self.multiplexed:
            return self.row_lines + self.column_lines
        return tuple(offset for row in self.lines for offset in row)

    def resolve(self, selection: tuple[LedRef, ...]) -> tuple[tuple[int, int], ...]:
        """The ``(row, column)`` of every LED a selection names, in the order written, once each.

        ``row N`` runs left to right, ``col N`` top to bottom, ``all`` row by row.
        Raises ``KeyError`` naming the first reference that is not an LED of this matrix.
        """
        out: dict[tuple[int, int], None] = {}
        for ref in selection:
            out.update(dict.fromkeys(self._resolve_one(ref, allow_groups=True)))
        return tuple(out)

    def _resolve_one(self, ref: LedRef, *, allow_groups: bool) -> list[tuple[int, int]]:
        if isinstance(ref, tuple):
            row, column = ref
            if not (0 <= row < self.rows and 0 <= column < self.columns):
                raise KeyError(
                    f"[{row}, {column}] is outside the {self.rows}x{self.columns} matrix "
                    f"(rows 0-{self.rows - 1}, columns 0-{self.columns - 1})"
                )
            return [ref]
        if ref == "all":
            return [(r, c) for r in range(self.rows) for c in range(self.columns)]
        kind, _, number = ref.partition(" ")
        if kind in ("row", "col") and number.isdigit():
            index, size = int(number), self.rows if kind == "row" else self.columns
            if index >= size:
                raise KeyError(f"'{ref}' is outside the matrix, which has {size} {kind}s")
            if kind == "row":
                return [(index, c) for c in range(self.columns)]
            return [(r, index) for r in range(self.rows)]
        if ref in self.names:
            return self._resolve_one(self.names[ref], allow_groups=False)
        if allow_groups and ref in self.groups:
            return [
                led
                for member in self.groups[ref]
                for led in self._resolve_one(member, allow_groups=False)
            ]
        raise KeyError(f"no LED or group named '{ref}'")


@dataclass(frozen=True)
class Input:
    """A GPIO input (a button, a reed switch, a sensor) that fires transitions."""

    line: Annotated[Offset, Doc("The line offset on the chip.")]
    chip: Annotated[Chip, Doc("The GPIO chip of the line.")] = "/dev/gpiochip0"
    edge: Annotated[
        Literal["rising", "falling", "both"],
        Doc("Which change fires: 'falling' for a switch to ground with a pull-up."),
    ] = "falling"
    debounce: Annotated[
        Annotated[float, Seconds(min=0, max=1)],
        Doc("Changes closer together than this are one change."),
    ] = 0.02
    bias: Annotated[
        Literal["pull-up", "pull-down", "disabled", "as-is"],
        Doc("The line's internal pull resistor."),
    ] = "pull-up"


@dataclass(frozen=True)
class Relay:
    """A GPIO output that switches a load: a relay, a maglock, a solenoid, a lamp.

    showctl puts it in its ``safe`` state before anything else when it starts, when it stops,
    in the fault state and on an emergency, and never holds it on longer than ``max_on``.
    """

    line: Annotated[Offset, Doc("The line offset on the chip.")]
    chip: Annotated[Chip, Doc("The GPIO chip of the line.")] = "/dev/gpiochip0"
    active_low: Annotated[
        bool, Doc("The load is on when the line is low (most relay boards are wired so).")
    ] = False
    safe: Annotated[
        Literal["unpowered", "powered"],
        Doc(
            "The state that harms no one: 'unpowered' for a fail-safe maglock (the door opens), "
            "a solenoid or a smoke machine; 'powered' for an emergency light."
        ),
    ] = "unpowered"
    max_on: Annotated[
        Annotated[float, Seconds(min=0.01, max=86400)] | None,
        Doc(
            "The longest the load may stay on at a time, whatever the show asks: a solenoid "
            "burns if held (2s, say). Absent: no limit."
        ),
    ] = None


@dataclass(frozen=True)
class Emergency:
    """What sets off the emergency release: every relay to its safe state at once, held there
    whatever the scenes do until the game master gives the all-clear."""

    inputs: Annotated[
        Annotated[tuple[Name, ...], OneOrMany()],
        Doc("Inputs that set it off when they change (a fire alarm's contact, a panic button)."),
    ] = ()
    events: Annotated[
        Annotated[tuple[Name, ...], OneOrMany()],
        Doc("Events that set it off (from a page, a prop, the fire panel over the network)."),
    ] = ()


@dataclass(frozen=True)
class GameClock:
    """A clock that counts down across scenes: the game's time, which the players race and the
    game master bends. It starts stopped at its length; actions start, stop and reset it and add
    or take time; it stands still while the show is paused and runs on through a restart."""

    length: Annotated[
        Annotated[float, Seconds(min=1, max=86400)], Doc("Its time when it starts: 60min.")
    ]
    at_zero: Annotated[
        Name | None,
        Doc(
            "The event it fires when it reaches zero, which any scene's transitions can take "
            "(event: time-up); by default the clock's name and -end (game-end)."
        ),
    ] = None


# --- opening hours --------------------------------------------------------------------------

_DAY = "(mon|tue|wed|thu|fri|sat|sun)"
#: A day of the week, a run of them (``tue-sun``, ``fri-mon``) or ``daily``.
Weekdays = Annotated[
    str,
    Pattern(
        rf"^{_DAY}(-{_DAY})?$|^daily$", "a weekday (mon ... sun), a run such as tue-sun, or daily"
    ),
]
#: A date, or the first and last of a run of dates.
Dates = Annotated[
    str,
    Pattern(
        r"^[0-9]{4}-[0-9]{2}-[0-9]{2}( to [0-9]{4}-[0-9]{2}-[0-9]{2})?$",
        "a date such as 2026-12-25, or a run such as 2026-12-24 to 2027-01-01",
    ),
]
#: A time of day in a span: 10:00, or sunrise or sunset with an offset (sunset-30min).
TIME_OF_DAY = (
    r"([0-9]{1,2}:[0-9]{2}|(sunrise|sunset)(\s*[-+]\s*([0-9]+(\.[0-9]*)?\s*(s|min|h)\s*)+)?)"
)
#: ``closed``, or the times a span opens and closes: ``10:00-18:00``, ``sunset-30min to 23:00``.
Span = Annotated[
    str,
    Pattern(
        rf"^closed$|^\s*{TIME_OF_DAY}\s*(-|to)\s*{TIME_OF_DAY}\s*$",
        "closed, or a span such as 10:00-18:00 or sunset-30min to 23:00",
    ),
]
DayHours = Annotated[tuple[Span, ...], OneOrMany(), NonEmpty()]


@dataclass(frozen=True)
class Hours:
    """When the show is open: its weekly hours, the dates with other hours, in a time zone.
    Closed, the show is in the scene ``closed`` names; at opening it starts over (or resumes,
    as ``restart`` says). Acted on only once the box's clock is known good."""

    closed: Annotated[
        Name,
        Doc(
            "The scene the show is in while closed: one with nothing in it is silent and dark "
            "(night: {})."
        ),
    ]
    weekly: Annotated[
        Mapping[Weekdays, DayHours],
        Doc(
            "The hours of each day of the week (tue-sun: 10:00-18:00; sat: [10:00-13:00, "
            "14:00-20:00]). A day not given is closed; a span ends by 24:00."
        ),
    ] = dataclasses.field(default_factory=lambda: types.MappingProxyType({}))
    dates: Annotated[
        Mapping[Dates, DayHours],
        Doc(
            "Dates with other hours than their weekday's: a holiday (2026-12-25: closed), a "
            "private view (2026-05-14: 18:00-22:00), a run of dates (2026-12-24 to 2027-01-01)."
        ),
    ] = dataclasses.field(default_factory=lambda: types.MappingProxyType({}))
    zone: Annotated[
        str | None,
        Doc("The time zone of the hours, such as Europe/London; by default the box's own."),
    ] = None
    latitude: Annotated[
        Annotated[float, Range(min=-90, max=90)] | None,
        Doc("Where the show is, for sunrise and sunset: degrees north (south: negative)."),
    ] = None
    longitude: Annotated[
        Annotated[float, Range(min=-180, max=180)] | None,
        Doc("Where the show is, for sunrise and sunset: degrees east (west: negative)."),
    ] = None
    unknown_clock: Annotated[
        Literal["play", "closed"],
        Doc(
            "What the show does until the box's clock is known good (synchronised): 'play' "
            "(as if open; a gallery that opens to silence is worse than a piece heard at "
            "night) or stay 'closed'."
        ),
    ] = "play"


# --- LED cue programs -----------------------------------------------------------------------


@dataclass(frozen=True)
class Blink:
    """Blink LEDs: on for ``interval``, off for ``interval``; ``count`` times, or forever."""

    KIND: ClassVar[str] = "program"
    TAG: ClassVar[str] = "blink"
    TAG_FIELD: ClassVar[str] = "leds"
    leds: Annotated[Selection, Doc("The LEDs to blink.")]
    interval: Annotated[Interval, Doc("Time on, and then time off.")]
    count: Annotated[Count | None, Doc("How many blinks; forever when not given.")] = None


@dataclass(frozen=True)
class Cycle:
    """Light the LEDs of a set one after another, each for ``interval``; ``count`` passes."""

    KIND: ClassVar[str] = "program"
    TAG: ClassVar[str] = "cycle"
    TAG_FIELD: ClassVar[str] = "leds"
    leds: Annotated[Selection, Doc("The LEDs, lit in the order written (a set: row by row).")]
    interval: Annotated[Interval, Doc("How long each LED stays lit.")]
    count: Annotated[
        Count | None, Doc("How many passes through the set; forever when not given.")
    ] = None


@dataclass(frozen=True)
class On:
    """Light LEDs and go on at once; they stay lit until something turns them off."""

    KIND: ClassVar[str] = "program"
    TAG: ClassVar[str] = "on"
    TAG_FIELD: ClassVar[str] = "leds"
    leds: Annotated[Selection, Doc("The LEDs to light.")]


@dataclass(frozen=True)
class Off:
    """Turn LEDs off and go on at once."""

    KIND: ClassVar[str] = "program"
    TAG: ClassVar[str] = "off"
    TAG_FIELD: ClassVar[str] = "leds"
    leds: Annotated[Selection, Doc("The LEDs to turn off.")]


@dataclass(frozen=True)
class Hold:
    """Keep the LEDs as they are for a time (a pause in a sequence)."""

    KIND: ClassVar[str] = "program"
    TAG: ClassVar[str] = "hold"
    TAG_FIELD: ClassVar[str] = "duration"
    duration: Annotated[Annotated[float, Seconds(min=0, max=86400)], Doc("How long.")]


@dataclass(frozen=True)
class All:
    """Run programs side by side; done when all are done."""

    KIND: ClassVar[str] = "program"
    TAG: ClassVar[str] = "all"
    TAG_FIELD: ClassVar[str] = "programs"
    programs: Annotated[Annotated[tuple[Program, ...], NonEmpty()], Doc("The programs.")]


@dataclass(frozen=True)
class Sequence:
    """Run programs one after another."""

    KIND: ClassVar[str] = "program"
    TAG: ClassVar[str] = "sequence"
    TAG_FIELD: ClassVar[str] = "programs"
    programs: Annotated[Annotated[tuple[Program, ...], NonEmpty()], Doc("The programs, in order.")]


@dataclass(frozen=True)
class First:
    """Run programs side by side; the first to finish stops the others. Also written ``any``."""

    KIND: ClassVar[str] = "program"
    TAG: ClassVar[str] = "first"
    TAG_ALIASES: ClassVar[tuple[str, ...]] = ("any",)
    TAG_FIELD: ClassVar[str] = "programs"
    programs: Annotated[Annotated[tuple[Program, ...], NonEmpty()], Doc("The programs.")]


@dataclass(frozen=True)
class Forever:
    """Run a program again and again, until the scene ends."""

    KIND: ClassVar[str] = "program"
    TAG: ClassVar[str] = "forever"
    TAG_FIELD: ClassVar[str] = "program"
    program: Annotated[Program, Doc("The program to repeat.")]


@dataclass(frozen=True)
class Frames:
    """Show bitmaps one after another; each is rows of characters, ``#`` lit and ``.`` dark."""

    KIND: ClassVar[str] = "program"
    TAG: ClassVar[str] = "frames"
    TAG_FIELD: ClassVar[str] = "images"
    LIT: ClassVar[str] = "#*Xx1@O"
    DARK: ClassVar[str] = ".-_ 0"
    images: Annotated[
        Annotated[tuple[str, ...], NonEmpty()],
        Doc(
            "The frames. Each is a block of text with one line per matrix row and one character "
            "per LED: any of '#*Xx1@O' lights it, any of '.-_ 0' leaves it dark."
        ),
    ]
    interval: Annotated[Interval, Doc("How long each frame is shown.")]
    loop: Annotated[bool, Doc("Start again after the last frame, until the scene ends.")] = False


@dataclass(frozen=True)
class Meter:
    """A level meter driven by an output's audio, in time with what is heard."""

    KIND: ClassVar[str] = "program"
    TAG: ClassVar[str] = "meter"
    TAG_FIELD: ClassVar[str] = "output"
    output: Annotated[
        Name, Doc("The output whose sound drives the meter; it plays a clip in this scene.")
    ]
    style: Annotated[
        Literal["bar", "spectrum", "fill"],
        Doc(
            "'bar': rows light from the bottom with the level; 'spectrum': one column per "
            "frequency band, its height the band's level; 'fill': LEDs light row by row with the "
            "level."
        ),
    ] = "bar"
    rate: Annotated[Annotated[float, Range(min=1, max=200)], Doc("Frames per second.")] = 30.0
    floor_db: Annotated[
        Annotated[float, Range(min=-120, max=-6)],
        Doc("The level (dBFS) shown as dark; 0 dBFS lights everything."),
    ] = -48.0


Program = Blink | Cycle | On | Off | Hold | All | Sequence | First | Forever | Frames | Meter


@dataclass(frozen=True)
class Cue:
    """An LED program started at an offset on the scene's timeline (its ``at``)."""

    INLINE: ClassVar[str] = "program"
    program: Annotated[Program, Doc("The program: its kind's key and its settings, beside 'at'.")]
    at: Annotated[
        SceneTime,
        Doc("When the program starts, after the scene's start (the first sample of its audio)."),
    ] = 0.0


# --- scenes ---------------------------------------------------------------------------------

#: How long a fade takes: up to a minute.
FadeTime = Annotated[float, Seconds(min=0, max=60)]


@dataclass(frozen=True)
class Fade:
    """How a scene's sound comes in and goes out: it fades in over ``in`` from its first
    sample, and out over ``out`` under the next scene's (which starts on its sample all the
    same)."""

    fade_in: Annotated[FadeTime, Doc("From silence to its level, from its first sample.")] = (
        dataclasses.field(default=0.0, metadata={"key": "in"})
    )
    fade_out: Annotated[FadeTime, Doc("To silence, as the next scene starts.")] = dataclasses.field(
        default=0.0, metadata={"key": "out"}
    )


@dataclass(frozen=True)
class Sound:
    """What one output plays in a scene: a clip once or looped, or ``silence``."""

    SCALAR_FIELD: ClassVar[str] = "clip"
    SCALAR_WORDS: ClassVar[Mapping[str, Mapping[str, Any]]] = {"silence": {"clip": None}}
    clip: Annotated[
        str | None,
        Doc("A mono WAV file, relative to the show's media folder, at the output's sample rate."),
    ] = None
    loop: Annotated[bool, Doc("Loop the clip, sample-exact, until the scene ends.")] = False


@dataclass(frozen=True)
class SoundEffect:
    """A sound played over whatever its output plays (a door's creak, a whisper): fired by an
    action (``sound: NAME``) or the game master, mixed in, on its own sample."""

    clip: Annotated[
        str,
        Doc("A mono WAV file, relative to the show's media folder, at its output's rate."),
    ]
    output: Annotated[Name, Doc("The output it plays on.")]
    gain: Annotated[
        Annotated[float, Range(min=-60, max=12)],
        Doc("Its level in dB (0: as the file is; -6: half); a sum near full scale is limited."),
    ] = 0.0


@dataclass(frozen=True)
class Hint:
    """A hint for players who are stuck: a text for their screen (sent on MQTT, kept on the
    page), a clip played over their room's sound (a whisper), or both."""

    text: Annotated[str, Doc("What the players' screen shows.")] = ""
    clip: Annotated[
        str | None,
        Doc("A mono WAV file, relative to the show's media folder, at its output's rate."),
    ] = None
    output: Annotated[Name | None, Doc("The output the clip plays on.")] = None
    gain: Annotated[
        Annotated[float, Range(min=-60, max=12)],
        Doc("The clip's level in dB (0: as the file is; -6: half)."),
    ] = 0.0

    @property
    def sound(self) -> SoundEffect | None:
        """Its clip as a sound effect, or ``None`` (a text only)."""
        if self.clip is None or self.output is None:
            return None
        return SoundEffect(self.clip, self.output, self.gain)


#: The built-in counter of the hints given, which conditions compare like a counter of the
#: show's (``hints <= 2``: a score).
HINTS = "hints"


@dataclass(frozen=True)
class SetFlag:
    """Set a flag."""

    KIND: ClassVar[str] = "action"
    TAG: ClassVar[str] = "set"
    TAG_FIELD: ClassVar[str] = "flag"
    flag: Annotated[Name, Doc("The flag.")]


@dataclass(frozen=True)
class ClearFlag:
    """Clear a flag."""

    KIND: ClassVar[str] = "action"
    TAG: ClassVar[str] = "clear"
    TAG_FIELD: ClassVar[str] = "flag"
    flag: Annotated[Name, Doc("The flag.")]


@dataclass(frozen=True)
class ToggleFlag:
    """Set a flag that is clear, clear one that is set."""

    KIND: ClassVar[str] = "action"
    TAG: ClassVar[str] = "toggle"
    TAG_FIELD: ClassVar[str] = "flag"
    flag: Annotated[Name, Doc("The flag.")]


@dataclass(frozen=True)
class Increment:
    """Add one to a counter."""

    KIND: ClassVar[str] = "action"
    TAG: ClassVar[str] = "count"
    TAG_FIELD: ClassVar[str] = "counter"
    counter: Annotated[Name, Doc("The counter.")]


@dataclass(frozen=True)
class Zero:
    """Set a counter back to 0 (``zero: hints``, for a new game, also forgets the hints
    given)."""

    KIND: ClassVar[str] = "action"
    TAG: ClassVar[str] = "zero"
    TAG_FIELD: ClassVar[str] = "counter"
    counter: Annotated[Name, Doc("The counter.")]


@dataclass(frozen=True)
class Power:
    """Power a relay's load: a maglock holds, a lamp lights. It stays powered until unpowered
    (or for the relay's max_on)."""

    KIND: ClassVar[str] = "action"
    TAG: ClassVar[str] = "power"
    TAG_FIELD: ClassVar[str] = "relay"
    relay: Annotated[Name, Doc("The relay.")]


@dataclass(frozen=True)
class Unpower:
    """Unpower a relay's load: a fail-safe maglock lets the door open."""

    KIND: ClassVar[str] = "action"
    TAG: ClassVar[str] = "unpower"
    TAG_FIELD: ClassVar[str] = "relay"
    relay: Annotated[Name, Doc("The relay.")]


@dataclass(frozen=True)
class Pulse:
    """Power a relay for a time, then unpower it: a solenoid that opens a drawer."""

    KIND: ClassVar[str] = "action"
    TAG: ClassVar[str] = "pulse"
    TAG_FIELD: ClassVar[str] = "relay"
    relay: Annotated[Name, Doc("The relay.")]
    duration: Annotated[
        Annotated[float, Seconds(min=0.01, max=86400)],
        Doc("How long it stays powered; no longer than the relay's max_on."),
    ]


@dataclass(frozen=True)
class Publish:
    """Publish an MQTT message on the settings' broker: a prop told to act (a chest opens)."""

    KIND: ClassVar[str] = "action"
    TAG: ClassVar[str] = "publish"
    TAG_FIELD: ClassVar[str] = "topic"
    topic: Annotated[
        Annotated[str, Pattern(r"^[^+#\x00]+$", "an MQTT topic without wildcards (+ or #)")],
        Doc("The topic, such as room1/chest/command."),
    ]
    payload: Annotated[str, Doc("The message, as text (a JSON object is text too).")] = ""
    retain: Annotated[bool, Doc("The broker keeps it for whoever subscribes later.")] = False
    qos: Annotated[Literal[0, 1, 2], Doc("0: at most once; 1: at least once; 2: exactly once.")] = 0


@dataclass(frozen=True)
class SendOsc:
    """Send an OSC message to a desk or a player named in the settings' ``[osc.targets]``
    (QLab listens on 53000; QLC+ and TouchOSC on the port set in them)."""

    KIND: ClassVar[str] = "action"
    TAG: ClassVar[str] = "osc"
    TAG_FIELD: ClassVar[str] = "address"
    address: Annotated[
        Annotated[str, Pattern(r"^/[^\s#*,?\[\]{}]*$", "an OSC address such as /cue/12/go")],
        Doc("The OSC address, such as /cue/12/go."),
    ]
    to: Annotated[Name, Doc("The target, by its name in the settings' [osc.targets].")]
    args: Annotated[
        Annotated[tuple[float | str, ...], OneOrMany()],
        Doc("The message's arguments: numbers (sent as floats) and text."),
    ] = ()


@dataclass(frozen=True)
class HttpRequest:
    """Make an HTTP request (a webhook: a lighting controller, a home-automation hub); the
    show never waits for its answer."""

    KIND: ClassVar[str] = "action"
    TAG: ClassVar[str] = "http"
    TAG_FIELD: ClassVar[str] = "url"
    url: Annotated[
        Annotated[str, Pattern(r"^https?://\S+$", "an http:// or https:// URL")],
        Doc("The URL, http:// or https://."),
    ]
    method: Annotated[
        Literal["GET", "POST", "PUT", "PATCH", "DELETE"], Doc("The request's method.")
    ] = "POST"
    body: Annotated[
        Mapping[str, float | str | bool],
        Doc("A JSON object sent as the body (one level: names and plain values)."),
    ] = dataclasses.field(default_factory=lambda: types.MappingProxyType({}))
    timeout: Annotated[
        Annotated[float, Seconds(min=0.1, max=60)],
        Doc("How long the answer may take; a request not answered by then is a failure."),
    ] = 2.0


@dataclass(frozen=True)
class SendSerial:
    """Write a line to a prop on a serial port (an Arduino on USB), named in the settings'
    ``[props]``."""

    KIND: ClassVar[str] = "action"
    TAG: ClassVar[str] = "serial"
    TAG_FIELD: ClassVar[str] = "prop"
    prop: Annotated[Name, Doc("The prop, by its name in the settings' [props].")]
    send: Annotated[
        Annotated[str, Pattern(r"^[^\r\n]*$", "one line of text")],
        Doc("The line to write; showctl ends it with a newline."),
    ]


@dataclass(frozen=True)
class StartClock:
    """Start a game clock, or set it going again where it stopped; one running goes on."""

    KIND: ClassVar[str] = "action"
    TAG: ClassVar[str] = "start_clock"
    TAG_FIELD: ClassVar[str] = "clock"
    clock: Annotated[Name, Doc("The clock.")]


@dataclass(frozen=True)
class StopClock:
    """Stop a game clock where it is (a game won: its time left is the team's score)."""

    KIND: ClassVar[str] = "action"
    TAG: ClassVar[str] = "stop_clock"
    TAG_FIELD: ClassVar[str] = "clock"
    clock: Annotated[Name, Doc("The clock.")]


@dataclass(frozen=True)
class ResetClock:
    """Set a game clock back to its length, stopped, for the next game."""

    KIND: ClassVar[str] = "action"
    TAG: ClassVar[str] = "reset_clock"
    TAG_FIELD: ClassVar[str] = "clock"
    clock: Annotated[Name, Doc("The clock.")]


@dataclass(frozen=True)
class AddTime:
    """Give a game clock more time, or take some away (a penalty: -2min); taken below zero, it
    stops at zero and its end fires once."""

    KIND: ClassVar[str] = "action"
    TAG: ClassVar[str] = "add_time"
    TAG_FIELD: ClassVar[str] = "clock"
    clock: Annotated[Name, Doc("The clock.")]
    time: Annotated[
        Annotated[float, Seconds(min=-86400, max=86400)],
        Doc("The time to add: 5min; with a minus, taken away: -2min."),
    ]


ClockAction = StartClock | StopClock | ResetClock | AddTime


@dataclass(frozen=True)
class GiveHint:
    """Give one of the show's hints, as the game master would: its text to the players'
    screen, its clip over the room's sound, one more in the count of hints."""

    KIND: ClassVar[str] = "action"
    TAG: ClassVar[str] = "hint"
    TAG_FIELD: ClassVar[str] = "hint"
    hint: Annotated[Name, Doc("The hint, by its name in the show's hints.")]


@dataclass(frozen=True)
class PlaySound:
    """Play one of the show's sounds over what its output plays: at once (within the outputs'
    lead), with a scene's start when the action starts a scene, or on its sample on the
    timeline."""

    KIND: ClassVar[str] = "action"
    TAG: ClassVar[str] = "sound"
    TAG_FIELD: ClassVar[str] = "sound"
    sound: Annotated[Name, Doc("The sound, by its name in the show's sounds.")]


#: What acts on the room (rather than on the show's own memory).
RelayAction = Power | Unpower | Pulse
Message = Publish | SendOsc | HttpRequest | SendSerial
RoomAction = RelayAction | Message
#: What the controller carries out itself (the machine hands them on).
ControllerAction = RoomAction | ClockAction | PlaySound | GiveHint
Action = SetFlag | ClearFlag | ToggleFlag | Increment | Zero | ControllerAction
FlagAction = SetFlag | ClearFlag | ToggleFlag

#: A comparison of a counter with a whole number (``attempts >= 3``) or of a game clock's time
#: left with a duration (``game < 5min``).
COMPARISON = r"^([A-Za-z_][A-Za-z0-9_-]*)\s*(==|!=|<=|>=|<|>)\s*([0-9][0-9a-z. ]*)$"
Condition = Annotated[
    str,
    Pattern(
        r"^((not\s+)?[A-Za-z_][A-Za-z0-9_-]*|[A-Za-z_][A-Za-z0-9_-]*\s*(==|!=|<=|>=|<|>)\s*"
        r"[0-9][0-9a-z. ]*)$",
        "a flag name, 'not' and a flag name, a counter compared with a number "
        "('attempts >= 3'), or a game clock compared with a time ('game < 5min')",
    ),
]


@dataclass(frozen=True)
class Transition:
    """A way out of a scene: a trigger, optional conditions, actions, and where to go.

    The trigger is one of ``input``, ``event``, ``after``, ``audio_end``. Without one, the
    transition fires as soon as its ``when`` holds (checked on entering the scene and after
    every change of flags). Without ``to``, it stays in the scene and only runs its actions.
    """

    TRIGGERS: ClassVar[tuple[str, ...]] = ("input", "event", "after", "audio_end")
    to: Annotated[Name | None, Doc("The scene to go to; when absent, stay and run 'do'.")] = None
    input: Annotated[Name | None, Doc("Fire when this input changes (its edge).")] = None
    event: Annotated[
        Name | None,
        Doc("Fire on this network or control event (showctl trigger, HTTP, MQTT, OSC)."),
    ] = None
    after: Annotated[
        Annotated[float, Seconds(above=0, max=30 * 86400)] | None,
        Doc("Fire this long after the scene started."),
    ] = None
    audio_end: Annotated[
        Name | None,
        Doc("Fire when the audio ends: 'all' when every output has finished, or an output's name."),
    ] = None
    when: Annotated[
        Annotated[tuple[Condition, ...], OneOrMany()],
        Doc(
            "Conditions that must all hold: flag names, 'not NAME', counters compared with "
            "numbers ('attempts >= 3'; ==, !=, <, <=, >, >=; 'hints' counts the hints given), "
            "or game clocks with times ('game < 5min')."
        ),
    ] = ()
    do: Annotated[
        Annotated[tuple[Action, ...], OneOrMany()],
        Doc("Actions run when the transition fires, before the scene changes."),
    ] = ()

    @property
    def trigger(self) -> str | None:
        """The key of the trigger (``input``, ``event``, ``after``, ``audio_end``), or None."""
        return next((t for t in self.TRIGGERS if getattr(self, t) is not None), None)


@dataclass(frozen=True)
class Timed:
    """An action on the scene's timeline, at its ``at``."""

    INLINE: ClassVar[str] = "action"
    action: Annotated[
        ControllerAction, Doc("The action: its kind's key and its settings, beside 'at'.")
    ]
    at: Annotated[
        SceneTime,
        Doc("When, after the scene's start (the first sample of its audio, as for the LEDs)."),
    ] = 0.0


@dataclass(frozen=True)
class Scene:
    """A state of the show: what plays, what lights, and the ways out."""

    description: Annotated[str, Doc("Free text for people.")] = ""
    audio: Annotated[
        Mapping[Name, Sound],
        Doc(
            "Per output: a clip (a file name, or {clip, loop}) or 'silence'. Outputs not named "
            "here are silent."
        ),
    ] = dataclasses.field(default_factory=lambda: types.MappingProxyType({}))
    leds: Annotated[tuple[Cue, ...], Doc("LED cues on the scene's timeline.")] = ()
    timeline: Annotated[
        tuple[Timed, ...],
        Doc(
            "Actions on the scene's timeline, each at its time from the scene's start (when "
            "its sound is heard); those not yet due are dropped when the scene is left."
        ),
    ] = ()
    on_enter: Annotated[
        Annotated[tuple[Action, ...], OneOrMany()], Doc("Actions run when the scene is entered.")
    ] = ()
    on_exit: Annotated[
        Annotated[tuple[Action, ...], OneOrMany()], Doc("Actions run when the scene is left.")
    ] = ()
    transitions: Annotated[tuple[Transition, ...], Doc("The ways out, tried in order.")] = ()
    fade: Annotated[
        FadeTime | Fade | None,
        Doc(
            "Fade its sound in and out: a time for both (fade: 1s), or {in, out}; by default "
            "the show's fade."
        ),
    ] = None


@dataclass(frozen=True)
class Box:
    """One box of a show played by several: the parts wired to it. Each output, input and
    relay of the show is on one box, and the matrix on one."""

    outputs: Annotated[tuple[Name, ...], Doc("The audio outputs on its sound cards.")] = ()
    inputs: Annotated[
        tuple[Name, ...], Doc("The GPIO inputs on its lines: each a trigger for the leader.")
    ] = ()
    relays: Annotated[tuple[Name, ...], Doc("The switched outputs on its lines.")] = ()
    matrix: Annotated[bool, Doc("The LED matrix is wired to it.")] = False


@dataclass(frozen=True)
class Show:
    """A show file, format version 1."""

    version: Annotated[Literal[1], Doc("The show format version: 1.")]
    initial: Annotated[Name, Doc("The scene the show starts in.")]
    scenes: Annotated[Annotated[Mapping[Name, Scene], NonEmpty()], Doc("The scenes, by name.")]
    name: Annotated[str, Doc("A title for people; the file name when absent.")] = ""
    media: Annotated[
        str, Doc("The folder of the clips, relative to this file. Clips may not lie outside it.")
    ] = "."
    restart: Annotated[
        Literal["resume", "start-over"],
        Doc(
            "After a restart of showctl: 'resume' the scene where it was (an escape room), or "
            "'start-over' from the initial scene (a gallery)."
        ),
    ] = "start-over"
    outputs: Annotated[Mapping[Name, Output], Doc("The audio outputs, by name.")] = (
        dataclasses.field(default_factory=lambda: types.MappingProxyType({}))
    )
    matrix: Annotated[Matrix | None, Doc("The LED matrix, if the show has one.")] = None
    inputs: Annotated[Mapping[Name, Input], Doc("The GPIO inputs, by name.")] = dataclasses.field(
        default_factory=lambda: types.MappingProxyType({})
    )
    relays: Annotated[Mapping[Name, Relay], Doc("The GPIO outputs that switch loads, by name.")] = (
        dataclasses.field(default_factory=lambda: types.MappingProxyType({}))
    )
    actions: Annotated[
        Mapping[Name, Annotated[tuple[RoomAction | PlaySound, ...], OneOrMany(), NonEmpty()]],
        Doc(
            "Named actions on the room, for the game master to run by hand (a stuck prop: "
            "open-chest), each one action or a list."
        ),
    ] = dataclasses.field(default_factory=lambda: types.MappingProxyType({}))
    sounds: Annotated[
        Mapping[Name, SoundEffect],
        Doc("Sound effects by name, played over the scenes' sound by actions and the game master."),
    ] = dataclasses.field(default_factory=lambda: types.MappingProxyType({}))
    hints: Annotated[
        Mapping[Name, Hint],
        Doc(
            "Hints by name, given by actions and the game master: a text, a clip, or both; "
            "the count given is the counter 'hints'."
        ),
    ] = dataclasses.field(default_factory=lambda: types.MappingProxyType({}))
    clocks: Annotated[
        Mapping[Name, GameClock],
        Doc("Game clocks, by name: they count down across scenes (the game's hour)."),
    ] = dataclasses.field(default_factory=lambda: types.MappingProxyType({}))
    hours: Annotated[
        Hours | None,
        Doc("Opening hours: when the show plays, and the scene it is in while closed."),
    ] = None
    gain: Annotated[
        Annotated[float, Range(min=-60, max=0)],
        Doc("The level of every output in dB (the master), added to each output's own gain."),
    ] = 0.0
    fade: Annotated[
        FadeTime | Fade,
        Doc("How every scene's sound fades in and out, unless it says: a time, or {in, out}."),
    ] = 0.0
    emergency: Annotated[
        Emergency | None,
        Doc("What releases the room at once: every relay to its safe state, held there."),
    ] = None
    boxes: Annotated[
        Mapping[Name, Box],
        Doc(
            "The boxes that play the show together, by name (each box's settings name it), "
            "with the parts wired to each; none: one box plays it all."
        ),
    ] = dataclasses.field(default_factory=lambda: types.MappingProxyType({}))
    flags: Annotated[
        tuple[Name, ...], Doc("The flags the scenes set, clear and test; all start clear.")
    ] = ()
    counters: Annotated[
        tuple[Name, ...],
        Doc(
            "The counters the scenes count, zero and compare; all start at 0. 'hints' is "
            "showctl's own, not declared here: the hints given (zero it for a new game)."
        ),
    ] = ()
    path: Path = dataclasses.field(default=Path("show.yaml"), metadata={"internal": True})

    def part(self, box: str) -> Show:
        """The show as box ``box`` wires it: only its outputs, inputs, relays and (if it has
        it) the matrix; without boxes, the whole show."""
        if not self.boxes:
            return self
        wired = self.boxes[box]
        return dataclasses.replace(
            self,
            outputs=types.MappingProxyType({o: self.outputs[o] for o in wired.outputs}),
            inputs=types.MappingProxyType({i: self.inputs[i] for i in wired.inputs}),
            relays=types.MappingProxyType({r: self.relays[r] for r in wired.relays}),
            matrix=self.matrix if wired.matrix else None,
        )

    @property
    def title(self) -> str:
        """What people call the show: its ``name``, else its file's name without ``.yaml``."""
        return self.name or self.path.stem

    @property
    def media_dir(self) -> Path:
        """The folder that clip paths are relative to."""
        return (self.path.parent / self.media).resolve()

    def clip_path(self, clip: str) -> Path:
        """The file of a clip named in this show."""
        return self.media_dir / clip

    def every_action(self) -> Iterator[Action]:
        """Every action the show can run: its scenes', their transitions' and its named ones."""
        for scene in self.scenes.values():
            yield from scene.on_enter
            yield from scene.on_exit
            yield from (timed.action for timed in scene.timeline)
            for transition in scene.transitions:
                yield from transition.do
        for named in self.actions.values():
            yield from named

    def every_clip(self) -> set[str]:
        """Every clip the show plays (its scenes', its sounds' and its hints'), as written in
        it."""
        return {
            play.clip
            for scene in self.scenes.values()
            for play in scene.audio.values()
            if play.clip
        } | {sound.clip for sound in self.effects().values()}

    def effects(self) -> dict[str, SoundEffect]:
        """Every sound played over a scene's: the sounds, and the hints' clips (as
        ``hint:NAME``)."""
        return dict(self.sounds) | {
            f"hint:{name}": hint.sound for name, hint in self.hints.items() if hint.sound
        }

    def fade_of(self, scene: str) -> Fade:
        """How ``scene``'s sound fades in and out (the show's fade unless it has its own)."""
        spec = self.scenes[scene].fade if scene in self.scenes else None
        fade = self.fade if spec is None else spec
        return fade if isinstance(fade, Fade) else Fade(fade, fade)

    def clips(self, scene: str) -> dict[str, tuple[Path, bool]]:
        """Every output's clip in ``scene``, as (file, loop); silent outputs are left out."""
        return {
            output: (self.clip_path(sound.clip), sound.loop)
            for output, sound in self.scenes[scene].audio.items()
            if sound.clip is not None
        }
