"""The show's messages to props and desks: MQTT publishes, OSC messages, HTTP requests and
lines to serial props.

Nothing here holds up the controller's loop. A publish is handed to the MQTT surface's client,
which sends it from paho's own thread; an OSC message is one UDP datagram, sent without waiting
(a target named by host name is looked up once, off the loop); an HTTP request is handed to
the HTTP sender, a process of its own (:mod:`showctl.room.webhooks`), with its timeout, at most
:data:`MAX_REQUESTS` waiting on one server (more to it are dropped and counted, so that a
server that is down cannot starve the others); a line to a serial prop is written by its
transport (:mod:`showctl.room.props`).

A target that fails (a broker away, an endpoint down or slow, a host that does not resolve) is
logged once per cause, at the first failure; the repeats are counted, and the line that says it
works again carries the count. Every kind's sends and failures, and the causes failing now, are
in the status (:meth:`Messages.state`).
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import structlog

from showctl.room.webhooks import Webhooks
from showctl.show.model import HttpRequest, Message, Publish, SendOsc

if TYPE_CHECKING:
    from showctl.room.props import Props

logger = structlog.get_logger()

#: HTTP requests waiting for their answer from one server (scheme, host and port) at most;
#: more to it are dropped and counted.
MAX_REQUESTS = 16

#: How the MQTT surface publishes: (topic, payload, qos, retain) -> why not sent, or None.
Publisher = Callable[[str, str, int, bool], "str | None"]


class Messages:
    """Sends the show's messages; ``start()`` on the loop, ``close()`` at the end."""

    def __init__(
        self, osc_targets: Mapping[str, tuple[str, int]], props: Props | None = None
    ) -> None:
        self.osc_targets = dict(osc_targets)
        self.props = props
        #: The MQTT surface's publisher, once it runs; ``None``: there is no broker.
        self.mqtt: Publisher | None = None
        #: Called after a target starts or stops failing (on the loop's thread).
        self.on_change: Callable[[], None] = lambda: None
        self.sent: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        #: target -> (the cause it fails with now, how many times since it began)
        self.failing: dict[str, tuple[str, int]] = {}
        self._addresses: dict[str, tuple[str, int]] = {}  # OSC targets resolved
        self._resolving: dict[str, list[bytes]] = {}  # OSC targets being looked up: to send
        self._udp: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._http = Webhooks(self._answered)
        self._numbers = itertools.count()
        #: HTTP requests with the sender: number -> (its target, its server)
        self._requests: dict[int, tuple[str, str]] = {}
        self._waiting: Counter[str] = Counter()  # HTTP requests waiting, by server

    async def start(self, *, http: bool = False) -> None:
        """Open the OSC socket; with ``http`` (the show makes HTTP requests), start the HTTP
        sender too, which is otherwise started at the first request."""
        loop = asyncio.get_running_loop()
        self._udp, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, family=socket.AF_INET
        )
        if http:
            await self._http.start()

    async def close(self) -> None:
        """Drop the requests still waiting and close the sockets. Idempotent."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        await self._http.close()

    def send(self, action: Message) -> None:
        """Send one of the show's messages now, without waiting for it (on the loop)."""
        if isinstance(action, Publish):
            self._publish(action)
        elif isinstance(action, SendOsc):
            self._osc(action)
        elif isinstance(action, HttpRequest):
            self._request(action)
        else:
            self._line(action.prop, action.send)

    def state(self) -> dict[str, Any]:
        """Sends and failures by kind, and what fails now, JSON-ready."""
        return {
            "sent": dict(self.sent),
            "failed": dict(self.failed),
            "failing": {
                target: f"{cause} ({n} time{'s' * (n != 1)})"
                for target, (cause, n) in self.failing.items()
            },
        }

    # --- each kind ------------------------------------------------------------------------

    def _publish(self, action: Publish) -> None:
        target = f"mqtt {action.topic}"
        if self.mqtt is None:
            self._failed(target, "the settings name no MQTT broker ([mqtt] host)")
            return
        why = self.mqtt(action.topic, action.payload, action.qos, action.retain)
        if why is None:
            self._ok(target)
        else:
            self._failed(target, why)

    def _line(self, prop: str, line: str) -> None:
        target = f"serial {prop}"
        if self.props is None or prop not in self.props.serial:
            self._failed(target, "the settings name no such serial prop")
            return
        why = self.props.send(prop, line)
        if why is None:
            self._ok(target)
        else:
            self._failed(target, why)

    def _osc(self, action: SendOsc) -> None:
        from pythonosc.osc_message_builder import OscMessageBuilder  # noqa: PLC0415  (loaded when a show sends OSC)

        builder = OscMessageBuilder(action.address)
        for arg in action.args:
            builder.add_arg(arg)
        data = builder.build().dgram
        target = action.to
        if target in self._addresses:
            self._datagram(target, data, self._addresses[target])
        elif target not in self.osc_targets:
            self._failed(f"osc {target}", "the settings name no such OSC target")
        elif target in self._resolving:  # sent in order once its host is found
            self._resolving[target].append(data)
        else:
            self._resolving[target] = [data]
            self._background(self._resolve(target))

    async def _resolve(self, target: str) -> None:
        """Find the target's host (a name is looked up off the loop), then send what waits."""
        host, port = self.osc_targets[target]
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, family=socket.AF_INET, type=socket.SOCK_DGRAM
            )
        except OSError as e:
            for _ in self._resolving.pop(target):
                self._failed(f"osc {target}", f"{host} cannot be found ({e.strerror or e})")
            return
        address = infos[0][4]
        self._addresses[target] = (str(address[0]), int(address[1]))
        for data in self._resolving.pop(target):
            self._datagram(target, data, self._addresses[target])

    def _datagram(self, target: str, data: bytes, address: tuple[str, int]) -> None:
        if self._udp is None:
            self._failed(f"osc {target}", "showctl is stopping")
            return
        try:
            self._udp.sendto(data, address)
        except OSError as e:  # a network that is down: unreachable
            self._failed(f"osc {target}", e.strerror or str(e))
            return
        self._ok(f"osc {target}")

    def _request(self, action: HttpRequest) -> None:
        target = f"http {action.method} {action.url}"
        parts = urlsplit(action.url)
        server = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"  # no user or password
        if self._waiting[server] >= MAX_REQUESTS:
            self._failed(
                target, f"{MAX_REQUESTS} requests to {server} are waiting for their answers already"
            )
            return
        self._waiting[server] += 1
        number = next(self._numbers)
        self._requests[number] = (target, server)
        self._http.ask(number, action)

    def _answered(self, number: int, cause: str | None) -> None:
        """The HTTP sender's answer to request ``number``: None, or why it failed."""
        target, server = self._requests.pop(number)
        self._waiting[server] -= 1
        if cause is None:
            self._ok(target)
        else:
            self._failed(target, cause)

    # --- the tally ------------------------------------------------------------------------

    def _ok(self, target: str) -> None:
        kind = target.split(" ", 1)[0]
        self.sent[kind] += 1
        was = self.failing.pop(target, None)
        if was is not None:
            logger.info("message_target_back", target=target, failed=was[1], cause=was[0])
            self.on_change()

    def _failed(self, target: str, cause: str) -> None:
        kind = target.split(" ", 1)[0]
        self.failed[kind] += 1
        was_cause, times = self.failing.get(target, ("", 0))
        if was_cause == cause:
            self.failing[target] = (cause, times + 1)
            return
        self.failing[target] = (cause, 1)
        logger.warning("message_failed", target=target, cause=cause)
        self.on_change()

    def _background(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work, name="message")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
