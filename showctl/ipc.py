"""JSON lines between the controller and its players: one object a line, UTF-8.

Commands to a player: ``{"cmd": "play", "clip": PATH, "loop": BOOL, "t0": SECONDS}``,
``{"cmd": "stop", "fade": SECONDS}``, ``{"cmd": "quit"}``.
Events from a player: ``{"event": "ready" | "heartbeat" | "started" | "finished" | "error", ...}``.
A player's logs travel separately, as structlog JSON lines on its stderr.
"""

from __future__ import annotations

import json
from typing import Any


def encode(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, separators=(",", ":")) + "\n").encode()


def decode(line: bytes | str) -> dict[str, Any] | None:
    """The object on a line, or ``None`` for a line that is not one (it is logged, not fatal)."""
    try:
        value = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None
