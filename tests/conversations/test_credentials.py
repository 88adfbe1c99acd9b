"""Credentials by (address, partner): the environment, a workspace's bound key, isolation;
which tools a conversation is offered; how each partner's 404 is worded."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest
from sqlmodel import col, select, update

from bot.settings import Settings
from conversations import ConversationAddress, ConversationManager, InboundMessage, Sender
from conversations.credentials import (
    LOGIN_KIND,
    PARTNERS,
    EnvironmentCredentials,
    PartnerCredentials,
)
from conversations.llm import LLMRequest, LLMResponse
from conversations.manager import new_event_id
from conversations.outgoing_access import OutgoingAccess
from conversations.people import People
from conversations.tools import ToolContext, ToolDeps, ToolOutcome, tool
from conversations.tools.failures import Missing, partner_failure
from conversations.workspaces import StoredCredentials
from integrations.errors import NotFound
from storage import Database, FieldCipher, generate_key, repositories
from storage.models import WorkspaceCredential
from tests.fakes.chat import RecordingReplier
from tests.fakes.llm import FunctionLLM, text

CIPHER = FieldCipher(generate_key())
IN_A = ConversationAddress("slack", "T_A", "C1", "")
IN_B = ConversationAddress("slack", "T_B", "C1", "")
SAME_ID_ELSEWHERE = ConversationAddress("telegram", "T_A", "C1", "")

ENVIRONMENT = {
    "OUTGOING_API_URL": "https://api.outgoing.test/",
    "OUTGOING_API_KEY": "og_api_env",
    "CALL_AGENT_API_URL": "https://calls.test",
    "CALL_AGENT_API_KEY": "ca_env",
    "ONEGENT_API_URL": "https://onegent.test/api/v1",
    "ONEGENT_API_KEY": "ogk_env",
    "EVENTS_API_URL": "https://events.test",
    "EVENTS_API_KEY": "ev_env",
    "VOYAGENT_API_URL": "https://voyagent.test",
    "VOYAGENT_EMAIL": "bot@concierge.test",
    "VOYAGENT_PASSWORD": "pw_env",
}
EXPECTED = {
    "outgoing": PartnerCredentials("https://api.outgoing.test", "og_api_env"),
    "call_agent": PartnerCredentials("https://calls.test", "ca_env"),
    "onegent": PartnerCredentials("https://onegent.test/api/v1", "ogk_env"),
    "events": PartnerCredentials("https://events.test", "ev_env"),
    "voyagent": PartnerCredentials(
        "https://voyagent.test", "pw_env", LOGIN_KIND, login="bot@concierge.test"
    ),
}
#: what switches each partner off when unset
REQUIRED = {
    "outgoing": ("OUTGOING_API_KEY",),
    "call_agent": ("CALL_AGENT_API_URL", "CALL_AGENT_API_KEY"),
    "onegent": ("ONEGENT_API_URL", "ONEGENT_API_KEY"),
    "events": ("EVENTS_API_URL", "EVENTS_API_KEY"),
    "voyagent": ("VOYAGENT_API_URL", "VOYAGENT_EMAIL", "VOYAGENT_PASSWORD"),
}


def environment(**overrides: str) -> EnvironmentCredentials:
    settings = Settings(**{**ENVIRONMENT, **overrides})  # type: ignore[arg-type]
    return EnvironmentCredentials.from_settings(settings)


async def bind(db: Database, address: ConversationAddress, partner: str, key: str) -> None:
    async with db.session() as session:
        workspace = await repositories.get_or_create_workspace(
            session, platform=address.platform, external_id=address.workspace_id
        )
        await repositories.bind_credential(
            session, workspace_id=workspace.id, partner=partner, key=key, kind=None, cipher=CIPHER
        )


# --------------------------------------------------------------------------- environment


@pytest.mark.parametrize("partner", PARTNERS)
async def test_the_environment_is_the_fallback_for_every_partner(partner: str) -> None:
    assert await environment().credentials(IN_A, partner) == EXPECTED[partner]


@pytest.mark.parametrize(("partner", "name"), [(p, n) for p, ns in REQUIRED.items() for n in ns])
async def test_an_unset_url_or_key_switches_a_partner_off(partner: str, name: str) -> None:
    env = environment(**{name: ""})
    assert await env.credentials(IN_A, partner) is None
    others = [p for p in PARTNERS if p != partner]
    assert all([await env.credentials(IN_A, p) is not None for p in others])


async def test_an_unknown_partner_resolves_to_nothing() -> None:
    assert await environment().credentials(IN_A, "nonesuch") is None


def test_no_secret_is_ever_printed() -> None:
    printed = repr(environment()) + "".join(repr(c) for c in EXPECTED.values())
    assert not any(ENVIRONMENT[name] in printed for name in ENVIRONMENT if "KEY" in name)
    assert "pw_env" not in printed and "bot@concierge.test" not in printed


def test_older_callers_still_pass_outgoing_alone() -> None:
    env = EnvironmentCredentials("https://o.test", "og_api_x")
    assert env.base_url("outgoing") == "https://o.test"
    assert env.base_url("onegent") is None


# --------------------------------------------------------------------------- bound keys


async def test_a_bound_workspace_key_wins(sqlite_database: Database) -> None:
    resolver = StoredCredentials(db=sqlite_database, cipher=CIPHER, fallback=environment())
    await bind(sqlite_database, IN_A, "onegent", "ogk_bound_a")
    await bind(sqlite_database, IN_A, "outgoing", "og_api_bound_a")
    resolver.forget_cached()
    onegent = await resolver.credentials(IN_A, "onegent")
    assert onegent == PartnerCredentials("https://onegent.test/api/v1", "ogk_bound_a")
    outgoing = await resolver.credentials(IN_A, "outgoing")
    assert outgoing is not None and outgoing.key == "og_api_bound_a"
    assert await resolver.credentials(IN_A, "events") == EXPECTED["events"]  # nothing bound


async def test_a_key_of_workspace_a_never_resolves_for_b(sqlite_database: Database) -> None:
    no_defaults = EnvironmentCredentials(
        "https://api.outgoing.test", None, call_agent_url="https://calls.test"
    )
    resolver = StoredCredentials(db=sqlite_database, cipher=CIPHER, fallback=no_defaults)
    await bind(sqlite_database, IN_A, "call_agent", "ca_bound_a")
    await bind(sqlite_database, IN_B, "outgoing", "og_api_bound_b")
    assert await resolver.credentials(IN_A, "call_agent") == PartnerCredentials(
        "https://calls.test", "ca_bound_a"
    )
    assert await resolver.credentials(IN_B, "call_agent") is None
    assert await resolver.credentials(SAME_ID_ELSEWHERE, "call_agent") is None
    assert await resolver.credentials(IN_A, "outgoing") is None
    with_defaults = StoredCredentials(db=sqlite_database, cipher=CIPHER, fallback=environment())
    assert await with_defaults.credentials(IN_B, "call_agent") == EXPECTED["call_agent"]


async def test_a_bound_key_needs_its_partners_url(sqlite_database: Database) -> None:
    resolver = StoredCredentials(
        db=sqlite_database, cipher=CIPHER, fallback=environment(EVENTS_API_URL="")
    )
    await bind(sqlite_database, IN_A, "events", "ev_bound_a")
    assert await resolver.credentials(IN_A, "events") is None


async def test_a_ciphertext_copied_from_another_workspace_does_not_open(
    sqlite_database: Database,
) -> None:
    await bind(sqlite_database, IN_A, "onegent", "ogk_bound_a")
    await bind(sqlite_database, IN_B, "onegent", "ogk_bound_b")
    async with sqlite_database.session() as session:
        rows = (await session.exec(select(WorkspaceCredential))).all()
        stolen = next(r.key_ciphertext for r in rows if r.key_ciphertext)
        for row in rows:
            await session.exec(
                update(WorkspaceCredential)
                .where(col(WorkspaceCredential.id) == row.id)
                .values(key_ciphertext=stolen)
            )
    resolver = StoredCredentials(db=sqlite_database, cipher=CIPHER, fallback=environment())
    resolved = {await resolver.credentials(a, "onegent") for a in (IN_A, IN_B)}
    assert EXPECTED["onegent"] in resolved  # the victim falls back to the deployment's key
    assert len({c.key for c in resolved if c}) == 2  # and never gets the other's key


async def test_one_read_serves_every_partner_of_a_workspace(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = Counter[str]()
    real = repositories.get_workspace

    async def counted(session: Any, *, platform: str, external_id: str) -> Any:
        reads[external_id] += 1
        return await real(session, platform=platform, external_id=external_id)

    monkeypatch.setattr(repositories, "get_workspace", counted)
    resolver = StoredCredentials(db=sqlite_database, cipher=CIPHER, fallback=environment())
    for partner in (*PARTNERS, *PARTNERS):
        await resolver.credentials(IN_A, partner)
    assert reads == {"T_A": 1}


# --------------------------------------------------------------------------- tools offered


class CountingResolver:
    def __init__(self, on: set[str]) -> None:
        self.on = on
        self.asked: Counter[str] = Counter()

    async def credentials(
        self, address: ConversationAddress, partner: str
    ) -> PartnerCredentials | None:
        self.asked[partner] += 1
        return PartnerCredentials("https://p.test", "k") if partner in self.on else None


@tool(partner="call_agent")
async def start_call(ctx: ToolContext, target_phone: str) -> ToolOutcome:
    """Call someone."""
    return ToolOutcome({"ok": True})


@tool(partner="call_agent")
async def call_status(ctx: ToolContext) -> ToolOutcome:
    """How the call goes."""
    return ToolOutcome({"ok": True})


@tool(partner="onegent")
async def reserve(ctx: ToolContext, what: str) -> ToolOutcome:
    """Reserve something."""
    return ToolOutcome({"ok": True})


@tool()
async def help_me(ctx: ToolContext) -> ToolOutcome:
    """Always there."""
    return ToolOutcome({"ok": True})


async def test_only_configured_partners_tools_are_offered_resolved_once_per_turn(
    sqlite_database: Database,
) -> None:
    resolver = CountingResolver(on={"call_agent"})
    offered: list[set[str]] = []

    def model(request: LLMRequest) -> LLMResponse:
        offered.append({spec.name for spec in request.tools})
        return text("ok")

    async with httpx.AsyncClient() as http:
        outgoing = OutgoingAccess(
            http=http,
            credentials=EnvironmentCredentials(None, None),
            people=People(sqlite_database, CIPHER),
        )
        manager = ConversationManager(
            llm=FunctionLLM(model),
            deps=ToolDeps(db=sqlite_database, outgoing=outgoing, credentials=resolver),
            tools=(start_call, call_status, reserve, help_me),
            system_prompt="test",
        )
        message = InboundMessage(IN_A, Sender("U1", "Ada"), "call my dentist", new_event_id())
        await manager.handle(message, RecordingReplier())
    assert offered == [{"start_call", "call_status", "help_me"}]
    assert resolver.asked == {"call_agent": 1, "onegent": 1}


# --------------------------------------------------------------------------- 404 wording


def test_a_404_is_worded_for_its_partner() -> None:
    def said(partner: str, missing: str | Missing | None = None) -> str:
        error = NotFound(404, None, "Not found.", partner=partner)
        return str(partner_failure(error, missing=missing).for_model["error"])

    assert said("outgoing") == "Outgoing has no such activity."
    assert said("call_agent") == "The call agent has no such call."
    assert said("onegent") == "Onegent has no such job."
    assert said("voyagent", missing="session") == "Voyagent has no such session."
    assert said("events", missing=Missing("attendee", "List attendees first.")) == (
        "Events has no such attendee."
    )
    assert "activity" not in said("call_agent") + said("newcomer")
