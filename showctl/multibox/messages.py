"""What the leader tells the other boxes: the scene that plays and its T0 on the wall clock.

Every message carries the show's digest (of its file's bytes): a box running another show (a
file not copied to every box, or one edited on one box only) refuses the message, saying
whose show it is, rather than play a scene of the wrong show. A message that is not one (not
JSON, a key missing or of the wrong kind) is refused with what is wrong; the box that receives
it counts it and goes on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: Hex digits of the digest carried: 64 bits tell any two edits of a show apart.
DIGEST_DIGITS = 16


def digest(show: Path) -> str:
    """The digest of the show file at ``show`` (its bytes: the same file on every box)."""
    return hashlib.sha256(show.read_bytes()).hexdigest()[:DIGEST_DIGITS]


@dataclass(frozen=True)
class SceneStart:
    """Scene ``scene`` plays from ``t0_ns`` (wall-clock ns) on every box, ``at`` s into it (0:
    from its start; more: taken up where it was, after a reload or a box's restart).
    ``entry`` counts the leader's scene entries: a later one replaces an earlier one."""

    show: str  # the show's digest
    leader: str
    entry: int
    scene: str
    t0_ns: int
    at: float = 0.0

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()


class Refused(ValueError):
    """A message refused, saying why in one sentence."""


#: Each key of :class:`SceneStart` and the types it may have.
KINDS: dict[str, tuple[type, ...]] = {
    "show": (str,),
    "leader": (str,),
    "entry": (int,),
    "scene": (str,),
    "t0_ns": (int,),
    "at": (int, float),
}


def decode(payload: bytes, show: str) -> SceneStart:
    """The scene start in ``payload``, for the show of digest ``show``. Raises
    :class:`Refused` saying why it cannot be one."""
    try:
        data: Any = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as e:
        raise Refused(f"not a scene start: not JSON ({e})") from e
    if not isinstance(data, dict):
        raise Refused("not a scene start: not a JSON object")
    for key, kinds in KINDS.items():
        value = data.get(key)
        if value is None and key == "at":
            continue
        if not isinstance(value, kinds) or isinstance(value, bool):
            raise Refused(f"not a scene start: {key!r} is {value!r}")
    if data["show"] != show:
        raise Refused(
            f"the leader {data['leader']!r} plays another show (digest {data['show']}, this "
            f"box's {show}): copy the same show file to every box"
        )
    return SceneStart(**{key: data[key] for key in KINDS if key in data})
