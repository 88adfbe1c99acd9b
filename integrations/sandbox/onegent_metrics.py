"""Deterministic provider metrics for ``GET /metrics/providers/{providerId}``.

Each known provider has a fixed 30-day history (``opentable-com`` is the spec's example:
142 attempts, 124 accepted, 0.87), scaled linearly to ``timeRangeDays``;
``newbie-provider`` has the same 3 attempts in any range (below the spec's N=5 evidence
floor). An unknown provider is zeros, not a 404, as the spec says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["HISTORY", "NEWBIE_PROVIDER", "ProviderHistory", "provider_metrics"]

NEWBIE_PROVIDER = "newbie-provider"


@dataclass(frozen=True, slots=True)
class ProviderHistory:
    attempts: int
    accepted: int
    manual_overrides: int
    last_event_at: str
    fixed: bool = False
    """The same numbers for any range (a provider that has only just started)."""


HISTORY: dict[str, ProviderHistory] = {
    "opentable-com": ProviderHistory(142, 124, 12, "2026-04-23T22:14:03Z"),
    "resy-com": ProviderHistory(96, 77, 9, "2026-04-23T20:41:10Z"),
    "booking-com": ProviderHistory(210, 189, 11, "2026-04-23T23:02:45Z"),
    "expedia-com": ProviderHistory(64, 48, 6, "2026-04-22T17:30:00Z"),
    "google-flights": ProviderHistory(88, 70, 10, "2026-04-23T19:12:31Z"),
    "kayak-com": ProviderHistory(45, 33, 5, "2026-04-21T08:05:12Z"),
    NEWBIE_PROVIDER: ProviderHistory(3, 2, 0, "2026-04-23T11:00:00Z", fixed=True),
}


def provider_metrics(provider_id: str, days: int) -> dict[str, Any]:
    """The spec's metrics body for ``provider_id`` over the last ``days`` (already clamped)."""
    history = HISTORY.get(provider_id)
    total = 0
    if history is not None:
        total = history.attempts if history.fixed else round(history.attempts * days / 30)
    if history is None or total == 0:
        return {
            "providerId": provider_id,
            "successRate": 0,
            "totalAttempts": 0,
            "acceptedCount": 0,
            "manualOverrideCount": 0,
            "failedCount": 0,
            "lastEventAt": None,
            "timeRangeDays": days,
        }
    accepted = round(total * history.accepted / history.attempts)
    manual = min(total - accepted, round(total * history.manual_overrides / history.attempts))
    return {
        "providerId": provider_id,
        "successRate": round(accepted / total, 2),
        "totalAttempts": total,
        "acceptedCount": accepted,
        "manualOverrideCount": manual,
        "failedCount": total - accepted - manual,
        "lastEventAt": history.last_event_at,
        "timeRangeDays": days,
    }
