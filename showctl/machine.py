"""The show as data for a ``transitions`` state machine: scenes are states.

:func:`transition_table` turns a :class:`~showctl.show.model.Show` into the machine's transition
table, plain data a reader (or :func:`render_table`) can look at. Side effects live on the
model (:class:`ShowState`): flags set and cleared by the show's actions.

Trigger names, one per kind of trigger:

- ``input:NAME`` when a GPIO input changes,
- ``event:NAME`` for a network or control event,
- ``after:I`` for the timer of transition I of the current scene,
- ``audio_end:all`` / ``audio_end:OUTPUT`` when the audio ends,
- ``flags_changed``, fired after entering a scene and after flags or counters change, for
  transitions that have only a ``when``;

and the controller's own, from any scene: ``goto:SCENE`` (a game master's jump, with the
scenes' exit and enter actions) and ``fault`` (into the :data:`FAULT` state, which is not a
scene of the show: the show cannot go on as written). The machine is an ``AsyncMachine``:
``await model.trigger(name)``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import structlog
from transitions import EventData
from transitions.extensions.asyncio import AsyncMachine

from showctl.show._convert import parse_duration
from showctl.show.model import (
    COMPARISON,
    FAULT,
    HINTS,
    Action,
    ClearFlag,
    ControllerAction,
    Increment,
    SetFlag,
    Show,
    Transition,
    Zero,
)

log = structlog.get_logger()

FLAGS_CHANGED = "flags_changed"


def trigger_name(transition: Transition, index: int) -> str:
    """The machine trigger that fires transition ``index`` of its scene."""
    kind = transition.trigger
    if kind is None:
        return FLAGS_CHANGED
    if kind == "after":
        return f"after:{index}"
    return f"{kind}:{getattr(transition, kind)}"


def _nothing(action: ControllerAction | Zero) -> None:
    """Where the actions on the room, the clocks and the sounds go when no controller is
    attached (the tests of the machine alone)."""


def _no_clock(name: str) -> float:
    return 0.0


@dataclass
class ShowState:
    """The model the machine drives: the current scene (``scene``), the flags that are set and
    the counters (a counter not in ``counters`` is 0). The actions on the room (a relay
    powered), the game clocks, the sounds and the hints are handed to ``act`` (and the zeroing
    of ``hints``, which forgets the hints given); ``clock_left`` says a game clock's seconds
    left, for conditions."""

    flags: set[str] = field(default_factory=set)
    counters: dict[str, int] = field(default_factory=dict)
    scene: str = ""
    entries: int = 0  # how many times a state was entered: a re-entered scene counts too
    #: Whether the latest trigger ran a transition (a queued machine's ``trigger`` always
    #: answers ``True``: it only says the trigger was queued).
    moved: bool = False
    act: Callable[[ControllerAction | Zero], None] = field(default=_nothing, repr=False)
    clock_left: Callable[[str], float] = field(default=_no_clock, repr=False)

    if TYPE_CHECKING:  # bound onto the model by the Machine; declared for type checkers

        async def trigger(self, name: str) -> bool: ...

    def entered(self, event: EventData) -> None:
        self.entries += 1

    def finished(self, event: EventData) -> None:
        self.moved = bool(event.result)

    @property
    def memory(self) -> tuple[frozenset[str], tuple[tuple[str, int], ...]]:
        """The flags and counters together: what conditions read, to tell whether it changed."""
        return frozenset(self.flags), tuple(sorted(self.counters.items()))

    def apply(self, actions: Iterable[Action]) -> bool:
        """Run actions, in order; returns whether any flag or counter changed. Logs each
        change."""
        changed = False
        for action in actions:
            if isinstance(action, ControllerAction):
                self.act(action)
                continue
            if isinstance(action, Increment | Zero):
                was_count = self.counters.get(action.counter, 0)
                count = was_count + 1 if isinstance(action, Increment) else 0
                if count != was_count:
                    self.counters[action.counter] = count
                    log.info("counter_changed", counter=action.counter, value=count)
                    changed = True
                if isinstance(action, Zero) and action.counter == HINTS:
                    self.act(action)  # a new game: the hints given are forgotten too
                continue
            was = action.flag in self.flags
            if isinstance(action, SetFlag):
                now = True
            elif isinstance(action, ClearFlag):
                now = False
            else:
                now = not was
            if now != was:
                (self.flags.add if now else self.flags.discard)(action.flag)
                log.info("flag_changed", flag=action.flag, value=now)
                changed = True
        return changed


@dataclass(frozen=True)
class FlagTest:
    """A transition condition: ``flag`` is set (or, with ``expected=False``, clear)."""

    flag: str
    expected: bool = True

    @staticmethod
    def parse(condition: str, clocks: Iterable[str] = ()) -> FlagTest | CounterTest | ClockTest:
        """The test of ``condition``; a comparison of a name in ``clocks`` is a clock's."""
        compared = re.match(COMPARISON, condition)
        if compared and compared[1] in clocks:
            seconds = parse_duration(compared[3])
            assert seconds is not None  # the show was checked
            return ClockTest(compared[1], compared[2], seconds)
        if compared:
            return CounterTest(compared[1], compared[2], int(compared[3]))
        words = condition.split()
        return FlagTest(words[-1], expected=len(words) == 1)

    def __call__(self, event: EventData) -> bool:
        state = cast(ShowState, event.model)
        return (self.flag in state.flags) == self.expected

    def __str__(self) -> str:
        return self.flag if self.expected else f"not {self.flag}"


