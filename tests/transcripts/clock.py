"""One fixed "now" for the sandbox partners, so catalogue dates never move."""

from __future__ import annotations

from datetime import UTC, datetime

from integrations.sandbox import SandboxConfig

NOW = datetime(2031, 6, 2, 15, 0, tzinfo=UTC)
"""A Monday afternoon in New York; far enough ahead that every date stays in the future."""


WEBHOOK_GAP_S = 0.2
"""A booking's webhooks (pending, then the outcome) a moment apart, so they arrive in order."""


def pinned_sandbox() -> SandboxConfig:
    """The fast sandbox with its clock at `NOW`."""
    return SandboxConfig.fast(now=NOW, webhook_delay_s=WEBHOOK_GAP_S)
