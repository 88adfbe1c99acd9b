"""Inbound event dedupe: claim an event id before working on it."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, delete
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ProcessedEvent, utc_now
from storage.repositories._common import dialect_insert

__all__ = ["claim_event", "prune_events"]


async def claim_event(
    session: AsyncSession, *, key: str, source: str, now: datetime | None = None
) -> bool:
    """Record ``key`` (e.g. ``"slack:Ev123"``); True only for the first claimer, ever.

    One ``INSERT … ON CONFLICT DO NOTHING RETURNING``: concurrent claimers of one key cannot
    both win, and the claim commits with the caller's transaction.
    """
    stmt = (
        dialect_insert(session, ProcessedEvent)
        .values(key=key, source=source, created_at=now or utc_now())
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(col(ProcessedEvent.id))
    )
    result = await session.exec(stmt)
    return result.first() is not None


async def prune_events(session: AsyncSession, *, before: datetime) -> int:
    """Forget claims older than ``before`` (after the platforms stop retrying them)."""
    result = await session.exec(
        delete(ProcessedEvent).where(col(ProcessedEvent.created_at) < before)
    )
    return int(result.rowcount)
