"""The conversation manager: inbound message → dedupe → state → tool-use loop → replies.

It does not know which chat it is in: front-ends hand it an `InboundMessage` and a
`Replier` already bound to the conversation's address.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from conversations import metrics
from conversations.buttons import ButtonRouter
from conversations.history import message_to_json, messages_from_rows
from conversations.inbox import Inbox
from conversations.leases import LEASE_S
from conversations.llm import (
    LLM,
    LLMError,
    LLMMessage,
    LLMRequest,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
)
from conversations.locks import KeyedLocks
from conversations.offline import OfflinePlanner
from conversations.pacing import GatedReplier, TurnGate
from conversations.questions import QuestionRouter
from conversations.relays import Relay
from conversations.replies import BUTTON_EXPIRED, LazyStream, Replier, Reply
from conversations.serialize import inbound_from_json, inbound_to_json
from conversations.state import ConversationState
from conversations.tools.base import Tool, ToolOutcome, describe_validation_error, tool_error
from conversations.tools.context import ToolContext, ToolDeps
from conversations.tools.failures import partner_failure
from conversations.types import ButtonPress, ConversationAddress, Inbound, InboundMessage
from conversations.welcome import is_greeting, typed, welcome
from conversations.work import WorkTracker
from integrations.errors import PartnerError
from storage import repositories
from storage.models import Conversation, Message

log = logging.getLogger(__name__)

SORRY_MODEL = (
    "Sorry, I can't think right now: my language model is unavailable. "
    "Please try again in a minute."
)
SORRY_STUCK = "Sorry, I got stuck working that out. Could you say it another way?"
SORRY_BROKEN = "Sorry, something went wrong on my side. Nothing was booked or changed."
SORRY_SLOW = "Sorry, that took too long and I stopped. Nothing was booked or changed."
SORRY_BUTTON = (
    "Sorry, something went wrong on my side. If you had pressed Confirm, check `orders` "
    "before trying again."
)
MAX_TEXT = 12_000  # front-ends split long texts; this only stops a runaway answer


@dataclass(frozen=True)
class ManagerConfig:
    max_tool_rounds: int = 6
    max_calls_per_round: int = 4
    history_messages: int = 16
    history_step: int = 16
    """The replayed history starts at a point that moves this many messages at a time (so
    between `history_messages` and `history_messages + history_step - 1` are replayed):
    the prompt cache then reuses the history's prefix from turn to turn."""
    turn_timeout_s: float = 300.0
    parallel_turns: int = 8
    """Turns doing their own work at once (`conversations.pacing`); waiting ones don't count."""


