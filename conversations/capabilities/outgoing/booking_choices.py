"""Choosing what to book: session, ticket type and quantity as questions with buttons.

Book on a card, or `book_activity` without every detail, no longer dead-ends with "which
session?": each missing choice becomes a pending question (buttons, or the option's number
typed in the thread), asked of the person booking, and the last answer leads to the
confirmation. Unanswered in time, nothing is booked.
"""

from __future__ import annotations

from typing import Any

from conversations.booking.approvals import propose
from conversations.booking.quote import (
    MAX_TICKETS_PER_LINE,
    Quote,
    QuoteProblem,
    TicketRequest,
    quote,
    session_label,
)
from conversations.cards import clip
from conversations.money import from_major
from conversations.money import price as price_text
from conversations.questions import (
    AnswerForm,
    AnswerHandler,
    Ask,
    Choice,
    QuestionRouter,
    ask,
)
from conversations.replies import Reply
from conversations.tools.activities import NOT_CONFIGURED, reader
from conversations.tools.base import ToolOutcome, tool_error
from conversations.tools.context import ToolContext
from integrations.outgoing.models import PartnerSessionTicket
from storage import repositories
from storage.models import PendingQuestion

NOTHING_BOOKED = "nothing is booked"
MAX_QUANTITY_BUTTONS = 6


async def choose_and_propose(
    ctx: ToolContext,
    activity_id: str,
    *,
    session_date: str | None = None,
    session_time: str | None = None,
    ticket: str | None = None,
    quantity: int | None = None,
) -> ToolOutcome:
    """Ask for the first missing choice, or post the confirmation once nothing is missing."""
    outgoing = await ctx.deps.outgoing.session(ctx.address, ctx.sender)
    if outgoing is None:
        return NOT_CONFIGURED
    activity = await outgoing.client.get_activity(activity_id, user=outgoing.user)
    price = activity.ticket_price
    if not activity.is_bookable or price is None:
        return tool_error(
            f"“{activity.name}” is not bookable here; tickets are sold by the venue directly.",
            hint="Tell the user; offer the venue's own page if there is one.",
        )
    sessions = [
        s
        for s in price.sessions
        if s.tickets
        and (session_date is None or s.date == session_date)
        and (session_time is None or s.time == session_time)
    ]
    if not sessions:
        return tool_error(f"“{activity.name}” has no tickets on sale then.", hint="Ask again.")
    context = {"activity_id": activity_id}
    if len(sessions) > 1:
        options = tuple(Choice(f"{s.date}|{s.time}", session_label(s)) for s in sessions[:10])
        return await _asked(
            ctx,
            Ask(
                "book.session",
                f"Which session of {activity.name}?",
                AnswerForm.CHOICE,
                NOTHING_BOOKED,
                options,
                context,
            ),
        )
    session = sessions[0]
    context |= {"date": session.date or "", "time": session.time or ""}
    available = [t for t in session.tickets if t.available]
    if not available:
        return tool_error(f"Tickets for {activity.name} are sold out then.", hint="Tell the user.")
    if ticket is None:
        if len(available) > 1:
            locale, _ = await reader(ctx)
            options = tuple(
                Choice(t.name, f"{t.name} · {_ticket_price(t, price.currency, locale)}")
                for t in available
            )
            return await _asked(
                ctx,
                Ask(
                    "book.ticket",
                    f"Which tickets for {activity.name}, {session_label(session)}?",
                    AnswerForm.CHOICE,
                    NOTHING_BOOKED,
                    options,
                    context,
                ),
            )
        ticket = available[0].name
    chosen = next((t for t in available if t.name.lower() == ticket.lower()), None)
    if chosen is None:
        names = ", ".join(t.name for t in available)
        return tool_error(f"Which ticket type? This session has: {names}.", hint="Ask the user.")
    low = max(1, chosen.min_quantity)
    high = min(chosen.max_quantity or MAX_TICKETS_PER_LINE, MAX_TICKETS_PER_LINE)
    if quantity is None:
        if high > low:
            options = tuple(
                Choice(str(n), str(n))
                for n in range(low, min(high, low + MAX_QUANTITY_BUTTONS - 1) + 1)
            )
            return await _asked(
                ctx,
                Ask(
                    "book.quantity",
                    f"How many {chosen.name} tickets?",
                    AnswerForm.CHOICE,
                    NOTHING_BOOKED,
                    options,
                    context | {"ticket": chosen.name},
                ),
            )
        quantity = low
    try:
        snapshot = quote(
            activity,
            session_date=session.date,
            session_time=session.time,
            tickets=[TicketRequest(chosen.name, quantity)],
        )
    except QuoteProblem as problem:
        return tool_error(str(problem), hint="Ask the user to choose; then call again.")
    return await propose(ctx, snapshot)


