"""The one vocabulary of operator commands, and every surface offering all of it."""

from __future__ import annotations

import asyncio
import inspect
import json
from pathlib import Path

import yaml

from showctl.cli import build_parser
from showctl.commands import COMMANDS, Refusal, method
from showctl.controller import ShowController
from showctl.settings import OscSettings, WebSettings
from showctl.surfaces.control_socket import ControlServer
from showctl.surfaces.osc import PREFIX, OscSurface
from showctl.surfaces.web import OPENAPI, STATUS, WebSurface
from tests.harness.room import Room
from tests.test_control import ESCAPE_ROOM


def test_each_command_is_the_controller_method_of_its_name() -> None:
    """A command runs ShowController.NAME(**args): the table and the methods agree."""
    for command in COMMANDS.values():
        function = getattr(ShowController, method(command.name))
        parameters = list(inspect.signature(function).parameters.values())[1:]  # not self
        assert [p.name for p in parameters] == [a.name for a in command.args], command.name


def test_every_kind_of_refusal_has_its_http_status() -> None:
    assert set(STATUS) == set(Refusal)


def test_the_cli_and_the_http_api_offer_every_command_and_say_so() -> None:
    """``showctl NAME`` for each; ``POST /api/v1/NAME`` (``GET`` if it changes nothing) in the
    server's routes and in the OpenAPI file."""
    parser = build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command").choices
    spec = yaml.safe_load(OPENAPI.read_text())["paths"]
    controller = object.__new__(ShowController)  # the routes are made without one running
    routes = {
        (r.method, r.resource.canonical)
        for r in WebSurface(WebSettings(), controller).app().router.routes()
        if r.resource is not None
    }
    for command in COMMANDS.values():
        method = "post" if command.changes else "get"
        assert command.name in subcommands
        assert method in spec[f"/{command.name}"], command.name
        assert (method.upper(), f"/api/v1/{command.name}") in routes
        body = spec[f"/{command.name}"][method].get("requestBody", {})
        schema = body.get("content", {}).get("application/json", {}).get("schema", {})
        assert set(schema.get("properties", {})) == {a.name for a in command.args}


def test_the_socket_and_osc_offer_every_command() -> None:
    """Each command, sent over the control socket and over OSC, is carried out: none is
    refused as unknown (status, pause and resume change the state, the others are refused
    for the show's reasons or carried out)."""

    async def main() -> None:
        async with Room(ESCAPE_ROOM) as room:
            socket = ControlServer(Path("unused"))
            socket.controller = room.controller
            osc = OscSurface(OscSettings(port=0), room.controller)
            examples = {
                "name": "room-ready",
                "scene": "intro",
                "now": False,
                "relay": "drawer",
                "duration": "500ms",
                "clock": "game",
                "time": "-2min",
                "text": "Look up",
                "output": "room",
                "db": "-6",
            }
            for command in COMMANDS.values():
                args = {a.name: examples[a.name] for a in command.args}
                line = json.dumps({"cmd": command.name, **args}).encode()
                answer = await socket.answer(line)
                assert answer.get("refused") != "unknown_command", (command.name, answer)
                address = PREFIX + "/".join([command.name, *(str(v) for v in args.values() if v)])
                answer = await osc._act(address)
                assert answer.get("refused") != "unknown_command", (address, answer)
            paused = await socket.answer(b'{"cmd": "pause"}')
            assert paused["paused"] is True
            assert (await osc._act(PREFIX + "resume"))["paused"] is False

    asyncio.run(main())
