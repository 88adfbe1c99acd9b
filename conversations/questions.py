"""Pending questions: one mechanism for every worker that needs a person mid-task.

A question says who may answer (the requester), how (free text, yes/no, a choice of
options), by when, and what happens if nobody does (stated in the question). It is posted
once and answered once — by a button or by the asker's next message in that thread, which
goes to their open question before the model — through one conditional update. A late or
foreign answer is told plainly and changes nothing. What an answer leads to is the business
of the question's `purpose`, registered by its capability in a `QuestionRouter`.

A private question (passport details for a flight) is posted in the person's own chat with
the bot, wherever it was asked, and answered there; its answer goes to its handler and is
never written (the row says only that it was given).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from conversations.cards import clip
from conversations.replies import Button, Reply
from conversations.tools.context import ToolContext
from conversations.types import ConversationAddress
from storage import repositories
from storage.models import PendingQuestion

log = logging.getLogger(__name__)

MAX_BUTTONS = 10
MAX_TYPED = 500
CANCEL_WORDS = frozenset({"cancel", "stop", "never mind", "nevermind", "forget it"})
YES_WORDS = frozenset({"yes", "y", "yeah", "yep", "ok", "okay", "sure"})
NO_WORDS = frozenset({"no", "n", "nope", "nah"})
GREETINGS = frozenset({"help", "start", "/start", "/help", "hi", "hello", "hey", "menu"})
"""What opening a chat says: never the answer to a private question waiting there."""
NOT_KEPT = "(given privately, not kept)"
"""What a private question's row says of its answer; a re-run after a crash gets this."""


class AnswerForm(StrEnum):
    TEXT = "text"
    YES_NO = "yes_no"
    CHOICE = "choice"


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class Ask:
    """A question to post. `if_unanswered` is said in the question (“nothing is booked”)."""

    purpose: str
    prompt: str
    form: AnswerForm
    if_unanswered: str
    options: tuple[Choice, ...] = ()
    context: Mapping[str, Any] = field(default_factory=dict)
    default_value: str | None = None
    ttl_s: float = 15 * 60
    free_text: bool = False
    """Whether a typed answer outside the options is taken as it is (a call's question)."""
    open_to_all: bool = False
    """Whether anyone in the conversation may answer (the asker allowed it)."""
    private: bool = False
    """Asked and answered in the person's own chat with the bot; the answer is not kept."""


def question_key(question_id: str) -> str:
    return f"question:{question_id}"


def _options(question: PendingQuestion) -> list[Choice]:
    return [Choice(str(o["value"]), str(o["label"])) for o in question.options]


def question_reply(question: PendingQuestion, *, answered: str | None = None) -> Reply:
    """The question as posted (buttons while open), or as settled (`answered` says how)."""
    if answered is not None:
        return Reply(
            text=f"{question.prompt}\n✓ {answered}",
            key=question_key(question.id),
            private_to=question.asked_of if question.private else None,
        )
    buttons: tuple[Button, ...] = ()
    lines = [question.prompt]
    if question.form == AnswerForm.CHOICE:
        options = _options(question)
        lines.extend(f"{n}. {o.label}" for n, o in enumerate(options, start=1))
        buttons = tuple(
            Button(clip(o.label, 70) or o.value, f"answer:{question.id}:{n}")
            for n, o in enumerate(options[:MAX_BUTTONS], start=1)
        )
    elif question.form == AnswerForm.YES_NO:
        buttons = (
            Button("Yes", f"answer:{question.id}:yes", "primary"),
            Button("No", f"answer:{question.id}:no"),
        )
    until = question.deadline.astimezone(UTC).strftime("%H:%M UTC")
    how = "Reply in this chat" if question.private else "Reply here or tap a button"
    lines.append(f"({how}. If I hear nothing by {until}, {_unanswered(question)}.)")
    return Reply(
        text="\n".join(lines),
        buttons=buttons,
        key=question_key(question.id),
        mention=None if question.private else question.asked_of,
        private_to=question.asked_of if question.private else None,
        private_chat=question.private,
    )


