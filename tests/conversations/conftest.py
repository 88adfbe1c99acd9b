"""A conversation manager wired to the sandbox Outgoing server over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from conversations import ConversationAddress, ConversationManager, InboundMessage, Sender
from conversations.capabilities.callagent import CallAgentAccess
from conversations.capabilities.events import EventsAccess
from conversations.capabilities.onegent import OnegentAccess
from conversations.capabilities.registry import ALL_TOOLS, JOB_KINDS, RELAYS, buttons, questions
from conversations.capabilities.voyagent import VoyagentAccess
from conversations.credentials import EnvironmentCredentials
from conversations.delivery import OutboxSender
from conversations.jobs import JobRunner
from conversations.llm import LLM
from conversations.manager import ManagerConfig, new_event_id
from conversations.outgoing_access import OutgoingAccess
from conversations.people import People
from conversations.prompt import SYSTEM_PROMPT
from conversations.replies import Replier
from conversations.tools import ToolDeps
from integrations.sandbox import (
    DEFAULT_CALL_AGENT_KEY,
    DEFAULT_NEGOTIATED_KEY,
    DEFAULT_ONEGENT_KEY,
    RunningSandbox,
    SandboxConfig,
    running_outgoing_sandbox,
)
from storage import Database, FieldCipher, generate_key
from tests.fakes.chat import RecordingReplier

CIPHER = FieldCipher(generate_key())
# A job a "dead process" held is taken over within seconds, not serve's 20 (renewed every
# third of it, so a live runner keeps it).
JOB_LEASE_S = 5.0
ALICE = Sender("U_ALICE", "Alice")
HERE = ConversationAddress("console", "W1", "C1", "")


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with running_outgoing_sandbox(SandboxConfig.fast()) as running:
        yield running


class _Outlet:
    """Results that jobs post later reach the replier of the conversation's last message."""

    def __init__(self) -> None:
        self.repliers: dict[ConversationAddress, Replier] = {}

    def replier_for(self, address: ConversationAddress) -> Replier | None:
        return self.repliers.get(address)


@dataclass
class Harness:
    """Everything a manager test needs; `say` sends one message, lets the jobs it started
    finish (unless `settle=False`), and returns what was shown."""

    db: Database
    http: httpx.AsyncClient
    sandbox: RunningSandbox
    key: str | None
    config: ManagerConfig = field(default_factory=ManagerConfig)
    outlet: _Outlet = field(default_factory=_Outlet)
    runners: dict[int, JobRunner] = field(default_factory=dict)
    calls_url: str | None = None
    """A Call Agent sandbox's URL: phone calls are set up (with its default key)."""
    calls_per_day: int = 20
    onegent_url: str | None = None
    """An Onegent sandbox's `/api/v1` URL: reservations are set up (with its default key)."""
    events_url: str | None = None
    """An Events sandbox's URL: events matching is set up with `events_key`."""
    events_key: str | None = None
    voyagent_url: str | None = None
    """A Voyagent sandbox's URL: the agency is set up with `voyagent_login`."""
    voyagent_login: tuple[str, str] | None = None
    admins: frozenset[str] = frozenset()
    """Who the agency takes for workspace admins (they may decide any agency approval)."""

    def manager(self, llm: LLM, *, key: str | None = None) -> ConversationManager:
        credentials = EnvironmentCredentials(
            self.sandbox.base_url,
            key or self.key,
            call_agent_url=self.calls_url,
            call_agent_key=DEFAULT_CALL_AGENT_KEY if self.calls_url else None,
            onegent_url=self.onegent_url,
            onegent_key=DEFAULT_ONEGENT_KEY if self.onegent_url else None,
            events_url=self.events_url,
            events_key=self.events_key,
            voyagent_url=self.voyagent_url,
            voyagent_email=self.voyagent_login[0] if self.voyagent_login else None,
            voyagent_password=self.voyagent_login[1] if self.voyagent_login else None,
        )
        voyagent = None
        if self.voyagent_url:  # a fresh process: signed in afresh
            voyagent = VoyagentAccess(
                http=self.http,
                credentials=credentials,
                db=self.db,
                cipher=CIPHER,
                edit_every_s={"console": 0.05},
            )
        calls = CallAgentAccess(
            http=self.http,
            credentials=credentials,
            db=self.db,
            cipher=CIPHER,
            public_url="http://127.0.0.1:9",
            calls_per_day=self.calls_per_day,
        )
        people = People(self.db, CIPHER)
        deps = ToolDeps(
            db=self.db,
            outgoing=OutgoingAccess(http=self.http, credentials=credentials, people=people),
            people=people,
            progress_interval_s=0.05,
            job_kinds={kind.name: kind for kind in JOB_KINDS},
            call_agent=calls,
            onegent=OnegentAccess(http=self.http, credentials=credentials),
            events=EventsAccess(http=self.http, credentials=credentials)
            if self.events_url
            else None,
            voyagent=voyagent,
        )
        deps.admins.use("console", self._is_admin)
        answers = questions()
        manager = ConversationManager(
            llm=llm,
            deps=deps,
            tools=ALL_TOOLS,
            system_prompt=SYSTEM_PROMPT,
            buttons=buttons(answers),
            questions=answers,
            relays=RELAYS,
            config=self.config,
        )
        runner = JobRunner(
            db=self.db,
            kinds=JOB_KINDS,
            deps=deps,
            owner=f"test-{id(manager)}",
            replier_for=self.outlet.replier_for,
            lease_s=JOB_LEASE_S,
        )
        deps.jobs.listen(runner.wake)
        self.runners[id(manager)] = runner
        return manager

    async def _is_admin(self, address: ConversationAddress, user_id: str) -> bool:
        return user_id in self.admins

    async def settle(self, manager: ConversationManager) -> None:
        """Run the jobs due now to their end and deliver what they said."""
        runner = self.runners[id(manager)]
        outbox = OutboxSender(self.db, {"console": self.outlet})
        while await runner.start_due():
            await runner.drain()
        await outbox.deliver_due()

    async def say(
        self,
        manager: ConversationManager,
        text: str,
        *,
        address: ConversationAddress = HERE,
        sender: Sender = ALICE,
        event_id: str | None = None,
        replier: RecordingReplier | None = None,
        settle: bool = True,
        private: bool = False,
    ) -> RecordingReplier:
        replier = replier or RecordingReplier()
        message = InboundMessage(address, sender, text, event_id or new_event_id(), private=private)
        self.outlet.repliers[address] = replier
        await manager.handle(message, replier)
        if settle:
            await self.settle(manager)
        return replier


@pytest.fixture
async def harness(sqlite_database: Database, sandbox: RunningSandbox) -> AsyncIterator[Harness]:
    async with httpx.AsyncClient() as http:
        yield Harness(sqlite_database, http, sandbox, DEFAULT_NEGOTIATED_KEY)
