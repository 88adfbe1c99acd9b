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
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from conversations import metrics
from conversations.history import message_to_json, messages_from_rows
from conversations.llm import (
    LLM,
    LLMError,
    LLMMessage,
    LLMRequest,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from conversations.locks import KeyedLocks
from conversations.replies import Replier, Reply
from conversations.state import ConversationState
from conversations.tools.base import Tool, ToolOutcome, describe_validation_error, tool_error
from conversations.tools.context import ToolContext, ToolDeps
from conversations.tools.failures import partner_failure
from conversations.types import InboundMessage
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
MAX_TEXT = 4000


@dataclass(frozen=True)
class ManagerConfig:
    max_tool_rounds: int = 6
    max_calls_per_round: int = 4
    history_messages: int = 16
    turn_timeout_s: float = 300.0


class ConversationManager:
    def __init__(
        self,
        *,
        llm: LLM,
        deps: ToolDeps,
        tools: Sequence[Tool],
        system_prompt: str,
        config: ManagerConfig | None = None,
    ) -> None:
        self._llm = llm
        self._deps = deps
        self._tools = {t.name: t for t in tools}
        self._system = system_prompt
        self._config = config or ManagerConfig()
        self._locks = KeyedLocks()

    async def handle(self, message: InboundMessage, replier: Replier) -> bool:
        """Handle one inbound message once; False when it was a duplicate delivery.

        The conversation's lock is taken before anything is awaited, so messages of one
        conversation are handled in arrival order; other conversations never wait.
        """
        platform = message.address.platform
        address = message.address
        async with self._locks.hold(address.key):
            async with self._deps.db.session() as session:
                fresh = await repositories.claim_event(
                    session, key=f"{platform}:{message.event_id}", source=platform
                )
                if fresh:
                    conversation = await repositories.get_or_create_conversation(
                        session,
                        platform=address.platform,
                        workspace_id=address.workspace_id,
                        chat_id=address.chat_id,
                        thread_id=address.thread_id,
                    )
                    rows = await repositories.recent_messages(
                        session,
                        conversation_id=conversation.id,
                        limit=self._config.history_messages,
                    )
            if not fresh:
                metrics.DUPLICATES.labels(platform).inc()
                return False
            started = time.monotonic()
            outcome = await self._guarded_turn(message, replier, conversation, rows)
        metrics.TURNS.labels(platform, outcome).inc()
        metrics.TURN_SECONDS.labels(platform).observe(time.monotonic() - started)
        return True

    async def _guarded_turn(
        self,
        message: InboundMessage,
        replier: Replier,
        conversation: Conversation,
        rows: Sequence[Message],
    ) -> str:
        """Run a turn; whatever fails, the person gets a short answer and the log the details."""
        try:
            async with asyncio.timeout(self._config.turn_timeout_s):
                return await self._turn(message, replier, conversation, rows)
        except TimeoutError:
            await self._say(replier, SORRY_SLOW)
            return "timeout"
        except LLMError as error:
            log.warning("model unavailable: %s", error)
            await self._say(replier, SORRY_MODEL)
            return "llm_error"
        except Exception:
            log.exception("turn failed")
            await self._say(replier, SORRY_BROKEN)
            return "error"

    async def _turn(
        self,
        message: InboundMessage,
        replier: Replier,
        conversation: Conversation,
        rows: Sequence[Message],
    ) -> str:
        address = message.address
        state = ConversationState.from_json(conversation.state)
        history = messages_from_rows((row.role, row.content) for row in rows)
        user = LLMMessage("user", (TextPart(_user_text(message)),))
        ctx = ToolContext(self._deps, address, message.sender, replier, state, conversation.id)
        tools = await self._available_tools(ctx)
        new: list[LLMMessage] = [user]
        outcome = "stuck"
        for _ in range(self._config.max_tool_rounds):
            request = LLMRequest(
                system=self._system,
                messages=(*history, *new),
                tools=tuple(t.spec for t in tools.values()),
            )
            response = await self._llm.complete(request)
            new.append(LLMMessage("assistant", response.parts or (TextPart(""),)))
            calls = response.tool_calls
            if not calls:
                await self._say(replier, response.text)
                outcome = "ok"
                break
            results = [await self._call(ctx, tools, call, i) for i, call in enumerate(calls)]
            new.append(LLMMessage("user", tuple(results)))
        else:
            await self._say(replier, SORRY_STUCK)
        async with self._deps.db.session() as session:
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
            await repositories.update_conversation_state(
                session, conversation_id=conversation.id, state=state.to_json()
            )
        return outcome

    async def _available_tools(self, ctx: ToolContext) -> dict[str, Tool]:
        """Tools of partners not configured here are left out, so the model cannot offer them."""
        outgoing = await self._deps.outgoing.configured(ctx.address)
        return {n: t for n, t in self._tools.items() if t.partner != "outgoing" or outgoing}

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


def new_event_id() -> str:
    """For front-ends without platform ids (the console): unique per message."""
    return uuid.uuid4().hex
