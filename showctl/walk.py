"""Walk through a show's scenes without hardware, logging what each step does.

A dry run of the show's flow for the person who wrote it. It runs the show controller itself
(:class:`~showctl.controller.ShowController`) on simulated outputs and, with ``leds``, a
matrix drawn in the terminal, on a clock that can run faster than real (``speed``). In each
scene it logs what every output plays (and for how long) and the LED cues; the scene's timers
and the end of its audio fire by themselves, as in a show, and the walk presses its inputs and
fires its events one after another, ``pause`` seconds apart, as a visitor would. A scene none
of whose triggers leads anywhere (``walk_stuck``) is left by a ``reset``, as a game master
would.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import soundfile
import structlog

from showctl.clock import ScaledClock, wait
from showctl.controller import ShowController
from showctl.game_clock import event_of
from showctl.leds.matrix import LedPlayer
from showctl.machine import trigger_name
from showctl.players.simulated import SimulatedOutputs
from showctl.show.model import Program, Scene, Show

log = structlog.get_logger()


@dataclass(frozen=True)
class Step:
    """A trigger of a scene ``at`` seconds after its T0: pressed by the walk (``pressed``: an
    input or an event, which a person would fire), or firing by itself (a timer, the end of
    the audio)."""

    at: float
    trigger: str
    pressed: bool


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
    """The triggers of a scene in the order they come on the walk. A game clock's event at
    zero is not pressed: the clock fires it, as a timer fires."""
    steps = []
    manual = 0
    by_clocks = {event_of(name, clock) for name, clock in show.clocks.items()}
    for i, t in enumerate(scene.transitions):
        name = trigger_name(t, i)
        if t.event in by_clocks:
            continue
        if t.after is not None:
            steps.append(Step(t.after, name, pressed=False))
        elif t.audio_end is not None:
            end = audio_end_seconds(show, scene, t.audio_end)
            if end is not None:
                steps.append(Step(end, name, pressed=False))
        elif t.trigger is not None and all(s.trigger != name for s in steps):
            manual += 1
            steps.append(Step(manual * pause, name, pressed=True))
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
    """Walk the show until cancelled, or for ``steps`` scene changes when ``steps`` > 0; the
    number of scene changes made.

    Logs what the controller logs (``scene_entered``, ``trigger_fired``, ``flag_changed``...)
    and, at each scene, ``output_plays`` and ``led_cue``; ``walk_pressed`` for each input or
    event it fires, ``walk_stuck`` for a scene it resets. With ``leds`` (an LED player, not
    started: the walk starts it on its clock), each scene's cues play on it from the scene's
    T0, as fast as the walk goes.
    """
    clock = ScaledClock(speed)
    outputs = SimulatedOutputs(show.outputs, clock)
    if leds is not None:
        leds.clock = clock
        leds.start()
    controller = ShowController(show, outputs, leds=leds, clock=clock)
    entered = asyncio.Event()

    def enter(scene: str) -> None:
        entered.set()
        _log_scene(show, scene)

    async def until(at: float) -> bool:
        """Wait until ``at`` on the clock, or a scene is entered: whether one was."""
        await wait(clock, entered, max(0.0, at - clock.monotonic()))
        return entered.is_set()

    controller.on_scene = enter
    structlog.contextvars.bind_contextvars(show=show.title)
    changes = 0
    try:
        async with asyncio.TaskGroup() as tasks:
            await controller.start()
            run = tasks.create_task(controller.run(), name="walk-controller")
            ends = tasks.create_task(outputs.run(), name="walk-outputs")
            while steps <= 0 or changes < steps:
                entered.clear()
                name = controller.state.scene
                for step in plan(show, show.scenes[name], pause):
                    if await until(controller.t0 + step.at):
                        break
                    if step.pressed:
                        log.info("walk_pressed", trigger=step.trigger, scene=name, at=step.at)
                        controller.fire(step.trigger, "walk")
                else:
                    # What fired last may still be on its way through the controller: a scene
                    # is stuck when none came a pause later, and at least 50 ms of real time.
                    if not await until(clock.monotonic() + max(pause, 0.05 * speed)):
                        log.warning(
                            "walk_stuck",
                            scene=name,
                            hint="no trigger of this scene leads anywhere now; reset",
                        )
                        await controller.reset()
                changes += 1
            run.cancel()
            ends.cancel()
    finally:
        structlog.contextvars.unbind_contextvars("show")
    return changes


def _log_scene(show: Show, name: str) -> None:
    scene = show.scenes.get(name)
    if scene is None:  # the fault state
        return
    for output in show.outputs:
        play = scene.audio.get(output)
        if play is None or play.clip is None:
            log.info("output_plays", scene=name, output=output, clip=None)
        else:
            log.info(
                "output_plays",
                scene=name,
                output=output,
                clip=play.clip,
                seconds=round(clip_seconds(show, play.clip), 3),
                loop=play.loop,
            )
    for cue in scene.leds:
        log.info("led_cue", scene=name, at=cue.at, program=describe_program(cue.program))
