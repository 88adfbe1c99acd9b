"""`my_matches`: the asking member's own introductions, with the reasons, privately.

They are answered only to the asker (Slack: an ephemeral message or their DM; Telegram: their
private chat), never in the channel, and the model is told only that they were sent — so it
cannot repeat them there. Asking for another member's matches is refused. People who left
the event are neither shown their matches nor shown to others.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from conversations.capabilities.events.chat import here
from conversations.capabilities.events.wording import NO_EVENT, events_failure
from conversations.cards import clip
from conversations.tools.base import ToolOutcome, tool, tool_error
from conversations.tools.context import ToolContext
from integrations.errors import PartnerError
from integrations.events.models import Match
from storage import repositories
from storage.models import ChatEvent
from storage.repositories import chat_events

SHOWN = 5
NOT_YOURS = "I can only show you your own introductions; each member asks for theirs."
_SELF = frozenset({"", "me", "myself", "i", "mine", "my"})


def _private(ctx: ToolContext, text: str) -> ToolOutcome:
    return ToolOutcome(
        for_model={
            "status": "sent_privately",
            "note": "The answer went to the asker privately. Say nothing about its content in "
            "the chat.",
        },
        replies=(ctx.privately(text),),
    )


async def names_of(
    ctx: ToolContext, event: ChatEvent, partner_ids: list[str]
) -> tuple[dict[str, str], set[str]]:
    """Names of the people behind these partner ids, and those who left the event."""
    people = ctx.deps.people
    async with ctx.deps.db.session(read_only=True) as session:
        found = await chat_events.people_by_partner_id(
            session,
            platform=event.platform,
            workspace_id=event.workspace_id,
            partner_ids=partner_ids,
        )
        said = await chat_events.member_rows(
            session,
            platform=event.platform,
            workspace_id=event.workspace_id,
            chat_id=event.chat_id,
        )
    names: dict[str, str] = {}
    left = {pid for pid, p in found.items() if said.get(p.user_id) and said[p.user_id].opted_out}
    for pid, person in found.items():
        profile = (
            repositories.read_person_profile(person, cipher=people.cipher) if people else None
        ) or {}
        names[pid] = str(profile.get("display_name") or person.display_name or "A member")
    return names, left


def _reasons(match: Match) -> list[str]:
    extra = match.model_extra or {}
    given = extra.get("reasons")
    reasons = [clip(str(r), 160) or "" for r in given[:3]] if isinstance(given, list) else []
    goal = match.sub_scores.goal_complementarity
    if goal:
        reasons.append(f"goal fit {goal:.0%}")
    return [r for r in reasons if r]


def _line(n: int, name: str, match: Match) -> str:
    why = "; ".join(_reasons(match))
    return f"{n}. {name} — {match.final_score:.0%} match" + (f": {why}" if why else "")


@tool(partner="events")
async def my_matches(
    ctx: ToolContext,
    member: Annotated[
        str | None,
        Field(
            max_length=80,
            description="only when the user names someone else; leave out for their own",
        ),
    ] = None,
) -> ToolOutcome:
    """The asking member's own top introductions for this chat's event ("who should I
    meet?"), with the reasons, sent to them privately (never in the channel). Anyone in the
    chat may ask, for themselves only: another member's matches are refused."""
    if member is not None and member.strip().lower() not in _SELF:
        return _private(ctx, NOT_YOURS)
    found = await here(ctx)
    if found is None:
        return tool_error("Events matching isn't set up here.")
    event = found.event
    if event is None:
        return _private(ctx, NO_EVENT)
    if ctx.deps.people is None:
        return tool_error("I can't tell who you are here.")
    person = await ctx.deps.people.lookup(ctx.address, ctx.sender)
    async with ctx.deps.db.session(read_only=True) as session:
        said = await chat_events.member_rows(
            session,
            platform=event.platform,
            workspace_id=event.workspace_id,
            chat_id=event.chat_id,
        )
    mine = said.get(ctx.sender.user_id)
    if mine is not None and mine.opted_out:
        return _private(
            ctx,
            "You left this event, so I have no introductions for you. Say "
            "“share me again” to come back.",
        )
    try:
        page = await found.client.attendee_matches(
            event.event_id, person.external_user_id, limit=SHOWN * 2
        )
    except PartnerError as error:
        return _private(ctx, events_failure(error))
    ids = [m.target_attendee_id for m in page.items]
    names, left = await names_of(ctx, event, ids)
    shown = [m for m in page.items if m.target_attendee_id in names]
    shown = [m for m in shown if m.target_attendee_id not in left][:SHOWN]
    if not shown:
        return _private(ctx, f"No introductions for you in “{event.title}” yet.")
    lines = [f"Your introductions for “{event.title}” (only you see this):"]
    lines += [_line(n, names[m.target_attendee_id], m) for n, m in enumerate(shown, start=1)]
    return _private(ctx, "\n".join(lines))
