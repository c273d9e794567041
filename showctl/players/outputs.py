"""The seam between the show controller and its audio outputs, in both directions.

:class:`Outputs` is what the controller drives: the players (:class:`~.pool.PlayerPool`) or a
simulation with memory (:class:`showctl.players.simulated.SimulatedOutputs`).
:class:`OutputListener` is what the outputs tell it back, and both of them call it the same way,
so a test without players exercises the routing that runs on a box. :class:`OutputHealth` is one
output's state.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

#: A clip as an output is told it: its file, and whether it loops.
Clip = tuple[Path, bool]


@dataclass(frozen=True)
class OutputHealth:
    """One output's state, as the status shows it."""

    failed: str | None = None  # why its restarts were spent; ``None``: it works
    alive: bool = True  # its player process runs
    pid: int | None = None
    restarts: int = 0  # since showctl started
    playing: bool = False
    underruns: int = 0  # the clip not read in time
    xruns: int = 0  # the device not fed in time
    level: float | None = None  # the last heartbeat's peak, dBFS; ``None``: silent
    cut_starts: int = 0  # starts that came too late to play their first samples


class OutputListener(Protocol):
    """What the outputs tell the controller. Called on the event loop's thread; never waits."""

    def clip_finished(self, output: str, play: int, reason: str) -> None:
        """The clip of ``play`` ended on ``output``: ``end``, ``already over`` (a fresh player
        told to join past its end), ``faded``, ``stopped`` or ``replaced``."""

    def output_failed(self, output: str, reason: str) -> None:
        """``output`` is failed (its restarts spent): the show runs without it."""

    def output_recovered(self, output: str) -> None:
        """``output``, failed, works again."""

    def output_changed(self, output: str) -> None:
        """``output``'s health changed otherwise (a restart, a start cut short)."""


class Outputs(Protocol):
    """What the controller needs of the audio outputs."""

    #: Told what the outputs do; ``None``: nobody listens.
    listener: OutputListener | None
    #: Each output's calibration trim (s), held back on top of its delay from the next start.
    trims: Mapping[str, float]

    @property
    def soonest(self) -> float:
        """How soon after a command every output can place a sample (s)."""
        ...

    async def play(
        self,
        clips: Mapping[str, Clip],
        t0: float | None = None,
        play: int = 0,
        fade: tuple[float, float] = (0.0, 0.0),
    ) -> float:
        """Start each output's clip at ``t0`` (monotonic seconds), or with none, as soon as every
        output can (``soonest`` from the moment it is told: the commands' whole way is covered);
        the T0. ``play`` tags its events. ``fade``: the clips fade in over its first (s), and
        what they take over from fades out under them over its second."""
        ...

    async def stop(
        self,
        fade: float = 0.0,
        outputs: Collection[str] | None = None,
        at: float | None = None,
        play: int | None = None,
    ) -> None:
        """Silence the outputs (default: all) from ``at`` (a T0; default: now); their effects
        of other plays than ``play`` end (every effect: ``None``)."""
        ...

    def effect(self, output: str, clip: Path, gain: float, t0: float | None, play: int) -> float:
        """Mix ``clip`` in over what ``output`` plays, at ``gain`` (a factor), from ``t0``, or
        with none as soon as the output can; it ends with play ``play``. Its T0. Never
        waits."""
        ...

    async def load(self, clips: Mapping[str, Collection[Clip]]) -> None:
        """Keep these clips ready to start at once, per output."""
        ...

    async def level(self, output: str, gain: float) -> None:
        """Play ``output`` at ``gain`` (a factor, at most 1) from now on, and after a restart
        of its player."""
        ...

    def health(self) -> dict[str, OutputHealth]:
        """Each output's state."""
        ...
