"""`create_event`: this chat becomes an event at the Events partner, once its asker confirms.

The event id is ours, chosen when the confirmation is proposed and frozen in it, so a press
retried after a crash creates nothing twice (the partner's `409 PARTNER_ID_CONFLICT` for our
own id means it is already there). The chat → event link is a `chat_event` row.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from conversations.booking.messages import approval_key
from conversations.capabilities.events.chat import Here, event_of, here, writes_here
from conversations.capabilities.events.wording import READ_ONLY, events_failure
from conversations.capabilities.onegent.fields import FieldProblem, read_date, today_in
from conversations.cards import clip
from conversations.decisions import decide_once, open_confirmation
from conversations.replies import BUTTON_EXPIRED, ApprovalRequest, Button, Reply
from conversations.tools.base import ToolOutcome, tool, tool_error
from conversations.tools.context import ToolContext
from integrations.errors import PartnerError
from integrations.events.models import EventContextUpdate, EventCreate
from integrations.events.wire import PartnerIdConflict
from storage import repositories
from storage.models import Approval
from storage.repositories import chat_events

if TYPE_CHECKING:
    from conversations.buttons import ButtonRouter

log = logging.getLogger(__name__)

KIND = "event"
OFF = "Events matching isn't set up here."
OBJECTIVES = "Useful introductions among the members of this chat."


async def person_zone(ctx: ToolContext) -> str:
    """The asker's own time zone where their platform says it, else the workspace's."""
    if ctx.deps.people is not None:
        person = await ctx.deps.people.lookup(ctx.address, ctx.sender)
        zone = person.profile.get("timezone", "")
        if zone:
            return zone
    return ctx.deps.booking.timezone


def _when(draft: dict[str, Any]) -> str:
    start, end = draft.get("start_date"), draft.get("end_date")
    if not start:
        return "Dates: not set"
    return f"When: {start}" + (f" to {end}" if end and end != start else "")


def confirmation(approval_id: str, draft: dict[str, Any], requester: str, status: str) -> Reply:
    lines = [_when(draft), f"Time zone: {draft['timezone']}"]
    if draft.get("description"):
        lines.append(f"About: {draft['description']}")
    lines.append(
        "Nobody is shared yet: adding the members is a separate step, which you approve "
        "with the list of names in front of you."
    )
    request = ApprovalRequest(
        approval_id=approval_id,
        title=f"Make this chat an event: {draft['title']}?",
        subject=draft["title"],
        lines=tuple(lines),
        requester=requester,
        confirm=Button("Create event", f"evcreate.go:{approval_id}", "primary"),
        cancel=Button("Cancel", f"evcreate.no:{approval_id}", "danger"),
        status=status,
        verb="create the event",
        until="Nothing is created until you press Create event.",
    )
    return Reply(approval=request, key=approval_key(approval_id), mention=requester)


@tool(partner="events", offered=writes_here)
async def create_event(
    ctx: ToolContext,
    title: Annotated[str, Field(min_length=1, max_length=200)],
    start_date: Annotated[
        str | None, Field(max_length=40, description="as said: 'friday', '4 Dec', 2026-12-04")
    ] = None,
    end_date: Annotated[str | None, Field(max_length=40)] = None,
    description: Annotated[
        str | None, Field(max_length=1000, description="what the event is, in a sentence")
    ] = None,
) -> ToolOutcome:
    """Make this chat (channel or group) an event at the Events matching partner, so its
    members can be matched for introductions. Pass the title and the dates as the user said
    them; the time zone is the user's own. Posts a confirmation: nothing is created until the
    user presses Create event. Nobody is shared by this: adding members is import_attendees."""
    found = await here(ctx)
    if found is None:
        return tool_error(OFF)
    if found.event is not None:
        return tool_error(f"This chat is already the event “{found.event.title}”.")
    if not await found.access.can_write(ctx.address):
        return tool_error(READ_ONLY)
    zone = await person_zone(ctx)
    today = today_in(zone)
    dates: dict[str, str | None] = {}
    for name, said in (("start_date", start_date), ("end_date", end_date)):
        try:
            dates[name] = read_date(said, today=today) if said else None
        except FieldProblem as problem:
            return tool_error(f"{name}: {problem}", hint="Ask the user, or leave it out.")
    if dates["start_date"] and not dates["end_date"]:
        dates["end_date"] = dates["start_date"]
    if dates["start_date"] and dates["end_date"] and dates["end_date"] < dates["start_date"]:
        return tool_error("The event would end before it starts.", hint="Ask the user.")
    draft = {
        "event_id": f"chat-{uuid.uuid4().hex[:24]}",
        "title": " ".join(title.split()),
        "description": clip(description, 1000) if description else None,
        "timezone": zone,
        **dates,
    }
    approval = await open_confirmation(ctx, KIND, draft)
    return ToolOutcome(
        for_model={
            "status": "awaiting_confirmation",
            "note": "Nothing is created yet: only the asker can press Create event. Don't say "
            "it is created.",
        },
        replies=(confirmation(approval.id, draft, ctx.sender.user_id, "pending"),),
    )


async def _create(ctx: ToolContext, found: Here, draft: dict[str, Any]) -> str | None:
    """Create the event and its context at the partner; an error sentence, or None."""
    event = EventCreate(
        event_id=draft["event_id"],
        title=draft["title"],
        description=draft.get("description"),
        start_date=draft.get("start_date"),
        end_date=draft.get("end_date"),
        timezone=draft["timezone"],
        visibility="private",
    )
    try:
        await found.client.create_event(event)
    except PartnerIdConflict:
        log.info("event already created at the partner (a press retried)")
    except PartnerError as error:
        return events_failure(error)
    context = EventContextUpdate(
        event_details=draft.get("description") or draft["title"], objectives=OBJECTIVES
    )
    try:
        await found.client.update_context(draft["event_id"], context)
    except PartnerError as error:  # the event stands without it; matching works regardless
        log.warning("event context not saved: %s", type(error).__name__)
    return None


async def _go(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    async with ctx.deps.db.session() as session:
        approval = await decide_once(session, ctx, approval_id, "granted", kind=KIND)
    if approval is None:
        return await _why_not(ctx, approval_id)
    draft = approval.snapshot[KIND]
    card = confirmation(approval.id, draft, approval.requested_by, "granted")
    found = await here(ctx)
    if found is None:
        return (card, Reply(text=OFF))
    if found.event is not None:
        return (card, Reply(text=f"This chat is already the event “{found.event.title}”."))
    problem = await _create(ctx, found, draft)
    if problem is not None:
        return (card, Reply(text=f"The event wasn't created: {problem}"))
    async with ctx.deps.db.session() as session:
        row, _ = await chat_events.create_chat_event(
            session,
            platform=ctx.address.platform,
            workspace_id=ctx.address.workspace_id,
            chat_id=ctx.address.chat_id,
            thread_id=ctx.address.thread_id,
            event_id=draft["event_id"],
            title=draft["title"],
            organiser=approval.requested_by,
        )
    if row.event_id != draft["event_id"]:
        return (card, Reply(text=f"This chat is already the event “{row.title}”."))
    done = (
        f"✅ This chat is now the event “{row.title}” ({_when(draft).lower()}). "
        "Next, the organiser can say “add everyone here”. Anyone who'd rather not be shared "
        "with the matching service can say “don't share me”."
    )
    return (card, Reply(text=done))


async def _no(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    async with ctx.deps.db.session() as session:
        approval = await decide_once(session, ctx, approval_id, "rejected", kind=KIND)
    if approval is None:
        return await _why_not(ctx, approval_id)
    card = confirmation(approval.id, approval.snapshot[KIND], approval.requested_by, "rejected")
    return (card, Reply(text="Cancelled. No event was created."))


async def _why_not(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    async with ctx.deps.db.session(read_only=True) as session:
        approval: Approval | None = await repositories.get_approval(
            session, approval_id=approval_id, workspace_id=ctx.address.workspace_id
        )
    if approval is None or KIND not in approval.snapshot:
        return (BUTTON_EXPIRED,)
    if approval.status == "granted":
        event = await event_of(ctx, ctx.address)
        title = event.title if event is not None else approval.snapshot[KIND]["title"]
        return (ctx.privately(f"The event “{title}” was already created."),)
    if approval.status == "rejected":
        return (ctx.privately("This was already cancelled."),)
    if approval.requested_by != ctx.sender.user_id:
        return (ctx.privately("Only the person who asked can create this event."),)
    return (ctx.privately("This confirmation has expired; ask me again."),)


def register_create_buttons(router: ButtonRouter) -> None:
    router.register("evcreate.go", _go)
    router.register("evcreate.no", _no)
