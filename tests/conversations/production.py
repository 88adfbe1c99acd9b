"""The production wiring for conversation-level tests: `running_services` with its background
loops, the Outgoing sandbox on loopback, and the partner webhook routes served so the
sandbox's booking webhooks come back in."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette

from bot.services import Services, background_loops, running_services
from bot.settings import Settings
from bot.webhooks import webhook_routes
from conversations.llm import LLM
from integrations.sandbox import (
    DEFAULT_NEGOTIATED_KEY,
    RunningSandbox,
    SandboxConfig,
    running_outgoing_sandbox,
    serve_in_background,
)
from storage import generate_key


@dataclass
class Production:
    services: Services
    sandbox: RunningSandbox
    hooks_url: str


@contextlib.asynccontextmanager
async def production(
    database_url: str, llm: LLM, *, payment_mode: str = "dry_run_success", **sandbox: Any
) -> AsyncIterator[Production]:
    async with (
        running_outgoing_sandbox(SandboxConfig.fast(**sandbox)) as partner,
        contextlib.AsyncExitStack() as stack,
    ):
        hooks = Starlette(routes=webhook_routes())
        hooks_url = await stack.enter_async_context(serve_in_background(hooks))
        settings = Settings(
            CONCIERGE_DATABASE_URL=database_url,
            CONCIERGE_SECRET_KEY=generate_key(),
            CONCIERGE_PUBLIC_URL=hooks_url,
            CONCIERGE_PAYMENT_MODE=payment_mode,
            OUTGOING_API_URL=partner.base_url,
            OUTGOING_API_KEY=DEFAULT_NEGOTIATED_KEY,
        )
        services = await stack.enter_async_context(running_services(settings, llm=llm))
        hooks.state.services = services
        await stack.enter_async_context(background_loops(services))
        yield Production(services, partner, hooks_url)
