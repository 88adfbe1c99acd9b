"""Async client of the Outgoing partner API (``/partner/v1``), over an injected httpx client.

The caller owns the ``httpx.AsyncClient`` (its lifetime, and usually its base URL); this class
never creates one. Per request it sets:

* ``Authorization: Bearer <key>``; ``X-External-User-Id`` only for *negotiated* keys (a
  self-serve key must never send it: the server answers 400), required where the spec
  requires it (a missing ``user`` raises ``ValueError`` before anything is sent);
* a per-endpoint ``httpx.Timeout`` with all four phases set (search reads for 150 s,
  price scrapes for 45 s, everything else 15 s; see ``endpoints.py``);
* retries, breaker and metrics through the shared :class:`integrations.transport.
  PartnerTransport` (429, 502/503/504, timeouts and connection failures, honouring
  ``Retry-After``). ``POST /bookings`` is retried only with its (non-blank) idempotency key,
  and every attempt sends the very same bytes. A search whose *read* timed out is not
  repeated (it may still be running and it costs quota);
* Outgoing's own error reader and AAuth check (``wire.py``).

Errors are the shared tree of ``integrations.errors``. The AAuth "interaction required"
``202`` is raised as :class:`~integrations.errors.InteractionRequired` -- an exception
rather than a union return type, so every method keeps one typed result and bearer-key
callers (who never see it) need no ``isinstance`` checks. The key and the external user id
are never logged and never put in an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from integrations.auth import BearerToken
from integrations.breaker import CircuitBreaker
from integrations.errors import BadRequest
from integrations.metrics import PartnerMetrics
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
from integrations.outgoing.wire import (
    PARTNER,
    USER_HEADER,
    KeyKind,
    check_aauth,
    parse_aauth_requirement,
    read_outgoing_error,
    user_header,
)
from integrations.retry import Retrier
from integrations.transport import PartnerTransport

__all__ = ["PARTNER", "KeyKind", "OutgoingClient", "parse_aauth_requirement"]


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
        breaker: CircuitBreaker | None = None,
    ) -> None:
        """``base_url`` is the server root (``https://api.outgoing.world``); when None the
        ``http`` client's own ``base_url`` is used. ``retrier``, ``metrics`` and ``clock``
        (the "now" for ``Retry-After`` dates) are injectable for tests; ``breaker`` is shared
        by every client of one partner deployment."""
        self._key_kind = KeyKind(key_kind)
        self._transport = PartnerTransport(
            http,
            partner=PARTNER,
            auth=BearerToken(api_key),
            base_url=base_url,
            read_error=read_outgoing_error,
            check=check_aauth,
            retrier=retrier,
            breaker=breaker,
            metrics=metrics,
            clock=clock,
            private_headers=(USER_HEADER,),
        )

    @property
    def key_kind(self) -> KeyKind:
        return self._key_kind

    def __repr__(self) -> str:
        return (
            f"OutgoingClient(key_kind={self.key_kind.value!r}, "
            f"base_url={self._transport.base_url!r})"
        )

    async def _call(
        self,
        endpoint: Endpoint,
        *,
        path: dict[str, str] | None = None,
        params: list[tuple[str, str]] | None = None,
        user: str | None = None,
        language: str | None = None,
        body: bytes | None = None,
        idempotency_key: str | None = None,
        send_user: bool = True,
    ) -> httpx.Response:
        """Outgoing's headers (external user, language), then the shared transport."""
        headers = user_header(self.key_kind, endpoint, user) if send_user else {}
        if language is not None:
            headers["Accept-Language"] = language
        return await self._transport.call(
            endpoint,
            path=path,
            params=params,
            headers=headers,
            body=body,
            idempotency_key=idempotency_key,
        )

    # ------------------------------------------------------------------ endpoints

    async def check_auth(self) -> dict[str, Any]:
        """``GET /auth``: ``{"ok": true}`` for an accepted key; 401 → ``Unauthorized``."""
        response = await self._call(AUTH)
        return self._transport.json_object(response, AUTH)

    async def provision_user(
        self, external_user_id: str, request: ProvisionUserRequest
    ) -> ProvisionUserResponse:
        """``POST /users`` (negotiated keys): create or update the user mapping. Idempotent.
        Only the fields set on ``request`` are sent."""
        if request.external_user_id != external_user_id:
            raise ValueError("external_user_id does not match request.external_user_id")
        body = request.model_dump_json(exclude_unset=True).encode()
        response = await self._call(PROVISION_USER, user=external_user_id, body=body)
        return self._transport.parse(ProvisionUserResponse, response, PROVISION_USER)

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
        return self._transport.parse(ShelvesResponse, response, HOMESCREEN)

    async def h3_cell(self, lat: float, lng: float, resolution: int = 7) -> H3CellResponse:
        """``GET /h3``: the H3 cell of a point (resolution 7 is what homescreen expects)."""
        params = [
            ("lat", repr(float(lat))),
            ("lng", repr(float(lng))),
            ("resolution", str(resolution)),
        ]
        response = await self._call(H3, params=params)
        return self._transport.parse(H3CellResponse, response, H3)

    async def search(
        self, prompt: str, *, location: str | None = None, user: str | None = None
    ) -> SearchResponse:
        """``GET /search``: agentic search (30 s to 2 min; read timeout 150 s)."""
        params = [("prompt", prompt)]
        if location is not None:
            params.append(("location", location))
        response = await self._call(SEARCH, params=params, user=user)
        return self._transport.parse(SearchResponse, response, SEARCH)

    async def get_activity(
        self, activity_id: str, *, user: str | None = None, language: str | None = None
    ) -> PartnerActivityDetail:
        """``GET /activities/{activity_id}`` (records a SEEN interaction for the user)."""
        response = await self._call(
            GET_ACTIVITY, path={"activity_id": activity_id}, user=user, language=language
        )
        return self._transport.parse(PartnerActivityDetail, response, GET_ACTIVITY)

    async def get_prices(self, activity_id: str) -> PricesResponse:
        """``GET /activities/{activity_id}/prices``: on-demand scrape (5-15 s; read 45 s)."""
        response = await self._call(GET_PRICES, path={"activity_id": activity_id})
        return self._transport.parse(PricesResponse, response, GET_PRICES)

    async def list_orders(
        self, *, user: str | None = None, language: str | None = None
    ) -> OrdersResponse:
        """``GET /orders``: bookings, deliverables and e-mails of the user."""
        response = await self._call(LIST_ORDERS, user=user, language=language)
        return self._transport.parse(OrdersResponse, response, LIST_ORDERS)

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
            CREATE_BOOKING, user=user, body=body, idempotency_key=request.idempotency_key
        )
        return self._transport.parse(CreateBookingAcceptedResponse, response, CREATE_BOOKING)

    async def bind_slack_workspace(self, bind_token: str) -> BindWorkspaceResponse:
        """``POST /slack/workspaces/bind``: bind the Slack workspace behind ``bind_token``."""
        body = BindWorkspaceRequest(bind_token=bind_token).model_dump_json().encode()
        response = await self._call(BIND_WORKSPACE, body=body)
        return self._transport.parse(BindWorkspaceResponse, response, BIND_WORKSPACE)

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
