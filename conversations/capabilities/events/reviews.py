"""`review_queue`: open identity reviews sent to the organiser privately, each with Accept /
Reject / Distinct / Merge, decided once.

A press first claims the review's decision with one conditional update (a double click, or a
second organiser, finds it claimed and hears who resolved it); only the winner tells the
partner. If the partner refuses, the claim is given back so it can be decided again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from conversations.capabilities.events.access import EventsAccess
from conversations.capabilities.events.chat import here, organises
from conversations.capabilities.events.matches import names_of
from conversations.capabilities.events.wording import NO_EVENT, ONLY_ORGANISER, events_failure
from conversations.replies import BUTTON_EXPIRED, Button, Reply
from conversations.tools.base import ToolOutcome, tool, tool_error
from conversations.tools.context import ToolContext
from conversations.types import ConversationAddress, Sender
from integrations.errors import PartnerError
from integrations.events.models import MergeRequest, ReviewItem
from integrations.events.wire import ReviewNotFound
from storage.models import ChatEvent, ChatEventReview
from storage.repositories import chat_events

if TYPE_CHECKING:
    from conversations.buttons import ButtonRouter

DECISIONS = {
    "accept": "accepted",
    "reject": "rejected",
    "distinct": "marked as two different people",
    "merge": "merged into one",
}
REASON = "Decided by the event's organiser in the chat."


def _buttons(review_id: str) -> tuple[Button, ...]:
    return (
        Button("Accept", f"evrev.accept:{review_id}", "primary"),
        Button("Reject", f"evrev.reject:{review_id}"),
        Button("Distinct", f"evrev.distinct:{review_id}"),
        Button("Merge", f"evrev.merge:{review_id}", "danger"),
    )


def _candidate(item: ReviewItem) -> str:
    extra = item.model_extra or {}
    return str(extra.get("candidate_partner_id") or "")


@tool(partner="events")
async def review_queue(ctx: ToolContext) -> ToolOutcome:
    """Open identity reviews of this chat's event (two attendees who may be one person),
    sent to the organiser privately with Accept / Reject / Distinct / Merge buttons. Only
    the organiser may see and resolve them."""
    found = await here(ctx)
    if found is None:
        return tool_error("Events matching isn't set up here.")
    event = found.event
    if event is None:
        return tool_error(NO_EVENT)
    if not await organises(ctx, found.access, event):
        return ToolOutcome(
            for_model={"status": "refused", "note": "Told the user privately; say no more."},
            replies=(ctx.privately(ONLY_ORGANISER),),
        )
    client, event_id = found.client, event.event_id
    try:
        items = await client.list_all(lambda cursor: client.review_queue(event_id, cursor=cursor))
    except PartnerError as error:
        return ToolOutcome(
            for_model={"status": "failed", "note": "Told the user privately; say no more."},
            replies=(ctx.privately(events_failure(error)),),
        )
    pairs = [(i.review_id, i.partner_id or "", _candidate(i)) for i in items if i.partner_id]
    names, _ = await names_of(ctx, event, [pid for _, a, b in pairs for pid in (a, b)])
    replies: list[Reply] = []
    for review_id, source, target in pairs:
        async with ctx.deps.db.session() as session:
            await chat_events.save_review(
                session,
                review_id=review_id,
                chat_event_id=event.id,
                source_id=source,
                target_id=target,
            )
        first, second = names.get(source, "A member"), names.get(target, "another member")
        text = (
            f"Identity review for “{event.title}”: {first} may be the same person as "
            f"{second}. Accept or Reject the match the service suggests, mark them Distinct, "
            f"or Merge {first} into {second}."
        )
        replies.append(Reply(text=text, buttons=_buttons(review_id), private_to=ctx.sender.user_id))
    if not replies:
        replies.append(ctx.privately(f"No open identity reviews for “{event.title}”."))
    return ToolOutcome(
        for_model={
            "status": "sent_privately",
            "count": len(pairs),
            "note": "Sent to the organiser privately; say nothing about them in the chat.",
        },
        replies=tuple(replies),
    )


async def _who(ctx: ToolContext, user_id: str, where: ConversationAddress) -> str:
    if user_id == ctx.sender.user_id:
        return "you"
    if ctx.deps.people is not None:
        person = await ctx.deps.people.lookup(where, Sender(user_id))
        name = person.profile.get("display_name")
        if name:
            return str(name)
    return "another organiser"


async def _already(ctx: ToolContext, row: ChatEventReview, event: ChatEvent) -> tuple[Reply, ...]:
    who = await _who(ctx, row.decided_by or "", address_of(event))
    said = DECISIONS.get(row.decision or "", row.decision or "resolved")
    return (ctx.privately(f"This review was already resolved by {who} ({said})."),)


def _decide(decision: str) -> Callable[[ToolContext, str], Awaitable[tuple[Reply, ...]]]:
    async def press(ctx: ToolContext, review_id: str) -> tuple[Reply, ...]:
        access = ctx.deps.events
        async with ctx.deps.db.session(read_only=True) as session:
            row = await chat_events.get_review(session, review_id=review_id)
            event = (
                await chat_events.get_chat_event_by_id(
                    session, chat_event_id=row.chat_event_id, platform=ctx.address.platform
                )
                if row is not None
                else None
            )
        if row is None or event is None or access is None:
            return (BUTTON_EXPIRED,)
        if not await may_resolve(ctx, access, event):
            return (ctx.privately(ONLY_ORGANISER),)
        if row.decision is not None:
            return await _already(ctx, row, event)
        async with ctx.deps.db.session() as session:
            won = await chat_events.decide_review(
                session, review_id=review_id, decision=decision, decided_by=ctx.sender.user_id
            )
            if won is None:
                row = await chat_events.get_review(session, review_id=review_id) or row
        if won is None:
            return await _already(ctx, row, event)
        return await _tell_partner(ctx, row, decision, address_of(event))

    return press


async def may_resolve(ctx: ToolContext, access: EventsAccess, event: ChatEvent) -> bool:
    """The organiser, wherever they press (a private chat too); an admin only within the
    event's own workspace."""
    if ctx.sender.user_id == event.organiser:
        return True
    if ctx.address.workspace_id != event.workspace_id:
        return False
    return await ctx.deps.admins.is_admin(address_of(event), ctx.sender.user_id)


