"""Pending questions: asked once, answered once by one conditional update."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import PendingQuestion, new_id, utc_now
from storage.repositories._common import RETURNING_OPTIONS, dialect_insert

__all__ = [
    "answer_question",
    "answered_by_origin",
    "create_question",
    "expire_question",
    "get_question",
    "job_questions",
    "open_private_questions",
    "open_questions",
    "redact_answer",
    "update_question_context",
]


async def create_question(
    session: AsyncSession,
    *,
    conversation_id: str,
    platform: str,
    workspace_id: str,
    chat_id: str,
    thread_id: str,
    asked_of: str,
    purpose: str,
    prompt: str,
    form: str,
    deadline: datetime,
    options: Sequence[Mapping[str, str]] = (),
    context: Mapping[str, Any] | None = None,
    default_value: str | None = None,
    action_id: str | None = None,
    dedupe_key: str | None = None,
    open_to_all: bool = False,
    private: bool = False,
    now: datetime | None = None,
) -> PendingQuestion | None:
    """Record an open question; with ``dedupe_key`` at most once (None the second time)."""
    question = PendingQuestion(
        id=new_id(),
        action_id=action_id,
        conversation_id=conversation_id,
        platform=platform,
        workspace_id=workspace_id,
        chat_id=chat_id,
        thread_id=thread_id,
        asked_of=asked_of,
        purpose=purpose,
        prompt=prompt,
        form=form,
        options=[dict(o) for o in options],
        context=dict(context or {}),
        default_value=default_value,
        status="open",
        created_at=now or utc_now(),
        deadline=deadline,
        dedupe_key=dedupe_key,
        open_to_all=open_to_all,
        private=private,
    )
    if dedupe_key is None:
        session.add(question)
        await session.flush()
        return question
    result = await session.exec(
        dialect_insert(session, PendingQuestion)
        .values(**question.model_dump())
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(PendingQuestion)
        .execution_options(**RETURNING_OPTIONS)
    )
    return result.scalars().first()


async def get_question(
    session: AsyncSession, *, question_id: str, workspace_id: str
) -> PendingQuestion | None:
    """A question by id, only within ``workspace_id`` (None across tenants)."""
    result = await session.exec(
        select(PendingQuestion)
        .where(
            col(PendingQuestion.id) == question_id,
            col(PendingQuestion.workspace_id) == workspace_id,
        )
        .execution_options(populate_existing=True)
    )
    return result.first()


# Both run on every message: built once, their parameters bound at execution.
_OPEN_HERE = (
    select(PendingQuestion)
    .where(
        col(PendingQuestion.conversation_id) == bindparam("conversation_id"),
        or_(
            col(PendingQuestion.asked_of) == bindparam("asked_of"), col(PendingQuestion.open_to_all)
        ),
        col(PendingQuestion.status) == "open",
    )
    .order_by(col(PendingQuestion.created_at), col(PendingQuestion.id))
    .execution_options(populate_existing=True)
)
_ANSWERED_BY = (
    select(PendingQuestion)
    .where(
        col(PendingQuestion.answer_origin) == bindparam("origin"),
        or_(
            col(PendingQuestion.conversation_id) == bindparam("conversation_id"),
            col(PendingQuestion.private),
        ),
    )
    .execution_options(populate_existing=True)
)


async def open_questions(
    session: AsyncSession, *, conversation_id: str, asked_of: str
) -> list[PendingQuestion]:
    """The open questions in this conversation the person may answer, oldest first."""
    which = {"conversation_id": conversation_id, "asked_of": asked_of}
    return list((await session.exec(_OPEN_HERE, params=which)).all())


async def open_private_questions(
    session: AsyncSession, *, platform: str, asked_of: str
) -> list[PendingQuestion]:
    """The person's open private questions, from any conversation, oldest first: they are
    answered in the person's own chat with the bot, wherever they were asked. Not scoped by
    workspace: a Telegram group is a workspace of its own, and a platform's user ids are
    unique across it (Slack's across workspaces, Telegram's everywhere)."""
    result = await session.exec(
        select(PendingQuestion)
        .where(
            col(PendingQuestion.asked_of) == asked_of,
            col(PendingQuestion.status) == "open",
            col(PendingQuestion.private),
            col(PendingQuestion.platform) == platform,
        )
        .order_by(col(PendingQuestion.created_at), col(PendingQuestion.id))
        .execution_options(populate_existing=True)
    )
    return list(result.all())


async def answer_question(
    session: AsyncSession,
    *,
    question_id: str,
    workspace_id: str,
    answered_by: str,
    answer: str,
    now: datetime,
    origin: str | None = None,
) -> PendingQuestion | None:
    """Record the answer only while the question is open, unexpired, in ``workspace_id`` and
    asked of ``answered_by`` (or open to all); None when it did not apply (answered, late,
    someone else's)."""
    result = await session.exec(
        update(PendingQuestion)
        .where(
            col(PendingQuestion.id) == question_id,
            col(PendingQuestion.workspace_id) == workspace_id,
            or_(col(PendingQuestion.asked_of) == answered_by, col(PendingQuestion.open_to_all)),
            col(PendingQuestion.status) == "open",
            col(PendingQuestion.deadline) > now,
        )
        .values(
            status="answered",
            answer=answer,
            answered_by=answered_by,
            answered_at=now,
            answer_origin=origin or None,
        )
        .returning(PendingQuestion)
        .execution_options(**RETURNING_OPTIONS)
    )
    return result.scalars().first()


async def expire_question(
    session: AsyncSession, *, question_id: str, status: str = "expired", now: datetime
) -> PendingQuestion | None:
    """Close an open question without an answer (deadline passed: its default is taken; or
    cancelled); None if it was no longer open."""
    result = await session.exec(
        update(PendingQuestion)
        .where(col(PendingQuestion.id) == question_id, col(PendingQuestion.status) == "open")
        .values(status=status, answered_at=now)
        .returning(PendingQuestion)
        .execution_options(**RETURNING_OPTIONS)
    )
    return result.scalars().first()


async def answered_by_origin(
    session: AsyncSession, *, conversation_id: str, origin: str
) -> PendingQuestion | None:
    """The question the inbound item ``origin`` answered (a re-run of that item): asked in
    this conversation, or a private one asked elsewhere and answered here."""
    which = {"conversation_id": conversation_id, "origin": origin}
    return (await session.exec(_ANSWERED_BY, params=which)).first()


async def job_questions(
    session: AsyncSession, *, action_id: str, statuses: Collection[str] = ("open",)
) -> list[PendingQuestion]:
    """A job's questions in ``statuses``, oldest first."""
    result = await session.exec(
        select(PendingQuestion)
        .where(
            col(PendingQuestion.action_id) == action_id,
            col(PendingQuestion.status).in_(list(statuses)),
        )
        .order_by(col(PendingQuestion.created_at), col(PendingQuestion.id))
        .execution_options(populate_existing=True)
    )
    return list(result.all())


async def update_question_context(
    session: AsyncSession, *, question_id: str, changes: Mapping[str, Any]
) -> PendingQuestion | None:
    """Merge ``changes`` into a question's context (what became of its answer)."""
    question = await session.get(PendingQuestion, question_id, populate_existing=True)
    if question is None:
        return None
    question.context = {**question.context, **changes}
    session.add(question)
    await session.flush()
    return question


async def redact_answer(session: AsyncSession, *, question_id: str) -> None:
    """Forget an answer's words once they are kept elsewhere, sealed (contact details)."""
    await session.exec(
        update(PendingQuestion)
        .where(col(PendingQuestion.id) == question_id)
        .values(answer="(kept sealed)")
    )
