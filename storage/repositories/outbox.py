"""The outbox: replies that must reach a chat, delivered and retried by a sender."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import OutboxMessage, utc_now
from storage.repositories._common import RETURNING_OPTIONS, dialect_insert, is_postgresql

__all__ = ["due_outbox", "enqueue_outbox", "mark_outbox_failed", "mark_outbox_sent"]


async def enqueue_outbox(
    session: AsyncSession,
    *,
    platform: str,
    workspace_id: str,
    chat_id: str,
    thread_id: str = "",
    payload: Mapping[str, Any],
    dedupe_key: str | None = None,
    now: datetime | None = None,
) -> OutboxMessage | None:
    """Queue a serialised reply for the address; commit it with the state change it reports.
    With ``dedupe_key`` the same message is queued at most once (None the second time)."""
    now = now or utc_now()
    result = await session.exec(
        dialect_insert(session, OutboxMessage)
        .values(
            platform=platform,
            workspace_id=workspace_id,
            chat_id=chat_id,
            thread_id=thread_id,
            dedupe_key=dedupe_key,
            payload=dict(payload),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage)
        .execution_options(**RETURNING_OPTIONS)
    )
    return result.scalars().first()


async def due_outbox(
    session: AsyncSession,
    *,
    now: datetime | None = None,
    limit: int = 20,
    lease: timedelta = timedelta(seconds=60),
) -> list[OutboxMessage]:
    """Claim up to ``limit`` pending messages that are due, oldest first.

    Claiming pushes ``next_attempt_at`` to ``now + lease`` and counts an attempt in the same
    UPDATE, so concurrent senders (in this or another process) get disjoint batches; a sender
    that dies before ``mark_outbox_sent``/``mark_outbox_failed`` lets the message come due
    again after the lease. PostgreSQL skips rows locked by another sender.
    """
    now = now or utc_now()
    due = (
        select(col(OutboxMessage.id))
        .where(col(OutboxMessage.status) == "pending", col(OutboxMessage.next_attempt_at) <= now)
        .order_by(col(OutboxMessage.id))
        .limit(limit)
    )
    if is_postgresql(session):
        due = due.with_for_update(skip_locked=True)
    result = await session.exec(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.id).in_(due.scalar_subquery()),
            col(OutboxMessage.status) == "pending",
            col(OutboxMessage.next_attempt_at) <= now,
        )
        .values(next_attempt_at=now + lease, attempts=col(OutboxMessage.attempts) + 1)
        .returning(OutboxMessage)
        .execution_options(**RETURNING_OPTIONS)
    )
    return sorted(result.scalars().all(), key=lambda m: m.id or 0)


async def mark_outbox_sent(
    session: AsyncSession, *, outbox_id: int, now: datetime | None = None
) -> bool:
    """Record delivery. False if the message was not pending (already sent or failed)."""
    result = await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == outbox_id, col(OutboxMessage.status) == "pending")
        .values(status="sent", sent_at=now or utc_now(), last_error=None)
        .returning(OutboxMessage)
        .execution_options(**RETURNING_OPTIONS)
    )
    return result.first() is not None


async def mark_outbox_failed(
    session: AsyncSession,
    *,
    outbox_id: int,
    error: str,
    retry_at: datetime | None,
) -> bool:
    """Record a failed delivery: with ``retry_at`` it comes due again then; without, it is
    given up (status ``failed``). False if the message was not pending."""
    values: dict[str, Any] = {"last_error": error}
    if retry_at is None:
        values["status"] = "failed"
    else:
        values["next_attempt_at"] = retry_at
    result = await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == outbox_id, col(OutboxMessage.status) == "pending")
        .values(values)
        .returning(OutboxMessage)
        .execution_options(**RETURNING_OPTIONS)
    )
    return result.first() is not None
