"""Background work that outlives a request but never outlives the process unseen.

Front-ends hand each accepted message to `WorkTracker.spawn` right after their ack; a
shutdown drains what is running (with a grace period) instead of dropping it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from conversations.replies import Progress, Replier

log = logging.getLogger(__name__)


class WorkTracker:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background work %s failed", task.get_name(), exc_info=task.exception())

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def drain(self, grace_s: float | None = None) -> None:
        """Wait for running work (including work it spawns); cancel what outlives `grace_s`."""
        deadline = None if grace_s is None else time.monotonic() + grace_s
        while self._tasks:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            _, pending = await asyncio.wait(set(self._tasks), timeout=remaining)
            if pending and deadline is not None and time.monotonic() >= deadline:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                return


@contextlib.asynccontextmanager
async def progress_ticker(
    replier: Replier,
    *,
    key: str,
    text: str,
    interval_s: float,
    finish: bool = True,
    already_s: float = 0.0,
) -> AsyncIterator[None]:
    """Show `text` at once, refresh it with the elapsed time (counting `already_s` spent
    before, say by a process that died), and mark it done at the end (unless `finish` is
    False: a reply under the same key will replace the line)."""
    started = time.monotonic() - already_s

    async def tick() -> None:
        while True:
            await asyncio.sleep(interval_s)
            elapsed = time.monotonic() - started
            with contextlib.suppress(Exception):
                await replier.progress(Progress(key, text, elapsed))

    await replier.progress(Progress(key, text, already_s))
    ticker = asyncio.get_running_loop().create_task(tick(), name=f"progress:{key}")
    try:
        yield
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        if finish:
            with contextlib.suppress(Exception):
                await replier.progress(Progress(key, text, time.monotonic() - started, done=True))
