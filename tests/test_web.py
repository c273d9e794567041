"""The HTTP and WebSocket API on a real socket, over a real controller on simulated parts."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from structlog.testing import capture_logs

from showctl import log
from showctl.leds.matrix import Shown
from showctl.settings import WebSettings
from showctl.show import loader, model
from showctl.surfaces.web import MAX_BODY, WebSurface
from tests.harness.room import Room
from tests.test_controller import SMALL

#: Taken from everywhere, with this token (the settings file's rule for such an address).
OPEN = WebSettings(host="0.0.0.0", port=0, token="s3cret-token")
LOCAL = WebSettings(host="127.0.0.1", port=0)
#: Loopback with a token: any local user can reach it, so the token is needed too.
TOKEN = "s3cret-token"
LOCAL_WITH_TOKEN = WebSettings(host="127.0.0.1", port=0, token=TOKEN)


@dataclass
class Site:
    room: Room
    web: WebSurface
    http: aiohttp.ClientSession
    url: str

    async def post(
        self, action: str, body: object = None, **headers: str
    ) -> tuple[int, dict[str, Any]]:
        data = None if body is None else json.dumps(body)
        headers.setdefault("Content-Type", "application/json")
        async with self.http.post(f"{self.url}/api/v1/{action}", data=data, headers=headers) as r:
            return r.status, await r.json()

    async def get(self, path: str) -> tuple[int, dict[str, Any]]:
        async with self.http.get(f"{self.url}{path}") as r:
            return r.status, await r.json()


@asynccontextmanager
async def site(show_: model.Show, settings: WebSettings = LOCAL, **kw: Any) -> AsyncIterator[Site]:
    async with Room(show_) as room:
        web = WebSurface(settings, room.controller, **kw)
        await web.start()
        try:
            async with aiohttp.ClientSession() as http:
                yield Site(room, web, http, f"http://127.0.0.1:{web.port}")
        finally:
            await web.close()


def run(show_: model.Show, body: Callable[[Site], Awaitable[None]], **kw: Any) -> None:
    async def main() -> None:
        async with site(show_, **kw) as s:
            await body(s)

    asyncio.run(main())


@pytest.fixture
def small(tmp_path: Path) -> model.Show:
    from showctl.testing import write_wav

    write_wav(tmp_path / "media" / "tone.wav", seconds=1.0)
    path = tmp_path / "small.yaml"
    path.write_text(SMALL.format(restart="start-over"))
    return loader.load(path)


def test_the_buttons_move_the_show_and_answer_its_status(small) -> None:
    """Each POST does what the page's button says and answers the status it led to."""

    async def body(s: Site) -> None:
        status, answer = await s.post("trigger", {"name": "input:button"})
        assert (status, answer["flags"], answer["moved"]) == (200, ["pressed"], True)
        status, answer = await s.post("trigger", {"name": "go"})
        assert (status, answer["scene"]) == (200, "b")
        status, answer = await s.post("goto", {"scene": "a"})
        assert (status, answer["scene"], answer["flags"]) == (200, "a", ["pressed", "seen"])
        status, answer = await s.post("go")  # a's first transition with a scene: to b
        assert (status, answer["scene"]) == (200, "b")
        s.room.clock.advance(0.3)
        into = s.room.clock.now - s.room.controller.t0  # 0.3 s less the lead
        status, answer = await s.post("pause", {})
        assert (status, answer["paused"], answer["seconds"]) == (200, True, round(into, 3))
        s.room.clock.advance(5.0)
        assert (await s.get("/api/v1/status"))[1]["seconds"] == round(into, 3)
        status, answer = await s.post("resume")
        assert (status, answer["paused"], answer["scene"]) == (200, False, "b")
        assert s.room.outputs.plays[-1].t0 == pytest.approx(s.room.clock.now - into)
        status, answer = await s.post("reset")
        assert (status, answer["scene"], answer["flags"]) == (200, "a", [])
        status, shown = await s.get("/api/v1/show")
        assert shown["scenes"] == [
            {"name": "a", "description": ""},
            {"name": "b", "description": ""},
        ]
        assert (shown["events"], shown["inputs"]) == (["again", "back", "go"], ["button"])

    run(small, body)


def test_a_paused_show_takes_no_trigger_until_resumed(small) -> None:
    """While paused the timers stand still and triggers are ignored; resume goes on."""

    async def body(s: Site) -> None:
        await s.post("pause")
        await s.room.wait(60.0, step=1.0)  # far past a's 10-s timer
        status, answer = await s.post("trigger", {"name": "input:button"})
        assert (status, answer["moved"], answer["flags"], answer["scene"]) == (200, False, [], "a")
        assert answer["why"] == "the show is paused; resume it first"
        await s.post("resume")
        await s.room.wait(9.5, step=0.5)
        assert s.room.scene == "a"
        await s.room.wait(1.0)
        assert s.room.scene == "b"

    run(small, body)


