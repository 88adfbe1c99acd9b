"""The sandbox's fixture catalogue: real places in New York, San Francisco, Paris and London.

``catalogue.json`` (shipped in this package) holds the activities with stable ids; dates are
stored as day offsets and turned into real, always-future datetimes (in each city's time zone)
when the catalogue is built, and each activity's H3 resolution-7 cell is computed then too.
Responses are built with the pydantic models of ``integrations.outgoing.models``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import h3

from integrations.outgoing.models import (
    Location,
    PartnerActivity,
    PartnerActivityDetail,
    PartnerSession,
    PartnerSessionTicket,
    PartnerTicketPrice,
)

__all__ = ["H3_RESOLUTION", "Activity", "Catalogue", "City", "format_money", "format_start"]

H3_RESOLUTION = 7
_CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


@dataclass(frozen=True, slots=True)
class City:
    slug: str
    name: str
    timezone: ZoneInfo
    lat: float
    lng: float
    aliases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Activity:
    """One catalogue entry with its dates resolved; converts itself to the spec's models."""

    activity_id: str
    slug: str
    city: City
    name: str
    short_description: str
    venue: str
    semantic_location: str
    lat: float
    lng: float
    h3_cell: str
    entity_type: str
    categories: tuple[str, ...]
    highlights: tuple[str, ...]
    tips: tuple[str, ...]
    suitability: tuple[str, ...]
    tags: tuple[str, ...]
    rating: float | None
    starts: tuple[datetime, ...]
    open_hours: tuple[time, time] | None
    ticket_price: PartnerTicketPrice | None
    is_bookable: bool
    estimated_fulfillment: str | None
    booking_domain: str | None
    price_scrape: str

    @property
    def picture_url(self) -> str:
        return f"https://picsum.photos/seed/{self.slug}/800/500"

    @property
    def location(self) -> Location:
        return Location(lat=self.lat, lng=self.lng)

    @property
    def next_start(self) -> datetime | None:
        return self.starts[0] if self.starts else None

    @property
    def is_free(self) -> bool:
        """Free or walk-in: no ticket price at all, or only free tickets."""
        return self.ticket_price is None or self.ticket_price.max == 0

    @property
    def areas(self) -> tuple[str, ...]:
        """Lower-cased parts of ``semantic_location`` ("williamsburg", "brooklyn")."""
        return tuple(part.strip().lower() for part in self.semantic_location.split(","))

    def is_open(self, now: datetime) -> bool | None:
        if self.open_hours is None:
            return None
        local = now.astimezone(self.city.timezone).time()
        return self.open_hours[0] <= local < self.open_hours[1]

    def price_label(self) -> str:
        return "Free" if self.ticket_price is None else self.ticket_price.label

    def display_label(self) -> str:
        start = self.next_start
        if start is not None:
            first = format_start(start)
        else:
            first = f"{self.categories[0].capitalize()} · {self.semantic_location}"
        return f"{first} · {self.price_label()}"

    def _common(self, debug: bool) -> dict[str, Any]:
        start = self.next_start
        return {
            "activity_id": self.activity_id,
            "name": self.name,
            "short_description": self.short_description,
            "picture_url": self.picture_url,
            "location": self.location,
            "semantic_location": self.semantic_location,
            "highlights": list(self.highlights),
            "display_label": self.display_label(),
            "is_bookable": self.is_bookable,
            "ticket_price": self.ticket_price,
            "estimated_fulfillment": self.estimated_fulfillment if self.is_bookable else None,
            "next_datetime": start.isoformat() if start else None,
            "booking_domain": self.booking_domain if debug else None,
        }

    def to_partner_activity(self, *, debug: bool = False) -> PartnerActivity:
        return PartnerActivity(**self._common(debug))

    def to_detail(self, *, now: datetime, debug: bool = False) -> PartnerActivityDetail:
        return PartnerActivityDetail(
            **self._common(debug),
            venue=self.venue,
            tips=list(self.tips),
            upcoming_datetimes=[start.isoformat() for start in self.starts],
            picture_urls=[self.picture_url, f"https://picsum.photos/seed/{self.slug}-2/800/500"],
            is_open_now=self.is_open(now),
            search_category=list(self.categories),
        )


def format_start(start: datetime, separator: str = " · ") -> str:
    """``Thu, Nov 26 · 8:00 PM`` in the start's own time zone."""
    hour = start.hour % 12 or 12
    suffix = "AM" if start.hour < 12 else "PM"
    return f"{start:%a}, {start:%b} {start.day}{separator}{hour}:{start.minute:02d} {suffix}"


def format_money(amount: float, currency: str) -> str:
    symbol = _CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    text = f"{amount:.0f}" if amount == int(amount) else f"{amount:.2f}"
    return f"{symbol}{text}"


