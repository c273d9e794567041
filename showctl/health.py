"""The box's health, told outward: checks, a periodic report, and a report at once on a problem.

Each check (:func:`check_all`) gives a :class:`Finding`: ``ok``, a ``problem`` with its fix, or
``skipped`` with why (a temperature on a machine that reports none). They are the show's (its
outputs, the fault state, the nightly calibration check's word on the speakers and, on the
leader of a show across boxes, the other boxes heard and their clocks together), the wall
clock's (untrusted for longer than the settings allow), the disk's (free space where showctl
writes), the temperature and, on a Raspberry Pi, the firmware's word on under-voltage and
throttling.

:class:`HealthMonitor` runs them every :data:`LOOK_EVERY` seconds. A problem that appears is
logged once with its fix (``health_problem``), one that goes is logged too
(``health_recovered``), and either sends a report at once; otherwise a report goes every
``[health] every`` seconds: by HTTP to the settings' ``url`` (``fail_url`` while there is a
problem), the ping a dead-man's-switch service such as healthchecks.io expects, and on MQTT
(``BASE/health``, by the MQTT surface). Sending never holds the show up: a URL that does not
answer is logged once for each cause and tried again later. ``showctl doctor`` runs the same
checks on demand, for a person.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import structlog

from showctl.settings import HealthSettings

logger = structlog.get_logger()

#: How often the checks run (s): problems are seen within this.
LOOK_EVERY = 5.0
#: After a report that could not be sent, the next try comes this much later (s).
RETRY = 60.0
#: How long a report may take to be sent (s).
SEND_TIMEOUT = 10.0

THERMAL = Path("/sys/class/thermal/thermal_zone0/temp")
#: The Raspberry Pi firmware's throttled flags, as recent kernels give them.
THROTTLED = Path("/sys/devices/platform/soc/soc:firmware/get_throttled")
#: The flags' bits (``vcgencmd get_throttled``): now, and since boot (the same bits << 16).
THROTTLE_BITS = {
    0x1: "under-voltage",
    0x2: "the ARM frequency capped",
    0x4: "throttled",
    0x8: "the soft temperature limit reached",
}


@dataclass(frozen=True)
class Finding:
    """What one check found: ``ok``, a ``problem`` (with its ``fix``), or ``skipped``."""

    check: str
    state: Literal["ok", "problem", "skipped"]
    says: str
    fix: str = ""


@dataclass(frozen=True)
class Sensors:
    """Where the machine's readings are (other files in tests)."""

    thermal: Path = THERMAL
    throttled: Path = THROTTLED
    vcgencmd: str = "vcgencmd"
    disk_usage: Callable[[Path], Any] = shutil.disk_usage


def check_show(status: Mapping[str, Any]) -> list[Finding]:
    """The show's outputs and its fault state, from its status."""
    outputs = status.get("outputs", {})
    failed = {name: o["failed"] for name, o in outputs.items() if o.get("failed")}
    if failed:
        named = "; ".join(f"{name}: {why}" for name, why in failed.items())
        found = Finding(
            "outputs",
            "problem",
            f"{len(failed)} of {len(outputs)} outputs failed ({named})",
            "plug the sound card back in, or replace it (showctl devices lists the cards "
            "present); showctl tries a failed output again by itself",
        )
    else:
        found = Finding("outputs", "ok", f"{len(outputs)} of {len(outputs)} outputs play")
    if status.get("fault"):
        fault = Finding(
            "show",
            "problem",
            f"the show is in its fault state: {status['fault']}",
            "see the log (journalctl -u showctl) for what went wrong",
        )
    else:
        fault = Finding("show", "ok", f"{status.get('show')!s} in scene {status.get('scene')!s}")
    findings = [fault, found, check_speakers(status.get("calibration", {}).get("check"))]
    if "boxes" in status:
        findings.append(check_boxes(status["boxes"]))
    return findings


def check_boxes(boxes: Mapping[str, Any]) -> Finding:
    """Of a show across boxes, on the leader (the status's ``boxes``): no other leader, every
    box heard from, and its wall clock, measured over the link, within the bound of the
    leader's."""
    silent = [box for box, said in boxes.items() if said["state"] == "silent"]
    off = {
        box: said["clock"]["offset_ms"]
        for box, said in boxes.items()
        if said["clock"] is not None and said["clock"]["flagged"]
    }
    rivals = [rival for said in boxes.values() for rival in said.get("rivals", ())]
    if not silent and not off and not rivals:
        return Finding("boxes", "ok", f"{len(boxes)} boxes heard from, their clocks together")
    said = [f"{rival} leads this show too" for rival in rivals]
    said += [f"box {box!r} is not heard from (its outputs failed)" for box in silent]
    said += [f"box {box!r}'s clock is {ms:+.2f} ms from the leader's" for box, ms in off.items()]
    return Finding(
        "boxes",
        "problem",
        "; ".join(said),
        "a box not heard from: look at its power, its network and journalctl -u showctl on it; "
        "a clock off: chronyc tracking on that box (see the README on several boxes' clocks); "
        "another leader: one box leads, so set [box] name and leader on that box and restart it",
    )


