"""Partner data → what people see. Pure functions, no I/O.

Partner text is copied as plain data; renderers escape it for their platform.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from conversations.money import from_major, money_range, price
from conversations.replies import ActivityCard, ActivityDetail, Button, SessionLine, TicketLine
from integrations.outgoing.models import (
    PartnerActivityDetail,
    PartnerSearchResult,
    PartnerTicketPrice,
)

MAX_FIELD = 300


def clip(text: str | None, limit: int = MAX_FIELD) -> str | None:
    """Trim partner text so one odd record cannot flood a chat."""
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


VENUE_TIME_NOTE = "Times are local to the venue."


def _zone(name: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def format_when(iso: str | None, zone: str | None = None) -> str | None:
    """'2026-11-28T20:00:00-05:00' → 'Sat 28 Nov, 20:00': in the person's `zone` when it is
    known and the time carries an offset, else the event's own local time."""
    if not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return clip(iso, 40)
    if len(iso) <= 10:
        return moment.strftime("%a %d %b")
    theirs = _zone(zone)
    if theirs is not None and moment.tzinfo is not None:
        moment = moment.astimezone(theirs)
    return moment.strftime("%a %d %b, %H:%M")


def venue_is_theirs(iso: str | None, zone: str | None) -> bool:
    """Whether the venue keeps the person's clock at that moment (so venue-local session
    times need no label)."""
    theirs = _zone(zone)
    if not iso or theirs is None:
        return False
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return False
    offset = moment.utcoffset()
    return offset is not None and moment.astimezone(theirs).utcoffset() == offset


def price_label(ticket_price: PartnerTicketPrice | None, locale: str | None = None) -> str | None:
    """From the partner's min and max, so every price reads alike ("$40.00", "Free–$50.00")."""
    if ticket_price is None:
        return None
    return money_range(
        from_major(ticket_price.min), from_major(ticket_price.max), ticket_price.currency, locale
    )


def card_buttons(activity_id: str | None, bookable: bool) -> tuple[Button, ...]:
    """Buttons carry the public activity id, so they work whatever the conversation did since."""
    if not activity_id:
        return ()
    buttons = [Button("Details", f"details:{activity_id}")]
    if bookable:
        buttons.append(Button("Book", f"book:{activity_id}", "primary"))
    return tuple(buttons)


def search_card(
    number: int,
    result: PartnerSearchResult,
    detail: PartnerActivityDetail | None,
    *,
    locale: str | None = None,
    zone: str | None = None,
) -> ActivityCard:
    """A card from a search pick, enriched with price and bookability when detail is known."""
    bookable = bool(detail and detail.is_bookable)
    return ActivityCard(
        number=number,
        title=clip(result.name, 150) or "Untitled",
        activity_id=result.activity_id,
        image_url=result.picture_url or (detail.picture_url if detail else None),
        venue=clip(result.venue or (detail.venue if detail else None), 120),
        when=format_when(result.next_datetime or (detail.next_datetime if detail else None), zone),
        price_label=price_label(detail.ticket_price, locale) if detail else None,
        why=clip(result.why),
        summary=clip(result.short_description),
        bookable=bookable,
        buttons=card_buttons(result.activity_id, bookable),
    )


def detail_card(
    number: int,
    activity: PartnerActivityDetail,
    why: str | None = None,
    *,
    locale: str | None = None,
    zone: str | None = None,
) -> ActivityCard:
    """A card from a full activity record (nearby ideas, or a search pick's detail)."""
    return ActivityCard(
        number=number,
        title=clip(activity.name, 150) or "Untitled",
        activity_id=activity.activity_id,
        image_url=activity.picture_url,
        venue=clip(activity.venue or activity.semantic_location, 120),
        when=format_when(activity.next_datetime, zone),
        price_label=price_label(activity.ticket_price, locale),
        why=clip(why),
        summary=clip(activity.short_description),
        bookable=activity.is_bookable,
        buttons=card_buttons(activity.activity_id, activity.is_bookable),
    )


def _session_label(date: str | None, time: str | None) -> str:
    if date and time:
        return format_when(f"{date}T{time}") or f"{date} {time}"
    if date:
        return format_when(date) or date
    return "Any day"


def activity_detail(
    activity: PartnerActivityDetail,
    ticket_price: PartnerTicketPrice | None,
    *,
    fresh: bool,
    locale: str | None = None,
    zone: str | None = None,
) -> ActivityDetail:
    """Sessions and ticket types, cheapest first; sold-out tickets stay listed, marked.
    Session times are the venue's (partners give them without an offset), so the note says
    so unless the venue keeps the person's own clock."""
    sessions: list[SessionLine] = []
    currency = ticket_price.currency if ticket_price else ""
    for session in (ticket_price.sessions if ticket_price else [])[:10]:
        tickets = []
        for ticket in sorted(session.tickets, key=lambda t: t.total)[:12]:
            amount = 0 if ticket.is_free else ticket.total
            label = price(from_major(amount), currency, locale)
            note = clip(ticket.description, 120)
            tickets.append(
                TicketLine(clip(ticket.name, 80) or "Ticket", label, ticket.available, note)
            )
        sessions.append(SessionLine(_session_label(session.date, session.time), tuple(tickets)))
    if activity.is_bookable:
        booking_note = "Bookable here: press Book or say how many tickets you want."
    elif ticket_price is None or ticket_price.max == 0:
        booking_note = "No tickets needed as far as we know."
    else:
        booking_note = "Not bookable here; tickets are sold by the venue."
    if sessions and not venue_is_theirs(activity.next_datetime, zone):
        booking_note = f"{booking_note} {VENUE_TIME_NOTE}"
    return ActivityDetail(
        title=clip(activity.name, 150) or "Untitled",
        activity_id=activity.activity_id,
        image_url=activity.picture_url,
        venue=clip(activity.venue, 120),
        place=clip(activity.semantic_location, 120),
        description=clip(activity.short_description, 600),
        price_label=price_label(ticket_price, locale),
        sessions=tuple(sessions),
        tips=tuple(t for t in (clip(tip, 200) for tip in activity.tips[:3]) if t),
        booking_note=booking_note,
        prices_fresh=fresh,
        buttons=card_buttons(activity.activity_id, activity.is_bookable)[1:],
        lat=activity.location.lat if activity.location else None,
        lng=activity.location.lng if activity.location else None,
    )
