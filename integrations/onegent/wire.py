"""What is Onegent's own on the wire: its key format, its error envelope and its one retry rule.

* Keys look like ``ogk_(live|test)_[A-Za-z0-9_-]{16,}``; :func:`check_key` refuses anything
  else before a request is built (the partner would answer ``401 malformed_api_key``).
* Errors are ``{"error": {"code", "message"}}`` (+ ``details`` for ``invalid_request``),
  read by the shared :func:`~integrations.error_bodies.read_error_envelope`. The shared tree
  keeps ``details`` only for 422s, so while one client call runs the reader also drops what
  it read into :func:`capture_error_bodies`' list (a context variable: concurrent calls never
  see each other's) and :func:`refine_error` builds :class:`InvalidRequest` /
  :class:`JobCreateFailed` from the last one after the transport gave up.
* ``500 job_create_failed`` is, per the spec, to be retried with the same idempotency key.
  The shared transport retries only what its errors call retryable (not a 500), so
  :class:`CreateRetrier` widens the predicate for that one route and code. The transport
  asks the retrier at all only for calls that carry an idempotency key, so a create
  without one is still sent exactly once.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import TypeVar

from integrations.error_bodies import ErrorBody, read_error_envelope
from integrations.errors import REDACTED, PartnerHTTPError
from integrations.onegent.endpoints import CREATE_JOB
from integrations.onegent.errors import InvalidRequest, JobCreateFailed, MalformedKey
from integrations.retry import Retrier

__all__ = [
    "KEY_PATTERN",
    "PARTNER",
    "CreateRetrier",
    "capture_error_bodies",
    "check_key",
    "is_job_create_failed",
    "read_onegent_error",
    "refine_error",
]

PARTNER = "onegent"
KEY_PATTERN = re.compile(r"ogk_(live|test)_[A-Za-z0-9_-]{16,}")

T = TypeVar("T")
_captured: ContextVar[list[ErrorBody] | None] = ContextVar("onegent_error_bodies", default=None)


def check_key(key: str) -> None:
    """Raise :class:`MalformedKey` unless ``key`` has the documented shape (never echoed)."""
    if not isinstance(key, str) or KEY_PATTERN.fullmatch(key) is None:
        raise MalformedKey("the Onegent API key must look like ogk_live_… or ogk_test_…")


def read_onegent_error(status: int, body: bytes) -> ErrorBody:
    """The shared envelope reader, remembering what it read for :func:`refine_error`."""
    said = read_error_envelope(status, body)
    sink = _captured.get()
    if sink is not None:
        sink.append(said)
    return said


@contextlib.contextmanager
def capture_error_bodies() -> Iterator[list[ErrorBody]]:
    """Collect what the reader read in this context (one entry per failed attempt)."""
    bodies: list[ErrorBody] = []
    token = _captured.set(bodies)
    try:
        yield bodies
    finally:
        _captured.reset(token)


def is_job_create_failed(exc: BaseException) -> bool:
    """The one 500 the spec says to retry (with the same idempotency key)."""
    if not isinstance(exc, PartnerHTTPError):
        return False
    return exc.status == 500 and exc.code == "job_create_failed"


def refine_error(
    error: PartnerHTTPError, said: ErrorBody | None, *, secrets: tuple[str, ...]
) -> PartnerHTTPError:
    """The Onegent subclass for ``error`` (message already redacted), or ``error`` itself."""
    invalid = error.status == 400 and error.code == "invalid_request"
    if invalid and not isinstance(error, InvalidRequest):
        details = list(said.detail or []) if said is not None else []
        if details and secrets:
            text = json.dumps(details)
            for secret in secrets:
                text = text.replace(secret, REDACTED)
            details = json.loads(text)
        return InvalidRequest(
            error.status, error.code, error.message, partner=error.partner, detail=details
        )
    if is_job_create_failed(error) and not isinstance(error, JobCreateFailed):
        return JobCreateFailed(error.status, error.code, error.message, partner=error.partner)
    return error


class CreateRetrier(Retrier):
    """The shared retry layer (same policy, sleep and jitter: it delegates), which also
    retries ``500 job_create_failed`` on ``POST /execution-jobs``, as the spec asks."""

    def __init__(self, inner: Retrier | None = None) -> None:
        self._inner = inner or Retrier()
        super().__init__(self._inner.policy)

    def backoff(self, attempt: int) -> float:
        return self._inner.backoff(attempt)

    async def run(
        self,
        operation: Callable[[], Awaitable[T]],
        *,
        retryable: Callable[[BaseException], bool],
        retry_after: Callable[[BaseException], float | None] | None = None,
        label: str = "operation",
    ) -> T:
        def widened(exc: BaseException) -> bool:
            if retryable(exc):
                return True
            return label == CREATE_JOB.label and is_job_create_failed(exc)

        if retry_after is None:
            return await self._inner.run(operation, retryable=widened, label=label)
        return await self._inner.run(
            operation, retryable=widened, retry_after=retry_after, label=label
        )

    def __repr__(self) -> str:
        return f"CreateRetrier({self._inner!r})"
