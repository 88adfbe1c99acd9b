"""Asking before money moves: propose a frozen quote, then only its requester may grant it.

The model can propose (through `book_activity`) but never grant: granting is a button
press, resolved by one conditional update (pending, same person, same workspace, unexpired).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from conversations.booking.messages import approval_request, quote_lines
from conversations.booking.quote import Quote, money
from conversations.capabilities.outgoing.booking_job import BOOKING, NOT_SENT, BookingJobStatus
from conversations.jobs import start_job, wake_job
from conversations.replies import Reply
from conversations.tools.base import ToolOutcome, tool_error
from conversations.tools.context import ToolContext, ToolDeps
from conversations.types import ConversationAddress
from storage import repositories, token_hash
from storage.models import Approval


async def spend_cap(deps: ToolDeps, address: ConversationAddress) -> int:
    """The most one booking may cost in this workspace (or chat)."""
    async with deps.db.session(read_only=True) as session:
        workspace = await repositories.get_workspace(
            session, platform=address.platform, external_id=address.workspace_id
        )
    if workspace is not None and workspace.spend_cap_cents is not None:
        return workspace.spend_cap_cents
    return deps.booking.default_spend_cap_cents


async def propose(ctx: ToolContext, quote: Quote) -> ToolOutcome:
    """Post the confirmation; nothing is booked until the requester presses Confirm."""
    cap = await spend_cap(ctx.deps, ctx.address)
    if quote.total_cents > cap:
        return tool_error(
            f"This booking would cost {money(quote.total_cents, quote.currency)}, above this "
            f"workspace's limit of {money(cap, quote.currency)} per booking. "
            "A workspace admin can change the limit.",
            hint="Do not split the booking to get around the limit; tell the user.",
        )
    mode = ctx.deps.booking.payment_mode
    now = datetime.now(UTC)
    async with ctx.deps.db.session() as session:
        approval = await repositories.create_approval(
            session,
            conversation_id=ctx.conversation_id,
            workspace_id=ctx.address.workspace_id,
            requested_by=ctx.sender.user_id,
            snapshot={"quote": quote.to_json(), "payment_mode": mode},
            expires_at=now + timedelta(seconds=ctx.deps.booking.approval_ttl_s),
        )
    return ToolOutcome(
        for_model={
            "status": "awaiting_confirmation",
            "shown_to_user": list(quote_lines(quote, mode)),
            "note": "Nothing is booked yet. Only the requester can confirm, by pressing "
            "Confirm. Do not say it is booked.",
        },
        replies=(approval_request(approval.id, quote, mode, ctx.sender.user_id),),
    )


async def _why_not(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    """The approval did not resolve: say why, changing nothing."""
    async with ctx.deps.db.session(read_only=True) as session:
        approval = await repositories.get_approval(
            session, approval_id=approval_id, workspace_id=ctx.address.workspace_id
        )
    if approval is None:
        return (ctx.privately("I can't find that confirmation. Ask me again to book."),)
    if approval.status == "granted":
        return (ctx.privately("This booking was already confirmed."),)
    if approval.status in ("rejected", "expired"):
        return (ctx.privately(f"This booking was already {_said(approval.status)}."),)
    if approval.requested_by != ctx.sender.user_id:
        return (ctx.privately("Only the person who asked can confirm or cancel this booking."),)
    return (ctx.privately("This confirmation has expired; ask me again to book."),)


def _said(status: str) -> str:
    return {"rejected": "cancelled", "expired": "expired"}.get(status, status)


async def _resolve(ctx: ToolContext, approval_id: str, to_status: str) -> Approval | None:
    async with ctx.deps.db.session() as session:
        return await repositories.resolve_approval(
            session,
            approval_id=approval_id,
            workspace_id=ctx.address.workspace_id,
            requested_by=ctx.sender.user_id,
            to_status="granted" if to_status == "granted" else "rejected",
            now=datetime.now(UTC),
        )


@dataclass(frozen=True)
class _Decided:
    approval: Approval
    quote: Quote
    mode: str

    def shown_as(self, status: str) -> Reply:
        """The confirmation message again, now showing how it was decided (to the payer
        alone where it was theirs alone: their share of a group plan)."""
        return self.privately(
            approval_request(
                self.approval.id, self.quote, self.mode, self.approval.requested_by, status
            )
        )

    def privately(self, reply: Reply) -> Reply:
        if "plan_id" not in self.approval.snapshot:
            return reply
        return replace(reply, private_to=self.approval.requested_by)


def _decided(approval: Approval) -> _Decided:
    quote = Quote.from_json(approval.snapshot["quote"])
    return _Decided(approval, quote, str(approval.snapshot["payment_mode"]))


async def _decide(ctx: ToolContext, approval_id: str, to_status: str) -> _Decided | None:
    approval = await _resolve(ctx, approval_id, to_status)
    return None if approval is None else _decided(approval)


async def on_approve(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    """The Confirm button: grant once and record the booking job in the same transaction, so
    a granted approval always has its booking; the job sends it from the approved snapshot."""
    now = datetime.now(UTC)
    key = uuid.uuid4().hex
    async with ctx.deps.db.session() as session:
        approval = await repositories.resolve_approval(
            session,
            approval_id=approval_id,
            workspace_id=ctx.address.workspace_id,
            requested_by=ctx.sender.user_id,
            to_status="granted",
            now=now,
        )
        if approval is not None:
            job = await start_job(
                session,
                BOOKING,
                status=BookingJobStatus.PLACING,
                address=ctx.address,
                conversation_id=ctx.conversation_id,
                requested_by=ctx.sender.user_id,
                payload={
                    "quote": approval.snapshot["quote"],
                    "payment_mode": approval.snapshot["payment_mode"],
                    "approval_id": approval.id,
                    "granted_by": ctx.origin,
                    **{k: v for k, v in approval.snapshot.items() if k == "plan_id"},
                },
                idempotency_key=key,
                webhook_token_hash=token_hash(ctx.deps.booking.webhook_token(key)),
            )
            await repositories.link_approval(session, approval_id=approval.id, action_id=job.id)
    if approval is None:
        return (
            await _confirm_again(ctx, approval_id)
            or await _granted_by_this_press(ctx, approval_id)
            or await _why_not(ctx, approval_id)
        )
    ctx.deps.jobs.ring()
    return (_decided(approval).shown_as("granted"),)


async def _granted_by_this_press(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    """This very press granted it before its process died (the press is run again): show the
    confirmation as granted again, without "already confirmed"."""
    if not ctx.origin:
        return ()
    async with ctx.deps.db.session(read_only=True) as session:
        approval = await repositories.get_approval(
            session, approval_id=approval_id, workspace_id=ctx.address.workspace_id
        )
        if approval is None or approval.status != "granted" or approval.action_id is None:
            return ()
        job = await repositories.get_action(
            session, action_id=approval.action_id, workspace_id=ctx.address.workspace_id
        )
    if job is None or job.payload.get("granted_by") != ctx.origin:
        return ()
    return (_decided(approval).shown_as("granted"),)


async def _confirm_again(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    """A second Confirm after the booking could not even be sent: send it now, same key."""
    async with ctx.deps.db.session() as session:
        approval = await repositories.get_approval(
            session, approval_id=approval_id, workspace_id=ctx.address.workspace_id
        )
        if (
            approval is None
            or approval.status != "granted"
            or approval.requested_by != ctx.sender.user_id
            or approval.action_id is None
        ):
            return ()
        job = await repositories.get_action(
            session, action_id=approval.action_id, workspace_id=ctx.address.workspace_id
        )
        if job is None or job.status != BookingJobStatus.PLACING or job.error != NOT_SENT:
            return ()
        if not await repositories.schedule_job(session, action_id=job.id):
            return (Reply(text="I'm already trying again; I'll post the result here."),)
    ctx.deps.jobs.ring()
    return (Reply(text="Trying again; I'll post the result here."),)


async def on_reject(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    decided = await _decide(ctx, approval_id, "rejected")
    if decided is None:
        return await _why_not(ctx, approval_id)
    cancelled = decided.privately(Reply(text="Cancelled. Nothing was booked."))
    if "plan_id" in decided.approval.snapshot:  # the plan counts the refusal now
        await wake_job(ctx.deps.db, ctx.deps.jobs, str(decided.approval.snapshot["plan_id"]))
    return (decided.shown_as("rejected"), cancelled)
