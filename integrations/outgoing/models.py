"""Pydantic models of every schema in the Outgoing partner API spec (v1.1/v1.2).

Source: ``shared/specs/outgoing-partner-api.openapi.json`` (``components.schemas``).
Field names, types, required/optional and defaults follow the spec exactly; a property that
is not ``required`` and has no default in the spec defaults to ``None`` (nullable scalars)
or an empty list (arrays).

* Response models (what Outgoing sends us) inherit :class:`ResponseModel` and ignore
  unknown fields, so an additive server change never breaks the client.
* Request models (what we send) inherit :class:`RequestModel` and forbid unknown fields,
  so a typo is caught before a request leaves.
* Enums are :class:`enum.StrEnum` and serialise as their plain string value.

The models are shared with the sandbox server (``integrations/sandbox``), which builds its
responses from them and validates requests with them: keep the names stable.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "BindWorkspaceRequest",
    "BindWorkspaceResponse",
    "BookingFilter",
    "BookingStatus",
    "BookingTicketItem",
    "BookingWebhookPayload",
    "CreateBookingAcceptedResponse",
    "CreateBookingRequest",
    "H3CellResponse",
    "HTTPValidationError",
    "Location",
    "OrderBooking",
    "OrderDeliverable",
    "OrderEmail",
    "OrdersResponse",
    "PartnerActivity",
    "PartnerActivityDetail",
    "PartnerSearchResult",
    "PartnerSession",
    "PartnerSessionTicket",
    "PartnerShelf",
    "PartnerTicketPrice",
    "PaymentMode",
    "PricesResponse",
    "ProvisionUserRequest",
    "ProvisionUserResponse",
    "RequestModel",
    "ResponseModel",
    "SearchResponse",
    "ShelvesResponse",
    "TicketDetails",
    "ValidationError",
]


class ResponseModel(BaseModel):
    """Base of every model Outgoing sends: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")


