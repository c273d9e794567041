"""The show's HTTP requests, made by a process of their own: the HTTP sender.

An HTTP request through aiohttp costs the thread that makes it about half a millisecond of this
machine's CPU to build and connect (more on a Raspberry Pi), and a garbage collection that lands
in that step makes it a millisecond or two. Made on the controller's loop, that held the loop
(and, through the interpreter's lock, the LEDs' and the relays' threads) as long. Here the
controller writes each request as one JSON line to the sender's stdin and reads one line back
when it is answered, failed or timed out: a few tens of microseconds of its own time whatever
the server does. The sender runs at a lower priority than the controller (nice +10 from it), so
on a busy box HTTP waits, not the show.

The controller starts the sender when the show makes requests (and at the first request of a
show reloaded to make some), and starts it again a second after it dies; the requests it was
making then fail with that cause, and those asked meanwhile wait for the new one.

    python -m showctl.room.webhooks     # the sender, as the controller starts it

Lines in: ``{"id": N, "method", "url", "body", "timeout"}``; out: ``{"id": N, "cause": null}``
(answered below 400) or the cause of the failure, one sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from showctl.show.model import HttpRequest

if TYPE_CHECKING:
    import aiohttp

logger = structlog.get_logger()

#: Seconds between the sender's death and its start again.
RESTART_AFTER = 1.0
#: The longest line either way (a request's JSON body is in its line).
LINE_LIMIT = 1 << 20


class Webhooks:
    """The controller's end: ``ask()`` on the loop; ``answered(id, cause)`` is called on the
    loop for each request (``cause`` None: answered below 400)."""

    def __init__(self, answered: Callable[[int, str | None], None]) -> None:
        self._answered = answered
        self._process: asyncio.subprocess.Process | None = None
        self._up = asyncio.Event()
        self._running: asyncio.Task[None] | None = None
        self._queued: list[bytes] = []  # asked while no sender runs
        self._asked: set[int] = set()  # written to the sender, not yet answered

    async def start(self) -> None:
        """Start the sender and wait until it runs. Idempotent."""
        self._start()
        await self._up.wait()

    def ask(self, number: int, action: HttpRequest) -> None:
        """Have the sender make ``action``'s request, ``number`` naming it in the answer."""
        line = json.dumps(
            {
                "id": number,
                "method": action.method,
                "url": action.url,
                "body": dict(action.body) if action.body else None,
                "timeout": action.timeout,
            }
        ).encode()
        self._asked.add(number)
        if self._process is None or self._process.stdin is None:
            self._queued.append(line + b"\n")
            self._start()
        else:
            self._process.stdin.write(line + b"\n")

    async def close(self) -> None:
        """Stop the sender (the requests it makes are dropped). Idempotent."""
        if self._running is not None:
            self._running.cancel()
            await asyncio.gather(self._running, return_exceptions=True)
            self._running = None
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                process.stdin.close()  # the sender ends at the end of its input
            try:
                await asyncio.wait_for(process.wait(), 2.0)
            except TimeoutError:
                process.kill()
                await process.wait()

    def _start(self) -> None:
        if self._running is None:
            self._running = asyncio.get_running_loop().create_task(
                self._supervise(), name="http-sender"
            )

    async def _supervise(self) -> None:
        while True:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "showctl.room.webhooks",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=LINE_LIMIT,
            )
            assert process.stdin is not None
            assert process.stdout is not None
            self._process = process
            process.stdin.writelines(self._queued)
            self._queued.clear()
            self._up.set()
            await self._read(process.stdout)
            status = await process.wait()
            self._process = None
            self._up.clear()
            logger.error("http_sender_exited", status=status, restart_in=RESTART_AFTER)
            lost, self._asked = self._asked, set()
            for number in sorted(lost):
                self._answered(number, f"the HTTP sender stopped (exit status {status})")
            await asyncio.sleep(RESTART_AFTER)

    async def _read(self, answers: asyncio.StreamReader) -> None:
        """Pass on the sender's answers until it ends."""
        while line := await answers.readline():
            answer = json.loads(line)
            self._asked.discard(answer["id"])
            self._answered(answer["id"], answer["cause"])


# --- the sender's end ---------------------------------------------------------------------


async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    body: dict[str, Any] | None,
    timeout: float,
) -> str | None:
    """Make one request: None if answered below 400, else why it failed."""
    import aiohttp  # noqa: PLC0415  (the sender's; the controller never loads it for HTTP)

    try:
        async with session.request(
            method, url, json=body, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as answer:
            if answer.status >= 400:
                return f"answered {answer.status} {answer.reason or ''}".strip()
    except TimeoutError:
        return f"no answer within {timeout:g}s"
    except aiohttp.ClientError as e:
        return str(e) or type(e).__name__
    return None


async def serve() -> None:
    """Make the requests read from stdin, each in a task of its own, and write their answers
    to stdout, until stdin ends; the requests still waiting then are dropped."""
    import aiohttp  # noqa: PLC0415  (see request())

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks: set[asyncio.Task[None]] = set()

    async def one(ask: dict[str, Any]) -> None:
        cause = await request(session, ask["method"], ask["url"], ask["body"], ask["timeout"])
        sys.stdout.write(json.dumps({"id": ask["id"], "cause": cause}) + "\n")
        sys.stdout.flush()

    async with aiohttp.ClientSession() as session:
        while line := await reader.readline():
            task = loop.create_task(one(json.loads(line)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    os.nice(10)  # HTTP can wait a little; the show and its players cannot
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
