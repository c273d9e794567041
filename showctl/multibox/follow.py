"""``showctl run`` on a box that follows: its own players, playing what the leader says.

The box starts a player for each of its outputs, listens on the boxes' link for the leader's
commands (:class:`~.follower.Follower`), and tells the leader what its outputs do, and every
:data:`HEALTH_EVERY` s their health and how soon it can place a sample. It runs no scenes of its
own: the leader does. When the broker or the leader is gone, what plays goes on (a loop loops,
a clip ends), and the link's going and coming back are logged; back, the broker's retained
messages bring the box to what the leader plays now.
"""

from __future__ import annotations

import asyncio
import signal

import structlog

from showctl.app import RunOptions, audio_backend
from showctl.multibox import messages
from showctl.multibox.bus import Bus
from showctl.multibox.follower import Follower
from showctl.multibox.leader import SILENT
from showctl.players.pool import PlayerPool
from showctl.show.model import Show

logger = structlog.get_logger()

#: Seconds between the box's reports of its health to the leader.
HEALTH_EVERY = 1.0


async def follow(show: Show, me: str, options: RunOptions) -> int:
    """Follow the leader of ``show`` as box ``me`` until SIGTERM or SIGINT; the exit status."""
    settings = options.settings
    own = show.part(me)
    digest = messages.digest(show.path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    pool = PlayerPool(
        own.outputs,
        backend=audio_backend(options.sim),
        capture=options.capture,
        supervise=True,
        wait_for_cards=options.wait_for_cards,
        policy=options.restarts,
    )
    link: Bus | None = None
    try:
        await pool.start()
        follower = Follower(pool, digest, show.media_dir, me)
        link = Bus(settings.mqtt, me, [f"{me}/#"], follower.receive)
        follower.report = lambda what, payload, retain: link.send(
            settings.box.leader, what, payload, retain
        )
        link.start()
        logger.info("box_following", box=me, leader=settings.box.leader, outputs=list(own.outputs))
        tasks = [
            asyncio.create_task(link.run(), name="box-link"),
            asyncio.create_task(_report(follower), name="box-health"),
        ]
        await stop.wait()
        for task in tasks:
            task.cancel()
    finally:
        if link is not None:
            await link.close()
        await pool.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return 0


async def _report(follower: Follower) -> None:
    while True:
        follower.report_health()
        follower.check_leader(SILENT)
        await asyncio.sleep(HEALTH_EVERY)
