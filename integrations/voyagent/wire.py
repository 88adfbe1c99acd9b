"""What is Voyagent's own on the wire: FastAPI's ``{"detail": …}`` errors and their codes.

A string ``detail`` is a snake_case code (``approval_already_resolved``); a list is a 422's
validation errors. The transport maps the status to the shared tree; :func:`refine` then
picks this partner's class for the code, with a message people can read.
"""

from __future__ import annotations

from integrations.error_bodies import ErrorBody, describe_detail, json_payload, raw_text
from integrations.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PartnerError,
    PartnerHTTPError,
    Unauthorized,
)

__all__ = [
    "PARTNER",
    "AgencyAdminRequired",
    "ApprovalAlreadyResolved",
    "ApprovalNotFound",
    "ApprovalPending",
    "AuditExportTooLarge",
    "EnquiryNotFound",
    "EnquiryTerminal",
    "InvalidCredentials",
    "InvalidTotpCode",
    "SessionNotFound",
    "SignInNeeded",
    "StreamDropped",
    "TotpRequired",
    "TurnInProgress",
    "read_voyagent_error",
    "refine",
]

PARTNER = "voyagent"


class InvalidCredentials(Unauthorized):
    """The e-mail and password were refused: an admin must fix the login."""


class InvalidTotpCode(Unauthorized):
    """The six-digit code (or its challenge) was refused."""


class SignInNeeded(Unauthorized):
    """The session can't be renewed without a person (a 2FA login's refresh was refused)."""


class SessionNotFound(NotFound):
    pass


class EnquiryNotFound(NotFound):
    pass


class ApprovalNotFound(NotFound):
    pass


class ApprovalAlreadyResolved(Conflict):
    """Granted, rejected or expired already."""


class TurnInProgress(Conflict):
    """The session's agent is still answering the previous message."""


class ApprovalPending(Conflict):
    """The session waits on an approval; a message must carry its decision."""


class EnquiryTerminal(Conflict):
    pass


class AgencyAdminRequired(Forbidden):
    pass


class AuditExportTooLarge(PartnerHTTPError):
    pass


class TotpRequired(PartnerError):
    """Sign-in needs the account's six-digit code; the challenge is never shown."""

    def __init__(self, challenge_token: str) -> None:
        super().__init__("the agency login needs its two-factor code", partner=PARTNER)
        self._challenge = challenge_token

    @property
    def challenge_token(self) -> str:
        return self._challenge

    def __repr__(self) -> str:
        return "TotpRequired('***')"


class StreamDropped(PartnerError):
    """A turn's stream ended or broke before it said how the turn ended."""

    def __init__(self, message: str, *, last_event_id: str | None) -> None:
        super().__init__(message, partner=PARTNER)
        self.last_event_id = last_event_id

    @property
    def retryable(self) -> bool:
        return True


_CODES: dict[str, tuple[type[PartnerHTTPError], str]] = {
    "invalid_credentials": (InvalidCredentials, "the agency refused the login"),
    "invalid_totp_code": (InvalidTotpCode, "the two-factor code was not accepted"),
    "invalid_challenge": (InvalidTotpCode, "the two-factor sign-in expired; sign in again"),
    "invalid_refresh_token": (Unauthorized, "the agency session ended; signing in again"),
    "refresh_token_reused": (Unauthorized, "the agency session was revoked; signing in again"),
    "token_expired": (Unauthorized, "the agency session expired"),
    "not_authenticated": (Unauthorized, "the agency asked us to sign in"),
    "agency_admin_required": (AgencyAdminRequired, "only an agency admin may see this"),
    "session_not_found": (SessionNotFound, "the agency chat session no longer exists"),
    "enquiry_not_found": (EnquiryNotFound, "the agency has no such enquiry"),
    "approval_not_found": (ApprovalNotFound, "the agency has no such approval"),
    "approval_already_resolved": (
        ApprovalAlreadyResolved,
        "the agency says this approval was already resolved or has expired",
    ),
    "turn_in_progress": (TurnInProgress, "the agency's agent is still answering"),
    "approval_pending": (ApprovalPending, "the agency's agent is waiting for an approval"),
    "enquiry_terminal": (EnquiryTerminal, "that enquiry is closed at the agency"),
    "audit_export_too_large": (AuditExportTooLarge, "the audit log is too large to export"),
}


def read_voyagent_error(status: int, body: bytes) -> ErrorBody:
    """``{"detail": "code"}`` → the code and its human words; a 422 list → its messages."""
    payload = json_payload(body)
    detail = payload.get("detail") if isinstance(payload, dict) else None
    if isinstance(detail, str):
        known = _CODES.get(detail)
        return ErrorBody(known[1] if known else detail.replace("_", " "), detail)
    if isinstance(detail, list):
        return ErrorBody(describe_detail(detail) or raw_text(body), None, detail)
    return ErrorBody(raw_text(body))


def refine(error: PartnerHTTPError) -> PartnerHTTPError:
    """This partner's class for the error's code (the error itself when none fits)."""
    known = _CODES.get(error.code or "")
    if known is None or isinstance(error, known[0]):
        return error
    cls = known[0]
    if not issubclass(cls, type(error)) and cls is not AuditExportTooLarge:
        return error  # a code under an unexpected status keeps the status's class
    return cls(error.status, error.code, error.message, partner=error.partner)
