"""The control socket's answers to what a client may send, good and bad."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from showctl.errors import ControlError
from showctl.players.outputs import OutputHealth
from showctl.show import loader
from showctl.surfaces.control_socket import MAX_REQUEST, ControlServer, request
from tests.conftest import ROOT
from tests.harness.room import Room

ESCAPE_ROOM = loader.load(ROOT / "shows" / "escape-room.yaml")


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"{not json\n", 'a request is one JSON object on a line, such as {"cmd": "status"}'),
        (b"[1, 2]\n", 'a request is one JSON object on a line, such as {"cmd": "status"}'),
        (b"\xff\xfe\n", 'a request is one JSON object on a line, such as {"cmd": "status"}'),
        (
            b'{"cmd": "explode"}\n',
            "showctl has no command 'explode'; its commands are: status, trigger, goto, go, "
            "reset, pause, resume, reload, power, unpower, pulse, action, sound, hint, "
            "hint-text, add-time, start-clock, stop-clock, level, emergency, all-clear",
        ),
        (
            b'{"cmd": "trigger"}\n',
            "trigger needs its name (the event, or input:NAME for an input), such as 'door-opened'",
        ),
        (
            b'{"cmd": "trigger", "name": "after:0"}\n',
            "the show has no event or input 'after:0'; it has: input:door, input:gears, "
            "input:portrait, input:start, room-ready, time-up",
        ),
    ],
)
def test_a_bad_request_is_refused_in_one_sentence_and_changes_nothing(
    line: bytes, error: str
) -> None:
    async def ask() -> dict:
        async with Room(ESCAPE_ROOM) as room:
            server = ControlServer(Path("unused"))
            server.controller = room.controller
            with capture_logs():
                answer = await server.answer(line)
            assert room.scene == "idle"
            assert room.controller.entry == 1
            return answer

    answer = asyncio.run(ask())
    assert (answer["ok"], answer["error"]) == (False, error)


def test_an_oversize_request_is_dropped_and_the_socket_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "run" / "control.sock"

    async def main() -> dict:
        async with Room(ESCAPE_ROOM) as room:
            server = ControlServer(path)
            server.check_free()
            await server.start(room.controller)
            try:
                reader, writer = await asyncio.open_unix_connection(str(path))
                writer.write(b"x" * (MAX_REQUEST * 4) + b"\n")
                await writer.drain()
                assert await reader.read() == b"", "closed without an answer"
                writer.close()
                return await request(path, {"cmd": "status"})
            finally:
                await server.close()

    with capture_logs() as logs:
        status = asyncio.run(main())
    assert status["scene"] == "idle"
    assert [e["event"] for e in logs].count("control_request_failed") == 1
    assert not path.exists(), "the socket goes when the server closes"


def test_a_socket_left_by_a_killed_controller_is_taken_over(tmp_path: Path) -> None:
    import socket

    path = tmp_path / "control.sock"
    left = socket.socket(socket.AF_UNIX)
    left.bind(str(path))  # bound, never listening, then gone: what a SIGKILL leaves
    left.close()
    ControlServer(path).check_free()
    assert not path.exists()
    with pytest.raises(ControlError, match="no showctl controller is running at"):
        asyncio.run(request(path, {"cmd": "status"}))


def test_status_is_json() -> None:
    async def status() -> dict:
        async with Room(ESCAPE_ROOM) as room:
            return room.controller.status()

    answer = asyncio.run(status())
    assert json.loads(json.dumps(answer)) == answer
    outputs = answer["outputs"]
    assert [(n, o["failed"], o["playing"]) for n, o in outputs.items()] == [
        ("room", None, True),
        ("hint", None, False),
    ]
    assert set(outputs["room"]) == {f.name for f in dataclasses.fields(OutputHealth)} | {
        "delay",
        "trim",
    }
