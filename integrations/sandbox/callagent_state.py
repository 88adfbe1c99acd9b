"""The state of one AI Call Agent sandbox app: calls, customers, bookings and webhooks.

``CallAgentSandboxState`` gates and starts calls (their story is ``callagent_script``),
records events and answers, and delivers signed ``ask_user`` webhooks. The config and the
records it keeps live in ``callagent_config`` and ``callagent_records``; their names are
re-exported here, where callers have always imported them from.
Tests reach the state with ``callagent_state(app)``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from integrations.callagent.models import Booking, BookingStatus, BookingType, StartCallBody
from integrations.sandbox.callagent_config import ACTIVE_STATUSES as ACTIVE_STATUSES
from integrations.sandbox.callagent_config import (
    DEFAULT_CALL_AGENT_ADMIN_KEY,
    DEFAULT_CALL_AGENT_KEY,
    FINAL_STATUSES,
    RESERVATION_QUESTION,
    CallAgentSandboxConfig,
    SandboxQuestion,
)
from integrations.sandbox.callagent_config import GENERAL_QUESTION as GENERAL_QUESTION
from integrations.sandbox.callagent_config import MAINTENANCE_MESSAGE as MAINTENANCE_MESSAGE
from integrations.sandbox.callagent_records import (
    PendingQuestion,
    ReceivedAnswer,
    SandboxCall,
    StoredEvent,
    Webhook,
    WebhookAttempt,
    sign_webhook,
)
from integrations.sandbox.callagent_script import is_reservation as is_reservation
from integrations.sandbox.callagent_script import run_call as run_call
from integrations.sandbox.responses import ApiError

__all__ = [
    "DEFAULT_CALL_AGENT_ADMIN_KEY",
    "DEFAULT_CALL_AGENT_KEY",
    "FINAL_STATUSES",
    "RESERVATION_QUESTION",
    "CallAgentSandboxConfig",
    "CallAgentSandboxState",
    "PendingQuestion",
    "ReceivedAnswer",
    "SandboxCall",
    "SandboxQuestion",
    "StoredEvent",
    "Webhook",
    "WebhookAttempt",
    "sign_webhook",
]

log = logging.getLogger(__name__)


def _forced_body(status: int, now: datetime) -> dict[str, Any]:
    if status == 503:
        resume = now.replace(hour=14, minute=0, second=0, microsecond=0)
        if resume <= now:
            resume += timedelta(days=1)
        return {
            "detail": {
                "code": "maintenance",
                "message": MAINTENANCE_MESSAGE,
                "resume_at": resume.isoformat(),
            }
        }
    texts = {
        400: "invalid phone number",
        402: "Out of credits: this period's quota is used up.",
        409: "Concurrency cap reached: cancel an active call or raise it via PUT /users/me/limits.",
        502: "Twilio dial failed; the credit reservation was released.",
    }
    return {"detail": texts.get(status, "Sandbox-forced failure")}


class CallAgentSandboxState:
    """Everything one Call Agent sandbox app remembers; lives on ``app.state.callagent``."""

    def __init__(self, config: CallAgentSandboxConfig) -> None:
        self.config = config
        self.calls: dict[str, SandboxCall] = {}
        self.answers: list[ReceivedAnswer] = []
        self.webhook_deliveries: list[WebhookAttempt] = []
        self.webhooks: dict[str, Webhook] = {}
        self.limits: dict[str, int] = {}
        self.usage: dict[str, int] = {}
        self.bookings: dict[str, tuple[str, Booking]] = {}  # booking_id -> (key, booking)
        self.skill_runs: dict[tuple[str, str], dict[str, Any]] = {}
        self.start_requests = 0
        """Authenticated ``POST /calls`` requests, plus skill runs that tried to start a
        call (idempotent replays and refusals before the start do not count)."""
        self.stream_resumes: list[tuple[str, int]] = []
        """(call id, the Last-Event-ID it resumed after; 0: from the start) per connection."""
        self.open_streams: dict[str, int] = {}
        self.most_open_streams = 0
        """The most event streams of one call open at once (one listener per call)."""
        self.closing = False
        self.freed = asyncio.Event()
        self._fail_times: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None

    # ------------------------------------------------------------------ test helpers

    def stream_opened(self, call_id: str, after: int) -> None:
        self.stream_resumes.append((call_id, after))
        self.open_streams[call_id] = self.open_streams.get(call_id, 0) + 1
        self.most_open_streams = max(self.most_open_streams, self.open_streams[call_id])

    def stream_closed(self, call_id: str) -> None:
        self.open_streams[call_id] = self.open_streams.get(call_id, 1) - 1

    @property
    def call_list(self) -> list[SandboxCall]:
        """Oldest first."""
        return list(self.calls.values())

    def events_of(self, call_id: str) -> list[StoredEvent]:
        return list(self.calls[call_id].events)

    def configure(self, **changes: Any) -> None:
        """Change config fields at runtime (e.g. ``queue_mode=True``)."""
        self.config = dataclasses.replace(self.config, **changes)

    def set_fail_start(self, status: int | None, *, times: int | None = None) -> None:
        """Make the next starts answer ``status`` (all of them, or ``times``); None clears."""
        self.configure(fail_start_with=status)
        self._fail_times = times if status is not None else None

    async def wait_until_final(self, call_id: str) -> SandboxCall:
        """Wait for the call to end (tests; wrap in ``asyncio.timeout``)."""
        call = self.calls[call_id]
        wake = asyncio.Event()
        call.listeners.add(wake)
        try:
            while not call.final:
                await wake.wait()
                wake.clear()
        finally:
            call.listeners.discard(wake)
        return call

    # ------------------------------------------------------------------ customers

    def known(self, key: str | None) -> bool:
        return key is not None and (key in self.config.keys or key in self.config.admin_keys)

    def is_admin(self, key: str) -> bool:
        return key in self.config.admin_keys

    @staticmethod
    def customer_id(key: str) -> str:
        return "cus_" + hashlib.sha256(key.encode()).hexdigest()[:12]

    def cap_of(self, key: str) -> int:
        return self.limits.get(key, self.config.max_concurrent_calls)

    def active_calls(self, key: str, statuses: frozenset[str] = ACTIVE_STATUSES) -> int:
        return sum(1 for c in self.calls.values() if c.key == key and c.status in statuses)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def maintenance(self) -> dict[str, Any] | None:
        if self.config.fail_start_with != 503:
            return None
        detail = _forced_body(503, self.now())["detail"]
        return {"active": True, "message": detail["message"], "resume_at": detail["resume_at"]}

    # ------------------------------------------------------------------ starting

    def start_call(self, key: str, body: StartCallBody) -> SandboxCall:
        """Gate (forced failure, credits, cap) and create a call, then run its script."""
        if not re.fullmatch(r"\+[1-9]\d{6,14}", body.target_phone):
            raise ApiError(400, {"detail": "invalid phone number"})
        if not body.brief.strip():
            raise ApiError(400, {"detail": "brief must not be empty"})
        forced = self.config.fail_start_with
        if forced is not None:
            if self._fail_times is not None:
                self._fail_times -= 1
                if self._fail_times <= 0:
                    self.set_fail_start(None)
            raise ApiError(forced, _forced_body(forced, self.now()))
        cost = self.config.credits_per_call
        if self.usage.get(key, 0) + cost > self.config.quota_limit:
            raise ApiError(402, _forced_body(402, self.now()))
        queued = self.config.queue_mode
        if not queued and self.active_calls(key) >= self.cap_of(key):
            raise ApiError(409, _forced_body(409, self.now()))
        self.usage[key] = self.usage.get(key, 0) + cost
        call = SandboxCall(
            call_id=str(uuid.uuid4()),
            key=key,
            customer_id=self.customer_id(key),
            task_id=f"task_{secrets.token_hex(8)}",
            body=body,
            status="queued" if queued else "dialing",
            created_at=self.now(),
            queue_id=f"q_{secrets.token_hex(8)}" if queued else None,
        )
        self.calls[call.call_id] = call
        if queued:
            self.set_status(call, "queued")
        else:
            self.dial(call)
        call.task = self.spawn(run_call(self, call), f"callagent-{call.call_id}")
        return call

    def queue_position(self, call: SandboxCall) -> int:
        ahead = [c for c in self.calls.values() if c.status == "queued" and c is not call]
        return sum(1 for c in ahead if c.created_at <= call.created_at)

    # ------------------------------------------------------------------ call events

    def emit(self, call: SandboxCall, type_: str, data: dict[str, Any]) -> StoredEvent:
        event = StoredEvent(len(call.events) + 1, type_, data)
        call.events.append(event)
        for listener in call.listeners:
            listener.set()
        return event

    def set_status(self, call: SandboxCall, status: str) -> None:
        call.status = status
        self.emit(call, "status", {"status": status})

    def dial(self, call: SandboxCall) -> None:
        call.call_sid = f"CA{secrets.token_hex(16)}"
        self.set_status(call, "dialing")

    def say(self, call: SandboxCall, role: str, text: str) -> None:
        source = "bot" if role == "agent" else "supervisor_stt"
        call.transcript.append(
            {"role": role, "text": text, "ts": self.now().isoformat(), "source": source}
        )
        self.emit(call, "transcript", {"role": role, "text": text})

    def finish(
        self,
        call: SandboxCall,
        status: str,
        outcome_type: str,
        summary: str,
        signals: tuple[str, ...] = (),
    ) -> None:
        """Outcome event, then the final status (one step: a stream sees both)."""
        if call.final:
            return
        for pending in call.pending:
            pending.answer.cancel()
        call.ended_at = self.now()
        call.outcome_type, call.outcome_summary = outcome_type, summary
        call.reservation_signals = list(signals)
        if status == "completed":
            call.charge_cents = 50
        else:  # the reservation is released
            self.usage[call.key] = max(
                0, self.usage.get(call.key, 0) - self.config.credits_per_call
            )
        self.emit(call, "outcome", {"outcome_type": outcome_type, "summary": summary})
        self.set_status(call, status)
        self.capacity_changed()

    def capacity_changed(self) -> None:
        """Wake queued calls waiting for a free slot (a call ended, or the cap rose)."""
        self.freed.set()
        self.freed = asyncio.Event()

    def cancel(self, call: SandboxCall) -> bool:
        if call.final:
            return False
        if call.task is not None:
            call.task.cancel()
        self.finish(call, "cancelled", "cancelled", "Cancelled by the customer.")
        return True

    def submit_answer(
        self, call: SandboxCall, answer: str, request_id: str | None, mode: str
    ) -> bool:
        """Fulfil the matching (or oldest) pending question; False when none is waiting."""
        if request_id is None:
            waiting = call.pending[:1]
        else:
            waiting = [p for p in call.pending if p.request_id == request_id]
        delivered = bool(waiting) and not call.final and not waiting[0].answer.done()
        if delivered:
            waiting[0].answer.set_result((answer, mode))
        self.answers.append(ReceivedAnswer(call.call_id, request_id, answer, mode, delivered))
        return delivered

    def add_booking(self, call: SandboxCall, status: BookingStatus, **fields: Any) -> Booking:
        now = self.now()
        booking = Booking(
            booking_id=str(uuid.uuid4()),
            customer_id=call.customer_id,
            call_id=call.call_id,
            type=BookingType.RESTAURANT,
            target_phone=call.body.target_phone,
            status=status,
            language=call.body.language,
            created_at=now,
            updated_at=now,
            **fields,
        )
        self.bookings[booking.booking_id] = (call.key, booking)
        return booking

    # ------------------------------------------------------------------ webhooks

    def notify_webhook(self, call: SandboxCall, pending: PendingQuestion) -> None:
        webhook = self.webhooks.get(call.key)
        if webhook is None:
            return
        payload = {
            "type": "ask_user",
            "call_id": call.call_id,
            "request_id": pending.request_id,
            "question": pending.question,
        }
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        self.spawn(self._deliver(webhook, body), f"callagent-webhook-{pending.request_id}")

    async def _deliver(self, webhook: Webhook, body: bytes) -> None:
        """POST with retries; a failing webhook is recorded, never fatal to the call."""
        msg_id = f"msg_{secrets.token_hex(12)}"
        attempts = max(1, self.config.webhook_max_attempts)
        for attempt in range(1, attempts + 1):
            headers = sign_webhook(
                webhook.secret, body, msg_id=msg_id, timestamp=str(int(time.time()))
            )
            status: int | None = None
            error: str | None = None
            try:
                response = await self.http.post(webhook.url, content=body, headers=headers)
                status = response.status_code
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            record = WebhookAttempt(webhook.url, body, headers, attempt, status, error)
            self.webhook_deliveries.append(record)
            if record.ok:
                return
            if attempt < attempts:
                await asyncio.sleep(self.config.webhook_retry_backoff_s * attempt)
        log.warning("callagent sandbox: webhook delivery failed after %d attempts", attempts)

    # ------------------------------------------------------------------ background work

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def background_tasks(self) -> int:
        """Call scripts and webhook deliveries still running."""
        return len(self._tasks)

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=self.config.webhook_timeout_s,
                headers={"User-Agent": "call-agent-sandbox/1.0"},
            )
        return self._http

    async def wait_for_webhooks(self) -> None:
        """Wait until every webhook delivery (and call script) finished; wrap in a timeout."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close_streams(self) -> None:
        """End every open event stream (cleanly) so the server can stop at once."""
        self.closing = True
        for call in self.calls.values():
            for listener in call.listeners:
                listener.set()

    async def aclose(self) -> None:
        """Cancel running calls and deliveries, then close the webhook client."""
        self.close_streams()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None