def _ticket(raw: dict[str, Any], session_index: int) -> PartnerSessionTicket:
    price = float(raw["price"])
    fee = float(raw.get("fee", 0.0))
    sold_out = raw.get("sold_out", False)
    available = not (sold_out is True or (isinstance(sold_out, list) and session_index in sold_out))
    return PartnerSessionTicket(
        name=raw["name"],
        price=price,
        fee=fee,
        total=round(price + fee, 2),
        available=available,
        description=raw.get("description"),
        on_sale_status="AVAILABLE" if available else "SOLD_OUT",
        is_free=price == 0 and fee == 0,
        min_quantity=int(raw.get("min_quantity", 1)),
        max_quantity=raw.get("max_quantity"),
        category=raw.get("category"),
    )


def _ticket_price(
    raw: dict[str, Any], starts: list[datetime], currency: str
) -> PartnerTicketPrice | None:
    if not raw.get("tickets"):
        return None
    dated: list[tuple[str | None, str | None]] = [
        (f"{s:%Y-%m-%d}", f"{s:%H:%M}") for s in starts
    ] or [(None, None)]
    sessions = [
        PartnerSession(date=day, time=at, tickets=[_ticket(t, index) for t in raw["tickets"]])
        for index, (day, at) in enumerate(dated)
    ]
    admission = [t.total for t in sessions[0].tickets if t.category != "add_on"]
    totals = admission or [t.total for t in sessions[0].tickets]
    low, high = min(totals), max(totals)
    if high == 0:
        label = "Free"
    elif low == high:
        label = format_money(low, currency)
    else:
        first = "Free" if low == 0 else format_money(low, currency)
        label = f"{first}-{format_money(high, currency)}"
    return PartnerTicketPrice(min=low, max=high, currency=currency, label=label, sessions=sessions)


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _activity(raw: dict[str, Any], city: City, today: date) -> Activity:
    starts = sorted(
        datetime.combine(today + timedelta(days=int(days)), _clock(at), city.timezone)
        for days, at in raw.get("sessions") or []
    )
    hours = raw.get("open_hours")
    return Activity(
        activity_id=raw["id"],
        slug=raw["slug"],
        city=city,
        name=raw["name"],
        short_description=raw["short_description"],
        venue=raw["venue"],
        semantic_location=raw["semantic_location"],
        lat=float(raw["lat"]),
        lng=float(raw["lng"]),
        h3_cell=str(h3.latlng_to_cell(raw["lat"], raw["lng"], H3_RESOLUTION)),
        entity_type=raw["entity_type"],
        categories=tuple(raw["categories"]),
        highlights=tuple(raw["highlights"]),
        tips=tuple(raw["tips"]),
        suitability=tuple(raw["suitability"]),
        tags=tuple(raw["tags"]),
        rating=raw.get("rating"),
        starts=tuple(starts),
        open_hours=(_clock(hours[0]), _clock(hours[1])) if hours else None,
        ticket_price=_ticket_price(raw, starts, raw.get("currency", "USD")),
        is_bookable=bool(raw["is_bookable"]),
        estimated_fulfillment=raw.get("estimated_fulfillment"),
        booking_domain=raw.get("booking_domain"),
        price_scrape=raw.get("price_scrape", "success"),
    )


@functools.cache
def _raw() -> dict[str, Any]:
    text = (
        resources.files("integrations.sandbox")
        .joinpath("catalogue.json")
        .read_text(encoding="utf-8")
    )
    data: dict[str, Any] = json.loads(text)
    return data


@dataclass(frozen=True, slots=True)
class Catalogue:
    cities: dict[str, City]
    activities: tuple[Activity, ...]
    by_id: dict[str, Activity]
    built_at: datetime

    @classmethod
    def load(cls, now: datetime) -> Catalogue:
        """Build the catalogue with every date counted from ``now`` (an aware datetime)."""
        raw = _raw()
        cities = {
            slug: City(
                slug=slug,
                name=c["name"],
                timezone=ZoneInfo(c["timezone"]),
                lat=c["lat"],
                lng=c["lng"],
                aliases=tuple(c["aliases"]),
            )
            for slug, c in raw["cities"].items()
        }
        activities = tuple(
            _activity(a, cities[a["city"]], now.astimezone(cities[a["city"]].timezone).date())
            for a in raw["activities"]
        )
        by_id = {a.activity_id: a for a in activities}
        return cls(cities=cities, activities=activities, by_id=by_id, built_at=now)

    def get(self, activity_id: str) -> Activity | None:
        return self.by_id.get(activity_id.lower())

    def nearest_city(self, lat: float, lng: float) -> City:
        return min(
            self.cities.values(),
            key=lambda c: h3.great_circle_distance((lat, lng), (c.lat, c.lng), unit="km"),
        )
