"""The voice agent's mid-call questions, asked in the thread and answered back to the call.

An `ask_user` may reach us twice — on the call's stream and by the backup webhook — and is
asked once: the question is keyed by the call and its `request_id`. The requester's reply
(their words as typed, or a button) goes to `POST /calls/{id}/answer` with that
`request_id`; a question answered but not yet passed on (a crash in between) is sent again
by the call's listener, which the `request_id` makes harmless.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from conversations import delivery
from conversations.capabilities.callagent.card import OPEN, callee
from conversations.cards import clip
from conversations.jobs import job_address
from conversations.questions import AnswerForm, Ask, Choice, QuestionRouter, ask_once, question_key
from conversations.replies import Reply
from conversations.tools.context import ToolContext
from integrations.errors import PartnerError
from storage import repositories
from storage.models import Action, PendingQuestion

log = logging.getLogger(__name__)

PURPOSE = "call.answer"
CALL_LIMIT = timedelta(minutes=30)
"""How long the call agent lets a call run; its questions can't outlive it."""
MIN_QUESTION_S = 60.0
_YES_NO = re.compile(
    r"^(is|are|do|does|did|can|could|would|will|shall|should|may|has|have)\b", re.IGNORECASE
)


def question_dedupe(call_id: str, request_id: str) -> str:
    return f"call:{call_id}:{request_id}"


def call_question(
    action: Action, *, request_id: str, question: str, options: tuple[str, ...]
) -> Ask:
    """The voice agent's question, word for word, with buttons where its options are known
    (and Yes / No where it is a yes-or-no question); a typed reply is always taken."""
    said = clip(question, 900) or "(no question text)"
    choices = tuple(Choice(clip(o, 200) or o, clip(o, 70) or o) for o in options[:10] if o.strip())
    if choices:
        form = AnswerForm.CHOICE
    elif _YES_NO.match(said) and " or " not in said.lower():
        form = AnswerForm.YES_NO
    else:
        form = AnswerForm.TEXT
    started = (
        action.created_at if action.created_at.tzinfo else action.created_at.replace(tzinfo=UTC)
    )
    left = (started + CALL_LIMIT - datetime.now(UTC)).total_seconds()
    return Ask(
        purpose=PURPOSE,
        prompt=f"On the call to {callee(action.payload)}, the voice agent asks:\n> {said}",
        form=form,
        if_unanswered="the agent goes on without your answer",
        options=choices,
        context={"request_id": request_id, "call_id": action.partner_ref or ""},
        ttl_s=max(MIN_QUESTION_S, left),
        free_text=True,
        open_to_all=bool(action.payload.get("others_may_answer")),
    )


async def post_question(
    session: AsyncSession,
    action: Action,
    *,
    request_id: str,
    question: str,
    options: tuple[str, ...],
) -> bool:
    """Ask it in the call's thread, inside the caller's transaction; False if already asked."""
    call_id = action.partner_ref or ""
    key = question_dedupe(call_id, request_id)
    spec = call_question(action, request_id=request_id, question=question, options=options)
    reply = await ask_once(
        session,
        spec,
        address=job_address(action),
        conversation_id=action.conversation_id,
        asked_of=action.requested_by,
        action_id=action.id,
        dedupe_key=key,
    )
    if reply is None:
        return False
    await delivery.enqueue(session, job_address(action), reply, dedupe_key=f"{key}:asked")
    return True


def _settled(question: PendingQuestion, how: str) -> Reply:
    return Reply(text=f"{question.prompt}\n✓ {how}", key=question_key(question.id))


async def pass_on(ctx: ToolContext, question: PendingQuestion, answer: str) -> bool | None:
    """Send the answer to the call; whether the agent was still waiting (None: unreachable,
    so the listener tries again while the call lasts)."""
    access = ctx.deps.call_agent
    call_id = str(question.context.get("call_id") or "")
    agent = await access.agent(ctx.address) if access is not None else None
    if agent is None or not call_id:
        return None
    try:
        delivered = await agent.client.answer(
            call_id, answer, request_id=str(question.context["request_id"]), mode="voice"
        )
    except PartnerError as error:
        log.warning("answer for call %s not passed on: %s", call_id, type(error).__name__)
        return None
    async with ctx.deps.db.session() as session:
        await repositories.update_question_context(
            session, question_id=question.id, changes={"delivered": delivered}
        )
    return delivered


async def _on_answer(
    ctx: ToolContext, question: PendingQuestion, value: str | None
) -> tuple[Reply, ...]:
    if value is None:
        return ()  # not answered in time, or cancelled: the agent goes on by itself
    async with ctx.deps.db.session(read_only=True) as session:
        action = (
            await repositories.get_action(
                session, action_id=question.action_id, workspace_id=ctx.address.workspace_id
            )
            if question.action_id
            else None
        )
    if "delivered" in question.context:  # this answer run again: it was passed on already
        delivered: bool | None = bool(question.context["delivered"])
    elif action is None or action.status not in OPEN:
        return (_settled(question, f"{clip(value, 200)} — too late: the call has ended"),)
    else:
        delivered = await pass_on(ctx, question, value)
    if delivered is None:
        return (
            _settled(question, f"{clip(value, 200)} — passing it on…"),
            Reply(
                text="I couldn't reach the call agent just now; I'll keep trying while the "
                "call lasts."
            ),
        )
    if delivered:
        return (_settled(question, f"{clip(value, 200)} — passed on to the call"),)
    return (
        _settled(question, f"{clip(value, 200)} — too late"),
        Reply(
            text="The call had moved on before your answer reached it, so the agent didn't hear it."
        ),
    )


def register_call_questions(router: QuestionRouter) -> None:
    router.register(PURPOSE, _on_answer)
