"""One error tree for every partner client (Outgoing, Onegent, Call Agent, Events, Voyagent).

```
PartnerError                      partner, message, retryable
├── PartnerHTTPError              status, code, message (server's text, verbatim)
│   ├── BadRequest                400
│   ├── Unauthorized              401  (code: key_malformed | key_invalid | …)
│   ├── PaymentRequired           402
│   ├── Forbidden                 403
│   ├── NotFound                  404
│   ├── Conflict                  409
│   ├── ValidationFailed          422  (detail: the raw ``detail`` list)
│   ├── RateLimited               429  (retry_after)            retryable
│   └── ServerError               5xx                          retryable for 502/503/504
│       └── ServiceUnavailable    503  (retry_after)            retryable
├── PartnerUnavailable            connection failed / reset     retryable
├── PartnerTimeout                a timeout fired               retryable
├── ResponseInvalid               a 2xx body does not match the schema
└── InteractionRequired           AAuth 202: a human must act at ``url`` (not an HTTP error)
```

:func:`error_from_response` is the ONLY place a status code and error body become an
exception. What the body *says* is read by the partner's own reader
(``integrations.error_bodies``: ``{"error": "...", "code": "..."}``,
``{"error": {"code", "message"}}``, FastAPI's ``{"detail": ...}``, plain text); which
exception that is depends on the status alone, so every partner shares one tree.

No error ever carries credentials: messages are the partner's own text, with any secret
passed in ``redact`` replaced, and no request (whose headers hold the key) is stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from integrations.error_bodies import ErrorReader, read_error_body
from integrations.retry import parse_retry_after

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "InteractionRequired",
    "NotFound",
    "PartnerError",
    "PartnerHTTPError",
    "PartnerTimeout",
    "PartnerUnavailable",
    "PaymentRequired",
    "RateLimited",
    "ResponseInvalid",
    "ServerError",
    "ServiceUnavailable",
    "Unauthorized",
    "ValidationFailed",
    "error_from_response",
]

REDACTED = "[REDACTED]"


class PartnerError(Exception):
    """Base of every failure talking to a partner API."""

    def __init__(self, message: str, *, partner: str) -> None:
        super().__init__(message)
        self.partner = partner
        self.message = message

    @property
    def retryable(self) -> bool:
        """True when repeating the same request later may succeed."""
        return False

    def __str__(self) -> str:
        return f"{self.partner}: {self.message}"


class PartnerHTTPError(PartnerError):
    """The partner answered with an error status. ``message`` is its own text, verbatim."""

    #: statuses for which a retry (same request, later) is reasonable
    RETRYABLE_STATUSES: ClassVar[frozenset[int]] = frozenset({429, 502, 503, 504})

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        partner: str,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, partner=partner)
        self.status = status
        self.code = code
        #: seconds from ``Retry-After`` (429 and 503 carry it), when the partner said
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.status in self.RETRYABLE_STATUSES

    def __str__(self) -> str:
        code = f" [{self.code}]" if self.code else ""
        return f"{self.partner}: HTTP {self.status}{code}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, partner={self.partner!r})"
        )


class BadRequest(PartnerHTTPError):
    """400: the request was refused as invalid (e.g. a header the key must not send)."""


class Unauthorized(PartnerHTTPError):
    """401: credential missing or refused; ``code``: ``key_malformed``, ``key_invalid``…"""


class PaymentRequired(PartnerHTTPError):
    """402: e.g. a ``live_purchase`` with a key not allowed to charge the stored card."""


class Forbidden(PartnerHTTPError):
    """403: authenticated but not allowed."""


class NotFound(PartnerHTTPError):
    """404: unknown resource."""


class Conflict(PartnerHTTPError):
    """409: conflicts with the resource's current state."""


