"""OnegentClient against the Onegent sandbox over real loopback HTTP: the job script and its
outcome markers, validation, idempotent creates, the auth ladder and the other error codes,
tolerance switches, audit and metrics clamping."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from integrations.errors import Forbidden, NotFound, ServiceUnavailable, Unauthorized
from integrations.onegent import (
    ExecutionJob,
    ExecutionJobRequest,
    InvalidRequest,
    JobCreateFailed,
    JobStatus,
    MalformedKey,
    OnegentClient,
)
from integrations.retry import Retrier
from integrations.sandbox import (
    DEFAULT_ONEGENT_KEY,
    OnegentSandboxConfig,
    RunningOnegentSandbox,
    running_onegent_sandbox,
)

RESTAURANTS_ONLY_KEY = "ogk_live_restaurants_only_key_01"
UNKNOWN_KEY = "ogk_live_well_formed_but_unknown"
PROFILE = {"first_name": "Alex", "last_name": "Traveler", "email": "a@x.io", "phone": "+1555"}
TRAVELLER = {**PROFILE, "dob": "1990-01-31", "passport_number": "X1", "passport_country": "US"}
PARAMS: dict[str, dict[str, Any]] = {
    "restaurant": {
        "restaurant_name": "Le Bernardin",
        "city": "New York",
        "date": "2026-05-01",
        "time": "19:00",
        "covers": 2,
    },
    "hotel": {
        "hotel_name": "The Plaza",
        "city": "New York",
        "checkin": "2026-05-01",
        "checkout": "2026-05-03",
        "adults": 2,
    },
    "flight": {"origin": "JFK", "dest": "LAX", "date": "2026-05-01", "passengers": 1},
    "activity": {
        "event_name": "Hamilton",
        "city": "New York",
        "event_date": "2026-05-01",
        "num_tickets": 2,
    },
}
NAME = {"restaurant": "restaurant_name", "hotel": "hotel_name", "flight": "dest"}


@dataclass
class Sleeps:
    delays: list[float] = field(default_factory=list)

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@dataclass
class World:
    sandbox: RunningOnegentSandbox
    http: httpx.AsyncClient
    sleeps: Sleeps

    def client(self, key: str = DEFAULT_ONEGENT_KEY) -> OnegentClient:
        return OnegentClient(
            self.http,
            api_key=key,
            base_url=self.sandbox.base_url,
            retrier=Retrier(sleep=self.sleeps, random=lambda: 0.5),
        )

    async def raw(
        self, method: str, path: str, *, auth: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """A hand-made request; ``auth=""`` sends no Authorization header at all."""
        headers = {"Authorization": auth if auth is not None else f"Bearer {DEFAULT_ONEGENT_KEY}"}
        if auth == "":
            headers = {}
        url = f"{self.sandbox.base_url}{path}"
        return await self.http.request(method, url, headers=headers, **kwargs)


@contextlib.asynccontextmanager
async def world(**overrides: Any) -> AsyncIterator[World]:
    settings: dict[str, Any] = {
        "keys": frozenset({DEFAULT_ONEGENT_KEY, RESTAURANTS_ONLY_KEY}),
        "allowed_scenarios": {RESTAURANTS_ONLY_KEY: {"restaurant"}},
        **overrides,
    }
    config = OnegentSandboxConfig.fast(**settings)
    async with running_onegent_sandbox(config) as sandbox, httpx.AsyncClient() as http:
        yield World(sandbox, http, Sleeps())


def body(
    scenario: str = "restaurant",
    *,
    name: str | None = None,
    key: str | None = None,
    consent: dict[str, Any] | None = None,
    **params: Any,
) -> dict[str, Any]:
    values = {**PARAMS[scenario], **params}
    if name is not None:
        values[NAME[scenario]] = name
    data: dict[str, Any] = {
        "request": {"scenario": scenario, "params": values},
        "profile": TRAVELLER if scenario == "flight" else PROFILE,
    }
    if consent is not None:
        data["consent"] = consent
    if key is not None:
        data["clientMetadata"] = {"agentId": "concierge", "idempotencyKey": key}
    return data


def job(scenario: str = "restaurant", **kwargs: Any) -> ExecutionJobRequest:
    return ExecutionJobRequest.model_validate(body(scenario, **kwargs))


async def run(client: OnegentClient, request: ExecutionJobRequest) -> ExecutionJob:
    created = await client.create_job(request)
    async with asyncio.timeout(5):
        return await client.wait_for_terminal(created.job_id, interval_s=0.01)


# --------------------------------------------------------------------------- the script


async def test_restaurant_job_pauses_at_payment_with_a_time_adjustment() -> None:
    async with world() as w:
        client = w.client()
        created = await client.create_job(job(key="k-1"))
        assert created.status == "pending" and created.scenario == "restaurant"
        assert created.organization_name == "Sandbox Concierge"
        assert created.links is not None
        assert created.links.self_ == f"/api/v1/execution-jobs/{created.job_id}"
        seen = set()
        polls = 0
        async with asyncio.timeout(5):
            while True:
                current = await client.get_job(created.job_id)
                polls += 1
                seen.add(current.status)
                if current.terminal:
                    break
                await asyncio.sleep(0.01)
        assert {"running", "paused_payment"} <= seen
        assert w.sandbox.state.polls[created.job_id] == polls
        assert current.job_status is JobStatus.PAUSED_PAYMENT
        assert current.summary == "Paused at payment gate for Le Bernardin"
        assert [d.type for d in current.decision_log] == ["time_adjusted"]
        adjusted = current.decision_log[0]
        assert adjusted.message == "No slot at 19:00, switching to 19:30"
        assert (adjusted.from_time, adjusted.to_time) == ("19:00", "19:30")
        assert current.attempt_count == 1 and current.used_fallback is False
        assert current.created_at and current.updated_at and current.completed_at
        assert current.error is None and current.session_url is None
        handoff = f"{w.sandbox.root_url}/handoff/{created.job_id}"
        assert current.handoff_url == handoff
        page = await w.http.get(handoff)
        assert page.status_code == 200 and "Complete payment (sandbox)" in page.text
        assert "Le Bernardin" in page.text
        audit = await client.audit(created.job_id)
        types = [e.type for e in audit.events]
        assert types[:2] == ["job_created", "job_started"]
        assert "time_adjusted" in types and types[-1] == "paused_payment"
        assert audit.count == len(audit.events)
        shifted = audit.events[types.index("time_adjusted")]
        assert shifted.job_id == created.job_id and shifted.step_index == 0
        assert shifted.message == "Time shifted 19:00 → 19:30 (no slot at requested time)"
        final = audit.events[-1]
        assert final.handoff_url == handoff and final.job_id is None


async def test_polls_and_received_bodies_are_recorded() -> None:
    async with world() as w:
        client = w.client()
        created = await client.create_job(job(key="k-rec", consent={"maxRetries": 1}))
        for _ in range(3):
            await client.get_job(created.job_id)
        state = w.sandbox.state
        assert state.polls[created.job_id] == 3
        assert state.created == 1 and state.create_requests == 1
        received = state.requests[0]
        assert received["clientMetadata"] == {"agentId": "concierge", "idempotencyKey": "k-rec"}
        assert received["profile"] == PROFILE and received["consent"]["maxRetries"] == 1
        assert state.raw_requests[0] == job(key="k-rec", consent={"maxRetries": 1}).body()


MARKERS = {
    "[completed]": "completed",
    "[no_availability]": "no_availability",
    "[needs_login]": "needs_login",
    "[captcha]": "captcha",
    "[error]": "error",
    "[paused_payment]": "paused_payment",
}


async def test_every_terminal_status_is_reachable_by_marker() -> None:
    async with world(outcome="completed") as w:
        names = [f"Le Bernardin {marker}" for marker in MARKERS]
        jobs = await asyncio.gather(*(run(w.client(), job(name=name)) for name in names))
        for (marker, status), finished in zip(MARKERS.items(), jobs, strict=True):
            assert finished.status == status and finished.terminal, marker
            assert marker not in (finished.summary or "")
            assert (finished.handoff_url is not None) == (status == "paused_payment")
            assert (finished.error is not None) == (status == "error")
        assert jobs[0].summary == "Booked Le Bernardin for 2 on 2026-05-01 at 19:30"


async def test_the_configured_outcome_applies_without_a_marker() -> None:
    async with world(outcome="captcha") as w:
        finished = await run(w.client(), job("hotel"))
        assert finished.status == "captcha"
        assert finished.summary == "Hard-blocked by a CAPTCHA on booking-com"


async def test_hotel_and_flight_jobs_run_without_time_adjustment() -> None:
    async with world() as w:
        hotel, flight = await asyncio.gather(
            run(w.client(), job("hotel")), run(w.client(), job("flight"))
        )
        for finished in (hotel, flight):
            assert finished.status == "paused_payment" and finished.decision_log == []


async def test_activity_is_accepted_but_ends_in_not_implemented() -> None:
    async with world() as w:
        created = await w.client().create_job(job("activity"))
        assert created.status == "pending"
        async with asyncio.timeout(5):
            finished = await w.client().wait_for_terminal(created.job_id, interval_s=0.01)
        assert finished.status == "error" and finished.error == "NOT_IMPLEMENTED"
        assert finished.error_message == "NOT_IMPLEMENTED"


async def test_a_time_shift_outside_consent_is_no_availability() -> None:
    async with world() as w:
        client = w.client()
        refusals = [{"allowTimeAdjustment": False}, {"maxTimeAdjustmentMinutes": 15}]
        jobs = await asyncio.gather(*(run(client, job(consent=c)) for c in refusals))
        for finished in jobs:
            assert finished.status == "no_availability" and finished.decision_log == []
            audit = await client.audit(finished.job_id)
            denied = [e for e in audit.events if e.type == "action_denied"]
            assert denied and (denied[0].from_time, denied[0].to_time) == ("19:00", "19:30")


async def test_no_time_shift_when_the_slot_is_free() -> None:
    async with world(time_shift_minutes=None) as w:
        finished = await run(w.client(), job())
        assert finished.status == "paused_payment" and finished.decision_log == []


async def test_venue_switch_follows_consent() -> None:
    async with world(time_shift_minutes=None) as w:
        switched, refused = await asyncio.gather(
            run(w.client(), job(name="Le Bernardin [switch]")),
            run(w.client(), job(name="Le Bernardin [switch]", consent={"allowVenueSwitch": False})),
        )
        assert [d.type for d in switched.decision_log] == ["venue_switched"]
        assert switched.decision_log[0].extra == {
            "fromVenue": "Le Bernardin",
            "toVenue": "Le Coucou",
        }
        assert switched.summary == "Paused at payment gate for Le Coucou"
        assert refused.status == "no_availability"


async def test_provider_fallback_for_blocked_and_failing_providers() -> None:
    async with world(time_shift_minutes=None, failing_providers=frozenset({"booking-com"})) as w:
        blocked, marked, failing, allowed, none_left = await asyncio.gather(
            run(w.client(), job(consent={"blockedProviders": ["opentable-com"]})),
            run(w.client(), job(name="Nobu [fallback]")),
            run(w.client(), job("hotel")),
            run(w.client(), job(consent={"allowedProviders": ["opentable-com"]})),
            run(w.client(), job(consent={"allowedProviders": ["nowhere-com"]})),
        )
        assert blocked.used_fallback is True and blocked.attempt_count == 1
        decision = blocked.decision_log[0]
        assert decision.type == "provider_fallback" and decision.provider_id == "resy-com"
        assert marked.used_fallback is True and marked.attempt_count == 2
        assert failing.attempt_count == 2 and failing.decision_log[0].provider_id == "expedia-com"
        assert allowed.status == "paused_payment" and allowed.used_fallback is False
        assert none_left.status == "error" and none_left.error == "NO_PROVIDER_AVAILABLE"


# --------------------------------------------------------------------------- validation


MISSING: dict[str, list[str]] = {
    "restaurant": ["restaurant_name", "city", "date", "time", "covers"],
    "hotel": ["hotel_name", "city", "checkin", "checkout", "adults"],
    "flight": ["origin", "dest", "date", "passengers"],
    "activity": ["event_name", "city", "event_date", "num_tickets"],
}


async def test_missing_params_are_invalid_request_with_details() -> None:
    async with world() as w:
        for scenario, names in MISSING.items():
            data = body(scenario)
            data["request"]["params"] = {"unknown_field": 1}
            response = await w.raw("POST", "/execution-jobs", json=data)
            assert response.status_code == 400
            error = response.json()["error"]
            assert error["code"] == "invalid_request" and error["message"]
            paths = [issue["path"] for issue in error["details"]]
            assert paths == [["request", "params", name] for name in names]
            assert all(issue["message"] == "Required" for issue in error["details"])
        assert w.sandbox.state.created == 0


FORMATS: list[tuple[dict[str, Any], str, str]] = [
    ({"date": "01/05/2026"}, "date", "Invalid date, expected YYYY-MM-DD"),
    ({"date": "2026-02-30"}, "date", "Invalid date, expected YYYY-MM-DD"),
    ({"time": "7pm"}, "time", "Invalid time, expected HH:MM (24h)"),
    ({"covers": 0}, "covers", "Number must be greater than or equal to 1"),
    ({"covers": "2"}, "covers", "Expected number, received string"),
    ({"covers": 2.5}, "covers", "Expected integer, received float"),
    ({"restaurant_name": " "}, "restaurant_name", "String must contain at least 1 character(s)"),
]


async def test_param_formats_are_checked() -> None:
    async with world() as w:
        for change, name, message in FORMATS:
            response = await w.raw("POST", "/execution-jobs", json=body(**change))
            assert response.status_code == 400
            details = response.json()["error"]["details"]
            assert [(d["path"], d["message"]) for d in details] == [
                (["request", "params", name], message)
            ]


async def test_body_level_rules() -> None:
    async with world() as w:
        both = {**body(), "profileId": 3}
        neither = {k: v for k, v in body().items() if k != "profile"}
        flight = {**body("flight"), "profile": PROFILE}
        hotel = body("hotel", checkout="2026-05-01")
        bad_consent = body(consent={"paymentPolicy": "charge_now", "maxRetries": -1})
        bad_email = {**body(), "profile": {**PROFILE, "email": "nope"}}
        cruise = {"request": {"scenario": "cruise", "params": {}}, "profileId": 1}
        expected: list[tuple[Any, list[list[str]]]] = [
            (both, [[]]),
            (neither, [[]]),
            (flight, [["profile", n] for n in ("dob", "passport_number", "passport_country")]),
            (hotel, [["request", "params", "checkout"]]),
            (bad_consent, [["consent", "maxRetries"], ["consent", "paymentPolicy"]]),
            (bad_email, [["profile", "email"]]),
            ([], [[]]),
            (cruise, [["request", "scenario"]]),
        ]
        for data, paths in expected:
            response = await w.raw("POST", "/execution-jobs", json=data)
            assert response.status_code == 400, data
            issues = response.json()["error"]["details"]
            assert sorted(i["path"] for i in issues) == sorted(paths), issues
            assert "nope" not in response.text


async def test_invalid_json_and_the_client_side_of_invalid_request() -> None:
    async with world() as w:
        response = await w.raw("POST", "/execution-jobs", content=b"{not json")
        assert response.status_code == 400
        assert response.json() == {
            "error": {"code": "invalid_json", "message": "Request body is not valid JSON"}
        }
        assert w.sandbox.state.requests == [None]
        # model_copy skips validation: what a partner-side-only rule looks like to the client
        sneaky = job("flight").model_copy(update={"profile": job().profile})
        with pytest.raises(InvalidRequest) as caught:
            await w.client().create_job(sneaky)
        assert [d["path"][-1] for d in caught.value.details] == [
            "dob",
            "passport_number",
            "passport_country",
        ]


# --------------------------------------------------------------------------- idempotency


async def test_the_same_idempotency_key_returns_the_same_job() -> None:
    async with world() as w:
        first = await w.client().create_job(job(key="same"))
        again = await w.client().create_job(job(key="same", covers=4))
        other = await w.client().create_job(job(key="other"))
        assert again.job_id == first.job_id and other.job_id != first.job_id
        state = w.sandbox.state
        assert state.created == 2 and state.create_requests == 3
        other_key = await w.client(RESTAURANTS_ONLY_KEY).create_job(job(key="same"))
        assert other_key.job_id != first.job_id  # idempotency is per API key


async def test_job_create_failed_is_retried_with_the_same_key_and_body() -> None:
    async with world(fail_create_times=2) as w:
        created = await w.client().create_job(job(key="retry-me"))
        state = w.sandbox.state
        assert state.create_requests == 3 and state.created == 1 and len(state.jobs) == 1
        assert len(set(state.raw_requests)) == 1 and len(w.sleeps.delays) == 2
        assert created.job_id in state.jobs
        assert state.config.fail_create_times == 0


async def test_job_create_failed_after_three_attempts_creates_nothing() -> None:
    async with world(fail_create_times=5) as w:
        with pytest.raises(JobCreateFailed):
            await w.client().create_job(job(key="doomed"))
        assert w.sandbox.state.create_requests == 3 and w.sandbox.state.created == 0


async def test_no_retry_without_an_idempotency_key() -> None:
    async with world(fail_create_times=1) as w:
        with pytest.raises(JobCreateFailed) as caught:
            await w.client().create_job(job())
        assert caught.value.code == "job_create_failed"
        assert w.sandbox.state.create_requests == 1 and w.sandbox.state.created == 0
        assert (await w.client().create_job(job())).job_id in w.sandbox.state.jobs


# --------------------------------------------------------------------------- auth and errors


AUTH_LADDER = [
    ("", "missing_authorization"),
    (f"Basic {DEFAULT_ONEGENT_KEY}", "invalid_auth_scheme"),
    ("Bearer", "empty_api_key"),
    ("Bearer ogk_live_short", "malformed_api_key"),
    ("Bearer og_api_abcdefghijklmnopqrstuv", "malformed_api_key"),
    (f"Bearer {UNKNOWN_KEY}", "invalid_api_key"),
]


async def test_the_auth_ladder() -> None:
    async with world() as w:
        for auth, code in AUTH_LADDER:
            for method, path in [
                ("POST", "/execution-jobs"),
                ("GET", "/execution-jobs/x"),
                ("GET", "/execution-jobs/x/audit"),
                ("GET", "/metrics/providers/opentable-com"),
            ]:
                response = await w.raw(method, path, auth=auth, json=body())
                assert response.status_code == 401, (auth, path)
                assert response.json()["error"]["code"] == code
        assert w.sandbox.state.created == 0


async def test_unknown_key_through_the_client_and_a_malformed_one_never_sent() -> None:
    async with world() as w:
        with pytest.raises(Unauthorized) as caught:
            await w.client(UNKNOWN_KEY).get_job("x")
        assert caught.value.code == "invalid_api_key" and UNKNOWN_KEY not in str(caught.value)
        with pytest.raises(MalformedKey):
            w.client("ogk_live_short")
        assert w.sandbox.state.create_requests == 0 and w.sandbox.state.polls == {"x": 1}


async def test_scenario_not_allowed_for_the_key() -> None:
    async with world() as w:
        restricted = w.client(RESTAURANTS_ONLY_KEY)
        with pytest.raises(Forbidden) as caught:
            await restricted.create_job(job("hotel", key="h"))
        assert caught.value.code == "scenario_not_allowed" and caught.value.status == 403
        assert w.sandbox.state.created == 0 and w.sandbox.state.create_requests == 1
        assert (await restricted.create_job(job())).status == "pending"


async def test_job_not_found_and_missing_ids() -> None:
    async with world() as w:
        for call in (w.client().get_job("nope"), w.client().audit("nope")):
            with pytest.raises(NotFound) as caught:
                await call
            assert caught.value.code == "job_not_found"
        for path, code in [
            ("/execution-jobs/", "missing_job_id"),
            ("/execution-jobs/%20", "missing_job_id"),
            ("/execution-jobs//audit", "missing_job_id"),
            ("/metrics/providers/", "missing_provider_id"),
            ("/metrics/providers", "missing_provider_id"),
        ]:
            response = await w.raw("GET", path)
            assert response.status_code == 400 and response.json()["error"]["code"] == code
        unknown = await w.raw("GET", "/nothing-here")
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
        wrong = await w.raw("DELETE", "/execution-jobs")
        assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
        assert (await w.http.get(f"{w.sandbox.root_url}/handoff/nope")).status_code == 404


async def test_auth_backend_down_is_503_after_the_format_checks() -> None:
    async with world(auth_backend_down=True) as w:
        with pytest.raises(ServiceUnavailable) as caught:
            await w.client().get_job("x")
        assert caught.value.code == "auth_backend_unavailable"
        assert w.sandbox.state.polls["x"] == 3  # a GET is retried
        with pytest.raises(ServiceUnavailable):
            await w.client().create_job(job())
        assert w.sandbox.state.create_requests == 1  # a create without a key is not
        malformed = await w.raw("GET", "/execution-jobs/x", auth="Bearer ogk_test_x")
        assert malformed.json()["error"]["code"] == "malformed_api_key"


# --------------------------------------------------------------------------- tolerance


async def test_extra_fields_and_a_missing_handoff_are_tolerated() -> None:
    async with world(extra_fields=True, omit_handoff=True) as w:
        client = w.client()
        created = await client.create_job(job())
        raw = await w.raw("GET", f"/execution-jobs/{created.job_id}")
        assert "sandboxRegion" in raw.json()
        async with asyncio.timeout(5):
            finished = await client.wait_for_terminal(created.job_id, interval_s=0.01)
        assert finished.status == "paused_payment" and finished.handoff_url is None
        assert "handoffUrl" not in (await w.raw("GET", f"/execution-jobs/{created.job_id}")).json()
        assert finished.decision_log[0].extra == {"confidence": 0.93, "actor": "autopilot"}
        audit = await client.audit(created.job_id)
        assert audit.events[0].extra["actor"] == "autopilot"
        metrics = await client.provider_metrics("resy-com")
        assert metrics.total_attempts == 96


# --------------------------------------------------------------------------- audit, metrics


async def test_audit_limit_is_clamped() -> None:
    async with world() as w:
        client = w.client()
        finished = await run(client, job())
        everything = await client.audit(finished.job_id)
        assert everything.count == len(everything.events) > 5
        assert (await client.audit(finished.job_id, limit=0)).count == 1
        assert (await client.audit(finished.job_id, limit=-7)).count == 1
        assert (await client.audit(finished.job_id, limit=3)).count == 3
        assert (await client.audit(finished.job_id, limit=99999)).count == everything.count
        junk = await w.raw("GET", f"/execution-jobs/{finished.job_id}/audit?limit=abc")
        assert junk.json()["count"] == everything.count


async def test_provider_metrics_are_deterministic_and_clamped() -> None:
    async with world() as w:
        client = w.client()
        opentable = await client.provider_metrics("opentable-com")
        assert opentable.model_dump(by_alias=True, mode="json") == {
            "providerId": "opentable-com",
            "successRate": 0.87,
            "totalAttempts": 142,
            "acceptedCount": 124,
            "manualOverrideCount": 12,
            "failedCount": 6,
            "lastEventAt": "2026-04-23T22:14:03Z",
            "timeRangeDays": 30,
        }
        assert opentable.is_evidence()
        newbie = await client.provider_metrics("newbie-provider", time_range_days=365)
        assert newbie.total_attempts < 5 and not newbie.is_evidence()
        for days, clamped in [(0, 1), (-3, 1), (7, 7), (1000, 365)]:
            metrics = await client.provider_metrics("booking-com", time_range_days=days)
            assert metrics.time_range_days == clamped
            assert metrics.total_attempts >= 5
            counts = metrics.accepted_count + metrics.manual_override_count + metrics.failed_count
            assert counts == metrics.total_attempts
        empty = await client.provider_metrics("never-heard-of-it")
        assert (empty.total_attempts, empty.success_rate, empty.last_event_at) == (0, 0, None)


async def test_shutdown_cancels_running_jobs() -> None:
    config = OnegentSandboxConfig.fast(start_s=30.0)
    async with running_onegent_sandbox(config) as sandbox, httpx.AsyncClient() as http:
        client = OnegentClient(http, api_key=DEFAULT_ONEGENT_KEY, base_url=sandbox.base_url)
        await client.create_job(job())
        assert sandbox.state.background_tasks == 1
    assert sandbox.state.background_tasks == 0
    assert sandbox.state.job_list[0].status == "pending"
