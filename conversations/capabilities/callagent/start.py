"""Placing a call: the `start_call` tool proposes, only the requester's Call button places it.

The number is checked before anything is shown (E.164, not premium-rate, shared-cost or an
emergency number) and the workspace's daily cap applies. The confirmation shows the number as
people read it, the brief and the language; granting it and recording the call job are one
transaction, so a granted call is always placed, and placed once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from conversations.booking.messages import approval_key
from conversations.capabilities.callagent.call_job import CALL
from conversations.capabilities.callagent.card import CallStatus
from conversations.capabilities.callagent.phone import NumberRefused, dialable, human
from conversations.cards import clip
from conversations.decisions import decide_once, open_confirmation
from conversations.jobs import start_job
from conversations.replies import BUTTON_EXPIRED, ApprovalRequest, Button, Reply
from conversations.tools.base import ToolOutcome, tool, tool_error
from conversations.tools.context import ToolContext
from integrations.callagent import TaskKind
from storage import repositories
from storage.models import Approval

LANGUAGES = {"auto": "the callee's language", "en": "English", "ru": "Russian"}


def _confirmation(approval_id: str, call: dict[str, Any], requester: str, status: str) -> Reply:
    number = human(str(call["target_phone"]))
    lines = [
        f"Number: {number}",
        f"Brief: {clip(str(call['brief']), 600)}",
        f"Language: {LANGUAGES.get(str(call['language']), str(call['language']))}",
        "The voice agent's questions come to this thread; "
        + (
            "anyone here may answer them."
            if call.get("others_may_answer")
            else "only you can answer them."
        ),
    ]
    request = ApprovalRequest(
        approval_id=approval_id,
        title=f"Call {call['callee']}?",
        subject=str(call["callee"]),
        lines=tuple(lines),
        requester=requester,
        confirm=Button("Call", f"call.go:{approval_id}", "primary"),
        cancel=Button("Cancel", f"call.no:{approval_id}", "danger"),
        status=status,
        verb="place the call",
        until="Nothing is dialled until you press Call.",
    )
    return Reply(approval=request, key=approval_key(approval_id), mention=requester)


async def _calls_today(ctx: ToolContext) -> int:
    async with ctx.deps.db.session(read_only=True) as session:
        return await repositories.count_jobs_since(
            session,
            platform=ctx.address.platform,
            workspace_id=ctx.address.workspace_id,
            kind=CALL.name,
            since=datetime.now(UTC) - timedelta(days=1),
        )


@tool(partner="call_agent")
async def start_call(
    ctx: ToolContext,
    target_phone: Annotated[
        str, Field(min_length=3, max_length=40, description="as the user gave it")
    ],
    brief: Annotated[
        str,
        Field(
            min_length=10,
            max_length=4000,
            description="for the voice agent: who we call for, what to ask or arrange, limits "
            "(times, budget, deposit), what to do if it isn't possible",
        ),
    ],
    callee: Annotated[
        str | None, Field(max_length=120, description="who is called, e.g. the venue")
    ] = None,
    country: Annotated[
        str | None, Field(pattern=r"^[A-Za-z]{2}$", description="ISO country of a local number")
    ] = None,
    language: Literal["auto", "en", "ru"] = "auto",
    kind: TaskKind = TaskKind.OTHER,
    parsed_slots: Annotated[
        dict[str, str | int | float | bool] | None,
        Field(max_length=20, description="date, time, guests … as understood"),
    ] = None,
    others_may_answer: Annotated[
        bool, Field(description="only if the requester said others here may answer the agent")
    ] = False,
) -> ToolOutcome:
    """Propose a phone call placed by an AI voice agent for the user (a table, an appointment,
    a question to a business). Posts a confirmation with the number, the brief and the
    language; nothing is dialled until the requesting user presses Call. Write the brief
    yourself from what the user asked. While the call runs, the agent's questions are asked
    in this thread and the outcome is posted on the call's card."""
    access = ctx.deps.call_agent
    if access is None or await access.agent(ctx.address) is None:
        return tool_error("Phone calls are not set up here.")
    try:
        number = dialable(target_phone, country=country or ctx.state.country)
    except NumberRefused as refused:
        hint = (
            "Ask the user which country the number is in, then call again with `country`."
            if refused.needs_country
            else "Tell the user; do not try another way to reach this number."
        )
        return tool_error(str(refused), hint=hint)
    if await _calls_today(ctx) >= access.calls_per_day:
        return tool_error(
            f"This workspace has placed its {access.calls_per_day} calls for today; "
            "try again tomorrow.",
            hint="Tell the user; do not retry.",
        )
    if number.region:
        ctx.state.country = number.region
    call = {
        "target_phone": number.e164,
        "brief": brief.strip(),
        "language": language,
        "kind": kind.value,
        "parsed_slots": parsed_slots,
        "ask_user_mode": "stream",
        "callee": clip(callee, 120) or number.shown,
        "others_may_answer": others_may_answer,
    }
    approval = await open_confirmation(ctx, "call", call)
    return ToolOutcome(
        for_model={
            "status": "awaiting_confirmation",
            "number": number.shown,
            "note": "Nothing is dialled yet. Only the requester can place the call, by "
            "pressing Call. Do not say the call is happening.",
        },
        replies=(_confirmation(approval.id, call, ctx.sender.user_id, "pending"),),
    )


