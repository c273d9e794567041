"""Boxes on one machine, as separate boxes on one switch: a network namespace each, joined by a
bridge on which the broker listens, and a time namespace each with its monotonic clock set off
by its own amount (``unshare --time --monotonic``), so that a T0 carried on the wall clock must
really be mapped onto each box's monotonic clock. Every box sees the same files (the sound
hub's sockets and ALSA configuration among them): all boxes play into one hub.

A box that plays into the sound hub cannot have a time namespace of its own: the hub's
PipeWire reports its timestamps on its own (the machine's) monotonic clock, and a player in
an offset namespace mixes the two (a player 250000 s off measured that it could place a sample
134307 s after a command: halfway between its clock and the hub's). Real boxes each have
their own audio server on their own clock; here, the boxes that play share the machine's
monotonic clock, and the wall-to-monotonic mapping is tested in time namespaces apart.

Needs root (network and time namespaces); CI has it. :class:`Network` is used in a ``with``
block: it takes away what it made, and what a run before it left.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness.broker import Broker

#: The bridge, and the addresses on it: the broker's (this machine's end) and each box's.
BRIDGE = "showctl-br0"
SUBNET = "10.77.0"
HOST = f"{SUBNET}.1"
PREFIX = "showctl-box"


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


@dataclass(frozen=True)
class Box:
    """A box: its name, its network namespace and address, and how far its monotonic clock is
    set off from this machine's (s)."""

    name: str
    namespace: str
    address: str
    monotonic_offset: int

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` as run on this box: in its network namespace and, with a monotonic offset,
        a time namespace of its own with its monotonic clock set off (a SIGTERM to
        ``unshare`` is passed on to it)."""
        timens = [
            "unshare", "--time", "--monotonic", str(self.monotonic_offset), "--fork",
            "--kill-child=SIGTERM",
        ] if self.monotonic_offset else []  # fmt: skip
        return ["ip", "netns", "exec", self.namespace, *timens, *argv]

    def run(self, argv: Sequence[str], **popen: Any) -> subprocess.Popen[Any]:
        return subprocess.Popen(self.command(argv), **popen)


@dataclass
class Network:
    """The bridge and its boxes: :meth:`add` a box; leaving the ``with`` block removes all."""

    boxes: list[Box] = field(default_factory=list)

    def __enter__(self) -> Network:
        self.close()  # what a run before left
        _ip("link", "add", BRIDGE, "type", "bridge")
        _ip("addr", "add", f"{HOST}/24", "dev", BRIDGE)
        _ip("link", "set", BRIDGE, "up")
        return self

    def add(self, name: str, monotonic_offset: int) -> Box:
        index = len(self.boxes) + 1
        box = Box(name, f"{PREFIX}{index}", f"{SUBNET}.{10 + index}", monotonic_offset)
        outside, inside = f"shbox{index}", f"shbox{index}p"
        _ip("netns", "add", box.namespace)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", box.namespace)
        _ip("link", "set", outside, "master", BRIDGE)
        _ip("link", "set", outside, "up")
        inner = ("netns", "exec", box.namespace, "ip")
        _ip(*inner, "addr", "add", f"{box.address}/24", "dev", inside)
        _ip(*inner, "link", "set", inside, "up")
        _ip(*inner, "link", "set", "lo", "up")
        self.boxes.append(box)
        return box

    def close(self) -> None:
        listed = subprocess.run(
            ["ip", "netns", "list"], capture_output=True, text=True, check=False
        )
        for words in (line.split() for line in listed.stdout.splitlines()):
            if words and words[0].startswith(PREFIX):
                subprocess.run(["ip", "netns", "delete", words[0]], check=False)
        subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True, check=False)
        self.boxes.clear()

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def bridged(folder: Path) -> Iterator[tuple[Network, Broker]]:
    """A :class:`Network`, and a broker (its files in ``folder``) listening on its bridge."""
    with Network() as net:
        broker = Broker(folder, host=HOST)
        broker.start()
        try:
            yield net, broker
        finally:
            broker.stop()


def box_settings(folder: Path, broker: Broker, me: str, web: int = 0) -> Path:
    """The settings file of box ``me`` (in ``folder``), whose leader is ``hall``, on
    ``broker``, with its web page on port ``web`` (0: none)."""
    path = folder / f"{me}.toml"
    path.write_text(
        f"[web]\nport = {web}\n"
        f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\nbase = "show"\n'
        f'[box]\nname = "{me}"\nleader = "hall"\n'
    )
    return path
