"""``POST /bookings`` of the sandbox: validation, idempotency, webhook deliveries, orders."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import httpx
from starlette.responses import JSONResponse

from integrations.outgoing.models import (
    BookingStatus,
    BookingTicketItem,
    BookingWebhookPayload,
    CreateBookingAcceptedResponse,
    CreateBookingRequest,
    OrderBooking,
    OrderDeliverable,
    OrderEmail,
    OrdersResponse,
    PartnerSession,
    PartnerSessionTicket,
    PaymentMode,
    TicketDetails,
)
from integrations.sandbox.catalogue import Activity
from integrations.sandbox.responses import (
    ApiError,
    error,
    invalid,
    parse,
    respond,
    validation_detail,
)
from integrations.sandbox.state import Booking, Principal, SandboxState, WebhookDelivery

__all__ = ["create_booking", "orders_of", "ticket_pdf"]

logger = logging.getLogger(__name__)
_DONE = (BookingStatus.CONFIRMED.value, BookingStatus.DELIVERABLE_READY.value)


def _parse_request(data: Any) -> CreateBookingRequest:
    if isinstance(data, dict) and isinstance(data.get("tickets"), list):
        known = BookingTicketItem.model_fields
        tickets = [
            {k: v for k, v in t.items() if k in known} if isinstance(t, dict) else t
            for t in data["tickets"]
        ]
        data = {**data, "tickets": tickets}
    return parse(CreateBookingRequest, data, "body")


def _fingerprint(request: CreateBookingRequest) -> str:
    return json.dumps(request.model_dump(mode="json"), sort_keys=True)


def _session(
    sessions: list[PartnerSession], item: BookingTicketItem, loc: list[str | int]
) -> tuple[int, PartnerSession] | dict[str, Any]:
    """The session an item books, or a validation detail saying why there is none."""
    if item.session_date is None and item.session_time is None and len(sessions) == 1:
        return 0, sessions[0]
    for index, session in enumerate(sessions):
        if (session.date, session.time) == (item.session_date, item.session_time):
            return index, session
    listed = ", ".join(f"{s.date} {s.time}" for s in sessions)
    if item.session_date is None and len(sessions) > 1:
        return validation_detail(
            [*loc, "session_date"],
            f"session_date is required for multi-session events; sessions: {listed}",
            "session_required",
        )
    return validation_detail(
        [*loc, "session_date"],
        f"No session on {item.session_date} at {item.session_time}; sessions: {listed}",
        "session_not_found",
    )


def _total_cents(activity: Activity, request: CreateBookingRequest) -> int:
    """Price of the request in cents (tickets incl. fees); 422 with every problem found."""
    assert activity.ticket_price is not None
    sessions = activity.ticket_price.sessions
    details: list[dict[str, Any]] = []
    counts: dict[tuple[int, str], int] = {}
    picked: dict[tuple[int, str], tuple[PartnerSessionTicket, int]] = {}  # ticket, first item
    total = 0
    has_admission = False
    for i, item in enumerate(request.tickets):
        loc: list[str | int] = ["body", "tickets", i]
        found = _session(sessions, item, loc)
        if isinstance(found, dict):
            details.append(found)
            continue
        index, session = found
        ticket = next((t for t in session.tickets if t.name == item.ticket_type_name), None)
        if ticket is None:
            names = ", ".join(f"'{t.name}'" for t in session.tickets)
            details.append(
                validation_detail(
                    [*loc, "ticket_type_name"],
                    f"Unknown ticket type '{item.ticket_type_name}'; this session has {names}",
                    "ticket_type_not_found",
                )
            )
        elif not ticket.available:
            details.append(
                validation_detail(
                    [*loc, "ticket_type_name"],
                    f"'{ticket.name}' is sold out for this session",
                    "ticket_unavailable",
                )
            )
        else:
            key = (index, ticket.name)
            counts[key] = counts.get(key, 0) + item.num_tickets
            picked.setdefault(key, (ticket, i))
            total += round(ticket.total * 100) * item.num_tickets
            has_admission = has_admission or ticket.category != "add_on"
    for key, count in counts.items():
        ticket, first = picked[key]
        name = ticket.name
        loc = ["body", "tickets", first, "num_tickets"]
        if count < ticket.min_quantity:
            details.append(
                validation_detail(
                    loc,
                    f"'{name}' needs at least {ticket.min_quantity} tickets per order",
                    "quantity_below_minimum",
                )
            )
        elif ticket.max_quantity is not None and count > ticket.max_quantity:
            details.append(
                validation_detail(
                    loc,
                    f"'{name}' allows at most {ticket.max_quantity} tickets per order",
                    "quantity_above_maximum",
                )
            )
    if not details and not has_admission:
        details.append(
            validation_detail(
                ["body", "tickets"],
                "Add-ons need at least one admission ticket in the same booking",
                "add_on_without_admission",
            )
        )
    if not details and request.authorization_amount_cents < total:
        details.append(
            validation_detail(
                ["body", "authorization_amount_cents"],
                f"authorization_amount_cents ({request.authorization_amount_cents}) does not "
                f"cover the booking total of {total} cents (all tickets, fees included)",
                "insufficient_authorization",
            )
        )
    if details:
        raise invalid(*details)
    return total


def create_booking(
    state: SandboxState,
    principal: Principal,
    body: Any,
    header_user: str | None,
    base_url: str,
) -> JSONResponse:
    """Validate and accept a booking of a negotiated key (``202``), or replay the one
    accepted under the same idempotency key.

    Runs without awaiting, so two identical concurrent requests cannot both create one.
    """
    request = _parse_request(body)
    if header_user is not None and header_user != request.external_user_id:
        raise error(400, "X-External-User-Id does not match external_user_id in the body.")
    if (
        request.payment_mode is PaymentMode.LIVE_PURCHASE
        and principal.key not in state.config.stored_card_keys
    ):
        message = "This API key is not authorized to charge the stored payment card."
        raise ApiError(402, {"detail": message, "error": message})

    fingerprint = _fingerprint(request)
    existing_id = state.idempotency.get((principal.key, request.idempotency_key))
    if existing_id is not None:
        existing = state.bookings[existing_id]
        if existing.fingerprint != fingerprint:
            raise invalid(
                validation_detail(
                    ["body", "idempotency_key"],
                    "This idempotency_key was already used with a different request body; "
                    "use a new key for a different booking.",
                    "idempotency_key_reused",
                )
            )
        accepted = CreateBookingAcceptedResponse(
            booking_id=existing.booking_id,
            idempotency_key=request.idempotency_key,
            status=existing.status,
        )
        return respond(accepted, 202)

    activity = state.catalogue.get(request.activity_id)
    if activity is None:
        raise error(404, "Activity not found")
    if state.user(principal.key, request.external_user_id) is None:
        raise invalid(
            validation_detail(
                ["body", "external_user_id"],
                f"User '{request.external_user_id}' has not been provisioned; call "
                "POST /partner/v1/users first.",
                "user_not_provisioned",
            )
        )
    if not activity.is_bookable or activity.ticket_price is None:
        raise invalid(
            validation_detail(
                ["body", "activity_id"],
                "This activity cannot be booked through the API (is_bookable is false).",
                "activity_not_bookable",
            )
        )
    total = _total_cents(activity, request)

    booking = Booking(
        booking_id=str(uuid.uuid4()),
        key=principal.key,
        external_user_id=request.external_user_id,
        request=request,
        fingerprint=fingerprint,
        activity_name=activity.name,
        picture_url=activity.picture_url,
        venue=activity.venue,
        estimated_fulfillment=activity.estimated_fulfillment,
        purchase_amount_cents=total,
        created_at=state.now(),
        base_url=base_url,
        notes=" ".join([f"Show your confirmation code at {activity.venue}.", *activity.tips[:1]]),
    )
    state.bookings[booking.booking_id] = booking
    state.idempotency[(principal.key, request.idempotency_key)] = booking.booking_id
    state.spawn(_fulfil(state, booking), name=f"sandbox-booking-{booking.booking_id}")
    accepted = CreateBookingAcceptedResponse(
        booking_id=booking.booking_id, idempotency_key=request.idempotency_key, status="accepted"
    )
    return respond(accepted, 202)


# --------------------------------------------------------------------------- webhooks


def _payload(state: SandboxState, booking: Booking) -> dict[str, Any]:
    request = booking.request
    done = booking.status in _DONE
    fee = state.config.booking_fee_cents
    details = None
    if done:
        details = TicketDetails(
            download_urls=booking.download_urls,
            confirmation_code=booking.confirmation_code,
            notes=booking.notes,
        )
    payload = BookingWebhookPayload(
        booking_id=booking.booking_id,
        idempotency_key=request.idempotency_key,
        status=BookingStatus(booking.status),
        activity_id=request.activity_id,
        external_user_id=request.external_user_id,
        tickets=request.tickets,
        authorization_amount_cents=request.authorization_amount_cents,
        purchase_amount_cents=booking.purchase_amount_cents if done else None,
        booking_fee_cents=fee,
        total_charged_cents=booking.purchase_amount_cents + fee if done else None,
        resolved_at=booking.resolved_at or state.now(),
        ticket_details=details,
        error_message=booking.error_message,
    )
    return payload.model_dump(mode="json")


async def _deliver(state: SandboxState, booking: Booking) -> None:
    """POST the booking's current state to its webhook URL, retrying non-2xx answers."""
    cfg = state.config
    url = booking.request.webhook_url
    payload = _payload(state, booking)
    for attempt in range(1, cfg.webhook_max_attempts + 1):
        status_code: int | None = None
        problem: str | None = None
        try:
            response = await state.http.post(url, json=payload)
            status_code = response.status_code
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        delivery = WebhookDelivery(url, payload, attempt, status_code, problem, state.now())
        state.webhook_deliveries.append(delivery)
        if delivery.ok:
            return
        if attempt < cfg.webhook_max_attempts:
            await asyncio.sleep(cfg.webhook_retry_backoff_s * attempt)
    logger.warning(
        "sandbox: webhook %s for booking %s was not accepted after %d attempts",
        payload["status"],
        booking.booking_id,
        cfg.webhook_max_attempts,
    )


