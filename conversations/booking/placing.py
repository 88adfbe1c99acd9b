"""Placing an approved booking with Outgoing, safely.

The idempotency key and the request body are committed (as a `booking` action) before the
first POST. Network failures are retried by the client with the same key and bytes; when
they are exhausted the action is `unknown` and is re-sent, still with the same key, by
`reconcile` — never with a new key, so one approval can never become two bookings.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from conversations import delivery
from conversations.booking.config import BookingConfig
from conversations.booking.quote import Quote
from conversations.cards import clip
from conversations.outgoing_access import OutgoingAccess, OutgoingSession
from conversations.replies import Reply
from conversations.tools.context import ToolContext
from conversations.types import ConversationAddress, Sender
from integrations.errors import PartnerError, PartnerHTTPError, PaymentRequired
from integrations.outgoing.models import CreateBookingRequest
from storage import Database, repositories, token_hash
from storage.models import Action

log = logging.getLogger(__name__)

KIND = "booking"
PLACING, UNKNOWN, ACCEPTED, FAILED = "placing", "unknown", "accepted", "failed"

NOT_CONFIGURED = Reply(text="Outgoing is not set up here, so I can't book. Nothing was charged.")
SELF_SERVE = Reply(
    text="This workspace's Outgoing key is a personal (self-serve) key, which can't book "
    "through the API. Nothing was charged. An admin can connect a partner key."
)


def _body(quote: Quote, user: str, mode: str, key: str) -> dict[str, Any]:
    return {
        "external_user_id": user,
        "activity_id": quote.activity_id,
        "tickets": [
            {
                "ticket_type_name": line.name,
                "num_tickets": line.quantity,
                "session_date": quote.session_date,
                "session_time": quote.session_time,
            }
            for line in quote.lines
        ],
        "authorization_amount_cents": quote.total_cents,
        "idempotency_key": key,
        "payment_mode": mode,
    }


async def place(ctx: ToolContext, approval_id: str, quote: Quote, mode: str) -> tuple[Reply, ...]:
    """Record the booking (key first), then send it."""
    session = await ctx.deps.outgoing.session(ctx.address, ctx.sender)
    if session is None:
        return (NOT_CONFIGURED,)
    if session.user is None:
        return (SELF_SERVE,)
    key = uuid.uuid4().hex
    body = _body(quote, session.user, mode, key)
    config = ctx.deps.booking
    async with ctx.deps.db.session() as db_session:
        action = await repositories.create_action(
            db_session,
            kind=KIND,
            status=PLACING,
            conversation_id=ctx.conversation_id,
            platform=ctx.address.platform,
            workspace_id=ctx.address.workspace_id,
            chat_id=ctx.address.chat_id,
            thread_id=ctx.address.thread_id,
            requested_by=ctx.sender.user_id,
            payload={"body": body, "quote": quote.to_json(), "approval_id": approval_id},
            idempotency_key=key,
            webhook_token_hash=token_hash(config.webhook_token(key)),
        )
    return await submit(ctx.deps.db, config, action.id, body, session, quote.activity_name)


async def submit(
    db: Database,
    config: BookingConfig,
    action_id: str,
    body: dict[str, Any],
    session: OutgoingSession,
    name: str,
) -> tuple[Reply, ...]:
    """POST the stored body with its stored key and record what Outgoing answered."""
    request = CreateBookingRequest.model_validate(
        {**body, "webhook_url": config.webhook_url(str(body["idempotency_key"]))}
    )
    assert session.user is not None
    try:
        accepted = await session.client.create_booking(request, user=session.user)
    except PaymentRequired:
        await _settle(db, action_id, FAILED, error="payment_required")
        return (
            Reply(
                text="Live purchases aren't enabled for this workspace's Outgoing key, so "
                f"nothing was booked or charged for {name}. Ask an admin, or use a dry run."
            ),
        )
    except PartnerHTTPError as error:
        if error.retryable:
            await _settle(db, action_id, UNKNOWN, error=type(error).__name__)
            return (_unsure(name),)
        await _settle(db, action_id, FAILED, error=type(error).__name__)
        return (
            Reply(
                text=f"Outgoing refused the booking for {name}: {clip(error.message, 300)}. "
                "Nothing was charged."
            ),
        )
    except PartnerError as error:
        await _settle(db, action_id, UNKNOWN, error=type(error).__name__)
        return (_unsure(name),)
    async with db.session() as db_session:
        moved = await repositories.transition_action(
            db_session,
            action_id=action_id,
            from_statuses=(PLACING, UNKNOWN),
            to_status=ACCEPTED,
            partner_ref=accepted.booking_id,
        )
    if not moved:
        return ()  # its webhook got here first and already said more
    return (Reply(text=f"Booking sent to Outgoing for {name}; I'll post the result here."),)


def _unsure(name: str) -> Reply:
    return Reply(
        text=f"Outgoing didn't answer about {name}. I'll check again with the same request, "
        "so you can't be booked twice."
    )


async def _settle(db: Database, action_id: str, status: str, *, error: str) -> None:
    async with db.session() as session:
        await repositories.transition_action(
            session,
            action_id=action_id,
            from_statuses=(PLACING, UNKNOWN),
            to_status=status,
            error=error,
        )


async def reconcile(
    db: Database,
    config: BookingConfig,
    outgoing: OutgoingAccess,
) -> int:
    """Re-send bookings left `placing` (crash before the answer) or `unknown` (no answer),
    each with its stored key and body; returns how many were re-sent."""
    async with db.session(read_only=True) as session:
        open_actions = await repositories.list_open_actions(
            session, kinds=[KIND], statuses=[PLACING, UNKNOWN]
        )
    for action in open_actions:
        await _resend(db, config, outgoing, action)
    return len(open_actions)


async def _resend(
    db: Database, config: BookingConfig, outgoing: OutgoingAccess, action: Action
) -> None:
    address = ConversationAddress(
        action.platform, action.workspace_id, action.chat_id, action.thread_id
    )
    try:
        session = await outgoing.session(address, Sender(action.requested_by))
    except PartnerError as error:
        log.warning("booking %s: cannot reach Outgoing to reconcile: %r", action.id, error)
        return
    if session is None or session.user is None:
        return
    name = str(action.payload["quote"]["activity_name"])
    replies = await submit(db, config, action.id, dict(action.payload["body"]), session, name)
    async with db.session() as db_session:
        for index, reply in enumerate(replies):
            await delivery.enqueue(
                db_session, address, reply, dedupe_key=f"booking:{action.id}:resent:{index}"
            )
