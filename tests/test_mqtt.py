"""The MQTT surface against a real broker (mosquitto on a free loopback port): events in, state
and presence out, a broker that goes away mid-show, and input that must change nothing.

The controller runs on the Room's fake clock; the network runs in real time, so every wait on
it is a bounded poll for a condition.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion
from structlog.testing import capture_logs

from showctl.clock import Clock, FakeClock
from showctl.health import HealthMonitor
from showctl.room.messages import Messages
from showctl.room.props import Props
from showctl.settings import HealthSettings, MqttSettings, PropSettings
from showctl.show import loader, model
from showctl.surfaces.mqtt import MAX_PAYLOAD, MqttSurface
from showctl.testing import write_wav
from tests.harness.broker import HOST, Broker, Listener, free_port, retained, running_broker
from tests.harness.room import Room, play

BASE = "room1/showctl"
STATE, ONLINE, TRIGGER = f"{BASE}/state", f"{BASE}/online", f"{BASE}/trigger"
OUTCOME = f"{BASE}/outcome"
#: Topics of the settings' [mqtt.events].
EVENTS = {"room1/props/chest": "chest-opened", "room1/props/button": "input:button"}
#: How long the network may take for one step (s); a reconnect waits out paho's backoff.
NETWORK = 10.0
RECONNECT = 15.0

SHOW = """\
version: 1
initial: a
media: media
outputs:
  left: {device: "hw:CARD=a"}
inputs:
  button: {line: 3}
flags: [pressed]
scenes:
  a:
    audio: {left: {clip: tone.wav, loop: true}}
    on_enter: [{clear: pressed}]
    transitions:
      - {input: button, do: {set: pressed}}
      - {event: go, when: pressed, to: b}
  b:
    audio: {left: {clip: tone.wav, loop: true}}
    transitions:
      - {event: chest-opened, to: c}
      - {event: back, to: a}
  c:
    audio: {left: {clip: tone.wav, loop: true}}
    transitions:
      - {event: back, to: a}
"""


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with running_broker(tmp_path / "broker") as running:
        yield running


@pytest.fixture
def room_show(tmp_path: Path) -> model.Show:
    write_wav(tmp_path / "media" / "tone.wav", seconds=1.0)
    path = tmp_path / "room.yaml"
    path.write_text(SHOW)
    return loader.load(path)


@asynccontextmanager
async def surface(
    room: Room,
    broker: Broker,
    *,
    clock: Clock | None = None,
    **settings_: Any,
) -> AsyncIterator[MqttSurface]:
    """A started surface for the room's controller (``settings_``: other settings than the
    test broker's), closed at the end."""
    settings = MqttSettings(
        **{
            "host": broker.host,
            "port": broker.port,
            "client_id": f"showctl-test-{uuid.uuid4().hex[:8]}",
            "base": BASE,
            "events": MappingProxyType(EVENTS),
            **settings_,
        }
    )
    mqtt = MqttSurface(settings, room.controller, clock=clock)
    mqtt.start()
    try:
        yield mqtt
    finally:
        await mqtt.close()


async def until(
    room: Room, condition: Callable[[], object], what: str, timeout: float = NETWORK
) -> None:
    """Let the loop run (and the room take its triggers) until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        await asyncio.sleep(0.01)
        await room.settle()


def payload(listener: Listener, topic: str) -> Any:
    """The last payload the listener got on ``topic`` (the state decoded), or ``None``."""
    got = listener.last(topic)
    return None if got is None else json.loads(got.payload) if topic == STATE else got.payload


def summary(room: Room) -> Any:
    """The controller's summary as a client decodes it."""
    return json.loads(json.dumps(room.controller.summary()))


async def publish(listener: Listener, topic: str, data: str | bytes = b"", **kw: bool) -> None:
    """Publish (QoS 1) without holding up the loop; returns once the broker has it."""
    await asyncio.to_thread(listener.publish, topic, data, **kw)


async def connected(room: Room, listener: Listener) -> None:
    """Until the surface is online and has published the state (so it is subscribed too)."""
    await until(
        room,
        lambda: payload(listener, ONLINE) == b"online" and payload(listener, STATE) is not None,
        "the surface online with its state",
    )


