"""What the leader tells the other boxes: what their outputs play, and from when on the wall
clock.

The leader's controller drives every output of the show as it drives its own (the
:class:`~showctl.players.outputs.Outputs` seam: play, stop, effect, load, level); what is for
another box's outputs goes to that box as one of these commands, its times carried as
wall-clock nanoseconds, which the box maps onto its own monotonic clock
(:mod:`.wallclock`). A clip is named by its path in the show's media folder, the same on every
box.

Every message carries the show's digest (of its file's bytes) and the leader's name: a box
running another show (a file not copied to every box, or edited on one box only) refuses the
message, saying whose show it is, rather than play the wrong clip. A message that is not one
(not JSON, a key missing or of the wrong kind, an unknown kind) is refused with what is wrong;
the box that receives it counts it and goes on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

#: Hex digits of the digest carried: 64 bits tell any two edits of a show apart.
DIGEST_DIGITS = 16


def digest(show: Path) -> str:
    """The digest of the show file at ``show`` (its bytes: the same file on every box)."""
    return hashlib.sha256(show.read_bytes()).hexdigest()[:DIGEST_DIGITS]


@dataclass(frozen=True)
class Play:
    """Each output plays its clip (media path, loop) from ``t0_ns``; events tagged ``play``."""

    KIND: ClassVar[str] = "play"
    clips: dict[str, tuple[str, bool]]
    t0_ns: int
    play: int
    fade: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class Stop:
    """The outputs (``None``: all) fall silent from ``at_ns`` (``None``: now), over ``fade``;
    their effects of other plays than ``play`` end (``None``: every one)."""

    KIND: ClassVar[str] = "stop"
    outputs: tuple[str, ...] | None = None
    at_ns: int | None = None
    play: int | None = None
    fade: float = 0.0


@dataclass(frozen=True)
class Effect:
    """``clip`` mixed in over what ``output`` plays, at ``gain`` (a factor), from ``t0_ns``."""

    KIND: ClassVar[str] = "effect"
    output: str
    clip: str
    gain: float
    t0_ns: int
    play: int


@dataclass(frozen=True)
class Load:
    """Each output keeps these clips (media path, loop) opened ahead, and no others."""

    KIND: ClassVar[str] = "load"
    clips: dict[str, tuple[tuple[str, bool], ...]]


@dataclass(frozen=True)
class Level:
    """``output`` plays at ``gain`` (a factor) from now on."""

    KIND: ClassVar[str] = "level"
    output: str
    gain: float


#: What a :class:`Switch` does to the box's relays (:class:`~showctl.room.relays.Relays`).
SWITCHES = ("power", "unpower", "pulse", "at", "forget", "safe", "latch", "clear")


@dataclass(frozen=True)
class Switch:
    """The box's relays: ``relay`` powered, unpowered or pulsed (``pulse`` s) now, or switched
    at ``due_ns`` for the scene entry ``entry`` (``at``); or all of them: the timeline's
    changes forgotten, made safe, the emergency latched (``why``), or the latch cleared."""

    KIND: ClassVar[str] = "switch"
    op: str
    relay: str | None = None
    powered: bool = False
    pulse: float | None = None
    due_ns: int | None = None
    entry: int = 0
    why: str = ""


@dataclass(frozen=True)
class Leds:
    """The matrix shows ``scene``'s cues from ``t0_ns`` (``scene`` ``None``: dark), or, with
    ``hold``, keeps the frame it shows and shows no more (the show paused)."""

    KIND: ClassVar[str] = "leds"
    scene: str | None
    t0_ns: int
    hold: bool = False


Command = Play | Stop | Effect | Load | Level | Switch | Leds
KINDS: dict[str, type[Command]] = {
    k.KIND: k for k in (Play, Stop, Effect, Load, Level, Switch, Leds)
}


@dataclass(frozen=True)
class Message:
    """A command from the leader ``leader`` of the show of digest ``show``; ``seq`` counts the
    leader's messages (a later one was sent after an earlier one)."""

    show: str
    leader: str
    seq: int
    command: Command

    def encode(self) -> bytes:
        body = {"show": self.show, "leader": self.leader, "seq": self.seq}
        body |= {"kind": self.command.KIND, **dataclasses.asdict(self.command)}
        return json.dumps(body, separators=(",", ":")).encode()


