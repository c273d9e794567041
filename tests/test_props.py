"""Serial props over a pseudo-terminal pair (the test holds the prop's end), and props'
presence: lines both ways, the reset waited out, a port that vanishes and comes back, a prop
that chatters.

The prop's port is a link, as ``/dev/serial/by-id/...`` is, to the pty's far end; removing the
prop closes the near end and the link, bringing it back makes a new pair behind the same link.
The network and the pty run in real time: every wait is a bounded poll for a condition.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

from structlog.testing import capture_logs

from showctl.room.props import Props
from showctl.settings import PropSettings
from showctl.show import loader
from tests.conftest import ROOT
from tests.harness.room import Room

WAIT = 5.0


class Prop:
    """The prop's end of a pty pair, reached by showctl through the link ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1
        self.plug()

    def plug(self) -> None:
        self.fd, far = os.openpty()
        os.set_blocking(self.fd, False)
        self.path.unlink(missing_ok=True)
        self.path.symlink_to(os.ttyname(far))
        os.close(far)  # showctl opens it by the link; the pty lives while our end is open

    def unplug(self) -> None:
        self.path.unlink()
        os.close(self.fd)
        self.fd = -1

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def read(self) -> bytes:
        try:
            return os.read(self.fd, 65536)
        except BlockingIOError:
            return b""


async def until(condition: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, f"{what}: not within {timeout:g} s"
        await asyncio.sleep(0.01)


def props_for(path: Path, fired: list[tuple[str, str]], **spec: object) -> Props:
    given: dict[str, object] = {"reset_wait": 0.3, **spec}
    settings = PropSettings(
        serial=str(path),
        baud=115200,
        events={"SOLVED": "chest-solved", "LID": "input:lid"},
        **given,  # type: ignore[arg-type]
    )
    props = Props({"chest": settings}, retry=0.2)
    props.fire = lambda trigger, source: fired.append((trigger, source))
    return props


def test_lines_both_ways_and_nothing_sent_before_the_reset_is_waited_out(tmp_path: Path) -> None:
    async def main() -> None:
        prop = Prop(tmp_path / "usb-Arduino_chest-if00")
        fired: list[tuple[str, str]] = []
        props = props_for(prop.path, fired)
        props.start()
        chest = props.serial["chest"]
        await until(lambda: chest._transport is not None, "the port open")
        assert props.send("chest", "LIGHT ON") is None  # the board still resets: it waits
        got = b""

        def heard() -> bool:
            nonlocal got
            data = prop.read()
            if data:
                assert chest.ready, "a line was sent before the reset was waited out"
            got += data
            return got.endswith(b"\n")

        await until(heard, "the waiting line")
        assert got == b"LIGHT ON\n"
        assert props.presence == {"chest": "online"}
        prop.write(b"SOLVED\r\nhello from the sketch\nLI")
        prop.write(b"D\n")
        await until(lambda: len(fired) == 2, "two events")
        assert fired == [("event:chest-solved", "serial chest"), ("input:lid", "serial chest")]
        assert props.send("chest", "OPEN") is None
        await until(lambda: (got := prop.read()) and got == b"OPEN\n", "the line sent")
        assert props.lines() == {
            "chest": {"sent": 2, "received": 3, "fired": 2, "ignored": 1},
        }
        await props.close()
        prop.unplug()

    asyncio.run(main())


def test_a_port_that_vanishes_is_said_once_tried_again_and_taken_up_when_back(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        prop = Prop(tmp_path / "usb-Arduino_chest-if00")
        fired: list[tuple[str, str]] = []
        props = props_for(prop.path, fired, reset_wait=0.0)
        with capture_logs() as logs:
            props.start()
            await until(lambda: props.presence["chest"] == "online", "online")
            prop.unplug()
            await until(lambda: props.presence["chest"] == "offline", "offline")
            why = props.send("chest", "OPEN")
            assert why is not None
            assert why.endswith("is not open")
            await asyncio.sleep(1.0)  # five attempts to open the vanished port
            prop.plug()
            await until(lambda: props.presence["chest"] == "online", "back online")
            prop.write(b"SOLVED\n")
            await until(lambda: fired == [("event:chest-solved", "serial chest")], "an event")
            await props.close()
        said = [(e["event"], e["log_level"]) for e in logs if e["event"].startswith("prop_")]
        assert said == [
            ("prop_online", "info"),
            ("prop_offline", "warning"),
            ("prop_online", "info"),
        ]
        prop.unplug()

    asyncio.run(main())


def test_a_prop_missing_at_start_is_offline_and_the_rest_goes_on(tmp_path: Path) -> None:
    async def main() -> None:
        fired: list[tuple[str, str]] = []
        props = props_for(tmp_path / "usb-nothing-if00", fired)
        with capture_logs() as logs:
            props.start()
            await asyncio.sleep(0.7)
            await props.close()
        assert props.presence == {"chest": "offline"}
        offline = [e for e in logs if e["event"] == "prop_offline"]
        assert len(offline) == 1
        assert "cannot be opened" in offline[0]["why"]

    asyncio.run(main())


def test_a_chattering_prop_is_read_whole_and_only_its_events_fire(tmp_path: Path) -> None:
    """A prop that sends 2000 lines as fast as the pty takes them (its sensor readings) with
    an event among them: every line is read and counted, the one event fires once."""

    async def main() -> None:
        prop = Prop(tmp_path / "usb-Arduino_chest-if00")
        fired: list[tuple[str, str]] = []
        props = props_for(prop.path, fired, reset_wait=0.0)
        props.start()
        chest = props.serial["chest"]
        await until(lambda: chest.ready, "ready")
        lines = [f"A0={i % 1024}\n".encode() for i in range(2000)]
        lines[1000] = b"SOLVED\n"
        for start in range(0, 2000, 50):
            prop.write(b"".join(lines[start : start + 50]))
            await asyncio.sleep(0.002)
        await until(lambda: chest.counts["received"] == 2000, "every line")
        assert fired == [("event:chest-solved", "serial chest")]
        assert chest.counts["ignored"] == 1999
        await props.close()
        prop.unplug()

    asyncio.run(main())


def test_presence_on_mqtt_follows_the_last_will() -> None:
    props = Props({"chest": PropSettings(presence="room1/chest/status")})
    with capture_logs() as logs:
        props.heard("room1/chest/status", b"online")
        props.heard("room1/chest/status", b"ONLINE")  # the same: not said again
        props.heard("room1/chest/status", b"offline")
        props.heard("room1/chest/status", b"")
    assert [e["event"] for e in logs] == ["prop_online", "prop_offline"]
    assert props.presence == {"chest": "offline"}
    assert props.lines() == {}  # on MQTT alone: no serial lines


def test_the_status_says_each_prop_s_presence_and_a_serial_prop_s_lines(tmp_path: Path) -> None:
    async def main() -> None:
        fired: list[tuple[str, str]] = []
        props = props_for(tmp_path / "usb-nothing-if00", fired)
        async with Room(loader.load(ROOT / "shows" / "escape-room.yaml")) as room:
            room.controller.props = props
            props.serial["chest"].data_received(b"SOLVED\nnoise\n")
            status = room.controller.status()
            assert status["props"] == {"chest": "unknown"}
            assert status["prop_lines"] == {"chest": {"received": 2, "fired": 1, "ignored": 1}}
            assert "prop_lines" not in room.controller.summary()  # MQTT's state: no churn

    asyncio.run(main())