class BrokerOfMqtt3:
    """A stand-in for a broker that speaks MQTT 3.1.1 only (mosquitto before 1.6), on a free
    loopback port: it answers a CONNECT of any other protocol level as mosquitto 1.x does (MQTT
    3.1.1's CONNACK with return code 1, "unacceptable protocol version") and closes the
    connection; it accepts a 3.1.1 CONNECT and does nothing more. :attr:`levels` holds the
    protocol level of every CONNECT it got, in order. A context manager."""

    def __init__(self) -> None:
        self.levels: list[int] = []
        self._server = socket.create_server((HOST, 0))
        self._server.settimeout(0.1)
        self.port: int = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="mqtt3-broker")

    def __enter__(self) -> BrokerOfMqtt3:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._server.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5.0)
                # Fixed header (0x10, the remaining length in 1 byte: a CONNECT this small),
                # then the protocol name (length 4, "MQTT") and the protocol level.
                head = b""
                while len(head) < 9:
                    chunk = connection.recv(9 - len(head))
                    if not chunk:
                        break
                    head += chunk
                if len(head) < 9 or head[0] != 0x10 or head[2:8] != b"\x00\x04MQTT":
                    continue
                self.levels.append(head[8])
                accepted = head[8] == 4
                connection.sendall(bytes([0x20, 0x02, 0x00, 0x00 if accepted else 0x01]))
                while accepted and not self._stop.is_set():
                    try:
                        if not connection.recv(1024):
                            break
                    except TimeoutError:
                        continue


def test_events_through_the_broker_move_the_show_and_the_state_is_published(
    room_show, broker
) -> None:
    """BASE/input/NAME, BASE/event/NAME, BASE/trigger with JSON and the settings' own topics
    each fire on the show; BASE/state follows every change, retained, and only when it does
    change."""

    async def body(room: Room) -> None:
        with Listener(broker, f"{BASE}/#") as listener:
            async with surface(room, broker):
                await connected(room, listener)
                assert payload(listener, STATE) == summary(room)

                await publish(listener, f"{BASE}/input/button")
                await until(room, lambda: room.flags == {"pressed"}, "input:button fired")
                await publish(listener, f"{BASE}/event/go")
                await until(room, lambda: room.scene == "b", "event go fired")
                await publish(listener, TRIGGER, json.dumps({"event": "back"}))
                await until(room, lambda: room.scene == "a", "back fired by JSON")
                await publish(listener, "room1/props/button")  # input:button, configured
                await until(room, lambda: room.flags == {"pressed"}, "the configured input")
                await publish(listener, TRIGGER, json.dumps({"input": "button"}))
                await publish(listener, f"{BASE}/event/go")
                await until(room, lambda: room.scene == "b", "go again")
                await publish(listener, "room1/props/chest")  # chest-opened, configured
                await until(room, lambda: room.scene == "c", "the configured event")
                await until(
                    room, lambda: payload(listener, STATE) == summary(room), "the state published"
                )
                scenes = [json.loads(m.payload)["scene"] for m in listener.on(STATE)]
                assert scenes == ["a", "a", "b", "a", "a", "b", "c"]  # flags changed in a twice

                # Changes that leave the summary as it was publish nothing; the next real one
                # does (and marks where the broker's stream is).
                before = len(listener.on(STATE))
                for _ in range(3):
                    room.controller.changed()
                await publish(listener, f"{BASE}/event/back")
                await until(
                    room,
                    lambda: room.scene == "a" and payload(listener, STATE) == summary(room),
                    "back, published",
                )
                assert len(listener.on(STATE)) == before + 1

                kept = await asyncio.to_thread(retained, broker, STATE)
                assert kept is not None
                assert kept.retain
                assert json.loads(kept.payload) == summary(room)

    play(room_show, body)


