"""``showctl run``: the composition root. Players, LED matrix, inputs, controller, control socket,
and the operator surfaces of the settings file (the web page and API, MQTT, OSC).

Everything runs in one event loop; the lifetimes are owned here. With ``sim``, every backend
is simulated: players on simulated sound cards (what they play can be written to WAV files),
the matrix on simulated lines, and the inputs on simulated lines that the keyboard presses
(a key per input and per event, shown under the matrix).

Signals only set things in motion: SIGTERM and SIGINT stop the show, SIGHUP reloads it. The players
ignore these signals (see :mod:`showctl.players.protocol`), so a stop sent to every process at once
(Ctrl-C in a terminal, ``timeout``, systemd's ``KillMode=control-group``) is the controller's alone:
it fades the sound, tells the players to quit and restarts none of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import signal
import sys
import termios
import time
import tty
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from showctl.audio.base import InputStream
from showctl.calibration.nightly import NightlyCheck
from showctl.controller import ShowController
from showctl.errors import SettingsError
from showctl.gpio.base import GpioBackend, chip_path
from showctl.health import HealthMonitor
from showctl.leds.matrix import Shown
from showctl.leds.view import TerminalView
from showctl.multibox.leading import Links
from showctl.players.pool import PlayerPool
from showctl.players.restarts import RestartPolicy
from showctl.room.messages import Messages
from showctl.room.props import Props
from showctl.room.relays import Relays
from showctl.saved_state import default_folder
from showctl.settings import Settings
from showctl.show.model import HttpRequest, Show
from showctl.surfaces.control_socket import ControlServer
from showctl.surfaces.web import WebSurface
from showctl.triggers import InputWatcher
from showctl.wall_clock import WallClock
from showctl.watchdog import Liveness, Notifier

if TYPE_CHECKING:
    from showctl.surfaces.mqtt import MqttSurface
    from showctl.surfaces.osc import OscSurface

logger = structlog.get_logger()

#: How long a key holds its simulated button down (s).
KEY_PRESS = 0.15
#: How long the sound fades out when showctl stops (s); all of the stop takes under 2 s.
STOP_FADE = 0.3
QUIT_KEY = "q"


@dataclass(frozen=True)
class RunOptions:
    """How ``showctl run`` runs: simulated or on the hardware, and where things go."""

    sim: bool
    socket: Path
    state: Path | None
    #: Simulate the GPIO lines only, the sound cards real (a box whose matrix and inputs are
    #: not wired yet); ``sim`` simulates both.
    sim_gpio: bool = False
    capture: Path | None = None  # sim: write what each output plays here
    #: sim: the terminal where the matrix and the keys are drawn (and read), or None
    view: TerminalView | None = None
    #: How long to wait at start for sound cards that are not there yet (seconds).
    wait_for_cards: float = 0.0
    settings: Settings = field(default_factory=Settings)
    #: When the players are restarted, and their outputs failed and tried again.
    restarts: RestartPolicy = field(default_factory=RestartPolicy)


def keys_for(show: Show) -> dict[str, str]:
    """A key for every input (a letter of its name, the first free one) and every event (a
    digit, or a free letter; the emergency's too), as ``{key: "input:NAME" | "event:NAME"}``.
    ``q`` quits."""
    keys: dict[str, str] = {}
    events = sorted(
        {t.event for s in show.scenes.values() for t in s.transitions if t.event}
        | set(show.emergency.events if show.emergency else ())
    )
    spare = iter("123456789abcdefghijklmnoprstuvwxyz")
    for name in show.inputs:
        key = next((c for c in name.lower() if c.isalnum() and c not in keys and c != "q"), None)
        if key is None:
            key = next(c for c in spare if c not in keys)
        keys[key] = f"input:{name}"
    for name in events:
        keys[next(c for c in spare if c not in keys)] = f"event:{name}"
    return keys


def legend(keys: dict[str, str]) -> tuple[str, ...]:
    """The line under the matrix: each key and what it does, the quit key last."""
    words = [f"[{key}] {name.split(':', 1)[1]}" for key, name in keys.items()]
    return ("keys: " + "  ".join([*words, f"[{QUIT_KEY}] quit"]),)


async def run(show: Show, options: RunOptions) -> int:
    """Run ``show`` until SIGTERM, SIGINT or (sim, in the terminal's foreground) the quit key;
    the exit status, 0 however it was stopped. A stop while the players start ends the start
    (the players that started quit)."""
    audio, gpio = backends(options)
    own = show.part(options.settings.box.me)  # of a show across boxes: this box's hardware
    # The relays first, each in its safe state from its request, before anything else; and
    # last, safe again and let go, however the show ends.
    relays = Relays(own.relays, gpio) if show.relays else None
    links = Links(show, options.settings, relays)
    props = Props(options.settings.props)
    messages = Messages(options.settings.osc.targets, props)
    try:
        await messages.start(
            http=any(isinstance(action, HttpRequest) for action in show.every_action())
        )
        return await _run(show, options, (audio, gpio, own), links, messages)
    finally:
        await props.close()
        await messages.close()
        if relays is not None:
            relays.close()


async def _run(
    show: Show,
    options: RunOptions,
    hardware: tuple[str, GpioBackend, Show],
    links: Links,
    messages: Messages,
) -> int:
    audio, gpio, own = hardware  # ``own``: the show as this box wires it
    relays = links.local_relays
    keys, screen = _screen(show, options)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    pool = player_pool(own, audio, options)
    frames = _Frames([screen.frame] if screen is not None else [])
    leds = links.leds(own, gpio, frames)
    watcher: InputWatcher | None = None
    server = ControlServer(options.socket)
    server.check_free()
    surfaces = _Surfaces(options.settings)
    stopping = functools.partial(_stop_now, pool, stop)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping)
    try:
        if relays is not None:
            relays.start()
        if leds is not None:
            leds.start()
        try:
            await links.start()  # with boxes: refused if another leads the show
            if not await _unless_stopped(stop, pool.start(), name="players-start"):
                return 0
            controller = ShowController(
                show,
                links.outputs(pool),
                leds=leds,
                relays=links.relays,
                messages=messages,
                props=messages.props,
                settings=options.settings,
                state_path=options.state,
                wall_clock=WallClock(options.settings.clock.trust),
            )
            systemd = _Systemd(controller, screen, pool, relays)
            if leds is not None:
                leds.on_failed = threadsafe(loop, controller.changed)
            watcher = InputWatcher(own, gpio, lambda name, edge: controller.fire(name, "gpio"))
            watcher.start()
            await server.start(controller)
            await surfaces.start(controller, frames)
            loop.add_signal_handler(signal.SIGHUP, controller.reload_soon)
            await controller.start()
            quiet_collector()
            systemd.ready(options.sim)
            with _keyboard(options.sim, keys, gpio, controller, stopping):
                await _until(
                    stop,
                    controller=controller.run(),
                    watchdog=systemd.liveness.run(),
                    **_checks(controller, pool, options),
                    **links.work(controller),
                )
            await _wind_down(pool, controller, systemd.notifier)
        finally:
            await pool.close()  # the players that did start must not outlive the controller
    finally:
        await links.close()
        await surfaces.close()
        await server.close()
        if watcher is not None:
            watcher.close()
        if leds is not None:
            leds.stop()
        # Last, so that a second Ctrl-C while the show stops changes nothing.
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
    return 0


#: Objects the garbage collector lets a young generation gather before it collects it (Python's
#: default is 700): smaller, more frequent collections, none long.
YOUNG = 200


def quiet_collector() -> None:
    """Once the show is up: what lives as long as it does goes out of the garbage collector's
    sight, and its young generations are collected in smaller steps. A collection runs inside
    whatever step of the loop makes it due; in ``tests/bench/actions.py`` one of 1.6 ms held
    the loop that long, at the defaults; 0.6 to 1.0 ms at these."""
    gc.freeze()
    gc.set_threshold(YOUNG, 10, 10)


def _health_monitor(controller: ShowController, options: RunOptions) -> HealthMonitor:
    """The checks of the box's health, on the controller's status; the controller shows the
    latest report in its own."""
    disk = options.state.parent if options.state is not None else default_folder()
    monitor = HealthMonitor(
        options.settings.health, controller.status, time.time, time.monotonic, asyncio.sleep, disk
    )
    controller.health = monitor
    return monitor


def _screen(show: Show, options: RunOptions) -> tuple[dict[str, str], _Screen | None]:
    """With a terminal view (``--sim`` in a terminal): its keys, and the screen drawing it."""
    view = options.view
    keys = keys_for(show) if options.sim and view is not None else {}
    return keys, (_Screen(view, keys) if view is not None else None)


def _checks(
    controller: ShowController, pool: PlayerPool, options: RunOptions
) -> dict[str, Coroutine[Any, Any, None]]:
    """What looks after the box while the show runs, by name: its health, and the nightly
    calibration check when the settings name a microphone."""
    checks = {"health": _health_monitor(controller, options).run()}
    settings = options.settings.calibration
    if not settings.input:
        return checks

    def record() -> InputStream:
        from showctl.audio import sounddevice_backend  # noqa: PLC0415  (PortAudio: only if used)

        return sounddevice_backend.SoundDeviceBackend().record(settings.input, settings.rate)

    nightly = NightlyCheck(settings, controller, pool, None if options.sim else record)
    return {**checks, "calibration-check": nightly.run()}


def threadsafe(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> Callable[[], None]:
    """``callback``, called on ``loop``'s thread from any thread."""

    def call() -> None:
        loop.call_soon_threadsafe(callback)

    return call


def _stop_now(pool: PlayerPool, stop: asyncio.Event) -> None:
    """A stop signal or the quit key: from here on no player is restarted; the show stops."""
    pool.end_supervision()
    stop.set()


async def _unless_stopped(stop: asyncio.Event, work: Coroutine[Any, Any, None], name: str) -> bool:
    """Run ``work`` as the task ``name`` unless ``stop`` is set first or meanwhile, which
    cancels it; whether it ran to its end. Raises what ``work`` raised."""
    doing = asyncio.create_task(work, name=name)
    stopped = asyncio.create_task(stop.wait(), name="stop-wait")
    try:
        await asyncio.wait([doing, stopped], return_when=asyncio.FIRST_COMPLETED)
    finally:
        doing.cancel()  # each only if not done
        stopped.cancel()
        await asyncio.wait([doing])  # its cleanup done
    if doing.cancelled():
        return False
    doing.result()
    return True


async def _until(stop: asyncio.Event, **work: Coroutine[Any, Any, None]) -> None:
    """Run each of ``work`` as a task of that name until ``stop`` is set, then cancel them.
    Raises what they raise."""
    async with asyncio.TaskGroup() as tasks:
        running = [tasks.create_task(w, name=name) for name, w in work.items()]
        await stop.wait()
        for task in running:
            task.cancel()


async def _wind_down(pool: PlayerPool, controller: ShowController, notifier: Notifier) -> None:
    """The show stops: the sound fades out (no click), the players quit, the state is saved."""
    logger.info("show_stopping")
    notifier.stopping()
    if controller.relays is not None:
        controller.relays.make_safe("stop")
    pool.listener = None  # the players are told to quit now: not a failure
    await pool.stop(fade=STOP_FADE)
    await asyncio.sleep(STOP_FADE)
    await controller.saved()
    if controller.health is not None:
        await controller.health.close()


class _Screen:
    """The matrix in the terminal, with the current scene in its title and the keys below."""

    def __init__(self, view: TerminalView, keys: dict[str, str]) -> None:
        self.view = view
        self.title = view.title
        self.scene = ""
        view.footer = legend(keys)

    def enter(self, scene: str) -> None:
        self.scene = scene

    def frame(self, shown: Shown) -> None:
        self.view.title = f"{self.title} · scene {self.scene}"
        self.view.show(shown.at, shown.frame)


def player_pool(own: Show, audio: str, options: RunOptions) -> PlayerPool:
    """The supervised players of this box's outputs (``own``: the show as this box wires it),
    on the ``audio`` backend, as ``options`` say (capture, cards waited for, restarts)."""
    return PlayerPool(
        own.outputs,
        backend=audio,
        capture=options.capture,
        supervise=True,
        wait_for_cards=options.wait_for_cards,
        policy=options.restarts,
    )


def backends(options: RunOptions) -> tuple[str, GpioBackend]:
    """The hardware ``showctl run`` drives, simulated or real: the players' audio backend and
    the GPIO backend."""
    return audio_backend(options.sim), gpio_backend(options.sim or options.sim_gpio)


def audio_backend(sim: bool) -> str:
    """The players' audio backend, by name: each player makes it in its own process."""
    return "sim" if sim else "sounddevice"


def gpio_backend(sim: bool) -> GpioBackend:
    if sim:
        from showctl.gpio.sim import SimGpio  # noqa: PLC0415  (only what is chosen is loaded)

        return SimGpio(record=False)
    from showctl.gpio.gpiod_backend import GpiodBackend  # noqa: PLC0415  (same)

    return GpiodBackend()


class _Systemd:
    """What systemd hears: the status at every scene and every change of the outputs, and the
    watchdog's pings while the controller's loops go round."""

    def __init__(
        self,
        controller: ShowController,
        screen: _Screen | None,
        pool: PlayerPool,
        relays: Relays | None,
    ) -> None:
        self.controller = controller
        self.screen = screen
        self.notifier = Notifier()
        interval = self.notifier.watchdog or 10.0  # not under a watchdog: ping nobody
        self.liveness = Liveness(self.notifier, every=interval / 4, stale=interval / 2)
        controller.on_scene = self.scene
        controller.watch(self.changed)
        controller.check_in = self.liveness.check_in
        pool.check_in = self.liveness.check_in
        if relays is not None:
            relays.check_in = self.liveness.check_in
        if controller.leds is not None:
            controller.leds.watch_by(self.liveness.check_in, self.liveness.check_out)
        self._said = ""

    def status(self) -> str:
        health = self.controller.outputs.health()
        working = sum(not h.failed for h in health.values())
        leds = self.controller.leds
        stopped = "; LEDs stopped" if leds is not None and leds.failed else ""
        relays = self.controller.relays
        released = "; EMERGENCY RELEASE" if relays is not None and relays.emergency else ""
        return (
            f"scene {self.controller.state.scene}; outputs {working}/{len(health)}{stopped}"
            f"{released}"
        )

    def ready(self, sim: bool) -> None:
        """The show is on (players ready, lines held): systemd and the log are told."""
        self.notifier.ready(self.status())
        logger.info("show_running", show=self.controller.show.title, sim=sim)

    def scene(self, name: str) -> None:
        if self.screen is not None:
            self.screen.enter(name)

    def changed(self) -> None:
        """Tell systemd the status when it is new (a scene, an output failed or back)."""
        status = self.status()
        if status != self._said:
            self._said = status
            self.notifier.status(status)


@dataclass
class _Frames:
    """Passes each frame the LED matrix shows to everyone who follows it (the LED thread)."""

    watchers: list[Callable[[Shown], None]]

    def __call__(self, shown: Shown) -> None:
        for watcher in self.watchers:
            watcher(shown)


class _Surfaces:
    """The operator surfaces the settings ask for. One that cannot start (its port taken) is
    logged with the fix, and the show goes on without it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.web: WebSurface | None = None
        self.mqtt: MqttSurface | None = None
        self.osc: OscSurface | None = None
        # MQTT and OSC are loaded only when the settings ask for them (the web page is on by
        # default, so aiohttp always is).

    async def start(self, controller: ShowController, frames: _Frames) -> None:
        """Start each surface the settings ask for (the web page follows the LED ``frames``),
        then the serial props."""
        s = self.settings
        if s.web.port:
            web = WebSurface(s.web, controller)
            try:
                await web.start()
                self.web = web
                frames.watchers.append(web.frame)
            except OSError as e:
                _not_listening("web", s.web.host, s.web.port, e)
        if s.osc.port:
            from showctl.surfaces.osc import OscSurface  # noqa: PLC0415  (only what is asked for)

            osc = OscSurface(s.osc, controller)
            try:
                await osc.start()
                self.osc = osc
            except OSError as e:
                _not_listening("osc", s.osc.host, s.osc.port, e)
        if s.mqtt.host:
            from showctl.surfaces.mqtt import MqttSurface  # noqa: PLC0415  (only what is asked for)

            mqtt = MqttSurface(s.mqtt, controller)
            if controller.health is not None:
                controller.health.on_send.append(mqtt.publish_health)
            try:
                mqtt.start()
                self.mqtt = mqtt
                if controller.messages is not None:  # the show's publishes go out through it
                    controller.messages.mqtt = mqtt.publish
            except SettingsError as e:  # a CA file that is there but no certificate
                logger.error("mqtt_not_started", error=str(e))
        if controller.props is not None:
            controller.props.start()  # the serial props: their events have a home now

    async def close(self) -> None:
        """Close each surface that runs. Idempotent; never raises."""
        for surface in (self.mqtt, self.osc, self.web):
            if surface is not None:
                await surface.close()


def _not_listening(section: str, host: str, port: int, e: OSError) -> None:
    logger.error(
        f"{section}_not_listening",
        address=f"{host}:{port}",
        reason=e.strerror or str(e),
        fix=f"another program may hold the port: give {section}.port another one in the "
        "settings file; the show runs without it",
    )


@contextlib.contextmanager
def _keyboard(
    sim: bool,
    keys: dict[str, str],
    gpio: GpioBackend,
    controller: ShowController,
    stopping: Callable[[], None],
) -> Iterator[None]:
    """While inside, with ``sim``, the quit key calls ``stopping`` and the ``keys`` press the
    simulated inputs and fire the events; if stdin is the terminal of which this process is
    in the foreground, else nothing (a job in the background that set the terminal's mode
    would be stopped)."""
    if not sim or not _in_the_foreground(fd := sys.stdin.fileno()):
        yield
        return
    from showctl.gpio.sim import SimGpio  # noqa: PLC0415

    assert isinstance(gpio, SimGpio)
    loop = asyncio.get_running_loop()
    show = controller.show

    def on_key() -> None:
        key = os.read(fd, 1).decode(errors="replace").lower()
        if key == QUIT_KEY:
            stopping()
            return
        name = keys.get(key)
        if name is None:
            return
        kind, _, what = name.partition(":")
        if kind == "event":
            controller.fire(name, "keyboard")
            return
        spec = show.inputs[what]
        lines = gpio.inputs[chip_path(spec.chip)]
        lines.press(spec.line)
        loop.call_later(KEY_PRESS, lines.release, spec.line)

    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd, termios.TCSANOW)  # not TCSAFLUSH: keys typed while it started count
    loop.add_reader(fd, on_key)
    try:
        yield
    finally:
        loop.remove_reader(fd)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _in_the_foreground(fd: int) -> bool:
    """Whether ``fd`` is this process's terminal, and its process group the one at the keys."""
    try:
        return os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:  # a terminal, but not this process's own
        return False
