"""Fuzzing the HTTP API against its own description (showctl/openapi.yaml), with Hypothesis.

Every operation of the file gets arbitrary bodies (JSON of any shape, names real and made up,
bytes that are no JSON, bodies over the limit), content types and tokens. Whatever comes, the
answer's status is one the file declares for the operation, its body matches the declared
schema, and an answer other than 200 has changed nothing in the show.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from showctl.settings import WebSettings
from showctl.show import loader, model
from showctl.surfaces.web import MAX_BODY, OPENAPI, WebSurface
from tests.harness.room import Room
from tests.test_controller import SMALL

SPEC = yaml.safe_load(OPENAPI.read_text())
REGISTRY: Registry = Registry().with_resource(
    "urn:openapi", Resource.from_contents(SPEC, default_specification=DRAFT202012)
)
TOKEN = "fuzz-token"
OPERATIONS = [
    (path, method)
    for path, item in SPEC["paths"].items()
    for method in item
    if path not in ("/ws", "/openapi.yaml")
]


def schema_of(path: str, method: str, status: int) -> dict[str, Any] | None:
    """The JSON schema the file declares for this answer (as a reference into the file), or
    ``None`` when it declares no such status for the operation."""
    responses = SPEC["paths"][path][method]["responses"]
    if str(status) not in responses:
        return None
    response = responses[str(status)]
    if "$ref" in response:
        pointer = response["$ref"].removeprefix("#")
    else:
        pointer = f"/paths/{path.replace('/', '~1')}/{method}/responses/{status}"
    return {"$ref": f"urn:openapi#{pointer}/content/application~1json/schema"}


class Server:
    """A controller (on simulated parts) and its API, on a loop in a thread of their own."""

    def __init__(self, show_: model.Show) -> None:
        self.show = show_
        self.loop = asyncio.new_event_loop()
        self.ready: Future[int] = Future()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self.main(),))
        self.room: Room | None = None

    async def main(self) -> None:
        async with Room(self.show) as room:
            self.room = room
            web = WebSurface(
                WebSettings(host="0.0.0.0", port=0, token=TOKEN), room.controller, rate=1e6
            )
            await web.start()
            self.ready.set_result(web.port)
            while not self.stop.is_set():
                await asyncio.sleep(0.02)
            await web.close()

    def state(self) -> tuple[Any, int]:
        """The show's summary and its count of scene entries, read on the loop's thread."""

        async def read() -> tuple[Any, int]:
            assert self.room is not None
            c = self.room.controller
            return c.summary(), c.entry

        return asyncio.run_coroutine_threadsafe(read(), self.loop).result(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from showctl.testing import write_wav

    folder = tmp_path_factory.mktemp("fuzz")
    write_wav(folder / "media" / "tone.wav", seconds=1.0)
    (folder / "small.yaml").write_text(SMALL.format(restart="start-over"))
    s = Server(loader.load(folder / "small.yaml"))
    s.thread.start()
    s.port = s.ready.result(10)
    yield s
    s.stop.set()
    s.thread.join(10)


NAMES = st.sampled_from(["a", "b", "go", "back", "again", "input:button", "goto:a"]) | st.text(
    max_size=30
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
BODIES = st.one_of(
    st.none(),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({}, optional={"name": NAMES, "scene": NAMES}).map(
        lambda v: json.dumps(v).encode()
    ),
    st.binary(max_size=64),
    st.just(b'{"name": "' + b"x" * MAX_BODY + b'"}'),
)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    operation=st.sampled_from(OPERATIONS),
    body=BODIES,
    content_type=st.sampled_from(["application/json", "text/plain", None]),
    token=st.sampled_from([TOKEN, "wrong", None]),
    origin=st.sampled_from([None, "http://elsewhere.example"]),
)
def test_every_answer_is_declared_and_a_refusal_changes_nothing(
    server: Server,
    operation: tuple[str, str],
    body: bytes | None,
    content_type: str | None,
    token: str | None,
    origin: str | None,
) -> None:
    path, method = operation
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if origin is not None:
        headers["Origin"] = origin
    before = server.state()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method.upper(), f"/api/v1{path}", body=body, headers=headers)
        response = connection.getresponse()
        status, answer = response.status, json.loads(response.read())
    finally:
        connection.close()
    schema = schema_of(path, method, status)
    assert schema is not None, f"{method.upper()} {path} answered {status}, not in the file"
    jsonschema.Draft202012Validator(schema, registry=REGISTRY).validate(answer)
    if status != 200:
        assert server.state() == before


def test_the_file_describes_every_route_the_api_has() -> None:
    """No route without its description, and no description without its route."""
    app = WebSurface(WebSettings(), None).app()  # type: ignore[arg-type]  # routes only
    routes = {
        (route.resource.canonical, route.method.lower())
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/v1/")
        and route.method != "HEAD"
    }
    described = {
        (f"/api/v1{path}", method) for path, item in SPEC["paths"].items() for method in item
    }
    assert routes == described
