"""Booking results from Outgoing's webhook, applied once and announced once.

Outgoing's webhooks are unsigned, so the URL carries a 256-bit token tied to one booking
(only its hash is stored) and the payload must match that booking in every field we sent.
Anything else gets the same 404 and changes nothing. Statuses only move forward; the
announcement is queued in the outbox in the same transaction, so it is posted exactly once
even if the process dies right after answering 200.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import ValidationError

from conversations import delivery
from conversations.booking.messages import status_reply
from conversations.booking.quote import Quote
from conversations.capabilities.outgoing.booking_choices import needs_input
from conversations.capabilities.outgoing.booking_job import (
    BOOKING,
    CHECK_AFTER,
    BookingJobStatus,
    for_payer,
)
from conversations.jobs import job_address, soon
from conversations.questions import ask_in
from integrations.outgoing.models import BookingStatus, BookingWebhookPayload
from storage import Database, repositories, token_hash
from storage.models import Action

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
_WAITING = (
    BookingJobStatus.ACCEPTED,
    BookingJobStatus.PENDING,
    BookingJobStatus.USER_INPUT_REQUIRED,
)


@dataclass(frozen=True)
class WebhookOutcome:
    status_code: int
    announced: bool = False


NOT_FOUND = WebhookOutcome(404)


def _matches(action: Action, payload: BookingWebhookPayload) -> bool:
    sent = action.payload.get("body", {})
    return (
        payload.idempotency_key == action.idempotency_key
        and payload.external_user_id == sent.get("external_user_id")
        and payload.activity_id == sent.get("activity_id")
        and payload.authorization_amount_cents == sent.get("authorization_amount_cents")
        and (action.partner_ref is None or payload.booking_id == action.partner_ref)
    )


async def receive_booking_webhook(db: Database, token: str, body: bytes) -> WebhookOutcome:
    """Verify, apply and queue the announcement; the caller answers with `status_code`."""
    if not token or len(token) > 128 or len(body) > MAX_BODY:
        return NOT_FOUND
    try:
        payload = BookingWebhookPayload.model_validate_json(body)
    except ValidationError:
        log.warning("booking webhook with an unreadable body")
        return NOT_FOUND
    async with db.session() as session:
        action = await repositories.get_action_by_webhook_token(
            session, token_hash=token_hash(token)
        )
        if action is None or action.kind != BOOKING.name or not _matches(action, payload):
            log.warning("booking webhook that matches no booking of ours")
            return NOT_FOUND
        waiting = payload.status.value in _WAITING
        applied = await repositories.transition_action(
            session,
            action_id=action.id,
            from_statuses=BOOKING.allowed_from(payload.status.value),
            to_status=payload.status.value,
            # A result still open is checked in the orders later if nothing more comes.
            next_run_at=soon(CHECK_AFTER.total_seconds()) if waiting else None,
            partner_ref=payload.booking_id,
            result=payload.model_dump(mode="json", include={"status", "booking_id", "resolved_at"}),
            error=payload.error_message if payload.status is BookingStatus.FAILED else None,
        )
        if applied:
            address = job_address(action)
            quote = Quote.from_json(action.payload["quote"])
            reply = status_reply(
                payload.status,
                quote,
                action.requested_by,
                f"retry:{action.id}",
                payload,
                payment_mode=str(action.payload.get("payment_mode", "")),
            )
            if payload.status is BookingStatus.USER_INPUT_REQUIRED:
                reply = await ask_in(
                    session,
                    needs_input(quote, payload.error_message),
                    address=address,
                    conversation_id=action.conversation_id,
                    asked_of=action.requested_by,
                    action_id=action.id,
                )
            await delivery.enqueue(
                session,
                address,
                for_payer(action, reply),
                dedupe_key=f"booking:{action.id}:{payload.status}",
            )
            if plan := action.payload.get("plan_id"):
                await repositories.schedule_job(session, action_id=str(plan))  # its outcome
    return WebhookOutcome(200, announced=applied)
