"""The game-master page and the HTTP/WebSocket API behind it (aiohttp).

``GET /`` is the page; ``/api/v1/...`` the API, described in ``showctl/surfaces/openapi.yaml``
(served at ``/api/v1/openapi.yaml``):

- every command of :data:`showctl.commands.COMMANDS`: ``POST NAME`` with its arguments as a
  JSON object (``POST trigger`` ``{"name": "door"}``, ``POST goto`` ``{"scene": "finale"}``,
  ``POST reload`` ``{"now": true}``), or ``GET NAME`` for one that changes nothing (``GET
  status``). Each answers the new status (a trigger's answer also says whether it ``moved``
  the show, and if not ``why`` not); a refusal's HTTP status is its kind's (:data:`STATUS`);
- ``GET show``: what the show has (scenes, events, inputs, matrix);
- ``GET ws``: a WebSocket that sends ``{"type": "status" | "leds" | "log", ...}`` as things
  change (the status at least once a second), and takes nothing.

Bound to 127.0.0.1 by default. With the settings file's ``web.token`` set, every ``POST`` needs
it (``Authorization: Bearer TOKEN``) wherever the page listens, loopback too (any local user can
reach that); a non-loopback address without a token is refused at start. Reading needs none. The
status says ``token_required``, and the page asks for the token then. A ``POST`` must be
JSON (``Content-Type: application/json``) and come from the page's own origin, so that another
web site open in the operator's browser cannot press the buttons.

Bad requests (malformed JSON, unknown names, bodies over :data:`MAX_BODY`, a missing or wrong
token, more than :data:`RATE` a second from one address) get a 4xx answer
``{"ok": false, "error": "one sentence"}`` (and ``refused``, the kind, for a command the
controller refused) and a log line (at most one a second for each kind),
and change nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from showctl import commands
from showctl.clock import Clock, MonotonicClock
from showctl.commands import COMMANDS, Refusal
from showctl.controller import ShowController
from showctl.leds.matrix import Shown
from showctl.log import Recent, Tally
from showctl.settings import WebSettings

logger = structlog.get_logger()

PAGE = Path(__file__).parent / "page"
OPENAPI = Path(__file__).parent / "openapi.yaml"
#: The largest request body taken (bytes); a longer one is answered 413.
MAX_BODY = 4096
#: Control requests a second from one address, sustained; :data:`BURST` at once.
RATE = 20.0
BURST = 40.0
#: WebSockets open at once, at most.
MAX_SOCKETS = 32
#: The WebSocket sends at most this often (s), and the status at least every STATUS_EVERY.
SEND_EVERY = 0.05
STATUS_EVERY = 1.0
#: At most one log line a second for each kind of refusal.
LOG_EVERY = 1.0

#: The HTTP status of each kind of refusal.
STATUS = {
    Refusal.UNKNOWN_COMMAND: 404,
    Refusal.BAD_ARGUMENT: 400,
    Refusal.UNKNOWN_NAME: 404,
    Refusal.NOT_NOW: 409,
    Refusal.INVALID_SHOW: 422,
    Refusal.NEEDS_RESTART: 409,
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Refused(Exception):
    """A request refused: its HTTP status, the one sentence answered, and the kind of a
    command's refusal."""

    def __init__(self, status: int, error: str, kind: str | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.kind = kind


class WebSurface:
    """Serves the page and the API for ``controller``: ``await start()``, ``await close()``.

    Runs on the event loop; :meth:`frame` may be called from any thread (the LED thread).
    """

    def __init__(
        self,
        settings: WebSettings,
        controller: ShowController,
        *,
        clock: Clock | None = None,
        rate: float = RATE,
    ) -> None:
        """``rate``: control requests a second taken from one address (tests take more)."""
        self.settings = settings
        self.rate = rate
        self.controller = controller
        self.clock = clock or MonotonicClock()
        self.recent = Recent()
        self._buckets: dict[str, tuple[float, float]] = {}  # address: (tokens, when)
        self._refusals = Tally(logger, self.clock.monotonic, LOG_EVERY)  # by status and path
        #: Each open WebSocket and its event, set when there is something new to send it.
        self._sockets: dict[web.WebSocketResponse, asyncio.Event] = {}
        self._frame: Shown | None = None
        self._frame_lock = threading.Lock()
        self._pending = False  # a wake-up from another thread is on its way
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._unwatch: Callable[[], None] | None = None
        self.port = settings.port

    # --- lifetime -------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The application: the page's and the API's routes (opens nothing)."""
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._errors])
        app.add_routes(
            [
                web.get("/", self._page),
                web.static("/page", PAGE),
                web.get("/api/v1/openapi.yaml", self._openapi),
                web.get("/api/v1/show", self._show),
                web.get("/api/v1/ws", self._websocket),
                *(
                    web.post(f"/api/v1/{name}", self._control(name))
                    if command.changes
                    else web.get(f"/api/v1/{name}", self._read(name))
                    for name, command in COMMANDS.items()
                ),
            ]
        )
        return app

    async def start(self) -> None:
        """Listen on the settings' host and port (port 0: a free one, then in :attr:`port`).
        Raises ``OSError`` when the address cannot be taken."""
        self._loop = asyncio.get_running_loop()
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.settings.host, self.settings.port).start()
        except OSError:
            await self.close()
            raise
        self.port = self._runner.addresses[0][1]  # port 0: the one the system chose
        self._unwatch = self.controller.watch(self._notify)
        self.recent.on_record = self._notify_threadsafe
        self.recent.attach()
        logger.info(
            "web_listening",
            url=f"http://{self.settings.host}:{self.port}/",
            token_required=self.settings.needs_token,
        )

    async def close(self) -> None:
        """Close every WebSocket and stop listening. Idempotent; never raises."""
        self.recent.detach()
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            with contextlib.suppress(Exception):
                await runner.cleanup()

    def frame(self, shown: Shown) -> None:
        """The LED matrix shows ``shown`` now (any thread; it is sent at the next send)."""
        with self._frame_lock:
            self._frame = shown
        self._notify_threadsafe()

    # --- news for the WebSockets ----------------------------------------------------------

    def _notify(self) -> None:
        for news in self._sockets.values():
            news.set()

    def _notify_threadsafe(self) -> None:
        """Wake the senders from any thread: one wake-up at a time is on its way."""
        loop = self._loop
        if loop is None or not self._sockets or self._pending:
            return
        self._pending = True
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody to tell
            loop.call_soon_threadsafe(self._woken)

    def _woken(self) -> None:
        self._pending = False
        self._notify()

    # --- the page -------------------------------------------------------------------------

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(PAGE / "index.html", headers=_PAGE_HEADERS)

    async def _openapi(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(OPENAPI, headers={"Content-Type": "application/yaml"})

    async def _show(self, request: web.Request) -> web.StreamResponse:
        show = self.controller.show
        events = sorted(
            name.removeprefix("event:")
            for name in self.controller.machine.events
            if name.startswith("event:")
        )
        matrix = show.matrix
        return web.json_response(
            {
                "ok": True,
                "name": show.title,
                "scenes": [
                    {"name": name, "description": scene.description}
                    for name, scene in show.scenes.items()
                ],
                "events": events,
                "inputs": list(show.inputs),
                "outputs": list(show.outputs),
                "relays": [
                    {"name": name, "safe": relay.safe, "max_on": relay.max_on}
                    for name, relay in show.relays.items()
                ],
                "props": list(self.controller.props.specs) if self.controller.props else [],
                "actions": list(show.actions),
                "clocks": list(show.clocks),
                "sounds": [
                    {"name": name, "output": sound.output} for name, sound in show.sounds.items()
                ],
                "hints": [
                    {"name": name, "text": hint.text, "clip": hint.clip is not None}
                    for name, hint in show.hints.items()
                ],
                "matrix": None
                if matrix is None
                else {"rows": matrix.rows, "columns": matrix.columns},
                "token_required": self.settings.needs_token,
            }
        )

    def _status_body(self) -> dict[str, Any]:
        return {**self.controller.status(), "token_required": self.settings.needs_token}

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if len(self._sockets) >= MAX_SOCKETS:
            raise Refused(
                429, f"{MAX_SOCKETS} pages are open already; close one and load this one again"
            )
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_BODY)
        await ws.prepare(request)
        news = self._sockets[ws] = asyncio.Event()
        sending = asyncio.Lock()  # the news and the answers take turns
        sender = asyncio.create_task(self._send(ws, news, sending), name="web-socket-sender")
        try:
            async for message in ws:
                if message.type == WSMsgType.ERROR:
                    break
                if message.type == WSMsgType.TEXT:
                    answer = await self._socket_command(request, message.data)
                    async with sending:
                        await ws.send_json(answer)
        finally:
            sender.cancel()
            self._sockets.pop(ws, None)
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        return ws

    async def _socket_command(self, request: web.Request, text: str) -> dict[str, Any]:
        """A command sent on the WebSocket (a Wi-Fi prop's event, say), checked as a POST is:
        the origin, the rate, the token (the handshake's ``Authorization`` header or the
        message's ``token``); its answer, with the message's ``id``."""
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            message = {}
            error = 'a message is a JSON object such as {"cmd": "trigger", "name": "chest-opened"}'
            answer: dict[str, Any] = {"ok": False, "error": error}
        else:
            try:
                self._check_origin(request)
                self._check_rate(request)
                token = message.get("token")
                self._check_token(request, f"Bearer {token}" if isinstance(token, str) else None)
                name = message.get("cmd")
                if not isinstance(name, str):
                    raise Refused(400, 'a message names its command: {"cmd": "trigger", ...}')
                answer = await commands.run(self.controller, name, message)
            except Refused as e:
                self._refusals.log(
                    f"ws:{e.status}",
                    "web_request_refused",
                    status=e.status,
                    path="/api/v1/ws",
                    remote=request.remote,
                    error=e.error,
                )
                answer = {"ok": False, "error": e.error}
            if answer["ok"] and COMMANDS[str(message["cmd"])].changes:
                logger.info("web_control", action=message["cmd"], via="websocket")
        return {"type": "answer", "id": message.get("id"), **answer}

    async def _send(
        self, ws: web.WebSocketResponse, news: asyncio.Event, sending: asyncio.Lock
    ) -> None:
        """Send what is new to one page: the status when it changed (and every second), the
        matrix when it changed, the log lines not sent yet."""
        last_status: dict[str, Any] | None = None
        status_sent = 0.0
        last_frame: Shown | None = None
        log_seq = 0
        with contextlib.suppress(ConnectionError, RuntimeError):
            while not ws.closed:
                news.clear()
                status = self._status_body()
                moving = {k: v for k, v in status.items() if k not in ("seconds", "timers")}
                now = self.clock.monotonic()
                if moving != last_status or now - status_sent >= STATUS_EVERY:
                    async with sending:
                        await ws.send_json({"type": "status", "status": status})
                    last_status, status_sent = moving, now
                with self._frame_lock:
                    shown = self._frame
                if shown is not None and shown is not last_frame:
                    last_frame = shown
                    rows = ["".join("1" if on else "0" for on in row) for row in shown.frame]
                    async with sending:
                        await ws.send_json({"type": "leds", "at": round(shown.at, 3), "rows": rows})
                log_seq, lines = self.recent.since(log_seq)
                if lines:
                    async with sending:
                        await ws.send_json({"type": "log", "lines": lines})
                with contextlib.suppress(TimeoutError):  # not wait_for: see controller.run
                    async with asyncio.timeout(STATUS_EVERY):
                        await news.wait()
                await asyncio.sleep(SEND_EVERY)  # what comes meanwhile goes in the next send

    # --- control --------------------------------------------------------------------------

    def _read(self, name: str) -> Handler:
        """A GET handler: command ``name``, which changes nothing, with no arguments."""

        async def handle(request: web.Request) -> web.StreamResponse:
            return self._answer(await commands.run(self.controller, name, {}))

        return handle

    def _control(self, name: str) -> Handler:
        """A POST handler: the origin, the rate and the token checked, then command ``name``
        with the body's arguments."""

        async def handle(request: web.Request) -> web.StreamResponse:
            self._check_origin(request)
            self._check_rate(request)  # before the token: guessing it is as slow as anything
            self._check_token(request)
            body = await self._body(request)
            answer = await commands.run(self.controller, name, body)
            if answer["ok"]:
                what = {arg.name: body[arg.name] for arg in COMMANDS[name].args if arg.name in body}
                logger.info("web_control", action=name, **what)
            return self._answer(answer)

        return handle

    def _answer(self, answer: commands.Answer) -> web.Response:
        if not answer["ok"]:
            raise Refused(STATUS[Refusal(answer["refused"])], answer["error"], answer["refused"])
        return web.json_response({**answer, "token_required": self.settings.needs_token})

    def _check_origin(self, request: web.Request) -> None:
        origin = request.headers.get("Origin")
        if origin is not None and origin not in (
            f"http://{request.host}",
            f"https://{request.host}",
        ):
            raise Refused(
                403,
                f"a control request from the web page at {origin[:80]} is refused; only this "
                "controller's own page may send one",
            )

    def _check_token(self, request: web.Request, given_otherwise: str | None = None) -> None:
        """The request's ``Authorization`` header (or else ``given_otherwise``, as it would
        be written) carries the token, where one is needed."""
        if not self.settings.needs_token:
            return
        given = request.headers.get("Authorization") or given_otherwise or ""
        if not given.startswith("Bearer "):
            raise Refused(
                401,
                "this action needs the token of the settings file (web.token); send it as "
                "Authorization: Bearer TOKEN, or type it in the page",
            )
        if not hmac.compare_digest(
            given.removeprefix("Bearer ").encode(), self.settings.token.encode()
        ):
            raise Refused(403, "the token is wrong; use the one of the settings file (web.token)")

    def _check_rate(self, request: web.Request) -> None:
        """A token bucket for each address: :data:`RATE` a second, :data:`BURST` at once."""
        address = request.remote or "?"
        now = self.clock.monotonic()
        tokens, when = self._buckets.get(address, (BURST, now))
        tokens = min(BURST, tokens + (now - when) * self.rate)
        if tokens < 1.0:
            self._buckets[address] = (tokens, now)
            raise Refused(
                429,
                f"too many control requests from {address}: at most {self.rate:g} a second; "
                "wait a moment and send again",
            )
        if len(self._buckets) > 1000:  # addresses without end: forget the full buckets
            self._buckets = {a: b for a, b in self._buckets.items() if b[0] < BURST}
        self._buckets[address] = (tokens - 1.0, now)

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        if request.content_type != "application/json":
            raise Refused(
                415, "a control request's body is JSON: send it with Content-Type: application/json"
            )
        raw = await request.read()  # over MAX_BODY: aiohttp raises 413, answered by _errors
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            raise Refused(400, 'the body is not a JSON object; send one such as {"name": "door"}')
        return body

    # --- answers --------------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every refusal as ``{"ok": false, "error": ...}`` with its status, and a log line."""
        try:
            return await handler(request)
        except Refused as e:
            return self._refuse(request, e.status, e.error, e.kind)
        except web.HTTPRequestEntityTooLarge:
            return self._refuse(
                request, 413, f"the body is over {MAX_BODY} bytes; send a smaller one"
            )
        except web.HTTPNotFound:
            return self._refuse(
                request,
                404,
                f"there is no {request.path[:80]}; the API is described at /api/v1/openapi.yaml",
            )
        except web.HTTPMethodNotAllowed as e:
            return self._refuse(
                request,
                405,
                f"{request.path[:80]} takes {', '.join(sorted(e.allowed_methods))}, "
                f"not {request.method[:10]}",
            )

    def _refuse(
        self, request: web.Request, status: int, error: str, kind: str | None = None
    ) -> web.Response:
        self._refusals.log(
            f"{status}:{request.path[:80]}",
            "web_request_refused",
            status=status,
            method=request.method,
            path=request.path[:80],
            remote=request.remote,
            error=error,
        )
        refused = {} if kind is None else {"refused": kind}
        return web.json_response({"ok": False, "error": error, **refused}, status=status)


_PAGE_HEADERS = {
    # The page runs its own script and nothing else; text from the show is only ever text.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
