"""A player: one OS process per audio output (``python -m showctl player ...``).

It opens its device at start and keeps the stream running with silence, so a start costs no device
opening, then obeys commands from the controller on stdin (see :mod:`.protocol`) and reports events
on stdout: ``ready``; ``heartbeat`` twice a second with the content position, underruns, drift
corrections, the card's measured clock error (ppm), the offset from the timeline and the peak level
since the last one (dBFS); ``started`` and ``finished`` with their DAC times; ``error``. Its logs go
to stderr as JSON lines, for the controller to forward. A bad clip or a device that cannot be opened
or that vanishes is one ``error`` event naming the output, the thing and the fix, then exit status
1."""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import BinaryIO

from showctl import realtime
from showctl.audio.base import OutputBackend, OutputStream
from showctl.audio.clip import ClipStream, WholeClip, inspect
from showctl.audio.renderer import Effect, Level, Renderer, Start, Stop
from showctl.errors import AudioDeviceError, ClipError
from showctl.players import protocol

HEARTBEAT = 0.5
#: A heartbeat's peak below this (-90 dBFS) is reported as silence: level None.
SILENT = 10 ** (-90 / 20)
#: How long a fresh stream may take to deliver blocks steadily enough to fit its clock. The
#: fit needs about a second; eight players starting at once on two cores have taken 3.5 s
#: and more.
READY_TIMEOUT = 15.0
#: Waits a while (s) between looks at the clock fit: an Event's wait, not time.sleep, which under
#: libfaketime with the monotonic clock left alone (``--exclude-monotonic``, as the tests of
#: opening hours run showctl) fails with EINVAL (libfaketime issue #426).
_pause = threading.Event().wait
#: How far before the timeline's position a late-joining clip is opened (seconds).
JOIN_MARGIN = 0.2
#: How long at least, from the DAC clock's first report, the callback measures how soon a
#: command can place a sample before the player says it is ready with the longest (seconds):
#: many blocks, most of them while the clock fit warms up.
SOONEST_SPAN = 0.15
#: A running stream that asks for no block for this long has stalled (seconds): the device
#: or its driver hangs without an error, and the output is silent until the player restarts.
STALL_TIMEOUT = 1.0
#: How long a player waits for its stream to close before it exits without (seconds). A device
#: that hangs can hang its close too (seen through PipeWire's ALSA plugin, a card's node gone:
#: PortAudio's thread stuck, so its stream never stopped), and the process must end all the same.
CLOSE_TIMEOUT = 1.0

logger = protocol.LogLines(sys.stderr)

#: The renderer's events (made on the audio thread as a kind and its data), as the pipe's.
RENDERER_EVENTS: dict[str, type[protocol.Started | protocol.Finished | protocol.Resynced]] = {
    "started": protocol.Started,
    "finished": protocol.Finished,
    "resynced": protocol.Resynced,
}