def _ticket_price(ticket: PartnerSessionTicket, currency: str, locale: str | None) -> str:
    return price_text(from_major(0 if ticket.is_free else ticket.total), currency, locale)


async def _asked(ctx: ToolContext, spec: Ask) -> ToolOutcome:
    reply = await ask(ctx, spec)
    return ToolOutcome(
        for_model={
            "status": "asked_user",
            "question": spec.prompt,
            "options": [o.label for o in spec.options],
            "note": "The question is shown with buttons; the user's answer continues the "
            "booking by itself. Do not ask it again.",
        },
        replies=(reply,),
    )


def _continue(step: str) -> AnswerHandler:
    """What a booking choice's answer leads to: the next choice, or the confirmation."""

    async def handle(
        ctx: ToolContext, question: PendingQuestion, value: str | None
    ) -> tuple[Reply, ...]:
        if value is None:
            return ()  # unanswered or cancelled: nothing is booked, as the question said
        c = question.context
        chosen: dict[str, Any] = {
            "session_date": c.get("date") or None,
            "session_time": c.get("time") or None,
        }
        if step == "session":
            date, _, time = value.partition("|")
            chosen = {"session_date": date or None, "session_time": time or None}
        elif step == "ticket":
            chosen["ticket"] = value
        elif value.isdigit():
            chosen |= {"ticket": str(c["ticket"]), "quantity": int(value)}
        else:
            return ()
        return (await choose_and_propose(ctx, str(c["activity_id"]), **chosen)).as_replies()

    return handle


def needs_input(quote: Quote, reason: str | None) -> Ask:
    """Outgoing's `user_input_required`: the details go to Outgoing by its own e-mail (its
    API takes none), so the question is whether to keep following the booking here."""
    why = f" ({clip(reason, 200)})" if reason else ""
    return Ask(
        "booking.input",
        f"Outgoing needs more details from you to finish booking {quote.activity_name}{why}; "
        "they have e-mailed you how. Shall I keep following this booking and post its result "
        "here?",
        AnswerForm.YES_NO,
        "I'll keep following it",
        default_value="yes",
        ttl_s=24 * 3600,
    )


async def _on_input(
    ctx: ToolContext, question: PendingQuestion, value: str | None
) -> tuple[Reply, ...]:
    if question.action_id is None:
        return ()
    async with ctx.deps.db.session() as session:
        job = await repositories.get_action(
            session, action_id=question.action_id, workspace_id=ctx.address.workspace_id
        )
        if job is None:
            return ()
        if value == "no":
            await repositories.transition_action(
                session,
                action_id=job.id,
                from_statuses=(job.status,),
                to_status=job.status,
                next_run_at=None,
            )
            return (
                Reply(
                    text="OK, I've stopped following it. Outgoing's e-mail says how to finish "
                    "or cancel the booking."
                ),
            )
        await repositories.schedule_job(session, action_id=job.id)
    ctx.deps.jobs.ring()
    return (Reply(text="I'll keep following it and post the result here."),)


def register_booking_questions(router: QuestionRouter) -> None:
    for step in ("session", "ticket", "quantity"):
        router.register(f"book.{step}", _continue(step))
    router.register("booking.input", _on_input)