def test_every_command_of_the_vocabulary_runs_from_its_topic(room_show, broker) -> None:
    """BASE/command/NAME runs any command, its payload the arguments, and BASE/answer says
    what it did: the status, or the refusal with its kind."""
    sent = [
        ("goto", {"scene": "b"}),
        ("pause", None),
        ("resume", None),
        ("go", {}),  # b's first transition with a "to" is c
        ("goto", {"scene": "nowhere"}),
        ("explode", None),
        ("status", None),
    ]
    answer = f"{BASE}/answer"

    async def body(room: Room) -> list[dict[str, Any]]:
        with Listener(broker, f"{BASE}/#") as listener:
            async with surface(room, broker):
                await connected(room, listener)
                for i, (name, args) in enumerate(sent, start=1):
                    data = b"" if args is None else json.dumps(args).encode()
                    await publish(listener, f"{BASE}/command/{name}", data)
                    await until(room, lambda i=i: len(listener.on(answer)) == i, f"answer {i}")
            return [json.loads(m.payload) for m in listener.on(answer)]

    async def run(room: Room) -> None:
        got = await body(room)
        assert [(a["command"], a["ok"], a.get("refused")) for a in got] == [
            ("goto", True, None),
            ("pause", True, None),
            ("resume", True, None),
            ("go", True, None),
            ("goto", False, "unknown_name"),
            ("explode", False, "unknown_command"),
            ("status", True, None),
        ]
        assert [a.get("scene") for a in got] == ["b", "b", "b", "c", None, None, "c"]
        assert [a.get("paused") for a in got[:3]] == [False, True, False]
        assert got[0]["topic"] == f"{BASE}/command/goto"

    play(room_show, run)


def test_every_message_on_a_trigger_topic_gets_its_outcome(room_show, broker) -> None:
    """BASE/outcome answers each message once handled, not retained: the topic, the trigger,
    whether it moved the show and, if not, why not: a condition that did not hold, a scene
    that does not take it, a name the show does not have, a message that is not JSON."""
    sent = [
        (f"{BASE}/event/go", b""),  # needs the flag pressed
        ("room1/props/chest", b""),  # chest-opened: scene a does not take it
        (f"{BASE}/event/nonsense", b""),
        (TRIGGER, b"{"),
        (f"{BASE}/input/button", b""),  # sets pressed
        (TRIGGER, json.dumps({"event": "go"}).encode()),  # to b
    ]

    async def body(room: Room) -> None:
        with Listener(broker, f"{BASE}/#") as listener:
            async with surface(room, broker):
                await connected(room, listener)
                for i, (topic, data) in enumerate(sent, start=1):
                    await publish(listener, topic, data)
                    await until(room, lambda i=i: len(listener.on(OUTCOME)) == i, f"outcome {i}")
                assert room.scene == "b"
            got = [json.loads(m.payload) for m in listener.on(OUTCOME)]
        assert [(o["topic"], o["trigger"], o["moved"]) for o in got] == [
            (f"{BASE}/event/go", "event:go", False),
            ("room1/props/chest", "event:chest-opened", False),
            (f"{BASE}/event/nonsense", "event:nonsense", False),
            (TRIGGER, None, False),
            (f"{BASE}/input/button", "input:button", True),
            (TRIGGER, "event:go", True),
        ]
        whys = [o["why"] for o in got]
        assert "pressed" in whys[0]
        assert "does not take" in whys[1]
        assert (
            whys[2] == "the show has no event or input 'nonsense'; it has: back, chest-opened, go, "
            "input:button"
        )
        assert whys[3].startswith("the message is not a JSON object;")
        assert whys[4:] == [None, None]
        assert await asyncio.to_thread(retained, broker, OUTCOME) is None

    play(room_show, body)


def test_presence_is_online_while_connected_and_offline_after_a_crash_or_close(
    room_show, broker
) -> None:
    """BASE/online is "online" (retained) while connected; the last will says "offline" when
    the connection dies without a goodbye, the surface comes back online by itself, and close()
    leaves "offline" retained."""

    async def body(room: Room) -> None:
        with Listener(broker, ONLINE) as listener, capture_logs() as logs:
            async with surface(room, broker) as mqtt:
                await until(room, lambda: payload(listener, ONLINE) == b"online", "online")
                kept = await asyncio.to_thread(retained, broker, ONLINE)
                assert kept is not None
                assert (kept.payload, kept.retain) == (b"online", True)

                # The network goes without an MQTT DISCONNECT: only the will can tell.
                connection = mqtt._client.socket() if mqtt._client else None
                assert isinstance(connection, socket.socket)
                connection.shutdown(socket.SHUT_RDWR)
                await until(
                    room,
                    lambda: (
                        [m.payload for m in listener.on(ONLINE)][-2:] == [b"offline", b"online"]
                    ),
                    "the will, then online again",
                    timeout=RECONNECT,
                )
            await mqtt.close()  # again: nothing happens
            await until(room, lambda: payload(listener, ONLINE) == b"offline", "offline")
        kept = await asyncio.to_thread(retained, broker, ONLINE)
        assert kept is not None
        assert (kept.payload, kept.retain) == (b"offline", True)
        events = [e["event"] for e in logs if e["event"].startswith("mqtt_")]
        assert events == [
            "mqtt_connecting",
            "mqtt_connected",
            "mqtt_disconnected",
            "mqtt_connected",
            "mqtt_closed",
        ]

    play(room_show, body)


