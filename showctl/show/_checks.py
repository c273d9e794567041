"""The checks of a show that its types alone cannot make: references, wiring, media, the graph.

Run by :func:`showctl.show.check_text` after the document converted. Every finding is
recorded on the converter, at the path of the value it is about. Checks that depend on a
part of the document that already failed to convert are skipped rather than guessed at,
so one mistake is reported once.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path as FsPath

from showctl import hours as opening_hours
from showctl.audio.clip import clip_problem
from showctl.gpio.base import chip_path
from showctl.settings import Settings
from showctl.show._convert import Converter, parse_duration, suggest, tags_of
from showctl.show._yaml import Path
from showctl.show.model import (
    COMPARISON,
    FAULT,
    HINTS,
    Action,
    All,
    Blink,
    ClockAction,
    Cycle,
    First,
    Forever,
    Frames,
    GiveHint,
    Hold,
    HttpRequest,
    Increment,
    LedRef,
    Matrix,
    Meter,
    Off,
    On,
    PlaySound,
    Power,
    Program,
    Publish,
    Pulse,
    Scene,
    SendOsc,
    SendSerial,
    Sequence,
    Show,
    Transition,
    Unpower,
    Zero,
)

RESERVED_NAMES = frozenset({"all", "master"})


def check_show(
    show: Show | None, converter: Converter, check_media: bool, settings: Settings
) -> None:
    """Record every problem of a converted show on ``converter``, the names it takes from the
    settings (OSC targets, the MQTT broker) checked against ``settings``. ``None``: nothing to
    check."""
    if show is None:
        return
    _Checker(show, converter, check_media, settings).run()


@dataclass
class _Checker:
    show: Show
    conv: Converter
    check_media: bool
    settings: Settings

    def declared(self, path: Path, present: Iterable[str]) -> set[str]:
        """Names declared at ``path``, including those whose definition failed to convert."""
        return set(self.conv.keys.get(path, ())) | set(present)

    def run(self) -> None:
        show = self.show
        self.scenes = self.declared(("scenes",), show.scenes)
        self.outputs = self.declared(("outputs",), show.outputs)
        self.inputs = self.declared(("inputs",), show.inputs)
        self.relays = self.declared(("relays",), show.relays)
        self.flags = set(show.flags)
        self.counters = set(show.counters)
        self.compared = self.counters | {HINTS}  # what a condition compares with a number
        self.clocks = self.declared(("clocks",), show.clocks)
        self.sounds = self.declared(("sounds",), show.sounds)
        self.hints = self.declared(("hints",), show.hints)
        self.matrix_ok = show.matrix is not None and not self.conv.failed_under(("matrix",))
        self.on_box: dict[tuple[str, str], str] = {}  # (kind, name): its box, when boxes
        self.media_ok = True

        self.reference(("initial",), show.initial, self.scenes, "scene")
        for name in sorted(RESERVED_NAMES & self.outputs):
            self.conv.report(("outputs", name), f"'{name}' is a reserved word; name it otherwise")
        if FAULT in self.scenes:
            self.conv.report(
                ("scenes", FAULT),
                f"'{FAULT}' is the state showctl enters when the show cannot go on; "
                "name the scene otherwise",
            )
        self.check_levels()
        self.check_flags()
        self.check_matrix()
        self.check_boxes()
        self.check_lines()
        self.check_relays()
        self.check_clocks()
        self.check_media_dir()
        self.check_sounds()
        self.check_hints()
        self.check_hours()
        for name, scene in show.scenes.items():
            self.check_scene(name, scene)
        self.check_graph()

    # references

    def reference(self, path: Path, name: str, known: set[str], what: str) -> bool:
        if name in known:
            return True
        hint = suggest(name, known)
        if not hint and known:
            hint = f" (the {what}s are: {', '.join(sorted(known))})"
        elif not known:
            hint = f"; the show declares no {what}s"
        self.conv.report(path, f"unknown {what} '{name}'{hint}")
        return False

    def check_flags(self) -> None:
        for key, what in (("flags", "flag"), ("counters", "counter")):
            seen: set[str] = set()
            for where, name in self.conv.items((key,), getattr(self.show, key)):
                if name in seen:
                    self.conv.report(where, f"{what} '{name}' is declared twice")
                if name == HINTS and key == "counters":
                    self.conv.report(
                        where,
                        f"'{HINTS}' is showctl's own counter of the hints given; conditions "
                        "read it without declaring it, so remove it here (or name yours "
                        "otherwise)",
                    )
                seen.add(name)

    # the matrix and the GPIO lines

    def check_matrix(self) -> None:
        matrix = self.show.matrix
        if matrix is None or not self.matrix_ok:  # nothing to check, or reported already
            return
        drive = self.drive_problem(matrix)
        if drive:
            self.conv.report(("matrix",), drive)
            self.matrix_ok = False
            return
        if matrix.multiplexed:
            self.check_names(matrix)
            return
        columns = len(matrix.lines[0])
        for r, row in enumerate(matrix.lines[1:], start=1):
            if len(row) != columns:
                self.conv.report(
                    ("matrix", "lines", r),
                    f"row {r} has {len(row)} lines but row 0 has {columns}; "
                    "every row needs one line per column",
                )
                self.matrix_ok = False
        if self.matrix_ok:
            self.check_names(matrix)

    @staticmethod
    def drive_problem(matrix: Matrix) -> str | None:
        """Why the matrix's lines say no one way to drive it, or ``None``."""
        direct, rows, columns = (
            bool(matrix.lines),
            bool(matrix.row_lines),
            bool(matrix.column_lines),
        )
        if direct and (rows or columns):
            return (
                "give either 'lines' (a line per LED) or 'row_lines' and 'column_lines' "
                "(multiplexed), not both"
            )
        if rows != columns:
            given, missing = (
                ("row_lines", "column_lines") if rows else ("column_lines", "row_lines")
            )
            return f"a multiplexed matrix needs '{missing}' as well as '{given}'"
        if not direct and not rows:
            return (
                "the matrix needs its lines: 'lines' (a line per LED, a list per row) or "
                "'row_lines' and 'column_lines' (multiplexed)"
            )
        return None

    def check_names(self, matrix: Matrix) -> None:
        for name in sorted(RESERVED_NAMES & (set(matrix.names) | set(matrix.groups))):
            self.conv.report(("matrix",), f"'{name}' is a reserved word; name the LED otherwise")
        for name in set(matrix.names) & set(matrix.groups):
            self.conv.report(("matrix", "groups", name), f"'{name}' names both an LED and a group")
        for name, ref in matrix.names.items():
            self.selection(("matrix", "names", name), (ref,), matrix)
        for name, selection in matrix.groups.items():
            self.selection(("matrix", "groups", name), selection, matrix)

    def selection(self, path: Path, selection: tuple[LedRef, ...], matrix: Matrix) -> None:
        for i, ref in enumerate(selection):
            try:
                matrix.resolve((ref,))
            except KeyError as e:
                where = (*path, i) if len(selection) > 1 else path
                known = [*matrix.names, *matrix.groups]
                hint = suggest(ref, known) if isinstance(ref, str) else ""
                self.conv.report(where, f"{e.args[0]}{hint}")

    def check_boxes(self) -> None:
        """With boxes, each output, input and relay is on one box, and the matrix on one."""
        if not self.show.boxes:
            return
        self.check_box_settings()
        parts = {"outputs": self.outputs, "inputs": self.inputs, "relays": self.relays}
        misnamed: set[str] = set()  # kinds a box names one of wrongly: a typo, said already
        for box_name, box in self.show.boxes.items():
            for kind, known in parts.items():
                for where, name in self.conv.items(("boxes", box_name, kind), getattr(box, kind)):
                    if not self.reference(where, name, known, kind[:-1]):
                        misnamed.add(kind)
                        continue
                    first = self.on_box.setdefault((kind, name), box_name)
                    if first != box_name:
                        self.conv.report(
                            where,
                            f"{kind[:-1]} '{name}' is already on box '{first}': it is wired "
                            "to one box; list it in that box's only",
                        )
            if box.matrix:
                first = self.on_box.setdefault(("matrix", ""), box_name)
                if first != box_name:
                    self.conv.report(
                        ("boxes", box_name, "matrix"),
                        f"the matrix is already on box '{first}': it is wired to one box",
                    )
        boxes = ", ".join(self.show.boxes)
        for kind, known in parts.items():
            if kind in misnamed:
                continue
            for name in sorted(known - {n for k, n in self.on_box if k == kind}):
                self.conv.report(
                    (kind, name),
                    f"{kind[:-1]} '{name}' is on no box: list it in the {kind} of the box it "
                    f"is wired to (boxes: {boxes})",
                )
        if self.show.matrix is not None and ("matrix", "") not in self.on_box:
            self.conv.report(
                ("matrix",),
                f"the matrix is on no box: give the box it is wired to 'matrix: true' "
                f"(boxes: {boxes})",
            )

    def check_box_settings(self) -> None:
        """The settings the show runs with name this box and the leader among its boxes."""
        box, known = self.settings.box, set(self.show.boxes)
        where = self.settings.path
        if where is None:  # no settings file: the show may be checked away from its boxes
            return
        if box.me not in known:
            named = f"[box] name in {where}" if box.name else f"its host name ({where} names none)"
            self.conv.report(
                ("boxes",),
                f"this box is '{box.me}' ({named}), and the show's boxes are: "
                f"{', '.join(self.show.boxes)}; set [box] name to one of them",
            )
        if box.leader not in known:
            self.conv.report(
                ("boxes",),
                f"{where} names {f'leader {box.leader!r}' if box.leader else 'no leader'}, "
                f"and the show's boxes are: {', '.join(self.show.boxes)}; set [box] leader to "
                "the box that runs the scenes",
            )

    def check_lines(self) -> None:
        """Every GPIO line of a box is used once: by the matrix, an input or a relay (of boxes,
        each has lines of its own)."""
        used: dict[tuple[str | None, str, int], tuple[Path, str]] = {}

        def claim(part: tuple[str, str], chip: str, line: int, path: Path, what: str) -> None:
            key = (self.on_box.get(part), chip_path(chip), line)
            if key in used:
                first_path, first_what = used[key]
                first_line, _ = self.conv.locate(first_path)
                self.conv.report(
                    path,
                    f"line {line} of {key[1]} is already used by {first_what} "
                    f"(line {first_line}); give each LED, input and relay its own line",
                )
            else:
                used[key] = (path, what)

        matrix = self.show.matrix
        on_matrix = ("matrix", "")
        if matrix is not None and self.matrix_ok:
            for r, row in enumerate(matrix.lines):
                for c, line in enumerate(row):
                    path = ("matrix", "lines", r, c)
                    claim(on_matrix, matrix.chip, line, path, f"the LED at row {r}, column {c}")
            for key, what in (("row_lines", "row"), ("column_lines", "column")):
                for i, line in enumerate(getattr(matrix, key)):
                    claim(
                        on_matrix,
                        matrix.chip,
                        line,
                        ("matrix", key, i),
                        f"{what} {i} of the matrix",
                    )
        for name, spec in self.show.inputs.items():
            at = ("inputs", name, "line")
            claim(("inputs", name), spec.chip, spec.line, at, f"input '{name}'")
        for name, relay in self.show.relays.items():
            at = ("relays", name, "line")
            claim(("relays", name), relay.chip, relay.line, at, f"relay '{name}'")

    # media

    def check_relays(self) -> None:
        for name, relay in self.show.relays.items():
            if relay.safe == "powered" and relay.max_on is not None:
                self.conv.report(
                    ("relays", name, "max_on"),
                    f"relay '{name}' is safe powered, so cutting it after max_on would take it "
                    "out of its safe state; remove max_on, or make it safe unpowered",
                )
        for name, actions in self.show.actions.items():
            for where, action in self.conv.items(("actions", name), actions):
                self.action((*where, action.TAG), action)
        emergency = self.show.emergency
        inputs = emergency.inputs if emergency else ()
        for where, name in self.conv.items(("emergency", "inputs"), inputs):
            self.reference(where, name, self.inputs, "input")

    def check_sounds(self) -> None:
        for name, sound in self.show.sounds.items():
            here = ("sounds", name)
            if self.reference((*here, "output"), sound.output, self.outputs, "output"):
                self.check_clip((*here, "clip"), sound.clip, sound.output)

    def check_hints(self) -> None:
        for name, hint in self.show.hints.items():
            here = ("hints", name)
            if not hint.text and hint.clip is None:
                self.conv.report(
                    here, f"hint '{name}' has neither a text nor a clip; give it one or both"
                )
            elif hint.clip is not None and hint.output is None:
                self.conv.report(
                    (*here, "clip"), f"hint '{name}' has a clip but no output; add 'output: NAME'"
                )
            elif hint.clip is None and hint.output is not None:
                self.conv.report(
                    (*here, "output"),
                    f"hint '{name}' has an output but no clip to play on it; add 'clip: FILE'",
                )
            elif hint.sound is not None and self.reference(
                (*here, "output"), hint.sound.output, self.outputs, "output"
            ):
                self.check_clip((*here, "clip"), hint.sound.clip, hint.sound.output)

    def check_levels(self) -> None:
        for name, output in self.show.outputs.items():
            total = self.show.gain + output.gain
            if total > 0:
                self.conv.report(
                    ("outputs", name, "gain"),
                    f"output '{name}' would play at {total:+g} dB (the show's gain "
                    f"{self.show.gain:+g} dB and its own {output.gain:+g} dB), above 0 dB, "
                    "where a clip can clip; lower one of them",
                )

    def check_hours(self) -> None:
        hours = self.show.hours
        if hours is None or self.conv.failed_under(("hours",)):
            return
        self.reference(("hours", "closed"), hours.closed, self.scenes, "scene")
        for where, message in opening_hours.problems(hours):
            self.conv.report(("hours", *where), message)
        if not hours.weekly and not hours.dates:
            self.conv.report(
                ("hours",),
                "the hours open on no day, so the show is always closed; add weekly hours "
                "(tue-sun: 10:00-18:00)",
                severity="warning",
            )

    def check_clocks(self) -> None:
        taken = {t.event for scene in self.show.scenes.values() for t in scene.transitions}
        for name, clock in self.show.clocks.items():
            if name in self.compared:
                self.conv.report(
                    ("clocks", name),
                    f"'{name}' names a clock and a counter, and a condition compares either; "
                    "rename one of them",
                )
            event = clock.at_zero or f"{name}-end"
            if event not in taken:
                self.conv.report(
                    ("clocks", name) if clock.at_zero is None else ("clocks", name, "at_zero"),
                    f"clock '{name}' fires the event '{event}' at zero, but no scene takes it, so "
                    f"nothing happens then; add '- event: {event}' to the transitions of the "
                    "scenes it ends",
                    severity="warning",
                )

    def check_media_dir(self) -> None:
        if not self.check_media:
            return
        try:
            media = self.show.media_dir
            found = media.is_dir()
        except (OSError, ValueError):  # NUL bytes, names too long, loops of links
            self.conv.report(("media",), f"{self.show.media!r} is not a usable folder name")
            self.media_ok = False
            return
        if not found:
            self.conv.report(
                ("media",),
                f"the media folder {self.show.media!r} ({media}) does not exist; "
                "create it or correct the path",
            )
            self.media_ok = False

    def check_clip(self, path: Path, clip: str, output: str) -> None:
        show = self.show
        if FsPath(clip).is_absolute():
            self.conv.report(path, f"give the clip relative to the media folder, not as {clip!r}")
            return
        if not self.check_media or not self.media_ok:
            return
        try:
            file = show.clip_path(clip).resolve()
            file.stat()
        except (OSError, ValueError) as e:  # NUL bytes, names too long, loops of links
            if not isinstance(e, FileNotFoundError):
                self.conv.report(path, f"{clip!r} is not a usable file name; rename the file")
                return
        if not file.is_relative_to(show.media_dir):
            self.conv.report(
                path,
                f"{clip!r} lies outside the media folder {show.media!r}; "
                "put the file inside it and name it from there",
            )
            return
        problem = clip_problem(file, show.outputs[output].rate if output in show.outputs else None)
        if problem:
            self.conv.report(path, f"{clip!r} {problem}")

    # scenes

    def check_scene(self, name: str, scene: Scene) -> None:
        here: Path = ("scenes", name)
        for output, play in scene.audio.items():
            path = (*here, "audio", output)
            if self.reference(path, output, self.outputs, "output") and play.clip is not None:
                clip_path = path if (*path, "clip") not in self.conv.locations else (*path, "clip")
                self.check_clip(clip_path, play.clip, output)
        for key in ("on_enter", "on_exit"):
            for where, action in self.conv.items((*here, key), getattr(scene, key)):
                self.action((*where, action.TAG), action)
        for where, timed in self.conv.items((*here, "timeline"), scene.timeline):
            self.action((*where, timed.action.TAG), timed.action)
        if scene.leds and self.show.matrix is None:
            self.conv.report((*here, "leds"), "this scene has LED cues, but the show has no matrix")
        elif scene.leds:
            for where, cue in self.conv.items((*here, "leds"), scene.leds):
                self.program(where, cue.program, scene)
        for where, transition in self.conv.items((*here, "transitions"), scene.transitions):
            self.transition(where, transition, scene)

    def flag(self, path: Path, condition: str) -> None:
        compared = re.match(COMPARISON, condition)
        if compared:
            name, value = compared[1], compared[3].strip()
            if name in self.clocks:
                seconds = parse_duration(value)
                if seconds is None or seconds < 0:
                    self.conv.report(
                        path,
                        f"clock '{name}' is compared with a time left, such as 5min or 90s; "
                        f"{value!r} is not one",
                    )
            elif (
                self.reference(
                    path,
                    name,
                    self.compared | self.clocks,
                    "counter or clock" if self.clocks else "counter",
                )
                and not value.isdigit()
            ):
                self.conv.report(
                    path,
                    f"counter '{name}' counts in whole numbers; compare it with one, not {value!r}",
                )
        else:
            self.reference(path, condition.rsplit(maxsplit=1)[-1], self.flags, "flag")

    def action(self, path: Path, action: Action) -> None:
        if isinstance(action, Increment) and action.counter == HINTS:
            self.conv.report(
                path,
                f"'{HINTS}' counts the hints given; give one with {{hint: NAME}} rather than "
                "counting it",
            )
        elif isinstance(action, Increment):
            self.reference(path, action.counter, self.counters, "counter")
        elif isinstance(action, Zero):
            self.reference(path, action.counter, self.compared, "counter")
        elif isinstance(action, ClockAction):
            self.reference(path, action.clock, self.clocks, "clock")
        elif isinstance(action, PlaySound):
            self.reference(path, action.sound, self.sounds, "sound")
        elif isinstance(action, GiveHint):
            self.reference(path, action.hint, self.hints, "hint")
        elif isinstance(action, SendOsc):
            self.from_settings((*path[:-1], "to"), action.to, "OSC target")
        elif isinstance(action, SendSerial):
            self.from_settings(path, action.prop, "serial prop")
        elif isinstance(action, HttpRequest):
            problem = url_problem(action.url)
            if problem:
                self.conv.report(path, problem)
        elif isinstance(action, Publish):
            if not self.settings.mqtt.host:
                where = self.settings.path
                self.conv.report(
                    path,
                    (
                        f"{where} names no MQTT broker ([mqtt] host), so this message would not "
                        "be sent; name the broker there"
                        if where
                        else "no settings file names an MQTT broker, so this message would not "
                        "be sent; check the show with the settings it runs with (--settings FILE)"
                    ),
                    severity="warning",
                )
        elif isinstance(action, Power | Unpower | Pulse):
            if not self.reference(path, action.relay, self.relays, "relay"):
                return
            limit = (
                self.show.relays[action.relay].max_on if action.relay in self.show.relays else None
            )
            if isinstance(action, Pulse) and limit is not None and action.duration > limit:
                self.conv.report(
                    (*path[:-1], "duration"),
                    f"a pulse of {action.duration:g}s is longer than relay '{action.relay}' may "
                    f"stay powered (its max_on, {limit:g}s); make it {limit:g}s or less",
                )
        else:
            self.reference(path, action.flag, self.flags, "flag")

    def from_settings(self, path: Path, name: str, what: str) -> None:
        """``name`` is an OSC target or a serial prop of the settings the show runs with."""
        settings = self.settings
        if what == "OSC target":
            known, table, value = set(settings.osc.targets), "[osc.targets]", '"HOST:PORT"'
        else:
            known = {n for n, p in settings.props.items() if p.serial}
            table, value = f"[props.{name}]", 'serial = "/dev/serial/by-id/..."'
        if name in known:
            return
        if settings.path is None:  # no settings file: the show may be checked away from its box
            self.conv.report(
                path,
                f"no settings file names {what} '{name}', so this action would do nothing; "
                "check the show with the settings it runs with (--settings FILE)",
                severity="warning",
            )
            return
        named = f"it has: {', '.join(sorted(known))}" if known else "it has none"
        fix = (
            f"add it as {name} = {value} under {table}"
            if what == "OSC target"
            else (f"add {table} with {value}")
        )
        self.conv.report(path, f"no {what} '{name}' in {settings.path} ({named}); {fix}")

    def program(self, path: Path, program: Program, scene: Scene) -> None:
        tag = self.written_tag(path, program)
        matrix = self.show.matrix if self.matrix_ok else None
        if isinstance(program, Blink | Cycle | On | Off) and matrix is not None:
            self.selection((*path, tag), program.leds, matrix)
        if isinstance(program, Frames) and matrix is not None:
            for where, image in self.conv.items((*path, tag), program.images):
                problem = frame_problem(image, matrix)
                if problem:
                    self.conv.report(where, problem)
        if isinstance(program, Meter) and self.reference(
            (*path, tag), program.output, self.outputs, "output"
        ):
            play = scene.audio.get(program.output)
            if play is None or play.clip is None:
                self.conv.report(
                    (*path, tag),
                    f"output '{program.output}' plays nothing in this scene, "
                    "so there is no sound to meter",
                )
        if isinstance(program, All | Sequence | First):
            for where, child in self.conv.items((*path, tag), program.programs):
                self.program(where, child, scene)
        elif isinstance(program, Forever):
            self.program((*path, tag), program.program, scene)
            if not takes_time(program.program):
                self.conv.report(
                    (*path, tag),
                    "this program takes no time, so 'forever' would repeat it without end in "
                    "one instant; add a 'hold' or a 'blink' to it",
                )

    def written_tag(self, path: Path, program: Program) -> str:
        """The key the program was written with (``first`` or its alias ``any``)."""
        tags = tags_of(type(program))
        return next((t for t in tags if (*path, t) in self.conv.locations), tags[0])

    def transition(self, path: Path, t: Transition, scene: Scene) -> None:
        triggers = [key for key in t.TRIGGERS if getattr(t, key) is not None]
        if len(triggers) > 1:
            self.conv.report(
                (*path, triggers[1]),
                f"give one trigger per transition, not {' and '.join(triggers)}; "
                "split it into two transitions",
            )
        if not triggers and not t.when and not self.conv.failed_under((*path, "when")):
            self.conv.report(
                path,
                "this transition has no trigger: give one of input, event, after, audio_end, "
                "or a 'when' to fire as soon as it holds",
            )
        if t.to is None and not t.do:
            self.conv.report(path, "this transition does nothing: give 'to' or 'do'")
        if t.to is not None:
            self.reference((*path, "to"), t.to, self.scenes, "scene")
        if t.input is not None:
            self.reference((*path, "input"), t.input, self.inputs, "input")
        if t.audio_end is not None:
            self.audio_end((*path, "audio_end"), t.audio_end, scene)
        for i, condition in enumerate(t.when):
            self.flag(
                (*path, "when", i)
                if (*path, "when", i) in self.conv.locations
                else (*path, "when"),
                condition,
            )
        for where, action in self.conv.items((*path, "do"), t.do):
            self.action((*where, action.TAG), action)

    def audio_end(self, path: Path, which: str, scene: Scene) -> None:
        playing = {o: p for o, p in scene.audio.items() if p.clip is not None}
        if which == "all":
            if not playing:
                self.conv.report(path, "no output plays a clip in this scene, so no audio ends")
            elif all(p.loop for p in playing.values()):
                self.conv.report(path, "every clip in this scene loops, so the audio never ends")
            return
        if not self.reference(path, which, self.outputs | {"all"}, "output"):
            return
        play = playing.get(which)
        if play is None:
            self.conv.report(
                path, f"output '{which}' plays nothing in this scene, so it never ends"
            )
        elif play.loop:
            self.conv.report(path, f"output '{which}' loops in this scene, so it never ends")

    # the graph of scenes (warnings)

    def check_graph(self) -> None:
        show = self.show
        reached = set()
        # The hours' closed scene is entered and left by the hours.
        by_hours = {show.hours.closed} if show.hours is not None else set()
        todo = [show.initial, *by_hours] if show.initial in show.scenes else []
        while todo:
            name = todo.pop()
            if name in reached or name not in show.scenes:
                continue
            reached.add(name)
            todo.extend(t.to for t in show.scenes[name].transitions if t.to is not None)
        for name, scene in show.scenes.items():
            if reached and name not in reached:
                self.conv.report(
                    ("scenes", name),
                    f"scene '{name}' cannot be reached from the initial scene '{show.initial}'",
                    severity="warning",
                )
            if name not in by_hours and not any(
                t.to is not None and t.to != name for t in scene.transitions
            ):
                self.conv.report(
                    ("scenes", name),
                    f"scene '{name}' has no way out: no transition leads to another scene",
                    severity="warning",
                )


