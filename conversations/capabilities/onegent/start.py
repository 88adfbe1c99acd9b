"""Reserve / Cancel on a reservation's confirmation: only its requester decides, once.

Granting it and recording the reservation job (with its idempotency key, written before
Onegent hears of it) are one transaction, so a granted reservation is always sent, and sent
as one Onegent job however often it is retried.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from conversations.capabilities.onegent import profile
from conversations.capabilities.onegent.draft import Draft
from conversations.capabilities.onegent.gather import confirmation
from conversations.capabilities.onegent.job import RESERVATION, ReservationStatus
from conversations.decisions import decide_once
from conversations.jobs import start_job
from conversations.replies import BUTTON_EXPIRED, Reply
from conversations.tools.context import ToolContext
from storage import repositories
from storage.models import Approval

if TYPE_CHECKING:
    from conversations.buttons import ButtonRouter


async def _shown(ctx: ToolContext, approval: Approval, status: str) -> Reply:
    draft = Draft.from_json(approval.snapshot["reservation"])
    shown = await profile.load(ctx.deps, ctx.address, ctx.sender)
    return confirmation(approval.id, draft, shown, approval.requested_by, status)


async def _go(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    person = await ctx.deps.people.lookup(ctx.address, ctx.sender) if ctx.deps.people else None
    async with ctx.deps.db.session() as session:
        approval = await decide_once(session, ctx, approval_id, "granted", kind="reservation")
        if approval is not None:
            job = await start_job(
                session,
                RESERVATION,
                status=ReservationStatus.CREATING,
                address=ctx.address,
                conversation_id=ctx.conversation_id,
                requested_by=ctx.sender.user_id,
                payload={
                    "draft": approval.snapshot["reservation"],
                    "approval_id": approval.id,
                    "granted_by": ctx.origin,
                    "partner_user": person.external_user_id if person else "",
                },
                idempotency_key=uuid.uuid4().hex,
            )
            await repositories.link_approval(session, approval_id=approval.id, action_id=job.id)
    if approval is None:
        return await _why_not(ctx, approval_id)
    ctx.deps.jobs.ring()
    return (await _shown(ctx, approval, "granted"),)


async def _no(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    async with ctx.deps.db.session() as session:
        approval = await decide_once(session, ctx, approval_id, "rejected", kind="reservation")
    if approval is None:
        return await _why_not(ctx, approval_id)
    return (await _shown(ctx, approval, "rejected"), Reply(text="Cancelled. Nothing was reserved."))


async def _why_not(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    async with ctx.deps.db.session(read_only=True) as session:
        approval = await repositories.get_approval(
            session, approval_id=approval_id, workspace_id=ctx.address.workspace_id
        )
    if approval is None or "reservation" not in approval.snapshot:
        return (BUTTON_EXPIRED,)
    if approval.status == "granted":
        return (ctx.privately("This reservation was already sent."),)
    if approval.status == "rejected":
        return (ctx.privately("This reservation was already cancelled."),)
    if approval.requested_by != ctx.sender.user_id:
        return (ctx.privately("Only the person who asked can confirm or cancel this reservation."),)
    return (ctx.privately("This confirmation has expired; ask me again to reserve."),)


def register_reserve_buttons(router: ButtonRouter) -> None:
    router.register("reserve.go", _go)
    router.register("reserve.no", _no)
