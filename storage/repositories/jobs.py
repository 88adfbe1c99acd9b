"""Jobs: actions a job runner works on, under leases that expire.

An action is runnable when its ``next_run_at`` has come and nobody holds a live lease on it.
Claiming is one conditional UPDATE (on PostgreSQL over candidates locked ``FOR UPDATE SKIP
LOCKED``), so two runners in two processes never take the same job; a runner that dies lets
its lease run out and another takes the job over.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Action, utc_now
from storage.repositories._common import RETURNING_OPTIONS, is_postgresql

__all__ = [
    "add_to_job",
    "any_due_jobs",
    "claim_runnable_jobs",
    "conversation_jobs",
    "count_jobs_since",
    "move_job",
    "person_jobs",
    "renew_job_lease",
    "schedule_job",
    "update_job_payload",
]


def _lease_free(now: datetime) -> ColumnElement[bool]:
    return or_(col(Action.lease_until).is_(None), col(Action.lease_until) <= now)


async def any_due_jobs(
    session: AsyncSession, *, kinds: Collection[str], now: datetime | None = None
) -> bool:
    """Whether a claim would find anything: a read, so an idle runner's polls take no write
    lock (SQLite has one writer)."""
    now = now or utc_now()
    result = await session.exec(
        select(col(Action.id))
        .where(
            col(Action.kind).in_(list(kinds)),
            col(Action.next_run_at).is_not(None),
            col(Action.next_run_at) <= now,
            _lease_free(now),
        )
        .limit(1)
    )
    return result.first() is not None


async def claim_runnable_jobs(
    session: AsyncSession,
    *,
    kinds: Collection[str],
    owner: str,
    until: datetime,
    now: datetime | None = None,
    limit: int = 20,
) -> list[Action]:
    """Take the lease on up to ``limit`` due jobs of these kinds, oldest due first."""
    now = now or utc_now()
    if not kinds:
        return []
    due = (
        select(col(Action.id))
        .where(
            col(Action.kind).in_(list(kinds)),
            col(Action.next_run_at).is_not(None),
            col(Action.next_run_at) <= now,
            _lease_free(now),
        )
        .order_by(col(Action.next_run_at), col(Action.id))
        .limit(limit)
    )
    if is_postgresql(session):
        due = due.with_for_update(skip_locked=True)
    result = await session.exec(
        update(Action)
        .where(col(Action.id).in_(due.scalar_subquery()), _lease_free(now))
        .values(lease_owner=owner, lease_until=until, attempts=col(Action.attempts) + 1)
        .returning(Action)
        .execution_options(**RETURNING_OPTIONS)
    )
    return sorted(result.scalars().all(), key=lambda a: (a.next_run_at or now, a.id))


async def renew_job_lease(
    session: AsyncSession, *, action_id: str, owner: str, until: datetime
) -> bool:
    """Extend ``owner``'s lease; False when it was lost (expired and taken by another)."""
    result = await session.exec(
        update(Action)
        .where(col(Action.id) == action_id, col(Action.lease_owner) == owner)
        .values(lease_until=until)
        .returning(col(Action.id))
    )
    return result.first() is not None


async def update_job_payload(
    session: AsyncSession, *, action_id: str, owner: str, changes: Mapping[str, Any]
) -> bool:
    """Merge ``changes`` into the job's payload while ``owner`` holds its lease."""
    query = select(Action).where(col(Action.id) == action_id, col(Action.lease_owner) == owner)
    if is_postgresql(session):
        query = query.with_for_update()
    action = (await session.exec(query.execution_options(populate_existing=True))).first()
    if action is None:
        return False
    result = await session.exec(
        update(Action)
        .where(col(Action.id) == action_id, col(Action.lease_owner) == owner)
        .values(payload={**action.payload, **changes}, updated_at=utc_now())
        .returning(col(Action.id))
    )
    return result.first() is not None


