"""The settings file: where the operator surfaces listen, and how to reach the MQTT broker.

A TOML file, by default ``/etc/showctl/settings.toml`` (``showctl run --settings FILE``); without
one, every surface has its default: the web page on 127.0.0.1:8080, no MQTT, no OSC. Every key
is optional::

    [web]
    host = "127.0.0.1"   # another address (0.0.0.0: every one) needs a token
    port = 8080          # 0: no web page and no HTTP API
    token = ""           # set: every control action must carry it (Authorization: Bearer ...),
                         # on loopback too (any local user can reach it)

    [mqtt]
    host = ""            # the broker; empty: no MQTT
    port = 1883          # 8883 is the usual port with TLS
    username = ""
    password = ""
    tls = false
    ca_file = ""         # with tls: the CA of the broker's certificate (default: the system's)
    client_id = ""       # default: showctl-HOSTNAME
    base = "showctl"     # topics below it: BASE/event/NAME, BASE/trigger, BASE/state, BASE/online

    [mqtt.events]        # more topics, each firing one event ("input:NAME" for an input)
    "room1/props/chest" = "chest-opened"

    [osc]
    host = "127.0.0.1"
    port = 0             # 0: no OSC

    [osc.targets]        # where the show's OSC actions go, by name: "HOST:PORT"
    lighting-desk = "192.168.1.20:53000"

    [props.chest]        # a prop: on a serial port, or on MQTT with its presence, or both
    serial = "/dev/serial/by-id/usb-Arduino_LLC_Arduino_Uno_1234-if00"
    baud = 9600
    reset_wait = 2.0     # seconds the board takes to boot after the port opens (an Arduino's reset)
    presence = "room1/props/chest/status"   # its last will: "offline"; anything else: online

    [props.chest.events] # a line received -> an event ("input:NAME" for an input)
    "SOLVED" = "chest-solved"

    [health]             # reports of the box's health (see showctl.health)
    url = ""             # POSTed a report every `every` s, and at once when a problem comes or goes
    fail_url = ""        # where a report with a problem goes instead (default: url)
    every = 300.0
    clock_grace = 600.0  # seconds the clock may stay untrusted before that is a problem
    disk_min_mb = 200.0
    hot = 80.0           # degrees Celsius

    [clock]
    trust = "synchronised"   # when the wall clock is good enough for the opening hours:
                             # "synchronised" (NTP, as the kernel says), "rtc" (that, or a
                             # battery-backed real-time clock agreeing), "always"

    [box]                # a show played by several boxes (its boxes: in the show file)
    name = ""            # this box's name in the show; empty: the host name
    leader = ""          # the box that runs the scenes; the others play their parts

    [calibration]        # the nightly check that every speaker is heard where it was trimmed
    input = ""           # the measurement microphone (a query as showctl devices lists it);
                         # empty: no nightly check
    at = "03:30"         # when, the box's local time (while the gallery is closed, if the show
                         # has opening hours)
    rate = 48000         # the microphone's sample rate

A mistake gets one sentence naming the file, the key and the fix (:class:`SettingsError`).
"""

from __future__ import annotations

import ipaddress
import socket
import tomllib
import typing
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from showctl.errors import SettingsError
from showctl.wall_clock import Trust

DEFAULT_PATH = Path("/etc/showctl/settings.toml")


@dataclass(frozen=True)
class WebSettings:
    """The web page and the HTTP/WebSocket API."""

    host: str = "127.0.0.1"
    port: int = 8080
    token: str = ""

    @property
    def needs_token(self) -> bool:
        """Whether control actions must carry the token: whenever one is set, wherever the page
        listens (any local user can reach loopback). :func:`load` refuses a non-loopback host
        without one."""
        return bool(self.token)


@dataclass(frozen=True)
class MqttSettings:
    """The MQTT broker and the topics showctl listens to and publishes."""

    host: str = ""
    port: int = 1883
    username: str = ""
    password: str = ""
    tls: bool = False
    ca_file: str = ""
    client_id: str = ""
    base: str = "showctl"
    events: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class OscSettings:
    """The OSC (UDP) server for show-control desks."""

    host: str = "127.0.0.1"
    port: int = 0
    #: Where the show's OSC actions go: target name -> (host, port).
    targets: Mapping[str, tuple[str, int]] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class PropSettings:
    """A prop the show talks to: on a serial port (an Arduino on USB), or on MQTT with a
    presence topic (its last will), or both."""

    serial: str = ""
    baud: int = 9600
    reset_wait: float = 2.0
    presence: str = ""
    events: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class HealthSettings:
    """Where the box's health is reported, how often, and what counts as a problem."""

    url: str = ""
    fail_url: str = ""
    every: float = 300.0
    clock_grace: float = 600.0
    disk_min_mb: float = 200.0
    hot: float = 80.0


