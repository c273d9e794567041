"""The LED matrix of a show across boxes, on a box other than the leader's.

The leader's controller plays each scene's cues on the matrix as it would its own
(:class:`~showctl.leds.matrix.LedPlayer`). :class:`RemoteLeds` is that player for a matrix
wired to another box: it makes the frames here too, on no lines (the page shows them, as for
a matrix of the leader's own), and tells the matrix's box which scene's cues to play from
which T0 on the wall clock (a :class:`~.messages.Leds` command, retained, so that a box that
starts late joins the scene where it is). The box builds the same schedule from its own copy of
the show (the digest says it is the same) and plays it on its lines; whether its matrix
failed comes back in its health report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from showctl.gpio.sim import SimGpio
from showctl.leds.matrix import LedMatrix, LedPlayer, Shown
from showctl.leds.programs import Frame, Schedule
from showctl.multibox import messages
from showctl.multibox.wallclock import WallClock
from showctl.show.model import Matrix

if TYPE_CHECKING:
    from collections.abc import Callable


class UnwiredMatrix(LedMatrix):
    """A matrix on no lines: its frames are made, and shown nowhere."""

    def __init__(self, matrix: Matrix) -> None:
        super().__init__(matrix, SimGpio(record=False).request_outputs(matrix.chip, matrix.offsets))

    def show(self, frame: Frame) -> None:
        pass


class RemoteLeds(LedPlayer):
    """The show's matrix, wired to box ``box``: its cues sent there by ``sender``."""

    def __init__(
        self,
        matrix: Matrix,
        box: str,
        sender: messages.Sender,
        on_frame: Callable[[Shown], None] | None = None,
    ) -> None:
        super().__init__(UnwiredMatrix(matrix), on_frame=on_frame)
        self.box, self.sender = box, sender
        self.wall = WallClock()
        #: Why the box's matrix stopped, as it said (``None``: it did not).
        self.reported: str | None = None

    @property
    def failed(self) -> str | None:
        return None if self.reported is None else f"on box {self.box!r}: {self.reported}"

    def play(self, schedule: Schedule, t0: float) -> None:
        super().play(schedule, t0)
        self.sender(self.box, "leds", messages.Leds(schedule.scene, self.wall.to_wall_ns(t0)))

    def hold(self) -> None:
        super().hold()
        self.sender(self.box, "leds", messages.Leds(None, 0, hold=True))