def address_of(event: ChatEvent) -> ConversationAddress:
    return ConversationAddress(event.platform, event.workspace_id, event.chat_id, event.thread_id)


async def _tell_partner(
    ctx: ToolContext, row: ChatEventReview, decision: str, where: ConversationAddress
) -> tuple[Reply, ...]:
    """Tell the partner, with the event's own workspace's key."""
    access = ctx.deps.events
    client = await access.client(where) if access is not None else None
    if client is None:
        return await _give_back(ctx, row, "Events matching is no longer set up here.")
    try:
        if decision == "merge":
            merge = MergeRequest(
                source_kind="attendee",
                source_partner_id=row.source_id,
                target_kind="attendee",
                target_partner_id=row.target_id,
                reason=REASON,
            )
            await client.merge_review(row.review_id, merge)
        elif decision == "accept":
            await client.resolve_review(row.review_id, "accept", reason=REASON)
        elif decision == "reject":
            await client.resolve_review(row.review_id, "reject", reason=REASON)
        else:
            await client.resolve_review(row.review_id, "distinct", reason=REASON)
    except ReviewNotFound:
        return (ctx.privately("This review was already resolved at the matching service."),)
    except PartnerError as error:
        return await _give_back(ctx, row, events_failure(error))
    return (ctx.privately(f"Done: the review was {DECISIONS[decision]}."),)


async def _give_back(ctx: ToolContext, row: ChatEventReview, reason: str) -> tuple[Reply, ...]:
    async with ctx.deps.db.session() as session:
        await chat_events.undo_review_decision(
            session, review_id=row.review_id, decided_by=ctx.sender.user_id
        )
    return (ctx.privately(f"The review wasn't resolved: {reason}"),)


def register_review_buttons(router: ButtonRouter) -> None:
    for decision in DECISIONS:
        router.register(f"evrev.{decision}", _decide(decision))
