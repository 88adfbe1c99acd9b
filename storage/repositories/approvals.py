"""Approvals: pending → granted | rejected | expired, resolved exactly once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Approval, utc_now
from storage.repositories._common import RETURNING_OPTIONS

__all__ = [
    "create_approval",
    "expire_approvals",
    "get_approval",
    "link_approval",
    "resolve_approval",
]


async def create_approval(
    session: AsyncSession,
    *,
    conversation_id: str,
    workspace_id: str,
    requested_by: str,
    snapshot: Mapping[str, Any],
    expires_at: datetime,
    action_id: str | None = None,
    now: datetime | None = None,
    approval_id: str | None = None,
) -> Approval:
    """A pending approval of the frozen ``snapshot``, answerable only by ``requested_by``
    (``approval_id``: one chosen beforehand, to be kept with what refers to it)."""
    approval = Approval(
        action_id=action_id,
        conversation_id=conversation_id,
        workspace_id=workspace_id,
        requested_by=requested_by,
        status="pending",
        snapshot=dict(snapshot),
        created_at=now or utc_now(),
        expires_at=expires_at,
    )
    if approval_id:
        approval.id = approval_id
    session.add(approval)
    await session.flush()
    return approval


async def get_approval(
    session: AsyncSession, *, approval_id: str, workspace_id: str
) -> Approval | None:
    """An approval by id, only within ``workspace_id`` (None across tenants)."""
    result = await session.exec(
        select(Approval)
        .where(col(Approval.id) == approval_id, col(Approval.workspace_id) == workspace_id)
        .execution_options(populate_existing=True)
    )
    return result.first()


async def resolve_approval(
    session: AsyncSession,
    *,
    approval_id: str,
    workspace_id: str,
    requested_by: str,
    to_status: Literal["granted", "rejected"],
    now: datetime,
) -> Approval | None:
    """Grant or reject: one conditional UPDATE that applies only while the approval is
    pending, unexpired, in ``workspace_id`` and asked by ``requested_by`` (the clicker).
    Returns the resolved approval, or None when it did not apply (already resolved, expired,
    someone else's, other workspace, unknown id)."""
    if to_status not in ("granted", "rejected"):
        raise ValueError(f"an approval resolves to granted or rejected, not {to_status!r}")
    result = await session.exec(
        update(Approval)
        .where(
            col(Approval.id) == approval_id,
            col(Approval.workspace_id) == workspace_id,
            col(Approval.requested_by) == requested_by,
            col(Approval.status) == "pending",
            col(Approval.expires_at) > now,
        )
        .values(status=to_status, resolved_at=now, resolved_by=requested_by)
        .returning(Approval)
        .execution_options(**RETURNING_OPTIONS)
    )
    return result.scalars().first()


async def expire_approvals(session: AsyncSession, *, now: datetime) -> list[Approval]:
    """Mark every pending approval whose deadline passed as expired; returns them."""
    result = await session.exec(
        update(Approval)
        .where(col(Approval.status) == "pending", col(Approval.expires_at) <= now)
        .values(status="expired", resolved_at=now)
        .returning(Approval)
        .execution_options(**RETURNING_OPTIONS)
    )
    return sorted(result.scalars().all(), key=lambda a: (a.expires_at, a.id))


async def link_approval(session: AsyncSession, *, approval_id: str, action_id: str) -> None:
    """Tie a granted approval to the action it started (its booking job)."""
    await session.exec(
        update(Approval).where(col(Approval.id) == approval_id).values(action_id=action_id)
    )