class ValidationFailed(PartnerHTTPError):
    """422: the body or parameters failed validation; ``detail`` is the partner's list."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        partner: str,
        detail: list[Any] | None = None,
    ) -> None:
        super().__init__(status, code, message, partner=partner)
        self.detail: list[Any] = detail if detail is not None else []


class RateLimited(PartnerHTTPError):
    """429: slow down; ``retry_after`` seconds (from ``Retry-After``) when the partner said."""


class ServerError(PartnerHTTPError):
    """5xx: the partner failed. Retryable for gateway-ish 502/503/504, not for a 500 bug."""


class ServiceUnavailable(ServerError):
    """503: temporarily unavailable; ``retry_after`` seconds when the partner said."""


class PartnerUnavailable(PartnerError):
    """The partner could not be reached (DNS, refused, reset, protocol error)."""

    @property
    def retryable(self) -> bool:
        return True


class PartnerTimeout(PartnerError):
    """A timeout fired before the partner answered; ``phase`` is connect/read/write/pool."""

    def __init__(self, message: str, *, partner: str, phase: str | None = None) -> None:
        super().__init__(message, partner=partner)
        self.phase = phase

    @property
    def retryable(self) -> bool:
        return True


class ResponseInvalid(PartnerError):
    """A success status whose body does not match the documented schema."""

    def __init__(self, message: str, *, partner: str, status: int, endpoint: str) -> None:
        super().__init__(message, partner=partner)
        self.status = status
        self.endpoint = endpoint


class InteractionRequired(PartnerError):
    """AAuth ``202``: the agent's user must finish an interaction in a browser first.

    Send the person to :attr:`browser_url` (``{url}?code={code}``; ``code`` may also be shown
    so they can check the page matches), poll :attr:`poll_url` until it answers 200, then
    retry the original request. Bearer-key callers never see this.
    """

    status = 202

    def __init__(self, message: str, *, partner: str, url: str, code: str, poll_url: str) -> None:
        super().__init__(message, partner=partner)
        self.url = url
        self.code = code
        self.poll_url = poll_url

    @property
    def browser_url(self) -> str:
        separator = "&" if "?" in self.url else "?"
        return f"{self.url}{separator}code={self.code}"

    @property
    def state(self) -> str | None:
        """The ``state`` query parameter of :attr:`poll_url`, if any."""
        values = parse_qs(urlsplit(self.poll_url).query).get("state")
        return values[0] if values else None


_BY_STATUS: dict[int, type[PartnerHTTPError]] = {
    400: BadRequest,
    401: Unauthorized,
    402: PaymentRequired,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
}


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def error_from_response(
    *,
    partner: str,
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    redact: Iterable[str] = (),
    now: datetime | None = None,
    read: ErrorReader = read_error_body,
) -> PartnerHTTPError:
    """Map one error response (status, body, headers) to the matching exception.

    ``read`` is the partner's reader of its error envelope (the lenient default understands
    the usual shapes). ``message`` keeps the partner's text verbatim (else the raw body, else
    ``HTTP <status>``) except that any value in ``redact`` (API keys, tokens) is replaced by
    ``[REDACTED]``. ``Retry-After`` (seconds or HTTP-date) becomes ``retry_after`` on 429 and
    503; ``now`` is the clock for HTTP-dates.
    """
    secrets = tuple(redact)
    said = read(status, body)
    message = _redact(said.message or f"HTTP {status}", secrets)
    code = _redact(said.code, secrets) if said.code is not None else None
    detail = said.detail

    retry_after_header = next(
        (value for name, value in headers.items() if name.lower() == "retry-after"), None
    )
    if status == 429:
        retry_after = parse_retry_after(retry_after_header, now=now)
        return RateLimited(status, code, message, partner=partner, retry_after=retry_after)
    if status == 503:
        retry_after = parse_retry_after(retry_after_header, now=now)
        return ServiceUnavailable(status, code, message, partner=partner, retry_after=retry_after)
    if status == 422:
        if detail is not None and secrets:
            detail = json.loads(_redact(json.dumps(detail), secrets))
        return ValidationFailed(status, code, message, partner=partner, detail=detail)
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else PartnerHTTPError)
    return cls(status, code, message, partner=partner)
