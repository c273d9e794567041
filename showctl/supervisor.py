"""The players of a show: one process per output, started, commanded and heard from.

:class:`PlayerPool` starts ``python -m showctl player`` for every output, waits until each says
``ready``, sends commands, and collects events; each player's stderr (its JSON log lines) is
forwarded into this process's log, tagged with the output and the pid. :func:`play_scene`
plays a scene's clips on every output at one common T0 and reports what each output did.

Restarting players that die or hang (supervision) builds on this; see DESIGN.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from showctl import ipc
from showctl.errors import ShowctlError
from showctl.show import Output, Show

logger = structlog.get_logger()

#: How far ahead of "now" a scene's T0 is put by default: time for every player to get the
#: command and prepare its clip before the first sample is due.
DEFAULT_LEAD = 0.15


class PlayerError(ShowctlError, RuntimeError):
    """A player that could not start or play; the message names the output and the fix."""


@dataclass
class PlayerProcess:
    """One running player process and what it has said."""

    output: str
    process: asyncio.subprocess.Process
    events: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    last: dict[str, dict[str, Any]] = field(default_factory=dict)  # the latest event of a kind

    @property
    def pid(self) -> int:
        return self.process.pid

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(ipc.encode(message))
        with contextlib.suppress(ConnectionError):
            await self.process.stdin.drain()

    async def wait_for(self, kind: str, timeout: float | None) -> dict[str, Any]:
        """The next event of ``kind``; an ``error`` event or the process ending raises."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.events.get()
                if event.get("event") == kind:
                    return event
                if event.get("event") in ("error", "exited"):
                    raise PlayerError(
                        event.get("message") or f"the player of output {self.output!r} exited"
                    )


