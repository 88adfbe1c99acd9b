"""The shared PartnerTransport against httpx.MockTransport, as a new partner would use it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from prometheus_client import CollectorRegistry

from integrations.auth import AccessToken, ApiKeyHeader, AuthHook, BearerToken, RefreshingToken
from integrations.breaker import CircuitBreaker, CircuitOpen
from integrations.error_bodies import (
    ErrorBody,
    ErrorReader,
    read_error_body,
    read_error_envelope,
    read_fastapi_detail,
)
from integrations.errors import (
    Conflict,
    NotFound,
    PartnerTimeout,
    PartnerUnavailable,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from integrations.metrics import PartnerMetrics
from integrations.retry import Retrier, RetryPolicy
from integrations.transport import PartnerTransport, Route

BASE = "https://partner.test"
KEY = "ogk_live_s3cr3tKEYvalue"
NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)

GET_JOB = Route("GET", "/api/v1/jobs/{job_id}")
CREATE_JOB = Route("POST", "/api/v1/jobs", key_header="Idempotency-Key")
SEARCH = Route("GET", "/api/v1/search", retry_read_timeouts=False)
ME = Route("GET", "/users/me")


@dataclass
class Server:
    """Scripted answers (or exceptions), consumed in order; then 200 ``{"ok": true}``."""

    script: list[httpx.Response | Exception] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            return step
        return httpx.Response(200, json={"ok": True})


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
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
        yield client


def transport(
    http: httpx.AsyncClient,
    sleeps: Sleeps,
    *,
    auth: AuthHook | None = None,
    read_error: ErrorReader | None = None,
    breaker: CircuitBreaker | None = None,
    attempts: int = 3,
    registry: CollectorRegistry | None = None,
) -> PartnerTransport:
    return PartnerTransport(
        http,
        partner="onegent",
        auth=auth or BearerToken(KEY),
        base_url=f"{BASE}/",
        read_error=read_error or read_error_body,
        retrier=Retrier(RetryPolicy(max_attempts=attempts), sleep=sleeps, random=lambda: 0.5),
        breaker=breaker,
        metrics=PartnerMetrics(registry or CollectorRegistry()),
        clock=lambda: NOW,
    )


def envelope(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": code, "message": message}}, headers=headers
    )


# --------------------------------------------------------------------------- auth hooks


async def test_bearer_and_api_key_hooks_set_their_header(
    http: httpx.AsyncClient, server: Server, sleeps: Sleeps
) -> None:
    await transport(http, sleeps).call(GET_JOB, path={"job_id": "j/1"})
    await transport(http, sleeps, auth=ApiKeyHeader("ca_key_123")).call(
        GET_JOB, path={"job_id": "2"}
    )
    bearer, api_key = server.requests
    assert bearer.headers["authorization"] == f"Bearer {KEY}"
    assert bearer.url.raw_path == b"/api/v1/jobs/j%2F1"
    assert bearer.headers["accept"] == "application/json"
    assert api_key.headers["x-api-key"] == "ca_key_123"
    assert "authorization" not in api_key.headers
    assert bearer.extensions["timeout"] == {
        "connect": 5.0,
        "read": 15.0,
        "write": 15.0,
        "pool": 5.0,
    }


@pytest.mark.parametrize("bad", ["", " ogk_x", "ogk_x\n", "ogk_\u00e9"])
def test_a_key_a_header_cannot_carry_is_refused_without_echo(bad: str) -> None:
    for hook in (BearerToken, ApiKeyHeader):
        with pytest.raises(ValueError) as caught:
            hook(bad)
        if bad:
            assert bad.strip() not in str(caught.value)
    assert KEY not in repr(BearerToken(KEY)) + repr(ApiKeyHeader(KEY))


async def test_refreshing_token_logs_in_once_and_again_after_a_401(
    http: httpx.AsyncClient, server: Server, sleeps: Sleeps
) -> None:
    logins: list[str] = []

    async def login() -> AccessToken:
        logins.append(f"token-{len(logins) + 1}")
        return AccessToken(logins[-1], expires_in_s=3600)

    voyagent = transport(http, sleeps, auth=RefreshingToken(login), read_error=read_fastapi_detail)
    await voyagent.call(ME)
    await voyagent.call(ME)
    server.script = [httpx.Response(401, json={"detail": "Could not validate credentials"})]
    await voyagent.call(ME)
    sent = [r.headers["authorization"] for r in server.requests]
    assert sent == ["Bearer token-1", "Bearer token-1", "Bearer token-1", "Bearer token-2"]
    assert logins == ["token-1", "token-2"]

    server.script = [httpx.Response(401, json={"detail": "Not authenticated"})] * 2
    with pytest.raises(Unauthorized) as caught:
        await voyagent.call(ME)  # renewed once, refused again: final
    assert caught.value.message == "Not authenticated"
    assert len(logins) == 3


async def test_refreshing_token_is_fetched_again_shortly_before_it_expires(
    http: httpx.AsyncClient, server: Server, sleeps: Sleeps
) -> None:
    now = [0.0]
    count = [0]

    async def login() -> AccessToken:
        count[0] += 1
        return AccessToken(f"t{count[0]}", expires_in_s=100)

    auth = RefreshingToken(login, margin_s=30, clock=lambda: now[0])
    client = transport(http, sleeps, auth=auth)
    await client.call(ME)
    now[0] = 69.0
    await client.call(ME)
    now[0] = 71.0
    await client.call(ME)
    assert [r.headers["authorization"] for r in server.requests] == [
        "Bearer t1",
        "Bearer t1",
        "Bearer t2",
    ]


# --------------------------------------------------------------------------- retries


async def test_retry_after_in_seconds_is_honoured(
    http: httpx.AsyncClient, server: Server, sleeps: Sleeps
) -> None:
    server.script = [envelope(429, "rate_limited", "Slow down", **{"Retry-After": "2"})]
    assert (await transport(http, sleeps).call(GET_JOB, path={"job_id": "1"})).status_code == 200
    assert sleeps.delays == [2.0]
    assert len(server.requests) == 2


async def test_retry_after_as_an_http_date_is_honoured(
    http: httpx.AsyncClient, server: Server, sleeps: Sleeps
) -> None:
    when = format_datetime(NOW + timedelta(seconds=7), usegmt=True)
    server.script = [envelope(503, "maintenance", "Back soon", **{"Retry-After": when})]
    await transport(http, sleeps).call(GET_JOB, path={"job_id": "1"})
    assert sleeps.delays == [7.0]


async def test_a_retry_after_beyond_the_cap_is_not_slept_through(
    http: httpx.AsyncClient, server: Server, sleeps: Sleeps
) -> None:
    server.script = [envelope(429, "rate_limited", "Tomorrow", **{"Retry-After": "3600"})]
    with pytest.raises(RateLimited) as caught:
        await transport(http, sleeps).call(GET_JOB, path={"job_id": "1"})
    assert caught.value.retry_after == 3600.0
    assert (len(server.requests), sleeps.delays) == (1, [])


async def test_three_attempts_at_most_with_full_jitter(
    http: httpx.AsyncClient, server: Server, sleeps: Sleeps
) -> None:
    server.script = [httpx.Response(502)] * 5
    with pytest.raises(ServerError):
        await transport(http, sleeps).call(GET_JOB, path={"job_id": "1"})
    assert len(server.requests) == 3
    assert sleeps.delays == [0.25, 0.5]  # random 0.5 x (0.5 s, 1 s)


def test_the_retry_policy_refuses_more_than_three_attempts() -> None:
    with pytest.raises(ValueError, match="between 1 and 3"):
        RetryPolicy(max_attempts=4)


async def test_non_retryable_statuses_are_final(
    http: httpx.AsyncClient, server: Server, sleeps: Sleeps
) -> None:
    server.script = [envelope(404, "job_not_found", "No such job")]
    with pytest.raises(NotFound):
        await transport(http, sleeps).call(GET_JOB, path={"job_id": "1"})
    assert len(server.requests) == 1


async def test_a_read_timeout_is_not_repeated_where_the_route_says_so(
    http: httpx.AsyncClient, server: Server, sleeps: Sleeps
) -> None:
    server.script = [httpx.ReadTimeout("slow")]
    with pytest.raises(PartnerTimeout) as caught:
        await transport(http, sleeps).call(SEARCH)
    assert caught.value.phase == "read"
    assert len(server.requests) == 1
    server.script = [httpx.ConnectTimeout("no route")]
    await transport(http, sleeps).call(SEARCH)  # a connect timeout never reached the partner
    assert len(server.requests) == 3


@pytest.mark.parametrize("key", [None, "", "   "])
async def test_a_post_without_idempotency_key_is_never_retried(
    http: httpx.AsyncClient, server: Server, sleeps: Sleeps, key: str | None
) -> None:
    server.script = [httpx.Response(503), httpx.ConnectError("reset")]
    with pytest.raises(ServiceUnavailable):
        await transport(http, sleeps).call(CREATE_JOB, body=b'{"x":1}', idempotency_key=key)
    assert len(server.requests) == 1
    assert "idempotency-key" not in server.requests[0].headers


async def test_a_keyed_post_is_retried_with_the_same_key_and_bytes(
    http: httpx.AsyncClient, server: Server, sleeps: Sleeps
) -> None:
    body = json.dumps({"idempotencyKey": "idem-7", "amount": {"cents": 4200}}).encode()
    server.script = [
        httpx.ReadError("connection reset"),
        envelope(503, "unavailable", "Try again"),
        httpx.Response(202, json={"jobId": "j1"}),
    ]
    response = await transport(http, sleeps).call(CREATE_JOB, body=body, idempotency_key="idem-7")
    assert response.status_code == 202
    assert len(server.requests) == 3
    assert {r.content for r in server.requests} == {body}
    assert {r.headers["idempotency-key"] for r in server.requests} == {"idem-7"}
    assert {r.headers["content-type"] for r in server.requests} == {"application/json"}


async def test_an_idempotent_post_route_is_retried_without_a_key(
    http: httpx.AsyncClient, server: Server, sleeps: Sleeps
) -> None:
    upsert = Route("POST", "/api/v1/users", idempotent=True)
    server.script = [httpx.Response(504)]
    await transport(http, sleeps).call(upsert, body=b"{}")
    assert len(server.requests) == 2


# --------------------------------------------------------------------------- breaker, metrics


async def test_the_breaker_opens_after_n_outages_and_then_nothing_is_sent(
    http: httpx.AsyncClient, server: Server, sleeps: Sleeps
) -> None:
    now = [0.0]
    breaker = CircuitBreaker("onegent", threshold=3, cooldown_s=30, clock=lambda: now[0])
    client = transport(http, sleeps, breaker=breaker, attempts=1)
    server.script = [httpx.Response(503), httpx.ConnectError("refused"), httpx.Response(503)]
    for expected in (ServiceUnavailable, PartnerUnavailable, ServiceUnavailable):
        with pytest.raises(expected):
            await client.call(GET_JOB, path={"job_id": "1"})
    assert breaker.is_open
    with pytest.raises(CircuitOpen):
        await client.call(GET_JOB, path={"job_id": "1"})
    assert len(server.requests) == 3
    now[0] = 31.0
    await client.call(GET_JOB, path={"job_id": "1"})  # the probe succeeds and closes it
    assert not breaker.is_open


async def test_a_4xx_is_an_answer_not_an_outage(
    http: httpx.AsyncClient, server: Server, sleeps: Sleeps
) -> None:
    breaker = CircuitBreaker("onegent", threshold=2)
    client = transport(http, sleeps, breaker=breaker)
    server.script = [envelope(404, "job_not_found", "No")] * 3
    for _ in range(3):
        with pytest.raises(NotFound):
            await client.call(GET_JOB, path={"job_id": "1"})
    assert not breaker.is_open


async def test_metrics_are_labelled_by_partner_and_route_template(
    http: httpx.AsyncClient, server: Server, sleeps: Sleeps
) -> None:
    registry = CollectorRegistry()
    server.script = [httpx.Response(502)]
    await transport(http, sleeps, registry=registry).call(GET_JOB, path={"job_id": "secret-id"})
    labels = {"partner": "onegent", "endpoint": "GET /api/v1/jobs/{job_id}"}
    errors = registry.get_sample_value(
        "concierge_partner_errors_total", {**labels, "status": "502"}
    )
    ok = registry.get_sample_value(
        "concierge_partner_request_seconds_count", {**labels, "status": "200"}
    )
    assert (errors, ok) == (1.0, 1.0)


# --------------------------------------------------------------------------- error readers


async def test_an_error_envelope_is_read_by_the_partners_reader(
    http: httpx.AsyncClient, server: Server, sleeps: Sleeps
) -> None:
    client = transport(http, sleeps, read_error=read_error_envelope, attempts=1)
    server.script = [envelope(500, "job_create_failed", "Could not create the job")]
    with pytest.raises(ServerError) as caught:
        await client.call(CREATE_JOB, body=b"{}", idempotency_key="k")
    assert (caught.value.status, caught.value.code) == (500, "job_create_failed")
    assert caught.value.message == "Could not create the job"
    server.script = [envelope(409, "idempotency_conflict", "Key reused with another body")]
    with pytest.raises(Conflict) as conflict:
        await client.call(CREATE_JOB, body=b"{}", idempotency_key="k")
    assert conflict.value.code == "idempotency_conflict"


async def test_a_fastapi_detail_list_is_read_by_the_partners_reader(
    http: httpx.AsyncClient, server: Server, sleeps: Sleeps
) -> None:
    detail = [{"loc": ["body", "email"], "msg": "field required", "type": "missing"}]
    server.script = [httpx.Response(422, json={"detail": detail})]
    with pytest.raises(ValidationFailed) as caught:
        await transport(http, sleeps, read_error=read_fastapi_detail).call(ME)
    assert caught.value.detail == detail
    assert caught.value.message == "body.email: field required"


async def test_any_function_can_be_the_reader(
    http: httpx.AsyncClient, server: Server, sleeps: Sleeps
) -> None:
    def reader(status: int, body: bytes) -> ErrorBody:
        return ErrorBody(f"odd partner said {body.decode()}", code=f"s{status}")

    server.script = [httpx.Response(404, content=b"nope")]
    with pytest.raises(NotFound) as caught:
        await transport(http, sleeps, read_error=reader).call(GET_JOB, path={"job_id": "1"})
    assert (caught.value.message, caught.value.code) == ("odd partner said nope", "s404")


async def test_credentials_never_reach_an_error(
    http: httpx.AsyncClient, server: Server, sleeps: Sleeps
) -> None:
    server.script = [envelope(401, "bad_key", f"Key Bearer {KEY} refused; {KEY} is revoked")]
    with pytest.raises(Unauthorized) as caught:
        await transport(http, sleeps, read_error=read_error_envelope).call(ME)
    assert KEY not in str(caught.value)
    assert "[REDACTED]" in caught.value.message
    server.script = [httpx.ConnectError(f"proxy refused X-API-Key ca_{KEY}")]
    with pytest.raises(PartnerUnavailable) as unreachable:
        await transport(http, sleeps, auth=ApiKeyHeader(f"ca_{KEY}"), attempts=1).call(ME)
    assert KEY not in str(unreachable.value)


def test_a_base_url_is_required(server: Server) -> None:
    bare = httpx.AsyncClient(transport=httpx.MockTransport(server))
    with pytest.raises(ValueError, match="base_url"):
        PartnerTransport(bare, partner="events", auth=BearerToken(KEY))
