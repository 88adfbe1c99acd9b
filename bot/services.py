"""Builds the long-lived services once, for `serve` and `demo` alike."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from bot.loop_lag import LoopLag
from bot.settings import Settings, secret
from conversations import LLM, ConversationManager, WorkTracker
from conversations.booking.config import BookingConfig
from conversations.capabilities.callagent import CallAgentAccess
from conversations.capabilities.events import EventsAccess
from conversations.capabilities.onegent import OnegentAccess
from conversations.capabilities.registry import ALL_TOOLS, JOB_KINDS, RELAYS, buttons, questions
from conversations.capabilities.voyagent import VoyagentAccess
from conversations.credentials import EnvironmentCredentials
from conversations.delivery import OutboxSender, Outlet
from conversations.inbox import TAKE_OVER_EVERY_S
from conversations.jobs import JobRunner
from conversations.leases import new_owner
from conversations.offline import OfflinePlanner
from conversations.outgoing_access import OutgoingAccess
from conversations.people import People
from conversations.prompt import SYSTEM_PROMPT
from conversations.replies import Replier
from conversations.tools import ToolDeps
from conversations.types import ConversationAddress
from conversations.workspaces import StoredCredentials, Workspaces
from integrations.anthropic_llm import AnthropicLLM
from integrations.lanes import LaneTransport
from storage import Database, FieldCipher, repositories
from storage.migrate import upgrade
from storage.sealing import seal_with

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
    deps: ToolDeps
    workspaces: Workspaces
    people: People
    owner: str
    outlets: dict[str, Outlet] = field(default_factory=dict)
    outbox: OutboxSender = field(init=False)
    jobs: JobRunner = field(init=False)

    def __post_init__(self) -> None:
        self.outbox = OutboxSender(self.db, self.outlets)
        self.jobs = JobRunner(
            db=self.db,
            kinds=JOB_KINDS,
            deps=self.deps,
            owner=self.owner,
            replier_for=self.replier_for,
            on_said=self.outbox.wake,
        )
        self.deps.jobs.listen(self.jobs.wake)

    async def settle_jobs(self, timeout_s: float) -> None:
        """Wait (bounded) until no job of this process's kinds is open, delivering what
        arrives (the demo's end of input: a search or a booking still on its way)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            await self.jobs.start_due()
            await self.jobs.drain(timeout_s=0.5)
            await self.outbox.deliver_due()
            async with self.db.session(read_only=True) as session:
                waiting = await repositories.list_open_actions(
                    session,
                    kinds=list(self.jobs.kinds),
                    statuses=[s for k in self.jobs.kinds.values() for s in k.waiting_statuses],
                )
            coming = [a for a in waiting if self.jobs.kinds[a.kind].on_its_way(a)]
            async with self.db.session(read_only=True) as session:
                # A job waiting for a person's answer is not on its way by itself.
                coming = [
                    a
                    for a in coming
                    if not await repositories.job_questions(session, action_id=a.id)
                ]
            if not coming or asyncio.get_running_loop().time() > deadline:
                return
            await asyncio.sleep(0.2)

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


def field_cipher(settings: Settings) -> FieldCipher:
    """Seals secrets and personal data; `serve` and `demo` make sure a key is configured."""
    key = secret(settings.secret_key)
    if key is None:
        raise RuntimeError("CONCIERGE_SECRET_KEY is not set")
    return FieldCipher(key, secret(settings.secret_key_previous))


def booking_config(settings: Settings) -> BookingConfig:
    """Webhook tokens are derived from the secret key, so only their hashes are stored."""
    key = secret(settings.secret_key) or ""
    return BookingConfig(
        public_url=settings.public_url,
        timezone=settings.timezone,
        payment_mode=settings.payment_mode.value,
        token_key=hashlib.sha256(b"concierge booking webhooks\x00" + key.encode()).digest()
        if key
        else b"",
    )


def partner_http_client() -> httpx.AsyncClient:
    """One client for every partner, its connections in lanes (`integrations.lanes`); each
    request sets its own timeouts."""
    return httpx.AsyncClient(
        transport=LaneTransport(),
        headers={"User-Agent": "concierge/0.1"},
        follow_redirects=False,
    )


@contextlib.asynccontextmanager
async def running_services(
    settings: Settings, *, llm: LLM | None = None, progress_interval_s: float | None = None
) -> AsyncIterator[Services]:
    """Migrate, connect, build the manager; on exit drain running work, then close."""
    cipher = field_cipher(settings)
    await upgrade(settings.database_url, cipher=cipher)
    db = await Database.create(settings.database_url)
    seal_with(db, cipher)
    http = partner_http_client()
    work = WorkTracker()
    model = llm or build_llm(settings)
    try:
        defaults = EnvironmentCredentials.from_settings(settings)
        credentials = StoredCredentials(db=db, cipher=cipher, fallback=defaults)
        workspaces = Workspaces(
            db=db,
            cipher=cipher,
            http=http,
            outgoing_url=settings.outgoing_api_url,
            public_url=settings.public_url,
            on_bound=credentials.forget_cached,
        )
        people = People(db, cipher)
        calls = CallAgentAccess(
            http=http,
            credentials=credentials,
            db=db,
            cipher=cipher,
            public_url=settings.public_url,
            calls_per_day=settings.calls_per_day,
        )
        deps = ToolDeps(
            db=db,
            outgoing=OutgoingAccess(http=http, credentials=credentials, people=people),
            booking=booking_config(settings),
            people=people,
            credentials=credentials,
            job_kinds={kind.name: kind for kind in JOB_KINDS},
            call_agent=calls,
            onegent=OnegentAccess(http=http, credentials=credentials),
            events=EventsAccess(
                http=http,
                credentials=credentials,
                public_url=settings.public_url,
                token_key=booking_config(settings).token_key,
            ),
            voyagent=VoyagentAccess(
                http=http,
                credentials=credentials,
                db=db,
                cipher=cipher,
                threads_by_message=frozenset({"slack"}),
            ),
        )
        if progress_interval_s is not None:
            deps = dataclasses.replace(deps, progress_interval_s=progress_interval_s)
        owner = new_owner()
        answers = questions()
        manager = ConversationManager(
            llm=model,
            deps=deps,
            tools=ALL_TOOLS,
            system_prompt=SYSTEM_PROMPT,
            buttons=buttons(answers),
            questions=answers,
            relays=RELAYS,
            owner=owner,
        )
        try:
            yield Services(
                settings, db, http, model, manager, work, deps, workspaces, people, owner
            )
        finally:
            await work.drain(SHUTDOWN_GRACE_S)
            await manager.aclose()
    finally:
        if llm is None and isinstance(model, AnthropicLLM):
            await model.aclose()
        await http.aclose()
        await db.dispose()


PRUNE_EVERY_S = 3600.0
EVENT_MEMORY = timedelta(days=7)  # longer than any platform keeps retrying a delivery


async def _prune(services: Services) -> None:
    """Forget dedupe claims and button tokens nobody can send or press any more."""
    async with services.db.session() as session:
        await repositories.prune_events(session, before=datetime.now(UTC) - EVENT_MEMORY)
        await repositories.prune_button_tokens(session)


async def _maintain_forever(services: Services) -> None:
    while True:
        try:
            await _prune(services)
        except Exception:
            log.exception("maintenance failed")
        await asyncio.sleep(PRUNE_EVERY_S)


@contextlib.asynccontextmanager
async def background_loops(services: Services) -> AsyncIterator[None]:
    """The outbox sender, the job runner, maintenance (pruning), taking over inbound items
    whose process died (every few seconds, since replicas share the database), and the
    event-loop lag probe."""
    started = datetime.now(UTC)

    async def resume_forever() -> None:
        while True:
            try:
                await services.manager.resume_unfinished(
                    services.replier_for, accepted_before=started, work=services.work
                )
            except Exception:
                log.exception("taking over unfinished items failed")
            await asyncio.sleep(TAKE_OVER_EVERY_S)

    loops = [
        asyncio.create_task(services.outbox.run(), name="outbox"),
        asyncio.create_task(services.jobs.run(), name="jobs"),
        asyncio.create_task(_maintain_forever(services), name="maintenance"),
        asyncio.create_task(resume_forever(), name="resume-unfinished"),
        asyncio.create_task(LoopLag().run(), name="loop-lag"),
    ]
    try:
        yield
    finally:
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
