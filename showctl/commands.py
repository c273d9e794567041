"""The operator's commands: one vocabulary, which every surface maps onto its own protocol.

:data:`COMMANDS` is the table: each command's name, what it does, its arguments and whether it
changes the show. Each is the :class:`~showctl.controller.ShowController` method of its name
(``-`` written ``_``), called with its arguments as keywords (a test holds the two together).
The control socket (``{"cmd": NAME, ...args}``), the CLI (``showctl NAME ARGS``), the HTTP
API (``POST /api/v1/NAME``, or ``GET`` for a command that changes nothing), MQTT
(``BASE/command/NAME``) and OSC (``/showctl/NAME[/ARG...]``) each offer every command of the
table, and no other.

Every answer is an :class:`Answer` with ``ok``; a refusal has ``error``, one sentence naming the
thing and the fix, and ``refused``, its kind (:class:`Refusal`), which a surface maps onto its
own codes (an HTTP status, say). A refusal changes nothing.

This module is light (no asyncio, no show loader): the CLI builds its parser from it in every
process, the players' too.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

#: The longest name (of a scene, an event, an input) a command takes, in characters.
MAX_NAME = 200
#: The longest text (a typed hint) a command takes, in characters.
MAX_TEXT = 500


class Refusal(enum.StrEnum):
    """Why a command was refused."""

    UNKNOWN_COMMAND = "unknown_command"  # no such command
    BAD_ARGUMENT = "bad_argument"  # an argument missing, or of the wrong kind
    UNKNOWN_NAME = "unknown_name"  # the show has no such scene, event or input
    NOT_NOW = "not_now"  # not in this state of the show (GO from a scene that leads nowhere)
    INVALID_SHOW = "invalid_show"  # the show file reloaded has errors
    NEEDS_RESTART = "needs_restart"  # the show file reloaded changes what only a start takes up


class Answer(dict[str, Any]):
    """A JSON-ready answer to a command: ``ok`` and more."""


def refused(kind: Refusal, error: str, **data: Any) -> Answer:
    """A refusal of ``kind``, with its sentence."""
    return Answer(ok=False, refused=kind.value, error=error, **data)


@dataclass(frozen=True)
class Arg:
    """An argument of a command: a name (of a scene, an event; ``str``) or a switch (``bool``,
    off unless given)."""

    name: str
    type: type[str] | type[bool]
    doc: str  # what it is, in a few lowercase words
    example: str = ""
    #: What a name given names, in a word (``event``); by default the argument's name.
    names: str = ""
    #: The most characters it takes.
    longest: int = MAX_NAME

    @property
    def what(self) -> str:
        return self.names or self.name

    @property
    def required(self) -> bool:
        return self.type is str


@dataclass(frozen=True)
class Command:
    """One command of the vocabulary."""

    name: str
    doc: str
    args: tuple[Arg, ...] = ()
    #: ``False``: it only reads (an HTTP ``GET``, no log line of a change).
    changes: bool = True

    @property
    def usage(self) -> str:
        """How a person writes it: ``goto SCENE``, ``reload [now]``."""
        words = [self.name]
        for arg in self.args:
            words.append(arg.name.upper() if arg.required else f"[{arg.name}]")
        return " ".join(words)


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command(
            "status", "Where the show is: scene, flags, counters, timers, outputs.", changes=False
        ),
        Command(
            "trigger",
            "Fire an event of the show now (input:NAME fires an input, as if its line had "
            "changed).",
            (Arg("name", str, "the event, or input:NAME for an input", "door-opened", "event"),),
        ),
        Command(
            "goto",
            "Go to a scene now, as a transition would (its exit and enter actions run).",
            (Arg("scene", str, "the scene to go to", "finale"),),
        ),
        Command("go", "Go to the next scene: the current scene's first transition with a 'to'."),
        Command("reset", "Start the show over: flags clear, counters 0, the initial scene."),
        Command("pause", "Hold the show where it is: sound fades, LEDs hold, timers stand."),
        Command("resume", "Go on from where the show was paused."),
        Command(
            "reload",
            "Read the show file again; it takes over at the next scene change, or at once with "
            "now. An invalid file changes nothing.",
            (Arg("now", bool, "take over at once, not at the next scene change"),),
        ),
        Command(
            "power",
            "Power a relay now (a maglock holds, a lamp lights); refused during an emergency.",
            (Arg("relay", str, "the relay", "door-lock"),),
        ),
        Command(
            "unpower",
            "Unpower a relay now (a fail-safe maglock lets its door open).",
            (Arg("relay", str, "the relay", "door-lock"),),
        ),
        Command(
            "pulse",
            "Power a relay for a time, then unpower it (a stuck drawer's solenoid); never "
            "longer than its max_on, refused during an emergency.",
            (
                Arg("relay", str, "the relay", "drawer"),
                Arg("duration", str, "how long, such as 500ms or 2s", "500ms", "time"),
            ),
        ),
        Command(
            "action",
            "Run a named action of the show now (a stuck prop's: open the chest); refused "
            "whole during an emergency if it would switch a relay away from safe.",
            (Arg("name", str, "the named action", "open-chest", "action"),),
        ),
        Command(
            "sound",
            "Play a sound of the show now, over what its output plays (a creak, a whisper).",
            (Arg("name", str, "the sound", "creak", "sound"),),
        ),
        Command(
            "hint",
            "Give a hint of the show now: its text to the players' screen, its clip over the "
            "room's sound; one more in the count of hints.",
            (Arg("name", str, "the hint", "gears", "hint"),),
        ),
        Command(
            "hint-text",
            "Give a hint typed now: its text to the players' screen; one more in the count of "
            "hints.",
            (
                Arg(
                    "text",
                    str,
                    "the hint's text",
                    "The third gear turns the other way",
                    longest=MAX_TEXT,
                ),
            ),
        ),
        Command(
            "add-time",
            "Give a game clock more time (5min), or take some away (-2min); taken below zero, "
            "it stops at zero and its end fires once.",
            (
                Arg("clock", str, "the game clock", "game"),
                Arg("time", str, "the time to add, with a minus to take it away", "5min"),
            ),
        ),
        Command(
            "start-clock",
            "Start a game clock, or set it going again where it stopped.",
            (Arg("clock", str, "the game clock", "game"),),
        ),
        Command(
            "stop-clock",
            "Stop a game clock where it is.",
            (Arg("clock", str, "the game clock", "game"),),
        ),
        Command(
            "level",
            "Set an output's level in dB, or the master's (master); kept through a reboot. "
            "show goes back to the show file's level.",
            (
                Arg("output", str, "the output, or master", "left"),
                Arg("db", str, "the level in dB, or show for the show file's", "-6", "level"),
            ),
        ),
        Command(
            "emergency",
            "Release the room: every relay to its safe state at once, held there whatever the "
            "scenes do until all-clear.",
        ),
        Command(
            "all-clear",
            "End the emergency release; the relays stay safe until the show or a command "
            "switches them.",
        ),
    )
}


def check(name: str, args: Mapping[str, object]) -> dict[str, object] | Answer:
    """The keyword arguments of command ``name`` given ``args`` (extra keys are ignored), or
    the refusal saying what is wrong."""
    command = COMMANDS.get(name)
    if command is None:
        return refused(
            Refusal.UNKNOWN_COMMAND,
            f"showctl has no command {name[:40]!r}; its commands are: {', '.join(COMMANDS)}",
        )
    kwargs: dict[str, object] = {}
    for arg in command.args:
        value = args.get(arg.name)
        if arg.type is bool:
            if not isinstance(value, bool | None):
                return refused(
                    Refusal.BAD_ARGUMENT,
                    f"{command.name}'s {arg.name} is true or false, not {str(value)[:40]!r}",
                )
            kwargs[arg.name] = bool(value)
        elif not isinstance(value, str) or not value:
            return refused(
                Refusal.BAD_ARGUMENT,
                f"{command.name} needs its {arg.name} ({arg.doc}), such as {arg.example!r}",
            )
        elif len(value) > arg.longest:
            return refused(
                Refusal.BAD_ARGUMENT,
                f"{command.name}'s {arg.name} is {len(value)} characters long; give one of at "
                f"most {arg.longest}",
            )
        else:
            kwargs[arg.name] = value
    return kwargs


def method(name: str) -> str:
    """The controller's method of command ``name`` (``all-clear`` is ``all_clear``)."""
    return name.replace("-", "_")


async def run(controller: object, name: str, args: Mapping[str, object]) -> Answer:
    """Carry out command ``name`` with ``args`` on ``controller`` (a ShowController), or
    refuse it. Never raises for what a client sends."""
    kwargs = check(name, args)
    if isinstance(kwargs, Answer):
        return kwargs
    result = getattr(controller, method(name))(**kwargs)
    answer: Answer = await result if isinstance(result, Awaitable) else result
    return answer
