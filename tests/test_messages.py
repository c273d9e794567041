"""The show's messages against the real things: OSC to a UDP socket, HTTP through the HTTP
sender's process to aiohttp's test server (one endpoint that answers, one that fails, one that
never answers), and what is logged and counted when a target fails.

The network runs in real time; every wait on it is a bounded poll for a condition.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from pythonosc.osc_message import OscMessage
from structlog.testing import capture_logs

from showctl.room.messages import MAX_REQUESTS, Messages
from showctl.show.model import HttpRequest, Publish, SendOsc

NETWORK = 5.0


async def until(condition: Callable[[], bool], timeout: float = NETWORK) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "not in time"
        await asyncio.sleep(0.005)


@asynccontextmanager
async def messages(**targets: tuple[str, int]) -> AsyncIterator[Messages]:
    sender = Messages(targets)
    await sender.start()
    try:
        yield sender
    finally:
        await sender.close()


def test_an_osc_message_reaches_its_target_with_its_arguments() -> None:
    async def main() -> None:
        desk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        desk.bind(("127.0.0.1", 0))
        desk.setblocking(False)
        async with messages(desk=("127.0.0.1", desk.getsockname()[1])) as sender:
            sender.send(SendOsc("/cue/12/go", to="desk", args=(255, "strike")))
            sender.send(SendOsc("/lights/1", to="desk"))
            got: list[OscMessage] = []

            def received() -> bool:
                with suppress(BlockingIOError):
                    got.append(OscMessage(desk.recv(4096)))
                return len(got) == 2

            await until(received)
        desk.close()
        assert [(m.address, m.params) for m in got] == [
            ("/cue/12/go", [255.0, "strike"]),
            ("/lights/1", []),
        ]
        assert sender.sent == {"osc": 2}

    asyncio.run(main())


def test_an_osc_target_that_does_not_resolve_is_said_once_and_counted() -> None:
    async def main() -> None:
        async with messages(desk=("no-such-desk.invalid", 53000)) as sender:
            with capture_logs() as logs:
                for _ in range(3):
                    sender.send(SendOsc("/go", to="desk"))
                await until(lambda: sender.failed["osc"] == 3)
        failed = [e for e in logs if e["event"] == "message_failed"]
        assert len(failed) == 1
        assert failed[0]["target"] == "osc desk"
        assert failed[0]["cause"].startswith("no-such-desk.invalid cannot be found")
        assert sender.state()["failing"]["osc desk"].endswith("(3 times)")

    asyncio.run(main())


@asynccontextmanager
async def endpoint() -> AsyncIterator[tuple[TestServer, list[dict[str, Any]], asyncio.Event]]:
    """An HTTP server: ``/ok`` records its JSON body and answers 204, ``/broken`` answers 500,
    ``/never`` holds the request until the test ends."""
    bodies: list[dict[str, Any]] = []
    release = asyncio.Event()

    async def ok(request: web.Request) -> web.Response:
        bodies.append({"method": request.method, **(await request.json())})
        return web.Response(status=204)

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500, reason="Internal Server Error")

    async def never(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response()

    app = web.Application()
    app.router.add_route("*", "/ok", ok)
    app.router.add_route("*", "/broken", broken)
    app.router.add_route("*", "/never", never)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server, bodies, release
    finally:
        release.set()
        await server.close()


def test_http_requests_carry_their_method_and_body_and_failures_are_said_once() -> None:
    async def main() -> None:
        async with endpoint() as (server, bodies, _), messages() as sender:
            url = str(server.make_url(""))
            with capture_logs() as logs:
                sender.send(HttpRequest(f"{url}/ok", body={"door": "open", "level": 3}))
                sender.send(HttpRequest(f"{url}/ok", method="PUT", body={"on": True}))
                await until(lambda: sender.sent["http"] == 2)
                for _ in range(2):
                    sender.send(HttpRequest(f"{url}/broken"))
                await until(lambda: sender.failed["http"] == 2)
        assert sorted(bodies, key=json.dumps) == sorted(
            [{"method": "POST", "door": "open", "level": 3}, {"method": "PUT", "on": True}],
            key=json.dumps,
        )
        failed = [(e["target"], e["cause"]) for e in logs if e["event"] == "message_failed"]
        assert failed == [(f"http POST {url}/broken", "answered 500 Internal Server Error")]

    asyncio.run(main())


def local(server: TestServer) -> str:
    """The server's URL by the name localhost: another server to showctl than 127.0.0.1."""
    return str(server.make_url("")).replace("127.0.0.1", "localhost").rstrip("/")


