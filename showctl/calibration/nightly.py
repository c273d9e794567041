"""The nightly check: at a set time of the box's day, every output is measured again with the
show's trims by the microphone left in the room (``showctl calibrate --verify``, on the running
show's own players), and the result is logged, put in the status and so in the health report,
naming the speaker fallen silent or moved.

Off unless the settings name the microphone (``[calibration] input``). It runs only on a
trusted clock (an untrusted one may say 03:30 in the middle of the afternoon), and, when the
show has opening hours, only while they have closed it; otherwise it is skipped that night,
saying why. Meanwhile the show stands still as if paused (a trigger waits) and is taken up
where it was after: a check of 8 outputs takes some 12 s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from showctl.audio.base import InputStream
from showctl.calibration import session
from showctl.errors import AudioDeviceError
from showctl.players.pool import PlayerError, PlayerPool
from showctl.settings import CalibrationSettings

if TYPE_CHECKING:
    from showctl.controller import ShowController

logger = structlog.get_logger()

#: How often (s) the time of day is looked at: a check starts within this of its time.
LOOK_EVERY = 20.0


@dataclass
class NightlyCheck:
    """Runs the check at ``settings.at`` each day (see the module's docstring). ``record``
    opens the microphone (``None``: there is none, the simulated backend); ``now`` is the
    box's local time."""

    settings: CalibrationSettings
    controller: ShowController
    pool: PlayerPool
    record: Callable[[], InputStream] | None
    now: Callable[[], datetime] = datetime.now
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep

    async def run(self) -> None:
        """Check at the set time every day, until cancelled."""
        done = None  # the day checked last
        while True:
            now = self.now()
            if now.strftime("%H:%M") == self.settings.at and now.date() != done:
                done = now.date()
                await self.check()
            await self.sleep(LOOK_EVERY)

    def why_not(self) -> str | None:
        """Why no check can run now, in one sentence; ``None``: it can."""
        status = self.controller.status()
        if not status["wall_clock"]["trusted"]:
            return (
                f"the box's clock is not trusted ({status['wall_clock']['why']}), so "
                f"{self.settings.at} may not be night: give the box a clock (the README's "
                "'The box's clock')"
            )
        hours = status.get("hours")
        if hours is not None and not hours["closed"]:
            return (
                f"the gallery is open at {self.settings.at}: set [calibration] at to a time "
                "the opening hours have it closed"
            )
        if self.record is None:
            return "the simulated audio backend has no microphone"
        return None

    async def check(self) -> dict[str, Any]:
        """Check now (or say why not): the result, also the controller's ``checked``."""
        at = self.now().astimezone().isoformat(timespec="seconds")
        why = self.why_not()
        if why is not None or self.record is None:
            logger.warning("calibration_check_skipped", why=why)
            return self._keep({"at": at, "passed": None, "says": why})
        show = self.controller.show
        try:
            async with self.controller.outputs_lent():
                result = await session.calibrate(
                    show, self.record, write=False, verify=True, pool=self.pool
                )
        except (AudioDeviceError, PlayerError) as e:
            logger.error("calibration_check_failed", says=str(e))
            return self._keep({"at": at, "passed": False, "says": str(e)})
        verification = result.verification
        assert verification is not None  # verify=True
        says = verification.problem or result.failure
        checked = {
            "at": at,
            "passed": result.passed,
            "says": says or f"every output within {session.VERIFIED * 1e3:g} ms of the others",
            "spread_ms": round(verification.measured.spread * 1e3, 4),
            "silent": verification.measured.silent,
            "untrimmed": list(result.untrimmed),
        }
        if result.passed:
            logger.info("calibration_check_passed", spread_ms=checked["spread_ms"])
        else:
            logger.error("calibration_check_failed", says=says, silent=checked["silent"])
        return self._keep(checked)

    def _keep(self, checked: dict[str, Any]) -> dict[str, Any]:
        self.controller.checked = checked
        self.controller.changed()
        return checked
