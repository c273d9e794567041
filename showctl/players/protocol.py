"""The pipe between the controller and a player: typed messages, one JSON object a line.

Commands go to a player on its stdin (:data:`Command`); events come back on its stdout
(:data:`Event`). Each is a frozen dataclass, written as its fields plus its kind (``{"cmd":
"play", ...}``, ``{"event": "started", ...}``) by :func:`encode`, and read back by
:func:`decode_command` or :func:`decode_event`: once, at the pipe, so that nothing past it
handles raw JSON. A line that is not a known message decodes to ``None`` (it is logged, not
fatal); fields a newer player adds are ignored.

A player's logs travel separately, as JSON lines on its stderr (:class:`LogLines`), which the
controller re-emits into its structured log tagged with the output and pid.

A player's lifetime is its controller's: it quits when told to (after the fade the controller
asked for) or when its stdin closes (the controller died), and ignores the signals that end a
process from outside (:data:`PLAYER_IGNORES`), which a terminal's Ctrl-C, ``timeout`` or
systemd send to every process of the show at once.

This module is imported by every player process: it imports nothing of showctl's.
"""

from __future__ import annotations

import dataclasses
import json
import signal
from dataclasses import dataclass
from typing import Any, ClassVar, TextIO, TypeVar

#: The signals a player ignores. The controller holds them blocked while it starts a player, so
#: that the player is born with them held and none can end it before it ignores them.
PLAYER_IGNORES = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


# --- commands, controller to player --------------------------------------------------------


@dataclass(frozen=True)
class Play:
    """Play ``clip`` (a file path) with its first sample at ``t0`` (monotonic seconds, when it
    leaves the DAC), looping or once; the ``started`` and ``finished`` events carry ``play``.
    It fades in over ``fade_in`` s, and what it takes over from fades out under it over
    ``fade_out`` s."""

    KIND: ClassVar[str] = "play"
    clip: str
    t0: float
    loop: bool = False
    play: int = 0
    fade_in: float = 0.0
    fade_out: float = 0.0


@dataclass(frozen=True)
class Load:
    """Keep exactly these clips (path, loop) opened and read ahead, so a start costs no file
    opening."""

    KIND: ClassVar[str] = "load"
    clips: tuple[tuple[str, bool], ...] = ()

    def __post_init__(self) -> None:  # JSON brings lists
        object.__setattr__(self, "clips", tuple((str(c), bool(loop)) for c, loop in self.clips))


@dataclass(frozen=True)
class Stop:
    """Stop at ``at`` (a T0, monotonic seconds), or now (``None``); at once, or fading out over
    ``fade`` seconds. The effects of other plays than ``play`` end too (all, with ``None``)."""

    KIND: ClassVar[str] = "stop"
    fade: float = 0.0
    at: float | None = None
    play: int | None = None


@dataclass(frozen=True)
class Effect:
    """Mix ``clip`` (a file path) in at ``gain`` (a factor) over what plays, its first sample
    at ``t0`` (monotonic seconds, DAC time); it belongs to play ``play``, and ends with it."""

    KIND: ClassVar[str] = "effect"
    clip: str
    t0: float
    gain: float = 1.0
    play: int = 0


@dataclass(frozen=True)
class Level:
    """Play at ``gain`` (a factor, at most 1: the output's level) from now on."""

    KIND: ClassVar[str] = "level"
    gain: float


@dataclass(frozen=True)
class Quit:
    """End the player (after the fade a ``stop`` asked for)."""

    KIND: ClassVar[str] = "quit"


@dataclass(frozen=True)
class Ping:
    """Say when this came (``pong``): how long a command takes to reach the player, measured
    on the way a ``play`` takes."""

    KIND: ClassVar[str] = "ping"
    id: int


Command = Play | Load | Stop | Effect | Level | Quit | Ping


# --- events, player to controller ----------------------------------------------------------


@dataclass(frozen=True)
class Ready:
    """The stream runs and its DAC clock is known: a sample can be placed ``soonest`` seconds
    after a command has reached the player's audio thread."""

    KIND: ClassVar[str] = "ready"
    device: str
    rate: int
    soonest: float


