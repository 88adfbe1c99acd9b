"""What is Call Agent's own on the wire: its FastAPI error bodies and the 502/503 refinements.

The shared transport turns every error status into the shared tree with the partner's
reader (:func:`read_callagent_error`: FastAPI's ``{"detail": "…"}``, ``{"detail": {"code",
"message"}}`` or the 422 list). Two statuses deserve more than the tree gives:

* ``503`` carries a maintenance banner and an optional ``resume_at`` — in
  ``{"detail": {"message", "resume_at"}}``, ``{"detail": "…"}`` or a bare
  ``{"message", "resume_at"}``;
* ``502`` from a call start means the dial failed.

``GET /calls/{id}/events`` is streamed, which the transport (built for whole responses)
cannot carry; :class:`EventStreamOpener` opens it with the same breaker, metrics, error
reader and redaction.

The reader cannot return ``resume_at`` (``ErrorBody`` has no room for it), so while one
client call runs it also drops the raw error bodies into :func:`capture_error_bodies`'
list (a context variable: concurrent calls never see each other's), and
:func:`refine_error` reads the last one after the transport gave up.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import httpx

from integrations.breaker import CircuitBreaker
from integrations.callagent.endpoints import EVENTS
from integrations.callagent.errors import DialFailed, Maintenance
from integrations.error_bodies import ErrorBody, json_payload, read_fastapi_detail
from integrations.errors import (
    REDACTED,
    PartnerError,
    PartnerHTTPError,
    PartnerTimeout,
    PartnerUnavailable,
    ResponseInvalid,
    ServiceUnavailable,
    error_from_response,
)
from integrations.metrics import STATUS_TIMEOUT, STATUS_UNAVAILABLE, PartnerMetrics
from integrations.transport import Route

__all__ = [
    "PARTNER",
    "EventStreamOpener",
    "capture_error_bodies",
    "maintenance_info",
    "read_callagent_error",
    "refine_error",
]

PARTNER = "call_agent"

_TIMEOUT_PHASES: dict[type[httpx.TimeoutException], str] = {
    httpx.ConnectTimeout: "connect",
    httpx.ReadTimeout: "read",
    httpx.WriteTimeout: "write",
    httpx.PoolTimeout: "pool",
}

_captured: ContextVar[list[bytes] | None] = ContextVar("callagent_error_bodies", default=None)


def read_callagent_error(status: int, body: bytes) -> ErrorBody:
    """FastAPI's shapes (the shared reader), remembering the body for :func:`refine_error`."""
    sink = _captured.get()
    if sink is not None:
        sink.append(body)
    return read_fastapi_detail(status, body)


@contextlib.contextmanager
def capture_error_bodies() -> Iterator[list[bytes]]:
    """Collect the error bodies the reader sees in this context (one per failed attempt)."""
    bodies: list[bytes] = []
    token = _captured.set(bodies)
    try:
        yield bodies
    finally:
        _captured.reset(token)


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def maintenance_info(body: bytes) -> tuple[str | None, datetime | None, bool]:
    """``(message, resume_at, says_maintenance)`` of a 503 body, from any of its shapes."""
    payload = json_payload(body)
    if not isinstance(payload, dict):
        return None, None, False
    detail = payload.get("detail")
    source: dict[str, Any] = detail if isinstance(detail, dict) else payload
    message = source.get("message")
    if isinstance(detail, str):
        message = detail
    said = source.get("code") == "maintenance" or "resume_at" in source
    return (message if isinstance(message, str) else None), _when(source.get("resume_at")), said


