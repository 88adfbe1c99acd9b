"""Actions: partner operations that outlive a request, with monotonic status and leases."""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, literal, null, or_
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Action, UTCDateTime, new_id, utc_now
from storage.repositories._common import RETURNING_OPTIONS, dialect_insert

__all__ = [
    "KEEP",
    "IdempotencyKeyConflict",
    "claim_action_lease",
    "create_action",
    "get_action",
    "get_action_by_partner_ref",
    "get_action_by_webhook_token",
    "list_open_actions",
    "release_action_lease",
    "transition_action",
]


class _Keep(enum.Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP
"""Leave a column as it is (where None is a value)."""


class IdempotencyKeyConflict(Exception):
    """The idempotency key already belongs to an action of another workspace or kind."""


async def create_action(
    session: AsyncSession,
    *,
    kind: str,
    conversation_id: str,
    platform: str,
    workspace_id: str,
    chat_id: str,
    thread_id: str = "",
    requested_by: str,
    payload: Mapping[str, Any],
    status: str = "pending",
    idempotency_key: str | None = None,
    webhook_token_hash: str | None = None,
    partner_ref: str | None = None,
    next_run_at: datetime | None = None,
    now: datetime | None = None,
) -> Action:
    """Record an action that reports back to the conversation's address.

    Write it (with its idempotency key) *before* calling the partner. Creating an action
    with an ``idempotency_key`` already used by this workspace for the same kind returns the
    existing action unchanged; used elsewhere, it raises ``IdempotencyKeyConflict``.
    """
    now = now or utc_now()
    row = {
        "id": new_id(),
        "kind": kind,
        "status": status,
        "conversation_id": conversation_id,
        "platform": platform,
        "workspace_id": workspace_id,
        "chat_id": chat_id,
        "thread_id": thread_id,
        "requested_by": requested_by,
        "partner_ref": partner_ref,
        "idempotency_key": idempotency_key,
        "webhook_token_hash": webhook_token_hash,
        "payload": dict(payload),
        "result": None,
        "error": None,
        "attempts": 0,
        "next_run_at": next_run_at,
        "created_at": now,
        "updated_at": now,
    }
    # The row goes as parameters (a cached statement); RETURNING spares the read-back unless
    # the key was taken already.
    inserted = await session.exec(
        dialect_insert(session, Action)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(Action)
        .execution_options(**RETURNING_OPTIONS),
        params=[row],
    )
    action: Action | None = inserted.scalars().first()
    if action is None:
        query = select(Action).where(col(Action.idempotency_key) == idempotency_key)
        action = (await session.exec(query.execution_options(populate_existing=True))).one()
    if (action.platform, action.workspace_id, action.kind) != (platform, workspace_id, kind):
        raise IdempotencyKeyConflict("idempotency key is already used by another action")
    return action


async def get_action(session: AsyncSession, *, action_id: str, workspace_id: str) -> Action | None:
    """An action by id, only within ``workspace_id`` (None across tenants)."""
    result = await session.exec(
        select(Action)
        .where(col(Action.id) == action_id, col(Action.workspace_id) == workspace_id)
        .execution_options(populate_existing=True)
    )
    return result.first()


async def get_action_by_webhook_token(session: AsyncSession, *, token_hash: str) -> Action | None:
    """The action whose per-action webhook token hashes to ``token_hash``."""
    result = await session.exec(
        select(Action)
        .where(col(Action.webhook_token_hash) == token_hash)
        .execution_options(populate_existing=True)
    )
    return result.first()


async def get_action_by_partner_ref(
    session: AsyncSession, *, kind: str, partner_ref: str
) -> Action | None:
    """The action of ``kind`` that the partner knows as ``partner_ref``."""
    result = await session.exec(
        select(Action)
        .where(col(Action.kind) == kind, col(Action.partner_ref) == partner_ref)
        .execution_options(populate_existing=True)
    )
    return result.first()


async def transition_action(
    session: AsyncSession,
    *,
    action_id: str,
    from_statuses: Collection[str],
    to_status: str,
    result: Mapping[str, Any] | None = None,
    error: str | None = None,
    partner_ref: str | None = None,
    lease_owner: str | None = None,
    count_attempt: bool = False,
    next_run_at: datetime | _Keep | None = KEEP,
    release_lease: bool = False,
    now: datetime | None = None,
    woken_after: datetime | None = None,
) -> bool:
    """Move an action to ``to_status`` only if its status is in ``from_statuses`` (and, with
    ``lease_owner``, only while that owner holds the lease). One conditional UPDATE, so a
    replayed webhook, two pollers or two processes cannot move it backwards or apply twice.
    ``result``/``error``/``partner_ref`` are written only when given; ``next_run_at`` (a time,
    or None for "nothing to do") only when given; ``release_lease`` frees the lease. Returns
    whether it applied.
    """
    statuses = list(from_statuses)
    if not statuses:
        return False
    values: dict[str, Any] = {"status": to_status, "updated_at": now or utc_now()}
    if result is not None:
        values["result"] = dict(result)
    if error is not None:
        values["error"] = error
    if partner_ref is not None:
        values["partner_ref"] = partner_ref
    if count_attempt:
        values["attempts"] = col(Action.attempts) + 1
    if not isinstance(next_run_at, _Keep):
        values["next_run_at"] = _unless_woken(next_run_at, woken_after)
    if release_lease:
        values["lease_owner"] = None
        values["lease_until"] = None
    conditions = [col(Action.id) == action_id, col(Action.status).in_(statuses)]
    if lease_owner is not None:
        conditions.append(col(Action.lease_owner) == lease_owner)
    row = await session.exec(
        update(Action)
        .where(*conditions)
        .values(values)
        .returning(Action)
        .execution_options(**RETURNING_OPTIONS)
    )
    return row.first() is not None


def _unless_woken(run_at: datetime | None, woken_after: datetime | None) -> Any:
    """``run_at``, unless someone made the action due again after ``woken_after`` (the due
    time its step was claimed at: `jobs.schedule_job` while it ran) and sooner than that:
    then the wake stands. Decided in the UPDATE itself, so on PostgreSQL a wake committed
    meanwhile is the row version it sees."""
    if woken_after is None:
        return run_at
    due = col(Action.next_run_at)
    woken = and_(due.is_not(None), due > woken_after)
    if run_at is not None:
        woken = and_(woken, due < run_at)
    return case((woken, due), else_=literal(run_at, UTCDateTime()) if run_at else null())


async def claim_action_lease(
    session: AsyncSession,
    *,
    action_id: str,
    owner: str,
    until: datetime,
    now: datetime | None = None,
) -> bool:
    """Take (or renew) the lease on an action until ``until``: succeeds when the lease is free,
    expired, or already ``owner``'s. Two processes can never both hold it."""
    now = now or utc_now()
    row = await session.exec(
        update(Action)
        .where(
            col(Action.id) == action_id,
            or_(
                col(Action.lease_owner).is_(None),
                col(Action.lease_until).is_(None),
                col(Action.lease_until) <= now,
                col(Action.lease_owner) == owner,
            ),
        )
        .values(lease_owner=owner, lease_until=until, updated_at=now)
        .returning(Action)
        .execution_options(**RETURNING_OPTIONS)
    )
    return row.first() is not None


async def release_action_lease(session: AsyncSession, *, action_id: str, owner: str) -> bool:
    """Give up ``owner``'s lease (no-op if someone else holds it)."""
    row = await session.exec(
        update(Action)
        .where(col(Action.id) == action_id, col(Action.lease_owner) == owner)
        .values(lease_owner=None, lease_until=None)
        .returning(Action)
        .execution_options(**RETURNING_OPTIONS)
    )
    return row.first() is not None


async def list_open_actions(
    session: AsyncSession,
    *,
    kinds: Collection[str],
    statuses: Collection[str],
    limit: int | None = None,
) -> list[Action]:
    """Actions of these kinds in these statuses, oldest first (re-attach them on start)."""
    query = (
        select(Action)
        .where(col(Action.kind).in_(list(kinds)), col(Action.status).in_(list(statuses)))
        .order_by(col(Action.created_at), col(Action.id))
        .execution_options(populate_existing=True)
    )
    if limit is not None:
        query = query.limit(limit)
    return list((await session.exec(query)).all())