#: Bad requests: (what, action, body as bytes, headers, status, words of the error).
BAD = [
    ("malformed JSON", "trigger", b'{"name": ', {}, 400, "not a JSON object"),
    ("a JSON array", "trigger", b'["go"]', {}, 400, "not a JSON object"),
    ("no name", "trigger", b'{"scene": "b"}', {}, 400, "trigger needs its name"),
    ("a name not a string", "trigger", b'{"name": 5}', {}, 400, "trigger needs its name"),
    ("an unknown event", "trigger", b'{"name": "fly"}', {}, 404, "no event or input 'fly'"),
    ("an unknown scene", "goto", b'{"scene": "moon"}', {}, 404, "no scene 'moon'"),
    ("an oversize body", "trigger", b'{"name": "' + b"x" * MAX_BODY + b'"}', {}, 413, "over"),
    ("not JSON", "reset", b"name=go", {"Content-Type": "text/plain"}, 415, "Content-Type"),
    ("another site", "reset", b"{}", {"Origin": "http://evil.example"}, 403, "evil.example"),
    ("an unknown action", "fly", b"{}", {}, 404, "there is no /api/v1/fly"),
]


@pytest.mark.parametrize(("what", "action", "data", "headers", "status", "words"), BAD)
def test_a_bad_request_gets_a_4xx_sentence_a_log_line_and_changes_nothing(
    small, what, action, data, headers, status, words
) -> None:
    """Never a crash, never a change: the answer says what is wrong; the log says so too."""

    async def body(s: Site) -> None:
        await s.post("trigger", {"name": "input:button"})
        before = s.room.controller.summary()
        entry = s.room.controller.entry
        head = {"Content-Type": "application/json", **headers}
        with capture_logs() as logs:
            async with s.http.post(f"{s.url}/api/v1/{action}", data=data, headers=head) as r:
                answer = await r.json()
                got = r.status
        assert (got, answer["ok"]) == (status, False), what
        assert words in answer["error"]
        assert [e["status"] for e in logs if e["event"] == "web_request_refused"] == [status]
        assert (s.room.controller.summary(), s.room.controller.entry) == (before, entry)
        assert (await s.get("/api/v1/status"))[0] == 200  # still answering

    run(small, body)


@pytest.mark.parametrize("settings", [OPEN, LOCAL_WITH_TOKEN], ids=["0.0.0.0", "127.0.0.1"])
def test_a_set_token_is_needed_by_every_action_wherever_it_listens(small, settings) -> None:
    """With a token set, on loopback as elsewhere: no token 401, a wrong one 403, the right
    one acts; reading needs none, and the status and the show say a token is required (the
    page asks for it then)."""

    async def body(s: Site) -> None:
        status, answer = await s.post("goto", {"scene": "b"})
        assert (status, answer.get("error", "").split(";")[0]) == (
            401,
            "this action needs the token of the settings file (web.token)",
        )
        status, answer = await s.post("goto", {"scene": "b"}, Authorization="Bearer nope")
        assert (status, s.room.scene) == (403, "a")
        assert (await s.get("/api/v1/status"))[1]["token_required"] is True
        assert (await s.get("/api/v1/show"))[1]["token_required"] is True
        status, answer = await s.post("goto", {"scene": "b"}, Authorization="Bearer s3cret-token")
        assert (status, answer["scene"], answer["token_required"]) == (200, "b", True)

    run(small, body, settings=settings)


def test_without_a_token_loopback_takes_every_action(small) -> None:
    """Loopback with no token set (the default): the actions need none, and the page is told so."""

    async def body(s: Site) -> None:
        assert (await s.get("/api/v1/status"))[1]["token_required"] is False
        status, answer = await s.post("goto", {"scene": "b"})
        assert (status, answer["scene"]) == (200, "b")

    run(small, body)


def test_the_status_names_the_next_scene_and_why_a_trigger_did_nothing(small) -> None:
    """``next`` is where ``POST go`` leads (the scene's first transition with a ``to``), null
    in the fault state; a trigger the scene does not take answers ``why`` in a sentence."""

    async def body(s: Site) -> None:
        assert (await s.get("/api/v1/status"))[1]["next"] == "b"
        status, answer = await s.post("trigger", {"name": "back"})
        assert (status, answer["moved"], answer["next"]) == (200, False, "b")
        assert answer["why"].startswith("scene 'a' does not take event 'back'")
        status, answer = await s.post("go")
        assert (status, answer["scene"], answer["next"]) == (200, "b", "a")  # b: audio_end to a
        status, answer = await s.post("trigger", {"name": "again"})
        assert (status, answer["moved"], answer["why"]) == (200, True, None)
        s.room.controller.enter_fault("every audio output has failed")
        await s.room.settle()
        status, answer = await s.get("/api/v1/status")
        assert (answer["scene"], answer["next"]) == ("fault", None)
        assert (await s.post("go"))[0] == 409  # the page's button is off then

    run(small, body)