def test_the_show_goes_on_while_the_broker_is_away_and_the_state_is_republished_after(
    room_show, broker
) -> None:
    """With the broker stopped mid-show, the show still moves and nothing waits; the broker
    gone is logged once however many attempts fail; started again on the same port (with
    nothing retained), the surface reconnects, republishes the state it reached meanwhile, and
    takes events again."""

    async def body(room: Room) -> None:
        with capture_logs() as logs:
            async with surface(room, broker) as mqtt:
                with Listener(broker, f"{BASE}/#") as listener:
                    await connected(room, listener)
                await asyncio.to_thread(broker.stop)
                await until(room, lambda: mqtt.counts["unreachable"] >= 2, "two failed attempts")
                await asyncio.wait_for(room.controller.goto("b"), 1.0)
                answer = await asyncio.wait_for(room.controller.trigger("chest-opened"), 1.0)
                assert (answer["ok"], room.scene) == (True, "c")

                await asyncio.to_thread(broker.start)
                with Listener(broker, f"{BASE}/#") as listener:
                    await until(
                        room,
                        lambda: (
                            payload(listener, STATE) == summary(room)
                            and payload(listener, ONLINE) == b"online"
                        ),
                        "the state republished after the broker came back",
                        timeout=RECONNECT,
                    )
                    kept = await asyncio.to_thread(retained, broker, STATE)
                    assert kept is not None
                    assert kept.retain
                    assert json.loads(kept.payload)["scene"] == "c"

                    await publish(listener, f"{BASE}/event/back")
                    await until(room, lambda: room.scene == "a", "events through the broker")
        counted = {
            name: sum(1 for e in logs if e["event"] == name)
            for name in ("mqtt_connected", "mqtt_disconnected", "mqtt_unreachable")
        }
        assert counted == {"mqtt_connected": 2, "mqtt_disconnected": 1, "mqtt_unreachable": 1}

    play(room_show, body)


def test_an_unreachable_broker_holds_up_nothing(room_show, broker) -> None:
    """With nobody listening at the broker's address, start() returns, the show moves, the
    failure is logged once, and close() ends it without a word of complaint."""

    async def body(room: Room) -> None:
        with capture_logs() as logs:
            async with surface(room, broker, port=free_port()) as mqtt:
                await until(room, lambda: mqtt.counts["unreachable"] >= 1, "an attempt failed")
                await asyncio.wait_for(room.controller.goto("b"), 1.0)
                assert room.scene == "b"
        warnings = [e for e in logs if e["log_level"] in ("warning", "error")]
        assert [e["event"] for e in warnings] == ["mqtt_unreachable"]
        assert "mqtt.host and mqtt.port" in warnings[0]["error"]

    play(room_show, body)