def _unanswered(question: PendingQuestion) -> str:
    return str(question.context.get("if_unanswered", "I'll drop it"))


async def ask(ctx: ToolContext, spec: Ask, *, action_id: str | None = None) -> Reply:
    """Record the question for the person in `ctx`, and the reply that poses it."""
    async with ctx.deps.db.session() as session:
        return await ask_in(
            session,
            spec,
            address=ctx.address,
            conversation_id=ctx.conversation_id,
            asked_of=ctx.sender.user_id,
            action_id=action_id,
        )


async def ask_in(
    session: AsyncSession,
    spec: Ask,
    *,
    address: ConversationAddress,
    conversation_id: str,
    asked_of: str,
    action_id: str | None = None,
) -> Reply:
    """Record the question inside the caller's transaction (a webhook's, a job's)."""
    reply = await ask_once(
        session,
        spec,
        address=address,
        conversation_id=conversation_id,
        asked_of=asked_of,
        action_id=action_id,
        dedupe_key=None,
    )
    assert reply is not None  # only a dedupe key can make a question a repeat
    return reply


async def ask_once(
    session: AsyncSession,
    spec: Ask,
    *,
    address: ConversationAddress,
    conversation_id: str,
    asked_of: str,
    action_id: str | None,
    dedupe_key: str | None,
) -> Reply | None:
    """Record the question unless one with `dedupe_key` exists (None then): a partner's
    request may reach us twice, by stream and by webhook, and is asked once."""
    question = await repositories.create_question(
        session,
        conversation_id=conversation_id,
        platform=address.platform,
        workspace_id=address.workspace_id,
        chat_id=address.chat_id,
        thread_id=address.thread_id,
        asked_of=asked_of,
        purpose=spec.purpose,
        prompt=spec.prompt,
        form=spec.form.value,
        options=[{"value": o.value, "label": o.label} for o in spec.options],
        context={
            **spec.context,
            "if_unanswered": spec.if_unanswered,
            **({"free_text": True} if spec.free_text else {}),
        },
        default_value=spec.default_value,
        deadline=datetime.now(UTC) + timedelta(seconds=spec.ttl_s),
        action_id=action_id,
        dedupe_key=dedupe_key,
        open_to_all=spec.open_to_all,
        private=spec.private,
    )
    return None if question is None else question_reply(question)


def parse_answer(question: PendingQuestion, text: str) -> str | None:
    """The answer `text` gives to `question`, or None when it doesn't fit the form."""
    words = " ".join(text.lower().split()).strip(" .!?")
    typed = text.strip()[:MAX_TYPED] or None
    if question.form == AnswerForm.TEXT:
        return typed
    if question.context.get("free_text"):
        # Their words as typed, unless they picked an option by its number.
        options = _options(question)
        number = re.fullmatch(r"#?(\d{1,2})", words)
        if number and 1 <= int(number.group(1)) <= len(options):
            return options[int(number.group(1)) - 1].value
        return typed
    return _fitted(question, words)


_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}
_ORDINAL = re.compile(
    r"(?:the\s+)?(?:(?P<word>first|second|third|fourth|fifth|last)|(?P<n>\d{1,2})(?:st|nd|rd|th))"
    r"(?:\s+one)?"
)


def yes_or_no(words: str) -> str | None:
    """ "yes", "yes please", "sure thing", "no thanks": the first word decides."""
    first = words.split(" ", 1)[0].strip(",.!") if words else ""
    return "yes" if first in YES_WORDS else "no" if first in NO_WORDS else None


def _position(words: str, count: int) -> int | None:
    """1-based option number from "2", "#2", "number 2", "the second (one)", "2nd"."""
    number = re.fullmatch(r"(?:#|no\.?\s*|number\s*)?(\d{1,2})", words)
    if number:
        found = int(number.group(1))
    elif ordinal := _ORDINAL.fullmatch(words):
        word = ordinal.group("word")
        found = _ORDINALS[word] if word else int(ordinal.group("n"))
        found = count if found == -1 else found
    else:
        return None
    return found if 1 <= found <= count else None


