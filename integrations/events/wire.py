"""What is the Events matching partner's own on the wire: its error envelope and its codes.

Errors are ``{"error": {"code", "message"}, "correlation_id"}`` (every body carries the
partner's ``correlation_id``). The shared transport maps the status to the shared tree
(``integrations.errors``); :func:`refine_error` then picks this partner's class for the
``code`` (every code in the spec has one), keeping the correlation id. While one client call
runs, :func:`read_events_error` drops what it read into :func:`capture_error_bodies`' list
(a context variable: concurrent calls never see each other's).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from integrations.error_bodies import ErrorBody, json_payload, read_error_envelope
from integrations.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PartnerHTTPError,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
)

__all__ = [
    "CODE_ERRORS",
    "CORRELATION_HEADER",
    "PARTNER",
    "AttendeeNotFound",
    "DuplicateAttendeeId",
    "EventNotFound",
    "EventsBadRequest",
    "EventsConflict",
    "EventsError",
    "EventsForbidden",
    "EventsNotFound",
    "EventsRateLimited",
    "EventsServerError",
    "EventsUnauthorized",
    "EventsUnavailable",
    "IdempotencyKeyConflict",
    "InsufficientScope",
    "InvalidField",
    "InvalidJson",
    "MatchNotFound",
    "MatchRunNotFound",
    "MergeRejected",
    "PartnerIdConflict",
    "PartnerIdNotFound",
    "PayloadTooLarge",
    "ReviewNotFound",
    "ReviewSourceMismatch",
    "RunNotFound",
    "SaidError",
    "SessionNotFound",
    "capture_error_bodies",
    "read_events_error",
    "refine_error",
]

PARTNER = "events"
CORRELATION_HEADER = "x-correlation-id"


class EventsError(PartnerHTTPError):
    """Any error the Events partner answered; ``correlation_id`` is the partner's own."""

    correlation_id: str | None = None

    def __str__(self) -> str:
        said = super().__str__()
        return f"{said} (correlation_id={self.correlation_id})" if self.correlation_id else said


class EventsBadRequest(EventsError, BadRequest):
    """400 with a code this client does not know."""


class InvalidJson(EventsBadRequest):
    """400 ``INVALID_JSON``: the body was not JSON."""


class InvalidField(EventsBadRequest):
    """400 ``INVALID_<FIELD>``: one path id, query or body field broke the spec's limits."""


class DuplicateAttendeeId(EventsBadRequest):
    """400 ``DUPLICATE_ATTENDEE_ID``: an import repeated an ``attendee_id``."""


class ReviewSourceMismatch(EventsBadRequest):
    """400 ``REVIEW_SOURCE_MISMATCH``: the merge names entities the review is not about."""


class MergeRejected(EventsBadRequest):
    """400 ``MERGE_REJECTED``: the partner refused to merge these two entities."""


class EventsUnauthorized(EventsError, Unauthorized):
    """401: the key is missing, unknown or revoked."""


class EventsForbidden(EventsError, Forbidden):
    """403 with a code this client does not know."""


class InsufficientScope(EventsForbidden):
    """403 ``INSUFFICIENT_SCOPE``: a ``partner:read`` key tried to write."""


class EventsNotFound(EventsError, NotFound):
    """404 with a code this client does not know."""


class EventNotFound(EventsNotFound):
    """404 ``EVENT_NOT_FOUND``."""


class SessionNotFound(EventsNotFound):
    """404 ``SESSION_NOT_FOUND``."""


class AttendeeNotFound(EventsNotFound):
    """404 ``ATTENDEE_NOT_FOUND``."""


class RunNotFound(EventsNotFound):
    """404 ``RUN_NOT_FOUND``."""


class MatchRunNotFound(EventsNotFound):
    """404 ``MATCH_RUN_NOT_FOUND``: no (terminal) match run to read matches from yet."""


class MatchNotFound(EventsNotFound):
    """404 ``MATCH_NOT_FOUND``: the run scored no such pair."""


class ReviewNotFound(EventsNotFound):
    """404 ``REVIEW_NOT_FOUND``: unknown, or no longer open."""


class PartnerIdNotFound(EventsNotFound):
    """404 ``PARTNER_ID_NOT_FOUND``: the partner id is not mapped in this org."""


class EventsConflict(EventsError, Conflict):
    """409 with a code this client does not know."""


class PartnerIdConflict(EventsConflict):
    """409 ``PARTNER_ID_CONFLICT``: that event or session id already exists."""


class IdempotencyKeyConflict(EventsConflict):
    """409 ``IDEMPOTENCY_KEY_CONFLICT``: the key was used with a different body."""


class PayloadTooLarge(EventsError):
    """413 ``PAYLOAD_TOO_LARGE``: even after splitting, a request was over the limit."""


class EventsRateLimited(EventsError, RateLimited):
    """429: slow down (``retry_after`` when the partner said)."""


class EventsServerError(EventsError, ServerError):
    """5xx: the partner failed."""


class EventsUnavailable(EventsError, ServiceUnavailable):
    """503: temporarily unavailable."""


