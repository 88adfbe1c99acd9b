"""The Events sandbox against the spec, over raw HTTP: status codes, headers, the error
envelope, the run lifecycle, identity reviews, idempotency, limits and deterministic matches."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from integrations.sandbox import (
    DEFAULT_EVENTS_KEY,
    DEFAULT_EVENTS_READ_KEY,
    EventsSandboxConfig,
    running_events_sandbox,
)

EVENT = "summit-2026"
AUTH = {"Authorization": f"Bearer {DEFAULT_EVENTS_KEY}"}


@contextlib.asynccontextmanager
async def api(config: EventsSandboxConfig | None = None) -> AsyncIterator[httpx.AsyncClient]:
    served = running_events_sandbox(config or EventsSandboxConfig.fast())
    async with (
        served as sandbox,
        httpx.AsyncClient(base_url=sandbox.base_url, headers=AUTH) as http,
    ):
        yield http


def attendee(n: int, name: str, **extra: Any) -> dict[str, Any]:
    return {"attendee_id": f"att-{n}", "name": name, **extra}


async def make_event(http: httpx.AsyncClient) -> None:
    answer = await http.post("/events", json={"event_id": EVENT, "title": "Summit"})
    assert answer.status_code == 201


def error_code(answer: httpx.Response) -> str:
    body = answer.json()
    assert body["correlation_id"] == answer.headers["x-correlation-id"]
    return str(body["error"]["code"])


async def test_auth_errors_use_the_envelope() -> None:
    async with api() as http:
        missing = await http.get("/auth", headers={"Authorization": ""})
        assert missing.status_code == 401 and error_code(missing) == "UNAUTHORIZED"
        read = {"Authorization": f"Bearer {DEFAULT_EVENTS_READ_KEY}"}
        assert (await http.get("/auth", headers=read)).json()["scopes"] == ["partner:read"]
        denied = await http.post("/events", json={"event_id": "x", "title": "X"}, headers=read)
        assert denied.status_code == 403 and error_code(denied) == "INSUFFICIENT_SCOPE"


async def test_correlation_id_is_echoed_or_minted() -> None:
    async with api() as http:
        echoed = await http.get("/auth", headers={"x-correlation-id": "abc-1"})
        assert echoed.headers["x-correlation-id"] == "abc-1"
        assert echoed.json()["correlation_id"] == "abc-1"
        minted = await http.get("/auth")
        assert minted.json()["correlation_id"] == minted.headers["x-correlation-id"] != "abc-1"


async def test_event_validation_and_not_found() -> None:
    async with api() as http:
        long_title = await http.post("/events", json={"event_id": EVENT, "title": "x" * 201})
        assert long_title.status_code == 400 and error_code(long_title) == "INVALID_TITLE"
        bad_date = {"event_id": EVENT, "title": "S", "start_date": "10/09/2026"}
        assert error_code(await http.post("/events", json=bad_date)) == "INVALID_START_DATE"
        not_json = await http.post("/events", content=b"{", headers=AUTH)
        assert error_code(not_json) == "INVALID_JSON"
        await make_event(http)
        again = await http.post("/events", json={"event_id": EVENT, "title": "S"})
        assert again.status_code == 409 and error_code(again) == "PARTNER_ID_CONFLICT"
        gone = await http.get("/events/nope")
        assert gone.status_code == 404 and error_code(gone) == "EVENT_NOT_FOUND"
        empty = await http.post(f"/events/{EVENT}/context", json={})
        assert error_code(empty) == "INVALID_CONTEXT"
        unmapped = await http.get("/id-map/attendee/att-1")
        assert unmapped.status_code == 404 and error_code(unmapped) == "PARTNER_ID_NOT_FOUND"
        assert error_code(await http.get("/id-map/org/x")) == "INVALID_PARTNER_KIND"


async def test_run_lifecycle_over_polls_without_webhook_delivery() -> None:
    async with api(EventsSandboxConfig(steps_per_status=2)) as http:
        await make_event(http)
        body = {"idempotency_key": "k1", "webhook_url": "https://example.com/hook"}
        started = await http.post(f"/events/{EVENT}/match-runs", json=body)
        assert started.status_code == 202
        run = started.json()
        assert run["status"] == "queued" and run["webhook_url"] == "https://example.com/hook"
        seen = [(await http.get(f"/runs/{run['run_id']}")).json()["status"] for _ in range(5)]
        assert seen == ["queued", "running", "running", "succeeded", "succeeded"]
        assert error_code(await http.get("/runs/run_nope")) == "RUN_NOT_FOUND"
        assert error_code(await http.get("/runs/nope")) == "INVALID_RUN_ID"


async def test_imports_are_idempotent_and_limited() -> None:
    async with api(EventsSandboxConfig.fast(max_import_rows=2, max_body_bytes=2000)) as http:
        await make_event(http)
        url = f"/events/{EVENT}/attendees:import"
        body = {"idempotency_key": "imp", "attendees": [attendee(1, "Ann")]}
        first, replay = await http.put(url, json=body), await http.put(url, json=body)
        assert (first.status_code, replay.status_code) == (202, 200)
        assert first.json()["run_id"] == replay.json()["run_id"]
        assert first.json()["kind"] == "import"
        other = {**body, "attendees": [attendee(2, "Bob")]}
        conflict = await http.put(url, json=other)
        assert conflict.status_code == 409 and error_code(conflict) == "IDEMPOTENCY_KEY_CONFLICT"
        rows = [attendee(n, "X") for n in range(3)]
        too_many = await http.put(url, json={"idempotency_key": "k", "attendees": rows})
        assert too_many.status_code == 413 and error_code(too_many) == "PAYLOAD_TOO_LARGE"
        big = [attendee(1, "x" * 200, raw_data={"bio": "y" * 3000})]
        too_big = await http.put(url, json={"idempotency_key": "k2", "attendees": big})
        assert too_big.status_code == 413
        dupes = [attendee(1, "A"), attendee(1, "B")]
        dup = await http.put(url, json={"idempotency_key": "k3", "attendees": dupes})
        assert error_code(dup) == "DUPLICATE_ATTENDEE_ID"
        no_key = await http.put(url, json={"attendees": [attendee(1, "A")]})
        assert error_code(no_key) == "INVALID_IDEMPOTENCY_KEY"


async def test_a_lookalike_opens_a_review() -> None:
    async with api() as http:
        await make_event(http)
        rows = [attendee(1, "Jordan Lee", email="j@x.io"), attendee(2, "J. Lee", email="J@x.io")]
        url = f"/events/{EVENT}/attendees:import"
        await http.put(url, json={"idempotency_key": "imp", "attendees": rows})
        [review] = (await http.get(f"/events/{EVENT}/review-queue")).json()["items"]
        assert (review["partner_id"], review["candidate_partner_id"]) == ("att-2", "att-1")
        listed = (await http.get(f"/events/{EVENT}/attendees")).json()["items"]
        assert [a["identity"]["open_review_count"] for a in listed] == [1, 1]
        bad = await http.post(f"/review-queue/{review['review_id']}/resolve", json={})
        assert error_code(bad) == "INVALID_REVIEW_DECISION"
        path = f"/review-queue/{review['review_id']}/merge"
        mismatch = {
            "source_kind": "attendee",
            "source_partner_id": "att-9",
            "target_kind": "attendee",
            "target_partner_id": "att-1",
        }
        assert error_code(await http.post(path, json=mismatch)) == "REVIEW_SOURCE_MISMATCH"
        done = await http.post(
            f"/review-queue/{review['review_id']}/resolve", json={"decision": "reject"}
        )
        assert done.json()["logged"] is True
        assert (await http.get("/review-queue")).json()["items"] == []
        assert error_code(await http.post(path, json=mismatch)) == "REVIEW_NOT_FOUND"


async def _matches_of_a_fresh_sandbox() -> list[dict[str, Any]]:
    async with api() as http:
        await make_event(http)
        rows = [
            attendee(1, "Ann", raw_data={"needs": "design mentors", "offers": "python"}),
            attendee(2, "Bob", raw_data={"needs": "python", "offers": "design mentors"}),
            attendee(3, "Cid", raw_data={"needs": "funding", "offers": "sales"}),
        ]
        url = f"/events/{EVENT}/attendees:import"
        await http.put(url, json={"idempotency_key": "imp", "attendees": rows})
        assert error_code(await http.get(f"/events/{EVENT}/matches")) == "MATCH_RUN_NOT_FOUND"
        run = (await http.post(f"/events/{EVENT}/match-runs", json={"idempotency_key": "m"})).json()
        for _ in range(2):
            await http.get(f"/runs/{run['run_id']}")
        items: list[dict[str, Any]] = (await http.get(f"/events/{EVENT}/matches")).json()["items"]
        pair = await http.get(f"/events/{EVENT}/matches/att-1/att-2")
        assert pair.json()["final_score"] == items[0]["final_score"]
        missing = await http.get(f"/events/{EVENT}/matches/att-1/att-9")
        assert error_code(missing) == "ATTENDEE_NOT_FOUND"
        return items


async def test_matches_are_deterministic_with_sub_scores_and_reasons() -> None:
    first, second = await _matches_of_a_fresh_sandbox(), await _matches_of_a_fresh_sandbox()
    strip = ("run_id", "match_id", "computed_at", "freshness", "context_snapshot_id")

    def scores(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in m.items() if k not in strip} for m in items]

    assert scores(first) == scores(second)
    best = first[0]
    assert (best["principal_attendee_id"], best["target_attendee_id"]) == ("att-1", "att-2")
    assert best["sub_scores"]["goal_needs_to_offers"] == 1.0
    assert (
        "Ann needs what Bob offers" in best["reasons"] or best["principal_attendee_id"] == "att-2"
    )
    assert [m["final_score"] for m in first] == sorted(
        (m["final_score"] for m in first), reverse=True
    )


async def test_pagination_and_limits() -> None:
    async with api() as http:
        for n in range(3):
            await http.post("/events", json={"event_id": f"e{n}", "title": "T"})
        page = (await http.get("/events", params={"limit": 2})).json()
        assert len(page["items"]) == 2 and page["next_cursor"]
        rest = (await http.get("/events", params={"cursor": page["next_cursor"]})).json()
        assert len(rest["items"]) == 1 and rest["next_cursor"] is None
        assert error_code(await http.get("/events", params={"limit": 101})) == "INVALID_LIMIT"
        assert error_code(await http.get("/runs", params={"kind": "x"})) == "INVALID_RUN_KIND"
        generic = await http.post("/runs", json={"kind": "match", "idempotency_key": "g"})
        assert generic.status_code == 201 and generic.json()["event_id"] is None