class Player:
    """The control side of one player: commands in, events out. Blocking; one per process."""

    def __init__(
        self,
        output: str,
        stream: OutputStream,
        events: BinaryIO,
        *,
        lock: bool = True,
        known_ppm: float | None = None,
    ) -> None:
        self.output = output
        self.stream = stream
        self.renderer = Renderer(stream.rate, lock=lock, known_ppm=known_ppm)
        self._events = events
        self._lock = threading.Lock()
        self._done = threading.Event()  # the player must end
        self._status = 0  # its exit status then
        self._obeying = threading.Lock()  # held while a command is carried out
        # Set by the callback when it has an event (started, finished), and at the end.
        self._wake = threading.Event()
        self.renderer.notify = self._wake.set
        self._clip: ClipStream | None = None  # the latest clip sent to the renderer
        self._loaded: dict[tuple[Path, bool], ClipStream] = {}  # opened ahead by ``load``
        #: Effects' clips held whole once played (those that fit a stream's read-ahead).
        self._wholes: dict[Path, WholeClip] = {}

    def emit(self, event: protocol.Event) -> None:
        """Send ``event`` to the controller; any thread may call."""
        with self._lock:
            self._events.write(protocol.encode(event))
            self._events.flush()

    def run(self, commands: BinaryIO) -> int:
        """Play until ``quit``, the end of the commands, or an error; the exit status."""
        self.stream.start(self.renderer.render)
        # Ready once the DAC clock fit stands: a start placed before would be a guess.
        deadline = time.monotonic() + READY_TIMEOUT
        clock = self.renderer.clock
        placed = math.inf  # when the clock's first report came: the callback measures from then
        while (
            not (clock.ready and time.monotonic() - placed >= SOONEST_SPAN)
            and self.stream.failed is None
            and time.monotonic() < deadline
        ):
            if clock.placed:
                placed = min(placed, time.monotonic())
            _pause(0.005)
        if not clock.ready:
            self._fail(self._not_ready())
            self._close_stream()
            return 1
        soonest = round(self.renderer.counters.soonest, 4)
        self.emit(protocol.Ready(self.stream.device, self.stream.rate, soonest))
        logger.info(
            "player_ready",
            device=self.stream.device,
            rate=self.stream.rate,
            soonest=soonest,
            clock_resets=clock.resets,
        )
        beat = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        beat.start()
        # Commands are carried out on a thread of their own, as they are read, so that a
        # failure (the heartbeat thread sets _done) ends the player at once rather than at the
        # controller's next command, and a command is one thread's wake-up from the pipe.
        threading.Thread(target=self._obey, args=(commands,), name="commands", daemon=True).start()
        self._done.wait()
        self._wake.set()
        beat.join()
        self._close_stream()
        with self._obeying:  # a command under way finishes first; none starts after
            for clip in self._loaded.values():
                clip.close()
        return self._status

    def _obey(self, commands: BinaryIO) -> None:
        """Carry out the commands as they come, until ``quit``, the end of the pipe (the
        controller closed it) or a clip that cannot play; then end the player."""
        refused = realtime.take()  # a command read at once, whatever else runs
        if refused is not None:
            logger.info("realtime_refused", reason=refused)
        for line in commands:
            message = protocol.decode_command(line)
            if message is None:
                logger.warning("command_unreadable", line=line[:200].decode(errors="replace"))
                continue
            with self._obeying:
                if self._done.is_set():
                    return
                try:
                    if not self.command(message):
                        break
                except ClipError as e:
                    self._fail(str(e))
                    self._status = 1
                    break
        self._done.set()

    def _close_stream(self) -> None:
        """Close the stream, or give up on it after CLOSE_TIMEOUT (the process ends anyway)."""
        closing = threading.Thread(target=self.stream.close, name="close", daemon=True)
        closing.start()
        closing.join(CLOSE_TIMEOUT)
        if closing.is_alive():
            logger.warning("stream_close_hung", device=self.stream.device, seconds=CLOSE_TIMEOUT)

    def _not_ready(self) -> str:
        """Why the stream's clock fit did not stand: the stream failed, or it played too little
        or too unsteadily within READY_TIMEOUT."""
        if self.stream.failed is not None:
            return self.stream.failed
        blocks, restarts = self.renderer.counters.blocks, self.renderer.clock.resets
        device = f"device {self.stream.device!r}"
        if blocks < 10:
            return f"{device} played no audio for {READY_TIMEOUT:g} s; check the device"
        return (
            f"{device} gave no steady timing in {READY_TIMEOUT:g} s ({blocks} blocks, "
            f"{restarts} restarts of its clock); check the device and the system load"
        )

    def command(self, message: protocol.Command) -> bool:
        """Carry out one command; ``False`` for ``quit``. Raises :class:`ClipError`."""
        match message:
            case protocol.Play():
                self._play(Path(message.clip), message)
            case protocol.Load():
                self._load({(Path(clip), loop) for clip, loop in message.clips})
            case protocol.Stop():
                self.renderer.commands.append(Stop(message.fade, message.at, message.play))
            case protocol.Effect():
                self._effect(Path(message.clip), message.t0, message.gain, message.play)
            case protocol.Level():
                self.renderer.commands.append(Level(message.gain))
            case protocol.Quit():
                return False
            case protocol.Ping():
                self.emit(protocol.Pong(message.id, time.monotonic()))
        return True

    def _fail(self, why: str) -> None:
        self.emit(protocol.Error(f"output {self.output!r}: {why}"))

    def _play(self, path: Path, message: protocol.Play) -> None:
        """Queue ``path`` to start at its ``t0`` (tagged ``play``): the clip loaded ahead if it
        starts from its beginning and its file is the one loaded, else opened (and checked)
        where the timeline will be (a late join)."""
        t0, loop, play = message.t0, message.loop, message.play
        # Open the clip a little before where the timeline will be when it starts.
        start = max(0, int((time.monotonic() - t0 - JOIN_MARGIN) * self.stream.rate))
        clip = self._loaded.pop((path, loop), None)
        if clip is None or start > 0 or clip.info.changed():  # changed: checked again
            if clip is not None:
                clip.close()
            info = inspect(path, self.stream.rate)
            if not loop and start >= info.frames:
                self.emit(protocol.Finished(play, "already over"))
                return
            clip = ClipStream(info, loop=loop, start=start)
        self._clip = clip
        self.renderer.commands.append(
            Start(clip, t0, play, time.monotonic(), message.fade_in, message.fade_out)
        )
        logger.info("clip_queued", clip=str(path), t0=t0, loop=loop, play=play)

    def _effect(self, path: Path, t0: float, gain: float, play: int) -> None:
        """Queue ``path`` to be mixed in from ``t0``. A short clip is held whole after its
        first play (taken from the stream loaded ahead, or read), so playing it again costs a
        look at the file (``stat``) and no reading; a long one is streamed as a scene's clip.
        A clip that cannot play is logged; the output plays on."""
        held = self._wholes.get(path)
        if held is None or held.info.changed():
            loaded = self._loaded.pop((path, False), None)
            try:
                if loaded is None or loaded.info.changed():
                    if loaded is not None:
                        loaded.close()
                    loaded = ClipStream(inspect(path, self.stream.rate), loop=False)
            except ClipError as e:
                logger.warning("effect_not_played", clip=str(path), reason=str(e))
                return
            if loaded.whole is None:  # too long to hold: streamed
                self.renderer.commands.append(Effect(loaded, t0, gain, play))
                return
            held = self._wholes[path] = WholeClip(loaded.info, loaded.whole)
            loaded.close()
        clip = WholeClip(held.info, held.whole)
        self.renderer.commands.append(Effect(clip, t0, gain, play))  # the controller logs it

    def _load(self, wanted: set[tuple[Path, bool]]) -> None:
        """Have exactly ``wanted`` (clip, loop) open and read ahead from their start, so that
        playing one of them costs no file opening. A clip that cannot be loaded is logged;
        playing it will report the error."""
        for key in set(self._loaded) - wanted:
            self._loaded.pop(key).close()
        for path, loop in wanted - set(self._loaded):
            try:
                self._loaded[path, loop] = ClipStream(inspect(path, self.stream.rate), loop=loop)
            except ClipError as e:
                logger.warning("clip_not_loaded", clip=str(path), reason=str(e))

    def _beat(self) -> None:
        """Pass on the callback's events as they come, and a heartbeat every HEARTBEAT s; a
        failed device or clip reader is found at the next heartbeat at the latest."""
        renderer = self.renderer
        next_beat = time.monotonic()
        blocks, moved = renderer.counters.blocks, next_beat
        while not self._done.is_set():
            self._wake.clear()
            while renderer.events:
                kind, data = renderer.events.popleft()
                if kind == "effect_dropped":
                    logger.warning("effect_dropped", **data)  # the oldest of too many
                else:
                    self.emit(RENDERER_EVENTS[kind](**data))
            while renderer.retired:
                renderer.retired.popleft().close()
            now = time.monotonic()
            if renderer.counters.blocks != blocks:
                blocks, moved = renderer.counters.blocks, now
            failed = self.stream.failed or (self._clip.error if self._clip else None)
            if not failed and now - moved > STALL_TIMEOUT:
                failed = (
                    f"device {self.stream.device!r} has asked for no samples for over "
                    f"{STALL_TIMEOUT:g} s (its driver hangs); restarting the player may bring it "
                    "back, else check the device"
                )
            if failed:
                self._fail(failed)
                self._status = 1
                self._done.set()
                return
            if time.monotonic() >= next_beat:
                c = renderer.counters
                peak, c.peak = c.peak, 0.0  # a block's peak may fall between: one is lost
                soonest, c.soonest = c.soonest, 0.0  # as may a block's soonest
                self.emit(
                    protocol.Heartbeat(
                        blocks=c.blocks,
                        underruns=c.underruns,
                        xruns=self.stream.xruns,
                        drops=c.drops,
                        repeats=c.repeats,
                        resyncs=c.resyncs,
                        offset=round(c.offset, 3),
                        ppm=round(renderer.clock.ppm, 2),
                        clock_resets=renderer.clock.resets,
                        soonest=round(soonest, 4),
                        playing=renderer.playing,
                        level=round(20 * math.log10(peak), 1) if peak > SILENT else None,
                    )
                )
                next_beat += HEARTBEAT
            self._wake.wait(max(0.0, next_beat - time.monotonic()))