@dataclass(frozen=True)
class Heartbeat:
    """Twice a second: the player's counts since it started, and its latest peak."""

    KIND: ClassVar[str] = "heartbeat"
    blocks: int = 0  # blocks rendered
    underruns: int = 0  # the clip not read in time
    xruns: int = 0  # the device not fed in time
    drops: int = 0  # samples left out to keep on the timeline
    repeats: int = 0  # samples played twice for it
    resyncs: int = 0  # jumps back onto the timeline
    offset: float = 0.0  # the content minus the timeline at the last block, in samples
    ppm: float = 0.0  # the card's clock error as measured
    clock_resets: int = 0  # restarts of the DAC clock fit
    soonest: float = 0.0  # since the last heartbeat, as ``ready``'s: its longest (s)
    playing: bool = False
    level: float | None = None  # the peak since the last heartbeat, dBFS; ``None``: silent


@dataclass(frozen=True)
class Started:
    """Play ``play`` started: its first sample sounded at ``dac_time`` after ``zeros`` zeros.
    ``position`` is the first sample it played (more than 0: it joined late, and that many
    were never heard); ``queued`` is when the player had the command."""

    KIND: ClassVar[str] = "started"
    play: int
    t0: float
    queued: float
    position: int
    zeros: int
    dac_time: float


@dataclass(frozen=True)
class Finished:
    """Play ``play`` ended: ``end`` (its last sample at ``dac_time``), ``faded``, ``stopped``,
    ``replaced``, or ``already over`` (it would have started past its end)."""

    KIND: ClassVar[str] = "finished"
    play: int
    reason: str
    dac_time: float | None = None


@dataclass(frozen=True)
class Resynced:
    """The clip of ``play`` stepped back onto the timeline by ``samples`` after a jump."""

    KIND: ClassVar[str] = "resynced"
    play: int
    samples: int


@dataclass(frozen=True)
class Pong:
    """The answer to ping ``id``: when the player had it (monotonic seconds), as a play's
    ``queued``."""

    KIND: ClassVar[str] = "pong"
    id: int
    queued: float


@dataclass(frozen=True)
class Error:
    """The player cannot go on, and ends: why, in one sentence naming the output."""

    KIND: ClassVar[str] = "error"
    message: str


Event = Ready | Heartbeat | Started | Finished | Resynced | Pong | Error

_COMMANDS: dict[str, type[Command]] = {
    c.KIND: c for c in (Play, Load, Stop, Effect, Level, Quit, Ping)
}
_EVENTS: dict[str, type[Event]] = {
    e.KIND: e for e in (Ready, Heartbeat, Started, Finished, Resynced, Pong, Error)
}


def encode(message: Command | Event) -> bytes:
    """One message as its line."""
    tag = "cmd" if type(message) in _COMMANDS.values() else "event"
    fields = {tag: message.KIND, **dataclasses.asdict(message)}
    return (json.dumps(fields, separators=(",", ":")) + "\n").encode()


def decode_command(line: bytes | str) -> Command | None:
    """The command on a line, or ``None`` for a line that is not one."""
    return _decode(line, "cmd", _COMMANDS)


def decode_event(line: bytes | str) -> Event | None:
    """The event on a line, or ``None`` for a line that is not one."""
    return _decode(line, "event", _EVENTS)


M = TypeVar("M")


def _decode(line: bytes | str, tag: str, kinds: dict[str, type[M]]) -> M | None:
    value = decode(line)
    if value is None or value.get(tag) not in kinds:
        return None
    kind = kinds[value[tag]]
    names = {f.name for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    try:
        return kind(**{k: v for k, v in value.items() if k in names})
    except (TypeError, ValueError):  # a field missing, or one of a shape that cannot be
        return None


def decode(line: bytes | str) -> dict[str, Any] | None:
    """The JSON object on a line, or ``None`` for a line that is not one (a player's log
    lines are read so)."""
    try:
        value = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


class LogLines:
    """A player's log: ``{"event": NAME, "level": LEVEL, ...data}`` a line on ``stream``.

    Players log this way rather than through structlog, which with what it imports (asyncio,
    ssl) would cost each player 7.5 MB of memory for a handful of lines.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def _write(self, level: str, event: str, data: dict[str, Any]) -> None:
        self._stream.write(json.dumps({"event": event, "level": level, **data}, default=str))
        self._stream.write("\n")
        self._stream.flush()

    def info(self, event: str, **data: Any) -> None:
        self._write("info", event, data)

    def warning(self, event: str, **data: Any) -> None:
        self._write("warning", event, data)
