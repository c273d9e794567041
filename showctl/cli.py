"""The ``showctl`` command line.

Each subcommand is a function taking the parsed arguments and returning the exit status.
Errors for people are one sentence on stderr and status 1 (2 for a usage error), never
a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from showctl import __version__
from showctl.commands import COMMANDS
from showctl.players.restarts import RestartPolicy

#: How long ``showctl run`` waits by default for the show's sound cards at start (seconds): at
#: boot, a USB card can come up after the service has started.
WAIT_FOR_CARDS = 30.0

if TYPE_CHECKING:
    import datetime

    from showctl.leds.matrix import LedPlayer
    from showctl.leds.view import TerminalView
    from showctl.settings import Settings
    from showctl.show.model import Show

# Each command imports what it needs when it runs: a player process (`showctl player`, one per
# audio output) then loads the audio engine only, not the show loader or the state machine.

Command = Callable[[argparse.Namespace], int]
LOG_LEVELS = ("debug", "info", "warning", "error")


def cmd_check(args: argparse.Namespace) -> int:
    """Check show files; print every problem as FILE:LINE:COL: PATH: message, then a summary."""
    from showctl import settings
    from showctl.errors import SettingsError
    from showctl.show import loader

    try:
        check_settings = settings.load(Path(args.settings) if args.settings else None)
    except SettingsError as e:
        print(e, file=sys.stderr)
        return 1
    errors = warnings = 0
    for path in args.shows:
        _, problems = loader.check(path, check_media=not args.no_media, settings=check_settings)
        for problem in problems:
            print(problem)
        file_errors = sum(p.severity == "error" for p in problems)
        file_warnings = len(problems) - file_errors
        errors += file_errors
        warnings += file_warnings
        verdict = "ok" if not file_errors else "not loadable"
        print(
            f"{path}: {_count(file_errors, 'error')}, {_count(file_warnings, 'warning')}: {verdict}"
        )
    if len(args.shows) > 1:
        print(
            f"{len(args.shows)} show files: {_count(errors, 'error')}, "
            f"{_count(warnings, 'warning')}"
        )
    return 1 if errors or (args.strict and warnings) else 0


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of the show format (or write it to --out)."""
    from showctl.show import schema

    text = schema.json_schema_text()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def cmd_demo_media(args: argparse.Namespace) -> int:
    """Write the demo shows' media under a folder."""
    from showctl.demo_media import write_demo_media

    for path in write_demo_media(Path(args.folder)):
        print(path)
    return 0


def cmd_walk(args: argparse.Namespace) -> int:
    """Walk through a show's scenes on simulated time, logging each step, until Ctrl-C."""
    from showctl.walk import walk

    loaded = _load(args.show)
    if loaded is None:
        return 1
    import asyncio

    leds = _terminal_leds(loaded, args) if args.leds and loaded.matrix is not None else None
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                walk(loaded, speed=args.speed, pause=args.pause, steps=args.steps, leds=leds)
            )
    finally:
        if leds is not None:
            leds.stop()
    return 0


def _terminal_leds(loaded: Show, args: argparse.Namespace) -> LedPlayer:
    """An LED player on simulated lines, drawn live at the bottom of the terminal (not started:
    the walk starts it on its clock); the log is then written above it."""
    from showctl.gpio.sim import SimGpio
    from showctl.leds.matrix import LedPlayer, Shown, open_matrix
    from showctl.leds.view import Recorder

    matrix = loaded.matrix
    assert matrix is not None
    view = _terminal_view(args, f"{loaded.title}: LEDs (simulated)")
    recorder = (
        Recorder(Path(args.record_leds), matrix.rows, matrix.columns) if args.record_leds else None
    )

    def on_frame(shown: Shown) -> None:
        view.show(shown.at, shown.frame)
        if recorder is not None:
            recorder(shown)

    return LedPlayer(open_matrix(matrix, SimGpio()), on_frame=on_frame)