@dataclass(frozen=True)
class CounterTest:
    """A transition condition: a counter compared with a number (``attempts >= 3``)."""

    counter: str
    operator: str
    value: int

    def __call__(self, event: EventData) -> bool:
        count = cast(ShowState, event.model).counters.get(self.counter, 0)
        return bool(COMPARE[self.operator](count, self.value))

    def __str__(self) -> str:
        return f"{self.counter} {self.operator} {self.value}"


@dataclass(frozen=True)
class ClockTest:
    """A transition condition: a game clock's time left compared with a time
    (``game < 5min``)."""

    clock: str
    operator: str
    seconds: float

    def __call__(self, event: EventData) -> bool:
        left = cast(ShowState, event.model).clock_left(self.clock)
        return bool(COMPARE[self.operator](left, self.seconds))

    def __str__(self) -> str:
        return f"{self.clock} {self.operator} {self.seconds:g}s"


COMPARE = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class RunActions:
    """A machine callback that runs the show's flag actions on the model."""

    actions: tuple[Action, ...]

    def __call__(self, event: EventData) -> None:
        cast(ShowState, event.model).apply(self.actions)

    def __str__(self) -> str:
        return ", ".join(f"{a.TAG} {getattr(a, a.TAG_FIELD)}" for a in self.actions)


def states(show: Show) -> list[dict[str, Any]]:
    """The machine's states: one per scene, with its enter and exit actions (and the count
    of entries, :meth:`ShowState.entered`)."""
    return [
        {
            "name": name,
            "on_enter": [*([RunActions(scene.on_enter)] if scene.on_enter else []), "entered"],
            "on_exit": [RunActions(scene.on_exit)] if scene.on_exit else [],
        }
        for name, scene in show.scenes.items()
    ]


def controller_transitions(show: Show) -> list[dict[str, Any]]:
    """The transitions every show has, from any state: ``goto:SCENE`` and ``fault``."""
    return [
        *({"trigger": f"goto:{name}", "source": "*", "dest": name} for name in show.scenes),
        {"trigger": FAULT, "source": "*", "dest": FAULT},
    ]


def transition_table(show: Show) -> list[dict[str, Any]]:
    """The machine's transitions, in the show's order. ``dest`` ``None``: stay, run actions."""
    return [
        {
            "trigger": trigger_name(t, i),
            "source": name,
            "dest": t.to,
            "conditions": [FlagTest.parse(c, show.clocks) for c in t.when],
            "before": [RunActions(t.do)] if t.do else [],
        }
        for name, scene in show.scenes.items()
        for i, t in enumerate(scene.transitions)
    ]


def build_machine(show: Show, model: ShowState, initial: str | None = None) -> AsyncMachine:
    """A queued asyncio machine over ``model``, in ``initial`` (default: the show's).

    Triggers that are not valid in a scene are ignored (a button pressed in a scene that does
    not listen to it is not an error). There are no automatic ``to_<scene>`` transitions.
    Entering a state runs the scene's enter actions, then counts in ``model.entries``; after
    each trigger, ``model.moved`` says whether a transition ran.
    """
    return AsyncMachine(
        model=model,
        states=[*states(show), {"name": FAULT, "on_enter": ["entered"]}],
        transitions=transition_table(show) + controller_transitions(show),
        initial=initial or show.initial,
        model_attribute="scene",
        auto_transitions=False,
        queued=True,
        send_event=True,
        ignore_invalid_triggers=True,
        finalize_event="finished",
    )


def render_table(show: Show) -> str:
    """The transition table as aligned text, one transition a line."""
    rows = [("from", "trigger", "when", "do", "to")]
    for t in transition_table(show):
        rows.append(
            (
                t["source"],
                t["trigger"],
                " and ".join(str(c) for c in t["conditions"]) or "-",
                str(t["before"][0]) if t["before"] else "-",
                t["dest"] or "(stay)",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