#: The bounds of the numbers of [health], and their units.
HEALTH_BOUNDS = {
    "every": (10.0, 86400.0, "seconds"),
    "clock_grace": (0.0, 86400.0, "seconds"),
    "disk_min_mb": (0.0, 1e6, "MB"),
    "hot": (40.0, 120.0, "°C"),
}


@dataclass(frozen=True)
class ClockSettings:
    """When the wall clock is trusted (see :mod:`showctl.wall_clock`)."""

    trust: Trust = "synchronised"


TRUSTS = typing.get_args(Trust)


@dataclass(frozen=True)
class BoxSettings:
    """Which box of a show played by several this is, and which one leads."""

    name: str = ""
    leader: str = ""

    @property
    def me(self) -> str:
        """This box's name: ``name``, else the host name."""
        return self.name or socket.gethostname()


@dataclass(frozen=True)
class CalibrationSettings:
    """The nightly check of the show's calibration (see :mod:`showctl.calibration.nightly`)."""

    input: str = ""
    at: str = "03:30"
    rate: int = 48000


@dataclass(frozen=True)
class Settings:
    """The whole settings file."""

    web: WebSettings = WebSettings()
    mqtt: MqttSettings = MqttSettings()
    osc: OscSettings = OscSettings()
    clock: ClockSettings = ClockSettings()
    health: HealthSettings = HealthSettings()
    calibration: CalibrationSettings = CalibrationSettings()
    box: BoxSettings = BoxSettings()
    props: Mapping[str, PropSettings] = field(default_factory=lambda: MappingProxyType({}))
    path: Path | None = None  # where they were read from (None: the defaults)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load(path: Path | None) -> Settings:
    """Read the settings at ``path``; ``None``: :data:`DEFAULT_PATH` if it exists, else the
    defaults. Raises :class:`SettingsError` (one sentence) for a file missing or wrong."""
    if path is None:
        if not DEFAULT_PATH.exists():
            return Settings()
        path = DEFAULT_PATH
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise SettingsError(f"the settings file {path} does not exist; give an existing one") from e
    except OSError as e:
        raise SettingsError(f"the settings file {path} cannot be read ({e.strerror})") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SettingsError(f"{path} is not valid TOML: {e}; correct it") from e
    sections = {
        "web": WebSettings,
        "mqtt": MqttSettings,
        "osc": OscSettings,
        "clock": ClockSettings,
        "health": HealthSettings,
        "calibration": CalibrationSettings,
        "box": BoxSettings,
    }
    _known(path, "", raw, [*sections, "props"])
    values: dict[str, Any] = {"path": path}
    for name, kind in sections.items():
        section = raw.get(name, {})
        if not isinstance(section, dict):
            raise SettingsError(f"{path}: {name} must be a table ([{name}]); correct it")
        values[name] = _section(path, name, kind, section)
    props = raw.get("props", {})
    if not isinstance(props, dict) or not all(isinstance(p, dict) for p in props.values()):
        raise SettingsError(f"{path}: props must be tables, one per prop ([props.NAME])")
    values["props"] = MappingProxyType(
        {name: _prop(path, name, prop) for name, prop in props.items()}
    )
    settings = Settings(**values)
    web = settings.web
    if web.port and not web.token and not is_loopback(web.host):
        raise SettingsError(
            f"{path}: web.host is {web.host}, so the page can be reached from other machines, "
            "and web.token is empty; set web.token to a long secret, or web.host to 127.0.0.1"
        )
    return settings