class RequestModel(BaseModel):
    """Base of every model we send to Outgoing: unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid")


def _check_uuid(value: str) -> str:
    uuid.UUID(value)  # raises ValueError -> pydantic validation error
    return value


UUIDStr = Annotated[str, AfterValidator(_check_uuid)]
"""A string in UUID format (spec ``format: uuid``), kept as the string that was given."""


# --------------------------------------------------------------------------- enums


class BookingFilter(StrEnum):
    """Controls which activities are returned based on booking availability."""

    ALL = "all"
    BOOKABLE = "bookable"
    BOOKABLE_OR_FREE = "bookable_or_free"


class BookingStatus(StrEnum):
    """Status of a completed booking attempt, delivered via the webhook callback."""

    CONFIRMED = "confirmed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PENDING = "pending"
    USER_INPUT_REQUIRED = "user_input_required"
    DELIVERABLE_READY = "deliverable_ready"


class PaymentMode(StrEnum):
    """How a booking is fulfilled (``live_purchase`` charges for real)."""

    LIVE_PURCHASE = "live_purchase"
    DRY_RUN_SUCCESS = "dry_run_success"
    DRY_RUN_FAILURE = "dry_run_failure"


# --------------------------------------------------------------------------- activities


class Location(ResponseModel):
    """A latitude/longitude pair, with an optional Plus Code (inline schema ``Location``)."""

    lat: float
    lng: float
    plus_code: str | None = None


class PartnerSessionTicket(ResponseModel):
    """A ticket within a session, exposed to partners."""

    name: str
    price: float
    fee: float = 0.0
    total: float
    available: bool = True
    description: str | None = None
    on_sale_status: str | None = None
    is_free: bool = False
    min_quantity: int = 1
    max_quantity: int | None = None
    category: str | None = None


class PartnerSession(ResponseModel):
    """A date/time session with its available tickets, exposed to partners."""

    date: str | None = None
    time: str | None = None
    tickets: list[PartnerSessionTicket] = Field(default_factory=list)


class PartnerTicketPrice(ResponseModel):
    """Ticket pricing exposed to partners, with session-based ticket breakdown."""

    min: float
    max: float
    currency: str
    label: str
    sessions: list[PartnerSession] = Field(default_factory=list)


class PartnerActivity(ResponseModel):
    """An activity as listed on homescreen shelves."""

    activity_id: str
    name: str
    short_description: str | None = None
    picture_url: str | None = None
    location: Location | None = None
    semantic_location: str | None = None
    highlights: list[str] = Field(default_factory=list)
    display_label: str = ""
    is_bookable: bool = False
    ticket_price: PartnerTicketPrice | None = None
    estimated_fulfillment: str | None = None
    next_datetime: str | None = None
    booking_domain: str | None = None


class PartnerActivityDetail(PartnerActivity):
    """Full activity detail (``GET /activities/{activity_id}``)."""

    venue: str | None = None
    tips: list[str] = Field(default_factory=list)
    upcoming_datetimes: list[str] = Field(default_factory=list)
    picture_urls: list[str] = Field(default_factory=list)
    is_open_now: bool | None = None
    search_category: list[str] = Field(default_factory=list)


class PartnerShelf(ResponseModel):
    slug: str
    display_name: str
    activities: list[PartnerActivity]


class ShelvesResponse(ResponseModel):
    """``GET /homescreen``."""

    shelves: list[PartnerShelf]
    h3_cell: str
    city: str


class H3CellResponse(ResponseModel):
    """``GET /h3``."""

    h3_cell: str
    resolution: int
    lat: float
    lng: float


class PartnerSearchResult(ResponseModel):
    """A single agentic-search result (discovery-shaped, carries ``why``)."""

    activity_id: str | None = None
    name: str
    why: str | None = None
    short_description: str | None = None
    highlights: list[str] = Field(default_factory=list)
    venue: str | None = None
    rating: float | None = None
    next_datetime: str | None = None
    entity_type: str | None = None
    picture_url: str | None = None
    location: Location | None = None


class SearchResponse(ResponseModel):
    """``GET /search``."""

    message: str
    results: list[PartnerSearchResult] = Field(default_factory=list)


class PricesResponse(ResponseModel):
    """``GET /activities/{activity_id}/prices``."""

    activity_id: str
    ticket_price: PartnerTicketPrice | None = None
    scrape_status: str


# --------------------------------------------------------------------------- orders


class OrderBooking(ResponseModel):
    id: str
    status: str
    activity_name: str | None = None
    picture_url: str | None = None
    authorization_amount_cents: int | None = None
    created_at: str


class OrderDeliverable(ResponseModel):
    id: str
    deliverable_type: str
    filename: str
    content_type: str
    file_size_bytes: int | None = None
    partner_booking_id: str


class OrderEmail(ResponseModel):
    id: str
    subject: str | None = None
    classification: str | None = None
    processing_status: str
    partner_booking_id: str
    received_at: str


class OrdersResponse(ResponseModel):
    """``GET /orders``."""

    bookings: list[OrderBooking] = Field(default_factory=list)
    deliverables: list[OrderDeliverable] = Field(default_factory=list)
    emails: list[OrderEmail] = Field(default_factory=list)


# --------------------------------------------------------------------------- users


class ProvisionUserRequest(RequestModel):
    """``POST /users`` body."""

    external_user_id: str
    first_name: str | None = None
    last_name: str | None = None
    display_name: str | None = None
    email: str | None = None
    phone: str | None = None
    usual_plans: list[str] = Field(default_factory=list)
    dietary_preferences: list[str] = Field(default_factory=list)
    city: str | None = None
    neighborhood_lat: float | None = None
    neighborhood_lng: float | None = None


class ProvisionUserResponse(ResponseModel):
    """``POST /users`` 201."""

    external_user_id: str
    created: bool
    linked: bool = False
    updated: bool = True


# --------------------------------------------------------------------------- bookings


class BookingTicketItem(RequestModel):
    """A single ticket type and quantity within a booking request.

    Also echoed back in :class:`BookingWebhookPayload` (a request-side schema, so strict).
    """

    ticket_type_name: str
    num_tickets: int = Field(default=1, ge=1)
    session_date: str | None = None
    session_time: str | None = None


class CreateBookingRequest(RequestModel):
    """``POST /bookings`` body. ``idempotency_key`` is required: replays are safe."""

    external_user_id: str
    activity_id: UUIDStr
    tickets: list[BookingTicketItem] = Field(min_length=1)
    authorization_amount_cents: int = Field(ge=0)
    idempotency_key: str
    webhook_url: str = Field(pattern=r"^https?://")
    payment_mode: PaymentMode


class CreateBookingAcceptedResponse(ResponseModel):
    """``POST /bookings`` 202: accepted (or, on a replayed key, the booking's current status)."""

    booking_id: str
    idempotency_key: str
    status: str = "accepted"


class TicketDetails(ResponseModel):
    """Details about the booked tickets, returned once the booking is confirmed."""

    download_urls: list[str] = Field(default_factory=list)
    confirmation_code: str | None = None
    notes: str | None = None


def _drop_unknown_ticket_keys(value: Any) -> Any:
    """Tickets echoed in a webhook are inbound data: ignore keys the spec does not know."""
    if isinstance(value, list):
        known = BookingTicketItem.model_fields.keys()
        return [
            {k: v for k, v in item.items() if k in known} if isinstance(item, dict) else item
            for item in value
        ]
    return value


class BookingWebhookPayload(ResponseModel):
    """Payload Outgoing POSTs to the booking's ``webhook_url`` when the booking resolves."""

    booking_id: str
    idempotency_key: str
    status: BookingStatus
    activity_id: str
    external_user_id: str
    tickets: Annotated[list[BookingTicketItem], BeforeValidator(_drop_unknown_ticket_keys)]
    authorization_amount_cents: int
    purchase_amount_cents: int | None = None
    booking_fee_cents: int
    total_charged_cents: int | None = None
    resolved_at: datetime
    ticket_details: TicketDetails | None = None
    error_message: str | None = None


# --------------------------------------------------------------------------- slack binding


class BindWorkspaceRequest(RequestModel):
    """``POST /slack/workspaces/bind`` body."""

    bind_token: str


class BindWorkspaceResponse(ResponseModel):
    """``POST /slack/workspaces/bind`` 200."""

    ok: bool
    team_id: str
    bound: bool


# --------------------------------------------------------------------------- errors


class ValidationError(ResponseModel):
    """One item of a 422 ``detail`` list (FastAPI shape).

    Named as in the spec; it is *not* ``pydantic.ValidationError``.
    """

    loc: list[str | int]
    msg: str
    type: str


class HTTPValidationError(ResponseModel):
    """422 body: ``{"detail": [ValidationError, ...]}``."""

    detail: list[ValidationError] = Field(default_factory=list)
