"""``showctl run`` on a box that follows: its own players, relays and matrix, doing what the
leader says, and its own inputs, triggers for the leader.

The box holds its relays in their safe states, starts a player for each of its outputs and the
matrix's thread (if the matrix is wired to it), watches its inputs, listens on the boxes' link
for the leader's commands (:class:`~.follower.Follower`), and tells the leader what its
outputs, relays and matrix do, each input that fires, and every :data:`HEALTH_EVERY` s their
health and how soon it can place a sample. It runs no scenes of its own: the leader does. When
the broker or the leader is gone, what plays goes on (a loop loops, a clip ends, the matrix's
cues go on), the relays are latched safe (no one is left to open a lock), and the link's going
and coming back are logged; back, the broker's retained messages bring the box to what the
leader plays now.
"""

from __future__ import annotations

import asyncio
import functools
import signal

import structlog

from showctl.app import RunOptions, backends, player_pool, threadsafe
from showctl.leds.matrix import LedPlayer, open_matrix
from showctl.leds.meter import scene_schedule
from showctl.multibox import messages
from showctl.multibox.bus import Bus
from showctl.multibox.follower import Follower
from showctl.multibox.leader import SILENT
from showctl.room.relays import Relays
from showctl.show.model import Show
from showctl.triggers import InputWatcher

logger = structlog.get_logger()

#: Seconds between the box's reports of its health to the leader.
HEALTH_EVERY = 1.0


async def follow(show: Show, me: str, options: RunOptions) -> int:
    """Follow the leader of ``show`` as box ``me`` until SIGTERM or SIGINT; the exit status."""
    settings = options.settings
    own = show.part(me)
    digest = messages.digest(show.path)
    audio, gpio = backends(options)
    # The relays first, each safe from its request; and last, safe again and let go.
    relays = Relays(own.relays, gpio) if own.relays else None
    leds = LedPlayer(open_matrix(own.matrix, gpio)) if own.matrix else None
    emergency = set(show.emergency.inputs) if show.emergency else set()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    pool = player_pool(own, audio, options)
    link: Bus | None = None
    watcher: InputWatcher | None = None
    try:
        if relays is not None:
            relays.start()
        if leds is not None:
            leds.start()
        await pool.start()
        follower = Follower(
            pool,
            digest,
            show.media_dir,
            me,
            leader=settings.box.leader,
            relays=relays,
            leds=leds,
            schedule=functools.partial(scene_schedule, show),
            scenes=frozenset(show.scenes),
        )
        if relays is not None:
            relays.on_change = threadsafe(loop, follower.report_health)
        if leds is not None:
            leds.on_failed = threadsafe(loop, follower.report_health)
        link = Bus(settings.mqtt, me, [f"{me}/#"], follower.receive)

        def answer(what: str, payload: bytes, got_ns: int) -> tuple[str, str, bytes] | None:
            pong = follower.pong(payload, got_ns) if what == "ping" else None
            return None if pong is None else (settings.box.leader, "pong", pong)

        link.answer = answer
        follower.report = lambda what, payload, retain: link.send(
            settings.box.leader, what, payload, retain
        )
        link.start()
        watcher = InputWatcher(
            own,
            gpio,
            lambda trigger, edge: follower.input_fired(
                trigger, trigger.partition(":")[2] in emergency
            ),
        )
        watcher.start()
        logger.info("box_following", box=me, leader=settings.box.leader, outputs=list(own.outputs))
        tasks = [
            asyncio.create_task(link.run(), name="box-link"),
            asyncio.create_task(_report(follower), name="box-health"),
        ]
        await stop.wait()
        for task in tasks:
            task.cancel()
    finally:
        if watcher is not None:
            watcher.close()
        if link is not None:
            await link.close()
        await pool.close()
        if leds is not None:
            leds.stop()
        if relays is not None:
            relays.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return 0


async def _report(follower: Follower) -> None:
    while True:
        follower.report_health()
        follower.check_leader(SILENT)
        await asyncio.sleep(HEALTH_EVERY)
