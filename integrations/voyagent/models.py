"""Voyagent's schemas as the concierge reads them (responses tolerate fields we don't use)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AgentEvent",
    "Approval",
    "AuditEvent",
    "Enquiry",
    "EnquiryCreate",
    "Itinerary",
    "ItineraryDay",
    "ItineraryItem",
    "Money",
    "PublicUser",
    "SessionSummary",
    "TenantSettings",
    "TokenPair",
]

ENDS_STREAM = frozenset({"final", "error", "approval_request"})


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow")


class PublicUser(_Response):
    id: str
    email: str
    full_name: str | None = None
    role: str | None = None
    tenant_id: str | None = None
    totp_enabled: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "agency_admin"


class TokenPair(_Response):
    access_token: str = Field(repr=False)
    refresh_token: str = Field(repr=False)
    token_type: str = "bearer"  # noqa: S105 (a scheme, not a secret)
    expires_in: float | None = None
    user: PublicUser | None = None


class Money(BaseModel):
    amount: str
    currency: str


class EnquiryCreate(BaseModel):
    destination: str = Field(min_length=1, max_length=200)
    origin: str | None = None
    depart_date: date | None = None
    return_date: date | None = None
    travellers: int | None = Field(None, ge=1, le=50)
    budget: Money | None = None
    notes: str | None = Field(None, max_length=4000)
    customer_name: str | None = None
    customer_email: str | None = None
    reference: str | None = Field(None, max_length=120)

    def body(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


class Enquiry(_Response):
    id: str
    status: str = "new"
    destination: str | None = None
    origin: str | None = None
    depart_date: date | None = None
    return_date: date | None = None
    travellers: int | None = None
    budget: Money | None = None
    notes: str | None = None
    customer_name: str | None = None
    customer_email: str | None = None
    reference: str | None = None
    session_id: str | None = None
    created_at: datetime | None = None


class SessionSummary(_Response):
    id: str
    title: str | None = None
    created_at: datetime | None = None
    message_count: int = 0


class Approval(_Response):
    id: str
    session_id: str | None = None
    status: str
    summary: str = ""
    created_at: datetime | None = None
    expires_at: datetime | None = None
    resolved_at: datetime | None = None
    reason: str | None = None


class AgentEvent(BaseModel):
    """One ``agent_event`` frame of a turn: its id and its decoded data."""

    id: str | None = None
    kind: str
    text: str | None = None
    tool: str | None = None
    approval_id: str | None = None
    approval_summary: str | None = None
    expires_at: datetime | None = None
    message: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def ends_stream(self) -> bool:
        """A turn's stream ends after these: done, failed, or paused at an approval."""
        return self.kind in ENDS_STREAM


class ItineraryItem(_Response):
    time: str | None = None
    kind: str = "note"
    title: str = ""
    detail: str | None = None


class ItineraryDay(_Response):
    date: str
    city: str | None = None
    items: list[ItineraryItem] = Field(default_factory=list)


class Itinerary(_Response):
    session_id: str
    title: str | None = None
    travellers: int | None = None
    days: list[ItineraryDay] = Field(default_factory=list)
    total: Money | None = None


class AuditEvent(_Response):
    id: str
    created_at: datetime | None = None
    kind: str
    actor_kind: str | None = None
    actor_id: str | None = None
    actor_email: str | None = None
    status: str | None = None
    summary: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class TenantSettings(_Response):
    tenant_id: str | None = None
    agency_name: str | None = None
    currency: str | None = None
    timezone: str | None = None
