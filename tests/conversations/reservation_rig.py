"""The conversation-level rig for reservations: a live chat (`live`) against the Onegent
sandbox over loopback HTTP."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import text

from conversations import ConversationManager
from conversations.llm import LLMResponse, ToolCallPart
from integrations.sandbox import OnegentSandboxConfig, running_onegent_sandbox
from integrations.sandbox.onegent_state import OnegentSandboxState
from tests.conversations.conftest import Harness
from tests.conversations.live import LiveChat, live_chat
from tests.fakes.chat import RecordingReplier
from tests.fakes.llm import ScriptedLLM, call

PHONE, EMAIL = "+1 212 555 0199", "alex.traveler@example.com"


@dataclass
class Reservations(LiveChat[ScriptedLLM]):
    state: OnegentSandboxState

    async def answer_profile(self) -> None:
        for words, answer in (
            ("What name", "Alex Traveler"),
            ("Which e-mail", EMAIL),
            ("Which phone", PHONE),
        ):
            await self.wait(lambda w=words: bool(self.shown(w)))  # type: ignore[misc]
            await self.say(answer)

    async def confirm(self) -> None:
        await self.wait(lambda: any(r.approval is not None for r in self.chat.replies))
        approval = next(r.approval for r in self.chat.replies if r.approval is not None)
        assert approval is not None
        await self.press(approval.confirm.value)


def reserve(**args: object) -> list[LLMResponse | ToolCallPart | str]:
    return [call("reserve", **args), "Let's get that booked."]


@contextlib.asynccontextmanager
async def running_reservations(
    harness: Harness, config: OnegentSandboxConfig, script: list[LLMResponse | ToolCallPart | str]
) -> AsyncIterator[Reservations]:
    async with running_onegent_sandbox(config) as sandbox:
        harness.onegent_url = sandbox.base_url

        def make(
            h: Harness, manager: ConversationManager, chat: RecordingReplier, model: ScriptedLLM
        ) -> Reservations:
            return Reservations(h, manager, chat, model, sandbox.state)

        async with live_chat(harness, ScriptedLLM(script), make) as running:
            yield running


async def db_text(harness: Harness) -> str:
    """Every row of every table, as text: what someone reading the database would see."""
    async with harness.db.engine.connect() as conn:
        names = await conn.run_sync(lambda c: c.dialect.get_table_names(c))
        dump: list[str] = []
        for name in names:
            rows = (await conn.execute(text(f'SELECT * FROM "{name}"'))).all()  # noqa: S608
            dump.extend(repr(tuple(row)) for row in rows)
    return "\n".join(dump)