async def move_job(
    session: AsyncSession,
    *,
    action_id: str,
    owner: str,
    conversation_id: str,
    thread_id: str,
    changes: Mapping[str, Any],
) -> bool:
    """Point the job at another thread of its chat (and that thread's conversation), with
    payload ``changes``, while ``owner`` holds its lease: it reports there from now on."""
    query = select(Action).where(col(Action.id) == action_id, col(Action.lease_owner) == owner)
    if is_postgresql(session):
        query = query.with_for_update()
    action = (await session.exec(query.execution_options(populate_existing=True))).first()
    if action is None:
        return False
    await session.exec(
        update(Action)
        .where(col(Action.id) == action_id)
        .values(
            conversation_id=conversation_id,
            thread_id=thread_id,
            payload={**action.payload, **changes},
            updated_at=utc_now(),
        )
    )
    return True


async def add_to_job(
    session: AsyncSession,
    *,
    action_id: str,
    workspace_id: str,
    add: Callable[[Mapping[str, Any]], Mapping[str, Any] | None],
) -> Action | None:
    """From outside the job's step (a person's message for it, a decision), merge what
    ``add`` makes of its stored payload (None: nothing) and make it due now, under the row's
    lock, whoever holds its lease. Only keys the job itself never writes may be added: its
    own checkpoints merge into the stored payload, so they keep what was added here."""
    query = select(Action).where(
        col(Action.id) == action_id, col(Action.workspace_id) == workspace_id
    )
    if is_postgresql(session):
        query = query.with_for_update()
    action = (await session.exec(query.execution_options(populate_existing=True))).first()
    if action is None:
        return None
    changes = add(dict(action.payload))
    if changes is None:
        return None
    now = utc_now()
    await session.exec(
        update(Action)
        .where(col(Action.id) == action_id)
        .values(payload={**action.payload, **changes}, updated_at=now, next_run_at=now)
    )
    action.payload = {**action.payload, **changes}
    return action


async def schedule_job(
    session: AsyncSession, *, action_id: str, at: datetime | None = None
) -> bool:
    """Ask for the job to be worked on at ``at`` (now by default): something it waited for
    arrived (an answer, a webhook). Never later than a time already set, unless a step is
    working on it now (its claimed due time is still there): then the new time tells the
    runner that a wake came in meanwhile (`transition_action(woken_after=…)`)."""
    at = at or utc_now()
    result = await session.exec(
        update(Action)
        .where(
            col(Action.id) == action_id,
            or_(
                col(Action.next_run_at).is_(None),
                col(Action.next_run_at) > at,
                col(Action.lease_owner).is_not(None),
            ),
        )
        .values(next_run_at=at)
        .returning(col(Action.id))
    )
    return result.first() is not None


async def conversation_jobs(
    session: AsyncSession, *, conversation_id: str, kinds: Collection[str], limit: int = 20
) -> list[Action]:
    """This conversation's jobs of these kinds, newest first."""
    result = await session.exec(
        select(Action)
        .where(col(Action.conversation_id) == conversation_id, col(Action.kind).in_(list(kinds)))
        .order_by(col(Action.created_at).desc(), col(Action.id))
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return list(result.all())


async def person_jobs(
    session: AsyncSession,
    *,
    platform: str,
    workspace_id: str,
    requested_by: str,
    kinds: Collection[str],
    statuses: Collection[str],
    limit: int = 20,
) -> list[Action]:
    """A person's jobs in these statuses across the workspace (App Home, /status), newest first."""
    result = await session.exec(
        select(Action)
        .where(
            col(Action.platform) == platform,
            col(Action.workspace_id) == workspace_id,
            col(Action.requested_by) == requested_by,
            col(Action.kind).in_(list(kinds)),
            col(Action.status).in_(list(statuses)),
        )
        .order_by(col(Action.created_at).desc(), col(Action.id))
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return list(result.all())


async def count_jobs_since(
    session: AsyncSession, *, platform: str, workspace_id: str, kind: str, since: datetime
) -> int:
    """How many jobs of ``kind`` the workspace started since ``since`` (daily caps)."""
    result = await session.exec(
        select(func.count())
        .select_from(Action)
        .where(
            col(Action.platform) == platform,
            col(Action.workspace_id) == workspace_id,
            col(Action.kind) == kind,
            col(Action.created_at) >= since,
        )
    )
    return int(result.one())
