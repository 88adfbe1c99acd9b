"""Async client of the Outgoing partner API (``/partner/v1``), over an injected httpx client.

The caller owns the ``httpx.AsyncClient`` (its lifetime, and usually its base URL); this class
never creates one. Per request it sets:

* ``Authorization: Bearer <key>``; ``X-External-User-Id`` only for *negotiated* keys (a
  self-serve key must never send it: the server answers 400), required where the spec
  requires it (a missing ``user`` raises ``ValueError`` before anything is sent);
* a per-endpoint ``httpx.Timeout`` with all four phases set (search reads for 150 s,
  price scrapes for 45 s, everything else 15 s; see ``endpoints.py``);
* retries through :class:`integrations.retry.Retrier` for 429, 502/503/504, timeouts and
  connection failures, honouring ``Retry-After``. ``POST /bookings`` is retried only with
  its (non-blank) idempotency key, and every attempt sends the very same bytes. A search
  whose *read* timed out is not repeated (it may still be running and it costs quota);
* one Prometheus observation per attempt (``integrations.metrics``).

Errors are the shared tree of ``integrations.errors``. The AAuth "interaction required"
``202`` is raised as :class:`~integrations.errors.InteractionRequired` -- an exception
rather than a union return type, so every method keeps one typed result and bearer-key
callers (who never see it) need no ``isinstance`` checks. The key and the external user id
are never logged and never put in an exception.
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

from integrations.errors import (
    BadRequest,
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
from integrations.outgoing.endpoints import (
    AUTH,
    BIND_WORKSPACE,
    CREATE_BOOKING,
    GET_ACTIVITY,
    GET_PRICES,
    H3,
    HOMESCREEN,
    LIST_ORDERS,
    POLL_INTERACTION,
    PROVISION_USER,
    SEARCH,
    Endpoint,
    UserHeader,
)
from integrations.outgoing.models import (
    BindWorkspaceRequest,
    BindWorkspaceResponse,
    BookingFilter,
    CreateBookingAcceptedResponse,
    CreateBookingRequest,
    H3CellResponse,
    OrdersResponse,
    PartnerActivityDetail,
    PricesResponse,
    ProvisionUserRequest,
    ProvisionUserResponse,
    SearchResponse,
    ShelvesResponse,
)
from integrations.retry import Retrier

__all__ = ["PARTNER", "KeyKind", "OutgoingClient", "detect_key_kind", "parse_aauth_requirement"]

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


class OutgoingClient:
    """Typed access to the eleven Outgoing partner endpoints for one API key."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str,
        key_kind: KeyKind,
        base_url: str | None = None,
        retrier: Retrier | None = None,
        metrics: PartnerMetrics | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``base_url`` is the server root (``https://api.outgoing.world``); when None the
        ``http`` client's own ``base_url`` is used. ``retrier``, ``metrics`` and ``clock``
        (the "now" for ``Retry-After`` dates) are injectable for tests."""
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
        self._metrics = metrics or DEFAULT_METRICS
        self._clock = clock or (lambda: datetime.now(UTC))

    def __repr__(self) -> str:
        return f"OutgoingClient(key_kind={self.key_kind.value!r}, base_url={self._base_url!r})"

    # ------------------------------------------------------------------ endpoints

    async def check_auth(self) -> dict[str, Any]:
        """``GET /auth``: ``{"ok": true}`` for an accepted key; 401 → ``Unauthorized``."""
        response = await self._call(AUTH)
        return self._json_object(response, AUTH)

    async def provision_user(
        self, external_user_id: str, request: ProvisionUserRequest
    ) -> ProvisionUserResponse:
        """``POST /users`` (negotiated keys): create or update the user mapping. Idempotent.
        Only the fields set on ``request`` are sent."""
        if request.external_user_id != external_user_id:
            raise ValueError("external_user_id does not match request.external_user_id")
        body = request.model_dump_json(exclude_unset=True).encode()
        response = await self._call(PROVISION_USER, user=external_user_id, body=body)
        return self._parse(ProvisionUserResponse, response, PROVISION_USER)

    async def homescreen(
        self,
        h3_cell: str,
        *,
        usual_plans: list[str] | None = None,
        shelved: bool = False,
        booking_filter: BookingFilter = BookingFilter.ALL,
        limit: int | None = None,
        user: str | None = None,
        language: str | None = None,
    ) -> ShelvesResponse:
        """``GET /homescreen`` for an H3 resolution-7 cell (``language``: Accept-Language)."""
        params: list[tuple[str, str]] = [
            ("h3_cell", h3_cell),
            ("shelved", "true" if shelved else "false"),
            ("booking_filter", BookingFilter(booking_filter).value),
        ]
        if limit is not None:
            params.append(("limit", str(limit)))
        params.extend(("usual_plans", plan) for plan in usual_plans or ())
        response = await self._call(HOMESCREEN, params=params, user=user, language=language)
        return self._parse(ShelvesResponse, response, HOMESCREEN)

    async def h3_cell(self, lat: float, lng: float, resolution: int = 7) -> H3CellResponse:
        """``GET /h3``: the H3 cell of a point (resolution 7 is what homescreen expects)."""
        params = [
            ("lat", repr(float(lat))),
            ("lng", repr(float(lng))),
            ("resolution", str(resolution)),
        ]
        response = await self._call(H3, params=params)
        return self._parse(H3CellResponse, response, H3)

    async def search(
        self, prompt: str, *, location: str | None = None, user: str | None = None
    ) -> SearchResponse:
        """``GET /search``: agentic search (30 s to 2 min; read timeout 150 s)."""
        params = [("prompt", prompt)]
        if location is not None:
            params.append(("location", location))
        response = await self._call(SEARCH, params=params, user=user)
        return self._parse(SearchResponse, response, SEARCH)

    async def get_activity(
        self, activity_id: str, *, user: str | None = None, language: str | None = None
    ) -> PartnerActivityDetail:
        """``GET /activities/{activity_id}`` (records a SEEN interaction for the user)."""
        response = await self._call(
            GET_ACTIVITY, path={"activity_id": activity_id}, user=user, language=language
        )
        return self._parse(PartnerActivityDetail, response, GET_ACTIVITY)

    async def get_prices(self, activity_id: str) -> PricesResponse:
        """``GET /activities/{activity_id}/prices``: on-demand scrape (5-15 s; read 45 s)."""
        response = await self._call(GET_PRICES, path={"activity_id": activity_id})
        return self._parse(PricesResponse, response, GET_PRICES)

    async def list_orders(
        self, *, user: str | None = None, language: str | None = None
    ) -> OrdersResponse:
        """``GET /orders``: bookings, deliverables and e-mails of the user."""
        response = await self._call(LIST_ORDERS, user=user, language=language)
        return self._parse(OrdersResponse, response, LIST_ORDERS)

    async def create_booking(
        self, request: CreateBookingRequest, *, user: str
    ) -> CreateBookingAcceptedResponse:
        """``POST /bookings`` → the 202 acceptance; the result arrives by webhook.

        Serialised once; retried (429/502/503/504, timeout, reset) only when the request has a
        non-blank ``idempotency_key``, always with that same key and a byte-identical body.
        A replayed key answers with the booking's *current* status (maybe ``failed``).
        """
        if user != request.external_user_id:
            raise ValueError("user does not match request.external_user_id")
        body = request.model_dump_json().encode()
        response = await self._call(
            CREATE_BOOKING, user=user, body=body, retry=bool(request.idempotency_key.strip())
        )
        return self._parse(CreateBookingAcceptedResponse, response, CREATE_BOOKING)

    async def bind_slack_workspace(self, bind_token: str) -> BindWorkspaceResponse:
        """``POST /slack/workspaces/bind``: bind the Slack workspace behind ``bind_token``."""
        body = BindWorkspaceRequest(bind_token=bind_token).model_dump_json().encode()
        response = await self._call(BIND_WORKSPACE, body=body)
        return self._parse(BindWorkspaceResponse, response, BIND_WORKSPACE)

    async def poll_aauth_interaction(self, state: str) -> bool:
        """``GET /aauth/interaction?state=…``: True once the user finished (200), False while
        still pending (202). ``state`` is :attr:`InteractionRequired.state`."""
        response = await self._call(POLL_INTERACTION, params=[("state", state)])
        return response.status_code == 200

    async def detect_key_kind(self) -> KeyKind:
        """Verify the key (``GET /auth``), then call ``GET /orders`` without
        ``X-External-User-Id``: 400 (header required) → negotiated, success → self-serve.
        Any other failure propagates."""
        await self.check_auth()
        try:
            await self._call(LIST_ORDERS, send_user=False)
        except BadRequest:
            return KeyKind.NEGOTIATED
        return KeyKind.SELF_SERVE

    # ------------------------------------------------------------------ transport

    def _user_header(self, endpoint: Endpoint, user: str | None) -> dict[str, str]:
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

    async def _call(
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
            headers.update(self._user_header(endpoint, user))
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
                redact=(self._api_key,),
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
            message = self._scrub(payload["error"])
        return InteractionRequired(
            message,
            partner=PARTNER,
            url=url,
            code=code,
            poll_url=str(response.url.join(location)),
        )

    def _parse(self, model: type[M], response: httpx.Response, endpoint: Endpoint) -> M:
        try:
            return model.model_validate_json(response.content)
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in err['loc']) or '<body>'}: {err['msg']}"
                for err in exc.errors(include_url=False, include_input=False)[:5]
            )
        raise self._invalid(endpoint, response, problems)

    def _json_object(self, response: httpx.Response, endpoint: Endpoint) -> dict[str, Any]:
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

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "[REDACTED]")


def _retryable(endpoint: Endpoint, exc: BaseException) -> bool:
    if not isinstance(exc, PartnerError) or not exc.retryable:
        return False
    # A search whose read timed out may still be running server-side and has already cost
    # quota: report it rather than start another two-minute search.
    read_timeout = isinstance(exc, PartnerTimeout) and exc.phase == "read"
    return not (read_timeout and not endpoint.retry_read_timeouts)


async def detect_key_kind(
    http: httpx.AsyncClient, *, api_key: str, base_url: str | None = None
) -> KeyKind:
    """Module-level form of :meth:`OutgoingClient.detect_key_kind`."""
    probe = OutgoingClient(http, api_key=api_key, key_kind=KeyKind.SELF_SERVE, base_url=base_url)
    return await probe.detect_key_kind()
