"""Pydantic models of the AI Call Agent spec (``shared/specs/ai-call-agent.openapi.json``).

Field names, types, required/optional and defaults follow ``components.schemas``; a
required-but-nullable property (``call_sid``, ``started_at``…) has no default, as in the
spec. Response models ignore unknown fields, so an additive partner change never breaks
us; request models forbid them, so a typo fails before anything is sent. The sandbox
(``integrations.sandbox.callagent``) builds its responses from the same models.

Deliberate difference: :attr:`StartCallBody.ask_user_mode` defaults to ``"stream"``
(the spec's server default is ``"any"``): this bot reads questions from the SSE stream,
and ``any`` could route them to a developer's Telegram inbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "AnswerBody",
    "AnswerMode",
    "AnswerResponse",
    "Booking",
    "BookingStatus",
    "BookingType",
    "Call",
    "CancelResponse",
    "ClearWebhookResponse",
    "LimitsResponse",
    "Me",
    "MergedTranscript",
    "QueuedCallResponse",
    "RequestModel",
    "ResponseModel",
    "SetLimitsRequest",
    "SetWebhookRequest",
    "SetWebhookResponse",
    "SkillRunResponse",
    "SkillSummary",
    "StartCallBody",
    "StartCallResponse",
    "StartedCall",
    "TaskKind",
    "Turn",
]

AnswerMode = Literal["voice", "context"]


class ResponseModel(BaseModel):
    """Base of what the partner sends: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")


class RequestModel(BaseModel):
    """Base of what we send: unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid")


class TaskKind(StrEnum):
    RESTAURANT_BOOKING = "restaurant_booking"
    RESTAURANT_CANCEL = "restaurant_cancel"
    DOCTOR_APPOINTMENT = "doctor_appointment"
    HOTEL_BOOKING = "hotel_booking"
    CONCIERGE = "concierge"
    OTHER = "other"


class BookingStatus(StrEnum):
    ACTIVE = "active"
    PENDING_USER_CONFIRM = "pending_user_confirm"
    PAST = "past"
    CANCELLED = "cancelled"


class BookingType(StrEnum):
    RESTAURANT = "restaurant"
    DOCTOR = "doctor"
    HOTEL = "hotel"
    OTHER = "other"


# --------------------------------------------------------------------------- calls


class StartCallBody(RequestModel):
    """``POST /calls``. ``target_phone`` is E.164 (the server answers 400 otherwise)."""

    target_phone: str = Field(min_length=4, max_length=32)
    brief: str = Field(min_length=1, max_length=4000)
    language: str = "auto"
    kind: TaskKind = TaskKind.OTHER
    parsed_slots: dict[str, Any] | None = None
    ask_user_mode: Literal["any", "stream"] = "stream"


class Call(ResponseModel):
    """``CallDTO``. ``transcript_full``/``supervisor_decisions`` only on the single GET."""

    call_id: str
    customer_id: str
    task_id: str
    target_phone: str
    language: str
    status: str
    call_sid: str | None
    started_at: datetime | None
    ended_at: datetime | None
    duration_sec: float | None
    outcome_type: str | None
    outcome_summary: str | None
    outcome_charge_cents: int
    created_at: datetime
    has_recording: bool = False
    recording_url: str | None = None
    reservation_signals: list[str] | None = None
    transcript_full: list[dict[str, Any]] | None = None
    supervisor_decisions: list[dict[str, Any]] | None = None


class StartCallResponse(ResponseModel):
    """``201`` of ``POST /calls`` (synchronous dial)."""

    call: Call
    task_id: str
    credits_reserved: int
    owner_pod: str | None = None


class QueuedCallResponse(ResponseModel):
    """``202`` of ``POST /calls`` (queue mode); ``position`` 0 is the front."""

    call_id: str
    queue_id: str
    position: int
    status: str = "queued"


@dataclass(frozen=True, slots=True)
class StartedCall:
    """Either answer of ``POST /calls``, in one shape: ``call`` only for a direct dial."""

    call_id: str
    status: str
    queued: bool
    position: int | None
    call: Call | None
    queue_id: str | None = None


class AnswerBody(RequestModel):
    answer: str = Field(min_length=1, max_length=4000)
    request_id: str | None = Field(default=None, max_length=64)
    mode: AnswerMode = "voice"


class AnswerResponse(ResponseModel):
    delivered: bool


class CancelResponse(ResponseModel):
    cancelled: bool


def _whole_ms(value: Any) -> Any:
    """Milliseconds may arrive as floats from the merger's calibration; keep them whole."""
    return round(value) if isinstance(value, float) else value


Millis = Annotated[int, BeforeValidator(_whole_ms)]


class Turn(ResponseModel):
    """One turn of the merged transcript (``words``/``overlap_with_next`` optional)."""

    speaker: str
    start_ms: Millis
    end_ms: Millis
    text: str
    source: str | None = None
    words: list[dict[str, Any]] | None = None
    overlap_with_next: bool | None = None


class MergedTranscript(ResponseModel):
    """``GET /calls/{id}/transcript-merged`` (the spec documents it only in prose)."""

    version: int | str
    duration_ms: Millis
    calibration_delta_ms: Millis | None = None
    turns: list[Turn]


# --------------------------------------------------------------------------- bookings


class Booking(ResponseModel):
    """``BookingDTO``: a booking one of our calls produced."""

    booking_id: str
    customer_id: str
    call_id: str | None = None
    type: BookingType
    target_phone: str
    venue_name: str | None = None
    booking_date: datetime | None = None
    guests: int | None = None
    booking_holder_name: str | None = None
    contact_phone: str | None = None
    details: str | None = None
    status: BookingStatus
    language: str
    refusal_reason: str | None = None
    created_at: datetime
    updated_at: datetime


# --------------------------------------------------------------------------- skills


class SkillSummary(ResponseModel):
    skill_id: str
    title: str
    description: str
    manifest_url: str
    run_url: str


class SkillRunResponse(ResponseModel):
    """``POST /skills/{id}/run``; ``replayed`` is true for an idempotent replay."""

    skill_run_id: str
    call_id: str
    call_sid: str | None
    owner_pod: str | None
    status: str
    credits_reserved: int
    status_url: str
    answer_url: str
    recording_url: str
    replayed: bool = False
    expected_next_steps: list[str]


# --------------------------------------------------------------------------- users


class Me(ResponseModel):
    """``MeDTO``: identity, quota, webhook flag and the current maintenance (if any)."""

    api_key_id: str
    customer_id: str
    customer_name: str
    api_key_last_4: str | None
    status: str
    quota_limit: int
    current_usage: int
    quota_period: str
    ask_user_webhook_url: str | None
    ask_user_webhook_configured: bool
    max_concurrent_calls: int
    is_admin: bool = False
    maintenance: dict[str, Any] | None = None


class SetWebhookRequest(RequestModel):
    url: str = Field(min_length=1, max_length=2083)
    regenerate_secret: bool = True


class SetWebhookResponse(ResponseModel):
    """``secret`` is shown once, on rotation; kept out of ``repr``."""

    url: str
    secret: str | None = Field(default=None, repr=False)


class ClearWebhookResponse(ResponseModel):
    cleared: bool = True


class SetLimitsRequest(RequestModel):
    max_concurrent_calls: int = Field(ge=1, le=100)


class LimitsResponse(ResponseModel):
    max_concurrent_calls: int