class PlayerPool:
    """Player processes for a set of outputs. Use ``async with``; leaving stops them all."""

    def __init__(
        self,
        outputs: Mapping[str, Output],
        *,
        backend: str = "sounddevice",
        capture: Path | None = None,
        env: Mapping[str, str] | None = None,
        lock: bool = True,
    ) -> None:
        self.outputs = outputs
        self.backend = backend
        self.capture = capture
        self.lock = lock  # off only to measure (see the player's --no-drift-lock)
        self.env = {**os.environ, **(env or {})}
        self.players: dict[str, PlayerProcess] = {}
        #: When set, every event goes here (output, event) instead of the players' queues,
        #: which only :meth:`PlayerProcess.wait_for` reads: a controller listens this way.
        self.on_event: Callable[[str, dict[str, Any]], None] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> PlayerPool:
        try:
            await self.start()
        except BaseException:
            await self.close()  # the players that did start must not outlive a failed start
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self, timeout: float = 30.0) -> None:
        """Start every player and wait until all are ready. Raises :class:`PlayerError`."""
        for name, output in self.outputs.items():
            args = [
                sys.executable,
                "-m",
                "showctl",
                "player",
                "--output",
                name,
                "--device",
                output.device,
                "--rate",
                str(output.rate),
                "--backend",
                self.backend,
            ]
            if self.capture is not None:
                args += ["--capture", str(self.capture)]
            if not self.lock:
                args.append("--no-drift-lock")
            process = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self.env,
            )
            player = PlayerProcess(name, process)
            self.players[name] = player
            self._tasks.append(
                asyncio.create_task(self._read_events(player), name=f"events:{name}")
            )
            self._tasks.append(asyncio.create_task(self._forward_logs(player), name=f"logs:{name}"))
            logger.info("player_started", output=name, pid=process.pid)
        await asyncio.gather(*(p.wait_for("ready", timeout) for p in self.players.values()))

    @property
    def soonest(self) -> float:
        """How soon after a command every player can place a sample (s), by their ``ready``."""
        return max((float(p.last["ready"]["soonest"]) for p in self.players.values()), default=0)

    def health(self) -> dict[str, dict[str, Any]]:
        """Each output's player: its pid, whether it runs, and its latest heartbeat's counts."""
        out = {}
        for name, p in self.players.items():
            beat = p.last.get("heartbeat", {})
            out[name] = {
                "pid": p.pid,
                "alive": p.process.returncode is None,
                "playing": bool(beat.get("playing", False)),
                "underruns": int(beat.get("underruns", 0)),  # the clip not read in time
                "xruns": int(beat.get("xruns", 0)),  # the device not fed in time
            }
        return out

    async def play(self, clips: Mapping[str, tuple[Path, bool]], t0: float, play: int = 0) -> None:
        """Send every output its clip (path, loop) to start at ``t0`` (monotonic seconds);
        their ``started`` and ``finished`` events carry ``play``."""
        await asyncio.gather(
            *(
                self.players[name].send(
                    {"cmd": "play", "clip": str(path), "loop": loop, "t0": t0, "play": play}
                )
                for name, (path, loop) in clips.items()
            )
        )

    async def load(self, clips: Mapping[str, Collection[tuple[Path, bool]]]) -> None:
        """Have each output keep these clips (path, loop) opened ahead, and no others."""
        await asyncio.gather(
            *(
                player.send(
                    {
                        "cmd": "load",
                        "clips": [
                            {"clip": str(path), "loop": loop}
                            for path, loop in sorted(clips.get(name, ()))
                        ],
                    }
                )
                for name, player in self.players.items()
            )
        )

    async def stop(
        self, fade: float = 0.0, outputs: Collection[str] | None = None, at: float | None = None
    ) -> None:
        """Stop the given outputs (default: all) at ``at`` (a T0; default: now), at once or
        fading out over ``fade`` s."""
        names = self.players if outputs is None else outputs
        await asyncio.gather(
            *(self.players[name].send({"cmd": "stop", "fade": fade, "at": at}) for name in names)
        )

    async def close(self) -> None:
        """Ask every player to quit, then make sure they have. Never raises."""
        for player in self.players.values():
            with contextlib.suppress(Exception):
                await player.send({"cmd": "quit"})
        for player in self.players.values():
            try:
                await asyncio.wait_for(player.process.wait(), 3)
            except (TimeoutError, ProcessLookupError):
                with contextlib.suppress(ProcessLookupError):
                    player.process.kill()
                    await player.process.wait()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _read_events(self, player: PlayerProcess) -> None:
        assert player.process.stdout is not None
        async for line in player.process.stdout:
            event = ipc.decode(line)
            if event is None:
                logger.warning(
                    "player_said_nonsense",
                    output=player.output,
                    pid=player.pid,
                    line=line[:200].decode(errors="replace"),
                )
                continue
            player.last[str(event.get("event"))] = event
            if event.get("event") == "error":
                logger.error(
                    "player_error",
                    output=player.output,
                    pid=player.pid,
                    message=event.get("message"),
                )
            await self._deliver(player, event)
        code = await player.process.wait()
        player.last["exited"] = {"event": "exited", "code": code}
        await self._deliver(player, player.last["exited"])

    async def _deliver(self, player: PlayerProcess, event: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(player.output, event)
        else:
            await player.events.put(event)

    async def _forward_logs(self, player: PlayerProcess) -> None:
        """Re-emit a player's JSON log lines here, tagged with its output and pid."""
        assert player.process.stderr is not None
        async for line in player.process.stderr:
            record = ipc.decode(line)
            if record is None:  # a library writing to stderr, or a traceback
                text = line.decode(errors="replace").rstrip()
                if text:  # ALSA lists every PCM it probes at start-up: noise, unless debugging
                    level = 10 if text.startswith("ALSA lib ") else 30
                    logger.log(
                        level,
                        "player_stderr",
                        output=player.output,
                        pid=player.pid,
                        text=text[:300],
                    )
                continue
            event = str(record.pop("event", "player_log"))
            level_name = str(record.pop("level", "info"))
            for key in ("timestamp", "logger", "output"):
                record.pop(key, None)
            logger.log(
                _LEVELS.get(level_name, 20), event, output=player.output, pid=player.pid, **record
            )


_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


@dataclass(frozen=True)
class SceneReport:
    """What each output did when a scene was played: its ``started`` and ``finished`` events."""

    t0: float
    started: Mapping[str, dict[str, Any]]
    finished: Mapping[str, dict[str, Any]]

    @property
    def skew(self) -> float:
        """Spread of the outputs' own estimates of when their first sample left (seconds)."""
        times = [e["dac_time"] for e in self.started.values()]
        return max(times) - min(times) if times else 0.0


def scene_clips(show: Show, scene: str) -> dict[str, tuple[Path, bool]]:
    """Every output's clip in a scene, as (file, loop); silent outputs are left out."""
    return {
        output: (show.clip_path(play.clip), play.loop)
        for output, play in show.scenes[scene].audio.items()
        if play.clip is not None
    }


async def play_scene(
    pool: PlayerPool,
    show: Show,
    scene: str,
    *,
    lead: float = DEFAULT_LEAD,
    wait: bool = True,
    timeout: float | None = None,
) -> SceneReport:
    """Play a scene's clips on every output at one T0 = now + ``lead``.

    With ``wait``, returns when every clip played once has finished (or after ``timeout``);
    otherwise once every output has started.
    """
    clips = scene_clips(show, scene)
    t0 = time.monotonic() + lead
    await pool.play(clips, t0)
    started = dict(
        zip(
            clips,
            await asyncio.gather(
                *(pool.players[name].wait_for("started", lead + 5.0) for name in clips)
            ),
            strict=True,
        )
    )
    logger.info("scene_started", scene=scene, t0=round(t0, 6), outputs=len(clips))
    finished: dict[str, dict[str, Any]] = {}
    once = [name for name, (_, loop) in clips.items() if not loop]
    if wait and once:
        with contextlib.suppress(TimeoutError):  # the report says what had finished by then
            async with asyncio.timeout(timeout):
                for name in once:
                    finished[name] = await pool.players[name].wait_for("finished", None)
    return SceneReport(t0, started, finished)
