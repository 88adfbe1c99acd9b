"""Inbound event dedupe: claim an event id before working on it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ProcessedEvent, utc_now
from storage.repositories._common import dialect_insert

__all__ = ["claim_event", "mark_event_done", "prune_events", "unfinished_events"]


async def claim_event(
    session: AsyncSession,
    *,
    key: str,
    source: str,
    payload: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> bool:
    """Record ``key`` (e.g. ``"slack:Ev123"``); True only for the first claimer, ever.

    One ``INSERT … ON CONFLICT DO NOTHING RETURNING``: concurrent claimers of one key cannot
    both win, and the claim commits with the caller's transaction. ``payload`` keeps the
    accepted item until ``mark_event_done``, so a crash in between loses nothing.
    """
    stmt = (
        dialect_insert(session, ProcessedEvent)
        .values(
            key=key,
            source=source,
            payload=dict(payload) if payload is not None else None,
            created_at=now or utc_now(),
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(col(ProcessedEvent.id))
    )
    result = await session.exec(stmt)
    return result.first() is not None


async def mark_event_done(session: AsyncSession, *, key: str, now: datetime | None = None) -> None:
    """The work for ``key`` is finished; its payload is no longer needed."""
    await session.exec(
        update(ProcessedEvent)
        .where(col(ProcessedEvent.key) == key)
        .values(done_at=now or utc_now(), payload=None)
    )


async def unfinished_events(
    session: AsyncSession, *, before: datetime, limit: int = 100
) -> list[ProcessedEvent]:
    """Accepted items whose work never finished (claimed before ``before``), oldest first."""
    result = await session.exec(
        select(ProcessedEvent)
        .where(col(ProcessedEvent.done_at).is_(None))
        .where(col(ProcessedEvent.payload).is_not(None))
        .where(col(ProcessedEvent.created_at) < before)
        .order_by(col(ProcessedEvent.id))
        .limit(limit)
    )
    return list(result.all())


async def prune_events(session: AsyncSession, *, before: datetime) -> int:
    """Forget claims older than ``before`` (after the platforms stop retrying them)."""
    result = await session.exec(
        delete(ProcessedEvent).where(col(ProcessedEvent.created_at) < before)
    )
    return int(result.rowcount)
