"""The boxes' link: the MQTT broker of the settings (``[mqtt]``), below ``BASE/boxes/``.

From the leader to box ``BOX`` (QoS 1 unless said):

- ``BASE/boxes/BOX/output/NAME`` (retained): the leader's latest play or stop for output
  ``NAME``; ``.../level/NAME`` (retained) its level; ``.../load`` (retained) the clips the box
  keeps ready; ``.../leds`` (retained) the matrix's scene and T0; ``.../effect`` an effect;
  ``.../relays`` a switch of its relays (in order; nothing about relays is retained);
  ``.../ping`` the clock check. A box that starts, restarts or reconnects late reads
  the retained ones and joins what plays, on the sample.
- ``BASE/boxes/LEADER/leads`` (retained): the leader's heartbeat, every second.

From box ``BOX`` to its leader ``LEADER``: ``BASE/boxes/LEADER/event`` a clip's end,
``.../input`` an input that fired, ``.../health/BOX`` (retained) its outputs', relays' and
matrix's health and its readiness, ``.../pong`` (QoS 0) its answer to a ping.

A :class:`Bus` is one paho client on its own thread (MQTT 5, a clean session, trying again every
1 to :data:`REJOIN` s while the broker is away); what it receives is handed to the event loop,
and a ping answered at once on paho's thread (:attr:`Bus.answer`). The show never waits for
it: a message sent while the broker is away is not sent (the leader sends its retained ones
again when the link is back).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from showctl.settings import MqttSettings
from showctl.surfaces.mqtt import KEEPALIVE, SUBSCRIBE, client_for

logger = structlog.get_logger()

#: Messages received and not yet handled, at most; more are dropped and counted (a flood).
QUEUE = 1000
#: The longest wait between tries to reach the broker again (s): a box back on the network
#: rejoins the show within this (the MQTT surface waits longer, up to 30 s).
REJOIN = 2


class Bus:
    """This box's client of the boxes' link: :meth:`send` to a box's topics, and every
    message on ``subscribe`` topics (below ``BASE/boxes/``) handed, in order, to ``await
    received(payload, topic below the box's, got_ns)`` by :meth:`run`, ``got_ns`` the wall
    clock as paho's thread took it off the socket (the clock check's timestamps: the time it
    waited for the event loop is not the link's). :attr:`dropped` counts those
    that came faster than they could be handled, past :data:`QUEUE`."""

    def __init__(
        self,
        settings: MqttSettings,
        me: str,
        subscribe: list[str],
        received: Callable[[bytes, str, int], Awaitable[None]],
    ) -> None:
        self.settings = settings
        self.me = me
        self.base = f"{settings.base}/boxes"
        self.subscribe = [f"{self.base}/{topic}" for topic in subscribe]
        self.received = received
        #: Answers a message at once, on paho's thread, as it comes (the clock check's ping):
        #: ``answer(what, payload, got_ns)`` gives ``(box, what, payload)`` to send, or None.
        self.answer: Callable[[str, bytes, int], tuple[str, str, bytes] | None] | None = None
        self.connected = False
        #: Called (on the event loop) each time the link is up.
        self.on_up: Callable[[], None] = lambda: None
        self.dropped = 0
        self._queue: asyncio.Queue[tuple[str, bytes, int]] = asyncio.Queue(QUEUE)
        self._client: Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Start connecting in the background; never blocks."""
        s = self.settings
        self._loop = asyncio.get_running_loop()
        client = client_for(s, f"showctl-box-{self.me}")
        client.reconnect_delay_set(min_delay=1, max_delay=REJOIN)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.connect_async(s.host, s.port, keepalive=KEEPALIVE, clean_start=True)
        client.loop_start()
        self._client = client

    async def run(self) -> None:
        """Hand each message received to ``received``, in order, until cancelled."""
        while True:
            what, payload, got_ns = await self._queue.get()
            await self.received(payload, what, got_ns)

    def _queued(self, what: str, payload: bytes, got_ns: int) -> None:
        try:
            self._queue.put_nowait((what, payload, got_ns))
        except asyncio.QueueFull:
            self.dropped += 1

    def send(self, box: str, what: str, payload: bytes, retain: bool) -> None:
        """Publish ``payload`` on box ``box``'s topic ``what`` (QoS 1); not while away."""
        if self._client is not None and self.connected:
            self._client.publish(f"{self.base}/{box}/{what}", payload, qos=1, retain=retain)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            await asyncio.to_thread(client.loop_stop)

    def _to_loop(self, callback: Callable[..., Any], *args: Any) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                self._loop.call_soon_threadsafe(callback, *args)

    def _on_connect(
        self,
        client: Client,
        userdata: Any,
        flags: ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        sock = client.socket()
        if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
            # A command is a small message: Nagle's algorithm held it up to 40 ms (the delayed
            # ACK it waits for), and the clock check with it (the broker: set_tcp_nodelay).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not reason.is_failure and self.subscribe:
            client.subscribe([(topic, SUBSCRIBE) for topic in self.subscribe])
        self._to_loop(self._connected, not reason.is_failure, str(reason))

    def _on_disconnect(
        self,
        client: Client,
        userdata: Any,
        flags: DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._to_loop(self._connected, False, "connection lost")

    def _on_message(self, client: Client, userdata: Any, message: MQTTMessage) -> None:
        got_ns = time.time_ns()
        try:
            topic = message.topic
        except UnicodeDecodeError:
            return
        below = topic.removeprefix(f"{self.base}/").split("/", 1)
        if len(below) == 2:
            payload = bytes(message.payload)
            reply = None if self.answer is None else self.answer(below[1], payload, got_ns)
            if reply is not None:
                box, what, answer = reply
                client.publish(f"{self.base}/{box}/{what}", answer, qos=0)
            self._to_loop(self._queued, below[1], payload, got_ns)

    def _connected(self, connected: bool, why: str) -> None:
        if connected != self.connected:
            self.connected = connected
            logger.info("box_link_up" if connected else "box_link_down", box=self.me, why=why)
            if connected:
                self.on_up()
