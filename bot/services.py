"""Builds the long-lived services once, for `serve` and `demo` alike."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx

from bot.settings import Settings, secret
from conversations import LLM, ConversationManager, WorkTracker
from conversations.credentials import EnvironmentCredentials
from conversations.delivery import OutboxSender, Outlet
from conversations.offline import OfflinePlanner
from conversations.outgoing_access import OutgoingAccess
from conversations.prompt import SYSTEM_PROMPT
from conversations.replies import Replier
from conversations.tools import ALL_TOOLS, ToolDeps
from conversations.types import ConversationAddress
from integrations.anthropic_llm import AnthropicLLM
from storage import Database
from storage.migrate import upgrade

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 20.0


@dataclass
class Services:
    settings: Settings
    db: Database
    http: httpx.AsyncClient
    llm: LLM
    manager: ConversationManager
    work: WorkTracker
    outlets: dict[str, Outlet] = field(default_factory=dict)
    outbox: OutboxSender = field(init=False)

    def __post_init__(self) -> None:
        self.outbox = OutboxSender(self.db, self.outlets)

    def replier_for(self, address: ConversationAddress) -> Replier | None:
        """A replier for any conversation whose platform has an outlet here."""
        outlet = self.outlets.get(address.platform)
        return outlet.replier_for(address) if outlet else None

    @property
    def offline(self) -> bool:
        return isinstance(self.llm, OfflinePlanner)


def build_llm(settings: Settings) -> LLM:
    """Claude when a key is set, else the offline planner (the bot says it is offline)."""
    if settings.anthropic_api_key is None:
        return OfflinePlanner()
    return AnthropicLLM.from_settings(
        api_key=secret(settings.anthropic_api_key),
        base_url=settings.anthropic_base_url,
        model=settings.llm_model,
    )


def partner_http_client() -> httpx.AsyncClient:
    """One pooled client for every partner; each request sets its own timeouts."""
    return httpx.AsyncClient(
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        headers={"User-Agent": "concierge/0.1"},
        follow_redirects=False,
    )


@contextlib.asynccontextmanager
async def running_services(
    settings: Settings, *, llm: LLM | None = None
) -> AsyncIterator[Services]:
    """Migrate, connect, build the manager; on exit drain running work, then close."""
    await upgrade(settings.database_url)
    db = await Database.create(settings.database_url)
    http = partner_http_client()
    work = WorkTracker()
    try:
        credentials = EnvironmentCredentials(
            outgoing_url=settings.outgoing_api_url, outgoing_key=secret(settings.outgoing_api_key)
        )
        deps = ToolDeps(db=db, outgoing=OutgoingAccess(http=http, credentials=credentials))
        model = llm or build_llm(settings)
        manager = ConversationManager(
            llm=model, deps=deps, tools=ALL_TOOLS, system_prompt=SYSTEM_PROMPT
        )
        yield Services(settings, db, http, model, manager, work)
    finally:
        await work.drain(SHUTDOWN_GRACE_S)
        await http.aclose()
        await db.dispose()
