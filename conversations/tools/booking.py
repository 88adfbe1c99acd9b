"""Booking tickets: the `book_activity` tool and the Book / Confirm / Cancel / Retry buttons.

The tool only ever proposes: it posts a confirmation that the requester alone can grant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field

from conversations.booking.approvals import on_approve, on_reject, propose
from conversations.booking.quote import Quote, QuoteProblem, TicketRequest, quote
from conversations.capabilities.outgoing.booking_choices import choose_and_propose
from conversations.replies import BUTTON_EXPIRED, Reply
from conversations.tools.activities import NOT_CONFIGURED, ActivityId
from conversations.tools.base import ToolOutcome, tool, tool_error
from conversations.tools.context import ToolContext
from storage import repositories

if TYPE_CHECKING:
    from conversations.buttons import ButtonRouter

FAILED, RETRIED = "failed", "retried"


class TicketChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=120, description="ticket type name")]
    quantity: Annotated[int, Field(ge=1, le=20)]


@tool(partner="outgoing")
async def book_activity(
    ctx: ToolContext,
    activity_id: ActivityId | None = None,
    number: Annotated[int | None, Field(ge=1, le=250, description="card number")] = None,
    session_date: Annotated[str | None, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
    session_time: Annotated[str | None, Field(pattern=r"^\d{2}:\d{2}$")] = None,
    tickets: Annotated[list[TicketChoice], Field(max_length=5)] | None = None,
) -> ToolOutcome:
    """Propose booking tickets. Posts a confirmation with the exact tickets and total; nothing
    is booked until the requesting user presses Confirm. Give the activity (id or card number)
    and what the user said of session date/time, ticket type and quantity; anything missing
    is asked with buttons by this tool itself."""
    if activity_id is None:
        card = ctx.state.card(number) if number is not None else None
        if card is None or card.activity_id is None:
            return tool_error("Which activity?", hint="Use an activity_id or a card number.")
        activity_id = card.activity_id
    if not tickets or len(tickets) == 1:
        # One ticket type (or none yet): what is missing is asked with buttons.
        first = tickets[0] if tickets else None
        return await choose_and_propose(
            ctx,
            activity_id,
            session_date=session_date,
            session_time=session_time,
            ticket=first.name if first else None,
            quantity=first.quantity if first else None,
        )
    session = await ctx.deps.outgoing.session(ctx.address, ctx.sender)
    if session is None:
        return NOT_CONFIGURED
    activity = await session.client.get_activity(activity_id, user=session.user)
    try:
        snapshot = quote(
            activity,
            session_date=session_date,
            session_time=session_time,
            tickets=[TicketRequest(t.name, t.quantity) for t in tickets or []],
        )
    except QuoteProblem as problem:
        return tool_error(str(problem), hint="Ask the user to choose; then call again.")
    return await propose(ctx, snapshot)


async def _book_button(ctx: ToolContext, activity_id: str) -> tuple[Reply, ...]:
    """Book on a card: straight to a confirmation when the choice is obvious, else a question
    with the options as buttons."""
    return (await choose_and_propose(ctx, activity_id)).as_replies()


async def _retry_button(ctx: ToolContext, action_id: str) -> tuple[Reply, ...]:
    """Retry a failed booking: a fresh confirmation (and later a fresh key), once."""
    async with ctx.deps.db.session() as session:
        action = await repositories.get_action(
            session, action_id=action_id, workspace_id=ctx.address.workspace_id
        )
        if action is None or action.kind != "booking":
            return (BUTTON_EXPIRED,)
        if action.requested_by != ctx.sender.user_id:
            return (ctx.privately("Only the person who asked can retry this booking."),)
        moved = await repositories.transition_action(
            session, action_id=action_id, from_statuses=(FAILED,), to_status=RETRIED
        )
    if not moved:
        return (ctx.privately("This booking is already being retried."),)
    return (await propose(ctx, Quote.from_json(action.payload["quote"]))).as_replies()


def register_booking_buttons(router: ButtonRouter) -> None:
    router.register("book", _book_button)
    router.register("approve", on_approve)
    router.register("reject", on_reject)
    router.register("retry", _retry_button)
