"""What exactly would be booked, and what it costs: pure functions over the activity record.

The quote is the frozen snapshot a person approves; the booking sends exactly this, never
whatever the model says afterwards.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from conversations.cards import format_when
from conversations.money import from_cents
from conversations.money import money as format_money
from integrations.outgoing.models import (
    PartnerActivityDetail,
    PartnerSession,
    PartnerSessionTicket,
)

MAX_TICKETS_PER_LINE = 20


class QuoteProblem(ValueError):
    """Why this can't be quoted, in words for the person (and the model)."""


@dataclass(frozen=True)
class TicketRequest:
    name: str
    quantity: int


@dataclass(frozen=True)
class QuoteLine:
    name: str
    quantity: int
    unit_cents: int

    @property
    def cents(self) -> int:
        return self.unit_cents * self.quantity


@dataclass(frozen=True)
class Quote:
    activity_id: str
    activity_name: str
    venue: str | None
    session_date: str | None
    session_time: str | None
    lines: tuple[QuoteLine, ...]
    currency: str

    @property
    def total_cents(self) -> int:
        return sum(line.cents for line in self.lines)

    @property
    def session_label(self) -> str:
        if self.session_date and self.session_time:
            return format_when(f"{self.session_date}T{self.session_time}") or self.session_date
        return (
            (format_when(self.session_date) or self.session_date)
            if self.session_date
            else "Any day"
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Quote:
        lines = tuple(QuoteLine(**line) for line in raw["lines"])
        return cls(**{**raw, "lines": lines})


def money(cents: int, currency: str, locale: str | None = None) -> str:
    """A quote's cents as the bot writes every amount ("$39.50")."""
    return format_money(from_cents(cents), currency, locale)


def session_label(session: PartnerSession) -> str:
    if session.date and session.time:
        return format_when(f"{session.date}T{session.time}") or f"{session.date} {session.time}"
    return (format_when(session.date) or session.date) if session.date else "any day"


def _pick_session(
    sessions: list[PartnerSession], date: str | None, time: str | None
) -> PartnerSession:
    matches = [
        s for s in sessions if (date is None or s.date == date) and (time is None or s.time == time)
    ]
    if len(matches) == 1:
        return matches[0]
    options = ", ".join(f"{session_label(s)} ({s.date} {s.time})" for s in sessions[:8])
    if not matches:
        raise QuoteProblem(f"There is no session then. Sessions: {options}.")
    raise QuoteProblem(f"Which session? {options}.")


def _pick_ticket(session: PartnerSession, name: str) -> PartnerSessionTicket:
    wanted = name.strip().lower()
    exact = [t for t in session.tickets if t.name.lower() == wanted]
    partial = [t for t in session.tickets if wanted and wanted in t.name.lower()]
    found = exact or partial
    names = ", ".join(t.name for t in session.tickets)
    if len(found) != 1:
        raise QuoteProblem(f"Which ticket type? This session has: {names}.")
    return found[0]


def quote(
    activity: PartnerActivityDetail,
    *,
    session_date: str | None,
    session_time: str | None,
    tickets: list[TicketRequest],
) -> Quote:
    """Resolve session and tickets against the partner's own record; refuse what can't work."""
    if not activity.is_bookable or activity.ticket_price is None:
        raise QuoteProblem(
            f"“{activity.name}” is not bookable here; tickets are sold by the venue directly."
        )
    price = activity.ticket_price
    sessions = [s for s in price.sessions if s.tickets]
    if not sessions:
        raise QuoteProblem(f"“{activity.name}” has no tickets on sale right now.")
    session = _pick_session(sessions, session_date, session_time)
    if not tickets:
        available = [t for t in session.tickets if t.available]
        if len(available) != 1:
            names = ", ".join(t.name for t in available) or "none available"
            raise QuoteProblem(f"Which tickets, and how many? Available: {names}.")
        tickets = [TicketRequest(available[0].name, max(1, available[0].min_quantity))]
    lines: list[QuoteLine] = []
    for request in tickets:
        ticket = _pick_ticket(session, request.name)
        if not ticket.available:
            raise QuoteProblem(f"{ticket.name} is sold out for {session_label(session)}.")
        low = max(1, ticket.min_quantity)
        high = min(ticket.max_quantity or MAX_TICKETS_PER_LINE, MAX_TICKETS_PER_LINE)
        if not low <= request.quantity <= high:
            raise QuoteProblem(f"{ticket.name}: you can book between {low} and {high} at once.")
        if any(line.name == ticket.name for line in lines):
            raise QuoteProblem(f"{ticket.name} is listed twice; give one quantity per type.")
        lines.append(QuoteLine(ticket.name, request.quantity, round(ticket.total * 100)))
    return Quote(
        activity_id=activity.activity_id,
        activity_name=activity.name,
        venue=activity.venue,
        session_date=session.date,
        session_time=session.time,
        lines=tuple(lines),
        currency=price.currency.upper(),
    )