def check_speakers(checked: Mapping[str, Any] | None) -> Finding:
    """The latest nightly calibration check (the status's ``calibration.check``): each speaker
    heard where it was trimmed."""
    if checked is None:
        return Finding(
            "speakers",
            "skipped",
            "no calibration check has run: [calibration] input in the settings checks nightly",
        )
    says = f"{checked['says']} (checked {checked['at']})"
    if checked["passed"] is None:
        return Finding("speakers", "skipped", says)
    if checked["passed"]:
        return Finding("speakers", "ok", says)
    return Finding(
        "speakers",
        "problem",
        says,
        "listen to the speaker named: its card, cable, amplifier, and whether it was moved; "
        "then recalibrate (stop showctl, run showctl calibrate SHOW --input MIC --write)",
    )


def check_clock(clock: Mapping[str, Any], untrusted_for: float, grace: float) -> Finding:
    """The wall clock (``clock``: the status's ``wall_clock``), untrusted ``untrusted_for``
    seconds: a problem past ``grace``."""
    if clock["trusted"]:
        return Finding("clock", "ok", f"trusted: {clock['why']}")
    since = f" for {untrusted_for / 60:.0f} min" if untrusted_for >= 60 else ""
    says = f"not trusted{since}: {clock['why']}"
    if untrusted_for < grace:
        return Finding("clock", "ok", says)
    return Finding(
        "clock",
        "problem",
        says,
        "give the box a clock: NTP on its network, a real-time clock, or chrony serving from "
        "another box (the README's 'The box's clock')",
    )


def check_disk(path: Path, least_mb: float, sensors: Sensors) -> Finding:
    """Free space on the file system of ``path``, where showctl writes its state."""
    try:
        usage = sensors.disk_usage(path)
    except OSError as e:
        return Finding("disk", "skipped", f"{path} cannot be looked at ({e.strerror})")
    free = usage.free / 1e6
    says = f"{free:.0f} MB free on the file system of {path}"
    if free < least_mb:
        return Finding(
            "disk",
            "problem",
            says,
            f"make room (at least {least_mb:.0f} MB): old logs (journalctl --vacuum-size=100M), "
            "captures, media of old shows",
        )
    return Finding("disk", "ok", says)


def check_temperature(hot: float, sensors: Sensors) -> Finding:
    """The SoC's temperature (the first thermal zone)."""
    try:
        celsius = int(sensors.thermal.read_text().strip()) / 1000
    except (OSError, ValueError):
        return Finding(
            "temperature",
            "skipped",
            f"this machine gives no temperature at {sensors.thermal} (not a Raspberry Pi?)",
        )
    says = f"{celsius:.1f} °C"
    if celsius >= hot:
        return Finding(
            "temperature",
            "problem",
            f"{says}, at or above {hot:g} °C",
            "give the box air: a heatsink or a case with a fan, away from lamps and "
            "projectors' exhaust",
        )
    return Finding("temperature", "ok", says)


