"""The records the AI Call Agent sandbox keeps: calls, their events, questions and webhooks.

Plain data (plus the webhook signature) so that the state, the script and the routes can
share them without depending on ``CallAgentSandboxState`` itself.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from integrations.callagent.models import Call, StartCallBody
from integrations.sandbox.callagent_config import FINAL_STATUSES

__all__ = [
    "PendingQuestion",
    "ReceivedAnswer",
    "SandboxCall",
    "StoredEvent",
    "Webhook",
    "WebhookAttempt",
    "sign_webhook",
]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    type: str
    data: dict[str, Any]

    def frame(self) -> bytes:
        """``id: <n>\\nevent: <type>\\ndata: <json>\\n\\n``."""
        data = json.dumps(self.data, separators=(",", ":"), ensure_ascii=False)
        return f"id: {self.id}\nevent: {self.type}\ndata: {data}\n\n".encode()


@dataclass(slots=True)
class PendingQuestion:
    request_id: str
    question: str
    options: tuple[str, ...]
    answer: asyncio.Future[tuple[str, str]]  # (answer, mode)


@dataclass(frozen=True, slots=True)
class ReceivedAnswer:
    call_id: str
    request_id: str | None
    """As sent (None: FIFO)."""
    answer: str
    mode: str
    delivered: bool


@dataclass(frozen=True, slots=True)
class WebhookAttempt:
    url: str
    body: bytes
    headers: dict[str, str]
    attempt: int
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(slots=True)
class Webhook:
    url: str
    secret: str


@dataclass(slots=True)
class SandboxCall:
    call_id: str
    key: str
    customer_id: str
    task_id: str
    body: StartCallBody
    status: str
    created_at: datetime
    queue_id: str | None = None
    call_sid: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    outcome_type: str | None = None
    outcome_summary: str | None = None
    charge_cents: int = 0
    reservation_signals: list[str] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    events: list[StoredEvent] = field(default_factory=list)
    pending: list[PendingQuestion] = field(default_factory=list)
    listeners: set[asyncio.Event] = field(default_factory=set)
    task: asyncio.Task[None] | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    def dto(self, *, details: bool) -> Call:
        duration = None
        if self.started_at is not None and self.ended_at is not None:
            duration = (self.ended_at - self.started_at).total_seconds()
        recorded = self.final and self.call_sid is not None and self.started_at is not None
        return Call(
            call_id=self.call_id,
            customer_id=self.customer_id,
            task_id=self.task_id,
            target_phone=self.body.target_phone,
            language=self.body.language,
            status=self.status,
            call_sid=self.call_sid,
            started_at=self.started_at,
            ended_at=self.ended_at,
            duration_sec=duration,
            outcome_type=self.outcome_type,
            outcome_summary=self.outcome_summary,
            outcome_charge_cents=self.charge_cents,
            created_at=self.created_at,
            has_recording=recorded,
            recording_url=f"/calls/{self.call_id}/recording" if recorded else None,
            reservation_signals=list(self.reservation_signals),
            transcript_full=[dict(line) for line in self.transcript] if details else None,
            supervisor_decisions=[] if details else None,
        )


def sign_webhook(secret: str, body: bytes, *, msg_id: str, timestamp: str) -> dict[str, str]:
    """Both signature schemes, keyed with the secret's UTF-8 bytes: ``X-Signature-256``
    (hex HMAC of the body) and Standard Webhooks (base64 HMAC of ``id.timestamp.body``)."""
    key = secret.encode()
    legacy = hmac.new(key, body, hashlib.sha256).hexdigest()
    signed = f"{msg_id}.{timestamp}.".encode() + body
    standard = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "Content-Type": "application/json",
        "X-Signature-256": f"sha256={legacy}",
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": f"v1,{standard}",
    }