def test_bad_input_changes_nothing_is_logged_once_a_second_and_the_surface_goes_on(
    room_show, broker
) -> None:
    """Malformed JSON, a JSON array, an object naming nothing known, an unknown event, an
    oversize payload and a retained trigger each change nothing and get one
    mqtt_message_refused line; a flood on one topic gets one line a second with the count of
    the rest; a good event works afterwards."""
    clock = FakeClock(0.0)

    async def body(room: Room) -> None:
        await room.press("button")  # so that "go" would move the show, if it were fired
        with Listener(broker, f"{BASE}/#") as listener, capture_logs() as logs:
            # Retained before showctl connects: delivered on subscribing, with the retain flag.
            await publish(listener, f"{BASE}/event/go", b"1", retain=True)  # (empty: cleared)
            async with surface(room, broker, clock=clock) as mqtt:
                await connected(room, listener)
                await until(room, lambda: mqtt.counts["refused"] == 1, "the retained one")
                bad = [
                    (TRIGGER, b"{not json"),
                    (TRIGGER, b'["go"]'),
                    (TRIGGER, b'{"event": "go", "input": "button"}'),
                    (TRIGGER, b'{"event": "nonsense"}'),
                    (f"{BASE}/event/nonsense", b""),
                    (f"{BASE}/event/go", b"x" * (MAX_PAYLOAD + 1)),
                ]
                for i, (topic, data) in enumerate(bad, start=2):
                    clock.advance(1.1)  # a new second: each gets its line
                    await publish(listener, topic, data)
                    await until(room, lambda i=i: mqtt.counts["refused"] == i, f"refusal {i}")

                for _ in range(20):
                    await publish(listener, TRIGGER, b"{")
                await until(room, lambda: mqtt.counts["refused"] == 1 + len(bad) + 20, "flood")
                clock.advance(1.1)
                await publish(listener, TRIGGER, b"{")
                await until(room, lambda: mqtt.counts["refused"] == 1 + len(bad) + 21, "the last")
                assert (room.scene, room.flags, mqtt.counts["fired"]) == ("a", {"pressed"}, 0)

                await publish(listener, f"{BASE}/event/go")
                await until(room, lambda: room.scene == "b", "a good event afterwards")

        refused = [e for e in logs if e["event"] == "mqtt_message_refused"]
        assert [e["topic"] for e in refused] == [
            f"{BASE}/event/go",
            *(topic for topic, _ in bad),
            TRIGGER,
            TRIGGER,
        ]
        errors = [e["error"] for e in refused]
        for error, words in zip(
            errors,
            [
                "retain flag",
                "not a JSON object",
                "not a JSON object",
                "no event or input, or both",
                "no event or input 'nonsense'",
                "no event or input 'nonsense'",
                "over the limit",
            ],
            strict=False,
        ):
            assert words in error
            assert "\n" not in error
        assert [e.get("not_logged") for e in refused[-2:]] == [None, 19]
        fired = [e["trigger"] for e in logs if e["event"] == "trigger_fired"]
        assert fired == ["event:go"]  # the good one alone

    play(room_show, body)


def test_a_retained_message_is_refused_whenever_it_arrives(room_show, broker) -> None:
    """A prop that publishes its trigger with the retain flag while showctl is connected gets
    it refused, as at a (re)connect: nothing fires, and a mqtt_message_refused line per topic
    says to publish without the flag and to clear it. Clearing it (an empty retained message)
    fires nothing and is not refused; the trigger published without the flag then fires."""
    topics = {
        f"{BASE}/event/go": b"",
        TRIGGER: json.dumps({"event": "go"}).encode(),
        "room1/props/chest": b"open",
    }

    async def body(room: Room) -> None:
        await room.press("button")  # so that "go" would move the show, if it were fired
        with Listener(broker, f"{BASE}/#") as listener, capture_logs() as logs:
            async with surface(room, broker) as mqtt:
                await connected(room, listener)
                for topic, data in topics.items():
                    await publish(listener, topic, data or b"1", retain=True)
                await until(room, lambda: mqtt.counts["refused"] == len(topics), "refused")
                for topic in topics:
                    await publish(listener, topic, b"", retain=True)  # cleared
                await publish(listener, f"{BASE}/event/go")
                await until(room, lambda: room.scene == "b", "go without the flag")
                assert (mqtt.counts["refused"], mqtt.counts["fired"]) == (len(topics), 1)

        refused = [e for e in logs if e["event"] == "mqtt_message_refused"]
        assert [e["topic"] for e in refused] == list(topics)
        assert all("publish triggers without the retain flag" in e["error"] for e in refused)
        fired = [e["trigger"] for e in logs if e["event"] == "trigger_fired"]
        assert fired == ["event:go"]  # the one without the flag

    play(room_show, body)


