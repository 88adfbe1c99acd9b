"""Deciding a partner action's confirmation: once, by the person who asked, in the caller's
transaction (so granting it and recording its job commit together)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from conversations.tools.context import ToolContext
from storage import repositories
from storage.models import Approval


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