def _body(call: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in call.items() if k not in ("callee", "others_may_answer")}


async def place_call(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    """Call: grant once and record the call job in the same transaction."""
    async with ctx.deps.db.session() as session:
        approval = await decide_once(session, ctx, approval_id, "granted", kind="call")
        if approval is not None:
            call = dict(approval.snapshot["call"])
            job = await start_job(
                session,
                CALL,
                status=CallStatus.STARTING,
                address=ctx.address,
                conversation_id=ctx.conversation_id,
                requested_by=ctx.sender.user_id,
                payload={
                    "body": _body(call),
                    "callee": call["callee"],
                    "others_may_answer": bool(call.get("others_may_answer")),
                    "approval_id": approval.id,
                    "granted_by": ctx.origin,
                },
            )
            await repositories.link_approval(session, approval_id=approval.id, action_id=job.id)
    if approval is None:
        return await _why_not(ctx, approval_id, pressed_go=True)
    ctx.deps.jobs.ring()
    return (
        _confirmation(
            approval.id, dict(approval.snapshot["call"]), approval.requested_by, "granted"
        ),
    )


async def drop_call(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    async with ctx.deps.db.session() as session:
        approval = await decide_once(session, ctx, approval_id, "rejected", kind="call")
    if approval is None:
        return await _why_not(ctx, approval_id, pressed_go=False)
    call = dict(approval.snapshot["call"])
    return (
        _confirmation(approval.id, call, approval.requested_by, "rejected"),
        Reply(text="Cancelled. No call was placed."),
    )


async def _why_not(ctx: ToolContext, approval_id: str, *, pressed_go: bool) -> tuple[Reply, ...]:
    async with ctx.deps.db.session(read_only=True) as session:
        approval = await repositories.get_approval(
            session, approval_id=approval_id, workspace_id=ctx.address.workspace_id
        )
    if approval is None or "call" not in approval.snapshot:
        return (BUTTON_EXPIRED,)
    if approval.status == "granted":
        if pressed_go and await _granted_by(ctx, approval):
            return (
                _confirmation(
                    approval.id, dict(approval.snapshot["call"]), approval.requested_by, "granted"
                ),
            )
        return (ctx.privately("This call was already placed."),)
    if approval.status == "rejected":
        return (ctx.privately("This call was already cancelled."),)
    if approval.requested_by != ctx.sender.user_id:
        return (ctx.privately("Only the person who asked can place or cancel this call."),)
    return (ctx.privately("This confirmation has expired; ask me again to call."),)


async def _granted_by(ctx: ToolContext, approval: Approval) -> bool:
    """Whether this very press granted it before its process died (the press is run again)."""
    if not ctx.origin or approval.action_id is None:
        return False
    async with ctx.deps.db.session(read_only=True) as session:
        job = await repositories.get_action(
            session, action_id=approval.action_id, workspace_id=ctx.address.workspace_id
        )
    return job is not None and job.payload.get("granted_by") == ctx.origin