def test_a_broker_without_mqtt_5_is_named_once_with_the_fix(room_show, broker) -> None:
    """A broker that speaks MQTT 3.1.1 only refuses MQTT 5's CONNECT: showctl does not fall back
    to 3.1.1 (where a retained message cannot be told from a trigger), says once that the
    broker does not speak MQTT 5 and to upgrade it, keeps trying (an upgraded broker is found),
    and the show goes on."""

    async def body(room: Room) -> None:
        with BrokerOfMqtt3() as old, capture_logs() as logs:
            async with surface(room, broker, port=old.port):
                await until(room, lambda: len(old.levels) >= 2, "tried again", RECONNECT)
                await asyncio.wait_for(room.controller.goto("b"), 1.0)
                assert room.scene == "b"
        assert set(old.levels) == {5}
        warnings = [e for e in logs if e["log_level"] in ("warning", "error")]
        assert [e["event"] for e in warnings] == ["mqtt_refused"]
        assert warnings[0]["error"] == (
            f"the broker at {HOST}:{old.port} does not speak MQTT 5, which showctl needs to "
            "tell a retained message from a trigger; upgrade the broker (mosquitto 1.6 or "
            "later: Debian 11 and Raspberry Pi OS 11 and later have 2.0)"
        )

    play(room_show, body)


def test_the_settings_credentials_are_used_and_a_refusal_is_logged_once(
    room_show, tmp_path
) -> None:
    """Against a broker that wants a password, the settings' username and password get the
    surface in; a wrong password gets one mqtt_refused line naming the settings to check,
    and the show goes on."""

    async def body(room: Room) -> None:
        with running_broker(tmp_path / "private", users={"showctl": "s3cret"}) as broker:
            with Listener(broker, f"{BASE}/#", user="showctl") as listener:
                async with surface(room, broker, username="showctl", password="s3cret"):
                    await connected(room, listener)
            with capture_logs() as logs:
                async with surface(room, broker, username="showctl", password="wrong"):
                    await until(
                        room, lambda: any(e["event"] == "mqtt_refused" for e in logs), "refused"
                    )
                    await asyncio.wait_for(room.controller.goto("b"), 1.0)
                    assert room.scene == "b"
        refusals = [e for e in logs if e["event"] in ("mqtt_refused", "mqtt_connected")]
        assert [e["event"] for e in refusals] == ["mqtt_refused"]
        assert "mqtt.username, mqtt.password" in refusals[0]["error"]

    play(room_show, body)


def test_tls_with_the_settings_ca_connects_and_without_it_is_refused(room_show, tmp_path) -> None:
    """A broker that speaks TLS only, its certificate signed by a CA of its own: with that CA
    as mqtt.ca_file the surface connects and takes events; trusting only the system's CAs it
    cannot, says so once, and the show goes on."""

    async def body(room: Room) -> None:
        with running_broker(tmp_path / "tls", tls=True) as broker:
            with Listener(broker, f"{BASE}/#") as listener:
                async with surface(room, broker, tls=True, ca_file=str(broker.ca)):
                    await connected(room, listener)
                    listener.publish(f"{BASE}/input/button")
                    listener.publish(f"{BASE}/event/go")
                    await until(room, lambda: room.scene == "b", "the events over TLS")
            with capture_logs() as logs:
                async with surface(room, broker, tls=True):
                    await until(
                        room,
                        lambda: any(e["event"] == "mqtt_unreachable" for e in logs),
                        "the certificate refused",
                    )
                    assert (await room.controller.goto("a"))["scene"] == "a"
        assert not [e for e in logs if e["event"] == "mqtt_connected"]

    play(room_show, body)


PUBLISHING = """\
version: 1
initial: a
inputs:
  button: {line: 3}
scenes:
  a:
    transitions:
      - input: button
        do: {publish: room1/props/chest/command, payload: open, qos: 1}
"""


