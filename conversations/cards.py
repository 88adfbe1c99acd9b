"""Partner data → what people see. Pure functions, no I/O.

Partner text is copied as plain data; renderers escape it for their platform.
"""

from __future__ import annotations

from datetime import datetime

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


def format_when(iso: str | None) -> str | None:
    """'2026-11-28T20:00:00-05:00' → 'Sat 28 Nov, 20:00' (the event's own local time)."""
    if not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return clip(iso, 40)
    if len(iso) <= 10:
        return moment.strftime("%a %d %b")
    return moment.strftime("%a %d %b, %H:%M")


def price_label(price: PartnerTicketPrice | None) -> str | None:
    if price is None:
        return None
    if price.max == 0:
        return "Free"
    return clip(price.label, 40) or f"{price.min:.2f}–{price.max:.2f} {price.currency}"


def card_buttons(activity_id: str | None, bookable: bool) -> tuple[Button, ...]:
    """Buttons carry the public activity id, so they work whatever the conversation did since."""
    if not activity_id:
        return ()
    buttons = [Button("Details", f"details:{activity_id}")]
    if bookable:
        buttons.append(Button("Book", f"book:{activity_id}", "primary"))
    return tuple(buttons)


def search_card(
    number: int, result: PartnerSearchResult, detail: PartnerActivityDetail | None
) -> ActivityCard:
    """A card from a search pick, enriched with price and bookability when detail is known."""
    bookable = bool(detail and detail.is_bookable)
    return ActivityCard(
        number=number,
        title=clip(result.name, 150) or "Untitled",
        activity_id=result.activity_id,
        image_url=result.picture_url or (detail.picture_url if detail else None),
        venue=clip(result.venue or (detail.venue if detail else None), 120),
        when=format_when(result.next_datetime or (detail.next_datetime if detail else None)),
        price_label=price_label(detail.ticket_price) if detail else None,
        why=clip(result.why),
        summary=clip(result.short_description),
        bookable=bookable,
        buttons=card_buttons(result.activity_id, bookable),
    )


def detail_card(
    number: int, activity: PartnerActivityDetail, why: str | None = None
) -> ActivityCard:
    """A card from a full activity record (nearby ideas, or a search pick's detail)."""
    return ActivityCard(
        number=number,
        title=clip(activity.name, 150) or "Untitled",
        activity_id=activity.activity_id,
        image_url=activity.picture_url,
        venue=clip(activity.venue or activity.semantic_location, 120),
        when=format_when(activity.next_datetime),
        price_label=price_label(activity.ticket_price),
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
    activity: PartnerActivityDetail, price: PartnerTicketPrice | None, *, fresh: bool
) -> ActivityDetail:
    """Sessions and ticket types, cheapest first; sold-out tickets stay listed, marked."""
    sessions: list[SessionLine] = []
    currency = price.currency if price else ""
    for session in (price.sessions if price else [])[:10]:
        tickets = []
        for ticket in sorted(session.tickets, key=lambda t: t.total)[:12]:
            label = (
                "Free" if ticket.is_free or ticket.total == 0 else f"{ticket.total:.2f} {currency}"
            )
            note = clip(ticket.description, 120)
            tickets.append(
                TicketLine(clip(ticket.name, 80) or "Ticket", label, ticket.available, note)
            )
        sessions.append(SessionLine(_session_label(session.date, session.time), tuple(tickets)))
    if activity.is_bookable:
        booking_note = "Bookable here: press Book or say how many tickets you want."
    elif price is None or price.max == 0:
        booking_note = "No tickets needed as far as we know."
    else:
        booking_note = "Not bookable here; tickets are sold by the venue."
    return ActivityDetail(
        title=clip(activity.name, 150) or "Untitled",
        activity_id=activity.activity_id,
        image_url=activity.picture_url,
        venue=clip(activity.venue, 120),
        place=clip(activity.semantic_location, 120),
        description=clip(activity.short_description, 600),
        price_label=price_label(price),
        sessions=tuple(sessions),
        tips=tuple(t for t in (clip(tip, 200) for tip in activity.tips[:3]) if t),
        booking_note=booking_note,
        prices_fresh=fresh,
        buttons=card_buttons(activity.activity_id, activity.is_bookable)[1:],
        lat=activity.location.lat if activity.location else None,
        lng=activity.location.lng if activity.location else None,
    )