def _download_urls(booking: Booking) -> list[str]:
    count = min(10, sum(t.num_tickets for t in booking.request.tickets))
    return [
        f"{booking.base_url}/sandbox/tickets/{booking.booking_id}/{n}.pdf"
        for n in range(1, count + 1)
    ]


async def _fulfil(state: SandboxState, booking: Booking) -> None:
    """``pending``, then ``confirmed`` (or ``failed``); delayed fulfilment adds
    ``deliverable_ready`` once the tickets exist."""
    delay = state.config.webhook_delay_s
    try:
        await asyncio.sleep(delay)
        await _deliver(state, booking)
        await asyncio.sleep(delay)
        booking.resolved_at = state.now()
        if state.config.booking_needs_input:
            booking.status = BookingStatus.USER_INPUT_REQUIRED.value
            booking.error_message = "The venue needs each guest's full name."
            await _deliver(state, booking)
            return
        if booking.request.payment_mode is PaymentMode.DRY_RUN_FAILURE:
            booking.status = BookingStatus.FAILED.value
            booking.error_message = "Payment declined by processor (dry run)."
            await _deliver(state, booking)
            return
        booking.status = BookingStatus.CONFIRMED.value
        booking.confirmation_code = f"OG-SBX-{booking.booking_id[:6].upper()}"
        if booking.estimated_fulfillment != "delayed":
            booking.download_urls = _download_urls(booking)
            await _deliver(state, booking)
            return
        booking.notes = f"{booking.notes} Tickets will follow shortly by e-mail."
        await _deliver(state, booking)
        await asyncio.sleep(delay)
        booking.status = BookingStatus.DELIVERABLE_READY.value
        booking.download_urls = _download_urls(booking)
        await _deliver(state, booking)
    except Exception:
        logger.exception("sandbox: booking %s fulfilment crashed", booking.booking_id)