def refine_error(
    error: PartnerHTTPError, body: bytes | None, *, starts_call: bool
) -> PartnerHTTPError:
    """The Call Agent subclass for ``error``, or ``error`` itself.

    On routes that start a call every 503 is the maintenance gate and every 502 a failed
    dial (the spec's words); elsewhere a 503 is :class:`Maintenance` only when its body
    says so (``code: maintenance`` or a ``resume_at``).
    """
    if isinstance(error, ServiceUnavailable) and not isinstance(error, Maintenance):
        _, resume_at, said = maintenance_info(body or b"")
        if not (starts_call or said):
            return error
        return Maintenance(
            error.status,
            error.code,
            error.message,  # already redacted by the transport
            partner=error.partner,
            retry_after=error.retry_after,
            resume_at=resume_at,
        )
    if starts_call and error.status == 502 and not isinstance(error, DialFailed):
        return DialFailed(error.status, error.code, error.message, partner=error.partner)
    return error


class EventStreamOpener:
    """Opens the SSE stream behind the breaker, with one metrics observation, and turns
    every failure (opening or mid-stream) into the shared tree with the key redacted."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        secrets: tuple[str, ...],
        breaker: CircuitBreaker | None,
        metrics: PartnerMetrics,
        clock: Callable[[], datetime] | None,
        invalid: Callable[[Route, httpx.Response, str], ResponseInvalid],
    ) -> None:
        self._http = http
        self._secrets = secrets
        self._breaker = breaker
        self._metrics = metrics
        self._clock = clock
        self._invalid = invalid

    def __repr__(self) -> str:
        return "EventStreamOpener('***')"

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    async def open(self, request: httpx.Request) -> httpx.Response:
        """Send the (already authorised) request; return it only as an event stream."""
        if self._breaker is not None:
            self._breaker.before()
        started = time.perf_counter()
        status = STATUS_UNAVAILABLE
        failure: BaseException | None = None
        try:
            try:
                response = await self._http.send(request, stream=True)
            except httpx.TimeoutException as exc:
                status = STATUS_TIMEOUT
                phase = _TIMEOUT_PHASES.get(type(exc), "unknown")
                raise PartnerTimeout(
                    f"{EVENTS.label} timed out ({phase})", partner=PARTNER, phase=phase
                ) from exc
            except httpx.TransportError as exc:
                raise PartnerUnavailable(
                    f"{EVENTS.label} failed: {type(exc).__name__}: {self.redact(str(exc))}",
                    partner=PARTNER,
                ) from exc
            status = str(response.status_code)
            try:
                await self._check(response)
            except BaseException:
                await response.aclose()
                raise
            return response
        except BaseException as exc:
            failure = exc
            raise
        finally:
            if self._breaker is not None:
                self._breaker.record(failure)
            self._metrics.observe(
                partner=PARTNER,
                endpoint=EVENTS.label,
                status=status,
                seconds=time.perf_counter() - started,
                error=isinstance(failure, PartnerError),
            )

    async def _check(self, response: httpx.Response) -> None:
        code = response.status_code
        if code >= 400:
            body = await response.aread()
            error = error_from_response(
                partner=PARTNER,
                status=code,
                body=body,
                headers=response.headers,
                redact=self._secrets,
                now=self._clock() if self._clock is not None else None,
                read=read_callagent_error,
            )
            raise refine_error(error, body, starts_call=False)
        content_type = response.headers.get("content-type", "").partition(";")[0].strip()
        if not 200 <= code < 300 or content_type != "text/event-stream":
            why = f"expected a 2xx text/event-stream, got {code} {content_type!r}"
            raise self._invalid(EVENTS, response, why)

    def broken(self, exc: httpx.TransportError, read_timeout_s: float) -> PartnerError:
        """A stream that fell silent (timeout) or broke off mid-way, counted as an error."""
        if isinstance(exc, httpx.TimeoutException):
            self._count(STATUS_TIMEOUT)
            return PartnerTimeout(
                f"{EVENTS.label}: no data for {read_timeout_s:g}s", partner=PARTNER, phase="read"
            )
        self._count(STATUS_UNAVAILABLE)
        return PartnerUnavailable(
            f"{EVENTS.label}: stream broke: {type(exc).__name__}: {self.redact(str(exc))}",
            partner=PARTNER,
        )

    def _count(self, status: str) -> None:
        self._metrics.count_error(partner=PARTNER, endpoint=EVENTS.label, status=status)