def test_a_flood_is_answered_429_and_the_show_still_answers(small) -> None:
    """More than the rate from one address: the rest is refused, and logged once a second."""

    async def body(s: Site) -> None:
        with capture_logs() as logs:
            answers = [(await s.post("trigger", {"name": "again"}))[0] for _ in range(200)]
        assert answers[:40] == [200] * 40  # the burst
        assert answers.count(429) >= 200 - 40 - 20  # the bucket refills 20 a second
        refused = [e for e in logs if e["event"] == "web_request_refused"]
        assert 1 <= len(refused) <= 3
        assert (await s.get("/api/v1/status"))[0] == 200

    run(small, body)


def test_the_websocket_sends_the_status_the_matrix_and_the_log_as_they_change(small) -> None:
    """A page following /api/v1/ws sees a scene change, a matrix frame and the log line."""
    log.configure("info", "json", io.StringIO())  # as showctl run does: through logging

    async def body(s: Site) -> None:
        async with asyncio.timeout(10), s.http.ws_connect(f"{s.url}/api/v1/ws") as ws:
            first = await ws.receive_json(timeout=5)
            assert (first["type"], first["status"]["scene"]) == ("status", "a")
            await s.post("goto", {"scene": "b"})
            frame = np.array([[True, False], [False, True]])
            s.web.frame(Shown(at=0.25, due=0.0, shown=0.0, frame=frame))
            scene, rows, events = "a", None, []
            while scene != "b" or rows is None or "scene_entered" not in events:
                news = await ws.receive_json()
                if news["type"] == "status":
                    scene = news["status"]["scene"]
                elif news["type"] == "leds":
                    rows = news["rows"]
                else:
                    events += [line["event"] for line in news["lines"]]
            assert rows == ["10", "01"]

    try:
        run(small, body)
    finally:
        log.configure("warning", "json", io.StringIO())


def test_the_page_and_the_openapi_file_are_served_with_a_strict_policy(small) -> None:
    """The page runs only its own script; the API's description is where errors point."""

    async def body(s: Site) -> None:
        async with s.http.get(f"{s.url}/") as r:
            assert "script-src 'self'" in r.headers["Content-Security-Policy"]
            assert '<script src="/page/app.js"' in await r.text()
        async with s.http.get(f"{s.url}/page/app.js") as r:
            assert r.status == 200
        async with s.http.get(f"{s.url}/api/v1/openapi.yaml") as r:
            assert (await r.text()).startswith("openapi: 3.1.0")

    run(small, body)


def test_a_wifi_prop_sends_its_events_on_one_websocket_with_the_token(small) -> None:
    """One socket, many events: each message a command of the vocabulary, answered with its
    id; the token in the message (or the handshake's header) where one is needed; a message
    without it, not JSON or naming no command is refused in a sentence and the socket stays."""

    async def body(s: Site) -> None:
        async with s.http.ws_connect(f"{s.url}/api/v1/ws") as ws:

            async def ask(message: object) -> dict[str, Any]:
                await ws.send_str(json.dumps(message) if not isinstance(message, str) else message)
                while True:
                    news = await ws.receive_json(timeout=5)
                    if news["type"] == "answer":
                        return news

            refused = await ask({"cmd": "trigger", "name": "input:button", "id": 1})
            assert (refused["ok"], refused["id"]) == (False, 1)
            assert refused["error"].startswith("this action needs the token")
            wrong = await ask({"cmd": "trigger", "name": "go", "token": "nope"})
            assert wrong["error"].startswith("the token is wrong")
            pressed = await ask(
                {"cmd": "trigger", "name": "input:button", "token": TOKEN, "id": "chest-1"}
            )
            assert (pressed["ok"], pressed["id"], pressed["moved"]) == (True, "chest-1", True)
            moved = await ask({"cmd": "trigger", "name": "go", "token": TOKEN})
            assert moved["scene"] == "b"
            assert (await ask("not json"))["error"].startswith("a message is a JSON object")
            assert (await ask({"name": "go", "token": TOKEN}))["error"].startswith(
                "a message names its command"
            )
            unknown = await ask({"cmd": "trigger", "name": "nonsense", "token": TOKEN})
            assert (unknown["ok"], unknown["refused"]) == (False, "unknown_name")
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with s.http.ws_connect(f"{s.url}/api/v1/ws", headers=headers) as ws:
            await ws.send_json({"cmd": "goto", "scene": "a", "id": 7})
            while (news := await ws.receive_json(timeout=5))["type"] != "answer":
                pass
            assert (news["id"], news["scene"]) == (7, "a")

    run(small, body, settings=LOCAL_WITH_TOKEN)
