"""A partner action's confirmation: opened for the person who asked, with the deployment's
expiry, and decided once, by them, in the caller's transaction (so granting it and recording
its job commit together)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from conversations.tools.context import ToolContext
from storage import repositories
from storage.models import Approval


async def open_confirmation(ctx: ToolContext, kind: str, draft: Any) -> Approval:
    """A pending confirmation of `kind` ("call", "reservation"…) holding `draft`, that only
    the asker may decide, expiring after `BookingConfig.approval_ttl_s`."""
    async with ctx.deps.db.session() as session:
        return await repositories.create_approval(
            session,
            conversation_id=ctx.conversation_id,
            workspace_id=ctx.address.workspace_id,
            requested_by=ctx.sender.user_id,
            snapshot={kind: draft},
            expires_at=datetime.now(UTC) + timedelta(seconds=ctx.deps.booking.approval_ttl_s),
        )


async def decide_once(
    session: AsyncSession,
    ctx: ToolContext,
    approval_id: str,
    to_status: Literal["granted", "rejected"],
    *,
    kind: str,
) -> Approval | None:
    """Resolve the pending confirmation of `kind` (its snapshot's key: "call",
    "reservation") as the presser; None when it did not apply (another kind, decided
    already, expired, or someone else's)."""
    pending = await repositories.get_approval(
        session, approval_id=approval_id, workspace_id=ctx.address.workspace_id
    )
    if pending is None or kind not in pending.snapshot:
        return None
    return await repositories.resolve_approval(
        session,
        approval_id=approval_id,
        workspace_id=ctx.address.workspace_id,
        requested_by=ctx.sender.user_id,
        to_status=to_status,
        now=datetime.now(UTC),
    )
