"""The show's state on disk: the current scene, when it started, the flags, the counters, the
game clocks, the latest hints given, where the opening hours closed the show, and the levels
set on site.

Written at every change, atomically: the new state goes to a temporary file beside the old one,
is flushed to the disk (``fsync``), and then renamed over it, and the folder is flushed too. A
rename is atomic, so whenever the process is killed, the file holds either the old state or
the new one, whole. Reading never raises: a file that is missing, unreadable or not a state
(from another version, or damaged by the disk itself) is reported and taken as none, and the
show starts over.

``started`` is wall-clock time (seconds since the epoch): after a reboot the monotonic clock
starts again from zero, and the show's policy may want to resume a scene where it was.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

logger = structlog.get_logger()

FORMAT = 1


@dataclass(frozen=True)
class SavedState:
    """What the controller needs to take up a show again after a restart."""

    show: str  # the show file's name, so that another show's state is not taken for its own
    scene: str
    started: float  # wall-clock seconds when the scene began (its T0)
    flags: frozenset[str] = frozenset()
    counters: Mapping[str, int] = field(default_factory=dict)
    #: Each game clock: its time ``left`` (s) at the wall-clock time ``at``, and ``running``.
    clocks: Mapping[str, Mapping[str, float | bool]] = field(default_factory=dict)
    #: The latest hints given, the latest last: {name (None: typed), text, count, at}.
    hints: tuple[Mapping[str, Any], ...] = ()
    #: Where the opening hours closed the show: the scene, and how far into it (s).
    reopen: tuple[str, float] | None = None
    #: The levels set on site (dB), by output or ``master``.
    levels: Mapping[str, float] = field(default_factory=dict)


def save(path: Path, state: SavedState) -> None:
    """Write ``state`` to ``path`` atomically and durably. Blocking (two fsyncs); raises
    ``OSError`` if the disk refuses, leaving the previous state in place."""
    record = {
        "format": FORMAT,
        "show": state.show,
        "scene": state.scene,
        "started": state.started,
        "flags": sorted(state.flags),
        "counters": dict(state.counters),
        "clocks": {name: dict(clock) for name, clock in state.clocks.items()},
        "hints": [dict(hint) for hint in state.hints],
        "reopen": list(state.reopen) if state.reopen is not None else None,
        "levels": dict(state.levels),
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as f:
            json.dump(record, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)  # the rename itself reaches the disk
    finally:
        os.close(folder)


def load(path: Path, show: str) -> SavedState | None:
    """The state saved for ``show`` at ``path``, or ``None`` (nothing saved, or nothing usable:
    logged as ``state_unusable`` with the reason). Never raises. Removes the temporary files
    of writers killed mid-write: call it at start-up, before anything saves."""
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(OSError):
            leftover.unlink()
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise ValueError(f"not a showctl state of format {FORMAT}")
        state = SavedState(
            show=str(record["show"]),
            scene=str(record["scene"]),
            started=float(record["started"]),
            flags=frozenset(str(flag) for flag in record["flags"]),
            counters={str(k): int(v) for k, v in record.get("counters", {}).items()},
            clocks={
                str(name): {
                    "left": float(clock["left"]),
                    "running": bool(clock["running"]),
                    "at": float(clock["at"]),
                }
                for name, clock in record.get("clocks", {}).items()
            },
            hints=tuple(
                {
                    "name": None if hint["name"] is None else str(hint["name"]),
                    "text": str(hint["text"]),
                    "count": int(hint["count"]),
                    "at": float(hint["at"]),
                }
                for hint in record.get("hints", [])
            ),
            reopen=_reopen(record.get("reopen")),
            levels={str(k): float(v) for k, v in record.get("levels", {}).items()},
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        logger.warning("state_unusable", path=str(path), reason=str(e), hint="starting over")
        return None
    if state.show != show:
        logger.info("state_of_another_show", path=str(path), saved_for=state.show)
        return None
    return state


def _reopen(value: Any) -> tuple[str, float] | None:
    if value is None:
        return None
    scene, at = value
    return str(scene), float(at)


def default_path(show_file: Path) -> Path:
    """Where a show's state is kept: in :func:`default_folder`, named after the show file."""
    return default_folder() / f"{show_file.stem}.state.json"


def default_folder() -> Path:
    """Where states are kept: systemd's state directory (``StateDirectory=``), else
    ``/var/lib/showctl`` for root, else the user's state folder."""
    if "STATE_DIRECTORY" in os.environ:
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    if os.geteuid() == 0:
        return Path("/var/lib/showctl")
    home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(home) / "showctl"
