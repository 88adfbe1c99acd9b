"""What people are told at each step of a booking. Pure functions: state → Reply."""

from __future__ import annotations

from conversations.booking.quote import Quote, money
from conversations.cards import clip
from conversations.replies import ApprovalRequest, Button, Reply
from integrations.outgoing.models import BookingStatus, BookingWebhookPayload, PaymentMode

PAYMENT_WORDS = {
    "dry_run_success": "dry run (no charge)",
    "dry_run_failure": "dry run that will fail (no charge)",
    "live_purchase": "live purchase (the card on file is charged)",
}


DRY_RUNS = frozenset({PaymentMode.DRY_RUN_SUCCESS.value, PaymentMode.DRY_RUN_FAILURE.value})


def approval_key(approval_id: str) -> str:
    return f"approval:{approval_id}"


def quote_lines(quote: Quote, payment_mode: str) -> tuple[str, ...]:
    lines = [f"When: {quote.session_label} (venue time)"]
    if quote.venue:
        lines.append(f"Where: {quote.venue}")
    lines.extend(
        f"{line.quantity} × {line.name} "
        + (f"at {money(line.unit_cents, quote.currency)}" if line.unit_cents else "(free)")
        for line in quote.lines
    )
    total = money(quote.total_cents, quote.currency) if quote.total_cents else "free"
    lines.append(f"Total: {total} (fees included)")
    lines.append(f"Payment: {PAYMENT_WORDS.get(payment_mode, payment_mode)}")
    return tuple(lines)


def approval_request(
    approval_id: str, quote: Quote, payment_mode: str, requester: str, status: str = "pending"
) -> Reply:
    request = ApprovalRequest(
        approval_id=approval_id,
        title=f"Book {quote.activity_name}?",
        subject=quote.activity_name,
        lines=quote_lines(quote, payment_mode),
        requester=requester,
        confirm=Button("Confirm", f"approve:{approval_id}", "primary"),
        cancel=Button("Cancel", f"reject:{approval_id}", "danger"),
        status=status,
    )
    return Reply(approval=request, key=approval_key(approval_id), mention=requester)


def _charge_line(
    payload: BookingWebhookPayload | None, quote: Quote, payment_mode: str | None
) -> str | None:
    """What the booking cost; a dry run charged nothing, whatever amount it reports."""
    if payload is None:
        return None
    charged = payload.total_charged_cents
    if payment_mode in DRY_RUNS:
        amount = charged if charged is not None else payload.authorization_amount_cents
        if not amount:
            return "Dry run: nothing was charged."
        would = money(amount, quote.currency)
        return f"Dry run: nothing was charged (a real booking would charge {would})."
    return None if charged is None else f"Charged: {money(charged, quote.currency)}"


def status_reply(
    status: BookingStatus,
    quote: Quote,
    requester: str,
    retry: str,
    payload: BookingWebhookPayload | None = None,
    *,
    payment_mode: str | None = None,
) -> Reply:
    """One message per booking status, addressed to the person who asked; `payload` (the
    webhook's) adds ticket details, the amount charged or the reason it failed, and
    `payment_mode` (the approved one) tells a dry run from a real charge."""
    name = quote.activity_name
    details = payload.ticket_details if payload else None
    if status is BookingStatus.CONFIRMED:
        lines = [f"Booked: {name}, {quote.session_label}."]
        if details and details.confirmation_code:
            lines.append(f"Confirmation code: {clip(details.confirmation_code, 60)}")
        if details and details.download_urls:
            lines.extend(f"Tickets: {clip(url, 300)}" for url in details.download_urls[:10])
        if details and details.notes:
            lines.append(f"Venue notes: {clip(details.notes, 400)}")
        charge = _charge_line(payload, quote, payment_mode)
        if charge:
            lines.append(charge)
        return Reply(text="\n".join(lines), mention=requester)
    if status is BookingStatus.FAILED:
        reason = (clip(payload.error_message, 300) if payload else None) or "no reason given"
        return Reply(
            text=f"The booking for {name} failed: {reason}. Nothing was charged.",
            buttons=(Button("Retry", retry, "primary"),),
            mention=requester,
        )
    if status is BookingStatus.PENDING:
        return Reply(text=f"Outgoing is processing your booking for {name}…", mention=requester)
    if status is BookingStatus.USER_INPUT_REQUIRED:
        return Reply(
            text=f"Outgoing needs more details from you to finish booking {name}; "
            "check the e-mail Outgoing sent you.",
            mention=requester,
        )
    if status is BookingStatus.DELIVERABLE_READY:
        urls = details.download_urls if details else []
        lines = [f"Your tickets for {name} are ready."]
        lines.extend(f"Tickets: {clip(url, 300)}" for url in urls[:10])
        return Reply(text="\n".join(lines), mention=requester)
    return Reply(text=f"The booking for {name} was cancelled.", mention=requester)
