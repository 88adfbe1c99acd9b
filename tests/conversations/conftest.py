"""A conversation manager wired to the sandbox Outgoing server over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from conversations import ConversationAddress, ConversationManager, InboundMessage, Sender
from conversations.credentials import EnvironmentCredentials
from conversations.llm import LLM
from conversations.manager import ManagerConfig, new_event_id
from conversations.outgoing_access import OutgoingAccess
from conversations.people import People
from conversations.prompt import SYSTEM_PROMPT
from conversations.tools import ALL_TOOLS, ToolDeps
from integrations.sandbox import (
    DEFAULT_NEGOTIATED_KEY,
    RunningSandbox,
    SandboxConfig,
    running_outgoing_sandbox,
)
from storage import Database, FieldCipher, generate_key
from tests.fakes.chat import RecordingReplier

CIPHER = FieldCipher(generate_key())
ALICE = Sender("U_ALICE", "Alice")
HERE = ConversationAddress("console", "W1", "C1", "")


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with running_outgoing_sandbox(SandboxConfig.fast()) as running:
        yield running


@dataclass
class Harness:
    """Everything a manager test needs; `say` sends one message and returns what was shown."""

    db: Database
    http: httpx.AsyncClient
    sandbox: RunningSandbox
    key: str | None
    config: ManagerConfig = field(default_factory=ManagerConfig)

    def manager(self, llm: LLM, *, key: str | None = None) -> ConversationManager:
        credentials = EnvironmentCredentials(self.sandbox.base_url, key or self.key)
        deps = ToolDeps(
            db=self.db,
            outgoing=OutgoingAccess(
                http=self.http, credentials=credentials, people=People(self.db, CIPHER)
            ),
            progress_interval_s=0.05,
        )
        return ConversationManager(
            llm=llm, deps=deps, tools=ALL_TOOLS, system_prompt=SYSTEM_PROMPT, config=self.config
        )

    async def say(
        self,
        manager: ConversationManager,
        text: str,
        *,
        address: ConversationAddress = HERE,
        sender: Sender = ALICE,
        event_id: str | None = None,
        replier: RecordingReplier | None = None,
    ) -> RecordingReplier:
        replier = replier or RecordingReplier()
        message = InboundMessage(address, sender, text, event_id or new_event_id())
        await manager.handle(message, replier)
        return replier


@pytest.fixture
async def harness(sqlite_database: Database, sandbox: RunningSandbox) -> AsyncIterator[Harness]:
    async with httpx.AsyncClient() as http:
        yield Harness(sqlite_database, http, sandbox, DEFAULT_NEGOTIATED_KEY)