_INVALID_FIELDS = [
    "INVALID_PARTNER_KIND",
    "INVALID_PARTNER_ID",
    "INVALID_TITLE",
    "INVALID_DESCRIPTION",
    "INVALID_START_DATE",
    "INVALID_END_DATE",
    "INVALID_TIMEZONE",
    "INVALID_VISIBILITY",
    "INVALID_URL_SLUG",
    "INVALID_CONTEXT",
    "INVALID_START_TIMESTAMP",
    "INVALID_END_TIMESTAMP",
    "INVALID_IDEMPOTENCY_KEY",
    "INVALID_ATTENDEES",
    "INVALID_ATTENDEE",
    "INVALID_ATTENDEE_NAME",
    "INVALID_ATTENDEE_EMAIL",
    "INVALID_ATTENDEE_LINKEDIN_URL",
    "INVALID_ATTENDEE_TITLE",
    "INVALID_ATTENDEE_COMPANY",
    "INVALID_ATTENDEE_RAW_DATA",
    "INVALID_WEBHOOK_URL",
    "INVALID_RUN_KIND",
    "INVALID_PROGRESS",
    "INVALID_SNAPSHOT_METADATA",
    "INVALID_VERSION_METADATA",
    "INVALID_RUN_ID",
    "INVALID_REVIEW_ID",
    "INVALID_REVIEW_DECISION",
    "INVALID_LIMIT",
    "INVALID_CURSOR",
]

#: every code of the spec (and of its auth, scope and rate-limit answers) → its class
CODE_ERRORS: dict[str, type[EventsError]] = {
    **dict.fromkeys(_INVALID_FIELDS, InvalidField),
    "INVALID_JSON": InvalidJson,
    "DUPLICATE_ATTENDEE_ID": DuplicateAttendeeId,
    "REVIEW_SOURCE_MISMATCH": ReviewSourceMismatch,
    "MERGE_REJECTED": MergeRejected,
    "UNAUTHORIZED": EventsUnauthorized,
    "INSUFFICIENT_SCOPE": InsufficientScope,
    "EVENT_NOT_FOUND": EventNotFound,
    "SESSION_NOT_FOUND": SessionNotFound,
    "ATTENDEE_NOT_FOUND": AttendeeNotFound,
    "RUN_NOT_FOUND": RunNotFound,
    "MATCH_RUN_NOT_FOUND": MatchRunNotFound,
    "MATCH_NOT_FOUND": MatchNotFound,
    "REVIEW_NOT_FOUND": ReviewNotFound,
    "PARTNER_ID_NOT_FOUND": PartnerIdNotFound,
    "PARTNER_ID_CONFLICT": PartnerIdConflict,
    "IDEMPOTENCY_KEY_CONFLICT": IdempotencyKeyConflict,
    "PAYLOAD_TOO_LARGE": PayloadTooLarge,
    "RATE_LIMITED": EventsRateLimited,
}

_BY_STATUS: dict[int, type[EventsError]] = {
    400: EventsBadRequest,
    401: EventsUnauthorized,
    403: EventsForbidden,
    404: EventsNotFound,
    409: EventsConflict,
    413: PayloadTooLarge,
    429: EventsRateLimited,
    503: EventsUnavailable,
}


@dataclass(frozen=True)
class SaidError:
    """One error body as read: the shared reading plus the partner's correlation id."""

    body: ErrorBody
    correlation_id: str | None


_captured: ContextVar[list[SaidError] | None] = ContextVar("events_error_bodies", default=None)


def read_events_error(status: int, body: bytes) -> ErrorBody:
    """The shared envelope reader, remembering the correlation id for :func:`refine_error`."""
    said = read_error_envelope(status, body)
    sink = _captured.get()
    if sink is not None:
        payload = json_payload(body)
        cid = payload.get("correlation_id") if isinstance(payload, dict) else None
        sink.append(SaidError(said, cid if isinstance(cid, str) else None))
    return said


@contextlib.contextmanager
def capture_error_bodies() -> Iterator[list[SaidError]]:
    """Collect what the reader read in this context (one entry per failed attempt)."""
    bodies: list[SaidError] = []
    token = _captured.set(bodies)
    try:
        yield bodies
    finally:
        _captured.reset(token)


def _class_for(status: int, code: str | None) -> type[EventsError]:
    by_code = CODE_ERRORS.get(code or "")
    if by_code is not None and _status_fits(by_code, status):
        return by_code
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return EventsServerError if status >= 500 else EventsError


def _status_fits(cls: type[EventsError], status: int) -> bool:
    """A code's class is used only with the status family it belongs to."""
    base = _BY_STATUS.get(status)
    return base is not None and issubclass(cls, base)


def refine_error(
    error: PartnerHTTPError, said: SaidError | None, *, sent_correlation_id: str
) -> EventsError:
    """This partner's class for ``error`` (its message already redacted by the transport)."""
    cls = _class_for(error.status, error.code)
    refined = cls(
        error.status,
        error.code,
        error.message,
        partner=error.partner,
        retry_after=error.retry_after,
    )
    told = said.correlation_id if said is not None else None
    refined.correlation_id = told or sent_correlation_id
    return refined
