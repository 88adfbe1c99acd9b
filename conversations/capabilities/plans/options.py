"""What a plan offers to vote on: 2–4 bookable options, each one session with its tickets,
frozen from the partner's records when the poll is made (the vote and the booking use these,
never what the model says later)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from conversations.booking.quote import MAX_TICKETS_PER_LINE, Quote, QuoteLine, money
from conversations.cards import clip, format_when
from integrations.outgoing.models import PartnerActivityDetail, PartnerSearchResult

MAX_OPTIONS = 4
DEFAULT_VOTING = timedelta(hours=2)
MIN_VOTING = timedelta(minutes=1)


@dataclass(frozen=True)
class PlanTicket:
    name: str
    unit_cents: int
    limit: int
    """How many the plan may book of it (the partner's most per booking)."""


@dataclass(frozen=True)
class PlanOption:
    activity_id: str
    name: str
    venue: str | None
    starts_at: str
    """The session's start, ISO with the venue's offset."""
    session_date: str
    session_time: str
    currency: str
    tickets: tuple[PlanTicket, ...]
    image_url: str | None = None

    @property
    def when(self) -> str:
        return format_when(self.starts_at) or f"{self.session_date} {self.session_time}"

    @property
    def start(self) -> datetime:
        return datetime.fromisoformat(self.starts_at)

    def price(self, ticket: PlanTicket, locale: str | None = None) -> str:
        return money(ticket.unit_cents, self.currency, locale) if ticket.unit_cents else "free"

    def price_label(self, locale: str | None = None) -> str:
        low = min(t.unit_cents for t in self.tickets)
        if not low:
            return "Free" if len(self.tickets) == 1 else "Free and up"
        return ("from " if len(self.tickets) > 1 else "") + money(low, self.currency, locale)

    def quote(self, counts: Sequence[tuple[int, int]]) -> Quote:
        """The booking of `(ticket index, how many)` at this session, as approved."""
        lines = tuple(
            QuoteLine(self.tickets[i].name, n, self.tickets[i].unit_cents) for i, n in counts if n
        )
        return Quote(
            activity_id=self.activity_id,
            activity_name=self.name,
            venue=self.venue,
            session_date=self.session_date,
            session_time=self.session_time,
            lines=lines,
            currency=self.currency,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> PlanOption:
        tickets = tuple(PlanTicket(**t) for t in raw["tickets"])
        return cls(**{**raw, "tickets": tickets})


def options_of(payload: dict[str, Any]) -> list[PlanOption]:
    return [PlanOption.from_json(o) for o in payload.get("options") or []]


def _option(
    result: PartnerSearchResult,
    detail: PartnerActivityDetail,
    *,
    now: datetime,
    day: str | None,
    max_cents: int | None,
) -> PlanOption | None:
    """The activity's first session still to come (on `day` if given) with admission
    tickets on sale (within `max_cents`), or None when there is none to vote for."""
    price = detail.ticket_price
    if not detail.is_bookable or price is None:
        return None
    starts = {s[:16]: s for s in detail.upcoming_datetimes}
    for session in price.sessions:
        if session.date is None or session.time is None:
            continue
        iso = starts.get(f"{session.date}T{session.time}")
        if iso is None or (day is not None and session.date != day):
            continue
        start = datetime.fromisoformat(iso)
        if start.tzinfo is None or start <= now:
            continue
        tickets = tuple(
            PlanTicket(
                t.name, round(t.total * 100), min(t.max_quantity or 20, MAX_TICKETS_PER_LINE)
            )
            for t in session.tickets
            if t.available
            and t.category != "add_on"
            and t.min_quantity <= 1
            and (max_cents is None or round(t.total * 100) <= max_cents)
        )
        if not tickets:
            continue
        return PlanOption(
            activity_id=detail.activity_id,
            name=clip(detail.name, 80) or "Untitled",
            venue=clip(detail.venue or result.venue, 80),
            starts_at=iso,
            session_date=session.date,
            session_time=session.time,
            currency=price.currency.upper(),
            tickets=tickets[:3],
            image_url=result.picture_url or detail.picture_url,
        )
    return None


def pick_options(
    results: Sequence[PartnerSearchResult],
    details: dict[str, PartnerActivityDetail],
    *,
    now: datetime,
    day: str | None = None,
    max_cents: int | None = None,
) -> list[PlanOption]:
    """Up to `MAX_OPTIONS` options, in the search's order."""
    picked: list[PlanOption] = []
    for result in results:
        detail = details.get(result.activity_id or "")
        option = detail and _option(result, detail, now=now, day=day, max_cents=max_cents)
        if option and all(o.activity_id != option.activity_id for o in picked):
            picked.append(option)
        if len(picked) == MAX_OPTIONS:
            break
    return picked


def closing_time(
    options: Sequence[PlanOption], *, now: datetime, closes_at: str | None
) -> datetime:
    """When voting closes: at `closes_at` ("18:00", in the venues' time; the next one to
    come), else in two hours, and never after the first session starts."""
    first = min(o.start for o in options)
    deadline = now + DEFAULT_VOTING
    if closes_at:
        local = now.astimezone(first.tzinfo or UTC)
        hours, minutes = (int(p) for p in closes_at.split(":"))
        at = datetime.combine(local.date(), time(hours, minutes), local.tzinfo)
        deadline = at if at > now else at + timedelta(days=1)
    return max(min(deadline, first), now + MIN_VOTING)


def clock(moment: datetime, zone_of: datetime) -> str:
    """`moment` as the venues' local time of day ("18:00"), with its day when not today."""
    local = moment.astimezone(zone_of.tzinfo or UTC)
    today = datetime.now(UTC).astimezone(local.tzinfo).date()
    return f"{local:%H:%M}" if local.date() == today else f"{local:%a %d %b, %H:%M}"
