"""The `ask_agency` tool: gather the trip, show what will be shared, and only the requester's
Send hands it to the agency (an enquiry, promoted to a chat session bridged into the thread).

Missing travellers, dates or budget are asked as pending questions, one at a time. Granting
the confirmation and recording the agency job are one transaction, so a granted trip is
shared, and shared once.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field

from conversations.booking.messages import approval_key
from conversations.capabilities.voyagent.job import AGENCY, AgencyStatus, open_agency_job
from conversations.capabilities.voyagent.trip import PROMPTS, Trip, TripProblem
from conversations.capabilities.voyagent.wording import NOTHING_SHARED, SHARED_NOTE
from conversations.cards import clip
from conversations.decisions import decide_once, open_confirmation
from conversations.jobs import start_job
from conversations.questions import AnswerForm, Ask, QuestionRouter, ask
from conversations.replies import BUTTON_EXPIRED, ApprovalRequest, Button, Reply
from conversations.tools.base import ToolOutcome, tool, tool_error
from conversations.tools.context import ToolContext
from storage import repositories
from storage.models import PendingQuestion

TRIP_PURPOSE = "agency.trip"
KIND = "agency_trip"


def confirmation(approval_id: str, trip: Trip, requester: str, status: str) -> Reply:
    request = ApprovalRequest(
        approval_id=approval_id,
        title=f"Send this trip to the travel agency? {trip.title()}",
        subject=trip.title(),
        lines=(*trip.lines(), SHARED_NOTE),
        requester=requester,
        confirm=Button("Send to the agency", f"agency.go:{approval_id}", "primary"),
        cancel=Button("Cancel", f"agency.no:{approval_id}", "danger"),
        status=status,
        verb="send to the agency",
        until="Nothing is shared until you press Send to the agency.",
    )
    return Reply(approval=request, key=approval_key(approval_id), mention=requester)


async def _ask(ctx: ToolContext, trip: Trip, name: str, problem: str = "") -> Reply:
    prompt = f"{problem} {PROMPTS[name]}".strip() if problem else f"{trip.title()}\n{PROMPTS[name]}"
    spec = Ask(
        purpose=TRIP_PURPOSE,
        prompt=prompt,
        form=AnswerForm.TEXT,
        if_unanswered=NOTHING_SHARED,
        context={"trip": trip.to_json(), "field": name},
    )
    return await ask(ctx, spec)


async def advance(ctx: ToolContext, trip: Trip) -> tuple[Reply, ...]:
    """The next question, or the confirmation once nothing is missing."""
    missing = trip.missing()
    if missing:
        return (await _ask(ctx, trip, missing[0]),)
    approval = await open_confirmation(ctx, KIND, trip.to_json())
    return (confirmation(approval.id, trip, ctx.sender.user_id, "pending"),)


def _iso(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as error:
        raise TripProblem(f"{what} must be a date as YYYY-MM-DD") from error


@tool(partner="voyagent")
async def ask_agency(
    ctx: ToolContext,
    destination: Annotated[str, Field(min_length=2, max_length=120)],
    origin: Annotated[
        str | None, Field(max_length=120, description="where they leave from")
    ] = None,
    when: Annotated[
        str | None, Field(max_length=200, description="as said: '5 days in May', 'mid-June'")
    ] = None,
    depart_date: Annotated[str | None, Field(description="YYYY-MM-DD, only if certain")] = None,
    return_date: Annotated[str | None, Field(description="YYYY-MM-DD, only if certain")] = None,
    travellers: Annotated[int | None, Field(ge=1, le=50)] = None,
    budget: Annotated[str | None, Field(max_length=80, description="as said: '€3,000'")] = None,
    needs: Annotated[
        str | None,
        Field(max_length=2000, description="what the trip needs: cities, a group, visas, style"),
    ] = None,
) -> ToolOutcome:
    """Hand a trip that needs a human travel agency (several cities, a group, visas, a
    package) to the workspace's travel agency, whose own agent then talks with the user in
    this thread. Pass only what the user said; missing travellers, dates or budget are asked
    by this tool itself — never guess them. Posts a confirmation of what will be shared;
    nothing is shared until the requesting user presses Send to the agency."""
    access = ctx.deps.voyagent
    if access is None or await access.agency(ctx.address) is None:
        return tool_error("The travel agency is not set up here.")
    async with ctx.deps.db.session(read_only=True) as session:
        if await open_agency_job(session, conversation_id=ctx.conversation_id) is not None:
            return tool_error(
                "The agency is already answering in this conversation.",
                hint="Tell the user their messages here go to the agency until they say done.",
            )
    try:
        trip = Trip(
            destination=clip(destination.strip(), 120) or destination,
            origin=clip(origin, 120),
            when=clip(when, 200),
            depart_date=_iso(depart_date, "depart_date"),
            return_date=_iso(return_date, "return_date"),
            travellers=travellers,
            budget=clip(budget, 80),
            needs=clip(needs, 2000),
        )
    except TripProblem as problem:
        return tool_error(str(problem), hint="Leave the date out, or ask the user.")
    replies = await advance(ctx, trip)
    proposed = any(r.approval is not None for r in replies)
    return ToolOutcome(
        for_model={
            "status": "awaiting_confirmation" if proposed else "asking_the_user",
            "note": "Nothing is shared with the agency yet. "
            + (
                "Only the requester can send it, by pressing Send to the agency."
                if proposed
                else "A question was posted; its answer continues by itself. Do not ask it again."
            ),
        },
        replies=replies,
    )


async def _on_trip_answer(
    ctx: ToolContext, question: PendingQuestion, value: str | None
) -> tuple[Reply, ...]:
    if value is None:
        return (Reply(text=f"All right, {NOTHING_SHARED}."),)
    trip = Trip.from_json(dict(question.context["trip"]))
    name = str(question.context["field"])
    try:
        trip = trip.with_answer(name, value)
    except TripProblem as problem:
        return (await _ask(ctx, trip, name, str(problem)),)
    return await advance(ctx, trip)


async def send_trip(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    """Send to the agency: grant once and record the agency job in the same transaction."""
    async with ctx.deps.db.session() as session:
        approval = await decide_once(session, ctx, approval_id, "granted", kind=KIND)
        if approval is not None:
            job = await start_job(
                session,
                AGENCY,
                status=AgencyStatus.SHARING,
                address=ctx.address,
                conversation_id=ctx.conversation_id,
                requested_by=ctx.sender.user_id,
                payload={
                    "trip": dict(approval.snapshot[KIND]),
                    "approval_id": approval.id,
                    "granted_by": ctx.origin,
                    "customer_name": ctx.sender.display_name,
                },
            )
            await repositories.link_approval(session, approval_id=approval.id, action_id=job.id)
    if approval is None:
        return await _why_not(ctx, approval_id)
    ctx.deps.jobs.ring()
    trip = Trip.from_json(dict(approval.snapshot[KIND]))
    return (confirmation(approval.id, trip, approval.requested_by, "granted"),)


async def drop_trip(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    async with ctx.deps.db.session() as session:
        approval = await decide_once(session, ctx, approval_id, "rejected", kind=KIND)
    if approval is None:
        return await _why_not(ctx, approval_id)
    trip = Trip.from_json(dict(approval.snapshot[KIND]))
    return (
        confirmation(approval.id, trip, approval.requested_by, "rejected"),
        Reply(text=f"Cancelled: {NOTHING_SHARED}."),
    )


async def _why_not(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    async with ctx.deps.db.session(read_only=True) as session:
        approval = await repositories.get_approval(
            session, approval_id=approval_id, workspace_id=ctx.address.workspace_id
        )
    if approval is None or KIND not in approval.snapshot:
        return (BUTTON_EXPIRED,)
    if approval.requested_by != ctx.sender.user_id:
        return (ctx.privately("Only the person who asked can send or cancel this trip."),)
    if approval.status == "granted":
        if await _granted_by_this_press(ctx, approval.action_id):
            trip = Trip.from_json(dict(approval.snapshot[KIND]))
            return (confirmation(approval.id, trip, approval.requested_by, "granted"),)
        return (ctx.privately("This trip was already sent to the agency."),)
    if approval.status == "rejected":
        return (ctx.privately("This trip was already cancelled."),)
    return (ctx.privately("This confirmation has expired; ask me again to contact the agency."),)


async def _granted_by_this_press(ctx: ToolContext, job_id: str | None) -> bool:
    """Whether this very press granted it before its process died (the press is run again)."""
    if not ctx.origin or job_id is None:
        return False
    async with ctx.deps.db.session(read_only=True) as session:
        job = await repositories.get_action(
            session, action_id=job_id, workspace_id=ctx.address.workspace_id
        )
    return job is not None and job.payload.get("granted_by") == ctx.origin


def register_trip_questions(router: QuestionRouter) -> None:
    router.register(TRIP_PURPOSE, _on_trip_answer)
