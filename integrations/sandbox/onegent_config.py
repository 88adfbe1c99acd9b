"""What a demo or a test may tune in the Onegent sandbox, and its fixed constants.

Which terminal status a job reaches is ``OnegentSandboxConfig.outcome`` (default
``paused_payment``), unless the job's *name field* — ``restaurant_name``, ``hotel_name``,
flight ``dest`` or activity ``event_name`` — contains one of the :data:`OUTCOME_MARKERS`
(e.g. ``"Le Bernardin [captcha]"``); the marker wins. Two more markers steer decisions:
:data:`SWITCH_MARKER` (the venue has nothing: switch to an alternate when
``allowVenueSwitch``, else ``no_availability``) and :data:`FALLBACK_MARKER` (the first
provider of the chain fails: fall back to the next). Markers are stripped from the names
the sandbox shows (summary, hand-off page).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ALL_SCENARIOS",
    "ALTERNATE_VENUES",
    "DEFAULT_ONEGENT_KEY",
    "FALLBACK_MARKER",
    "NAME_FIELDS",
    "OUTCOME_MARKERS",
    "PROVIDER_CHAINS",
    "SWITCH_MARKER",
    "TERMINAL_STATUSES",
    "OnegentSandboxConfig",
    "Outcome",
]

DEFAULT_ONEGENT_KEY = "ogk_test_sandbox_concierge_0001"
ALL_SCENARIOS = frozenset({"restaurant", "hotel", "flight", "activity"})
TERMINAL_STATUSES = frozenset(
    {"paused_payment", "completed", "no_availability", "needs_login", "captcha", "error"}
)
Outcome = Literal[
    "paused_payment", "completed", "no_availability", "needs_login", "captcha", "error"
]

OUTCOME_MARKERS: dict[str, Outcome] = {
    "[paused_payment]": "paused_payment",
    "[completed]": "completed",
    "[no_availability]": "no_availability",
    "[needs_login]": "needs_login",
    "[captcha]": "captcha",
    "[error]": "error",
}
SWITCH_MARKER = "[switch]"
FALLBACK_MARKER = "[fallback]"

#: the params field that names what is booked (and may carry a marker)
NAME_FIELDS = {
    "restaurant": "restaurant_name",
    "hotel": "hotel_name",
    "flight": "dest",
    "activity": "event_name",
}
#: the fallback chain per scenario, first choice first
PROVIDER_CHAINS: dict[str, tuple[str, ...]] = {
    "restaurant": ("opentable-com", "resy-com"),
    "hotel": ("booking-com", "expedia-com"),
    "flight": ("google-flights", "kayak-com"),
    "activity": ("ticketmaster-com",),
}
#: where a ``[switch]`` job goes instead
ALTERNATE_VENUES = {"restaurant": "Le Coucou", "hotel": "The Sandbox Grand"}


@dataclass(frozen=True, slots=True)
class OnegentSandboxConfig:
    """What a demo or a test may tune; :meth:`fast` makes jobs finish in ~0.25 s."""

    keys: frozenset[str] = frozenset({DEFAULT_ONEGENT_KEY})
    """Known API keys (each must match the key format, or it answers malformed_api_key)."""
    allowed_scenarios: Mapping[str, Collection[str]] = field(default_factory=dict)
    """Per key: the scenarios it may run (others: 403 scenario_not_allowed); a key not
    listed may run all four."""
    organization_name: str = "Sandbox Concierge"
    start_s: float = 1.0
    """pending → running."""
    run_s: float = 6.0
    """running → terminal (decisions are logged half-way)."""
    outcome: Outcome = "paused_payment"
    """The terminal status when the name carries no outcome marker."""
    time_shift_minutes: int | None = 30
    """Restaurants: the requested time is taken and the next slot is this much later
    (``time_adjusted`` if consent allows, else ``no_availability``); None: it is free."""
    failing_providers: frozenset[str] = frozenset()
    """Providers that fail on every attempt, so the chain falls back past them."""
    fail_create_times: int = 0
    """The next N valid creates answer 500 job_create_failed (counts down)."""
    auth_backend_down: bool = False
    """Well-formed keys answer 503 auth_backend_unavailable (malformed ones still 401)."""
    extra_fields: bool = False
    """Responses (and their log entries) carry fields the spec does not list."""
    omit_handoff: bool = False
    """paused_payment jobs come without ``handoffUrl``."""
    public_base_url: str | None = None
    """Root for hand-off links; None: the URL the create request came to."""

    @classmethod
    def fast(cls, **overrides: Any) -> OnegentSandboxConfig:
        """Jobs start after 0.05 s and end 0.2 s later: what tests want."""
        return dataclasses.replace(cls(start_s=0.05, run_s=0.2), **overrides)

    def may_run(self, key: str, scenario: str) -> bool:
        allowed = self.allowed_scenarios.get(key)
        return scenario in (ALL_SCENARIOS if allowed is None else allowed)