def test_the_show_s_publish_reaches_a_prop_and_a_broker_away_is_said_once(
    tmp_path: Path, broker: Broker
) -> None:
    """A button's transition publishes to the chest's topic through mosquitto; with the broker
    stopped, presses are counted as failed and said once; back, the next press goes out and
    the log says the target is back, with the count."""
    path = tmp_path / "chest.yaml"
    path.write_text(PUBLISHING)
    show_ = loader.load(path)
    chest = "room1/props/chest/command"

    async def main() -> None:
        messages = Messages({})
        async with Room(show_, messages=messages) as room:
            with capture_logs() as logs:
                async with surface(room, broker) as mqtt:
                    messages.mqtt = mqtt.publish
                    with Listener(broker, "room1/props/#") as prop:
                        await until(room, lambda: mqtt.connected, "connected")
                        await room.press("button")
                        await until(room, lambda: len(prop.on(chest)) == 1, "the chest told")
                        assert prop.on(chest)[0].payload == b"open"
                    await asyncio.to_thread(broker.stop)
                    await until(room, lambda: not mqtt.connected, "the broker gone")
                    for _ in range(3):
                        await room.press("button")
                    assert messages.failed["mqtt"] == 3
                    await asyncio.to_thread(broker.start)
                    with Listener(broker, "room1/props/#") as prop:
                        await until(room, lambda: mqtt.connected, "back", RECONNECT)
                        await room.press("button")
                        await until(room, lambda: len(prop.on(chest)) == 1, "told again")
        said = [(e["event"], e.get("failed")) for e in logs if e["event"].startswith("message_")]
        assert said == [("message_failed", None), ("message_target_back", 3)]

    asyncio.run(main())


def test_a_prop_s_presence_follows_its_last_will(room_show, broker) -> None:
    """A prop (a paho client of its own) says online (retained) with a last will of offline;
    its connection dropped without a goodbye, the broker publishes the will and the status
    says offline; the change is logged once each way."""
    topic = "room1/props/chest/status"

    async def body(room: Room) -> None:
        props = Props({"chest": PropSettings(presence=topic)})
        room.controller.props = props
        props.on_change = room.controller.changed
        chest = Client(CallbackAPIVersion.VERSION2, client_id=f"chest-{uuid.uuid4().hex[:8]}")
        chest.will_set(topic, "offline", qos=1, retain=True)
        chest.connect(broker.host, broker.port)
        chest.loop_start()
        chest.publish(topic, "online", qos=1, retain=True).wait_for_publish(NETWORK)
        with capture_logs() as logs:
            async with surface(room, broker):
                await until(
                    room, lambda: room.controller.status()["props"] == {"chest": "online"}, "online"
                )
                chest.loop_stop()
                sock = chest.socket()
                assert sock is not None
                sock.close()  # gone without a DISCONNECT: the broker sends the will
                await until(
                    room,
                    lambda: room.controller.status()["props"] == {"chest": "offline"},
                    "the will",
                    timeout=RECONNECT,
                )
        assert [e["event"] for e in logs if e["event"].startswith("prop_")] == [
            "prop_online",
            "prop_offline",
        ]

    play(room_show, body)


def test_a_game_clock_is_published_retained_at_each_change_and_each_second(
    tmp_path: Path, broker
) -> None:
    """BASE/clock/NAME: stopped at its length at first, then each whole second as it counts
    (the controller's fake clock moved on; the surface's ticker runs in real time), and at once
    when the game master bends it; retained, for a display that comes later."""
    write_wav(tmp_path / "media" / "tone.wav", seconds=1.0)
    path = tmp_path / "clocked.yaml"
    path.write_text(
        SHOW.replace("flags: [pressed]", "flags: [pressed]\nclocks:\n  game: {length: 1h}")
        + "      - {event: game-end, to: a}\n"
    )
    topic = f"{BASE}/clock/game"

    def shown(listener: Listener) -> Any:
        got = listener.last(topic)
        return None if got is None else json.loads(got.payload)

    async def body(room: Room) -> None:
        with Listener(broker, f"{BASE}/#") as listener:
            async with surface(room, broker):
                await connected(room, listener)
                await until(room, lambda: shown(listener) is not None, "the clock published")
                assert shown(listener) == {"left": 3600, "running": False, "text": "60:00"}
                await room.controller.start_clock("game")
                await until(room, lambda: shown(listener)["running"], "started, published")
                await room.wait(1.5)  # the fake clock: 3598.5 s left
                await until(room, lambda: shown(listener)["left"] == 3599, "the next second")
                assert shown(listener)["text"] == "59:59"
                await room.controller.add_time("game", "-59min")
                await until(room, lambda: shown(listener)["left"] == 59, "bent, published")
                assert shown(listener) == {"left": 59, "running": True, "text": "00:59"}
                kept = await asyncio.to_thread(retained, broker, topic)
                assert kept is not None
                assert json.loads(kept.payload)["left"] == 59

    play(loader.load(path), body)


