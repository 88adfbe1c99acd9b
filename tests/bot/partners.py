"""Partner sandboxes next to a front-end rig, when a test wants calls or reservations."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

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