def throttled_flags(sensors: Sensors) -> int | None:
    """The firmware's throttled flags: from the kernel's file, else ``vcgencmd``; ``None``:
    neither is there (not a Raspberry Pi)."""
    try:
        return int(sensors.throttled.read_text().strip(), 16)
    except (OSError, ValueError):
        pass
    if shutil.which(sensors.vcgencmd) is None:
        return None  # not a Raspberry Pi: no process started every look
    try:
        done = subprocess.run(
            [sensors.vcgencmd, "get_throttled"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return int(done.stdout.strip().partition("=")[2], 16)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def check_power(sensors: Sensors) -> Finding:
    """Under-voltage and throttling as the Raspberry Pi's firmware reports them: a problem
    while they happen, and for under-voltage since boot too (a weak supply)."""
    flags = throttled_flags(sensors)
    if flags is None:
        return Finding(
            "power", "skipped", "no firmware reports throttling here (not a Raspberry Pi)"
        )
    now = [what for bit, what in THROTTLE_BITS.items() if flags & bit]
    since = [what for bit, what in THROTTLE_BITS.items() if flags & (bit << 16)]
    if now or flags & (0x1 << 16):
        said = f"now: {', '.join(now)}" if now else f"since boot: {', '.join(since)}"
        return Finding(
            "power",
            "problem",
            f"the firmware reports {said} (flags {flags:#x})",
            "use the official power supply (5.1 V, 3 A or more for a Pi 4, 5 A for a Pi 5) "
            "and a short cable; give the box air if it is throttled for heat",
        )
    said = f" (since boot: {', '.join(since)})" if since else ""
    return Finding("power", "ok", f"no under-voltage or throttling now{said}")


def check_machine(settings: HealthSettings, disk: Path, sensors: Sensors) -> list[Finding]:
    """The machine's checks: the disk, the temperature, the power. Blocking (it may run
    ``vcgencmd``): in a thread."""
    return [
        check_disk(disk, settings.disk_min_mb, sensors),
        check_temperature(settings.hot, sensors),
        check_power(sensors),
    ]


def report(status: Mapping[str, Any], findings: list[Finding], at: float) -> dict[str, Any]:
    """The report sent outward: the box, its show, whether all is well, and every finding."""
    outputs = status.get("outputs", {})
    return {
        "box": socket.gethostname(),
        "show": status.get("show"),
        "scene": status.get("scene"),
        "ok": not any(f.state == "problem" for f in findings),
        "outputs": {
            "ok": sum(not o.get("failed") for o in outputs.values()),
            "total": len(outputs),
        },
        "clock_trusted": status["wall_clock"]["trusted"],
        "findings": [asdict(f) for f in findings],
        "at": round(at, 3),
    }


@dataclass
class HealthMonitor:
    """Runs the checks of a running show and reports them (see the module's docstring).

    ``status`` is the controller's; ``wall`` the wall clock (for the report's time) and
    ``sleep`` the clock's sleep; ``disk`` where showctl writes. :attr:`latest` is the latest
    report; ``on_send`` is told each one that goes out (the MQTT surface publishes it)."""

    settings: HealthSettings
    status: Callable[[], Mapping[str, Any]]
    wall: Callable[[], float]
    monotonic: Callable[[], float]
    sleep: Callable[[float], Any]
    disk: Path
    sensors: Sensors = field(default_factory=Sensors)
    latest: dict[str, Any] | None = None
    on_send: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._problems: dict[str, Finding] = {}
        self._next_send = 0.0  # monotonic s
        self._sending: asyncio.Task[None] | None = None
        self._waiting: tuple[str, dict[str, Any]] | None = None  # the next report to go
        self._failed: str | None = None  # why the last report could not be sent
        self._untrusted_since: float | None = None
        self.sent = 0

    async def look(self) -> dict[str, Any]:
        """Run the checks once (the machine's in a thread): log what changed, make the report,
        and send it if a problem came or went or its period is over (without waiting for it
        to go)."""
        machine = await asyncio.to_thread(check_machine, self.settings, self.disk, self.sensors)
        now = self.monotonic()
        status = self.status()
        if status["wall_clock"]["trusted"]:
            self._untrusted_since = None
        elif self._untrusted_since is None:
            self._untrusted_since = now
        untrusted_for = 0.0 if self._untrusted_since is None else now - self._untrusted_since
        clock = check_clock(status["wall_clock"], untrusted_for, self.settings.clock_grace)
        findings = [*check_show(status), clock, *machine]
        problems = {f.check: f for f in findings if f.state == "problem"}
        for name, finding in problems.items():
            if name not in self._problems:
                logger.warning("health_problem", check=name, says=finding.says, fix=finding.fix)
        for name in self._problems.keys() - problems.keys():
            logger.info("health_recovered", check=name)
        changed = problems.keys() != self._problems.keys()
        self._problems = problems
        self.latest = report(status, findings, self.wall())
        if changed or now >= self._next_send:
            self._next_send = now + self.settings.every
            self._send(self.latest)
        return self.latest

    async def run(self) -> None:
        """Look every :data:`LOOK_EVERY` s until cancelled."""
        try:
            while True:
                await self.look()
                await self.sleep(LOOK_EVERY)
        finally:
            if self._sending is not None:
                self._sending.cancel()

    def _send(self, latest: dict[str, Any]) -> None:
        for callback in self.on_send:
            callback(latest)
        url = self.settings.url if latest["ok"] else self.settings.fail_url or self.settings.url
        if not url:
            return
        self._waiting = (url, latest)  # the latest replaces one still waiting: it says more
        if self._sending is None or self._sending.done():
            self._sending = asyncio.get_running_loop().create_task(
                self._post_waiting(), name="health-report"
            )

    async def _post_waiting(self) -> None:
        while self._waiting is not None:
            url, latest = self._waiting
            self._waiting = None
            await self._post(url, latest)

    async def _post(self, url: str, latest: dict[str, Any]) -> None:
        import aiohttp  # noqa: PLC0415  (only a box that reports over HTTP needs it)

        try:
            timeout = aiohttp.ClientTimeout(total=SEND_TIMEOUT)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(url, json=latest) as response,
            ):
                if response.status >= 400:
                    raise OSError(f"it answered HTTP {response.status}")
        except (OSError, aiohttp.ClientError, TimeoutError) as e:
            why = str(e) or type(e).__name__
            if why != self._failed:
                logger.warning(
                    "health_report_failed",
                    url=url,
                    reason=why,
                    retry=RETRY,
                    hint="the show goes on; check the box's network and the health URL",
                )
                self._failed = why
            self._next_send = min(self._next_send, self.monotonic() + RETRY)
            return
        self.sent += 1
        if self._failed is not None:
            logger.info("health_report_sent", url=url, after=self._failed)
            self._failed = None

    async def close(self) -> None:
        """Let a report on its way finish (up to :data:`SEND_TIMEOUT`)."""
        if self._sending is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._sending), SEND_TIMEOUT)