def _terminal_view(args: argparse.Namespace, title: str) -> TerminalView:
    """The LED matrix drawn at the bottom of the terminal, with the log written above it."""
    from showctl import log
    from showctl.leds.view import TerminalView

    view = TerminalView(sys.stdout, title)
    log.configure(
        getattr(args, "log_level", "info"), getattr(args, "log_format", "auto"), view.log_stream()
    )
    return view


def cmd_leds_render(args: argparse.Namespace) -> int:
    """Draw a scene's LED cues as a PNG sheet of frames, one every --every seconds."""
    from showctl.leds.meter import clip_meter
    from showctl.leds.programs import Schedule
    from showctl.leds.view import sheet, write_png

    loaded = _load(args.show)
    if loaded is None:
        return 1
    if loaded.matrix is None:
        print(f"{args.show} has no LED matrix: there is nothing to draw", file=sys.stderr)
        return 1
    if args.scene not in loaded.scenes:
        names = ", ".join(loaded.scenes)
        print(f"{args.show} has no scene {args.scene!r}; its scenes are: {names}", file=sys.stderr)
        return 1
    scene = loaded.scenes[args.scene]
    schedule = Schedule(loaded.matrix, scene.leds, clip_meter(loaded, args.scene))
    frames = []
    for k in range(round(args.seconds / args.every)):
        schedule.advance(k * args.every)
        frames.append(schedule.frame.copy())
    schedule.close()
    write_png(Path(args.out), sheet(frames, columns=args.columns))
    print(
        f"{args.out}: {len(frames)} frames of scene {args.scene!r}, one every {args.every:g} s, "
        f"{args.columns} to a row"
    )
    return 0


