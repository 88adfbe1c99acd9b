"""An approved Outgoing booking as a job: sent, retried with its key, and seen through.

Granting the approval and recording this job (its idempotency key and the approved quote)
are one transaction (`booking.approvals`). The job then checks the key, provisions the
person and POSTs the booking, retrying with the same key and body; a booking Outgoing
accepted whose webhook never comes is looked up in the person's orders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from enum import StrEnum
from typing import Any, ClassVar

from conversations.booking.messages import status_reply
from conversations.booking.quote import Quote
from conversations.cards import clip
from conversations.jobs import JobContext, JobKind, Say, Step, soon
from conversations.replies import Button, Reply
from integrations.errors import PartnerError, PartnerHTTPError, PaymentRequired
from integrations.outgoing.models import BookingStatus, CreateBookingRequest
from storage.models import Action

NOT_SENT = "not_sent"
CHECK_AFTER = timedelta(minutes=3)
CHECK_EVERY = timedelta(minutes=10)
MAX_CHECKS = 12
RESEND_BACKOFF_S = (5.0, 30.0, 60.0)


class BookingJobStatus(StrEnum):
    PLACING = "placing"
    UNKNOWN = "unknown"
    ACCEPTED = "accepted"
    PENDING = BookingStatus.PENDING.value
    USER_INPUT_REQUIRED = BookingStatus.USER_INPUT_REQUIRED.value
    CONFIRMED = BookingStatus.CONFIRMED.value
    FAILED = BookingStatus.FAILED.value
    DELIVERABLE_READY = BookingStatus.DELIVERABLE_READY.value
    CANCELLED = BookingStatus.CANCELLED.value
    RETRIED = "retried"


S = BookingJobStatus
_RESOLVED = frozenset({S.CONFIRMED, S.FAILED, S.DELIVERABLE_READY, S.CANCELLED})
_FROM_PARTNER = frozenset({S.PENDING, S.USER_INPUT_REQUIRED, *_RESOLVED})
_WAITING = (S.ACCEPTED, S.PENDING, S.USER_INPUT_REQUIRED)


def _quote(action: Action) -> Quote:
    return Quote.from_json(action.payload["quote"])


def booking_body(quote: Quote, user: str, mode: str, key: str) -> dict[str, Any]:
    """Exactly what the person approved, for the person Outgoing knows."""
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


def for_payer(action: Action, reply: Reply) -> Reply:
    """What a booking says: in its conversation, or — for one person's share of a group
    plan — to that person alone, in their own chat (the plan posts the group's outcome)."""
    if "plan_id" not in action.payload:
        return reply
    return replace(reply, private_to=action.requested_by, private_chat=True)


class BookingJob(JobKind):
    name: ClassVar[str] = "booking"
    label: ClassVar[str] = "booking"
    waiting_statuses: ClassVar[frozenset[str]] = frozenset(
        {S.PLACING, S.UNKNOWN, S.ACCEPTED, S.PENDING}
    )
    transitions: ClassVar[Mapping[str, frozenset[str]]] = {
        S.PLACING: frozenset({S.UNKNOWN, S.ACCEPTED, *_FROM_PARTNER}),
        S.UNKNOWN: frozenset({S.ACCEPTED, *_FROM_PARTNER}),
        S.ACCEPTED: _FROM_PARTNER,
        S.PENDING: frozenset({S.USER_INPUT_REQUIRED, *_RESOLVED}),
        S.USER_INPUT_REQUIRED: _RESOLVED,
        S.CONFIRMED: frozenset({S.DELIVERABLE_READY, S.CANCELLED}),
        S.DELIVERABLE_READY: frozenset({S.CANCELLED}),
        S.FAILED: frozenset({S.RETRIED}),
    }

    def on_its_way(self, action: Action) -> bool:
        not_sent = action.status == S.PLACING and action.error == NOT_SENT
        return super().on_its_way(action) and not not_sent

    def describe(self, action: Action) -> str:
        quote = _quote(action)
        words = {
            S.PLACING: "being sent to Outgoing",
            S.UNKNOWN: "waiting for Outgoing to answer",
            S.ACCEPTED: "accepted by Outgoing, waiting for the result",
            S.USER_INPUT_REQUIRED: "Outgoing needs more details",
            S.DELIVERABLE_READY: "confirmed, tickets ready",
            S.RETRIED: "failed, retried",
        }
        if action.status == S.PLACING and action.error == NOT_SENT:
            state = "not sent (Outgoing was unreachable); press Confirm again"
        else:
            state = words.get(S(action.status), action.status)
        return f"Booking {quote.activity_name}, {quote.session_label}: {state}"

    async def step(self, job: JobContext) -> Step:
        step = await self._step(job)
        said = tuple(replace(s, reply=for_payer(job.action, s.reply)) for s in step.say)
        return replace(step, say=said)

    async def _step(self, job: JobContext) -> Step:
        if job.action.status in (S.PLACING, S.UNKNOWN):
            return await self._send(job)
        if job.action.status in _WAITING:
            return await self._check_orders(job)
        return Step(job.action.status)

    def crashed(self, job: JobContext, error: BaseException) -> Step:
        # Whether the POST left is unknown: look again later, with the same key.
        if job.action.status in (S.PLACING, S.UNKNOWN):
            return Step(S.UNKNOWN, run_at=soon(60.0), error=type(error).__name__)
        return Step(job.action.status, run_at=soon(CHECK_EVERY.total_seconds()))

    async def _send(self, job: JobContext) -> Step:
        action, quote = job.action, _quote(job.action)
        name = quote.activity_name
        # Once the body is kept, a POST may have left (a crash right after it): never say
        # "nothing was sent" from then on, only retry with the same key.
        sent_before = action.status == S.UNKNOWN or "body" in action.payload
        try:
            session = await job.deps.outgoing.session(job.address, job.sender)
        except PartnerError:
            if sent_before:
                return Step(S.UNKNOWN, run_at=soon(60.0))
            return self._not_sent(job, name)
        if session is None or session.user is None:
            text = (
                "Outgoing is not set up here, so I can't book. Nothing was charged."
                if session is None
                else "This workspace's Outgoing key is a personal (self-serve) key, which can't "
                "book through the API. Nothing was charged. An admin can connect a partner key."
            )
            return self._failed(job, text, "not_bookable")
        key = str(action.idempotency_key)
        body = action.payload.get("body") or booking_body(
            quote, session.user, str(action.payload["payment_mode"]), key
        )
        if "body" not in action.payload:
            await job.checkpoint(body=body)  # the webhook is checked against exactly this
        request = CreateBookingRequest.model_validate(
            {**body, "webhook_url": job.deps.booking.webhook_url(key)}
        )
        try:
            accepted = await session.client.create_booking(request, user=session.user)
        except PaymentRequired:
            return self._failed(
                job,
                "Live purchases aren't enabled for this workspace's Outgoing key, so nothing "
                f"was booked or charged for {name}. Ask an admin, or use a dry run.",
                "payment_required",
            )
        except PartnerHTTPError as error:
            if error.retryable:
                return self._unsure(job, name)
            return self._failed(
                job,
                f"Outgoing refused the booking for {name}: {clip(error.message, 300)}. "
                "Nothing was charged.",
                type(error).__name__,
            )
        except PartnerError:
            return self._unsure(job, name)
        return Step(
            S.ACCEPTED,
            partner_ref=accepted.booking_id,
            run_at=soon(CHECK_AFTER.total_seconds()),
            say=(
                Say(
                    "accepted",
                    Reply(text=f"Booking sent to Outgoing for {name}; I'll post the result here."),
                ),
            ),
        )

    async def _check_orders(self, job: JobContext) -> Step:
        """No webhook came: ask Outgoing how the booking stands, in the person's orders."""
        action = job.action
        later = soon(CHECK_EVERY.total_seconds()) if action.attempts < MAX_CHECKS else None
        try:
            session = await job.deps.outgoing.session(job.address, job.sender)
            if session is None or session.user is None:
                return Step(action.status, run_at=later)
            orders = await session.client.list_orders(user=session.user)
        except PartnerError:
            return Step(action.status, run_at=later)
        found = next((b for b in orders.bookings if b.id == action.partner_ref), None)
        if found is None or found.status not in _FROM_PARTNER or found.status == action.status:
            return Step(action.status, run_at=later)
        status = BookingStatus(found.status)
        if not self.allows(action.status, status.value):
            return Step(action.status, run_at=later)
        reply = status_reply(status, _quote(action), action.requested_by, f"retry:{action.id}")
        return Step(
            status.value,
            run_at=later if status.value in _WAITING else None,
            result={"status": status.value, "booking_id": found.id, "from": "orders"},
            say=(Say(status.value, reply),),
        )

    def _not_sent(self, job: JobContext, name: str) -> Step:
        """Nothing left for Outgoing: safe to say so, and to try again on a second Confirm."""
        approval = str(job.action.payload.get("approval_id", ""))
        reply = Reply(
            text=f"Outgoing can't be reached right now, so nothing was booked or charged for "
            f"{name}. Press Confirm again to try once more.",
            buttons=(Button("Confirm again", f"approve:{approval}", "primary"),),
            mention=job.action.requested_by,
        )
        return Step(
            S.PLACING,
            run_at=None,
            error=NOT_SENT,
            say=(Say(f"not_sent:{job.action.attempts}", reply),),
        )

    def _unsure(self, job: JobContext, name: str) -> Step:
        delay = RESEND_BACKOFF_S[min(job.action.attempts, len(RESEND_BACKOFF_S)) - 1]
        reply = Reply(
            text=f"Outgoing didn't answer about {name}. I'll check again with the same request, "
            "so you can't be booked twice."
        )
        return Step(S.UNKNOWN, run_at=soon(delay), say=(Say("unsure", reply),))

    @staticmethod
    def _failed(job: JobContext, text: str, error: str) -> Step:
        return Step(S.FAILED, error=error, say=(Say("refused", Reply(text=text)),))


BOOKING = BookingJob()