def backend(name: str, output: str, capture: Path | None, append: bool = False) -> OutputBackend:
    """The named audio backend, for ``output``. The real one imports sounddevice only when
    asked for. The simulated one writes what it plays to ``capture/OUTPUT.wav`` (the output's
    name: the show's names are safe in a file's), begun afresh, or continued with ``append``
    (a restarted player's: what the output played before is kept)."""
    if name == "sim":
        from showctl.audio.sim import SimBackend  # noqa: PLC0415  (not loaded unless chosen)

        return SimBackend(capture=capture / f"{output}.wav" if capture else None, append=append)
    from showctl.audio.sounddevice_backend import SoundDeviceBackend  # noqa: PLC0415  (same)

    return SoundDeviceBackend()


def main(
    output: str,
    device: str,
    rate: int,
    backend_name: str,
    capture: Path | None,
    *,
    latency: float,
    lock: bool = True,
    known_ppm: float | None = None,
    append_capture: bool = False,
) -> int:
    """Run a player process: logs to stderr, events to stdout, commands from stdin. It ignores
    :data:`protocol.PLAYER_IGNORES`: it ends when told to quit, or when its stdin closes."""
    # Born with them blocked: any that came meanwhile is dropped.
    for sig in protocol.PLAYER_IGNORES:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, protocol.PLAYER_IGNORES)
    try:
        stream = backend(backend_name, output, capture, append_capture).open(device, rate, latency)
    except AudioDeviceError as e:
        sys.stdout.buffer.write(protocol.encode(protocol.Error(f"output {output!r}: {e}")))
        sys.stdout.buffer.flush()
        return 1
    player = Player(output, stream, sys.stdout.buffer, lock=lock, known_ppm=known_ppm)
    status = player.run(sys.stdin.buffer)
    # End the process here: the command reader thread may still be blocked reading the pipe,
    # and the interpreter's shutdown would abort on its lock. Everything is released by now.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