def url_problem(url: str) -> str | None:
    """What is wrong with an action's URL, or ``None``."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  (raises for a port that is not a number from 0 to 65535)
    except ValueError as e:
        return f"{url!r} is not a URL ({e}); write one such as http://192.168.1.30/hook"
    if not parts.hostname:
        return f"{url!r} names no host; write one such as http://192.168.1.30/hook"
    return None


def takes_time(program: Program) -> bool:
    """Whether a program lasts longer than an instant (so that it can be repeated)."""
    if isinstance(program, On | Off):
        return False
    if isinstance(program, Hold):
        return program.duration > 0
    if isinstance(program, All | Sequence):
        return any(takes_time(child) for child in program.programs)
    if isinstance(program, First):
        return all(takes_time(child) for child in program.programs)
    return True  # blink, cycle, frames, meter and forever all take time


def frame_problem(image: str, matrix: Matrix) -> str | None:
    """Why a ``frames`` bitmap does not fit the matrix, or ``None`` when it does."""
    rows = _image_rows(image)
    if len(rows) != matrix.rows:
        return f"this frame has {len(rows)} rows; the matrix has {matrix.rows}"
    for r, row in enumerate(rows):
        if len(row) > matrix.columns:
            return f"row {r} of this frame has {len(row)} LEDs; the matrix has {matrix.columns}"
        bad = sorted(set(row) - set(Frames.LIT) - set(Frames.DARK))
        if bad:
            return (
                f"row {r} of this frame has {bad[0]!r}: write '#' for a lit LED "
                "and '.' for a dark one"
            )
    return None


def _image_rows(image: str) -> list[str]:
    """The rows of a bitmap, without the blank lines around it and trailing spaces."""
    rows = [row.rstrip() for row in image.split("\n")]
    while rows and not rows[0]:
        rows.pop(0)
    while rows and not rows[-1]:
        rows.pop()
    return rows


def frame_leds(image: str) -> Iterator[tuple[int, int]]:
    """The ``(row, column)`` of every lit LED of a bitmap that fits its matrix."""
    for r, row in enumerate(_image_rows(image)):
        for c, char in enumerate(row):
            if char in Frames.LIT:
                yield (r, c)
