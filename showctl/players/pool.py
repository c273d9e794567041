"""The players of a show: one process per output, started, commanded, heard from and kept alive.

:class:`PlayerPool` starts ``python -m showctl player`` for every output, waits until each says
``ready``, sends commands, and collects events; each player's stderr (its JSON log lines) is
forwarded into this process's log, tagged with the output and the pid. :func:`play_scene`
plays a scene's clips on every output at one common T0 and reports what each output did.

Supervised (``supervise=True``), the pool restarts a player that dies or hangs (no event for
the policy's ``heartbeat_timeout``): a fresh process for that output is given the clips it had
loaded and the clip it was playing, with its T0, so it joins the running scene at the right
sample while the other outputs play on. When, and when an output is failed instead (the show
runs degraded) and tried again, is the :class:`~.restarts.RestartPolicy`'s to say.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Collection, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import structlog

from showctl import realtime
from showctl.clock import Clock, MonotonicClock
from showctl.errors import ShowctlError
from showctl.players import protocol
from showctl.players.outputs import Clip, OutputHealth, OutputListener
from showctl.players.restarts import RestartPolicy, next_restart
from showctl.show.model import Output, Show

logger = structlog.get_logger()

#: How far ahead of "now" a scene's T0 is put by default: time for every player to get the
#: command and prepare its clip before the first sample is due.
DEFAULT_LEAD = 0.15
#: A player's measured clock error (its heartbeats' ``ppm``) is taken as its card's once the
#: player has run this long (seconds), and given to the next player of that output.
RATE_LEARNED = 20.0
#: How long the players together are given to quit before they are killed (seconds).
QUIT_WAIT = 1.0
#: How long a play command takes to reach a player's audio thread (seconds), as the players'
#: ``started`` events and their answers to pings tell it: the latest DELIVERIES are kept, and
#: :attr:`PlayerPool.soonest` covers the longest of them and DELIVERY_MARGIN of it again, at
#: least DELIVERY_FLOOR, and DELIVERY_UNKNOWN before any. (Their 99th percentile would leave one
#: command in a hundred late: a start in twelve on 8 outputs. The longest alone still leaves a
#: command that outdoes all of the latest 256, about one in 257, and cut 2 starts in 100 on a
#: busy machine; a quarter again cost about 1 ms of every start's lead on a quiet one.)
DELIVERIES = 256
DELIVERY_FLOOR = 0.001
DELIVERY_UNKNOWN = 0.02
DELIVERY_MARGIN = 0.25
#: The commands' way is measured before any start needs it, and kept fresh between starts: at
#: start PING_ROUNDS pings to every player, each round once the last is answered (or PING_WAIT
#: s have passed), and one to every player each PING_EVERY s after; each goes the way a play
#: goes, and its answer says when it came.
PING_ROUNDS = 32
PING_WAIT = 1.0
PING_EVERY = 10.0
#: How many of a player's latest figures (its ``ready``'s, then its heartbeats', two a second)
#: say how soon a command that has reached it can place a sample: the longest counts. (Readings
#: taken only before ``ready`` fell short of the later figures by up to 3 ms on a busy machine,
#: and starts were cut by as much.)
SOONEST_BEATS = 600


class PlayerError(ShowctlError, RuntimeError):
    """A player that could not start or play; the message names the output and the fix."""


# --- what the pool adds to the players' own events, for whoever watches (:attr:`on_event`) ---


@dataclass(frozen=True)
class Exited:
    """The player process ended, with this exit status."""

    code: int


@dataclass(frozen=True)
class Failed:
    """The output's restarts are spent (or its card never came): why."""

    reason: str


@dataclass(frozen=True)
class Restarted:
    """A fresh player of the output is ready, and was given what the output was playing;
    ``recovered``: the output had been failed."""

    recovered: bool


PoolEvent = protocol.Event | Exited | Failed | Restarted
E = TypeVar("E", bound=PoolEvent)


