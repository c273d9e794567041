"""JSON lines between the controller and its players: one object a line, UTF-8.

Commands to a player: ``{"cmd": "play", "clip": PATH, "loop": BOOL, "t0": SECONDS, "play": ID}``,
``{"cmd": "load", "clips": [{"clip": PATH, "loop": BOOL}, ...]}`` (keep these opened ahead),
``{"cmd": "stop", "fade": SECONDS, "at": SECONDS}`` (``at``: a T0, else now), ``{"cmd": "quit"}``.
Events from a player: ``{"event": "ready" | "heartbeat" | "started" | "finished" | "resynced" |
"error", ...}``; ``ready`` says how soon after a command a sample can be placed (``soonest``, s),
``started`` (with when the player had the command, ``queued``), ``finished`` and ``resynced``
(the clip stepped back onto the timeline by ``samples`` after a jump) name the play by its
``play`` ID.
A player's logs travel separately, as JSON lines on its stderr (:class:`LogLines`), which the
controller re-emits into its structured log tagged with the output and pid.

A player's lifetime is its controller's: it quits when told to (after the fade the controller
asked for) or when its stdin closes (the controller died), and ignores the signals that end a
process from outside (:data:`PLAYER_IGNORES`), which a terminal's Ctrl-C, ``timeout`` or
systemd send to every process of the show at once.
"""

from __future__ import annotations

import json
import signal
from typing import Any, TextIO

#: The signals a player ignores. The controller holds them blocked while it starts a player, so
#: that the player is born with them held and none can end it before it ignores them.
PLAYER_IGNORES = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


def encode(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, separators=(",", ":")) + "\n").encode()


def decode(line: bytes | str) -> dict[str, Any] | None:
    """The object on a line, or ``None`` for a line that is not one (it is logged, not fatal)."""
    try:
        value = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


class LogLines:
    """A player's log: ``{"event": NAME, "level": LEVEL, ...data}`` a line on ``stream``.

    Players log this way rather than through structlog, which with what it imports (asyncio,
    ssl) would cost each player 7.5 MB of memory for a handful of lines.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def _write(self, level: str, event: str, data: dict[str, Any]) -> None:
        self._stream.write(json.dumps({"event": event, "level": level, **data}, default=str))
        self._stream.write("\n")
        self._stream.flush()

    def info(self, event: str, **data: Any) -> None:
        self._write("info", event, data)

    def warning(self, event: str, **data: Any) -> None:
        self._write("warning", event, data)