def _section(path: Path, name: str, kind: type[Any], raw: dict[str, Any]) -> Any:
    keys = {f.name: f for f in fields(kind)}
    _known(path, f"{name}.", raw, list(keys))
    values: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"{path}: {name}.{key}"
        default = getattr(kind(), key)
        if key == "events" and name.startswith("props."):
            if not isinstance(value, dict) or not all(
                isinstance(v, str) and v and k for k, v in value.items()
            ):
                raise SettingsError(f'{where} must be a table of "LINE" = "event name"; correct it')
            values[key] = MappingProxyType(dict(value))
        elif key == "events":
            if not isinstance(value, dict) or not all(
                isinstance(v, str) and v for v in value.values()
            ):
                raise SettingsError(f'{where} must be a table of topic = "event name"; correct it')
            if any(not topic or "+" in topic or "#" in topic for topic in value):
                raise SettingsError(
                    f"{where}: a topic is empty or has a wildcard (+ or #); name each topic "
                    "in full, one per event"
                )
            values[key] = MappingProxyType(dict(value))
        elif key == "targets":
            values[key] = MappingProxyType(_targets(where, value))
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise SettingsError(f"{where} must be true or false, not {value!r}")
            values[key] = value
        elif isinstance(default, float):
            unit = HEALTH_BOUNDS[key][2] if key in HEALTH_BOUNDS else "seconds"
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SettingsError(f"{where} must be a number of {unit}, not {value!r}")
            values[key] = float(value)
        elif key in ("baud", "rate"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise SettingsError(f"{where} must be a whole number, not {value!r}")
            values[key] = value
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
                raise SettingsError(f"{where} must be a port number from 0 to 65535, not {value!r}")
            values[key] = value
        else:
            if not isinstance(value, str):
                raise SettingsError(f"{where} must be a string in quotes, not {value!r}")
            values[key] = value
    if name == "health":
        _health(path, values)
    if name == "calibration":
        _calibration(path, values)
    if name == "clock" and values.get("trust", TRUSTS[0]) not in TRUSTS:
        raise SettingsError(
            f"{path}: clock.trust is {values['trust']!r}; give one of {', '.join(TRUSTS)}"
        )
    ca_file = values.get("ca_file", "")
    if name == "mqtt" and ca_file and not Path(ca_file).is_file():
        raise SettingsError(
            f"{path}: mqtt.ca_file {ca_file} is not a file; give the PEM file of the CA that "
            "signed the broker's certificate, or leave it empty for the system's"
        )
    if name == "mqtt" and ("+" in values.get("base", "") or "#" in values.get("base", "")):
        raise SettingsError(
            f"{path}: mqtt.base has a wildcard (+ or #); give a plain topic such as showctl"
        )
    return kind(**values)


def _health(path: Path, values: dict[str, Any]) -> None:
    """``[health]``: its URLs are http(s) with a host, its numbers within their bounds."""
    for key in ("url", "fail_url"):
        url = values.get(key, "")
        parts = urllib.parse.urlsplit(url)
        if url and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise SettingsError(
                f"{path}: health.{key} must be an http:// or https:// URL, such as "
                f"https://hc-ping.com/YOUR-UUID, not {url!r}"
            )
    for key, (low, high, unit) in HEALTH_BOUNDS.items():
        if key in values and not low <= values[key] <= high:
            raise SettingsError(
                f"{path}: health.{key} must be {low:g} to {high:g} {unit}, not {values[key]:g}"
            )


def _calibration(path: Path, values: dict[str, Any]) -> None:
    """``[calibration]``: a time of day, a sample rate."""
    at = values.get("at", "03:30")
    hour, _, minute = at.partition(":")
    if not (len(hour) == 2 == len(minute) and hour.isdigit() and minute.isdigit()) or not (
        int(hour) < 24 and int(minute) < 60
    ):
        raise SettingsError(
            f"{path}: calibration.at must be a time of day as HH:MM, such as 03:30, not {at!r}"
        )
    rate = values.get("rate", 48000)
    if not 8000 <= rate <= 384000:
        raise SettingsError(f"{path}: calibration.rate must be 8000 to 384000 Hz, not {rate}")


def _prop(path: Path, name: str, raw: dict[str, Any]) -> PropSettings:
    """``[props.NAME]``: checked as a section, then what a prop needs."""
    prop: PropSettings = _section(path, f"props.{name}", PropSettings, raw)
    where = f"{path}: props.{name}"
    if not prop.serial and not prop.presence:
        raise SettingsError(
            f"{where} names neither a serial port (serial) nor a presence topic (presence); "
            "give one, or remove the prop"
        )
    if prop.serial and not prop.serial.startswith("/"):
        raise SettingsError(
            f"{where}.serial must be the port's whole path, such as "
            f"/dev/serial/by-id/usb-..., not {prop.serial!r}"
        )
    if not 50 <= prop.baud <= 4_000_000:
        raise SettingsError(f"{where}.baud must be a rate from 50 to 4000000, not {prop.baud}")
    if not 0 <= prop.reset_wait <= 10:
        raise SettingsError(f"{where}.reset_wait must be 0 to 10 seconds, not {prop.reset_wait}")
    if "+" in prop.presence or "#" in prop.presence:
        raise SettingsError(f"{where}.presence has a wildcard (+ or #); name the topic in full")
    return prop


def _targets(where: str, raw: object) -> dict[str, tuple[str, int]]:
    """``[osc.targets]``: each name = "HOST:PORT"."""
    if not isinstance(raw, dict):
        raise SettingsError(f'{where} must be a table of name = "HOST:PORT"; correct it')
    targets: dict[str, tuple[str, int]] = {}
    for name, text in raw.items():
        host, sep, port = str(text).rpartition(":")
        if not isinstance(text, str) or not sep or not host or not port.isdigit():
            raise SettingsError(
                f'{where}.{name} must be "HOST:PORT", such as "192.168.1.20:53000", not {text!r}'
            )
        if not 0 < int(port) < 65536:
            raise SettingsError(f"{where}.{name}: port {port} is not from 1 to 65535")
        targets[name] = (host.strip("[]"), int(port))
    return targets


def _known(path: Path, prefix: str, raw: Mapping[str, Any], keys: list[str]) -> None:
    for key in raw:
        if key not in keys:
            where = f"[{prefix.rstrip('.')}]" if prefix else "the file"
            raise SettingsError(
                f"{path}: unknown setting {prefix}{key}; the settings of {where} are: "
                f"{', '.join(keys)}"
            )
