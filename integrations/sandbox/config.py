"""Configuration of the Outgoing sandbox: keys, latencies, webhook timing, forced faults."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "DEFAULT_BIND_TEAM_ID",
    "DEFAULT_BIND_TOKEN",
    "DEFAULT_NEGOTIATED_KEY",
    "DEFAULT_SELF_SERVE_KEY",
    "DEFAULT_TRIAL_EXHAUSTED_KEY",
    "BindToken",
    "ForcedResponse",
    "SandboxConfig",
]

DEFAULT_NEGOTIATED_KEY = "og_api_sandbox_negotiated"
"""A multi-user key: sends ``X-External-User-Id``, may provision users and book."""
DEFAULT_SELF_SERVE_KEY = "og_api_sandbox_selfserve"
"""A single-user key: must not send ``X-External-User-Id``; cannot provision or book."""
DEFAULT_TRIAL_EXHAUSTED_KEY = "og_api_sandbox_trial_exhausted"
"""Behaves like an AAuth agent past its free trial: every call answers ``202`` + interaction."""
DEFAULT_BIND_TOKEN = "sandbox-bind-token"  # noqa: S105 (a public sandbox fixture)
DEFAULT_BIND_TEAM_ID = "T0SANDBOX"


@dataclass(frozen=True, slots=True)
class BindToken:
    """A Slack bind token the sandbox accepts (``POST /slack/workspaces/bind``)."""

    team_id: str
    expires_at: datetime | None = None
    """Aware datetime after which the token is refused; ``None`` never expires."""


@dataclass(frozen=True, slots=True)
class ForcedResponse:
    """A canned answer served once, instead of the real endpoint, to the next matching request.

    ``path`` is an exact path (``/partner/v1/search``) or a template with ``{name}``
    placeholders (``/partner/v1/activities/{activity_id}``); ``method`` ``None`` matches any.
    ``body`` is sent as JSON unless it is ``str``/``bytes``; ``None`` sends
    ``{"error": <reason phrase>}``. ``delay_s`` sleeps first (to provoke client timeouts).
    """

    path: str
    status: int = 503
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    method: str | None = None
    delay_s: float = 0.0


def _keys(*keys: str) -> frozenset[str]:
    return frozenset(keys)


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """Everything a demo, the ``concierge sandbox`` command or a test may tune.

    Defaults are the "realistic" ones used by ``concierge demo``; tests usually start from
    :meth:`fast`, which sets every latency and delay to zero.
    """

    negotiated_keys: frozenset[str] = field(default_factory=lambda: _keys(DEFAULT_NEGOTIATED_KEY))
    self_serve_keys: frozenset[str] = field(default_factory=lambda: _keys(DEFAULT_SELF_SERVE_KEY))
    trial_exhausted_keys: frozenset[str] = field(
        default_factory=lambda: _keys(DEFAULT_TRIAL_EXHAUSTED_KEY)
    )
    stored_card_keys: frozenset[str] = frozenset()
    """Keys allowed to use ``payment_mode: live_purchase`` (others get ``402``); in the
    sandbox a permitted live purchase is simulated like ``dry_run_success``."""

    search_latency_s: float = 3.0
    prices_latency_s: float = 1.0
    search_max_results: int = 8

    webhook_delay_s: float = 2.0
    """Pause before each webhook of a booking (``pending``, then the outcome)."""
    webhook_max_attempts: int = 4
    webhook_retry_backoff_s: float = 1.0
    """Wait ``backoff * attempt`` seconds between attempts after a non-2xx or network error."""
    webhook_timeout_s: float = 10.0
    booking_needs_input: bool = False
    """Bookings stop at ``user_input_required`` (the venue needs more details) after
    ``pending``, and stay there."""
    booking_fee_cents: int = 0
    """Outgoing's own fee reported in webhooks (``total_charged = purchase + fee``)."""

    rate_limit_per_minute: int | None = None
    """Per-key window limit; past it every call answers ``429`` with ``Retry-After``."""

    homescreen_k_rings: int = 6
    """Activities within this many H3 res-7 rings count as near; else the nearest city."""
    homescreen_cache_max_age_s: int = 900

    bind_tokens: Mapping[str, BindToken] = field(
        default_factory=lambda: {DEFAULT_BIND_TOKEN: BindToken(team_id=DEFAULT_BIND_TEAM_ID)}
    )
    forced_responses: Sequence[ForcedResponse] = ()
    """Queued at start-up; tests usually queue with ``SandboxState.force`` instead."""

    now: datetime | None = None
    """A fixed aware "now" for catalogue dates and opening hours; ``None`` = the real clock."""
    public_base_url: str | None = None
    """Base URL used in absolute links (AAuth upgrade page, ticket downloads); default: the
    base URL of the incoming request."""

    @classmethod
    def fast(cls, **overrides: Any) -> SandboxConfig:
        """No latency and no webhook delays: what tests want."""
        base = cls(
            search_latency_s=0.0,
            prices_latency_s=0.0,
            webhook_delay_s=0.0,
            webhook_retry_backoff_s=0.0,
        )
        return dataclasses.replace(base, **overrides)
