"""The HTTP side of the Outgoing client: headers, timeouts, retries, metrics, error mapping.

One :class:`Transport` per API key. It turns one logical call into at most three attempts
(``integrations.retry``), times each attempt (``integrations.metrics``), maps every error
status through ``integrations.errors.error_from_response`` and parses 2xx bodies into the
spec's models (anything off-spec is ``ResponseInvalid``). The key and the external user id
never reach a log line or an exception.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import pydantic

from integrations.breaker import CircuitBreaker
from integrations.errors import (
    InteractionRequired,
    PartnerError,
    PartnerTimeout,
    PartnerUnavailable,
    ResponseInvalid,
    error_from_response,
)
from integrations.metrics import (
    DEFAULT_METRICS,
    STATUS_INVALID_RESPONSE,
    STATUS_TIMEOUT,
    STATUS_UNAVAILABLE,
    PartnerMetrics,
)
from integrations.outgoing.endpoints import POLL_INTERACTION, Endpoint, UserHeader
from integrations.retry import Retrier

__all__ = ["PARTNER", "USER_HEADER", "KeyKind", "Transport", "parse_aauth_requirement"]

log = logging.getLogger(__name__)

PARTNER = "outgoing"
USER_HEADER = "X-External-User-Id"
_SAFE_KEY = re.compile(r"[\x21-\x7e]+")
_SAFE_USER_ID = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
_AAUTH_PARAM = re.compile(r'([A-Za-z0-9_.*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*)')
_TIMEOUT_PHASES: dict[type[httpx.TimeoutException], str] = {
    httpx.ConnectTimeout: "connect",
    httpx.ReadTimeout: "read",
    httpx.WriteTimeout: "write",
    httpx.PoolTimeout: "pool",
}

M = TypeVar("M", bound=pydantic.BaseModel)


class KeyKind(StrEnum):
    """Which Outgoing credential this is (see the spec's "Identifying the user")."""

    NEGOTIATED = "negotiated"  # multi-user: X-External-User-Id required
    SELF_SERVE = "self_serve"  # bound to one user: X-External-User-Id refused with 400


def parse_aauth_requirement(value: str) -> dict[str, str]:
    """``requirement=interaction; url="…"; code="…"`` → ``{"requirement": …, "url": …}``."""
    params: dict[str, str] = {}
    for match in _AAUTH_PARAM.finditer(value):
        raw = match.group(2)
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params.setdefault(match.group(1).lower(), raw)
    return params


class Transport:
    """Sends requests for one API key over the caller's ``httpx.AsyncClient``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str,
        key_kind: KeyKind,
        base_url: str | None,
        retrier: Retrier | None,
        metrics: PartnerMetrics | None,
        clock: Callable[[], datetime] | None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        if not api_key or not _SAFE_KEY.fullmatch(api_key):
            # Never echo the key: say only what is wrong with it.
            raise ValueError("api_key is empty or contains whitespace/non-printable characters")
        if base_url is None and not str(http.base_url):
            raise ValueError("pass base_url or give the httpx.AsyncClient a base_url")
        self._http = http
        self._api_key = api_key
        self.key_kind = KeyKind(key_kind)
        self._base_url = base_url.rstrip("/") if base_url is not None else None
        self._retrier = retrier or Retrier()
        self._breaker = breaker
        self._metrics = metrics or DEFAULT_METRICS
        self._clock = clock or (lambda: datetime.now(UTC))

    @property
    def base_url(self) -> str | None:
        return self._base_url

    def user_header(self, endpoint: Endpoint, user: str | None) -> dict[str, str]:
        if self.key_kind is KeyKind.SELF_SERVE:
            return {}  # the key already names its user; the header would be a 400
        if user is None:
            if endpoint.user is UserHeader.REQUIRED:
                raise ValueError(
                    f"{endpoint.label} needs the external user id (user=...) with a negotiated key"
                )
            return {}
        if not _SAFE_USER_ID.fullmatch(user):
            raise ValueError("the external user id is empty or not printable ASCII")
        return {USER_HEADER: user}

    async def call(
        self,
        endpoint: Endpoint,
        *,
        path: dict[str, str] | None = None,
        params: list[tuple[str, str]] | None = None,
        user: str | None = None,
        language: str | None = None,
        body: bytes | None = None,
        retry: bool = True,
        send_user: bool = True,
    ) -> httpx.Response:
        """Send one logical request (with retries) and return its 2xx response."""
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}
        if send_user:
            headers.update(self.user_header(endpoint, user))
        if language is not None:
            headers["Accept-Language"] = language
        if body is not None:
            headers["Content-Type"] = "application/json"
        route = endpoint.path
        for name, value in (path or {}).items():
            route = route.replace("{" + name + "}", quote(value, safe=""))
        url = f"{self._base_url}{route}" if self._base_url is not None else route

        async def attempt() -> httpx.Response:
            return await self._attempt(endpoint, url, params, headers, body)

        if not retry:
            return await attempt()
        return await self._retrier.run(
            attempt, retryable=lambda exc: _retryable(endpoint, exc), label=endpoint.label
        )

    async def _attempt(
        self,
        endpoint: Endpoint,
        url: str,
        params: list[tuple[str, str]] | None,
        headers: dict[str, str],
        body: bytes | None,
    ) -> httpx.Response:
        """One HTTP attempt: send, time, classify. Returns only a usable 2xx response."""
        if self._breaker is None:
            return await self._measured_attempt(endpoint, url, params, headers, body)
        self._breaker.before()
        try:
            response = await self._measured_attempt(endpoint, url, params, headers, body)
        except BaseException as error:
            self._breaker.record(error)
            raise
        self._breaker.record(None)
        return response

    async def _measured_attempt(
        self,
        endpoint: Endpoint,
        url: str,
        params: list[tuple[str, str]] | None,
        headers: dict[str, str],
        body: bytes | None,
    ) -> httpx.Response:
        started = time.perf_counter()
        status = STATUS_UNAVAILABLE
        failed = True
        try:
            try:
                response = await self._http.request(
                    endpoint.method,
                    url,
                    params=tuple(params) if params else None,
                    headers=headers,
                    content=body,
                    timeout=endpoint.timeout,
                )
            except httpx.TimeoutException as exc:
                status = STATUS_TIMEOUT
                phase = _TIMEOUT_PHASES.get(type(exc), "unknown")
                raise PartnerTimeout(
                    f"{endpoint.label} timed out ({phase})", partner=PARTNER, phase=phase
                ) from exc
            except httpx.TransportError as exc:
                raise PartnerUnavailable(
                    f"{endpoint.label} failed: {type(exc).__name__}: {self._scrub(str(exc))}",
                    partner=PARTNER,
                ) from exc
            status = str(response.status_code)
            self._check(endpoint, response)
            failed = False
            return response
        finally:
            elapsed = time.perf_counter() - started
            self._metrics.observe(
                partner=PARTNER,
                endpoint=endpoint.label,
                status=status,
                seconds=elapsed,
                error=failed,
            )
            log.debug("%s -> %s in %.3fs", endpoint.label, status, elapsed)

    def _check(self, endpoint: Endpoint, response: httpx.Response) -> None:
        """Raise for an error status or an AAuth interaction; return for a usable 2xx."""
        code = response.status_code
        if code >= 400:
            raise error_from_response(
                partner=PARTNER,
                status=code,
                body=response.content,
                headers=response.headers,
                redact=self._secrets(response),
                now=self._clock(),
            )
        if code == 202 and endpoint is not POLL_INTERACTION:
            requirement = parse_aauth_requirement(response.headers.get("aauth-requirement", ""))
            if requirement.get("requirement") == "interaction":
                raise self._interaction(endpoint, response, requirement)
        if not 200 <= code < 300:
            raise ResponseInvalid(
                f"{endpoint.label} answered an unexpected HTTP {code}",
                partner=PARTNER,
                status=code,
                endpoint=endpoint.label,
            )

    def _interaction(
        self, endpoint: Endpoint, response: httpx.Response, requirement: dict[str, str]
    ) -> PartnerError:
        url, code = requirement.get("url"), requirement.get("code")
        location = response.headers.get("location")
        if not url or not code or not location:
            return ResponseInvalid(
                f"{endpoint.label}: AAuth interaction 202 without url, code or Location",
                partner=PARTNER,
                status=202,
                endpoint=endpoint.label,
            )
        message = "Interaction required."
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if isinstance(payload, dict) and isinstance(payload.get("error"), str):
            message = _redact(payload["error"], self._secrets(response))
        return InteractionRequired(
            message,
            partner=PARTNER,
            url=url,
            code=code,
            poll_url=str(response.url.join(location)),
        )

    def parse(self, model: type[M], response: httpx.Response, endpoint: Endpoint) -> M:
        try:
            return model.model_validate_json(response.content)
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in err['loc']) or '<body>'}: {err['msg']}"
                for err in exc.errors(include_url=False, include_input=False)[:5]
            )
        raise self._invalid(endpoint, response, problems)

    def json_object(self, response: httpx.Response, endpoint: Endpoint) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise self._invalid(endpoint, response, "expected a JSON object")
        return payload

    def _invalid(self, endpoint: Endpoint, response: httpx.Response, why: str) -> ResponseInvalid:
        self._metrics.count_error(
            partner=PARTNER, endpoint=endpoint.label, status=STATUS_INVALID_RESPONSE
        )
        log.warning(
            "%s: HTTP %d body does not match the spec", endpoint.label, response.status_code
        )
        return ResponseInvalid(
            f"{endpoint.label} returned a body that does not match the spec: {why}",
            partner=PARTNER,
            status=response.status_code,
            endpoint=endpoint.label,
        )

    def _secrets(self, response: httpx.Response) -> tuple[str, ...]:
        """What must never appear in an error: the key and the user id of this request."""
        user = response.request.headers.get(USER_HEADER)
        return (self._api_key, user) if user else (self._api_key,)

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "[REDACTED]")


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "[REDACTED]")
    return text


def _retryable(endpoint: Endpoint, exc: BaseException) -> bool:
    if not isinstance(exc, PartnerError) or not exc.retryable:
        return False
    # A search whose read timed out may still be running server-side and has already cost
    # quota: report it rather than start another two-minute search.
    read_timeout = isinstance(exc, PartnerTimeout) and exc.phase == "read"
    return not (read_timeout and not endpoint.retry_read_timeouts)