def test_hints_are_published_retained_and_one_given_while_the_broker_is_away_follows(
    tmp_path: Path, broker
) -> None:
    """BASE/hint: none before the first; each hint given at once, retained for a screen that
    comes later; one given while the broker is away is logged, kept by the controller (the
    page shows it), and published once the broker is back."""
    write_wav(tmp_path / "media" / "tone.wav", seconds=1.0)
    path = tmp_path / "hinted.yaml"
    path.write_text(
        SHOW.replace("flags: [pressed]", "flags: [pressed]\nhints:\n  map: {text: Upside down.}")
    )
    topic = f"{BASE}/hint"

    def shown(listener: Listener) -> Any:
        got = listener.last(topic)
        return None if got is None else json.loads(got.payload)

    async def body(room: Room) -> None:
        with capture_logs() as logs:
            async with surface(room, broker) as mqtt:
                with Listener(broker, f"{BASE}/#") as listener:
                    await connected(room, listener)
                    await until(room, lambda: shown(listener) is not None, "none yet, published")
                    assert shown(listener) == {"name": None, "text": "", "count": 0, "at": None}
                    await room.controller.hint("map")
                    await until(room, lambda: shown(listener)["count"] == 1, "the hint")
                    assert shown(listener)["text"] == "Upside down."
                await asyncio.to_thread(broker.stop)
                await until(room, lambda: not mqtt.connected, "the broker gone")
                answer = await asyncio.wait_for(room.controller.hint_text("Try the lever."), 1.0)
                assert answer["ok"]
                assert answer["hints"][-1]["text"] == "Try the lever.", "kept for the page"
                await asyncio.to_thread(broker.start)
                with Listener(broker, f"{BASE}/#") as listener:
                    await until(
                        room,
                        lambda: (shown(listener) or {}).get("count") == 2,
                        "the hint published once the broker was back",
                        timeout=RECONNECT,
                    )
                    assert shown(listener)["text"] == "Try the lever."
                kept = await asyncio.to_thread(retained, broker, topic)
                assert kept is not None
                assert json.loads(kept.payload)["name"] is None
        held = [e for e in logs if e["event"] == "hint_not_published"]
        assert [e["count"] for e in held] == [2]

    play(loader.load(path), body)


def test_the_box_s_health_is_published_retained_and_again_once_the_broker_is_back(
    room_show, broker, tmp_path: Path
) -> None:
    """BASE/health: each report the health monitor makes (here a problem: an output failed),
    retained for a dashboard that subscribes later, and the latest published again when the
    broker comes back."""
    topic = f"{BASE}/health"

    async def body(room: Room) -> None:
        health = HealthMonitor(
            HealthSettings(),
            room.controller.status,
            room.wall,
            room.clock.monotonic,
            room.clock.sleep,
            tmp_path,
        )
        room.controller.health = health
        async with surface(room, broker) as mqtt:
            health.on_send.append(mqtt.publish_health)
            with Listener(broker, f"{BASE}/#") as listener:
                await connected(room, listener)
                room.outputs.fail("left", "its card is gone")
                await health.look()
                await until(room, lambda: listener.last(topic) is not None, "the report")
                report = json.loads(listener.last(topic).payload)
                assert (report["ok"], report["outputs"]) == (False, {"ok": 0, "total": 1})
                assert room.controller.status()["health"] == report
            await asyncio.to_thread(broker.stop)
            await until(room, lambda: not mqtt.connected, "the broker gone")
            await asyncio.to_thread(broker.start)
            with Listener(broker, f"{BASE}/#") as listener:
                await until(room, lambda: mqtt.connected, "back", timeout=RECONNECT)
            kept = await asyncio.to_thread(retained, broker, topic)
            assert kept is not None
            assert json.loads(kept.payload)["findings"][1]["state"] == "problem"

    play(room_show, body)
