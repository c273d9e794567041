"""The MQTT surface: escape-room props and panels fire the show's events through a broker,
and see where the show is.

Topics, below ``BASE`` (the settings' ``mqtt.base``, by default ``showctl``):

- ``BASE/event/NAME`` fires the event ``NAME``, ``BASE/input/NAME`` the input ``NAME`` (as if
  its GPIO line had fired); the payload is ignored;
- ``BASE/trigger`` takes a JSON object, ``{"event": "NAME"}`` or ``{"input": "NAME"}``;
- each topic of the settings' ``[mqtt.events]`` fires its event (``input:NAME``: an input);
- ``BASE/command/NAME`` runs the command ``NAME`` of :data:`showctl.commands.COMMANDS` (every
  one: ``status``, ``goto``, ``go``, ``reset``, ``pause``, ``resume``, ``reload``...) with the
  payload's JSON object as its arguments (``{"scene": "finale"}``; empty: none); the answer is
  published on ``BASE/answer`` (QoS 0, not retained) as ``{"topic", "command", ...answer}``: the
  status, or ``ok`` false with the ``error`` and its kind, ``refused``;
- ``BASE/state`` is published by showctl (retained, QoS 1): the show's summary as JSON (the
  show, scene, paused, flags, counters, fault and the outputs' health), whenever it changes and
  after every (re)connect;
- ``BASE/clock/NAME`` is published by showctl (retained, QoS 0) for each game clock of the show:
  ``{"left": whole seconds left, rounded up, "running": true|false, "text": "59:59"}``, when
  it changes, and every second as it counts (at the moment its whole seconds change), for an
  in-room display;
- ``BASE/hint`` is published by showctl (retained, QoS 1) for the players' screen: the latest
  hint given, ``{"name": the show's hint or null for one typed, "text", "count": hints given
  so far, "at": wall-clock seconds}``, and ``{"name": null, "text": "", "count": 0, "at":
  null}`` before the first (after a reset). A hint given while the broker is away is logged
  (``hint_not_published``) and published once it is back; the page shows it meanwhile;
- ``BASE/health`` is published by showctl (retained, QoS 1): the latest report of the box's
  health (:mod:`showctl.health`), every period and at once when a problem comes or goes;
- ``BASE/online`` is published by showctl (retained, QoS 1): ``online`` once connected, and
  ``offline`` when showctl stops. The last will says ``offline`` too, so the broker tells the
  room when showctl dies or its network goes;
- the show's ``publish`` actions go out on their own topics through the same connection
  (:meth:`MqttSurface.publish`);
- each prop's ``presence`` topic of the settings (``[props.NAME]``) says whether it is there: a
  last will of ``offline`` (or an empty message) means gone, anything else there, retained or
  not;
- ``BASE/outcome`` is published by showctl (QoS 0, not retained) for every message on a trigger
  topic, once handled: ``{"topic", "trigger", "moved", "why"}``, the topic it came on, the
  trigger it named (``event:NAME``, ``input:NAME``; ``null`` if none), whether it moved the
  show (a transition ran) and, if not, why not (the scene does not take it, its conditions did
  not hold, the show is paused, the message was refused). QoS 0: an answer for whoever listens
  now, which a flood of triggers cannot queue up in front of the state.

A message refused (malformed JSON, not an object, an unknown name, more than
:data:`MAX_PAYLOAD` bytes, or a retained one, which is old news rather than a trigger) changes
nothing and is logged (``mqtt_message_refused``), at most once a second per topic with the
count of the ones not logged; its outcome says why each time. A retained message is refused
whenever it comes, at a (re)connect and while connected alike: showctl speaks MQTT 5 and
subscribes with "retain as published" (under MQTT 3.1.1 a broker clears the flag on what it
forwards live). An empty retained message, the clearing of one, changes nothing and is neither
refused nor answered. Triggers go to the controller's queue, so a flood is dropped and counted
there rather than piling up.

A broker that does not speak MQTT 5 (mosquitto before 1.6) refuses the connection; that is
logged once (``mqtt_refused``) with the fix, upgrading the broker, and showctl keeps trying.

The show never waits for the broker: the connection runs on paho's thread, and when the broker
goes away (or was never there) showctl tries again, from 1 s up to every :data:`MAX_DELAY` s,
while the show goes on; publishing is skipped while disconnected, and the state is published
anew once connected again. Triggers published while showctl is away are lost, not replayed
later (a clean session). The broker going away is logged once, not at every attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import json
import math
import socket
from collections import Counter
from collections.abc import Callable
from typing import Any

import structlog
from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from showctl import commands
from showctl.clock import Clock, MonotonicClock
from showctl.commands import Answer
from showctl.controller import Outcome, ShowController
from showctl.errors import SettingsError
from showctl.log import Tally
from showctl.settings import MqttSettings

logger = structlog.get_logger()

#: The largest payload taken (bytes); a longer one is refused.
MAX_PAYLOAD = 4096
#: Commands from MQTT running at once, at most; more are refused until one ends.
MAX_COMMANDS = 16
#: Reconnection waits from MIN_DELAY, doubling up to MAX_DELAY (s).
MIN_DELAY = 1
MAX_DELAY = 30
#: Seconds between pings: a broker gone silent is noticed within 1.5 times this, and the broker
#: publishes the last will as soon after showctl went silent.
KEEPALIVE = 15
#: A game clock's whole second is published as changed this much before the exact moment (the
#: loop may wake a little early); its display is never later than the clock.
EARLY = 0.005
#: How long close() waits for the broker to take "offline" (s).
CLOSE_WAIT = 2.0
#: At most one log line a second for each topic's refused messages.
LOG_EVERY = 1.0
#: Topics whose last refusal is remembered, at most (then the ones older than LOG_EVERY go).
LOGGED_TOPICS = 1000
#: The CONNACK's reason "Unsupported protocol version": paho reads so the refusal of a broker
#: that speaks no MQTT 5 (MQTT 3.1.1's return code 1).
UNSUPPORTED_PROTOCOL = 0x84
#: How showctl subscribes: the broker keeps the retain flag of what it forwards, so that a
#: retained message is told from a trigger whenever it comes.
SUBSCRIBE = SubscribeOptions(qos=1, retainAsPublished=True)


class MqttSurface:
    """Fires the show's events from MQTT messages and publishes its state, for one controller.

    Call :meth:`start` and :meth:`close` on the event loop's thread. paho's callbacks run on
    paho's own thread and only hand what they got to the loop (``call_soon_threadsafe``);
    everything else, the controller included, is touched on the loop's thread.
    :attr:`counts` holds the messages ``fired`` and ``refused`` so far, and the attempts to
    connect that found the broker ``unreachable``.
    """

    def __init__(
        self,
        settings: MqttSettings,
        controller: ShowController,
        *,
        clock: Clock | None = None,
    ) -> None:
        """``clock`` paces the log lines of refused messages (seconds)."""
        self.settings = settings
        self.controller = controller
        self.counts: Counter[str] = Counter()
        base = settings.base
        self.topics = {
            "event": f"{base}/event/",
            "input": f"{base}/input/",
            "trigger": f"{base}/trigger",
            "state": f"{base}/state",
            "online": f"{base}/online",
            "outcome": f"{base}/outcome",
            "command": f"{base}/command/",
            "answer": f"{base}/answer",
            "clock": f"{base}/clock/",
            "hint": f"{base}/hint",
            "health": f"{base}/health",
        }
        self._clocks_published: dict[str, str] = {}  # each clock's payload last handed to paho
        self._ticker: asyncio.Task[None] | None = None
        self._client: Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._context: contextvars.Context | None = None
        self._unwatch: Callable[[], None] | None = None
        self._published: str | None = None  # the state last handed to paho
        self._hint_published: str | None = None  # the latest hint last handed to paho
        self._hint_held: str | None = None  # the latest hint, logged as held back
        self._health: str | None = None  # the latest report of the box's health
        self._connected = False
        self._trouble_logged = False  # unreachable or refused, logged once until connected
        self.clock = clock or MonotonicClock()
        self._refusals = Tally(logger, self.clock.monotonic, LOG_EVERY, LOGGED_TOPICS)  # by topic
        self._closed = False
        self._commands: set[asyncio.Task[None]] = set()  # running, at most MAX_COMMANDS

    # --- lifetime -------------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting to the broker in the background, and publishing the state at every
        change. Never blocks and never raises for a broker that cannot be reached (that is
        logged, and tried again). Raises :class:`SettingsError` when ``tls`` is on and the
        ``ca_file`` cannot be used."""
        if self._client is not None or self._closed:
            return
        s = self.settings
        self._loop = asyncio.get_running_loop()
        self._context = contextvars.copy_context()
        client = client_for(s, s.client_id or f"showctl-{socket.gethostname()}")
        client.will_set(self.topics["online"], "offline", qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.connect_async(s.host, s.port, keepalive=KEEPALIVE, clean_start=True)
        client.loop_start()
        self._client = client
        self._unwatch = self.controller.watch(self._changed)
        self._ticker = self._loop.create_task(self._tick(), name="mqtt-clocks")
        logger.info("mqtt_connecting", host=s.host, port=s.port, tls=s.tls, base=s.base)

    async def close(self) -> None:
        """Say ``offline`` (retained) if connected, disconnect and stop paho's thread (up to
        :data:`CLOSE_WAIT` s for the broker's acknowledgement, and a few more while an attempt
        to connect runs out). Idempotent; never raises."""
        if self._closed:
            return
        self._closed = True
        for task in self._commands:
            task.cancel()
        if self._ticker is not None:
            self._ticker.cancel()
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if client.is_connected():
                info = client.publish(self.topics["online"], "offline", qos=1, retain=True)
                with contextlib.suppress(ValueError, RuntimeError):  # not sent: the will says it
                    await asyncio.to_thread(info.wait_for_publish, CLOSE_WAIT)
            client.disconnect()
            await asyncio.to_thread(client.loop_stop)
        except Exception:  # teardown never raises; the broker's will tells the room
            logger.exception("mqtt_close_failed")
        logger.info("mqtt_closed")

    # --- paho's thread: hand everything to the loop ---------------------------------------

    def _to_loop(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to tell
            loop.call_soon_threadsafe(callback, *args, context=self._context)

    def _on_connect(
        self,
        client: Client,
        userdata: Any,
        flags: ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if not reason.is_failure:
            # Every time: a reconnect may be to a broker that has forgotten everything.
            # The state follows the SUBACK (see _on_subscribe).
            client.subscribe([(topic, SUBSCRIBE) for topic in self._subscriptions()])
            client.publish(self.topics["online"], "online", qos=1, retain=True)
        self._to_loop(self._connect_answered, reason)

    def _on_connect_fail(self, client: Client, userdata: Any) -> None:
        self._to_loop(self._unreachable)

    def _on_disconnect(
        self,
        client: Client,
        userdata: Any,
        flags: DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        # Without a DISCONNECT from the broker, paho's reason is a bare "Unspecified error".
        why = str(reason) if flags.is_disconnect_packet_from_server else "connection lost"
        self._to_loop(self._disconnected, why)

    def _on_subscribe(
        self,
        client: Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        # After the CONNACK, paho resends the states the last connection left unacknowledged;
        # the SUBACK comes after that, so the current state published now is the last retained.
        self._to_loop(self._publish_state, True)
        topics = self._subscriptions()  # one reason per topic, in order
        refused = [t for t, r in zip(topics, reasons, strict=False) if r.is_failure]
        if refused:
            self._to_loop(self._subscriptions_refused, refused)

    def _on_message(self, client: Client, userdata: Any, message: MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:  # not UTF-8: not a topic of ours
            return
        self._to_loop(self._received, topic, message.payload, message.retain)

    # --- the loop's thread ----------------------------------------------------------------

    def _subscriptions(self) -> list[str]:
        fixed = [
            self.topics["event"] + "+",
            self.topics["input"] + "+",
            self.topics["trigger"],
            self.topics["command"] + "+",
        ]
        return list(dict.fromkeys([*fixed, *self.settings.events, *self._presence]))

    @property
    def _presence(self) -> dict[str, str]:
        """The props' presence topics (topic -> prop)."""
        props = self.controller.props
        return {} if props is None else props.topics

    def _connect_answered(self, reason: ReasonCode) -> None:
        s = self.settings
        if self._closed:
            return
        if reason.is_failure:
            if reason.value == UNSUPPORTED_PROTOCOL:
                error = (
                    f"the broker at {s.host}:{s.port} does not speak MQTT 5, which showctl needs "
                    "to tell a retained message from a trigger; upgrade the broker (mosquitto "
                    "1.6 or later: Debian 11 and Raspberry Pi OS 11 and later have 2.0)"
                )
            else:
                error = (
                    f"the broker at {s.host}:{s.port} refused showctl ({reason}); check "
                    "mqtt.username, mqtt.password and mqtt.client_id in the settings"
                )
            if not self._trouble_logged:
                self._trouble_logged = True
                logger.warning(
                    "mqtt_refused", host=s.host, port=s.port, reason=str(reason), error=error
                )
            return
        self._connected = True
        self._trouble_logged = False
        logger.info("mqtt_connected", host=s.host, port=s.port)

    def _unreachable(self) -> None:
        s = self.settings
        self.counts["unreachable"] += 1
        if self._trouble_logged or self._closed:
            return
        self._trouble_logged = True
        logger.warning(
            "mqtt_unreachable",
            host=s.host,
            port=s.port,
            error=f"cannot reach the MQTT broker at {s.host}:{s.port}; showctl keeps trying "
            f"(at least every {MAX_DELAY} s) while the show goes on: check that the broker runs "
            "and that mqtt.host and mqtt.port are right",
        )

    def _disconnected(self, reason: str) -> None:
        if not self._connected or self._closed:
            return  # a refused attempt, or our own disconnect
        self._connected = False
        logger.warning(
            "mqtt_disconnected",
            host=self.settings.host,
            port=self.settings.port,
            reason=reason,
        )

    def _subscriptions_refused(self, topics: list[str]) -> None:
        logger.warning(
            "mqtt_subscription_refused",
            topics=topics,
            error="the broker refused showctl these topics, so their messages do not reach the "
            "show; allow showctl's user to read them in the broker's access list",
        )

    def _changed(self) -> None:
        if not self.connected and self.controller.hints:
            hint = self._latest_hint()
            if hint not in (self._hint_published, self._hint_held):
                self._hint_held = hint
                logger.warning(
                    "hint_not_published",
                    count=self.controller.hints[-1]["count"],
                    reason=f"the broker {self.settings.host}:{self.settings.port} is away",
                    hint="the players' screen gets it once the broker is back; the page has it",
                )
        self._publish_state(force=False)

    def publish_health(self, report: dict[str, Any]) -> None:
        """Publish a report of the box's health on ``BASE/health`` (retained); one made while
        the broker is away is published once it is back."""
        self._health = json.dumps(report, separators=(",", ":"))
        client = self._client
        if client is not None and client.is_connected():
            client.publish(self.topics["health"], self._health, qos=1, retain=True)

    def _latest_hint(self) -> str:
        hints = self.controller.hints
        latest = hints[-1] if hints else {"name": None, "text": "", "count": 0, "at": None}
        return json.dumps(latest, separators=(",", ":"))

    def _publish_state(self, force: bool) -> None:
        """Publish the summary, each game clock and the latest hint, if it differs from the
        last one published (or ``force``)."""
        client = self._client
        if client is None or not client.is_connected():
            return  # published anew once connected
        self._publish_clocks(force)
        if force and self._health is not None:  # connected anew
            client.publish(self.topics["health"], self._health, qos=1, retain=True)
        hint = self._latest_hint()
        if hint != self._hint_published or force:
            self._hint_published = hint
            client.publish(self.topics["hint"], hint, qos=1, retain=True)
        text = json.dumps(self.controller.summary(), separators=(",", ":"))
        if text == self._published and not force:
            return
        self._published = text
        client.publish(self.topics["state"], text, qos=1, retain=True)

    def _publish_clocks(self, force: bool) -> None:
        client = self._client
        if client is None or not client.is_connected():
            return
        for name, clock in self._clock_states().items():
            seconds = math.ceil(clock["left"] - EARLY)
            text = json.dumps(
                {
                    "left": seconds,
                    "running": clock["running"],
                    "text": f"{seconds // 60:02d}:{seconds % 60:02d}",
                },
                separators=(",", ":"),
            )
            if text != self._clocks_published.get(name) or force:
                self._clocks_published[name] = text
                client.publish(self.topics["clock"] + name, text, qos=0, retain=True)

    def _clock_states(self) -> dict[str, dict[str, Any]]:
        return self.controller.clocks.state(self.controller.clock.monotonic())

    async def _tick(self) -> None:
        """Publish the running clocks each time their whole seconds change."""
        while True:
            lefts = [clock["left"] for clock in self._clock_states().values() if clock["running"]]
            # A second's change comes when the time left crosses a whole number.
            until = min((left - math.floor(left) for left in lefts if left > 0), default=1.0)
            await asyncio.sleep(until if until > EARLY else until + 1.0)
            self._publish_clocks(force=False)

    def _received(self, topic: str, payload: bytes, retained: bool) -> None:
        if self._closed:
            return
        if topic in self._presence and self.controller.props is not None:
            self.controller.props.heard(topic, payload)  # retained too: a last will is
            return
        if len(payload) > MAX_PAYLOAD:
            self._refuse(
                topic,
                f"a message of {len(payload)} bytes is over the limit of {MAX_PAYLOAD}; "
                'send the name alone, or {"event": "NAME"} on ' + self.topics["trigger"],
            )
            return
        if retained:
            if not payload:
                return  # the clearing of a retained message, as the refusal below asks
            self._refuse(
                topic,
                "a retained message is old news, not a trigger; publish triggers without the "
                f"retain flag, and clear this one (publish an empty retained message on {topic})",
            )
            return
        if topic.startswith(self.topics["command"]) and topic not in self.settings.events:
            self._command(topic, topic.removeprefix(self.topics["command"]), payload)
            return
        name = self._name(topic, payload)
        if name is None:
            return
        resolved = self.controller.resolve(name.removeprefix("event:"), "mqtt")
        if isinstance(resolved, Answer):
            self._refuse(topic, resolved["error"], trigger=name)
            return
        self.counts["fired"] += 1
        self.controller.fire(name, "mqtt", reply=functools.partial(self._replied, topic))

    def _command(self, topic: str, name: str, payload: bytes) -> None:
        """Run command ``name`` with the payload's arguments in a task of its own; its answer
        is published on ``BASE/answer``."""
        args = _object(payload) if payload.strip() else {}
        if args is None:
            self._refuse(
                topic,
                "the message is not a JSON object; send the command's arguments as one, such "
                'as {"scene": "finale"}, or nothing',
            )
            return
        if len(self._commands) >= MAX_COMMANDS:
            self._refuse(topic, "more commands at once than the show can take; send fewer")
            return
        self.counts["commands"] += 1
        task = asyncio.get_running_loop().create_task(
            self._run(topic, name, args), name=f"mqtt-command:{name[:40]}"
        )
        self._commands.add(task)
        task.add_done_callback(self._commands.discard)

    async def _run(self, topic: str, name: str, args: dict[str, Any]) -> None:
        answer = await commands.run(self.controller, name, args)
        if not answer["ok"]:
            self.counts["refused"] += 1
            self._refusals.log(
                topic[:200], "mqtt_message_refused", topic=topic[:200], error=answer["error"]
            )
        self._publish(self.topics["answer"], {"topic": topic, "command": name, **answer})

    def _name(self, topic: str, payload: bytes) -> str | None:
        """The trigger a message names (``event:NAME``, ``input:NAME``), or ``None`` (refused)."""
        configured = self.settings.events.get(topic)
        if configured is not None:
            return configured if ":" in configured else f"event:{configured}"
        for kind in ("event", "input"):
            prefix = self.topics[kind]
            if topic.startswith(prefix):
                return f"{kind}:{topic.removeprefix(prefix)}"
        if topic != self.topics["trigger"]:
            return None  # not one of ours (cannot happen: only ours are subscribed)
        how = f'publish a JSON object such as {{"event": "NAME"}} or {{"input": "NAME"}} on {topic}'
        message = _object(payload)
        if message is None:
            self._refuse(topic, f"the message is not a JSON object; {how}")
            return None
        given = [
            (kind, message[kind])
            for kind in ("event", "input")
            if isinstance(message.get(kind), str) and message[kind]
        ]
        if len(given) != 1:
            self._refuse(topic, f"the object names no event or input, or both; {how}")
            return None
        kind, value = given[0]
        return f"{kind}:{value}"

    def _refuse(self, topic: str, error: str, trigger: str | None = None) -> None:
        """Count a refused message and answer it; log it, at most once a second per topic."""
        self.counts["refused"] += 1
        key = topic[:200]
        self._refusals.log(key, "mqtt_message_refused", topic=key, error=error)
        self._answer(topic, trigger, False, error)

    def _replied(self, topic: str, outcome: Outcome) -> None:
        self._answer(topic, outcome.trigger, outcome.moved, outcome.why)

    def _answer(self, topic: str, trigger: str | None, moved: bool, why: str | None) -> None:
        """Publish what the message on ``topic`` did."""
        outcome = {"topic": topic, "trigger": trigger, "moved": moved, "why": why}
        self._publish(self.topics["outcome"], outcome)

    @property
    def connected(self) -> bool:
        """Whether the broker is connected now."""
        return self._client is not None and self._client.is_connected()

    def publish(self, topic: str, payload: str, qos: int, retain: bool) -> str | None:
        """Publish one of the show's messages (sent by paho's thread, never waiting); ``None``,
        or why it was not sent (the broker away)."""
        client = self._client
        if client is None or not self.connected:
            return f"the broker {self.settings.host}:{self.settings.port} is not connected"
        info = client.publish(topic, payload, qos=qos, retain=retain)
        return None if info.rc == 0 else f"paho refused it ({info.rc})"

    def _publish(self, topic: str, message: dict[str, Any]) -> None:
        """Publish ``message`` as JSON at QoS 0 (skipped while disconnected)."""
        client = self._client
        if client is not None and client.is_connected():
            client.publish(topic, json.dumps(message), qos=0)


def client_for(settings: MqttSettings, client_id: str) -> Client:
    """A paho client for the settings' broker (MQTT 5, its user, its TLS), trying again from
    :data:`MIN_DELAY` up to every :data:`MAX_DELAY` s; not connected yet. Raises
    :class:`SettingsError` when ``tls`` is on and the ``ca_file`` cannot be used."""
    client = Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    if settings.username:
        client.username_pw_set(settings.username, settings.password or None)
    if settings.tls:
        try:
            client.tls_set(ca_certs=settings.ca_file or None)
        except OSError as e:  # ssl.SSLError too
            raise SettingsError(
                f"mqtt.ca_file {settings.ca_file!r} cannot be used ({e}); give the PEM file of "
                "the CA that signed the broker's certificate, or leave it empty for the system's"
            ) from e
    client.reconnect_delay_set(min_delay=MIN_DELAY, max_delay=MAX_DELAY)
    return client


def _object(payload: bytes) -> dict[str, Any] | None:
    """The JSON object a payload holds, or ``None``."""
    try:
        value = json.loads(payload)
    except ValueError:  # UnicodeDecodeError too
        return None
    return value if isinstance(value, dict) else None
