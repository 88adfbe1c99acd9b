"""Async client of the Onegent Execution API, over an injected ``httpx.AsyncClient``.

Every request goes through the shared :class:`~integrations.transport.PartnerTransport`
(``Authorization: Bearer ogk_…``, per-route timeouts, one retry layer, breaker, metrics,
redaction); the retry rules per route are in ``endpoints.py``. Errors are the shared tree
(``integrations.errors``) plus Onegent's refinements (``integrations.onegent.errors``):
``400 invalid_request`` → :class:`InvalidRequest` (a ``BadRequest`` and a
``ValidationFailed``, with the zod ``details``), ``500 job_create_failed`` →
:class:`JobCreateFailed`. ``401``'s ``code`` says which auth rule failed.

The API key is checked against the documented format before anything is sent; neither the
key nor a profile ever reaches a log line or an exception message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

import httpx

from integrations.auth import BearerToken
from integrations.breaker import CircuitBreaker
from integrations.errors import PartnerHTTPError
from integrations.metrics import PartnerMetrics
from integrations.onegent.endpoints import AUDIT, CREATE_JOB, GET_JOB, PROVIDER_METRICS
from integrations.onegent.models import (
    AuditLog,
    CreatedJob,
    ExecutionJob,
    ExecutionJobRequest,
    ProviderMetrics,
)
from integrations.onegent.wire import (
    PARTNER,
    CreateRetrier,
    capture_error_bodies,
    check_key,
    read_onegent_error,
    refine_error,
)
from integrations.retry import Retrier
from integrations.transport import PartnerTransport, Route

__all__ = ["DEFAULT_AUDIT_LIMIT", "DEFAULT_TIME_RANGE_DAYS", "OnegentClient"]

DEFAULT_AUDIT_LIMIT = 500
DEFAULT_TIME_RANGE_DAYS = 30


def _path_id(value: str, what: str) -> str:
    """A path id (the partner answers ``400 missing_*`` for an empty one: refuse it here)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must not be empty")
    return value


class OnegentClient:
    """Typed access to the Onegent Execution API for one API key."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str,
        base_url: str,
        breaker: CircuitBreaker | None = None,
        metrics: PartnerMetrics | None = None,
        retrier: Retrier | None = None,
    ) -> None:
        """``base_url`` is the API root *including* ``/api/v1`` (``ONEGENT_API_URL``);
        ``breaker`` is shared by every client of one deployment. A malformed key raises
        :class:`~integrations.onegent.errors.MalformedKey` here, before any request."""
        check_key(api_key)
        self._secrets = (api_key,)
        self._base_url = base_url.rstrip("/")
        self._transport = PartnerTransport(
            http,
            partner=PARTNER,
            auth=BearerToken(api_key),
            base_url=self._base_url,
            read_error=read_onegent_error,
            retrier=CreateRetrier(retrier),
            breaker=breaker,
            metrics=metrics,
        )

    def __repr__(self) -> str:
        return f"OnegentClient(base_url={self._base_url!r})"

    async def _call(
        self,
        route: Route,
        *,
        path: Mapping[str, str] | None = None,
        params: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """The shared transport, then Onegent's error refinements (``wire.py``)."""
        with capture_error_bodies() as said:
            try:
                return await self._transport.call(
                    route, path=path, params=params, body=body, idempotency_key=idempotency_key
                )
            except PartnerHTTPError as exc:
                refined = refine_error(exc, said[-1] if said else None, secrets=self._secrets)
                if refined is exc:
                    raise
                raise refined from exc

    # ------------------------------------------------------------------ jobs

    async def create_job(self, request: ExecutionJobRequest) -> CreatedJob:
        """``POST /execution-jobs`` (202): the job is created and runs asynchronously.

        With ``clientMetadata.idempotencyKey`` the very same bytes are re-sent after a
        transient failure or ``500 job_create_failed`` (the partner answers the same job for
        the same key); without one it is sent exactly once (a repeat could book twice).
        """
        response = await self._call(
            CREATE_JOB, body=request.body(), idempotency_key=request.idempotency_key
        )
        return self._transport.parse(CreatedJob, response, CREATE_JOB)

    async def get_job(self, job_id: str) -> ExecutionJob:
        """``GET /execution-jobs/{jobId}``: the job's current state (poll every 3–5 s)."""
        response = await self._call(GET_JOB, path={"job_id": _path_id(job_id, "job_id")})
        return self._transport.parse(ExecutionJob, response, GET_JOB)

    async def audit(self, job_id: str, *, limit: int = DEFAULT_AUDIT_LIMIT) -> AuditLog:
        """``GET /execution-jobs/{jobId}/audit``; the partner clamps ``limit`` to [1, 2000]."""
        response = await self._call(
            AUDIT, path={"job_id": _path_id(job_id, "job_id")}, params=[("limit", str(limit))]
        )
        return self._transport.parse(AuditLog, response, AUDIT)

    async def provider_metrics(
        self, provider_id: str, *, time_range_days: int = DEFAULT_TIME_RANGE_DAYS
    ) -> ProviderMetrics:
        """``GET /metrics/providers/{providerId}``; ``timeRangeDays`` is clamped to
        [1, 365] by the partner. No data is zeros (gate on ``is_evidence()``)."""
        response = await self._call(
            PROVIDER_METRICS,
            path={"provider_id": _path_id(provider_id, "provider_id")},
            params=[("timeRangeDays", str(time_range_days))],
        )
        return self._transport.parse(ProviderMetrics, response, PROVIDER_METRICS)

    async def wait_for_terminal(
        self,
        job_id: str,
        *,
        interval_s: float = 4.0,
        ceiling_s: float = 600.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> ExecutionJob:
        """Poll :meth:`get_job` every ``interval_s`` until a terminal status, for at most
        ``ceiling_s`` (the spec's loop: 3–5 s, a 10-minute ceiling). Returns the last job
        seen: check ``terminal`` — after the ceiling it may still be running."""
        deadline = time.monotonic() + ceiling_s
        while True:
            job = await self.get_job(job_id)
            if job.terminal or time.monotonic() + interval_s > deadline:
                return job
            await sleep(interval_s)
