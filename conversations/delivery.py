"""Saying things outside a turn: results that arrive later (webhooks, resumed work).

What must be said goes into an outbox row in the same transaction as the state change that
caused it; `OutboxSender` delivers due rows through the platform's `Outlet` and retries
platform errors, so a crash between "confirmed" and "posted" loses nothing. The wait before
a retry is the one retry layer's (`integrations.retry`: full jitter, a `retry_after` on the
error honoured), at least `MIN_RETRY_S`; a row gets `MAX_ATTEMPTS` attempts, counted in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from sqlmodel.ext.asyncio.session import AsyncSession

from conversations.leases import LEASE_S
from conversations.replies import Replier, Reply
from conversations.serialize import reply_from_json, reply_to_json
from conversations.types import ConversationAddress
from integrations.retry import Retrier, RetryPolicy
from storage import Database, repositories
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
OUTBOX_RETRY = RetryPolicy(base_delay=2.0, max_delay=300.0)
MIN_RETRY_S = 1.0
"""A platform that failed just now is not asked again within the same second."""
BATCH = 100
PARALLEL_CONVERSATIONS = 32


@runtime_checkable
class DeliversOnce(Protocol):
    """A replier that can tell whether a delivery tried before reached the chat (Slack can:
    its messages carry metadata); others are sent at least once."""

    async def send_once(self, reply: Reply, *, delivery: str, again: bool) -> None: ...


class Outlet(Protocol):
    """A front-end's way to reach any conversation of its platform."""

    def replier_for(self, address: ConversationAddress) -> Replier | None: ...


async def enqueue(
    session: AsyncSession, address: ConversationAddress, reply: Reply, *, dedupe_key: str
) -> bool:
    """Queue `reply` for `address` inside the caller's transaction; False if already queued."""
    row = await repositories.enqueue_outbox(
        session,
        platform=address.platform,
        workspace_id=address.workspace_id,
        chat_id=address.chat_id,
        thread_id=address.thread_id,
        payload=reply_to_json(reply),
        dedupe_key=dedupe_key,
    )
    return row is not None


class OutboxSender:
    def __init__(
        self,
        db: Database,
        outlets: Mapping[str, Outlet],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        retrier: Retrier | None = None,
    ) -> None:
        self._db = db
        self._outlets = outlets
        self._clock = clock
        self._retrier = retrier or Retrier(OUTBOX_RETRY)
        self._wake = asyncio.Event()
        self._passes = asyncio.Lock()

    def wake(self) -> None:
        """Deliver now rather than at the next poll (called right after an enqueue)."""
        self._wake.set()

    async def deliver_due(self) -> int:
        """Send every due row of one batch once; returns how many were delivered. Passes go
        one at a time in a process, so a pass already under way (the background loop's) has
        delivered its rows too when this returns: then nothing that was due is on its way."""
        return (await self._deliver_batch())[1]

    async def _deliver_batch(self) -> tuple[int, int]:
        """One batch: (rows claimed, rows delivered). Rows of one conversation go in order,
        one at a time; conversations go side by side, so a burst of results (200 searches
        finishing together) is not posted one after another."""
        async with self._passes:
            return await self._deliver_claimed()

    async def _deliver_claimed(self) -> tuple[int, int]:
        async with self._db.session() as session:
            # Claimed for one lease: a sender that dies mid-delivery is taken over after it.
            rows = await repositories.due_outbox(
                session, now=self._clock(), limit=BATCH, lease=timedelta(seconds=LEASE_S)
            )
        by_conversation: dict[ConversationAddress, list[OutboxMessage]] = {}
        for row in rows:
            address = ConversationAddress(
                row.platform, row.workspace_id, row.chat_id, row.thread_id
            )
            by_conversation.setdefault(address, []).append(row)
        gate = asyncio.Semaphore(PARALLEL_CONVERSATIONS)

        async def in_order(address: ConversationAddress, queued: list[OutboxMessage]) -> int:
            async with gate:
                return sum([await self._deliver(address, row) for row in queued])

        done = await asyncio.gather(*(in_order(a, q) for a, q in by_conversation.items()))
        return len(rows), sum(done)

    async def _deliver(self, address: ConversationAddress, row: OutboxMessage) -> bool:
        """Post one row and record how it went; True if it was delivered."""
        assert row.id is not None  # rows read back from the database always have one
        outlet = self._outlets.get(row.platform)
        replier = outlet.replier_for(address) if outlet else None
        error: str | None = None
        failure: Exception | None = None
        if replier is None:
            error = f"no outlet for {row.platform}"
        else:
            try:
                reply = reply_from_json(row.payload)
                if isinstance(replier, DeliversOnce):
                    # Claimed before (`attempts` counts claims): it may have been posted.
                    again = row.attempts > 1
                    key = row.dedupe_key or f"outbox:{row.id}"
                    await replier.send_once(reply, delivery=key, again=again)
                else:
                    await replier.send(reply)
            except Exception as exc:  # a platform error: retried later
                error, failure = type(exc).__name__, exc
                log.warning("outbox delivery %s failed: %s", row.id, error)
        async with self._db.session() as session:
            if error is None:
                await repositories.mark_outbox_sent(session, outbox_id=row.id)
            else:
                retry = (
                    self._clock() + timedelta(seconds=self._wait(row.attempts, failure))
                    if row.attempts < MAX_ATTEMPTS
                    else None
                )
                await repositories.mark_outbox_failed(
                    session, outbox_id=row.id, error=error, retry_at=retry
                )
        return error is None

    def _wait(self, attempts: int, failure: Exception | None) -> float:
        return max(MIN_RETRY_S, self._retrier.pause_after(attempts, failure))

    async def run(self, poll_interval_s: float = 2.0) -> None:
        """Deliver forever (until cancelled), waking early when `wake` is called."""
        while True:
            self._wake.clear()  # before the pass: a wake-up during it starts the next one
            try:
                claimed, _ = await self._deliver_batch()
                if claimed == BATCH:
                    continue  # more may be due at once: no wait between full batches
            except Exception:
                log.exception("outbox delivery pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll_interval_s)
