"""Inbound items: claim an event id before working on it, and work it under a lease.

The claim is the dedupe (one row per event id, ever). While the item's work goes on, the row
also says who is working on it (``lease_owner``) and until when (``lease_until``): the process
that claimed it renews the lease, and when that process dies the lease runs out and another
process takes the item over (``take_over_events``), so N processes can share one database
without answering a message twice or dropping one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, or_
from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ProcessedEvent, utc_now
from storage.repositories._common import RETURNING_OPTIONS, dialect_insert, is_postgresql, table_of

__all__ = [
    "NewClaim",
    "claim_event",
    "claim_events",
    "mark_event_done",
    "prune_events",
    "release_event_leases",
    "renew_event_leases",
    "take_over_events",
]

_RENEW_CHUNK = 500  # keys per UPDATE, far below any driver's bind-parameter limit


async def claim_event(
    session: AsyncSession,
    *,
    key: str,
    source: str,
    payload: Mapping[str, Any] | None = None,
    owner: str | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> bool:
    """Record ``key`` (e.g. ``"slack:Ev123"``); True only for the first claimer, ever.

    One ``INSERT … ON CONFLICT DO NOTHING RETURNING``: concurrent claimers of one key cannot
    both win, and the claim commits with the caller's transaction. ``payload`` keeps the
    accepted item until ``mark_event_done``, so a crash in between loses nothing; ``owner``
    and ``until`` take the item's lease in the same statement, so no other process can take
    it over between the claim and the work.
    """
    if (owner is None) != (until is None):
        raise ValueError("a lease needs both an owner and an expiry")
    stmt = (
        dialect_insert(session, ProcessedEvent)
        .values(
            key=key,
            source=source,
            payload=dict(payload) if payload is not None else None,
            lease_owner=owner,
            lease_until=until,
            created_at=now or utc_now(),
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(col(ProcessedEvent.id))
    )
    result = await session.exec(stmt)
    return result.first() is not None


@dataclass(frozen=True)
class NewClaim:
    key: str
    source: str
    payload: Mapping[str, Any]


async def claim_events(
    session: AsyncSession,
    claims: Sequence[NewClaim],
    *,
    owner: str,
    until: datetime,
    now: datetime | None = None,
) -> set[str]:
    """`claim_event` for many items in one ``INSERT … ON CONFLICT DO NOTHING RETURNING``:
    the keys this call recorded (each first claimer's; a key twice in `claims` counts once).
    """
    unique: dict[str, NewClaim] = {}
    for claim in claims:
        unique.setdefault(claim.key, claim)
    if not unique:
        return set()
    created = now or utc_now()
    rows = [
        {
            "key": claim.key,
            "source": claim.source,
            "payload": dict(claim.payload),
            "lease_owner": owner,
            "lease_until": until,
            "created_at": created,
        }
        for claim in unique.values()
    ]
    # The rows go as parameters, not in the statement, so its compiled form is cached.
    table = table_of(ProcessedEvent)
    stmt = (
        dialect_insert(session, table)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(table.c.key)
    )
    result = await session.exec(stmt, params=rows)
    return {str(row[0]) for row in result.all()}


# Run once per inbound item: built once, its parameters bound at execution.
_MARK_DONE = (
    update(ProcessedEvent)
    .where(col(ProcessedEvent.key) == bindparam("event_key"))
    .values(done_at=bindparam("done_at"), payload=None, lease_until=None)
)


async def mark_event_done(session: AsyncSession, *, key: str, now: datetime | None = None) -> None:
    """The work for ``key`` is finished: its payload is no longer needed and its lease is
    released. Not fenced by owner: work that was done is done, whoever did it, and a holder
    that is still working will find nothing left to take over."""
    await session.exec(_MARK_DONE, params={"event_key": key, "done_at": now or utc_now()})


async def release_event_leases(session: AsyncSession, *, owner: str) -> int:
    """A process shutting down lets go of the unfinished items it holds, so another process
    takes them over at once rather than after the lease runs out."""
    result = await session.exec(
        update(ProcessedEvent)
        .where(col(ProcessedEvent.lease_owner) == owner, col(ProcessedEvent.done_at).is_(None))
        .values(lease_until=None)
    )
    return int(result.rowcount)


async def renew_event_leases(
    session: AsyncSession, *, keys: Collection[str], owner: str, until: datetime
) -> set[str]:
    """Extend ``owner``'s leases on ``keys`` until ``until``; returns the keys still held.

    Fenced by ``lease_owner``: a key whose lease ran out and was taken over by another
    process (or that is done) is not renewed and is missing from the answer.
    """
    held: set[str] = set()
    ordered = sorted(keys)
    for start in range(0, len(ordered), _RENEW_CHUNK):
        chunk = ordered[start : start + _RENEW_CHUNK]
        result = await session.exec(
            update(ProcessedEvent)
            .where(
                col(ProcessedEvent.key).in_(chunk),
                col(ProcessedEvent.lease_owner) == owner,
                col(ProcessedEvent.done_at).is_(None),
            )
            .values(lease_until=until)
            .returning(col(ProcessedEvent.key))
        )
        held.update(str(key) for key in result.scalars().all())
    return held


def _takeable(owner: str, now: datetime, others_before: datetime | None) -> ColumnElement[bool]:
    free = [col(ProcessedEvent.lease_until).is_(None), col(ProcessedEvent.lease_until) <= now]
    if others_before is not None:
        free.append(
            (
                or_(
                    col(ProcessedEvent.lease_owner).is_(None),
                    col(ProcessedEvent.lease_owner) != owner,
                )
            )
            & (col(ProcessedEvent.created_at) < others_before)
        )
    return (
        col(ProcessedEvent.done_at).is_(None)
        & col(ProcessedEvent.payload).is_not(None)
        & or_(*free)
    )


async def take_over_events(
    session: AsyncSession,
    *,
    owner: str,
    until: datetime,
    now: datetime | None = None,
    others_before: datetime | None = None,
    limit: int = 100,
) -> list[ProcessedEvent]:
    """Take the lease, for ``owner`` until ``until``, on up to ``limit`` unfinished items
    that nobody holds (never leased, or lease expired), oldest first; returns them.

    One conditional UPDATE whose WHERE is checked again on the row it writes, over candidates
    locked ``FOR UPDATE SKIP LOCKED`` on PostgreSQL: two processes racing for one item never
    both get it. A live lease — renewed by a process that is working on the item — is never
    taken.

    ``others_before`` is for a database only one process uses (SQLite): items claimed before
    it (this process's start) by any other owner are taken too, whatever their lease says,
    because whoever held them is gone. It is refused on PostgreSQL, where another owner is a
    replica that may be alive.
    """
    now = now or utc_now()
    if others_before is not None and is_postgresql(session):
        raise ValueError("others_before would take live replicas' items on PostgreSQL")
    takeable = _takeable(owner, now, others_before)
    candidates = (
        select(col(ProcessedEvent.id)).where(takeable).order_by(col(ProcessedEvent.id)).limit(limit)
    )
    if is_postgresql(session):
        candidates = candidates.with_for_update(skip_locked=True)
    result = await session.exec(
        update(ProcessedEvent)
        .where(col(ProcessedEvent.id).in_(candidates.scalar_subquery()), takeable)
        .values(lease_owner=owner, lease_until=until)
        .returning(ProcessedEvent)
        .execution_options(**RETURNING_OPTIONS)
    )
    return sorted(result.scalars().all(), key=lambda row: row.id or 0)


async def prune_events(session: AsyncSession, *, before: datetime) -> int:
    """Forget claims older than ``before`` (after the platforms stop retrying them)."""
    result = await session.exec(
        delete(ProcessedEvent).where(col(ProcessedEvent.created_at) < before)
    )
    return int(result.rowcount)
