"""A 2FA agency login: the person who asked gives the six-digit code once, privately.

The code goes straight to `POST /auth/sign-in-totp` and is never written anywhere (a
private question's row says only that an answer was given); the signed-in session is
refreshed from then on without another code.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from conversations import delivery
from conversations.capabilities.voyagent.wording import NOTHING_SHARED
from conversations.jobs import JobContext, job_address
from conversations.questions import AnswerForm, Ask, QuestionRouter, ask_once
from conversations.replies import Reply
from conversations.tools.context import ToolContext
from integrations.errors import PartnerError
from integrations.voyagent import InvalidTotpCode, TotpRequired
from storage import repositories
from storage.models import Action, PendingQuestion

CODE_PURPOSE = "agency.code"
PROMPT = (
    "The travel agency's account asks for its six-digit sign-in code (two-factor). Reply "
    "here with the code: it is used once to sign in and not kept."
)


def _spec(job_id: str, problem: str = "") -> Ask:
    return Ask(
        purpose=CODE_PURPOSE,
        prompt=f"{problem} {PROMPT}".strip(),
        form=AnswerForm.TEXT,
        if_unanswered=NOTHING_SHARED + " (ask me again when you have the code)",
        private=True,
        ttl_s=10 * 60,
        context={"job_id": job_id},
    )


async def _ask(session: AsyncSession, action: Action, round_: int) -> None:
    reply = await ask_once(
        session,
        _spec(action.id),
        address=job_address(action),
        conversation_id=action.conversation_id,
        asked_of=action.requested_by,
        action_id=action.id,
        dedupe_key=f"agency:{action.id}:code:{round_}",
    )
    if reply is not None:
        await delivery.enqueue(
            session, job_address(action), reply, dedupe_key=f"agency:{action.id}:code:{round_}"
        )


async def ask_for_code(job: JobContext) -> None:
    """Ask the requester for the code (once per sign-in the agency refuses)."""
    round_ = int(job.action.payload.get("code_round") or 0) + 1

    async def post(session: AsyncSession) -> None:
        await _ask(session, job.action, round_)

    await job.write(post, code_round=round_)


async def _on_code(
    ctx: ToolContext, question: PendingQuestion, value: str | None
) -> tuple[Reply, ...]:
    job_id = str(question.context["job_id"])
    async with ctx.deps.db.session(read_only=True) as session:
        action = await repositories.get_action(
            session, action_id=job_id, workspace_id=question.workspace_id
        )
    access = ctx.deps.voyagent
    if action is None or access is None:
        return (Reply(text="That trip is no longer waiting for a code."),)
    if value is None:
        async with ctx.deps.db.session() as session:
            await repositories.add_to_job(
                session, action_id=job_id, workspace_id=action.workspace_id, add=_give_up
            )
        ctx.deps.jobs.ring()
        return (Reply(text=f"All right: {NOTHING_SHARED}."),)
    agency = await access.agency(job_address(action))
    if agency is None:
        return (Reply(text="The travel agency is no longer set up here."),)
    try:
        await agency.client.sign_in(totp_code="".join(value.split()))
    except (InvalidTotpCode, TotpRequired):
        async with ctx.deps.db.session() as session:
            again = await ask_once(
                session,
                _spec(job_id, "That code didn't work."),
                address=job_address(action),
                conversation_id=action.conversation_id,
                asked_of=action.requested_by,
                action_id=job_id,
                dedupe_key=f"agency:{job_id}:code:after:{question.id}",
            )
        return (again,) if again is not None else ()
    except PartnerError:
        return (Reply(text="I couldn't reach the agency to sign in; ask me again in a bit."),)
    async with ctx.deps.db.session() as session:
        await repositories.schedule_job(session, action_id=job_id)
    ctx.deps.jobs.ring()
    return (Reply(text="Signed in to the agency, thanks. Your trip is on its way to them."),)


def _give_up(payload: object) -> dict[str, object]:
    return {"done": True}


def register_code_questions(router: QuestionRouter) -> None:
    router.register(CODE_PURPOSE, _on_code)