class ConversationManager:
    def __init__(
        self,
        *,
        llm: LLM,
        deps: ToolDeps,
        tools: Sequence[Tool],
        system_prompt: str,
        buttons: ButtonRouter | None = None,
        questions: QuestionRouter | None = None,
        relays: Sequence[Relay] = (),
        config: ManagerConfig | None = None,
        owner: str | None = None,
        lease_s: float = LEASE_S,
    ) -> None:
        self._llm = llm
        self._deps = deps
        self._tools = {t.name: t for t in tools}
        self._system = system_prompt
        self._buttons = buttons or ButtonRouter()
        self._questions = questions or QuestionRouter()
        self._relays = tuple(relays)
        self._config = config or ManagerConfig()
        self._locks = KeyedLocks()
        self._gate = TurnGate(self._config.parallel_turns)
        cipher = deps.people.cipher if deps.people is not None else None
        self._inbox = Inbox(deps.db, owner=owner, lease_s=lease_s, cipher=cipher)

    async def aclose(self) -> None:
        """At shutdown, after running work drained: let go of unfinished inbound items."""
        await self._inbox.aclose()

    @property
    def owner(self) -> str:
        """The name this process's inbound items are leased under (one per process)."""
        return self._inbox.owner

    async def accept(self, item: Inbound) -> bool:
        """Claim the item's event id and keep the item, before the front-end acknowledges it.

        False for a duplicate delivery. The claim takes a lease for this process, renewed
        until the item is done (also while it waits behind earlier turns of its conversation),
        so no other process runs it; if this process dies first, the lease runs out and
        `resume_unfinished` in a live process (or at the next start) runs it.
        """
        platform = item.address.platform
        fresh = await self._inbox.claim(
            key=_event_key(item), source=platform, payload=inbound_to_json(item)
        )
        if not fresh:
            metrics.DUPLICATES.labels(platform).inc()
        return fresh

    async def run(self, item: Inbound, replier: Replier) -> None:
        """Do the work of an accepted item. Items of one conversation run one at a time, in
        order; other conversations never wait."""
        async with self._locks.hold(item.address.key):
            if isinstance(item, ButtonPress):
                said = typed(item)  # a welcome button: its text, as if the presser typed it
                if said is None:
                    await self._press(item, replier)
                    return
                item = said
            started = time.monotonic()
            async with self._gate.held():
                outcome = await self._guarded_turn(item, GatedReplier(replier, self._gate))
        platform = item.address.platform
        metrics.TURNS.labels(platform, outcome).inc()
        metrics.TURN_SECONDS.labels(platform).observe(time.monotonic() - started)

    async def handle(self, item: Inbound, replier: Replier) -> bool:
        """Accept and run in one go (console, tests); False when it was a duplicate."""
        if not await self.accept(item):
            return False
        await self.run(item, replier)
        return True

    async def resume_unfinished(
        self,
        replier_for: Callable[[ConversationAddress], Replier | None],
        *,
        accepted_before: datetime | None = None,
        work: WorkTracker | None = None,
    ) -> int:
        """Take over accepted items nobody works on any more and run them; returns how many.

        Called every few seconds (`background_loops`). Taken: items whose lease ran out (the
        process that accepted them died). On SQLite, which one process uses, also every item
        another owner accepted before `accepted_before` (this process's start), at once; on
        PostgreSQL `accepted_before` is ignored, since another owner may be a live replica.
        A taken item joins its conversation's order like any other (`run`'s lock). With
        `work`, items run as tracked work (a shutdown drains them) and this returns at once;
        without, it returns when they have run.
        """

        async def resume(key: str, item: Inbound, replier: Replier) -> None:
            try:
                await self.run(item, replier)
            except Exception:
                log.exception("could not resume %s", key)
            finally:
                self._inbox.let_go(key)  # done by now; else its lease runs out, and it reruns

        rows = await self._inbox.take_over(started_at=accepted_before)
        running: list[asyncio.Task[None]] = []
        resumed = 0
        for row in rows:
            try:
                item = inbound_from_json(row.payload or {})
                replier = replier_for(item.address)
            except Exception:  # one broken item must not keep the others from running
                log.exception("could not resume %s", row.key)
                replier = None
            if replier is None:  # perhaps another process can: its lease runs out
                self._inbox.let_go(row.key)
                continue
            log.info("resuming unfinished %s", row.key)
            # Started in order: each takes its conversation's lock before the next one asks.
            job = resume(row.key, item, replier)
            if work is None:
                running.append(asyncio.get_running_loop().create_task(job))
            else:
                work.spawn(job, name=f"resume:{row.key}")
            resumed += 1
        await asyncio.gather(*running)
        return resumed

    async def _guarded_turn(self, message: InboundMessage, replier: Replier) -> str:
        """Run a turn; whatever fails, the person gets a short answer and the log the details."""
        try:
            async with asyncio.timeout(self._config.turn_timeout_s):
                return await self._turn(message, replier)
        except TimeoutError:
            await self._say(replier, SORRY_SLOW)
            outcome = "timeout"
        except LLMError as error:
            log.warning("model unavailable: %s", error)
            await self._say(replier, SORRY_MODEL)
            outcome = "llm_error"
        except Exception:
            log.exception("turn failed")
            await self._say(replier, SORRY_BROKEN)
            outcome = "error"
        async with self._deps.db.session() as session:
            await self._inbox.done(session, key=_event_key(message))
        return outcome

    async def _load(self, address: ConversationAddress) -> tuple[Conversation, list[Message]]:
        """The conversation and its recent history; only a new conversation costs a write."""
        where = {
            "platform": address.platform,
            "workspace_id": address.workspace_id,
            "chat_id": address.chat_id,
            "thread_id": address.thread_id,
        }
        async with self._deps.db.session(read_only=True) as session:
            conversation = await repositories.find_conversation(session, **where)
            if conversation is not None:
                rows = await repositories.history_window(
                    session,
                    conversation_id=conversation.id,
                    at_least=self._config.history_messages,
                    step=self._config.history_step,
                )
                return conversation, rows
        async with self._deps.db.session() as session:
            created = await repositories.get_or_create_conversation(
                session,
                platform=address.platform,
                workspace_id=address.workspace_id,
                chat_id=address.chat_id,
                thread_id=address.thread_id,
            )
        return created, []

    async def _turn(self, message: InboundMessage, replier: Replier) -> str:
        if _is_forget_me(message.text) and self._deps.people is not None:
            # The person's own data: handled in code, never by the model.
            said = await self._deps.people.forget(message.address, message.sender)
            await self._say(replier, said)
            async with self._deps.db.session() as session:
                await self._inbox.done(session, key=_event_key(message))
            return "ok"
        conversation, rows = await self._load(message.address)
        state = ConversationState.from_json(conversation.state)
        history = messages_from_rows((row.role, row.content) for row in rows)
        user = LLMMessage("user", (TextPart(_user_text(message)),))
        ctx = ToolContext(
            self._deps,
            message.address,
            message.sender,
            replier,
            state,
            conversation.id,
            origin=_event_key(message),
            private=message.private,
        )
        async with self._gate.released():  # may answer a partner waiting on the person
            answered = await self._questions.text(ctx, message.text, private=message.private)
        if answered is not None:
            # The asker's open question takes this message before the model does.
            for reply in answered:
                await replier.send(reply)
            async with self._deps.db.session() as session:
                await self._save_state(session, conversation, state)
                await self._inbox.done(session, key=_event_key(message))
            return "answered"
        for relay in self._relays:
            async with self._gate.released():  # an agency's turn streams for a while
                relayed = await relay(ctx, message)
            if relayed is not None:
                # Someone else answers here now (an agency's agent): not the model.
                for reply in relayed:
                    await replier.send(reply)
                async with self._deps.db.session() as session:
                    await self._inbox.done(session, key=_event_key(message))
                return "relayed"
        if is_greeting(message.text):
            # "help", "hi", Telegram's Start: the welcome, built in code (no model call).
            offline = isinstance(self._llm, OfflinePlanner)
            await replier.send(await welcome(self._deps, message.address, offline=offline))
            async with self._deps.db.session() as session:
                await self._inbox.done(session, key=_event_key(message))
            return "welcome"
        tools = await self._available_tools(ctx)
        new: list[LLMMessage] = [user]
        outcome = "stuck"
        used = Usage()
        for _ in range(self._config.max_tool_rounds):
            stream = LazyStream(replier)
            request = LLMRequest(
                system=self._system,
                messages=(*history, *new),
                tools=tuple(t.spec for t in tools.values()),
                stable=len(history),
                on_text=stream.append,
            )
            try:
                async with self._gate.released():
                    response = await self._llm.complete(request)
            finally:
                await stream.close()
            metrics.count_tokens(response.usage)
            used = metrics.add_usage(used, response.usage)
            new.append(LLMMessage("assistant", response.parts or (TextPart(""),)))
            calls = response.tool_calls
            if not calls:
                if not stream.shown:
                    await self._say(replier, response.text)
                outcome = "ok"
                break
            async with self._gate.released():  # tools wait on partners
                results = [await self._call(ctx, tools, call, i) for i, call in enumerate(calls)]
            new.append(LLMMessage("user", tuple(results)))
        else:
            await self._say(replier, SORRY_STUCK)
        metrics.count_turn_tokens(used)
        async with self._deps.db.session() as session:
            await self._save_state(session, conversation, state)  # locks the row first
            await repositories.append_messages(
                session,
                conversation_id=conversation.id,
                messages=[
                    repositories.NewMessage(
                        item.role,
                        message_to_json(item),
                        message.sender.user_id if item is user else None,
                    )
                    for item in new
                ],
            )
            await self._inbox.done(session, key=_event_key(message))
        return outcome

    async def _press(self, press: ButtonPress, replier: Replier) -> None:
        """Buttons never go through the model: each value maps to code that checks who pressed."""
        conversation, _ = await self._load(press.address)
        state = ConversationState.from_json(conversation.state)
        ctx = ToolContext(
            self._deps,
            press.address,
            press.sender,
            replier,
            state,
            conversation.id,
            origin=_event_key(press),
        )
        try:
            replies = await self._buttons.dispatch(ctx, press.value)
        except PartnerError as error:
            replies = (Reply(text=str(partner_failure(error).for_model["error"])),)
        except Exception:
            log.exception("button %s failed", press.value.split(":", 1)[0])
            replies = (Reply(text=SORRY_BUTTON),)
        for reply in replies:
            if reply == BUTTON_EXPIRED:  # told to the presser alone, like every refusal
                reply = ctx.privately(reply.text)
            await replier.send(reply)
        async with self._deps.db.session() as session:
            await self._save_state(session, conversation, state)
            await self._inbox.done(session, key=_event_key(press))

    @staticmethod
    async def _save_state(
        session: AsyncSession, conversation: Conversation, state: ConversationState
    ) -> None:
        """Write only what this turn changed, so a job's results that landed meanwhile stay."""
        before = conversation.state or {}
        changes = {k: v for k, v in state.to_json().items() if before.get(k) != v}
        await repositories.merge_conversation_state(
            session, conversation_id=conversation.id, changes=changes
        )

    async def _available_tools(self, ctx: ToolContext) -> dict[str, Tool]:
        """Tools of partners not configured here are left out, so the model cannot offer them.
        Each partner is resolved once per turn, however many tools it has."""
        resolver = self._deps.credentials or self._deps.outgoing.credentials
        partners = sorted({t.partner for t in self._tools.values() if t.partner is not None})
        configured = {
            partner: await resolver.credentials(ctx.address, partner) is not None
            for partner in partners
        }
        return {
            name: tool
            for name, tool in self._tools.items()
            if (tool.partner is None or configured[tool.partner])
            and (tool.offered is None or await tool.offered(ctx))
        }

    async def _call(
        self, ctx: ToolContext, tools: dict[str, Tool], call: ToolCallPart, index: int
    ) -> ToolResultPart:
        outcome = await self._run_tool(ctx, tools, call, index)
        metrics.TOOL_CALLS.labels(
            call.name if call.name in self._tools else "unknown",
            "error" if outcome.is_error else "ok",
        ).inc()
        for reply in outcome.replies:
            await ctx.replier.send(reply)
        return ToolResultPart(call.id, outcome.model_json(), outcome.is_error)

    async def _run_tool(
        self, ctx: ToolContext, tools: dict[str, Tool], call: ToolCallPart, index: int
    ) -> ToolOutcome:
        if index >= self._config.max_calls_per_round:
            return tool_error("Too many tool calls at once.", hint="Make one call at a time.")
        tool = tools.get(call.name)
        if tool is None:
            return tool_error(
                f"There is no tool named {call.name!r}.", hint="Use only the listed tools."
            )
        try:
            args = tool.validate(call.args)
        except ValidationError as error:
            return tool_error(
                f"Invalid arguments for {call.name}: {describe_validation_error(error)}",
                hint="Fix the arguments and call again.",
            )
        try:
            return await tool.run(ctx, args)
        except PartnerError as error:
            return partner_failure(error)

    @staticmethod
    async def _say(replier: Replier, text: str) -> None:
        text = text.strip()
        if text:
            await replier.send(Reply(text=text[:MAX_TEXT]))


def _user_text(message: InboundMessage) -> str:
    text = message.text.strip()
    if message.location is not None:
        shared = json.dumps(
            {"shared_location": {"lat": message.location.lat, "lng": message.location.lng}}
        )
        text = f"{text}\n{shared}" if text else shared
    return text or "(empty message)"


def _is_forget_me(text: str) -> bool:
    words = " ".join(text.lower().replace("/concierge", "").split()).strip(" .!/")
    return words == "forget me"


def _event_key(item: Inbound) -> str:
    return f"{item.address.platform}:{item.event_id}"


def new_event_id() -> str:
    """For front-ends without platform ids (the console): unique per message."""
    return uuid.uuid4().hex
