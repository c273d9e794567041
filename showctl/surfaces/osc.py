"""The OSC surface: show-control desks (QLab, a TouchOSC page, a lighting desk, a script) drive
the show over UDP.

Addresses: every command of :data:`showctl.commands.COMMANDS` as ``/showctl/NAME``, its
arguments after it, one word each (the last takes the rest, ``/`` too), its switch as a word::

    /showctl/status        change nothing; just the reply
    /showctl/trigger/NAME  fire event NAME ("input:NAME" fires an input)
    /showctl/goto/NAME     go to scene NAME now
    /showctl/go            go to the next scene (the scene's first transition with a "to")
    /showctl/reset         start the show over
    /showctl/pause         hold the show where it is
    /showctl/resume        go on from where it was held
    /showctl/reload        read the show file again (/showctl/reload/now: take it over at once)
    /showctl/add-time/game/-2min   take two minutes from the clock game

and, as a desk's buttons are often labelled, ``/showctl/scene/NAME`` (goto),
``/showctl/event/NAME`` (trigger) and ``/showctl/input/NAME`` (trigger ``input:NAME``).

A message's arguments are ignored but for two cases. A command's last argument may come as
the message's one string argument instead of in the address (a desk's text field:
``/showctl/hint-text "Look under the rug"``). A message whose only argument is 0 or false is
a button let go (TouchOSC and many desks send 1 on press, 0 on release): it is dropped
unanswered, so that one press is one GO.

Addresses are taken literally: OSC's patterns (``*``, ``?``, ``[...]``, ``{a,b}``) are not
expanded, so one message is never more than one action (``/showctl/*`` is an unknown address,
not a reset, a GO and a pause at once). A NAME is all that follows its prefix (``/`` too); an
empty one, or one longer than :data:`showctl.commands.MAX_NAME` characters, is refused. A
bundle's messages are handled in their order as soon as the bundle arrives: time tags are
ignored.

Every message is answered, from the socket it came to, to the address and port it came from:

- ``/showctl/state`` *scene* (string) *paused* (int, 1 or 0) *json* (string: the controller's
  :meth:`~showctl.controller.ShowController.summary`), once the action is done; after an event
  or input that moved nothing, a fourth argument *why* (string: the scene does not take it, its
  conditions did not hold, the show is paused);
- ``/showctl/error`` *sentence* (string) when it is refused: an unknown address, scene, event
  or input, a bad NAME, a GO from a scene that leads nowhere, a show file with errors. A
  refusal changes nothing and is logged (``osc_message_refused``, with ``address``, ``sender``
  and ``error``).

Messages are handled one at a time, in the order they arrived, by one task; at most
:data:`QUEUE_SIZE` wait, and more are dropped and counted. A datagram that is not OSC is dropped
unanswered. Neither changes the show, and each kind of trouble is logged at most
:data:`REFUSALS_LOGGED` (refusals) or one (drops, garbage) times a second, with the count of
the lines held back (``not_logged``).

Ports: the settings' ``[osc]`` table (:class:`~showctl.settings.OscSettings`). ``port = 0``
there means no OSC surface (the caller does not start one). OSC has no registered port: desks
commonly send to 8000 or 9000; any free port above 1023 will do. ``host`` is 127.0.0.1 by
default; OSC has no password, so binding another address (``0.0.0.0``) lets anyone on that
network drive the show. The replies go to the port a message came from: a desk sees them only
if it listens on the port it sends from (a script on one socket does; a desk with a
separate "incoming" port does not).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

import structlog
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from showctl import commands
from showctl.commands import COMMANDS, Answer, Command, Refusal, refused
from showctl.controller import ShowController
from showctl.log import Tally
from showctl.settings import OscSettings

logger = structlog.get_logger()

#: The prefix of every address.
PREFIX = "/showctl/"
#: Other words for commands, as desks label their buttons: the command, and what goes before
#: the name that follows.
ALIASES = {"scene": ("goto", ""), "event": ("trigger", ""), "input": ("trigger", "input:")}
#: Messages waiting to be handled, at most; more are dropped (and counted).
QUEUE_SIZE = 256
#: Refusal lines logged a second, at most (drops and garbage: one).
REFUSALS_LOGGED = 10
#: How long close() waits for the message being handled to end (s).
CLOSE_WAIT = 1.0
#: The longest piece of an address quoted in an error or a log line (characters).
QUOTED = 80

_Sender = tuple[Any, ...]  # (host, port), or (host, port, flow, scope) on IPv6


@dataclass(frozen=True)
class _Message:
    address: str
    sender: _Sender
    text: str | None = None  # its one string argument, if that is all it has


class OscSurface:
    """Answers OSC messages for one controller: ``await start()``, then ``await close()``.

    Every method runs on the event loop's thread. ``counts`` says how many messages were
    ``answered`` (with the state), ``refused``, ``failed`` (a showctl bug, logged with its
    traceback), ``dropped`` (the queue full) and ``garbage`` (not OSC), and how many
    ``replies_unsent`` (the socket's buffer full).
    """

    def __init__(self, settings: OscSettings, controller: ShowController) -> None:
        self.settings = settings
        self.controller = controller
        self.counts: Counter[str] = Counter()
        self._queue: asyncio.Queue[_Message] = asyncio.Queue(QUEUE_SIZE)
        self._transport: asyncio.DatagramTransport | None = None
        self._protocol: _Protocol | None = None
        self._worker: asyncio.Task[None] | None = None
        self._writable = True
        clock = controller.clock.monotonic
        self._refusals = Tally(logger, clock, lines=REFUSALS_LOGGED)
        self._troubles = Tally(logger, clock)  # drops and garbage, once a second each

    async def start(self) -> None:
        """Bind the UDP socket on ``settings.host:settings.port`` and answer from now on (port 0
        binds a free port: see :attr:`port`). Call once. Raises ``OSError`` when the address
        cannot be bound (the port taken, the host not this machine's); the caller decides."""
        if self._transport is not None:
            raise RuntimeError("the OSC surface is started already; start it once")
        loop = asyncio.get_running_loop()
        self._transport, self._protocol = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=(self.settings.host, self.settings.port)
        )
        self._worker = loop.create_task(self._work(), name="osc-surface")
        logger.info("osc_listening", host=self.settings.host, port=self.port)

    @property
    def port(self) -> int:
        """The port the surface is bound to (0 before :meth:`start` and after :meth:`close`)."""
        if self._transport is None:
            return 0
        return int(self._transport.get_extra_info("sockname")[1])

    async def close(self) -> None:
        """Stop answering: stop the task (cancelling the message being handled, if any, and
        dropping those waiting) and close the socket; once it returns, the port is free.
        Idempotent; never raises."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            await asyncio.wait([worker], timeout=CLOSE_WAIT)  # cancelled, as asked
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.abort()  # replies still buffered are dropped: close() would wait for them
        protocol, self._protocol = self._protocol, None
        if protocol is not None:
            await protocol.closed.wait()  # the loop closes the socket on its next round

    # --- from the socket ------------------------------------------------------------------

    def _received(self, data: bytes, sender: _Sender) -> None:
        """Queue the messages of one datagram (never blocks, never raises for what it holds)."""
        try:
            packet = OscPacket(data)
        except Exception as e:  # python-osc raises UnicodeDecodeError too, not only ParseError
            self.counts["garbage"] += 1
            self._troubles.log(
                "garbage",
                "osc_datagram_dropped",
                sender=_who(sender),
                size=len(data),
                reason=f"not an OSC message or bundle ({type(e).__name__})",
                garbage=self.counts["garbage"],
            )
            return
        for timed in packet.messages:
            if list(timed.message.params) in ([0], [0.0], [False]):
                self.counts["released"] += 1  # a button let go: its press did the work
                continue
            try:
                params = list(timed.message.params)
                text = params[0] if len(params) == 1 and isinstance(params[0], str) else None
                self._queue.put_nowait(_Message(timed.message.address, sender, text))
            except asyncio.QueueFull:
                self.counts["dropped"] += 1
                self._troubles.log(
                    "dropped",
                    "osc_messages_dropped",
                    sender=_who(sender),
                    hint="more messages than the show can take; send fewer",
                    dropped=self.counts["dropped"],
                )

    def _set_writable(self, writable: bool) -> None:
        """The socket's send buffer has room (or not): replies are skipped while not."""
        self._writable = writable

    # --- the messages, one at a time ------------------------------------------------------

    async def _work(self) -> None:
        while True:
            message = await self._queue.get()
            try:
                datagram = await self._answer(message)
            except Exception:  # a bug of showctl's: logged, and the surface goes on
                self.counts["failed"] += 1
                logger.exception(
                    "osc_message_failed",
                    address=_quoted(message.address),
                    sender=_who(message.sender),
                )
                datagram = _datagram(
                    "/showctl/error",
                    f"showctl failed to handle {_quoted(message.address)}; its log says why",
                )
            self._send(message.sender, datagram)

    async def _answer(self, message: _Message) -> bytes:
        """Act on ``message``; the reply."""
        answer = await self._act(message.address, message.text)
        if answer.get("ok") is False:
            self.counts["refused"] += 1
            error = str(answer.get("error"))
            self._refusals.log(
                "refused",
                "osc_message_refused",
                address=_quoted(message.address),
                sender=_who(message.sender),
                error=error,
            )
            return _datagram("/showctl/error", error)
        self.counts["answered"] += 1
        summary = self.controller.summary()
        why = answer.get("why")
        return _datagram(
            "/showctl/state",
            str(summary["scene"]),
            int(bool(summary["paused"])),
            json.dumps(summary),
            *([str(why)] if why else []),
        )

    async def _act(self, address: str, text: str | None = None) -> Answer:
        """Do what ``address`` asks (``text``, the message's string argument, is the last
        argument if the address leaves it out) and return the controller's answer (``ok``
        false and ``error``: refused)."""
        if not address.startswith(PREFIX):
            return _unknown(address)
        word, _, tail = address.removeprefix(PREFIX).partition("/")
        name, before = ALIASES.get(word, (word, ""))
        tail = before + tail if tail else ""
        command = COMMANDS.get(name)
        if command is None:
            return _unknown(address)
        args: dict[str, object] = {}
        last = next((a for a in reversed(command.args) if a.type is str), None)
        for arg in command.args:
            if arg.type is bool and tail in ("", arg.name):
                args[arg.name], tail = tail == arg.name, ""
            elif arg.type is str and tail:
                args[arg.name], _, tail = (tail, "", "") if arg is last else tail.partition("/")
            elif arg is last and text is not None:
                args[arg.name] = text
            elif arg.type is str:
                if word in ALIASES:
                    noun, written = word, f"{word}/NAME"
                else:
                    noun, written = arg.what, _written(command)
                return refused(
                    Refusal.BAD_ARGUMENT,
                    f"the OSC address {_quoted(address)} names no {noun}; add it, as in "
                    f"{PREFIX}{written}",
                )
        if tail:
            return _unknown(address)
        return await commands.run(self.controller, name, args)

    def _send(self, sender: _Sender, datagram: bytes) -> None:
        if self._transport is None:
            return
        if not self._writable:
            self.counts["replies_unsent"] += 1
            return
        self._transport.sendto(datagram, sender)


class _Protocol(asyncio.DatagramProtocol):
    """Hands the socket's datagrams and flow control to the surface."""

    def __init__(self, surface: OscSurface) -> None:
        self.surface = surface
        self.closed = asyncio.Event()  # the socket is closed: its port free again

    def datagram_received(self, data: bytes, addr: _Sender) -> None:
        self.surface._received(data, addr)

    def error_received(self, exc: Exception) -> None:
        # A reply to a desk no longer listening comes back as ICMP "port unreachable": the
        # desk's business, not the show's.
        logger.debug("osc_reply_failed", reason=str(exc))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()

    def pause_writing(self) -> None:
        self.surface._set_writable(False)

    def resume_writing(self) -> None:
        self.surface._set_writable(True)


def _datagram(address: str, *args: str | int) -> bytes:
    """An OSC message: each argument a string (``s``) or a 32-bit integer (``i``)."""
    builder = OscMessageBuilder(address=address)
    for arg in args:
        builder.add_arg(arg, "s" if isinstance(arg, str) else "i")
    return bytes(builder.build().dgram)


def _who(sender: _Sender) -> str:
    return f"{sender[0]}:{sender[1]}"


def _written(command: Command) -> str:
    """How a command is written after the prefix: ``pulse/RELAY/DURATION``, ``reload/[now]``."""
    return "/".join(
        [command.name] + [a.name.upper() if a.type is str else f"[{a.name}]" for a in command.args]
    )


def _unknown(address: str) -> Answer:
    offered = ", ".join(_written(c) for c in COMMANDS.values())
    return refused(
        Refusal.UNKNOWN_COMMAND,
        f"unknown OSC address {_quoted(address)}; send {PREFIX} and one of: {offered} "
        "(or scene/NAME, event/NAME, input/NAME)",
    )


def _quoted(address: str) -> str:
    return address if len(address) <= QUOTED else f"{address[:QUOTED]}..."
