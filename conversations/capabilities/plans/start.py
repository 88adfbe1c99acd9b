"""`plan_outing`: a group plan started from a channel, group or thread."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from conversations.capabilities.plans.job import PLAN, PlanStatus, plan_topic
from conversations.jobs import job_key, start_job
from conversations.replies import Progress
from conversations.tools.activities import NOT_CONFIGURED
from conversations.tools.base import ToolOutcome, tool, tool_error
from conversations.tools.context import ToolContext

TERMINAL = "console"
"""The demo's terminal: a private chat whose scripted friends vote too."""


@tool(partner="outgoing")
async def plan_outing(
    ctx: ToolContext,
    prompt: Annotated[
        str,
        Field(min_length=2, max_length=300, description="what the group wants, in their words"),
    ],
    location: Annotated[str | None, Field(max_length=120, description="city or area")] = None,
    date: Annotated[
        str | None, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="the day, if said")
    ] = None,
    max_price: Annotated[
        float | None, Field(gt=0, le=10_000, description="most per ticket, if said")
    ] = None,
    closes_at: Annotated[
        str | None,
        Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="when voting closes, HH:MM"),
    ] = None,
) -> ToolOutcome:
    """Start a group plan in this channel or group: find 2-4 bookable options, post a poll
    everyone can vote in (closing at `closes_at`, else in 2 hours, never after the first
    session starts), then the winner with I'm in buttons; the organiser (the person asking)
    then chooses whether each pays their own ticket or they pay for all. Every payer approves
    their own booking privately. Use when someone asks to plan an outing for a group."""
    if not await ctx.deps.outgoing.configured(ctx.address):
        return NOT_CONFIGURED
    if ctx.private and ctx.address.platform != TERMINAL:
        return tool_error(
            "A group plan is for a channel or group: ask me there, so everyone can vote.",
            hint="Tell the user to start the plan in the group's channel or chat.",
        )
    payload = {
        "prompt": prompt,
        "location": location,
        "date": date,
        "max_price_cents": round(max_price * 100) if max_price is not None else None,
        "closes_at": closes_at,
        "organiser_name": ctx.sender.display_name,
    }
    async with ctx.deps.db.session() as session:
        action = await start_job(
            session,
            PLAN,
            status=PlanStatus.SEARCHING,
            address=ctx.address,
            conversation_id=ctx.conversation_id,
            requested_by=ctx.sender.user_id,
            payload=payload,
            idempotency_key=ctx.work_key("plan"),
        )
    line = PLAN.status_line(action) or f"Finding options for {plan_topic(payload)}…"
    await ctx.replier.progress(Progress(job_key(action.id), line))
    ctx.deps.jobs.ring()
    return ToolOutcome(
        for_model={
            "status": "finding_options",
            "job_id": action.id,
            "note": "The plan's poll will be posted here by itself when the options are found; "
            "votes, I'm in and booking happen with buttons. Say at most one short sentence.",
        }
    )
