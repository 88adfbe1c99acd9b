"""The one HTTP transport every partner client sends through.

A partner client describes its endpoints as :class:`Route`\\ s and owns only what is its own
(models, its error-body reader, partner-specific headers); :class:`PartnerTransport` does
the rest the same way for all of them:

* credentials through an auth hook (``integrations.auth``), applied on every attempt;
* a per-route ``httpx.Timeout`` with all four phases set;
* ONE retry layer (``integrations.retry``: ≤ 3 attempts, full jitter, ``Retry-After``
  honoured up to a cap) — and only for requests that are safe to repeat: idempotent
  routes, or a request carrying a non-blank idempotency key, re-sent with the very same
  key and bytes. A read timeout is not repeated on routes that say so (a search that may
  still be running and has already cost quota);
* the partner deployment's circuit breaker (``integrations.breaker``);
* one metrics observation per attempt, labelled by partner (``integrations.metrics``);
* error statuses → the shared tree (``integrations.errors``) through the partner's reader.

Credentials, and any header named in ``private_headers``, never reach a log line or an
exception message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import pydantic

from integrations.auth import AuthHook, Renewable
from integrations.breaker import CircuitBreaker
from integrations.error_bodies import ErrorReader, read_error_body
from integrations.errors import (
    REDACTED,
    PartnerError,
    PartnerTimeout,
    PartnerUnavailable,
    ResponseInvalid,
    Unauthorized,
    error_from_response,
)
from integrations.lanes import QUICK
from integrations.metrics import (
    DEFAULT_METRICS,
    STATUS_INVALID_RESPONSE,
    STATUS_TIMEOUT,
    STATUS_UNAVAILABLE,
    PartnerMetrics,
)
from integrations.retry import Retrier

__all__ = ["DEFAULT_TIMEOUT", "PartnerTransport", "Redactor", "ResponseCheck", "Route"]

log = logging.getLogger(__name__)

#: an ordinary partner call: answer within 15 s
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=15.0, write=15.0, pool=5.0)
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_TIMEOUT_PHASES: dict[type[httpx.TimeoutException], str] = {
    httpx.ConnectTimeout: "connect",
    httpx.ReadTimeout: "read",
    httpx.WriteTimeout: "write",
    httpx.PoolTimeout: "pool",
}

M = TypeVar("M", bound=pydantic.BaseModel)
Redactor = Callable[[str], str]


@dataclass(frozen=True, eq=False)
class Route:
    """One partner endpoint: method, route template and how it may be retried.

    ``idempotent`` None follows the method (GET, HEAD, OPTIONS, PUT, DELETE); a POST that
    the partner documents as idempotent says True. A non-idempotent route is retried only
    when the call carries an idempotency key; ``key_header`` sends that key as a header
    (for partners that take it there rather than in the body).
    """

    method: str
    path: str  # route template, e.g. /partner/v1/activities/{activity_id}
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    idempotent: bool | None = None
    retry_read_timeouts: bool = True
    key_header: str | None = None
    lane: str = QUICK
    """The connection lane (`integrations.lanes`): `slow` for calls that wait long on the
    partner, so they never take the connections quick calls need."""

    @property
    def label(self) -> str:
        """``GET /partner/v1/activities/{activity_id}``: the metrics/log name, never a URL."""
        return f"{self.method} {self.path}"

    @property
    def safe_to_repeat(self) -> bool:
        if self.idempotent is not None:
            return self.idempotent
        return self.method.upper() in _IDEMPOTENT_METHODS


ResponseCheck = Callable[[Route, httpx.Response, Redactor], None]
"""A partner's look at a non-error response before it counts as a success; raises a
``PartnerError`` to refuse it (Outgoing's AAuth "interaction required" 202)."""


class PartnerTransport:
    """Sends one partner's requests over the caller's ``httpx.AsyncClient`` (never closed
    here). Build one per credential; share the ``breaker`` per partner deployment."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        partner: str,
        auth: AuthHook,
        base_url: str | None = None,
        read_error: ErrorReader = read_error_body,
        check: ResponseCheck | None = None,
        retrier: Retrier | None = None,
        breaker: CircuitBreaker | None = None,
        metrics: PartnerMetrics | None = None,
        clock: Callable[[], datetime] | None = None,
        private_headers: Collection[str] = (),
    ) -> None:
        """``base_url`` is the server root; None uses the ``http`` client's own. ``clock``
        is "now" for ``Retry-After`` dates. ``private_headers`` (e.g. a user id) are
        redacted like credentials."""
        if base_url is None and not str(http.base_url):
            raise ValueError("pass base_url or give the httpx.AsyncClient a base_url")
        self.partner = partner
        self._http = http
        self._auth = auth
        self._base_url = base_url.rstrip("/") if base_url is not None else None
        self._read_error = read_error
        self._check_response = check
        self._retrier = retrier or Retrier()
        self._breaker = breaker
        self._metrics = metrics or DEFAULT_METRICS
        self._clock = clock or (lambda: datetime.now(UTC))
        self._private_headers = tuple(name.lower() for name in private_headers)

    @property
    def base_url(self) -> str | None:
        return self._base_url

    def __repr__(self) -> str:
        return f"PartnerTransport(partner={self.partner!r}, base_url={self._base_url!r})"

    async def call(
        self,
        route: Route,
        *,
        path: Mapping[str, str] | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Send one logical request (retried when safe) and return its 2xx response.

        ``body`` is sent as JSON, byte for byte the same on every attempt. A non-blank
        ``idempotency_key`` makes a non-idempotent route retryable; the caller keeps it
        the same for the life of the operation (also across restarts).
        """
        sent = {"Accept": "application/json", **(headers or {})}
        if body is not None:
            sent.setdefault("Content-Type", "application/json")
        keyed = bool(idempotency_key and idempotency_key.strip())
        if keyed and route.key_header is not None:
            sent[route.key_header] = str(idempotency_key)
        url = self._url(route, path)
        query = tuple(params) if params else None

        async def attempt() -> httpx.Response:
            return await self._attempt(route, url, query, sent, body)

        if not (route.safe_to_repeat or keyed):
            return await attempt()
        return await self._retrier.run(
            attempt, retryable=lambda exc: _retryable(route, exc), label=route.label
        )

    def _url(self, route: Route, path: Mapping[str, str] | None) -> str:
        template = route.path
        for name, value in (path or {}).items():
            template = template.replace("{" + name + "}", quote(value, safe=""))
        return f"{self._base_url}{template}" if self._base_url is not None else template

    async def _attempt(
        self,
        route: Route,
        url: str,
        params: tuple[tuple[str, str], ...] | None,
        headers: dict[str, str],
        body: bytes | None,
    ) -> httpx.Response:
        """One attempt (plus one re-send after a 401 if the credential could be renewed)."""
        renewed = False
        while True:
            request = self._http.build_request(
                route.method,
                url,
                params=params,
                headers=headers,
                content=body,
                timeout=route.timeout,
                extensions={"lane": route.lane},
            )
            secrets = await self._authorize(request)
            try:
                return await self._guarded(route, request, secrets)
            except Unauthorized:
                if renewed or not isinstance(self._auth, Renewable):
                    raise
                if not await self._auth.renew(request):
                    raise
                renewed = True

    async def _authorize(self, request: httpx.Request) -> tuple[str, ...]:
        """Apply the auth hook; what it set (and the private headers) are this request's
        secrets, also without their scheme (``Bearer x`` → ``x``)."""
        before = dict(request.headers)
        await self._auth(request)
        values = [v for k, v in request.headers.items() if before.get(k) != v]
        values += [v for k, v in request.headers.items() if k in self._private_headers]
        secrets: list[str] = []
        for value in values:
            secrets.append(value)
            scheme, _, token = value.partition(" ")
            if token and scheme.isalpha():
                secrets.append(token)
        return tuple(sorted(set(secrets), key=len, reverse=True))

    async def _guarded(
        self, route: Route, request: httpx.Request, secrets: tuple[str, ...]
    ) -> httpx.Response:
        """The attempt behind the breaker: an open circuit refuses before sending."""
        if self._breaker is None:
            return await self._measured(route, request, secrets)
        self._breaker.before()
        try:
            response = await self._measured(route, request, secrets)
        except BaseException as error:
            self._breaker.record(error)
            raise
        self._breaker.record(None)
        return response

    async def _measured(
        self, route: Route, request: httpx.Request, secrets: tuple[str, ...]
    ) -> httpx.Response:
        """Send, time and classify one attempt. Returns only a usable 2xx response."""
        started = time.perf_counter()
        status = STATUS_UNAVAILABLE
        failed = True
        try:
            try:
                response = await self._http.send(request)
            except httpx.TimeoutException as exc:
                status = STATUS_TIMEOUT
                phase = _TIMEOUT_PHASES.get(type(exc), "unknown")
                raise PartnerTimeout(
                    f"{route.label} timed out ({phase})", partner=self.partner, phase=phase
                ) from exc
            except httpx.TransportError as exc:
                text = _redact(str(exc), secrets)
                raise PartnerUnavailable(
                    f"{route.label} failed: {type(exc).__name__}: {text}", partner=self.partner
                ) from exc
            status = str(response.status_code)
            self._check(route, response, secrets)
            failed = False
            return response
        finally:
            elapsed = time.perf_counter() - started
            self._metrics.observe(
                partner=self.partner,
                endpoint=route.label,
                status=status,
                seconds=elapsed,
                error=failed,
            )
            log.debug("%s %s -> %s in %.3fs", self.partner, route.label, status, elapsed)

    def _check(self, route: Route, response: httpx.Response, secrets: tuple[str, ...]) -> None:
        """Raise for an error status or what the partner's check refuses; else return."""
        code = response.status_code
        if code >= 400:
            raise error_from_response(
                partner=self.partner,
                status=code,
                body=response.content,
                headers=response.headers,
                redact=secrets,
                now=self._clock(),
                read=self._read_error,
            )
        if self._check_response is not None:
            self._check_response(route, response, lambda text: _redact(text, secrets))
        if not 200 <= code < 300:
            raise ResponseInvalid(
                f"{route.label} answered an unexpected HTTP {code}",
                partner=self.partner,
                status=code,
                endpoint=route.label,
            )

    # ------------------------------------------------------------------ 2xx bodies

    def parse(self, model: type[M], response: httpx.Response, route: Route) -> M:
        """The body as the spec's model; anything off-spec is ``ResponseInvalid``."""
        try:
            return model.model_validate_json(response.content)
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in err['loc']) or '<body>'}: {err['msg']}"
                for err in exc.errors(include_url=False, include_input=False)[:5]
            )
        raise self.invalid(route, response, problems)

    def json_object(self, response: httpx.Response, route: Route) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise self.invalid(route, response, "expected a JSON object")
        return payload

    def invalid(self, route: Route, response: httpx.Response, why: str) -> ResponseInvalid:
        """Count and describe a 2xx body that does not match the spec (body never logged)."""
        self._metrics.count_error(
            partner=self.partner, endpoint=route.label, status=STATUS_INVALID_RESPONSE
        )
        log.warning("%s: HTTP %d body does not match the spec", route.label, response.status_code)
        return ResponseInvalid(
            f"{route.label} returned a body that does not match the spec: {why}",
            partner=self.partner,
            status=response.status_code,
            endpoint=route.label,
        )


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def _retryable(route: Route, exc: BaseException) -> bool:
    if not isinstance(exc, PartnerError) or not exc.retryable:
        return False
    read_timeout = isinstance(exc, PartnerTimeout) and exc.phase == "read"
    return not (read_timeout and not route.retry_read_timeouts)
