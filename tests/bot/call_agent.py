"""A Call Agent sandbox next to a front-end rig, when a test wants phone calls."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from integrations.sandbox import (
    DEFAULT_CALL_AGENT_KEY,
    CallAgentSandboxConfig,
    RunningCallAgentSandbox,
    running_callagent_sandbox,
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
