"""OutgoingClient against httpx.MockTransport: status mapping, retries, headers, AAuth, timeouts."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from integrations.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InteractionRequired,
    NotFound,
    PartnerError,
    PartnerHTTPError,
    PartnerTimeout,
    PartnerUnavailable,
    PaymentRequired,
    RateLimited,
    ResponseInvalid,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from integrations.metrics import PartnerMetrics
from integrations.outgoing import KeyKind, OutgoingClient
from integrations.outgoing.models import (
    BookingFilter,
    BookingTicketItem,
    CreateBookingRequest,
    PaymentMode,
    ProvisionUserRequest,
)
from integrations.retry import Retrier

BASE = "https://outgoing.test"
KEY = "og_api_staging_s3cr3tKEYvalue"
USER = "cg_user_42"
ACTIVITY = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]

ACTIVITY_BODY = {"activity_id": ACTIVITY, "name": "Jazz night"}
OK_BODIES: dict[str, Any] = {
    "/partner/v1/auth": {"ok": True},
    "/partner/v1/users": {"external_user_id": USER, "created": True},
    "/partner/v1/homescreen": {"shelves": [], "h3_cell": "872a100deffffff", "city": "new-york"},
    "/partner/v1/h3": {"h3_cell": "872a100deffffff", "resolution": 7, "lat": 40.7, "lng": -74.0},
    "/partner/v1/search": {"message": "Found 1", "results": [{"name": "Jazz night"}]},
    f"/partner/v1/activities/{ACTIVITY}": ACTIVITY_BODY,
    f"/partner/v1/activities/{ACTIVITY}/prices": {
        "activity_id": ACTIVITY,
        "scrape_status": "success",
    },
    "/partner/v1/orders": {"bookings": [], "deliverables": [], "emails": []},
    "/partner/v1/bookings": {"booking_id": "bk_1", "idempotency_key": "idem-1"},
    "/partner/v1/slack/workspaces/bind": {"ok": True, "team_id": "T1", "bound": True},
    "/partner/v1/aauth/interaction": {},
}
OK_STATUS = {"/partner/v1/users": 201, "/partner/v1/bookings": 202}


@dataclass
class Server:
    """Scripted responses (consumed in order, the last one repeats) and recorded requests."""

    responses: list[httpx.Response] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    raise_first: list[Exception] = field(default_factory=list)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.raise_first:
            raise self.raise_first.pop(0)
        if self.responses:
            return self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        path = request.url.path
        return httpx.Response(OK_STATUS.get(path, 200), json=OK_BODIES[path])


@dataclass
class Sleeps:
    delays: list[float] = field(default_factory=list)

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(server), base_url=BASE) as client:
        yield client


def make_client(
    http: httpx.AsyncClient,
    sleeps: Sleeps,
    registry: CollectorRegistry,
    kind: KeyKind = KeyKind.NEGOTIATED,
) -> OutgoingClient:
    return OutgoingClient(
        http,
        api_key=KEY,
        key_kind=kind,
        retrier=Retrier(sleep=sleeps, random=lambda: 0.5),
        metrics=PartnerMetrics(registry),
        clock=lambda: NOW,
    )


@pytest.fixture
def client(http: httpx.AsyncClient, sleeps: Sleeps, registry: CollectorRegistry) -> OutgoingClient:
    return make_client(http, sleeps, registry)


@pytest.fixture
def self_serve(
    http: httpx.AsyncClient, sleeps: Sleeps, registry: CollectorRegistry
) -> OutgoingClient:
    return make_client(http, sleeps, registry, KeyKind.SELF_SERVE)


def booking(idempotency_key: str = "idem-1") -> CreateBookingRequest:
    return CreateBookingRequest(
        external_user_id=USER,
        activity_id=ACTIVITY,
        tickets=[BookingTicketItem(ticket_type_name="General Admission", num_tickets=2)],
        authorization_amount_cents=3000,
        idempotency_key=idempotency_key,
        webhook_url="https://bot.test/webhooks/outgoing/tok",
        payment_mode=PaymentMode.DRY_RUN_SUCCESS,
    )


def error(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


# --------------------------------------------------------------------------- status mapping


@pytest.mark.parametrize(
    ("status", "body", "exc_type", "message", "code"),
    [
        (400, {"error": "X-External-User-Id header is required."}, BadRequest, None, None),
        (401, {"error": "Invalid API key.", "code": "key_invalid"}, Unauthorized, None, None),
        (402, {"detail": "This API key is not authorized to charge the stored payment card."},
         PaymentRequired, "This API key is not authorized to charge the stored payment card.",
         None),
        (403, {"error": "Negotiated keys only."}, Forbidden, None, None),
        (404, {"error": "Activity not found."}, NotFound, None, None),
        (409, {"error": "Booking already failed."}, Conflict, None, None),
        (500, {"error": "Internal error."}, ServerError, None, None),
        (418, {"error": "I'm a teapot."}, PartnerHTTPError, None, None),
    ],
)  # fmt: skip
async def test_status_maps_to_exception_with_server_message(
    client: OutgoingClient,
    server: Server,
    sleeps: Sleeps,
    status: int,
    body: dict[str, str],
    exc_type: type[PartnerHTTPError],
    message: str | None,
    code: str | None,
) -> None:
    server.responses = [error(status, body)]
    with pytest.raises(exc_type) as caught:
        await client.get_activity(ACTIVITY, user=USER)
    exc = caught.value
    assert type(exc) is exc_type
    assert exc.status == status
    assert exc.partner == "outgoing"
    assert exc.message == (message or body["error"])
    assert not exc.retryable
    assert len(server.requests) == 1  # never retried
    assert sleeps.delays == []


@pytest.mark.parametrize("code", ["key_malformed", "key_invalid"])
async def test_401_keeps_machine_code(client: OutgoingClient, server: Server, code: str) -> None:
    text = "Malformed API key." if code == "key_malformed" else "Invalid API key."
    server.responses = [error(401, {"error": text, "code": code})]
    with pytest.raises(Unauthorized) as caught:
        await client.check_auth()
    assert (caught.value.code, caught.value.message) == (code, text)


async def test_422_keeps_detail_list(client: OutgoingClient, server: Server) -> None:
    detail = [{"loc": ["query", "lat"], "msg": "Input should be <= 90", "type": "less_than_equal"}]
    server.responses = [error(422, {"detail": detail})]
    with pytest.raises(ValidationFailed) as caught:
        await client.h3_cell(123.0, 0.0)
    assert caught.value.detail == detail
    assert caught.value.status == 422
    assert "Input should be <= 90" in caught.value.message
    assert len(server.requests) == 1


async def test_non_json_error_body_kept_as_text(client: OutgoingClient, server: Server) -> None:
    server.responses = [httpx.Response(404, text="no such route")]
    with pytest.raises(NotFound) as caught:
        await client.get_prices(ACTIVITY)
    assert caught.value.message == "no such route"


async def test_key_echoed_by_server_is_redacted(
    client: OutgoingClient, server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.responses = [
        error(401, {"error": f"Key {KEY} is unknown for {USER}.", "code": "key_invalid"})
    ]
    with pytest.raises(Unauthorized) as caught:
        await client.list_orders(user=USER)
    assert KEY not in str(caught.value)
    assert KEY not in repr(caught.value)
    assert caught.value.message == "Key [REDACTED] is unknown for [REDACTED]."
    assert KEY not in caplog.text
    assert USER not in caplog.text


# --------------------------------------------------------------------------- retries


async def test_429_retry_after_seconds_is_honoured(
    client: OutgoingClient, server: Server, sleeps: Sleeps
) -> None:
    server.responses = [
        error(429, {"error": "Rate limit exceeded (60/min)."}, {"Retry-After": "2"}),
        httpx.Response(200, json=OK_BODIES["/partner/v1/orders"]),
    ]
    orders = await client.list_orders(user=USER)
    assert orders.bookings == []
    assert sleeps.delays == [2.0]
    assert len(server.requests) == 2


async def test_429_retry_after_http_date_is_honoured(
    client: OutgoingClient, server: Server, sleeps: Sleeps
) -> None:
    when = format_datetime(NOW + timedelta(seconds=7), usegmt=True)
    server.responses = [
        error(429, {"error": "Slow down."}, {"Retry-After": when}),
        httpx.Response(200, json=OK_BODIES["/partner/v1/auth"]),
    ]
    assert await client.check_auth() == {"ok": True}
    assert sleeps.delays == [7.0]


async def test_429_exhausts_three_attempts_then_raises(
    client: OutgoingClient, server: Server, sleeps: Sleeps
) -> None:
    server.responses = [error(429, {"error": "Daily quota exhausted."}, {"Retry-After": "1"})]
    with pytest.raises(RateLimited) as caught:
        await client.search("jazz")
    assert caught.value.retry_after == 1.0
    assert caught.value.message == "Daily quota exhausted."
    assert len(server.requests) == 3
    assert sleeps.delays == [1.0, 1.0]


async def test_retry_after_beyond_cap_is_not_slept_through(
    client: OutgoingClient, server: Server, sleeps: Sleeps
) -> None:
    server.responses = [error(429, {"error": "Come back tomorrow."}, {"Retry-After": "3600"})]
    with pytest.raises(RateLimited) as caught:
        await client.check_auth()
    assert caught.value.retry_after == 3600.0
    assert len(server.requests) == 1
    assert sleeps.delays == []


async def test_503_is_retried_with_full_jitter_backoff(
    client: OutgoingClient, server: Server, sleeps: Sleeps
) -> None:
    server.responses = [error(503, {"error": "Maintenance."})]
    with pytest.raises(ServiceUnavailable) as caught:
        await client.h3_cell(40.7, -74.0)
    assert caught.value.retryable
    assert caught.value.retry_after is None
    assert len(server.requests) == 3
    # random() = 0.5 of min(30, 0.5 * 2**(n-1))
    assert sleeps.delays == [0.25, 0.5]


async def test_503_then_success(client: OutgoingClient, server: Server, sleeps: Sleeps) -> None:
    server.responses = [
        error(503, {"error": "Busy."}, {"Retry-After": "3"}),
        httpx.Response(200, json=OK_BODIES["/partner/v1/h3"]),
    ]
    cell = await client.h3_cell(40.7, -74.0)
    assert cell.h3_cell == "872a100deffffff"
    assert sleeps.delays == [3.0]


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"error": "bad"}),
        (402, {"detail": "no card"}),
        (404, {"error": "gone"}),
        (422, {"detail": []}),
    ],
)
async def test_final_statuses_are_never_retried_even_for_bookings(
    client: OutgoingClient, server: Server, sleeps: Sleeps, status: int, body: dict[str, Any]
) -> None:
    server.responses = [error(status, body)]
    with pytest.raises(PartnerHTTPError):
        await client.create_booking(booking(), user=USER)
    assert len(server.requests) == 1
    assert sleeps.delays == []


async def test_502_retried_but_500_is_not(
    client: OutgoingClient, server: Server, sleeps: Sleeps
) -> None:
    server.responses = [error(502, {"error": "Bad gateway."}), httpx.Response(200, json={"ok": 1})]
    await client.check_auth()
    assert len(server.requests) == 2
    server.requests.clear()
    server.responses = [error(500, {"error": "Bug."})]
    with pytest.raises(ServerError):
        await client.check_auth()
    assert len(server.requests) == 1


async def test_connection_error_is_retried_then_surfaces(
    client: OutgoingClient, server: Server, sleeps: Sleeps
) -> None:
    server.raise_first = [httpx.ConnectError("connection refused")] * 3
    with pytest.raises(PartnerUnavailable) as caught:
        await client.check_auth()
    assert caught.value.retryable
    assert "connection refused" in caught.value.message
    assert len(server.requests) == 3


async def test_read_timeout_retried_for_activity_but_not_for_search(
    client: OutgoingClient, server: Server, sleeps: Sleeps
) -> None:
    server.raise_first = [httpx.ReadTimeout("slow")]
    detail = await client.get_activity(ACTIVITY, user=USER)
    assert detail.name == "Jazz night"
    assert len(server.requests) == 2

    server.requests.clear()
    server.raise_first = [httpx.ReadTimeout("slow")]
    with pytest.raises(PartnerTimeout) as caught:
        await client.search("jazz")
    assert caught.value.phase == "read"
    assert len(server.requests) == 1  # a timed-out search may still run and costs quota

    server.requests.clear()
    server.raise_first = [httpx.ConnectTimeout("no route")]
    assert (await client.search("jazz")).message == "Found 1"
    assert len(server.requests) == 2


# --------------------------------------------------------------------------- bookings


async def test_booking_202_is_accepted_response(client: OutgoingClient, server: Server) -> None:
    accepted = await client.create_booking(booking(), user=USER)
    assert (accepted.booking_id, accepted.idempotency_key, accepted.status) == (
        "bk_1",
        "idem-1",
        "accepted",
    )
    request = server.requests[0]
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-external-user-id"] == USER
    sent = json.loads(request.content)
    assert sent["idempotency_key"] == "idem-1"
    assert sent["authorization_amount_cents"] == 3000
    assert sent["tickets"] == [
        {
            "ticket_type_name": "General Admission",
            "num_tickets": 2,
            "session_date": None,
            "session_time": None,
        }
    ]


async def test_booking_503_retried_with_same_key_and_identical_bytes(
    client: OutgoingClient, server: Server, sleeps: Sleeps
) -> None:
    server.responses = [
        error(503, {"error": "Busy."}, {"Retry-After": "2"}),
        error(429, {"error": "Slow."}, {"Retry-After": "1"}),
        httpx.Response(202, json={"booking_id": "bk_9", "idempotency_key": "idem-1"}),
    ]
    accepted = await client.create_booking(booking(), user=USER)
    assert accepted.booking_id == "bk_9"
    assert len(server.requests) == 3
    bodies = {request.content for request in server.requests}
    assert len(bodies) == 1
    assert json.loads(bodies.pop())["idempotency_key"] == "idem-1"
    assert sleeps.delays == [2.0, 1.0]


async def test_booking_reset_after_send_is_replayed_with_same_bytes(
    client: OutgoingClient, server: Server
) -> None:
    server.raise_first = [httpx.ReadTimeout("lost"), httpx.RemoteProtocolError("reset")]
    accepted = await client.create_booking(booking(), user=USER)
    assert accepted.booking_id == "bk_1"
    assert len(server.requests) == 3
    assert len({request.content for request in server.requests}) == 1


async def test_booking_without_usable_idempotency_key_is_never_retried(
    client: OutgoingClient, server: Server, sleeps: Sleeps
) -> None:
    server.responses = [error(503, {"error": "Busy."})]
    with pytest.raises(ServiceUnavailable):
        await client.create_booking(booking(idempotency_key="  "), user=USER)
    assert len(server.requests) == 1
    assert sleeps.delays == []


async def test_booking_user_must_match_body(client: OutgoingClient, server: Server) -> None:
    with pytest.raises(ValueError, match="external_user_id"):
        await client.create_booking(booking(), user="someone-else")
    assert server.requests == []


# --------------------------------------------------------------------------- user header


async def test_negotiated_key_sends_bearer_and_user_header(
    client: OutgoingClient, server: Server
) -> None:
    await client.get_activity(ACTIVITY, user=USER, language="fr")
    request = server.requests[0]
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["x-external-user-id"] == USER
    assert request.headers["accept-language"] == "fr"
    assert request.url.path == f"/partner/v1/activities/{ACTIVITY}"


async def test_self_serve_key_never_sends_user_header(
    self_serve: OutgoingClient, server: Server
) -> None:
    await self_serve.get_activity(ACTIVITY, user=USER)
    await self_serve.list_orders(user=USER)
    await self_serve.list_orders()
    await self_serve.search("jazz", user=USER)
    await self_serve.homescreen("872a100deffffff", user=USER)
    await self_serve.create_booking(booking(), user=USER)
    await self_serve.provision_user(USER, ProvisionUserRequest(external_user_id=USER))
    assert len(server.requests) == 7
    for request in server.requests:
        assert "x-external-user-id" not in request.headers
        assert request.headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("call", ["get_activity", "list_orders"])
async def test_negotiated_key_without_required_user_fails_before_sending(
    client: OutgoingClient, server: Server, call: str
) -> None:
    with pytest.raises(ValueError, match="external user id"):
        if call == "get_activity":
            await client.get_activity(ACTIVITY)
        else:
            await client.list_orders()
    assert server.requests == []


async def test_negotiated_key_optional_user_endpoints(
    client: OutgoingClient, server: Server
) -> None:
    await client.search("jazz")
    await client.homescreen("872a100deffffff")
    await client.search("jazz", user=USER)
    assert "x-external-user-id" not in server.requests[0].headers
    assert "x-external-user-id" not in server.requests[1].headers
    assert server.requests[2].headers["x-external-user-id"] == USER


async def test_endpoints_without_user_header(client: OutgoingClient, server: Server) -> None:
    await client.check_auth()
    await client.h3_cell(40.7, -74.0)
    await client.get_prices(ACTIVITY)
    await client.bind_slack_workspace("bind-tok")
    await client.poll_aauth_interaction("st")
    assert all("x-external-user-id" not in r.headers for r in server.requests)


async def test_unsafe_user_id_is_refused(client: OutgoingClient, server: Server) -> None:
    with pytest.raises(ValueError):
        await client.list_orders(user="bad\r\nX-Injected: 1")
    with pytest.raises(ValueError):
        await client.list_orders(user="")
    assert server.requests == []


# --------------------------------------------------------------------------- AAuth 202

AAUTH_HEADERS = {
    "AAuth-Requirement": (
        'requirement=interaction; url="https://outgoing.world/aauth/upgrade"; code="WXYZ-1234"'
    ),
    "Location": "/partner/v1/aauth/interaction?state=st_abc",
}


async def test_aauth_202_raises_interaction_required(
    client: OutgoingClient, server: Server, sleeps: Sleeps
) -> None:
    server.responses = [
        httpx.Response(202, json={"error": "Free trial exhausted."}, headers=AAUTH_HEADERS)
    ]
    with pytest.raises(InteractionRequired) as caught:
        await client.search("jazz")
    exc = caught.value
    assert exc.url == "https://outgoing.world/aauth/upgrade"
    assert exc.code == "WXYZ-1234"
    assert exc.poll_url == f"{BASE}/partner/v1/aauth/interaction?state=st_abc"
    assert exc.state == "st_abc"
    assert exc.browser_url == "https://outgoing.world/aauth/upgrade?code=WXYZ-1234"
    assert exc.message == "Free trial exhausted."
    assert not exc.retryable
    assert len(server.requests) == 1
    assert sleeps.delays == []


async def test_aauth_poll_pending_then_done(client: OutgoingClient, server: Server) -> None:
    server.responses = [
        httpx.Response(202, json={"error": "pending"}, headers=AAUTH_HEADERS),
        httpx.Response(200, json={"ok": True}),
    ]
    assert await client.poll_aauth_interaction("st_abc") is False
    assert await client.poll_aauth_interaction("st_abc") is True
    assert server.requests[0].url.params["state"] == "st_abc"


async def test_aauth_202_without_location_is_invalid(
    client: OutgoingClient, server: Server
) -> None:
    headers = {"AAuth-Requirement": AAUTH_HEADERS["AAuth-Requirement"]}
    server.responses = [httpx.Response(202, json={"error": "x"}, headers=headers)]
    with pytest.raises(ResponseInvalid):
        await client.check_auth()


# --------------------------------------------------------------------------- bodies


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, json={"message": 3}),
        httpx.Response(200, json={"results": []}),
        httpx.Response(200, text="<html>oops</html>"),
        httpx.Response(200, json=[1, 2]),
    ],
)
async def test_malformed_2xx_is_response_invalid(
    client: OutgoingClient, server: Server, registry: CollectorRegistry, response: httpx.Response
) -> None:
    server.responses = [response]
    with pytest.raises(ResponseInvalid) as caught:
        await client.search("jazz")
    assert caught.value.status == 200
    assert caught.value.endpoint == "GET /partner/v1/search"
    assert not caught.value.retryable
    labels = {
        "partner": "outgoing",
        "endpoint": "GET /partner/v1/search",
        "status": "invalid_response",
    }
    assert registry.get_sample_value("concierge_partner_errors_total", labels) == 1.0


async def test_check_auth_requires_json_object(client: OutgoingClient, server: Server) -> None:
    server.responses = [httpx.Response(200, json="ok")]
    with pytest.raises(ResponseInvalid):
        await client.check_auth()


async def test_extra_response_fields_are_ignored(client: OutgoingClient, server: Server) -> None:
    server.responses = [httpx.Response(200, json={**ACTIVITY_BODY, "brand_new_field": [1]})]
    detail = await client.get_activity(ACTIVITY, user=USER)
    assert detail.activity_id == ACTIVITY
    assert detail.is_bookable is False
    assert detail.highlights == []


# --------------------------------------------------------------------------- requests


async def test_homescreen_query(client: OutgoingClient, server: Server) -> None:
    await client.homescreen(
        "872a100deffffff",
        usual_plans=["date-nights", "fun-with-kids"],
        shelved=True,
        booking_filter=BookingFilter.BOOKABLE,
        limit=20,
        user=USER,
        language="es",
    )
    request = server.requests[0]
    params = request.url.params
    assert params["h3_cell"] == "872a100deffffff"
    assert params.get_list("usual_plans") == ["date-nights", "fun-with-kids"]
    assert params["shelved"] == "true"
    assert params["booking_filter"] == "bookable"
    assert params["limit"] == "20"
    assert request.headers["accept-language"] == "es"


async def test_search_h3_and_path_quoting(client: OutgoingClient, server: Server) -> None:
    await client.search("jazz & blues", location="Paris")
    await client.h3_cell(40.7128, -74.006, resolution=9)
    assert server.requests[0].url.params["prompt"] == "jazz & blues"
    assert server.requests[0].url.params["location"] == "Paris"
    assert dict(server.requests[1].url.params) == {
        "lat": "40.7128",
        "lng": "-74.006",
        "resolution": "9",
    }
    server.responses = [error(404, {"error": "Not found."})]
    with pytest.raises(NotFound):
        await client.get_prices("../orders")
    assert server.requests[2].url.raw_path == b"/partner/v1/activities/..%2Forders/prices"


async def test_provision_user_sends_only_set_fields(client: OutgoingClient, server: Server) -> None:
    request = ProvisionUserRequest(external_user_id=USER, display_name="Ada")
    created = await client.provision_user(USER, request)
    assert created.created is True
    assert created.updated is True  # spec default
    sent = server.requests[0]
    assert json.loads(sent.content) == {"external_user_id": USER, "display_name": "Ada"}
    assert sent.headers["x-external-user-id"] == USER
    with pytest.raises(ValueError):
        await client.provision_user("other", request)


async def test_bind_workspace(client: OutgoingClient, server: Server) -> None:
    bound = await client.bind_slack_workspace("tok_123")
    assert (bound.ok, bound.team_id, bound.bound) == (True, "T1", True)
    assert json.loads(server.requests[0].content) == {"bind_token": "tok_123"}


# --------------------------------------------------------------------------- timeouts


def _calls(client: OutgoingClient) -> dict[str, Callable[[], Awaitable[object]]]:
    return {
        "/partner/v1/auth": client.check_auth,
        "/partner/v1/users": lambda: client.provision_user(
            USER, ProvisionUserRequest(external_user_id=USER)
        ),
        "/partner/v1/homescreen": lambda: client.homescreen("872a100deffffff"),
        "/partner/v1/h3": lambda: client.h3_cell(1.0, 2.0),
        "/partner/v1/search": lambda: client.search("jazz"),
        f"/partner/v1/activities/{ACTIVITY}": lambda: client.get_activity(ACTIVITY, user=USER),
        f"/partner/v1/activities/{ACTIVITY}/prices": lambda: client.get_prices(ACTIVITY),
        "/partner/v1/orders": lambda: client.list_orders(user=USER),
        "/partner/v1/bookings": lambda: client.create_booking(booking(), user=USER),
        "/partner/v1/slack/workspaces/bind": lambda: client.bind_slack_workspace("t"),
        "/partner/v1/aauth/interaction": lambda: client.poll_aauth_interaction("s"),
    }


async def test_every_endpoint_has_its_own_four_part_timeout(
    client: OutgoingClient, server: Server
) -> None:
    for call in _calls(client).values():
        await call()
    assert len(server.requests) == 11
    reads = {}
    for request in server.requests:
        timeout = request.extensions["timeout"]
        assert set(timeout) == {"connect", "read", "write", "pool"}
        assert all(isinstance(value, float) and value > 0 for value in timeout.values())
        reads[request.url.path] = timeout["read"]
    assert reads.pop("/partner/v1/search") == 150.0
    assert reads.pop(f"/partner/v1/activities/{ACTIVITY}/prices") == 45.0
    assert set(reads.values()) == {15.0}


# --------------------------------------------------------------------------- metrics


async def test_metrics_use_route_template_and_status(
    client: OutgoingClient, server: Server, registry: CollectorRegistry
) -> None:
    server.responses = [error(404, {"error": "Not found."})]
    with pytest.raises(NotFound):
        await client.get_activity(ACTIVITY, user=USER)
    server.responses = [httpx.Response(200, json=ACTIVITY_BODY)]
    await client.get_activity(ACTIVITY, user=USER)
    endpoint = "GET /partner/v1/activities/{activity_id}"

    def sample(name: str, status: str) -> float | None:
        labels = {"partner": "outgoing", "endpoint": endpoint, "status": status}
        return registry.get_sample_value(name, labels)

    assert sample("concierge_partner_errors_total", "404") == 1.0
    assert sample("concierge_partner_request_seconds_count", "404") == 1.0
    assert sample("concierge_partner_request_seconds_count", "200") == 1.0
    assert sample("concierge_partner_errors_total", "200") is None


async def test_metrics_count_timeouts(
    client: OutgoingClient, server: Server, registry: CollectorRegistry
) -> None:
    server.raise_first = [httpx.ReadTimeout("slow")]
    with pytest.raises(PartnerTimeout):
        await client.search("jazz")
    labels = {"partner": "outgoing", "endpoint": "GET /partner/v1/search", "status": "timeout"}
    assert registry.get_sample_value("concierge_partner_errors_total", labels) == 1.0


# --------------------------------------------------------------------------- key kind


async def test_detect_negotiated_key(client: OutgoingClient, server: Server) -> None:
    server.responses = [
        httpx.Response(200, json={"ok": True}),
        error(400, {"error": "X-External-User-Id header is required."}),
    ]
    assert await client.detect_key_kind() is KeyKind.NEGOTIATED
    assert [r.url.path for r in server.requests] == ["/partner/v1/auth", "/partner/v1/orders"]
    assert all("x-external-user-id" not in r.headers for r in server.requests)


async def test_detect_self_serve_key(http: httpx.AsyncClient, server: Server) -> None:
    probe = OutgoingClient(http, api_key=KEY, key_kind=KeyKind.SELF_SERVE)
    assert await probe.detect_key_kind() is KeyKind.SELF_SERVE
    assert len(server.requests) == 2


async def test_detect_refused_key_raises(client: OutgoingClient, server: Server) -> None:
    server.responses = [error(401, {"error": "Invalid API key.", "code": "key_invalid"})]
    with pytest.raises(Unauthorized):
        await client.detect_key_kind()
    assert len(server.requests) == 1


# --------------------------------------------------------------------------- construction


async def test_base_url_argument_and_injected_client_lifetime(server: Server) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as bare:
        with pytest.raises(ValueError, match="base_url"):
            OutgoingClient(bare, api_key=KEY, key_kind=KeyKind.SELF_SERVE)
        client = OutgoingClient(
            bare, api_key=KEY, key_kind=KeyKind.SELF_SERVE, base_url="http://127.0.0.1:9/"
        )
        await client.check_auth()
        assert str(server.requests[0].url) == "http://127.0.0.1:9/partner/v1/auth"
        assert not bare.is_closed  # the client never closes what it was given


@pytest.mark.parametrize("bad", ["", " og_api_x", "og_api_x\n", "og_api_\u00e9"])
def test_bad_key_refused_without_echo(http: httpx.AsyncClient, bad: str) -> None:
    with pytest.raises(ValueError) as caught:
        OutgoingClient(http, api_key=bad, key_kind=KeyKind.NEGOTIATED)
    if bad:
        assert bad.strip() not in str(caught.value)
    assert KEY not in repr(OutgoingClient(http, api_key=KEY, key_kind=KeyKind.NEGOTIATED))


def test_every_error_is_a_partner_error() -> None:
    for cls in (
        BadRequest,
        Unauthorized,
        PaymentRequired,
        Forbidden,
        NotFound,
        Conflict,
        ValidationFailed,
        RateLimited,
        ServerError,
        ServiceUnavailable,
        PartnerUnavailable,
        PartnerTimeout,
        ResponseInvalid,
        InteractionRequired,
    ):
        assert issubclass(cls, PartnerError)
