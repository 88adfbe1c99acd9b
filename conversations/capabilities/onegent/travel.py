"""Passport details for a flight: asked by its job as a private question, answered in the
person's own chat with the bot, handed back to the job in memory (see `identity`).

The job asks when it has nothing to send: first, and again after a restart lost what was
given (at most `MAX_ASKS` times). An answer wakes the job; so does a cancel or a re-run of an
answer whose words were not kept, which the job then settles (ends, or asks again).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from conversations import delivery
from conversations.capabilities.onegent.draft import Draft
from conversations.capabilities.onegent.fields import FieldProblem, today_in
from conversations.capabilities.onegent.identity import (
    IDENTITY_PURPOSE,
    KEPT_FOR_S,
    PROMPT,
    read_identity,
)
from conversations.jobs import job_address, job_key
from conversations.questions import NOT_KEPT, AnswerForm, Ask, QuestionRouter, ask_in, ask_once
from conversations.replies import Reply
from conversations.tools.context import ToolContext
from storage import repositories
from storage.models import Action, PendingQuestion

MAX_ASKS = 3
WAITING = "awaiting_identity"
"""How the job card reads while the passport details are asked (the job stays `creating`)."""
LOST = "I lost the details you sent in a restart (I never keep them); please send them again."
_SETTLED = ("open", "answered", "expired", "cancelled")


def _question(action: Action, problem: str = "") -> Ask:
    title = Draft.from_json(action.payload["draft"]).title
    return Ask(
        purpose=IDENTITY_PURPOSE,
        prompt=f"{problem} {PROMPT}".strip() if problem else f"{title}\n{PROMPT}",
        form=AnswerForm.TEXT,
        if_unanswered="the flight is not reserved",
        context={"job_id": action.id},
        ttl_s=KEPT_FOR_S,
        private=True,
    )


async def asked(session: AsyncSession, action: Action) -> list[PendingQuestion]:
    """The job's identity questions so far, oldest first."""
    found = await repositories.job_questions(session, action_id=action.id, statuses=_SETTLED)
    return [q for q in found if q.purpose == IDENTITY_PURPOSE]


async def ask_identity(session: AsyncSession, action: Action, *, attempt: int) -> datetime:
    """Ask (once per attempt, however often the step runs) and post the question privately,
    in the caller's transaction; returns when it expires."""
    problem = LOST if attempt else ""
    reply = await ask_once(
        session,
        _question(action, problem),
        address=job_address(action),
        conversation_id=action.conversation_id,
        asked_of=action.requested_by,
        action_id=action.id,
        dedupe_key=f"identity:{action.id}:{attempt}",
    )
    if reply is not None:
        await delivery.enqueue(
            session,
            job_address(action),
            reply,
            dedupe_key=f"{job_key(action.id)}:identity:{attempt}",
        )
    return datetime.now(UTC) + timedelta(seconds=KEPT_FOR_S)


async def _wake(ctx: ToolContext, action: Action) -> None:
    async with ctx.deps.db.session() as session:
        await repositories.schedule_job(session, action_id=action.id)
    ctx.deps.jobs.ring()


async def _on_identity(
    ctx: ToolContext, question: PendingQuestion, value: str | None
) -> tuple[Reply, ...]:
    async with ctx.deps.db.session(read_only=True) as session:
        action = await repositories.get_action(
            session,
            action_id=str(question.context.get("job_id", "")),
            workspace_id=question.workspace_id,
        )
    access = ctx.deps.onegent
    if action is None or access is None:
        return (Reply(text="That flight reservation is no longer open."),)
    if value is None or value == NOT_KEPT:
        await _wake(ctx, action)  # the job ends it, or asks again for what was not kept
        return (Reply(text="All right, the flight is not reserved."),) if value is None else ()
    try:
        identity = read_identity(value, today=today_in(ctx.deps.booking.timezone))
    except FieldProblem as problem:
        async with ctx.deps.db.session() as session:
            again = await ask_in(
                session,
                _question(action, str(problem)),
                address=job_address(action),
                conversation_id=action.conversation_id,
                asked_of=action.requested_by,
                action_id=action.id,
            )
        return (again,)
    access.identities.hold(action.id, identity)
    await _wake(ctx, action)
    return (
        Reply(
            text="Thanks — your flight goes to Onegent now. Your passport details are sent "
            "to them once and not kept here."
        ),
    )


def register_identity_questions(router: QuestionRouter) -> None:
    router.register(IDENTITY_PURPOSE, _on_identity)
