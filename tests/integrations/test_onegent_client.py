"""OnegentClient against httpx.MockTransport: key format, request shapes, status → error mapping,
what is (not) retried, tolerant parsing; and the request models' client-side validation."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pydantic
import pytest
from prometheus_client import CollectorRegistry

from integrations.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    PartnerTimeout,
    PartnerUnavailable,
    ResponseInvalid,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from integrations.metrics import PartnerMetrics
from integrations.onegent import (
    ActivityParams,
    ClientMetadata,
    Consent,
    ExecutionJobRequest,
    FlightParams,
    HotelParams,
    InvalidRequest,
    JobCreateFailed,
    JobStatus,
    MalformedKey,
    OnegentClient,
    Profile,
    RestaurantParams,
    Scenario,
    ScenarioRequest,
    check_key,
)
from integrations.retry import Retrier

BASE = "https://onegent.test/api/v1"
KEY = "ogk_live_S3cr3tKeyValue_0123456789"
JOB_ID = "7c6a9f8b-3d2e-4e1a-8b5c-0f1e2d3c4b5a"
EMAIL = "alex.private@example.com"
CREATED = {
    "jobId": JOB_ID,
    "status": "pending",
    "scenario": "restaurant",
    "organizationName": "Acme Travel",
    "_links": {
        "self": f"/api/v1/execution-jobs/{JOB_ID}",
        "audit": f"/api/v1/execution-jobs/{JOB_ID}/audit",
    },
}
JOB = {
    "jobId": JOB_ID,
    "status": "paused_payment",
    "handoffUrl": "https://www.opentable.com/booking/details?x=1",
    "sessionUrl": None,
    "summary": "Paused at payment gate for Le Bernardin",
    "decisionLog": [
        {
            "timestamp": "2026-04-24T14:02:11Z",
            "type": "time_adjusted",
            "message": "No slot at 19:00, switching to 19:30",
            "fromTime": "19:00",
            "toTime": "19:30",
            "confidence": 0.9,
        }
    ],
    "attemptCount": 1,
    "usedFallback": False,
    "createdAt": "2026-04-24T14:01:02Z",
    "updatedAt": "2026-04-24T14:02:30Z",
    "completedAt": "2026-04-24T14:02:30Z",
}
RESTAURANT = {
    "restaurant_name": "Le Bernardin",
    "city": "New York",
    "date": "2026-05-01",
    "time": "19:00",
    "covers": 2,
}
HOTEL = {
    "hotel_name": "The Plaza",
    "city": "New York",
    "checkin": "2026-05-01",
    "checkout": "2026-05-03",
    "adults": 2,
}
FLIGHT = {"origin": "JFK", "dest": "LAX", "date": "2026-05-01", "passengers": 1}
ACTIVITY = {"event_name": "Hamilton", "city": "NYC", "event_date": "2026-05-01", "num_tickets": 2}
PROFILE = {"first_name": "Alex", "last_name": "Traveler", "email": EMAIL, "phone": "+15551234567"}
TRAVELLER = {**PROFILE, "dob": "1990-01-31", "passport_number": "X123", "passport_country": "US"}


@dataclass
class Server:
    """Scripted responses (consumed in order, the last one repeats) and recorded requests."""

    responses: list[httpx.Response | Exception] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(reply, Exception):
            raise reply
        return reply

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


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


@pytest.fixture
def client(http: httpx.AsyncClient, sleeps: Sleeps) -> OnegentClient:
    return OnegentClient(
        http,
        api_key=KEY,
        base_url=BASE,
        retrier=Retrier(sleep=sleeps, random=lambda: 0.5),
        metrics=PartnerMetrics(CollectorRegistry()),
    )


def reply(status: int, body: Any = None) -> httpx.Response:
    return httpx.Response(status, json=body)


def fail(status: int, code: str, message: str = "nope", **extra: Any) -> httpx.Response:
    return reply(status, {"error": {"code": code, "message": message, **extra}})


def job_request(key: str | None = "idem-1", **overrides: Any) -> ExecutionJobRequest:
    data: dict[str, Any] = {
        "request": {"scenario": "restaurant", "params": RESTAURANT},
        "profile": PROFILE,
        "consent": {"maxRetries": 2, "blockedProviders": ["resy-com"]},
    }
    if key is not None:
        data["clientMetadata"] = {"agentId": "concierge", "idempotencyKey": key}
    return ExecutionJobRequest.model_validate({**data, **overrides})


# --------------------------------------------------------------------------- the key


@pytest.mark.parametrize(
    "key",
    ["ogk_live_abcdefghijklmnop", "ogk_test_ABC-def_0123456789", "ogk_test_sandbox_concierge_0001"],
)
def test_check_key_accepts_the_documented_shape(key: str) -> None:
    check_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "ogk_live_short",
        "ogk_prod_abcdefghijklmnop",
        "og_api_abcdefghijklmnop",
        "ogk_live_abcdefghijklmnop\n",
        "ogk_live_abcdefgh ijklmnop",
        "ogk_live_abcdefghijklmno+",
    ],
)
async def test_a_malformed_key_is_refused_before_any_request(key: str, server: Server) -> None:
    with pytest.raises(MalformedKey) as caught:
        check_key(key)
    assert isinstance(caught.value, ValueError)
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as http:
        with pytest.raises(MalformedKey) as raised:
            OnegentClient(http, api_key=key, base_url=BASE)
    assert not server.requests
    if key:
        assert key.strip() not in str(raised.value)


def test_the_client_repr_shows_no_key(client: OnegentClient) -> None:
    assert KEY not in repr(client) and BASE in repr(client)


# --------------------------------------------------------------------------- requests


async def test_create_job_sends_the_spec_body(client: OnegentClient, server: Server) -> None:
    server.responses = [reply(202, CREATED)]
    created = await client.create_job(job_request())
    assert created.job_id == JOB_ID and created.job_status is JobStatus.PENDING
    assert created.organization_name == "Acme Travel"
    assert created.links is not None
    assert created.links.audit == f"/api/v1/execution-jobs/{JOB_ID}/audit"
    sent = server.requests[0]
    assert sent.method == "POST" and str(sent.url) == f"{BASE}/execution-jobs"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["content-type"] == "application/json"
    assert server.body() == {
        "request": {"scenario": "restaurant", "params": RESTAURANT},
        "profile": PROFILE,
        "consent": {
            "allowTimeAdjustment": True,
            "maxTimeAdjustmentMinutes": 90,
            "allowVenueSwitch": True,
            "maxRetries": 2,
            "paymentPolicy": "stop_before_cvc",
            "blockedProviders": ["resy-com"],
            "maxJobDurationSeconds": 420,
        },
        "clientMetadata": {"agentId": "concierge", "idempotencyKey": "idem-1"},
    }


async def test_flight_params_keep_the_spec_camel_case(
    client: OnegentClient, server: Server
) -> None:
    server.responses = [reply(202, {**CREATED, "scenario": "flight"})]
    params = FlightParams(
        origin="JFK",
        dest="LAX",
        date="2026-05-01",
        passengers=1,
        target_airline="DL",
        targetPrice=420.0,
        target_departure_time="08:30",
        return_date="2026-05-08",
        cabin_class="economy",
    )
    request = ExecutionJobRequest(
        request=ScenarioRequest.of(params),
        profileId=42,
        client_metadata=ClientMetadata(idempotencyKey="f-1"),
    )
    await client.create_job(request)
    assert server.body() == {
        "request": {
            "scenario": "flight",
            "params": {
                **FLIGHT,
                "return_date": "2026-05-08",
                "cabin_class": "economy",
                "targetAirline": "DL",
                "targetPrice": 420.0,
                "targetDepartureTime": "08:30",
            },
        },
        "profileId": 42,
        "clientMetadata": {"idempotencyKey": "f-1"},
    }


async def test_get_audit_and_metrics_paths_and_queries(
    client: OnegentClient, server: Server
) -> None:
    audit = {"jobId": JOB_ID, "count": 0, "events": []}
    metrics = {
        "providerId": "opentable-com",
        "successRate": 0.87,
        "totalAttempts": 142,
        "acceptedCount": 124,
        "manualOverrideCount": 12,
        "failedCount": 6,
        "lastEventAt": "2026-04-23T22:14:03Z",
        "timeRangeDays": 7,
    }
    server.responses = [reply(200, JOB), reply(200, audit), reply(200, audit), reply(200, metrics)]
    await client.get_job("a/b")
    await client.audit(JOB_ID)
    await client.audit(JOB_ID, limit=5000)
    result = await client.provider_metrics("opentable-com", time_range_days=7)
    urls = [str(r.url) for r in server.requests]
    assert urls == [
        f"{BASE}/execution-jobs/a%2Fb",
        f"{BASE}/execution-jobs/{JOB_ID}/audit?limit=500",
        f"{BASE}/execution-jobs/{JOB_ID}/audit?limit=5000",  # the partner clamps, not us
        f"{BASE}/metrics/providers/opentable-com?timeRangeDays=7",
    ]
    assert result.is_evidence() and result.success_rate == 0.87


@pytest.mark.parametrize("blank", ["", "  "])
async def test_blank_ids_are_refused_locally(
    client: OnegentClient, server: Server, blank: str
) -> None:
    with pytest.raises(ValueError, match="job_id"):
        await client.get_job(blank)
    with pytest.raises(ValueError, match="job_id"):
        await client.audit(blank)
    with pytest.raises(ValueError, match="provider_id"):
        await client.provider_metrics(blank)
    assert not server.requests


# --------------------------------------------------------------------------- retries


async def test_job_create_failed_is_retried_with_the_same_key_and_bytes(
    client: OnegentClient, server: Server, sleeps: Sleeps
) -> None:
    server.responses = [
        fail(500, "job_create_failed", "DB insert failed"),
        fail(500, "job_create_failed", "DB insert failed"),
        reply(202, CREATED),
    ]
    created = await client.create_job(job_request("same-key"))
    assert created.job_id == JOB_ID
    assert len(server.requests) == 3
    assert len({r.content for r in server.requests}) == 1
    assert server.body()["clientMetadata"]["idempotencyKey"] == "same-key"
    assert len(sleeps.delays) == 2


async def test_job_create_failed_gives_up_after_three_attempts(
    client: OnegentClient, server: Server
) -> None:
    server.responses = [fail(500, "job_create_failed", "DB insert failed")]
    with pytest.raises(JobCreateFailed) as caught:
        await client.create_job(job_request())
    assert isinstance(caught.value, ServerError) and caught.value.retryable
    assert caught.value.code == "job_create_failed" and caught.value.status == 500
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    "failure",
    [
        fail(500, "job_create_failed"),
        fail(503, "auth_backend_unavailable"),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
    ],
    ids=["500", "503", "read-timeout", "connect"],
)
async def test_a_create_without_key_is_sent_once(
    client: OnegentClient, server: Server, failure: httpx.Response | Exception
) -> None:
    server.responses = [failure, reply(202, CREATED)]
    with pytest.raises((ServerError, PartnerUnavailable, PartnerTimeout)):
        await client.create_job(job_request(key=None))
    assert len(server.requests) == 1


async def test_a_keyed_create_is_retried_after_transient_failures(
    client: OnegentClient, server: Server
) -> None:
    server.responses = [httpx.ConnectError("refused"), fail(503, "x"), reply(202, CREATED)]
    assert (await client.create_job(job_request())).job_id == JOB_ID
    assert len(server.requests) == 3


async def test_other_500s_are_not_retried_even_with_a_key(
    client: OnegentClient, server: Server
) -> None:
    server.responses = [fail(500, "internal_error"), reply(202, CREATED)]
    with pytest.raises(ServerError) as caught:
        await client.create_job(job_request())
    assert not isinstance(caught.value, JobCreateFailed)
    assert len(server.requests) == 1


async def test_get_job_500_job_create_failed_is_not_special(
    client: OnegentClient, server: Server
) -> None:
    """Only the create route widens the retry predicate."""
    server.responses = [fail(500, "job_create_failed"), reply(200, JOB)]
    with pytest.raises(JobCreateFailed):
        await client.get_job(JOB_ID)
    assert len(server.requests) == 1


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "code",
    [
        "missing_authorization",
        "invalid_auth_scheme",
        "empty_api_key",
        "malformed_api_key",
        "invalid_api_key",
    ],
)
async def test_401_codes(client: OnegentClient, server: Server, code: str) -> None:
    server.responses = [fail(401, code, f"refused {KEY}")]
    with pytest.raises(Unauthorized) as caught:
        await client.get_job(JOB_ID)
    assert caught.value.code == code and caught.value.status == 401
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)
    assert len(server.requests) == 1


async def test_invalid_request_keeps_the_details(client: OnegentClient, server: Server) -> None:
    details = [
        {"code": "invalid_type", "path": ["request", "params", "city"], "message": "Required"},
        {"code": "custom", "path": [], "message": f"echo {KEY}"},
    ]
    server.responses = [fail(400, "invalid_request", "Invalid body", details=details)]
    with pytest.raises(InvalidRequest) as caught:
        await client.create_job(job_request())
    error = caught.value
    assert isinstance(error, BadRequest) and isinstance(error, ValidationFailed)
    assert error.status == 400 and error.code == "invalid_request"
    assert error.details[0] == details[0] and error.detail is error.details
    assert KEY not in json.dumps(error.details)
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "invalid_json", BadRequest),
        (400, "missing_job_id", BadRequest),
        (400, "missing_provider_id", BadRequest),
        (403, "scenario_not_allowed", Forbidden),
        (404, "job_not_found", NotFound),
    ],
)
async def test_status_mapping(
    client: OnegentClient, server: Server, status: int, code: str, kind: type[Exception]
) -> None:
    server.responses = [fail(status, code, "told you")]
    with pytest.raises(kind) as caught:
        await client.create_job(job_request())
    assert not isinstance(caught.value, InvalidRequest)
    assert getattr(caught.value, "code", None) == code
    assert getattr(caught.value, "message", None) == "told you"
    assert len(server.requests) == 1


async def test_auth_backend_unavailable_is_retried_on_reads(
    client: OnegentClient, server: Server
) -> None:
    server.responses = [fail(503, "auth_backend_unavailable")]
    with pytest.raises(ServiceUnavailable) as caught:
        await client.get_job(JOB_ID)
    assert caught.value.code == "auth_backend_unavailable"
    assert len(server.requests) == 3


async def test_an_off_spec_success_body_is_response_invalid(
    client: OnegentClient, server: Server
) -> None:
    server.responses = [reply(202, {"status": "pending"})]
    with pytest.raises(ResponseInvalid):
        await client.create_job(job_request())


async def test_no_log_line_carries_the_key_or_the_profile(
    client: OnegentClient, server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    server.responses = [fail(500, "job_create_failed"), reply(202, CREATED)]
    with caplog.at_level(logging.DEBUG):
        await client.create_job(job_request())
    assert caplog.records
    assert KEY not in caplog.text and EMAIL not in caplog.text and "Traveler" not in caplog.text


# --------------------------------------------------------------------------- tolerance


async def test_get_job_parses_the_spec_example(client: OnegentClient, server: Server) -> None:
    server.responses = [reply(200, JOB)]
    job = await client.get_job(JOB_ID)
    assert job.job_status is JobStatus.PAUSED_PAYMENT and job.terminal
    assert job.handoff_url is not None and job.handoff_url.startswith("https://www.opentable")
    decision = job.decision_log[0]
    assert decision.type == "time_adjusted" and decision.from_time == "19:00"
    assert decision.to_time == "19:30" and decision.extra == {"confidence": 0.9}
    assert job.attempt_count == 1 and job.used_fallback is False
    assert job.completed_at is not None and job.error is None


async def test_unknown_fields_statuses_and_a_missing_handoff_are_tolerated(
    client: OnegentClient, server: Server
) -> None:
    odd = {
        "jobId": JOB_ID,
        "status": "awaiting_3ds",
        "decisionLog": None,
        "brandNewField": {"x": 1},
        "error": {"code": "E1", "message": "boom"},
    }
    without = {k: v for k, v in JOB.items() if k != "handoffUrl"}
    server.responses = [
        reply(200, odd),
        reply(200, without),
        reply(200, {**JOB, "handoffUrl": None}),
    ]
    job = await client.get_job(JOB_ID)
    assert job.status == "awaiting_3ds" and job.job_status is None and not job.terminal
    assert job.decision_log == [] and job.handoff_url is None and job.error_message == "boom"
    for _ in range(2):
        paused = await client.get_job(JOB_ID)
        assert paused.job_status is JobStatus.PAUSED_PAYMENT and paused.handoff_url is None


def test_job_status_parse_and_terminal() -> None:
    assert JobStatus.parse("running") is JobStatus.RUNNING
    assert JobStatus.parse("surprise") is None and JobStatus.parse(None) is None
    assert {s for s in JobStatus if not s.terminal} == {JobStatus.PENDING, JobStatus.RUNNING}


async def test_audit_events_keep_extra_fields(client: OnegentClient, server: Server) -> None:
    events = [
        {"jobId": JOB_ID, "stepIndex": 0, "type": "job_started", "timestamp": "2026-04-24T14:01Z"},
        {
            "jobId": JOB_ID,
            "stepIndex": 1,
            "type": "provider_fallback",
            "timestamp": "2026-04-24T14:01:30Z",
            "providerId": "resy-com",
            "fromProvider": "opentable-com",
        },
        {"type": "paused_payment", "timestamp": "2026-04-24T14:02:30Z", "handoffUrl": "https://h"},
    ]
    server.responses = [reply(200, {"jobId": JOB_ID, "count": 3, "events": events})]
    log = await client.audit(JOB_ID)
    assert log.count == 3 and [e.type for e in log.events][-1] == "paused_payment"
    assert log.events[1].provider_id == "resy-com"
    assert log.events[1].extra == {"fromProvider": "opentable-com"}
    assert log.events[2].job_id is None and log.events[2].handoff_url == "https://h"


# --------------------------------------------------------------------------- request models


REQUIRED: dict[str, tuple[dict[str, Any], list[str]]] = {
    "restaurant": (RESTAURANT, ["restaurant_name", "city", "date", "time", "covers"]),
    "hotel": (HOTEL, ["hotel_name", "city", "checkin", "checkout", "adults"]),
    "flight": (FLIGHT, ["origin", "dest", "date", "passengers"]),
    "activity": (ACTIVITY, ["event_name", "city", "event_date", "num_tickets"]),
}
CASES = [(s, name) for s, (_, names) in REQUIRED.items() for name in names]


@pytest.mark.parametrize(("scenario", "missing"), CASES)
def test_each_required_param_is_checked(scenario: str, missing: str) -> None:
    params = {k: v for k, v in REQUIRED[scenario][0].items() if k != missing}
    with pytest.raises(pydantic.ValidationError) as caught:
        ScenarioRequest.model_validate({"scenario": scenario, "params": params})
    locs = [e["loc"] for e in caught.value.errors()]
    assert ("params", scenario, missing) in locs


@pytest.mark.parametrize("scenario", list(REQUIRED))
def test_each_scenario_builds(scenario: str) -> None:
    request = ScenarioRequest.model_validate(
        {"scenario": scenario, "params": REQUIRED[scenario][0]}
    )
    assert request.scenario is Scenario(scenario)
    assert ScenarioRequest.of(request.params) == request


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("date", "2026/05/01"),
        ("date", "2026-02-30"),
        ("date", "1 May"),
        ("time", "7pm"),
        ("time", "24:00"),
        ("time", "19:00:00"),
        ("covers", 0),
        ("restaurant_name", "  "),
    ],
)
def test_restaurant_formats(field_name: str, value: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        RestaurantParams.model_validate({**RESTAURANT, field_name: value})


def test_dates_and_times_accept_python_values() -> None:
    params = RestaurantParams.model_validate(
        {**RESTAURANT, "date": dt.date(2026, 5, 1), "time": dt.time(19, 5)}
    )
    assert (params.date, params.time) == ("2026-05-01", "19:05")


def test_hotel_checkout_after_checkin_and_flight_return_after_departure() -> None:
    with pytest.raises(pydantic.ValidationError, match="checkout must be after checkin"):
        HotelParams.model_validate({**HOTEL, "checkout": HOTEL["checkin"]})
    with pytest.raises(pydantic.ValidationError, match="return_date"):
        FlightParams.model_validate({**FLIGHT, "return_date": "2026-04-30"})
    with pytest.raises(pydantic.ValidationError):
        ActivityParams.model_validate({**ACTIVITY, "num_tickets": 0})


def test_params_must_fit_the_scenario() -> None:
    with pytest.raises(pydantic.ValidationError, match="hotel"):
        ScenarioRequest(scenario=Scenario.HOTEL, params=RestaurantParams(**RESTAURANT))
    with pytest.raises(pydantic.ValidationError):
        ScenarioRequest.model_validate({"scenario": "cruise", "params": RESTAURANT})
    with pytest.raises(pydantic.ValidationError):
        ScenarioRequest.model_validate({"scenario": "hotel", "params": {**HOTEL, "spa": True}})


def test_exactly_one_of_profile_or_profile_id() -> None:
    base = {"request": {"scenario": "restaurant", "params": RESTAURANT}}
    for extra in ({}, {"profile": PROFILE, "profileId": 7}):
        with pytest.raises(pydantic.ValidationError, match="exactly one"):
            ExecutionJobRequest.model_validate({**base, **extra})
    assert ExecutionJobRequest.model_validate({**base, "profileId": 7}).profile_id == 7


def test_a_flight_profile_needs_passport_data() -> None:
    base = {"request": {"scenario": "flight", "params": FLIGHT}}
    with pytest.raises(pydantic.ValidationError, match="dob, passport_number, passport_country"):
        ExecutionJobRequest.model_validate({**base, "profile": PROFILE})
    assert ExecutionJobRequest.model_validate({**base, "profile": TRAVELLER}).profile is not None


def test_consent_defaults_and_both_spellings() -> None:
    assert Consent() == Consent(allowTimeAdjustment=True, max_time_adjustment_minutes=90)
    consent = Consent(allowTimeAdjustment=False, blocked_providers=["resy-com"])
    assert consent.model_dump(by_alias=True) == {
        "allowTimeAdjustment": False,
        "maxTimeAdjustmentMinutes": 90,
        "allowVenueSwitch": True,
        "maxRetries": 3,
        "paymentPolicy": "stop_before_cvc",
        "allowedProviders": None,
        "blockedProviders": ["resy-com"],
        "maxJobDurationSeconds": 420,
    }
    with pytest.raises(pydantic.ValidationError):
        Consent.model_validate({"paymentPolicy": "charge_card"})
    with pytest.raises(pydantic.ValidationError):
        ClientMetadata(idempotency_key="  ")


def test_profile_repr_and_errors_hide_personal_data() -> None:
    profile = Profile.model_validate(TRAVELLER)
    for text in (repr(profile), str(profile), repr(job_request(profile=TRAVELLER))):
        for value in TRAVELLER.values():
            assert value not in text
    assert "first_name='***'" in repr(profile) and "known_traveler_number" not in repr(profile)
    with pytest.raises(pydantic.ValidationError) as caught:
        Profile.model_validate({**PROFILE, "email": "alex-at-home", "phone": 5551234})
    assert "alex-at-home" not in str(caught.value) and "5551234" not in str(caught.value)
