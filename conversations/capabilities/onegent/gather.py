"""The `reserve` tool: gather what the scenario needs by questions, then propose it.

Each missing required field is one pending question (buttons where the choices are few);
its answer is read, checked and added to the draft, and the next gap is asked — then the
booking profile's gaps — until the confirmation can show exactly what will be requested.
Relative dates are read in the person's own time zone where their platform says it (Slack
does), else the workspace's (`CONCIERGE_TIMEZONE`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from conversations.booking.messages import approval_key
from conversations.capabilities.onegent import profile, travel
from conversations.capabilities.onegent.draft import Consent, Draft
from conversations.capabilities.onegent.fields import FIELDS, FieldProblem, read_date, today_in
from conversations.cards import clip
from conversations.decisions import open_confirmation
from conversations.questions import AnswerForm, Ask, QuestionRouter, ask
from conversations.replies import ApprovalRequest, Button, Reply
from conversations.tools.base import ToolOutcome, tool, tool_error
from conversations.tools.context import ToolContext
from storage import repositories
from storage.models import PendingQuestion

FIELD_PURPOSE = "reserve.field"
PROFILE_PURPOSE = "reserve.profile"
NOTHING_YET = "nothing is reserved"


def confirmation(
    approval_id: str, draft: Draft, shown: profile.BookingProfile, requester: str, status: str
) -> Reply:
    lines = [
        *draft.lines(),
        f"Under: {shown.shown()}",
        draft.consent.line(draft.scenario),
        *(
            [
                "Passport details: I ask you for them privately once you press Reserve; they "
                "go to Onegent once and are not kept."
            ]
            if draft.scenario == "flight"
            else []
        ),
        "Onegent books it in a browser and stops at the payment page: you pay yourself, "
        "with a link only you will see.",
    ]
    request = ApprovalRequest(
        approval_id=approval_id,
        title=f"Reserve: {draft.title}?",
        subject=draft.title,
        lines=tuple(lines),
        requester=requester,
        confirm=Button("Reserve", f"reserve.go:{approval_id}", "primary"),
        cancel=Button("Cancel", f"reserve.no:{approval_id}", "danger"),
        status=status,
        verb="reserve",
        until="Nothing is reserved until you press Reserve.",
    )
    return Reply(approval=request, key=approval_key(approval_id), mention=requester)


async def local_today(ctx: ToolContext) -> date:
    """Today where the person is (their platform's time zone), else the workspace's."""
    zone = ""
    if ctx.deps.people is not None:
        person = await ctx.deps.people.lookup(ctx.address, ctx.sender)
        zone = person.profile.get("timezone", "")
    return today_in(zone or ctx.deps.booking.timezone)


async def _ask_field(ctx: ToolContext, draft: Draft, name: str, problem: str = "") -> Reply:
    need = FIELDS[draft.scenario][name]
    spec = Ask(
        purpose=FIELD_PURPOSE,
        prompt=f"{problem} {need.prompt}".strip() if problem else f"{draft.title}\n{need.prompt}",
        form=need.form,
        if_unanswered=NOTHING_YET,
        options=need.choices,
        context={"draft": draft.to_json(), "field": name},
        free_text=bool(need.choices),
    )
    return await ask(ctx, spec)


async def _ask_profile(ctx: ToolContext, draft: Draft, name: str, problem: str = "") -> Reply:
    prompt = f"{profile.PROMPTS[name]} {profile.KEEPING}"
    spec = Ask(
        purpose=PROFILE_PURPOSE,
        prompt=f"{problem} {prompt}".strip(),
        form=AnswerForm.TEXT,
        if_unanswered=NOTHING_YET,
        context={"draft": draft.to_json(), "field": name},
    )
    return await ask(ctx, spec)


async def advance(ctx: ToolContext, draft: Draft) -> tuple[Reply, ...]:
    """The next question, or the confirmation once nothing is missing."""
    missing = draft.missing()
    if missing:
        return (await _ask_field(ctx, draft, missing[0]),)
    shown = await profile.load(ctx.deps, ctx.address, ctx.sender)
    gaps = shown.missing()
    if gaps:
        return (await _ask_profile(ctx, draft, gaps[0]),)
    approval = await open_confirmation(ctx, "reservation", draft.to_json())
    return (confirmation(approval.id, draft, shown, ctx.sender.user_id, "pending"),)


@tool(partner="onegent")
async def reserve(
    ctx: ToolContext,
    scenario: Literal["restaurant", "hotel", "flight", "activity"],
    restaurant_name: Annotated[str | None, Field(max_length=120)] = None,
    hotel_name: Annotated[str | None, Field(max_length=120)] = None,
    city: Annotated[str | None, Field(max_length=80)] = None,
    date: Annotated[
        str | None, Field(max_length=40, description="as said: 'tomorrow', '4 Dec', 2026-12-04")
    ] = None,
    time: Annotated[str | None, Field(max_length=20, description="as said: '7pm', '19:30'")] = None,
    covers: Annotated[int | None, Field(ge=1, le=20)] = None,
    checkin: Annotated[str | None, Field(max_length=40)] = None,
    checkout: Annotated[str | None, Field(max_length=40)] = None,
    adults: Annotated[int | None, Field(ge=1, le=10)] = None,
    origin: Annotated[str | None, Field(max_length=60, description="airport or city")] = None,
    dest: Annotated[str | None, Field(max_length=60, description="airport or city")] = None,
    passengers: Annotated[int | None, Field(ge=1, le=9)] = None,
    return_date: Annotated[str | None, Field(max_length=40)] = None,
    preferences: Annotated[
        dict[str, str | int] | None,
        Field(
            max_length=8,
            description="optional: cuisine, neighborhood, budget_per_person, star_rating, "
            "budget_max_per_night, room_preference, cabin_class, targetAirline",
        ),
    ] = None,
    allow_time_adjustment: bool = True,
    max_time_adjustment_minutes: Annotated[int, Field(ge=0, le=240)] = 90,
    max_retries: Annotated[int, Field(ge=0, le=5)] = 3,
    blocked_providers: Annotated[list[str] | None, Field(max_length=10)] = None,
) -> ToolOutcome:
    """Reserve a restaurant table, a hotel room or a flight through Onegent, which books
    in a browser and stops at the payment page. Pass only what the user said (dates and times as
    they said them); anything missing is asked in the thread by this tool itself, never
    guess it. Consent: by default a time within ±90 min is accepted when the exact one is
    taken, with up to 3 retries; change it only when the user says so. Posts a confirmation;
    nothing is reserved until the requesting user presses Reserve. For a flight, never ask
    for passport details or a date of birth yourself: after Reserve the tool asks privately."""
    if scenario == "activity":
        return tool_error(
            "Tickets for activities go through the Outgoing booking flow.",
            hint="Use search_activities and book_activity instead.",
        )
    given = {
        "restaurant_name": restaurant_name,
        "hotel_name": hotel_name,
        "city": city,
        "date": date,
        "time": time,
        "covers": covers,
        "checkin": checkin,
        "checkout": checkout,
        "adults": adults,
        "origin": origin,
        "dest": dest,
        "passengers": passengers,
    }
    today = await local_today(ctx)
    params: dict[str, object] = {}
    for name, need in FIELDS[scenario].items():
        value = given.get(name)
        if value is None:
            continue
        try:
            params[name] = need.read(str(value), today)
        except FieldProblem as problem:
            return tool_error(f"{name}: {problem}", hint="Ask the user, or leave it out.")
    if scenario == "flight" and return_date:
        try:
            params["return_date"] = read_date(return_date, today=today)
        except FieldProblem as problem:
            return tool_error(f"return_date: {problem}", hint="Ask the user, or leave it out.")
    draft = Draft(
        scenario=scenario,
        params=params,
        preferences={k: clip(str(v), 80) or "" for k, v in (preferences or {}).items()},
        consent=Consent(
            allow_time_adjustment=allow_time_adjustment,
            max_time_adjustment_minutes=max_time_adjustment_minutes,
            max_retries=max_retries,
            blocked_providers=tuple(blocked_providers or ()),
        ),
    )
    replies = await advance(ctx, draft)
    proposed = any(r.approval is not None for r in replies)
    return ToolOutcome(
        for_model={
            "status": "awaiting_confirmation" if proposed else "asking_the_user",
            "note": "Nothing is reserved yet. "
            + (
                "Only the requester can confirm, by pressing Reserve."
                if proposed
                else "A question was posted; its answer continues the reservation by itself. "
                "Do not ask it again."
            ),
        },
        replies=replies,
    )


async def _on_field(
    ctx: ToolContext, question: PendingQuestion, value: str | None
) -> tuple[Reply, ...]:
    if value is None:
        return (Reply(text="All right, nothing is reserved."),)
    draft = Draft.from_json(question.context["draft"])
    name = str(question.context["field"])
    need = FIELDS[draft.scenario][name]
    try:
        read = need.read(value, await local_today(ctx))
    except FieldProblem as problem:
        return (await _ask_field(ctx, draft, name, str(problem)),)
    return await advance(ctx, draft.with_field(name, read))


async def _on_profile(
    ctx: ToolContext, question: PendingQuestion, value: str | None
) -> tuple[Reply, ...]:
    if value is None:
        return (Reply(text="All right, nothing is reserved."),)
    draft = Draft.from_json(question.context["draft"])
    name = str(question.context["field"])
    try:
        given = profile.read_answer(name, value)
    except FieldProblem as problem:
        return (await _ask_profile(ctx, draft, name, str(problem)),)
    await profile.keep(ctx.deps, ctx.address, ctx.sender, given)
    async with ctx.deps.db.session() as session:  # kept sealed: not in the question's row
        await repositories.redact_answer(session, question_id=question.id)
    return await advance(ctx, draft)


def register_reserve_questions(router: QuestionRouter) -> None:
    router.register(FIELD_PURPOSE, _on_field)
    router.register(PROFILE_PURPOSE, _on_profile)
    travel.register_identity_questions(router)