@dataclass
class PlayerProcess:
    """One running player process and what it has said."""

    output: str
    process: asyncio.subprocess.Process
    heard: float  # when it last said anything (the pool's clock)
    born: float
    events: asyncio.Queue[PoolEvent] = field(default_factory=asyncio.Queue)
    ready: protocol.Ready | None = None
    beat: protocol.Heartbeat | None = None  # the latest heartbeat
    #: How soon a command that has reached the player can place a sample, as its callback
    #: measured it: its ``ready``'s and its heartbeats', the latest SOONEST_BEATS of them.
    soonests: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=SOONEST_BEATS)
    )
    #: The longest of them (s), kept as they come: a start reads it, and should not wait on a
    #: max of thousands of numbers.
    soonest: float = 0.0
    error: protocol.Error | None = None
    hung: float | None = None  # killed when silent this long (s)
    #: Its ``ready`` went to the queue: from now on its events go to the pool's watchers.
    handed_over: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def measured(self, soonest: float) -> None:
        """Keep one more of the player's figures of how soon (its ``ready``'s, a heartbeat's)."""
        self.soonests.append(soonest)
        self.soonest = max(self.soonests)

    def write(self, message: protocol.Command) -> None:
        """Hand ``message`` to the pipe now (without waiting: see :meth:`drain`)."""
        assert self.process.stdin is not None
        self.process.stdin.write(protocol.encode(message))

    async def drain(self) -> None:
        """Wait until the pipe has taken what was written (a player that reads no more holds
        it up; one that has ended does not)."""
        assert self.process.stdin is not None
        with contextlib.suppress(ConnectionError):
            await self.process.stdin.drain()

    async def send(self, message: protocol.Command) -> None:
        self.write(message)
        await self.drain()

    async def wait_for(self, kind: type[E], timeout: float | None) -> E:
        """The next event of ``kind``; an ``error`` event or the process ending raises."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.events.get()
                if isinstance(event, kind):
                    return event
                if isinstance(event, protocol.Error):
                    raise PlayerError(event.message)
                if isinstance(event, Exited):
                    raise PlayerError(f"the player of output {self.output!r} exited")


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
        supervise: bool = False,
        wait_for_cards: float = 0.0,
        policy: RestartPolicy | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.outputs = outputs
        #: Each output's calibration trim (s), added to its ``delay``: a measurement's
        #: (:mod:`showctl.calibration`); taken up by the next play.
        self.trims: Mapping[str, float] = {}
        self.backend = backend
        self.capture = capture
        self.lock = lock  # off only to measure (see the player's --no-drift-lock)
        self.supervise = supervise
        self.policy = policy or RestartPolicy()
        self.clock = clock or MonotonicClock()
        #: Supervised: how long :meth:`start` waits for missing cards to appear (seconds).
        self.wait_for_cards = wait_for_cards
        # A player does no linear algebra: numpy's BLAS starts no threads of its own in it (one
        # a core, each with its buffers, and at ordinary priority beside its real-time ones).
        self.env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", **(env or {})}
        self.players: dict[str, PlayerProcess] = {}
        #: Told what the outputs do (a clip finished, an output failed, back or changed): the
        #: controller.
        self.listener: OutputListener | None = None
        #: When set, every event of a ready player, and the pool's own (:data:`PoolEvent`), go
        #: here (output, event) instead of to its queue, which only
        #: :meth:`PlayerProcess.wait_for` reads: for measurements.
        self.on_event: Callable[[str, PoolEvent], None] | None = None
        #: Outputs whose restarts are spent, with why; retried every ``policy.retry_failed`` s.
        self.failed: dict[str, str] = {}
        self.restarts: dict[str, int] = dict.fromkeys(outputs, 0)  # since the pool started
        self._recent: dict[str, tuple[float, ...]] = dict.fromkeys(outputs, ())
        #: Each card's clock error (ppm) as a player that ran long enough measured it.
        self._ppm: dict[str, float] = {}
        # What a fresh player of each output must be told: its loaded clips, its clip playing.
        self._loads: dict[str, protocol.Load] = {}
        self._plays: dict[str, protocol.Play] = {}
        self._levels: dict[str, protocol.Level] = {}
        #: Called with "players" each time the supervision loop goes round (the watchdog's gate).
        self.check_in: Callable[[str], None] = lambda loop: None
        self._tasks: list[asyncio.Task[None]] = []
        self._booting: set[str] = set()  # outputs :meth:`start` is still trying
        #: Starts that came too late to play from their first sample, by output.
        self.cut_starts: dict[str, int] = dict.fromkeys(outputs, 0)
        self._deliveries: collections.deque[float] = collections.deque(maxlen=DELIVERIES)
        #: The play commands :meth:`play` sent ahead of their T0 and not yet started, by the
        #: pid of the player they went to: (play, when sent).
        self._sent: dict[int, tuple[int, float]] = {}
        self._pinged: dict[int, tuple[int, float]] = {}  # the same, of pings: (id, when sent)
        self._pings = 0
        self._answered = asyncio.Event()  # every ping of the latest round is answered
        #: A start's commands and the pings are written at real-time priority (see
        #: :mod:`showctl.realtime`): the players woken by the first cannot hold up the rest.
        self._realtime = realtime.Raise(lambda why: logger.warning("realtime_refused", reason=why))
        self._restarting: set[str] = set()  # outputs a restart is under way for
        self._closing = False

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
        """Start every player and wait until all are ready. Raises :class:`PlayerError`.

        Supervised, a player that cannot start (its card not there yet, at boot) is started
        again every ``policy.card_poll`` seconds for up to :attr:`wait_for_cards` seconds, with
        a log line per missing card; an output still missing then is failed (and retried every
        ``policy.retry_failed`` seconds), and the pool starts degraded, without raising."""
        self._booting = set(self.outputs) if self.supervise else set()
        for name in self.outputs:
            await self._spawn(name)
        if not self.supervise:
            await asyncio.gather(
                *(p.wait_for(protocol.Ready, timeout) for p in self.players.values())
            )
        else:
            deadline = self.clock.monotonic() + self.wait_for_cards
            await asyncio.gather(*(self._boot(name, deadline, timeout) for name in self.outputs))
            self._task(self._watch(), name="players-watch")
        for _ in range(PING_ROUNDS):  # one round after another, each answered or given up
            await self._ping()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PING_WAIT):
                    await self._answered.wait()
        self._task(self._keep_measuring(), name="players-ping")

    async def _boot(self, name: str, deadline: float, timeout: float) -> None:
        """Have output ``name``'s player ready, trying until ``deadline``; else fail it."""
        try:
            await self._try_boot(name, deadline, timeout)
        finally:
            self._booting.discard(name)  # from now on its end restarts it

    async def _try_boot(self, name: str, deadline: float, timeout: float) -> None:
        waiting = False
        while True:
            player = self.players[name]
            try:
                await player.wait_for(protocol.Ready, timeout)
            except (PlayerError, TimeoutError) as e:
                reason = str(e) or f"its player was not ready within {timeout:g} s"
                with contextlib.suppress(ProcessLookupError):
                    player.process.kill()
                await player.process.wait()
                if self.clock.monotonic() >= deadline:
                    self._task(self._restart(name, reason, fail=True), name=f"restart:{name}")
                    return
                if not waiting:
                    logger.warning(
                        "card_missing",
                        output=name,
                        device=self.outputs[name].device,
                        reason=reason,
                        wait=round(max(0.0, deadline - self.clock.monotonic()), 1),
                    )
                    waiting = True
                await self.clock.sleep(self.policy.card_poll)
                await self._spawn(name)
                continue
            if waiting:
                logger.info("card_found", output=name, device=self.outputs[name].device)
            if name in self._levels:  # set while it was not ready
                await player.send(self._levels[name])
            return

    async def _spawn(self, name: str) -> PlayerProcess:
        """Start the player process of output ``name`` (not waiting for it to be ready)."""
        output = self.outputs[name]
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
            "--latency",
            str(output.latency),
            "--backend",
            self.backend,
        ]
        if self.capture is not None:
            args += ["--capture", str(self.capture)]
            if self.restarts[name]:  # what the output played before its restart is kept
                args.append("--append-capture")
        if not self.lock:
            args.append("--no-drift-lock")
        if name in self._ppm:  # the card is the same: its rate need not be learned again
            args += ["--ppm", str(self._ppm[name])]
        # A player inherits this thread's signal mask: it is born with the signals it ignores
        # held. One sent here meanwhile is not lost: another thread takes it, or it waits for
        # the unblocking (not a restore: another start may have blocked them since).
        signal.pthread_sigmask(signal.SIG_BLOCK, protocol.PLAYER_IGNORES)
        try:
            process = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self.env,
            )
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, protocol.PLAYER_IGNORES)
        now = self.clock.monotonic()
        player = PlayerProcess(name, process, heard=now, born=now)
        self.players[name] = player
        self._task(self._read_events(player), name=f"events:{name}")
        self._task(self._forward_logs(player), name=f"logs:{name}")
        logger.info("player_started", output=name, pid=process.pid)
        return player

    @property
    def soonest(self) -> float:
        """How soon after a command every player can place a sample (s): the longest a
        command has lately taken to reach a player's audio thread (:attr:`delivery`), and
        the latest any player can then place a sample (:attr:`PlayerProcess.soonest`)."""
        return max((p.soonest for p in self._ready().values()), default=0.0) + self.delivery

    @property
    def delivery(self) -> float:
        """How long a play command may take to reach the players' audio threads (s): the
        longest of the latest DELIVERIES (at least DELIVERY_FLOOR) and DELIVERY_MARGIN again."""
        if not self._deliveries:
            return DELIVERY_UNKNOWN
        return max(DELIVERY_FLOOR, *self._deliveries) * (1 + DELIVERY_MARGIN)

    async def _ping(self) -> None:
        """Ping every ready player at once, as :meth:`play` writes a scene's commands."""
        self._pings += 1
        ready = list(self._ready().values())
        with self._realtime():
            sent = self.clock.monotonic()
            self._pinged.update({player.pid: (self._pings, sent) for player in ready})
            self._answered.clear()
            written = _write_all([(player, protocol.Ping(self._pings)) for player in ready])
        await written

    async def _keep_measuring(self) -> None:
        while True:
            await self.clock.sleep(PING_EVERY)
            await self._ping()

    def _ready(self) -> dict[str, PlayerProcess]:
        """The players that are ready and running. A command for the others (starting again,
        or failed) is kept, and given to the next one once it is ready."""
        return {
            name: p
            for name, p in self.players.items()
            if p.ready is not None and p.process.returncode is None
        }

    def health(self) -> dict[str, OutputHealth]:
        """Each output's player: its pid, whether it runs, its restarts, why it failed (or
        ``None``), and its latest heartbeat's counts."""
        out = {}
        for name, p in self.players.items():
            beat = p.beat or protocol.Heartbeat()
            out[name] = OutputHealth(
                failed=self.failed.get(name),
                alive=p.process.returncode is None,
                pid=p.pid,
                restarts=self.restarts[name],
                playing=beat.playing,
                underruns=beat.underruns,
                xruns=beat.xruns,
                level=beat.level,
                cut_starts=self.cut_starts[name],
            )
        return out

    async def play(
        self,
        clips: Mapping[str, Clip],
        t0: float | None = None,
        play: int = 0,
        fade: tuple[float, float] = (0.0, 0.0),
    ) -> float:
        """Send every output its clip (path, loop) to start at ``t0`` (monotonic seconds), or,
        with none, at :attr:`soonest` from the moment the commands are written; the T0. Their
        ``started`` and ``finished`` events carry ``play``; ``fade`` is (in, out) in s."""
        ready = self._ready()
        soonest = self.soonest
        with self._realtime():
            sent = self.clock.monotonic()
            start = t0 is None  # else a T0 given: a start placed by the caller, or a scene taken up
            if t0 is None:
                t0 = sent + soonest
            messages = {
                name: protocol.Play(str(path), self._delayed(name, t0), loop, play, *fade)
                for name, (path, loop) in clips.items()
            }
            self._plays.update(messages)
            if start or t0 > sent:  # measured: a start, not a scene taken up where it was
                self._sent.update({ready[n].pid: (play, sent) for n in messages if n in ready})
            written = _write_all([(ready[n], m) for n, m in messages.items() if n in ready])
        await written
        return t0

    async def load(self, clips: Mapping[str, Collection[Clip]]) -> None:
        """Have each output keep these clips (path, loop) opened ahead, and no others."""
        for name in self.players:
            self._loads[name] = protocol.Load(
                tuple((str(path), loop) for path, loop in sorted(clips.get(name, ())))
            )
        await asyncio.gather(
            *(player.send(self._loads[name]) for name, player in self._ready().items())
        )

    def held(self, name: str, trimmed: bool = True) -> float:
        """How far output ``name`` is held back (s): its ``delay`` and (``trimmed``) its
        calibration's trim, in whole samples."""
        output = self.outputs[name]
        trim = self.trims.get(name, 0.0) if trimmed else 0.0
        return round((output.delay + trim) * output.rate) / output.rate

    def _delayed(self, name: str, t0: float) -> float:
        """``t0`` as output ``name`` plays it: :meth:`held` later."""
        return t0 + self.held(name)

    async def level(self, output: str, gain: float) -> None:
        """Have ``output``'s player play at ``gain`` (a factor) from now on; a player started
        again is told it before anything else."""
        self._levels[output] = protocol.Level(gain)
        player = self._ready().get(output)
        if player is not None:
            await player.send(self._levels[output])

    async def stop(
        self,
        fade: float = 0.0,
        outputs: Collection[str] | None = None,
        at: float | None = None,
        play: int | None = None,
    ) -> None:
        """Stop the given outputs (default: all) at ``at`` (a T0; default: now), at once or
        fading out over ``fade`` s; their effects of other plays than ``play`` end (all of
        them: ``None``)."""
        names = list(self.players if outputs is None else outputs)
        for name in names:
            self._plays.pop(name, None)  # a fresh player starts silent anyway
        ready = self._ready()
        await asyncio.gather(
            *(
                ready[name].send(
                    protocol.Stop(fade, None if at is None else self._delayed(name, at), play)
                )
                for name in names
                if name in ready
            )
        )

    def effect(self, output: str, clip: Path, gain: float, t0: float | None, play: int) -> float:
        """Have ``output``'s player mix ``clip`` in at ``gain`` from ``t0``, or with none at
        :attr:`soonest` from now; its T0. The command is handed to the pipe now (one line: the
        pipe's buffer takes it whole). A player that is not ready (starting again) misses it:
        an effect is of its moment."""
        player = self._ready().get(output)
        with self._realtime():
            if t0 is None:
                t0 = self.clock.monotonic() + self.soonest
            if player is not None:
                player.write(protocol.Effect(str(clip), self._delayed(output, t0), gain, play))
        if player is None:
            logger.warning("effect_missed", output=output, clip=str(clip), why="no player ready")
        return t0

    def end_supervision(self) -> None:
        """From now on no player is restarted: the hung are no longer looked for, the restarts
        under way are cancelled (a player being started is killed by asyncio) and a player
        that ends stays ended. For the start of a stop, before the players are told anything.
        Does not wait, so a signal's handler may call it; idempotent."""
        self._closing = True
        for task in self._supervising():
            task.cancel()

    def _supervising(self) -> list[asyncio.Task[None]]:
        return [t for t in self._tasks if not t.get_name().startswith(("events:", "logs:"))]

    async def close(self) -> None:
        """Ask every player to quit, give them :data:`QUIT_WAIT` seconds together, then kill
        those still there. Never raises."""
        # First the supervision and the restarts, so that no player starts after the others
        # were asked to quit.
        self.end_supervision()
        await asyncio.gather(*self._supervising(), return_exceptions=True)
        for player in self.players.values():
            with contextlib.suppress(Exception):
                await player.send(protocol.Quit())

        async def gone(player: PlayerProcess) -> None:
            try:
                await asyncio.wait_for(player.process.wait(), QUIT_WAIT)
            except (TimeoutError, ProcessLookupError):
                with contextlib.suppress(ProcessLookupError):
                    player.process.kill()
                    await player.process.wait()

        await asyncio.gather(*(gone(p) for p in self.players.values()))
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _read_events(self, player: PlayerProcess) -> None:
        try:
            await self._follow(player)
        finally:
            if player.process.stdin is not None:
                player.process.stdin.close()  # its last pipe: the transport can finish

    async def _follow(self, player: PlayerProcess) -> None:
        """Deliver ``player``'s events until it exits; then restart it when supervised."""
        assert player.process.stdout is not None
        async for line in player.process.stdout:
            event = protocol.decode_event(line)
            if event is None:
                logger.warning(
                    "player_said_nonsense",
                    output=player.output,
                    pid=player.pid,
                    line=line[:200].decode(errors="replace"),
                )
                continue
            player.heard = self.clock.monotonic()
            self._heard(player, event)
            await self._deliver(player, event)
        code = await player.process.wait()
        self._sent.pop(player.pid, None)
        self._pinged.pop(player.pid, None)
        await self._deliver(player, Exited(code))
        if (
            self.supervise
            and not self._closing
            and self.players.get(player.output) is player
            and player.output not in self._booting
        ):
            self._task(
                self._restart(player.output, _why(player, code)), name=f"restart:{player.output}"
            )

    def _heard(self, player: PlayerProcess, event: protocol.Event) -> None:
        """Keep what ``player`` said, and act on it."""
        match event:
            case protocol.Ready():
                player.ready = event
                player.measured(event.soonest)
            case protocol.Heartbeat():
                player.beat = event
                player.measured(event.soonest)
                if player.heard - player.born > RATE_LEARNED:
                    self._ppm[player.output] = event.ppm
            case protocol.Started():
                self._started(player, event)
            case protocol.Pong() if self._pinged.get(player.pid, (None,))[0] == event.id:
                self._deliveries.append(event.queued - self._pinged.pop(player.pid)[1])
                if not self._pinged:
                    self._answered.set()
            case protocol.Finished() if player.handed_over and self.listener is not None:
                self.listener.clip_finished(player.output, event.play, event.reason)
            case protocol.Resynced():
                logger.warning(
                    "output_resynced", output=player.output, play=event.play, samples=event.samples
                )
            case protocol.Error():
                player.error = event
                logger.error(
                    "player_error", output=player.output, pid=player.pid, message=event.message
                )

    def _started(self, player: PlayerProcess, event: protocol.Started) -> None:
        """A player's clip started: how long its command took to come (for the lead), and
        whether it started late, its first samples never heard (logged and counted)."""
        play, sent = self._sent.get(player.pid, (None, 0.0))
        # Not measured: a replay to a fresh player, a scene taken up (late on purpose), a play
        # that another replaced before it started.
        if play is None or event.play != play:
            return
        del self._sent[player.pid]
        delivery = event.queued - sent
        self._deliveries.append(delivery)
        if event.position > 0:
            self.cut_starts[player.output] += 1
            logger.warning(
                "start_cut",
                output=player.output,
                play=play,
                lost_ms=round(event.position / self.outputs[player.output].rate * 1e3, 1),
                delivery_ms=round(delivery * 1e3, 1),
            )
            if self.listener is not None:
                self.listener.output_changed(player.output)

    async def _deliver(self, player: PlayerProcess, event: PoolEvent) -> None:
        """Until it is ready, a player's events go to its queue (for :meth:`start`); then to
        :attr:`on_event` when set, else to the queue while nobody listens, else nowhere (the
        listener was told what it needs)."""
        if not player.handed_over:
            await player.events.put(event)
            player.handed_over = isinstance(event, protocol.Ready)
        elif self.on_event is not None:
            self.on_event(player.output, event)
        elif self.listener is None:
            await player.events.put(event)

    # --- supervision ----------------------------------------------------------------------

    async def _watch(self) -> None:
        """Kill a ready player that has been silent too long (hung); its end restarts it.
        Silence while the controller's own loop stood still is not the players' doing: it is
        not counted."""
        timeout = self.policy.heartbeat_timeout
        every = timeout / 4
        while True:
            self.check_in("players")
            before = self.clock.monotonic()
            await self.clock.sleep(every)
            now = self.clock.monotonic()
            if now - before > 2 * every:  # the loop was held up: the players' news is still
                continue  # in the pipes, read before the next round
            for player in list(self.players.values()):
                silent = now - player.heard
                if player.handed_over and player.process.returncode is None and silent > timeout:
                    logger.error(
                        "player_hung",
                        output=player.output,
                        pid=player.pid,
                        silent=round(silent, 3),
                    )
                    player.hung = silent
                    with contextlib.suppress(ProcessLookupError):
                        player.process.kill()

    async def _restart(
        self, name: str, reason: str, timeout: float = 30.0, *, fail: bool = False
    ) -> None:
        """Start a fresh player for ``name`` after a back-off, and let it join what its output
        was playing; or, with the budget spent (or ``fail``), fail the output and retry it
        later. One restart of an output at a time: a second one asked for meanwhile (its old
        player's end seen after the boot gave up on it) is dropped."""
        if name in self._restarting:
            return
        self._restarting.add(name)
        try:
            await self._restart_once(name, reason, timeout, fail)
        finally:
            self._restarting.discard(name)

    async def _restart_once(self, name: str, reason: str, timeout: float, fail: bool) -> None:
        restart = next_restart(self.policy, self._recent[name], self.clock.monotonic(), fail=fail)
        if restart.fail:
            self.failed[name] = reason
            self._ppm.pop(name, None)  # the card that comes back may be another
            logger.error(
                "output_failed",
                output=name,
                reason=reason,
                restarts=len(self._recent[name]),
                retry_in=restart.wait,
            )
            self._tell(name, Failed(reason))
            if self.listener is not None:
                self.listener.output_failed(name, reason)
        self._recent[name] = restart.recent
        await self.clock.sleep(restart.wait)
        if self._closing:
            return
        self._recent[name] += (self.clock.monotonic(),)
        self.restarts[name] += 1
        player = await self._spawn(name)
        try:
            await player.wait_for(protocol.Ready, timeout)
        except (PlayerError, TimeoutError) as e:
            logger.error("player_restart_failed", output=name, reason=str(e))
            if player.process.returncode is None:
                player.process.kill()  # its end comes back here, for the next try
            return
        # Its level, what it keeps loaded, then what it plays.
        for message in (self._levels.get(name), self._loads.get(name), self._plays.get(name)):
            if message is not None:
                await player.send(message)
        recovered = self.failed.pop(name, None) is not None
        logger.info("player_restarted", output=name, pid=player.pid, recovered=recovered)
        self._tell(name, Restarted(recovered))
        if self.listener is not None:
            if recovered:
                self.listener.output_recovered(name)
            else:
                self.listener.output_changed(name)

    def _task(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``work`` as a task of the pool (cancelled at close); forget the finished ones."""
        self._tasks = [task for task in self._tasks if not task.done()]
        self._tasks.append(asyncio.create_task(work, name=name))

    def _tell(self, name: str, event: PoolEvent) -> None:
        if self.on_event is not None:
            self.on_event(name, event)

    async def _forward_logs(self, player: PlayerProcess) -> None:
        """Re-emit a player's JSON log lines here, tagged with its output and pid."""
        assert player.process.stderr is not None
        async for line in player.process.stderr:
            record = protocol.decode(line)
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


def _write_all(messages: list[tuple[PlayerProcess, protocol.Command]]) -> Awaitable[Any]:
    """Write every player its message now, before waiting on any pipe: none waits on another's
    way out, as a start's commands and the pings that measure their way must not. The pipes'
    drains, to await."""
    for player, message in messages:
        player.write(message)
    return asyncio.gather(*(player.drain() for player, _ in messages))


def _why(player: PlayerProcess, code: int) -> str:
    """Why a player ended, in a few words: its error, hung, or its exit status."""
    if player.hung is not None:
        return f"its player hung (silent for {player.hung:.1f} s)"
    if player.error is not None:
        return player.error.message
    return f"its player ended (exit status {code})"


_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


@dataclass(frozen=True)
class SceneReport:
    """What each output did when a scene was played: its ``started`` and ``finished`` events."""

    t0: float
    started: Mapping[str, protocol.Started]
    finished: Mapping[str, protocol.Finished]

    @property
    def skew(self) -> float:
        """Spread of the outputs' own estimates of when their first sample left (seconds)."""
        times = [e.dac_time for e in self.started.values()]
        return max(times) - min(times) if times else 0.0


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
    clips = show.clips(scene)
    t0 = pool.clock.monotonic() + lead
    await pool.play(clips, t0)
    started = dict(
        zip(
            clips,
            await asyncio.gather(
                *(pool.players[name].wait_for(protocol.Started, lead + 5.0) for name in clips)
            ),
            strict=True,
        )
    )
    logger.info("scene_started", scene=scene, t0=round(t0, 6), outputs=len(clips))
    finished: dict[str, protocol.Finished] = {}
    once = [name for name, (_, loop) in clips.items() if not loop]
    if wait and once:
        with contextlib.suppress(TimeoutError):  # the report says what had finished by then
            async with asyncio.timeout(timeout):
                for name in once:
                    finished[name] = await pool.players[name].wait_for(protocol.Finished, None)
    return SceneReport(t0, started, finished)
