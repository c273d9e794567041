"""Walk through a show's scenes without hardware, logging what each step would do.

A dry run of the show's flow for the person who wrote it: in each scene it logs what every
output would play (and for how long), the LED cues, then fires the scene's triggers the way
a visitor would: timers and the end of the audio at their time, and inputs and network
events one after another, ``pause`` seconds apart, as if someone pressed each in turn.
Time can run faster than real (``speed``). It drives the same state machine
(:mod:`showctl.machine`) as the show controller, so conditions and flags behave as they will.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import soundfile
import structlog

from showctl.leds.matrix import LedPlayer
from showctl.leds.meter import clip_meter
from showctl.leds.programs import Schedule
from showctl.machine import FLAGS_CHANGED, ShowState, build_machine, trigger_name
from showctl.show.model import Program, Scene, Show

log = structlog.get_logger()


@dataclass(frozen=True)
class Step:
    """A trigger the walk will fire ``at`` seconds into a scene."""

    at: float
    trigger: str
    simulated: bool  # True for inputs and events: a person would have done it


def clip_seconds(show: Show, clip: str) -> float:
    """The length of a clip in seconds (reads its header)."""
    info = soundfile.info(str(show.clip_path(clip)))
    return float(info.frames) / float(info.samplerate)


def audio_end_seconds(show: Show, scene: Scene, which: str) -> float | None:
    """When ``audio_end:WHICH`` fires in ``scene``: ``all`` waits for every clip played once."""
    ends = {
        output: clip_seconds(show, play.clip)
        for output, play in scene.audio.items()
        if play.clip is not None and not play.loop
    }
    if which == "all":
        return max(ends.values()) if ends else None
    return ends.get(which)


def plan(show: Show, scene: Scene, pause: float) -> list[Step]:
    """The triggers of a scene in the order the walk fires them."""
    steps = []
    manual = 0
    for i, t in enumerate(scene.transitions):
        name = trigger_name(t, i)
        if t.after is not None:
            steps.append(Step(t.after, name, simulated=False))
        elif t.audio_end is not None:
            end = audio_end_seconds(show, scene, t.audio_end)
            if end is not None:
                steps.append(Step(end, name, simulated=False))
        elif t.trigger is not None and all(s.trigger != name for s in steps):
            manual += 1
            steps.append(Step(manual * pause, name, simulated=True))
    return sorted(steps, key=lambda s: s.at)


def describe_program(program: Program) -> str:
    """A one-line summary of an LED program, for the log."""
    tag = program.TAG
    inner = getattr(program, "programs", None)
    if inner is not None:
        return f"{tag}({', '.join(describe_program(p) for p in inner)})"
    if hasattr(program, "program"):
        return f"{tag}({describe_program(program.program)})"
    value = getattr(program, program.TAG_FIELD)
    if isinstance(value, tuple) and tag != "frames":
        value = ", ".join(str(v) if isinstance(v, str) else f"[{v[0]}, {v[1]}]" for v in value)
    elif tag == "frames":
        value = f"{len(value)} frames"
    return f"{tag} {value}"


async def walk(
    show: Show,
    *,
    speed: float = 1.0,
    pause: float = 3.0,
    steps: int = 0,
    leds: LedPlayer | None = None,
) -> int:
    """Walk the show until cancelled, or for ``steps`` scene changes when ``steps`` > 0.

    Returns the number of scene changes made. Sleeps on absolute deadlines (loop time), so a
    slow step does not push the later ones back. Logs ``scene_entered``, ``output_plays``,
    ``led_cue``, ``trigger_fired``, ``flag_changed``, ``counter_changed`` and ``walk_stuck``
    (a scene none of whose triggers leads anywhere: the walk then starts the show over). With
    ``leds``, each scene's cues play on it from the moment the scene is entered (in real time,
    whatever the speed).
    """
    state = ShowState()
    machine = build_machine(show, state)
    loop = asyncio.get_running_loop()
    changes = 0
    structlog.contextvars.bind_contextvars(show=show.path.stem)
    try:
        while steps <= 0 or changes < steps:
            name = state.scene
            scene = show.scenes[name]
            structlog.contextvars.bind_contextvars(scene=name)
            _log_scene(show, scene)
            start = loop.time()
            if leds is not None and show.matrix is not None:
                leds.play(Schedule(show.matrix, scene.leds, clip_meter(show, name)), start)
            listens = FLAGS_CHANGED in machine.get_triggers(name)
            if listens:
                await state.trigger(FLAGS_CHANGED)
            for step in plan(show, scene, pause):
                if state.scene != name:
                    break
                await asyncio.sleep(max(0.0, start + step.at / speed - loop.time()))
                log.info(
                    "trigger_fired",
                    trigger=step.trigger,
                    simulated=step.simulated,
                    at=round(step.at, 3),
                )
                memory = state.memory
                await state.trigger(step.trigger)
                if listens and state.scene == name and state.memory != memory:
                    await state.trigger(FLAGS_CHANGED)
            if state.scene == name:
                log.warning("walk_stuck", hint="no trigger of this scene leads anywhere now")
                state.flags.clear()
                state.scene = show.initial
            changes += 1
            log.info("scene_left", to=state.scene)
    finally:
        structlog.contextvars.unbind_contextvars("show", "scene")
    return changes


def _log_scene(show: Show, scene: Scene) -> None:
    log.info("scene_entered", description=scene.description or None)
    for output in show.outputs:
        play = scene.audio.get(output)
        if play is None or play.clip is None:
            log.info("output_plays", output=output, clip=None)
        else:
            log.info(
                "output_plays",
                output=output,
                clip=play.clip,
                seconds=round(clip_seconds(show, play.clip), 3),
                loop=play.loop,
            )
    for cue in scene.leds:
        log.info("led_cue", at=cue.at, program=describe_program(cue.program))
