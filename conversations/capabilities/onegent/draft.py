"""A reservation being put together: scenario, fields, preferences and consent, as JSON.

The draft travels in question contexts and the approval snapshot; it never holds the
person's contact details (those stay sealed in their booking profile).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from conversations.capabilities.onegent.fields import REQUIRED
from conversations.cards import clip

ICONS = {"restaurant": "🍽", "hotel": "🏨", "flight": "✈️"}
LABELS = {
    "restaurant_name": "Restaurant",
    "hotel_name": "Hotel",
    "city": "City",
    "date": "Date",
    "time": "Time",
    "covers": "People",
    "checkin": "Check-in",
    "checkout": "Check-out",
    "adults": "Adults",
    "origin": "From",
    "dest": "To",
    "passengers": "Passengers",
}


@dataclass(frozen=True)
class Consent:
    allow_time_adjustment: bool = True
    max_time_adjustment_minutes: int = 90
    max_retries: int = 3
    blocked_providers: tuple[str, ...] = ()

    def to_partner(self) -> dict[str, Any]:
        return {
            "allowTimeAdjustment": self.allow_time_adjustment,
            "maxTimeAdjustmentMinutes": self.max_time_adjustment_minutes,
            "maxRetries": self.max_retries,
            "blockedProviders": list(self.blocked_providers),
        }

    def line(self, scenario: str) -> str:
        if scenario == "restaurant" and self.allow_time_adjustment:
            rule = (
                f"a time within ±{self.max_time_adjustment_minutes} min is fine if yours is taken"
            )
        elif scenario == "restaurant":
            rule = "only the exact time"
        else:
            rule = "the details as given"
        blocked = (
            f"; never through {', '.join(self.blocked_providers)}" if self.blocked_providers else ""
        )
        return f"Rules: {rule}; up to {self.max_retries} retries{blocked}."


@dataclass(frozen=True)
class Draft:
    scenario: str
    params: dict[str, Any] = field(default_factory=dict)
    preferences: dict[str, Any] = field(default_factory=dict)
    consent: Consent = field(default_factory=Consent)

    def missing(self) -> list[str]:
        return [name for name in REQUIRED[self.scenario] if self.params.get(name) in (None, "")]

    def with_field(self, name: str, value: Any) -> Draft:
        return replace(self, params={**self.params, name: value})

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "params": dict(self.params),
            "preferences": dict(self.preferences),
            "consent": {
                "allow_time_adjustment": self.consent.allow_time_adjustment,
                "max_time_adjustment_minutes": self.consent.max_time_adjustment_minutes,
                "max_retries": self.consent.max_retries,
                "blocked_providers": list(self.consent.blocked_providers),
            },
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Draft:
        consent = raw.get("consent") or {}
        return cls(
            scenario=str(raw["scenario"]),
            params=dict(raw.get("params") or {}),
            preferences=dict(raw.get("preferences") or {}),
            consent=Consent(
                allow_time_adjustment=bool(consent.get("allow_time_adjustment", True)),
                max_time_adjustment_minutes=int(consent.get("max_time_adjustment_minutes", 90)),
                max_retries=int(consent.get("max_retries", 3)),
                blocked_providers=tuple(consent.get("blocked_providers") or ()),
            ),
        )

    def partner_params(self) -> dict[str, Any]:
        return {**self.preferences, **self.params}

    @property
    def title(self) -> str:
        """`🍽 Table at Le Bernardin · Thu 3 Dec 19:00 · 2 people`."""
        p = self.params
        icon = ICONS.get(self.scenario, "•")
        if self.scenario == "restaurant":
            parts = [f"Table at {clip(p.get('restaurant_name'), 80)}", _day(p.get("date"))]
            parts[-1] = f"{parts[-1]} {p.get('time', '')}".strip()
            parts.append(_count(p.get("covers"), "person", "people"))
        elif self.scenario == "hotel":
            parts = [
                f"Room at {clip(p.get('hotel_name'), 80)}",
                f"{_day(p.get('checkin'))} – {_day(p.get('checkout'))}",
                _count(p.get("adults"), "adult", "adults"),
            ]
        else:
            parts = [
                f"Flight {p.get('origin')} → {p.get('dest')}",
                _day(p.get("date")),
                _count(p.get("passengers"), "passenger", "passengers"),
            ]
        city = p.get("city")
        if city and self.scenario != "flight":
            parts.insert(1, str(clip(str(city), 60)))
        return f"{icon} " + " · ".join(x for x in parts if x)

    def lines(self) -> list[str]:
        """What will be requested, field by field, for the confirmation."""
        shown = [f"{LABELS.get(k, k)}: {clip(str(v), 120)}" for k, v in self.params.items()]
        shown += [
            f"{k.replace('_', ' ')}: {clip(str(v), 120)}" for k, v in self.preferences.items()
        ]
        return shown


def _day(iso: Any) -> str:
    try:
        return date.fromisoformat(str(iso)).strftime("%a %d %b")
    except ValueError:
        return str(iso or "")


def _count(value: Any, one: str, many: str) -> str:
    return f"{value} {one if value == 1 else many}" if value else ""
