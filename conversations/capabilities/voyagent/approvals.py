"""Approvals the agency's agent asks for, as cards only the requester (or a workspace admin)
can decide.

Each partner approval becomes one of our approval rows (decided once, by one conditional
update) and one card. A press records the decision in the job and wakes it; the job tells
the agency and resumes the paused turn (`job.py`), so a press never waits on the partner
and a crash between the two loses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from conversations import delivery
from conversations.booking.messages import approval_key
from conversations.cards import clip
from conversations.jobs import JobContext
from conversations.replies import BUTTON_EXPIRED, ApprovalRequest, Button, Reply
from conversations.tools.context import ToolContext
from storage import repositories
from storage.models import Approval

KIND = "agency_approval"


def approval_card(
    approval_id: str, snapshot: Mapping[str, Any], requester: str, status: str
) -> Reply:
    summary = clip(str(snapshot.get("summary") or "an approval"), 300) or "an approval"
    agency = str(snapshot.get("agency") or "The travel agency")
    request = ApprovalRequest(
        approval_id=approval_id,
        title=f"{agency} asks for your approval",
        subject=summary,
        lines=(
            f"“{summary}”",
            "Only the person who asked for this trip (or a workspace admin) can decide.",
        ),
        requester=requester,
        confirm=Button("Approve", f"agency.ok:{approval_id}", "primary"),
        cancel=Button("Reject", f"agency.reject:{approval_id}", "danger"),
        status=status,
        verb="approve",
        until="Nothing is approved until you press Approve.",
    )
    return Reply(approval=request, key=approval_key(approval_id), mention=requester)


async def open_approval(
    session: AsyncSession,
    job: JobContext,
    *,
    partner_id: str,
    summary: str,
    agency: str,
    expires_at: datetime,
) -> dict[str, Any]:
    """Our row for the agency's approval, and its card queued; returns the job's `paused`."""
    snapshot = {
        "partner_id": partner_id,
        "summary": clip(summary, 300) or "",
        "agency": agency,
        "job_id": job.action.id,
    }
    approval = await repositories.create_approval(
        session,
        conversation_id=job.action.conversation_id,
        workspace_id=job.action.workspace_id,
        requested_by=job.action.requested_by,
        snapshot={KIND: snapshot},
        expires_at=expires_at,
        action_id=job.action.id,
    )
    await delivery.enqueue(
        session,
        job.address,
        approval_card(approval.id, snapshot, job.action.requested_by, "pending"),
        dedupe_key=f"agency:{job.action.id}:approval:{partner_id}",
    )
    return {"approval_id": partner_id, "ours": approval.id, "expires_at": expires_at.isoformat()}


async def settle_card(
    session: AsyncSession, job: JobContext, paused: Mapping[str, Any], status: str
) -> None:
    """The card as the agency settled it (expired, or decided there)."""
    ours = str(paused["ours"])
    approval = await repositories.get_approval(
        session, approval_id=ours, workspace_id=job.action.workspace_id
    )
    if approval is None:
        return
    shown = status if status in ("granted", "rejected") else "expired"
    await delivery.enqueue(
        session,
        job.address,
        approval_card(ours, approval.snapshot[KIND], approval.requested_by, shown),
        dedupe_key=f"agency:{job.action.id}:approval:{paused['approval_id']}:{shown}",
    )
    if shown == "expired":
        await delivery.enqueue(
            session,
            job.address,
            Reply(text="The agency's approval request expired before it was decided."),
            dedupe_key=f"agency:{job.action.id}:approval:{paused['approval_id']}:said",
        )


async def decide(
    ctx: ToolContext, approval_id: str, to_status: Literal["granted", "rejected"]
) -> tuple[Reply, ...]:
    """Approve / Reject pressed: decided once, by the requester or a workspace admin."""
    async with ctx.deps.db.session() as session:
        pending = await repositories.get_approval(
            session, approval_id=approval_id, workspace_id=ctx.address.workspace_id
        )
        if pending is None or KIND not in pending.snapshot:
            return (BUTTON_EXPIRED,)
        if not await _may_decide(ctx, pending):
            return (
                ctx.privately(
                    "Only the person who asked for this trip (or a workspace admin) can decide."
                ),
            )
        decided = await repositories.resolve_approval(
            session,
            approval_id=approval_id,
            workspace_id=ctx.address.workspace_id,
            requested_by=pending.requested_by,
            to_status=to_status,
            now=datetime.now(UTC),
        )
        if decided is not None:
            partner_id = str(decided.snapshot[KIND]["partner_id"])
            await repositories.add_to_job(
                session,
                action_id=str(decided.snapshot[KIND]["job_id"]),
                workspace_id=ctx.address.workspace_id,
                add=lambda p: {"decisions": {**(p.get("decisions") or {}), partner_id: to_status}},
            )
    if decided is None:
        return (_why_not(ctx, pending),)
    ctx.deps.jobs.ring()
    return (approval_card(decided.id, decided.snapshot[KIND], decided.requested_by, to_status),)


async def _may_decide(ctx: ToolContext, approval: Approval) -> bool:
    if approval.requested_by == ctx.sender.user_id:
        return True
    return await ctx.deps.admins.is_admin(ctx.address, ctx.sender.user_id)


def _why_not(ctx: ToolContext, approval: Approval) -> Reply:
    if approval.status == "granted":
        return ctx.privately("This was already approved.")
    if approval.status == "rejected":
        return ctx.privately("This was already rejected.")
    return ctx.privately("This approval has expired; the agency's agent can ask again.")