def _fitted(question: PendingQuestion, words: str) -> str | None:
    if question.form == AnswerForm.YES_NO:
        return yes_or_no(words)
    options = _options(question)
    position = _position(words, len(options))
    if position is not None:
        return options[position - 1].value
    exact = [o for o in options if o.label.lower() == words]
    partial = [o for o in options if words and words in o.label.lower()]
    found = exact or partial
    return found[0].value if len(found) == 1 else None


def _label(question: PendingQuestion, value: str) -> str:
    for option in _options(question):
        if option.value == value:
            return option.label
    return {"yes": "Yes", "no": "No"}.get(value, clip(value, 200) or value)


AnswerHandler = Callable[[ToolContext, PendingQuestion, str | None], Awaitable[tuple[Reply, ...]]]


class QuestionRouter:
    """Maps a question's purpose to what its answer (or None: unanswered in time) leads to."""

    def __init__(self) -> None:
        self._handlers: dict[str, AnswerHandler] = {}

    def register(self, purpose: str, handler: AnswerHandler) -> None:
        self._handlers[purpose] = handler

    async def button(self, ctx: ToolContext, argument: str) -> tuple[Reply, ...]:
        """`answer:<question id>:<n | yes | no>` pressed."""
        question_id, _, picked = argument.partition(":")
        async with ctx.deps.db.session(read_only=True) as session:
            question = await repositories.get_question(
                session, question_id=question_id, workspace_id=ctx.address.workspace_id
            )
        if question is None:
            return (ctx.privately("I can't find that question any more."),)
        value = picked
        if question.form == AnswerForm.CHOICE:
            options = _options(question)
            if not picked.isdigit() or not 1 <= int(picked) <= len(options):
                return (ctx.privately("That choice is not one of the options."),)
            value = options[int(picked) - 1].value
        return await self._answer(ctx, question, value)

    async def text(
        self, ctx: ToolContext, text: str, *, private: bool = False
    ) -> tuple[Reply, ...] | None:
        """The asker's message, taken as the answer to their open question in this thread;
        None when they have none (the message then goes to the model). A message run again
        after a crash finishes the answer it gave, instead of reaching the model. In the
        person's own chat (`private`) their private questions asked elsewhere count too;
        anywhere else private questions are not answered."""
        async with ctx.deps.db.session(read_only=True) as session:
            if ctx.origin and (
                again := await repositories.answered_by_origin(
                    session, conversation_id=ctx.conversation_id, origin=ctx.origin
                )
            ):
                return await self._settled(ctx, again)
            waiting = await repositories.open_questions(
                session, conversation_id=ctx.conversation_id, asked_of=ctx.sender.user_id
            )
            live = [q for q in waiting if q.deadline > datetime.now(UTC)]
            if not private and live and all(q.private for q in live):
                return await self._elsewhere(ctx, live[0], text)
            waiting = [q for q in waiting if private or not q.private]
            if private and not waiting:
                waiting = await repositories.open_private_questions(
                    session, platform=ctx.address.platform, asked_of=ctx.sender.user_id
                )
        now = datetime.now(UTC)
        for stale in [q for q in waiting if q.deadline <= now]:
            for reply in await self.expire(ctx, stale):
                await ctx.replier.send(reply)
        waiting = [q for q in waiting if q.deadline > now]
        if not waiting:
            return None
        question = waiting[0]
        words = " ".join(text.lower().split()).strip(" .!")
        if words in CANCEL_WORDS:
            return await self._cancel(ctx, question)
        if question.private and words in GREETINGS:
            # Their first words in a chat they just opened (Telegram's Start, "help"): the
            # question they could not be sent before, not an answer to it.
            return (Reply(text="First, I need your answer to this:"), question_reply(question))
        value = parse_answer(question, text)
        if value is None:
            return (
                Reply(
                    text="I'm waiting for your answer to this first — tap a button, reply with "
                    "the number of an option, or say “cancel”.",
                ),
                question_reply(question),
            )
        return await self._answer(ctx, question, value)

    async def _elsewhere(
        self, ctx: ToolContext, question: PendingQuestion, text: str
    ) -> tuple[Reply, ...]:
        """A message here while their private question waits: most likely its answer, typed
        where others read it. It is neither taken nor passed on (the model never sees it)."""
        if " ".join(text.lower().split()).strip(" .!") in CANCEL_WORDS:
            return await self._cancel(ctx, question)
        return (
            ctx.privately(
                "I asked you that in a private message — please answer there. I didn't keep "
                "what you wrote here; say “cancel” to drop it."
            ),
        )

    async def _answer(
        self, ctx: ToolContext, question: PendingQuestion, value: str
    ) -> tuple[Reply, ...]:
        now = datetime.now(UTC)
        async with ctx.deps.db.session() as session:
            answered = await repositories.answer_question(
                session,
                question_id=question.id,
                # A private question is answered from the person's own chat, which may be
                # another workspace (Telegram); it was found by who was asked.
                workspace_id=question.workspace_id
                if question.private
                else ctx.address.workspace_id,
                answered_by=ctx.sender.user_id,
                answer=NOT_KEPT if question.private else value,
                now=now,
                origin=ctx.origin,
            )
        if answered is None:
            if ctx.origin and question.answer_origin == ctx.origin:
                return await self._settled(ctx, question)  # this very answer, run again
            return (self._why_not(ctx, question, now),)
        return await self._settled(ctx, answered, value)

    async def _settled(
        self, ctx: ToolContext, answered: PendingQuestion, value: str | None = None
    ) -> tuple[Reply, ...]:
        """`value` is the answer as given; without it (a re-run), the row's."""
        value = value if value is not None else str(answered.answer)
        shown = "Received" if answered.private else _label(answered, value)
        settled = question_reply(answered, answered=shown)
        follow = await self._follow(ctx, answered, value)
        if follow and follow[0].key == settled.key:
            return follow  # the handler says itself how it settled
        return (settled, *follow)

    async def _cancel(self, ctx: ToolContext, question: PendingQuestion) -> tuple[Reply, ...]:
        async with ctx.deps.db.session() as session:
            closed = await repositories.expire_question(
                session, question_id=question.id, status="cancelled", now=datetime.now(UTC)
            )
        if closed is None:
            return (ctx.privately("That question was already settled."),)
        return (
            question_reply(closed, answered="Cancelled"),
            *await self._follow(ctx, closed, None),
        )

    async def expire(self, ctx: ToolContext, question: PendingQuestion) -> tuple[Reply, ...]:
        """The deadline passed: take the stated default."""
        async with ctx.deps.db.session() as session:
            closed = await repositories.expire_question(
                session, question_id=question.id, now=datetime.now(UTC)
            )
        if closed is None:
            return ()
        said = f"No answer in time, so {_unanswered(closed)}"
        return (question_reply(closed, answered=said), *await self._follow(ctx, closed, None))

    async def _follow(
        self, ctx: ToolContext, question: PendingQuestion, value: str | None
    ) -> tuple[Reply, ...]:
        handler = self._handlers.get(question.purpose)
        if handler is None:
            log.error("no handler for questions about %s", question.purpose)
            return ()
        return await handler(ctx, question, value if value is not None else question.default_value)

    @staticmethod
    def _why_not(ctx: ToolContext, question: PendingQuestion, now: datetime) -> Reply:
        if question.asked_of != ctx.sender.user_id and not question.open_to_all:
            return ctx.privately("Only the person who was asked can answer this question.")
        if question.status == "open" and question.deadline <= now:
            return ctx.privately(f"That question has expired, so {_unanswered(question)}.")
        return ctx.privately("That question was already answered.")
