"""`import_attendees` and `event_sharing`: who of the chat is shared, with whose say.

The organiser sees the list (names and titles; e-mails only counted, never shown in the
chat) in a confirmation only they can grant; granting it and recording the import job, with
its idempotency key, are one transaction. Any member can say "don't share me" first, or
leave later.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from conversations.booking.messages import approval_key
from conversations.capabilities.events.chat import here, organises, writes_here
from conversations.capabilities.events.import_job import IMPORT, ImportStatus
from conversations.capabilities.events.roster import Member, roster, seal, unseal
from conversations.capabilities.events.wording import (
    NO_EVENT,
    ONLY_ORGANISER,
    READ_ONLY,
)
from conversations.decisions import decide_once, open_confirmation
from conversations.jobs import start_job
from conversations.replies import BUTTON_EXPIRED, ApprovalRequest, Button, Reply
from conversations.tools.base import ToolOutcome, tool, tool_error
from conversations.tools.context import ToolContext
from storage import repositories, token_hash
from storage.models import Approval
from storage.repositories import chat_events

if TYPE_CHECKING:
    from conversations.buttons import ButtonRouter

KIND = "event_import"
OFF = "Events matching isn't set up here."


def _members(ctx: ToolContext, snapshot: dict[str, str]) -> tuple[Member, ...]:
    assert ctx.deps.people is not None
    return unseal(ctx.deps.people.cipher, snapshot["seal_id"], snapshot["sealed"])


def confirmation(
    approval_id: str,
    snapshot: dict[str, str],
    members: tuple[Member, ...],
    requester: str,
    status: str,
) -> Reply:
    lines = [m.line() for m in members]
    left_out = int(snapshot.get("opted_out", 0))
    if left_out:
        lines.append(f"Left out: {_people(left_out)} who asked not to be shared.")
    nameless = int(snapshot.get("nameless", 0))
    if nameless:
        lines.append(f"Left out: {_people(nameless)} whose name I don't know yet.")
    lines.append("Anyone missing can say “count me in” to be added.")
    lines.append(
        "Each is sent under a random id of ours (never their chat account), with the name "
        "above; an e-mail address only where this workspace shares it."
    )
    request = ApprovalRequest(
        approval_id=approval_id,
        title=f"Share {_people(len(members))} with the matching service for “{snapshot['title']}”?",
        subject=f"{_people(len(members))} for “{snapshot['title']}”",
        lines=tuple(lines),
        requester=requester,
        confirm=Button("Share", f"evshare.go:{approval_id}", "primary"),
        cancel=Button("Don't share", f"evshare.no:{approval_id}", "danger"),
        status=status,
        verb="share",
        until="Nobody is shared until you press Share.",
    )
    return Reply(approval=request, key=approval_key(approval_id), mention=requester)


def _people(n: int) -> str:
    return "1 person" if n == 1 else f"{n} people"


@tool(partner="events", offered=writes_here)
async def import_attendees(ctx: ToolContext) -> ToolOutcome:
    """Add this chat's members to its event as attendees ("add everyone here"). Only the
    event's organiser may; members who said "don't share me" are left out. Posts the list of
    who would be shared for the organiser to approve: nobody is shared until they press
    Share. Never list the members yourself."""
    found = await here(ctx)
    if found is None:
        return tool_error(OFF)
    event = found.event
    if event is None:
        return tool_error(NO_EVENT)
    if not await organises(ctx, found.access, event):
        return ToolOutcome(
            for_model={"status": "refused", "note": "Told the user privately; say no more."},
            replies=(ctx.privately(ONLY_ORGANISER),),
        )
    if not await found.access.can_write(ctx.address):
        return tool_error(READ_ONLY)
    if ctx.deps.people is None:
        return tool_error("I can't tell who is in this chat here.")
    listed = await roster(ctx, event)
    if not listed.members:
        return tool_error(
            "There's nobody I could add: I know of members who have written here, and none "
            "can be shared right now.",
            hint="Tell the user members need to say something in the chat first.",
        )
    seal_id, sealed = seal(ctx.deps.people.cipher, listed.members)
    snapshot = {
        "chat_event_id": event.id,
        "event_id": event.event_id,
        "title": event.title,
        "seal_id": seal_id,
        "sealed": sealed,
        "opted_out": str(listed.opted_out),
        "nameless": str(listed.nameless),
    }
    approval = await open_confirmation(ctx, KIND, snapshot)
    return ToolOutcome(
        for_model={
            "status": "awaiting_confirmation",
            "count": len(listed.members),
            "note": "The list is shown to the organiser; nobody is shared until they press "
            "Share. Don't repeat names.",
        },
        replies=(
            confirmation(approval.id, snapshot, listed.members, ctx.sender.user_id, "pending"),
        ),
    )


async def _go(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    access = ctx.deps.events
    key = uuid.uuid4().hex
    token = access.webhook_token(key) if access is not None else None
    async with ctx.deps.db.session() as session:
        approval = await decide_once(session, ctx, approval_id, "granted", kind=KIND)
        if approval is not None:
            snapshot = approval.snapshot[KIND]
            job = await start_job(
                session,
                IMPORT,
                status=ImportStatus.SENDING,
                address=ctx.address,
                conversation_id=ctx.conversation_id,
                requested_by=ctx.sender.user_id,
                payload={**snapshot, "approval_id": approval.id},
                idempotency_key=key,
                webhook_token_hash=token_hash(token) if token else None,
            )
            await repositories.link_approval(session, approval_id=approval.id, action_id=job.id)
    if approval is None:
        return await _why_not(ctx, approval_id)
    ctx.deps.jobs.ring()
    snapshot = approval.snapshot[KIND]
    members = _members(ctx, snapshot)
    return (confirmation(approval.id, snapshot, members, approval.requested_by, "granted"),)


async def _no(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    async with ctx.deps.db.session() as session:
        approval = await decide_once(session, ctx, approval_id, "rejected", kind=KIND)
    if approval is None:
        return await _why_not(ctx, approval_id)
    snapshot = approval.snapshot[KIND]
    members = _members(ctx, snapshot)
    card = confirmation(approval.id, snapshot, members, approval.requested_by, "rejected")
    return (card, Reply(text="OK, nobody was shared."))


async def _why_not(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    async with ctx.deps.db.session(read_only=True) as session:
        approval: Approval | None = await repositories.get_approval(
            session, approval_id=approval_id, workspace_id=ctx.address.workspace_id
        )
    if approval is None or KIND not in approval.snapshot:
        return (BUTTON_EXPIRED,)
    if approval.status == "granted":
        return (ctx.privately("These members were already shared."),)
    if approval.status == "rejected":
        return (ctx.privately("This was already declined: nobody was shared."),)
    if approval.requested_by != ctx.sender.user_id:
        return (ctx.privately("Only the event's organiser can approve sharing the members."),)
    return (ctx.privately("This approval has expired; ask me again to add everyone."),)


@tool(partner="events")
async def event_sharing(ctx: ToolContext, share: bool) -> ToolOutcome:
    """The asking member's own say about being shared with the Events matching service for
    this chat's event: share=false for "don't share me" or "take me out of the event",
    share=true for "share me again". Anyone may say it, for themselves only."""
    found = await here(ctx)
    if found is None:
        return tool_error(OFF)
    async with ctx.deps.db.session() as session:
        await chat_events.set_member_sharing(
            session,
            platform=ctx.address.platform,
            workspace_id=ctx.address.workspace_id,
            chat_id=ctx.address.chat_id,
            user_id=ctx.sender.user_id,
            opted_out=not share,
        )
        rows = await chat_events.member_rows(
            session,
            platform=ctx.address.platform,
            workspace_id=ctx.address.workspace_id,
            chat_id=ctx.address.chat_id,
        )
    mine = rows.get(ctx.sender.user_id)
    if share:
        text = (
            "OK — you'll be included the next time the organiser adds everyone here."
            if mine is None or mine.shared_at is None
            else "OK — you're back in: I'll show you your introductions again."
        )
    elif mine is not None and mine.shared_at is not None:
        text = (
            "OK — you've left the event: you won't be added again, I won't introduce you to "
            "anyone here, and nobody gets you as a match from me. The matching service keeps "
            "the name it already has; the organiser can ask it to delete you."
        )
    else:
        text = "OK — I won't share you with the matching service for this chat's event."
    return ToolOutcome(
        for_model={"status": "done", "note": "Told the user privately; say no more."},
        replies=(ctx.privately(text),),
    )


def register_sharing_buttons(router: ButtonRouter) -> None:
    router.register("evshare.go", _go)
    router.register("evshare.no", _no)
