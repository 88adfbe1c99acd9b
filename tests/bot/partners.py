"""Partner sandboxes next to a front-end rig, when a test wants calls or reservations."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from bot.services import Services
from conversations.capabilities.callagent.access import WEBHOOK_PATH, secret_aad
from conversations.types import ConversationAddress
from integrations.sandbox import (
    DEFAULT_CALL_AGENT_KEY,
    DEFAULT_ONEGENT_KEY,
    CallAgentSandboxConfig,
    OnegentSandboxConfig,
    RunningCallAgentSandbox,
    RunningOnegentSandbox,
    running_callagent_sandbox,
    running_onegent_sandbox,
)
from storage import new_token, repositories, token_hash


@contextlib.asynccontextmanager
async def maybe_call_agent(
    config: CallAgentSandboxConfig | None,
) -> AsyncIterator[tuple[RunningCallAgentSandbox | None, dict[str, str]]]:
    """The sandbox and the settings that point the concierge at it (nothing without config)."""
    if config is None:
        yield None, {}
        return
    async with running_callagent_sandbox(config) as running:
        yield (
            running,
            {
                "CALL_AGENT_API_URL": running.base_url,
                "CALL_AGENT_API_KEY": DEFAULT_CALL_AGENT_KEY,
            },
        )


@contextlib.asynccontextmanager
async def maybe_onegent(
    config: OnegentSandboxConfig | None,
) -> AsyncIterator[tuple[RunningOnegentSandbox | None, dict[str, str]]]:
    """The Onegent sandbox and the settings that point the concierge at it."""
    if config is None:
        yield None, {}
        return
    async with running_onegent_sandbox(config) as running:
        yield running, {"ONEGENT_API_URL": running.base_url, "ONEGENT_API_KEY": DEFAULT_ONEGENT_KEY}


async def seed_call_webhook(
    services: Services, address: ConversationAddress, base_url: str, secret: str
) -> str:
    """The backup webhook of the Call Agent key used at `address`, as `ensure_webhook` leaves
    it once the partner answered with `secret` (it never does for a loopback http URL): its
    URL, with a fresh token."""
    access = services.deps.call_agent
    assert access is not None
    agent = await access.agent(address)
    assert agent is not None
    token = new_token()
    url = f"{base_url}{WEBHOOK_PATH}{token}"
    async with services.db.session() as session:
        await repositories.save_call_webhook(
            session,
            key_fingerprint=agent.fingerprint,
            token_hash=token_hash(token),
            secret_ciphertext=access.cipher.encrypt(
                secret.encode(), aad=secret_aad(agent.fingerprint)
            ),
            url=url,
        )
    return url