# --------------------------------------------------------------------------- orders


def ticket_pdf(booking: Booking, number: int) -> bytes:
    """A tiny stand-in "PDF" for a ticket download link."""
    text = f"{booking.activity_name} - ticket {number} - {booking.confirmation_code}"
    return b"%PDF-1.4\n% Outgoing sandbox ticket\n" + text.encode() + b"\n%%EOF\n"


def orders_of(state: SandboxState, key: str, external_user_id: str) -> OrdersResponse:
    bookings = state.bookings_of(key, external_user_id)
    deliverables = [
        OrderDeliverable(
            id=f"{b.booking_id}-ticket-{n}",
            deliverable_type="ticket",
            filename=f"{b.confirmation_code}-{n}.pdf",
            content_type="application/pdf",
            file_size_bytes=len(ticket_pdf(b, n)),
            partner_booking_id=b.booking_id,
        )
        for b in bookings
        for n in range(1, len(b.download_urls) + 1)
    ]
    emails = [
        OrderEmail(
            id=f"{b.booking_id}-email",
            subject=(
                f"Your booking for {b.activity_name} is confirmed"
                if b.status in _DONE
                else f"We couldn't complete your booking for {b.activity_name}"
            ),
            classification="booking_confirmation" if b.status in _DONE else "booking_failure",
            processing_status="processed",
            partner_booking_id=b.booking_id,
            received_at=b.resolved_at.isoformat(),
        )
        for b in bookings
        if b.resolved_at is not None
    ]
    return OrdersResponse(
        bookings=[
            OrderBooking(
                id=b.booking_id,
                status=b.status,
                activity_name=b.activity_name,
                picture_url=b.picture_url,
                authorization_amount_cents=b.request.authorization_amount_cents,
                created_at=b.created_at.isoformat(),
            )
            for b in bookings
        ],
        deliverables=deliverables,
        emails=emails,
    )