def test_an_endpoint_that_never_answers_costs_the_loop_nothing_and_times_out() -> None:
    """Requests to an endpoint that holds them: each send returns at once, the loop keeps its
    pace meanwhile, and each request fails at its timeout (logged once); past
    MAX_REQUESTS waiting, more to that server are dropped and counted, while a request to
    another server goes through."""

    async def main() -> None:
        async with endpoint() as (server, _, _), messages() as sender:
            never = HttpRequest(f"{server.make_url('')}/never", timeout=0.5)
            with capture_logs() as logs:
                for _ in range(MAX_REQUESTS + 2):
                    sender.send(never)
                assert sender.failed["http"] == 2, "the two past the limit, dropped at once"
                sender.send(HttpRequest(local(server) + "/ok", body={"x": 1}))
                await until(lambda: sender.sent["http"] == 1)  # another server: not starved
                lags = []
                end = time.monotonic() + 0.4
                while time.monotonic() < end:
                    before = time.monotonic()
                    await asyncio.sleep(0.01)
                    lags.append(time.monotonic() - before - 0.01)
                await until(lambda: sender.failed["http"] == MAX_REQUESTS + 2)
            causes = [e["cause"] for e in logs if e["event"] == "message_failed"]
            origin = str(server.make_url("").origin())
            assert causes == [
                f"{MAX_REQUESTS} requests to {origin} are waiting for their answers already",
                "no answer within 0.5s",
            ]
            assert len(lags) > 10  # the loop went round all along (how fast: the benchmark)

    asyncio.run(main())


def test_a_sender_that_dies_fails_its_requests_and_is_started_again() -> None:
    """The HTTP sender killed while a request waits for its answer: that request fails with
    the cause, and the next request goes through the sender started in its place."""

    async def main() -> None:
        async with endpoint() as (server, bodies, _), messages() as sender:
            url = str(server.make_url(""))
            await sender.start(http=True)
            process = sender._http._process
            assert process is not None
            with capture_logs() as logs:
                sender.send(HttpRequest(f"{url}/never", timeout=30))
                await asyncio.sleep(0.2)
                process.kill()
                await until(lambda: sender.failed["http"] == 1)
                sender.send(HttpRequest(f"{url}/ok", body={"after": True}))
                await until(lambda: sender.sent["http"] == 1)
        assert bodies == [{"method": "POST", "after": True}]
        events = [(e["event"], e.get("cause", e.get("status"))) for e in logs]
        assert events == [
            ("http_sender_exited", -9),
            ("message_failed", "the HTTP sender stopped (exit status -9)"),
        ]

    asyncio.run(main())


def test_a_target_back_says_so_with_the_count_of_failures() -> None:
    async def main() -> None:
        async with messages() as sender:
            answers: list[str | None] = ["the broker is away", "the broker is away", None]
            sender.mqtt = lambda topic, payload, qos, retain: answers.pop(0)
            with capture_logs() as logs:
                for _ in range(3):
                    sender.send(Publish("room1/chest", payload="open"))
            assert [e["event"] for e in logs] == ["message_failed", "message_target_back"]
            assert logs[1]["failed"] == 2
            assert sender.state() == {"sent": {"mqtt": 1}, "failed": {"mqtt": 2}, "failing": {}}

    asyncio.run(main())


def test_a_publish_without_a_broker_is_failed_with_the_fix() -> None:
    async def main() -> None:
        async with messages() as sender:
            sender.send(Publish("room1/chest"))
            assert sender.state()["failing"] == {
                "mqtt room1/chest": "the settings name no MQTT broker ([mqtt] host) (1 time)"
            }

    asyncio.run(main())