def cmd_leds_replay(args: argparse.Namespace) -> int:
    """Show a recording of LED frames in the terminal, at its own pace."""
    from showctl.errors import RecordingError
    from showctl.leds.view import TerminalView, read_recording, replay

    try:
        count = replay(
            read_recording(Path(args.file)), TerminalView(sys.stdout, args.file), args.speed
        )
    except RecordingError as e:
        print(e, file=sys.stderr)
        return 1
    except OSError as e:
        print(
            f"{args.file} cannot be read ({e.strerror or e}); give a recording made with "
            "showctl walk SHOW --leds --record-leds FILE",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 0
    print(f"{count} frames")
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    """Play one scene of a show on its outputs, all started at one T0, and report."""
    from showctl import app
    from showctl.players import pool as player_pool

    loaded = _load(args.show)
    if loaded is None:
        return 1
    if args.scene not in loaded.scenes:
        print(
            f"{args.show} has no scene {args.scene!r}; its scenes are: {', '.join(loaded.scenes)}",
            file=sys.stderr,
        )
        return 1

    import asyncio

    async def play() -> player_pool.SceneReport:
        pool = player_pool.PlayerPool(
            loaded.outputs,
            backend=app.audio_backend(args.sim),
            capture=Path(args.capture) if args.capture else None,
        )
        async with pool:
            return await player_pool.play_scene(
                pool, loaded, args.scene, lead=args.lead, timeout=args.timeout
            )

    try:
        report = asyncio.run(play())
    except player_pool.PlayerError as e:
        print(e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    print(
        f"scene {args.scene!r}: {len(report.started)} outputs started within "
        f"{report.skew * 1000:.3f} ms of each other (by their own clocks), "
        f"{len(report.finished)} finished"
    )
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Measure every output with a microphone; with --write store the trims, with --verify
    check them."""
    import asyncio
    import json

    from showctl.calibration import session
    from showctl.errors import AudioDeviceError
    from showctl.players.pool import PlayerError

    loaded = _load(args.show)
    if loaded is None:
        return 1
    try:
        from showctl.audio import sounddevice_backend as backend

        backend.find(args.input, "input")
        result = asyncio.run(
            session.calibrate(
                loaded,
                lambda: backend.SoundDeviceBackend().record(args.input, args.rate),
                write=args.write,
                verify=args.verify,
            )
        )
    except (AudioDeviceError, PlayerError) as e:
        print(f"cannot calibrate: {e}", file=sys.stderr)
        return 1
    print(result.report())
    print(json.dumps(result.summary()))
    return 0 if result.passed else 1


def _across_boxes(show: Show, settings: Settings) -> str | None:
    """Why ``showctl run`` cannot play ``show`` across boxes with ``settings`` (one sentence);
    ``None``: it can, or the show has no boxes."""
    if not show.boxes:
        return None
    box, boxes = settings.box, ", ".join(show.boxes)
    if box.me not in show.boxes or box.leader not in show.boxes:
        return (
            f"this box is {box.me!r} and its leader {box.leader!r}, and the show's boxes are: "
            f"{boxes}; set [box] name and leader in the settings to two of them"
        )
    if not settings.mqtt.host:
        return f"{show.path} is played by boxes ({boxes}): set [mqtt] host to their broker"
    return None


def cmd_devices(args: argparse.Namespace) -> int:
    """List the output devices with the query to write; with a show, check its outputs."""
    from showctl.errors import AudioDeviceError

    try:
        from showctl.audio import sounddevice_backend as backend

        devices = backend.list_devices()
        inputs = backend.list_devices("input")
    except AudioDeviceError as e:  # PortAudio missing, or the devices cannot be listed
        print(e, file=sys.stderr)
        return 1
    cards = backend.alsa_cards()
    for title, listed in (
        ("output devices (write the query in the show's outputs.NAME.device)", devices),
        ("input devices (for showctl calibrate --input)", inputs),
    ):
        print(f"{title}:")
        for device in listed:
            print(
                f"  {backend.query_for(device, cards)!r:32} {device.name}  "
                f"({device.channels} ch, {device.default_rate:g} Hz)"
            )
    if not args.show:
        return 0
    loaded = _load(args.show)
    if loaded is None:
        return 1
    missing = 0
    print(f"outputs of {args.show}:")
    for name, output in loaded.outputs.items():
        found = backend.matches(output.device, devices)
        if len(found) == 1:
            state = f"found: {found[0].name}"
        elif not found:
            state, missing = "MISSING", missing + 1
        else:
            names = ", ".join(d.name for d in found)
            state, missing = f"AMBIGUOUS: {names}", missing + 1
        print(f"  {name:16} {output.device!r:32} {state}")
    return 1 if missing else 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run a show: players, LED matrix, inputs, controller and control socket, until stopped."""
    import asyncio

    from showctl import app, saved_state, settings
    from showctl.errors import ControlError, GpioError, SettingsError
    from showctl.players.pool import PlayerError
    from showctl.surfaces import control_socket

    if args.capture and not args.sim:
        print("--capture writes what simulated outputs play; add --sim", file=sys.stderr)
        return 2
    try:
        run_settings = settings.load(Path(args.settings) if args.settings else None)
    except SettingsError as e:
        print(e, file=sys.stderr)
        return 1
    loaded = _load(args.show, run_settings)
    if loaded is None:
        return 1
    refusal = _across_boxes(loaded, run_settings)
    if refusal:
        print(refusal, file=sys.stderr)
        return 1
    state_path = Path(args.state) if args.state else saved_state.default_path(loaded.path)
    try:
        state_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(
            f"the state folder {state_path.parent} cannot be made ({e.strerror}); "
            "give a writable file with --state",
            file=sys.stderr,
        )
        return 1
    view = None
    if args.sim and sys.stdout.isatty():  # the matrix and the keys, the log above them
        view = _terminal_view(args, f"{loaded.title} (simulated)")
    options = app.RunOptions(
        sim=args.sim,
        socket=Path(args.socket) if args.socket else control_socket.default_socket(),
        state=state_path,
        capture=Path(args.capture) if args.capture else None,
        view=view,
        wait_for_cards=args.wait_for_cards,
        settings=run_settings,
        sim_gpio=args.sim_gpio,
        restarts=RestartPolicy(retry_failed=args.retry_failed),
    )
    box = run_settings.box
    try:
        if loaded.boxes and box.me != box.leader:
            from showctl.multibox.follow import follow

            return asyncio.run(follow(loaded, box.me, options))
        return asyncio.run(app.run(loaded, options))
    except (PlayerError, GpioError, ControlError) as e:
        print(e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C before run() took the signal over
        return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    """Print what a show's opening hours do, day by day, and what they say now."""
    import datetime as dt
    import time

    from showctl.hours import OpeningHours, verdict
    from showctl.wall_clock import kernel_clock

    loaded = _load(args.show)
    if loaded is None:
        return 1
    if loaded.hours is None:
        print(f"{args.show} has no opening hours: it plays at any hour", file=sys.stderr)
        return 1
    hours = OpeningHours(loaded.hours)
    now = time.time()
    first = args.start or dt.datetime.fromtimestamp(now, hours.zone).date()
    where = "the show's" if loaded.hours.zone else "this box's"
    print(f"{loaded.title}: opening hours in {hours.zone_name} ({where} time zone)")
    for line in hours.timetable(first, args.days):
        print(line)
    print(f"Closed, the show is in its scene {loaded.hours.closed!r}.")
    synchronised = kernel_clock().synchronised
    print(
        f"Now, by this machine's clock ({'' if synchronised else 'not '}synchronised, as its "
        f"kernel says): {verdict(hours, now, trusted=True).why}."
    )
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Run the health checks now and print them for a person, each problem with its fix;
    status 1 if one is a problem."""
    import asyncio
    import time

    from showctl import settings
    from showctl.errors import ControlError, SettingsError
    from showctl.health import Finding, Sensors, check_clock, check_machine, check_show
    from showctl.saved_state import default_folder
    from showctl.surfaces import control_socket
    from showctl.wall_clock import WallClock

    try:
        run_settings = settings.load(Path(args.settings) if args.settings else None)
    except SettingsError as e:
        print(e, file=sys.stderr)
        return 1
    path = Path(args.socket) if args.socket else control_socket.default_socket()
    try:
        status = asyncio.run(control_socket.request(path, {"cmd": "status"}))
        findings = check_show(status)
        clock = status["wall_clock"]
    except ControlError as e:
        findings = [
            Finding(
                "show",
                "problem",
                str(e).partition(";")[0],
                "start it: systemctl start showctl (journalctl -u showctl says why it stopped)",
            ),
            Finding("outputs", "skipped", "showctl is not running"),
        ]
        trusted, why = WallClock(run_settings.clock.trust).judge()
        clock = {"trusted": trusted, "why": why, "since": time.time()}
    findings.append(check_clock(clock, time.time() - clock["since"], grace=0))
    disk = Path(args.state).parent if args.state else default_folder()
    findings += check_machine(run_settings.health, disk, Sensors())
    for finding in findings:
        state = "PROBLEM" if finding.state == "problem" else finding.state
        print(f"{state:<8} {finding.check:<12} {finding.says}")
        if finding.fix:
            print(f"{'':<21} fix: {finding.fix}")
    problems = sum(f.state == "problem" for f in findings)
    print(f"{_count(problems, 'problem')}." if problems else "All is well.")
    return 1 if problems else 0


def cmd_control(args: argparse.Namespace) -> int:
    """A command of the vocabulary (``status``, ``trigger``, ``go``...): ask the running
    controller through its control socket."""
    import asyncio
    import json

    from showctl.errors import ControlError
    from showctl.surfaces import control_socket

    message: dict[str, object] = {"cmd": args.command}
    message.update({arg.name: getattr(args, arg.name) for arg in COMMANDS[args.command].args})
    path = Path(args.socket) if args.socket else control_socket.default_socket()
    try:
        answer = asyncio.run(control_socket.request(path, message))
    except ControlError as e:
        print(e, file=sys.stderr)
        return 1
    if not answer.get("ok"):
        print(answer.get("error"), file=sys.stderr)
        for problem in answer.get("problems", ()):
            print(problem, file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2))
    if answer.get("why"):  # a trigger taken that moved nothing: say why, under the state
        print(f"{args.name} did nothing: {answer['why']}", file=sys.stderr)
    return 0


def cmd_player(args: argparse.Namespace) -> int:
    """One audio output's player process, driven by the controller (not for people)."""
    from showctl.players import player

    capture = Path(args.capture) if args.capture else None
    return player.main(
        args.output,
        args.device,
        args.rate,
        args.backend,
        capture,
        latency=args.latency,
        lock=not args.no_drift_lock,
        known_ppm=args.ppm,
        append_capture=args.append_capture,
    )


def _load(path: str, settings: Settings | None = None) -> Show | None:
    """Load a show (its OSC targets and broker checked against ``settings``), or print its
    errors and return ``None``."""
    from showctl.errors import ShowError
    from showctl.show import loader

    try:
        return loader.load(path, settings=settings)
    except ShowError as e:
        for problem in e.problems:
            print(problem, file=sys.stderr)
        print(
            f"{path}: {_count(len(e.problems), 'error')}; run 'showctl check {path}' "
            "after correcting them",
            file=sys.stderr,
        )
        return None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def _date(text: str) -> datetime.date:
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} is not a date such as 2026-12-24") from None


def _days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 400:
        raise argparse.ArgumentTypeError(f"must be a number of days from 1 to 400, not {text}")
    return int(text)


def _add_box_commands(add: Callable[[str, Command, str], argparse.ArgumentParser]) -> None:
    """The commands about the box itself: its health and its opening hours."""
    p = add("doctor", cmd_doctor, "check the box's health now, each problem with its fix")
    p.add_argument("--socket", metavar="PATH", help="the running show's control socket")
    p.add_argument("--state", metavar="FILE", help="the running show's state file (its disk)")
    p.add_argument(
        "--settings",
        metavar="FILE",
        help="the settings file (default: /etc/showctl/settings.toml if it exists)",
    )

    p = add("schedule", cmd_schedule, "print when a show's opening hours open and close it")
    p.add_argument("show", metavar="SHOW")
    p.add_argument(
        "--from",
        dest="start",
        type=_date,
        metavar="DATE",
        help="the first day, as 2026-12-24 (default: today)",
    )
    p.add_argument("--days", type=_days, default=7, metavar="N", help="how many days (default: 7)")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=argparse.SUPPRESS,
        help="the lowest level logged (default: info)",
    )
    common.add_argument(
        "--log-format",
        choices=("auto", "json", "console"),
        default=argparse.SUPPRESS,
        help="json lines, or coloured text for people (default: console on a "
        "terminal, json elsewhere)",
    )
    parser = argparse.ArgumentParser(
        prog="showctl",
        parents=[common],
        description="An installation show controller: scenes, synchronised audio, LED cues.",
    )
    parser.add_argument("--version", action="version", version=f"showctl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Command, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        return p

    p = add("check", cmd_check, "check show files and point at every mistake")
    p.add_argument("shows", nargs="+", metavar="SHOW", help="show files (YAML)")
    p.add_argument("--strict", action="store_true", help="fail on warnings too")
    p.add_argument("--no-media", action="store_true", help="do not open the clips")
    p.add_argument(
        "--settings",
        metavar="FILE",
        help="the settings file the show will run with, for its OSC targets and broker "
        "(default: /etc/showctl/settings.toml if it exists)",
    )

    _add_box_commands(add)

    p = add("schema", cmd_schema, "print the JSON Schema of the show format, for editors")
    p.add_argument("--out", metavar="FILE", help="write it to FILE instead")

    p = add("demo-media", cmd_demo_media, "write the example shows' media (mono WAVs)")
    p.add_argument("folder", nargs="?", default="media", help="where to (default: media)")

    p = add(
        "walk",
        cmd_walk,
        "walk through a show's scenes without hardware, logging each step, until Ctrl-C",
    )
    p.add_argument("show", metavar="SHOW")
    p.add_argument(
        "--speed",
        type=_positive,
        default=1.0,
        help="how many times faster than real time (default: 1)",
    )
    p.add_argument(
        "--pause",
        type=_positive,
        default=3.0,
        help="seconds between simulated button presses (default: 3)",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=0,
        help="stop after this many scene changes (default: run until Ctrl-C)",
    )
    p.add_argument(
        "--leds",
        action="store_true",
        help="show the LED matrix live at the bottom of the terminal (simulated lines)",
    )
    p.add_argument(
        "--record-leds",
        metavar="FILE",
        help="with --leds: also write every frame with its time to FILE (showctl leds replay)",
    )
    _add_leds_commands(sub, common)
    _add_audio_commands(add)
    _add_run_commands(add)

    p = add("player", cmd_player, "one output's player process (started by showctl itself)")
    p.add_argument("--output", required=True, help="the output's name in the show")
    p.add_argument("--device", required=True, help="the device query")
    p.add_argument("--rate", type=int, required=True, help="samples a second")
    p.add_argument("--latency", type=_positive, required=True, help="seconds held ahead")
    p.add_argument("--backend", choices=("sounddevice", "sim"), default="sounddevice")
    p.add_argument(
        "--capture", metavar="FOLDER", help="sim: write what is played to OUTPUT.wav here"
    )
    p.add_argument(
        "--append-capture",
        action="store_true",
        help="sim: add to the output's capture rather than begin it afresh (a restarted player)",
    )
    p.add_argument(
        "--ppm",
        type=float,
        help="the card's clock error as the player before measured it: the fit starts there",
    )
    p.add_argument(
        "--no-drift-lock",
        action="store_true",
        help="play without the drift lock (to measure what it does)",
    )
    return parser


def _add_audio_commands(add: Callable[[str, Command, str], argparse.ArgumentParser]) -> None:
    """``showctl play``, ``calibrate`` and ``devices``: the sound cards without a running show."""
    p = add("play", cmd_play, "play one scene's clips on the show's outputs, started together")
    p.add_argument("show", metavar="SHOW")
    p.add_argument("--scene", required=True, help="the scene to play")
    p.add_argument("--sim", action="store_true", help="simulated outputs instead of sound cards")
    p.add_argument(
        "--capture",
        metavar="FOLDER",
        help="with --sim: write what each output plays to OUTPUT.wav here",
    )
    p.add_argument(
        "--lead",
        type=_positive,
        default=0.15,
        help="seconds between the command and the first sample (default: 0.15)",
    )
    p.add_argument(
        "--timeout",
        type=_positive,
        default=None,
        help="stop waiting for the clips to end after this many seconds",
    )

    p = add(
        "calibrate",
        cmd_calibrate,
        "measure every output with a microphone: each one's arrival against the others",
    )
    p.add_argument("show", metavar="SHOW")
    p.add_argument(
        "--input",
        required=True,
        metavar="DEVICE",
        help="the microphone's input device (showctl devices lists them)",
    )
    p.add_argument(
        "--write",
        action="store_true",
        help="store the trims that bring every output together, in the calibration file beside "
        "the show (SHOW.calibration.json)",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="measure with the stored trims; pass only if every output arrives within 0.25 ms "
        "of the others",
    )
    p.add_argument(
        "--rate", type=int, default=48000, help="the input's samples a second (default: 48000)"
    )

    p = add(
        "devices",
        cmd_devices,
        "list the sound cards with the query to write; with a show, check its outputs",
    )
    p.add_argument("show", nargs="?", metavar="SHOW")


def _add_run_commands(add: Callable[[str, Command, str], argparse.ArgumentParser]) -> None:
    """``showctl run`` and the commands that talk to it over the control socket."""
    p = add("run", cmd_run, "run a show: audio, LEDs, inputs, until stopped")
    p.add_argument("show", metavar="SHOW")
    p.add_argument(
        "--sim",
        action="store_true",
        help="simulate every backend: sound cards, LED matrix (drawn in the terminal) and "
        "inputs (pressed from the keyboard)",
    )
    p.add_argument(
        "--capture",
        metavar="FOLDER",
        help="with --sim: write what each output plays to OUTPUT.wav here",
    )
    p.add_argument("--state", metavar="FILE", help="where the show's state is kept")
    p.add_argument("--socket", metavar="PATH", help="the control socket to listen on")
    p.add_argument(
        "--settings",
        metavar="FILE",
        help="the settings file: the web page, MQTT and OSC (default: "
        "/etc/showctl/settings.toml if it exists, else the web page on 127.0.0.1:8080 only)",
    )
    p.add_argument(
        "--wait-for-cards",
        metavar="SECONDS",
        type=float,
        default=WAIT_FOR_CARDS,
        help="at start, how long to wait for sound cards that are not there yet, before the "
        "show starts without them (default: %(default)g)",
    )
    p.add_argument(
        "--retry-failed",
        metavar="SECONDS",
        type=_positive,
        default=RestartPolicy.retry_failed,
        help="how often an output whose player kept failing (its card unplugged) is tried "
        "again, so a card plugged back in plays again (default: %(default)g)",
    )
    p.add_argument(
        "--sim-gpio",
        action="store_true",
        help="simulate the GPIO lines only, the sound cards real (a box whose LED matrix and "
        "inputs are not wired yet)",
    )

    for command in COMMANDS.values():  # the running show's, through its control socket
        p = add(command.name, cmd_control, command.doc[0].lower() + command.doc[1:-1])
        p.add_argument("--socket", metavar="PATH", help="the controller's control socket")
        for arg in command.args:
            if arg.type is bool:
                p.add_argument(f"--{arg.name}", action="store_true", help=arg.doc)
            else:
                p.add_argument(arg.name, metavar=arg.what.upper(), help=arg.doc)


def _add_leds_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """``showctl leds render`` and ``showctl leds replay``."""
    leds = sub.add_parser(
        "leds", parents=[common], help="the LED matrix without hardware: draw, replay"
    ).add_subparsers(dest="leds_command", required=True, metavar="COMMAND")

    def add_leds(name: str, func: Command, help: str) -> argparse.ArgumentParser:
        p = leds.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        return p

    p = add_leds("render", cmd_leds_render, "draw a scene's LED cues as a PNG sheet of frames")
    p.add_argument("show", metavar="SHOW")
    p.add_argument("--scene", required=True, help="the scene whose cues to draw")
    p.add_argument("--out", required=True, metavar="FILE.png", help="the picture to write")
    p.add_argument(
        "--seconds", type=_positive, default=4.0, help="how much of the scene (default: 4)"
    )
    p.add_argument(
        "--every", type=_positive, default=0.125, help="seconds between frames (default: 0.125)"
    )
    p.add_argument("--columns", type=int, default=8, help="frames to a row (default: 8)")
    p = add_leds("replay", cmd_leds_replay, "show a recording of LED frames in the terminal")
    p.add_argument("file", metavar="FILE", help="a recording (JSON lines)")
    p.add_argument("--speed", type=_positive, default=1.0, help="faster than real (default: 1)")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.func is not cmd_player:  # a player writes plain JSON lines (protocol.LogLines)
        from showctl import log

        log.configure(
            getattr(args, "log_level", "info"),
            getattr(args, "log_format", "auto"),
            background=args.func is cmd_run,  # the show never waits for its log stream
        )
    try:
        status: int = args.func(args)
    except BrokenPipeError:  # the reader went away (showctl check ... | head): not an error
        sys.stderr.close()
        return 0
    return status