#: Sends a command to a box: ``send(box, what, payload, retain)``, ``what`` the topic below the
#: box's (``output/NAME``, ``level/NAME``, ``load``, ``leds``, ``effect``, ``relays``).
Send = Callable[[str, str, bytes, bool], None]


@dataclass
class Sender:
    """Sends the leader ``me``'s commands to the other boxes, each in a message for the show of
    digest ``digest``, through ``send``."""

    me: str
    digest: str
    send: Send
    #: Counts the messages from the leader's start on the wall clock (ns), so that a leader
    #: started again goes on above what it sent before, which the boxes may have kept.
    seq: int = field(default_factory=time.time_ns)
    #: The latest retained message of each box's topic, sent again by :meth:`again`.
    retained: dict[tuple[str, str], bytes] = field(default_factory=dict)

    def __call__(self, box: str, what: str, command: Command, retain: bool = True) -> None:
        self.seq += 1
        payload = Message(self.digest, self.me, self.seq, command).encode()
        if retain:
            self.retained[box, what] = payload
        self.send(box, what, payload, retain)

    def again(self) -> None:
        """Send the latest retained message of every topic again: the link is back, and what
        was sent while it was away (the show's first scene, at the leader's start) was not."""
        for (box, what), payload in self.retained.items():
            self.send(box, what, payload, True)


class Refused(ValueError):
    """A message refused, saying why in one sentence."""


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError
    return value


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError
    return float(value)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError
    return value


def _switch(value: Any) -> str:
    if value not in SWITCHES:
        raise ValueError
    return str(value)


def _clip(value: Any) -> tuple[str, bool]:
    path, loop = value
    return _text(path), _flag(loop)


def _optional(read: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else read(value)


#: How each key of a command is read from JSON (raising TypeError or ValueError if it cannot).
READ: dict[str, Callable[[Any], Any]] = {
    "clips": lambda v: {_text(k): _clip(c) for k, c in v.items()},
    "t0_ns": _whole,
    "play": _whole,
    "fade": lambda v: _number(v) if not isinstance(v, list) else tuple(map(_number, v)),
    "outputs": _optional(lambda v: tuple(map(_text, v))),
    "at_ns": _optional(_whole),
    "output": _text,
    "clip": _text,
    "gain": _number,
    "op": _switch,
    "relay": _optional(_text),
    "powered": _flag,
    "pulse": _optional(_number),
    "due_ns": _optional(_whole),
    "entry": _whole,
    "why": _text,
    "scene": _optional(_text),
    "hold": _flag,
}
#: Where a kind reads a key otherwise: Load's clips are lists per output; Stop's play optional.
READ_OWN: dict[type[Command], dict[str, Callable[[Any], Any]]] = {
    Load: {"clips": lambda v: {_text(k): tuple(map(_clip, c)) for k, c in v.items()}},
    Stop: {"play": _optional(_whole)},
}


def decode(payload: bytes, show: str) -> Message:
    """The message in ``payload``, for the show of digest ``show``. Raises :class:`Refused`
    saying why it cannot be one."""
    try:
        data: Any = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as e:
        raise Refused(f"not a message: not JSON ({e})") from e
    if not isinstance(data, dict):
        raise Refused("not a message: not a JSON object")
    kind = KINDS.get(data.get("kind"))  # type: ignore[arg-type]
    if kind is None:
        raise Refused(f"not a message: its kind is {data.get('kind')!r}; one of {', '.join(KINDS)}")
    head = {}
    for key, read in (("show", _text), ("leader", _text), ("seq", _whole)):
        head[key] = _read(data, key, read)
    if head["show"] != show:
        raise Refused(
            f"the leader {head['leader']!r} plays another show (digest {head['show']}, this "
            f"box's {show}): copy the same show file to every box"
        )
    reads = READ | READ_OWN.get(kind, {})
    fields = {}
    for f in dataclasses.fields(kind):
        if f.name in data or f.default is dataclasses.MISSING:
            fields[f.name] = _read(data, f.name, reads[f.name])
    return Message(head["show"], head["leader"], head["seq"], kind(**fields))


def _read(data: dict[str, Any], key: str, read: Callable[[Any], Any]) -> Any:
    try:
        return read(data[key])
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        said = "missing" if isinstance(e, KeyError) else f"{data[key]!r}"
        raise Refused(f"not a {data.get('kind')} message: {key!r} is {said}") from e
