"""The local control socket, which the CLI's ``showctl status``, ``trigger``, ``go``... use.

A Unix socket that only the controller's user and group may use (the socket is mode 0660 in a
folder of mode 0750). A client sends one JSON object on a line and gets one back: a command of
:data:`showctl.commands.COMMANDS` with its arguments, ``{"cmd": "status"}``, ``{"cmd":
"trigger", "name": "room-ready"}``, ``{"cmd": "goto", "scene": "finale"}``, ``{"cmd":
"reload", "now": true}``.

Every answer has ``ok``; a refusal has ``error``, one sentence naming the thing and the fix,
and ``refused``, its kind. ``status`` is answered at once, whatever the controller is busy with.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from pathlib import Path
from typing import Any

import structlog

from showctl import commands
from showctl.commands import Answer, Refusal, refused
from showctl.controller import ShowController
from showctl.errors import ControlError

logger = structlog.get_logger()

#: The longest request line taken (bytes).
MAX_REQUEST = 4096


def default_socket() -> Path:
    """Where the controller listens: ``$SHOWCTL_SOCKET``; else systemd's runtime directory
    (``RuntimeDirectory=showctl``); else ``/run/showctl`` for root; else the user's runtime
    directory."""
    if "SHOWCTL_SOCKET" in os.environ:
        return Path(os.environ["SHOWCTL_SOCKET"])
    if "RUNTIME_DIRECTORY" in os.environ:
        return Path(os.environ["RUNTIME_DIRECTORY"].split(":")[0]) / "control.sock"
    if os.geteuid() == 0:
        return Path("/run/showctl/control.sock")
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/showctl-{os.geteuid()}"
    return Path(runtime) / "showctl" / "control.sock"


class ControlServer:
    """Answers the control socket for one controller: ``check_free()`` first, then
    ``await start(controller)``; ``close()`` ends it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.controller: ShowController | None = None
        self._server: asyncio.Server | None = None

    def check_free(self) -> None:
        """Raise :class:`ControlError` if another controller listens on the path (call it
        before starting anything else); remove a socket left by a controller that was killed."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(self.path))
            except (FileNotFoundError, ConnectionRefusedError):
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()  # nobody listens: left by a controller killed
                return
            except OSError:
                return  # not a socket we can use: start() will say why
        raise ControlError(
            f"another showctl controller is running and listening at {self.path}; "
            "stop it first (showctl status tells which show it runs)"
        )

    async def start(self, controller: ShowController) -> None:
        """Answer for ``controller`` (after :meth:`check_free`). Raises ``OSError``."""
        self.controller = controller
        self.path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        self._server = await asyncio.start_unix_server(
            self._client, path=str(self.path), limit=MAX_REQUEST
        )
        os.chmod(self.path, 0o660)
        logger.info("control_listening", socket=str(self.path))

    async def close(self) -> None:
        """Stop listening and remove the socket. Idempotent; never raises."""
        if self._server is not None:
            self._server.close()
            self._server = None
            with contextlib.suppress(OSError):
                self.path.unlink()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            answer = await self.answer(line)
            writer.write((json.dumps(answer) + "\n").encode())
            await writer.drain()
        except (ValueError, ConnectionError) as e:  # ValueError: a line over the limit
            logger.warning("control_request_failed", reason=str(e))
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def answer(self, line: bytes) -> Answer:
        """The answer to one request line. Never raises for what a client sends."""
        try:
            message = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            message = None
        if not isinstance(message, dict):
            answer = refused(
                Refusal.BAD_ARGUMENT,
                'a request is one JSON object on a line, such as {"cmd": "status"}',
            )
        else:
            assert self.controller is not None, "answers only after start()"
            answer = await commands.run(self.controller, str(message.get("cmd")), message)
        if not answer["ok"]:
            logger.warning("control_request_refused", error=answer["error"])
        return answer


async def request(path: Path, message: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """Send one request to the controller at ``path`` and return its answer. Raises
    :class:`ControlError` when none answers there."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_unix_connection(str(path))
            try:
                writer.write((json.dumps(message) + "\n").encode())
                await writer.drain()
                line = await reader.readline()
            finally:
                writer.close()
    except (FileNotFoundError, ConnectionRefusedError) as e:
        raise ControlError(
            f"no showctl controller is running at {path}; start one with 'showctl run SHOW' "
            "(or give its socket with --socket)"
        ) from e
    except PermissionError as e:
        raise ControlError(
            f"not allowed to talk to the controller at {path}; run as its user or a member "
            "of its group"
        ) from e
    except TimeoutError as e:
        raise ControlError(f"the controller at {path} did not answer within {timeout:g} s") from e
    answer = json.loads(line) if line else None
    if not isinstance(answer, dict):
        raise ControlError(f"the controller at {path} closed without answering")
    return answer
