"""The Outgoing sandbox over real loopback HTTP: auth, discovery, users, orders, bind, faults."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import h3
import httpx
import pytest

from integrations.outgoing.models import (
    PartnerActivityDetail,
    PricesResponse,
    SearchResponse,
    ShelvesResponse,
)
from integrations.sandbox import (
    DEFAULT_BIND_TEAM_ID,
    DEFAULT_BIND_TOKEN,
    DEFAULT_NEGOTIATED_KEY,
    DEFAULT_SELF_SERVE_KEY,
    DEFAULT_TRIAL_EXHAUSTED_KEY,
    ForcedResponse,
    RunningSandbox,
    SandboxConfig,
    running_outgoing_sandbox,
)
from integrations.sandbox.catalogue import Activity
from integrations.sandbox.state import key_fingerprint

INJECTION_ID = "177e098b-67e1-5dc6-8c51-0a498c36e4f9"
BROOKLYN_CELL = "872a100deffffff"  # the spec's example cell (Williamsburg)
NEGOTIATED = {"Authorization": f"Bearer {DEFAULT_NEGOTIATED_KEY}", "X-External-User-Id": "u-1"}
NEGOTIATED_KEY_ONLY = {"Authorization": f"Bearer {DEFAULT_NEGOTIATED_KEY}"}
SELF_SERVE = {"Authorization": f"Bearer {DEFAULT_SELF_SERVE_KEY}"}


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with running_outgoing_sandbox(SandboxConfig.fast()) as running:
        yield running


@pytest.fixture
async def client(sandbox: RunningSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{sandbox.base_url}/partner/v1", timeout=5) as c:
        yield c


def by_slug(sandbox: RunningSandbox, slug: str) -> Activity:
    return next(a for a in sandbox.state.catalogue.activities if a.slug == slug)


# --------------------------------------------------------------------------- auth


async def test_request_without_credentials_gets_the_discovery_challenge(
    sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    response = await client.get("/homescreen", params={"h3_cell": BROOKLYN_CELL})

    assert response.status_code == 401
    assert response.headers["AAuth-Requirement"] == "requirement=agent-token"
    challenge = response.headers["WWW-Authenticate"]
    metadata_url = re.fullmatch(r'Bearer resource_metadata="([^"]+)"', challenge)
    assert metadata_url is not None
    assert "error" in response.json() and "code" not in response.json()
    metadata = await client.get(metadata_url.group(1))
    assert metadata.status_code == 200
    assert metadata.json()["resource"] == f"{sandbox.base_url}/partner/v1"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer og_api_",
        "Bearer og_api_abc",
        f"Bearer  {DEFAULT_NEGOTIATED_KEY}",
        f"Bearer {DEFAULT_NEGOTIATED_KEY} extra",
        "Bearer sk_live_0123456789abcdef",
        f"Basic {DEFAULT_NEGOTIATED_KEY}",
        DEFAULT_NEGOTIATED_KEY,
        "",
    ],
)
async def test_malformed_keys_are_401_key_malformed(
    client: httpx.AsyncClient, authorization: str
) -> None:
    response = await client.get("/auth", headers={"Authorization": authorization})

    assert response.status_code == 401
    assert response.json()["code"] == "key_malformed"
    assert response.json()["error"]


async def test_unknown_well_formed_key_is_401_key_invalid(client: httpx.AsyncClient) -> None:
    response = await client.get("/auth", headers={"Authorization": "Bearer og_api_not_a_real_key"})

    assert response.status_code == 401
    assert response.json() == {"error": "Invalid API key.", "code": "key_invalid"}


@pytest.mark.parametrize("headers", [NEGOTIATED, SELF_SERVE], ids=["negotiated", "self-serve"])
async def test_valid_keys_pass_auth(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await client.get("/auth", headers=headers)

    assert response.status_code == 200
    assert response.json() == {"ok": True}


@pytest.mark.parametrize(
    "path", ["/auth", "/search?prompt=jazz", f"/homescreen?h3_cell={BROOKLYN_CELL}"]
)
async def test_self_serve_key_sending_external_user_id_is_400(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path, headers={**SELF_SERVE, "X-External-User-Id": "u-1"})

    assert response.status_code == 400
    assert "X-External-User-Id" in response.json()["error"]


async def test_negotiated_key_must_send_external_user_id_where_the_spec_requires_it(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/orders", f"/activities/{INJECTION_ID}"):
        response = await client.get(path, headers=NEGOTIATED_KEY_ONLY)
        assert response.status_code == 400, path
        assert "X-External-User-Id" in response.json()["error"]
    for path in (f"/homescreen?h3_cell={BROOKLYN_CELL}", "/search?prompt=jazz", "/auth"):
        assert (await client.get(path, headers=NEGOTIATED_KEY_ONLY)).status_code == 200, path


async def test_users_and_bookings_are_for_negotiated_keys_only(client: httpx.AsyncClient) -> None:
    users = await client.post("/users", headers=SELF_SERVE, json={"external_user_id": "me"})
    bookings = await client.post("/bookings", headers=SELF_SERVE, json={})

    assert (users.status_code, bookings.status_code) == (403, 403)
    assert "negotiated" in users.json()["error"]
    assert "negotiated" in bookings.json()["error"]


async def test_trial_exhausted_agent_gets_interaction_until_the_user_upgrades(
    client: httpx.AsyncClient,
) -> None:
    agent = {"Authorization": f"Bearer {DEFAULT_TRIAL_EXHAUSTED_KEY}"}

    first = await client.get("/search", params={"prompt": "jazz"}, headers=agent)

    assert first.status_code == 202
    assert first.json() == {
        "error": "Free trial exhausted. Direct the user to the upgrade URL to continue."
    }
    requirement = re.fullmatch(
        r'requirement=interaction; url="([^"]+)"; code="([^"]+)"',
        first.headers["AAuth-Requirement"],
    )
    assert requirement is not None
    url, code = requirement.groups()
    poll_url = first.headers["Location"]
    assert poll_url.startswith("/partner/v1/aauth/interaction?state=")
    poll = await client.get(poll_url.removeprefix("/partner/v1"), headers=agent)
    assert poll.status_code == 202

    page = await client.get(url, params={"code": code})
    assert page.status_code == 200

    done = await client.get(poll_url.removeprefix("/partner/v1"), headers=agent)
    assert done.status_code == 200
    assert (
        await client.get("/search", params={"prompt": "jazz"}, headers=agent)
    ).status_code == 200


async def test_rate_limit_answers_429_with_retry_after() -> None:
    async with (
        running_outgoing_sandbox(SandboxConfig.fast(rate_limit_per_minute=2)) as sandbox,
        httpx.AsyncClient(base_url=f"{sandbox.base_url}/partner/v1") as client,
    ):
        statuses = [(await client.get("/auth", headers=SELF_SERVE)).status_code for _ in range(3)]
        limited = await client.get("/auth", headers=SELF_SERVE)
        other_key = await client.get("/auth", headers=NEGOTIATED)

    assert statuses == [200, 200, 429]
    assert limited.status_code == 429
    assert limited.json() == {"error": "Rate limit exceeded (2/min). Try again shortly."}
    assert 1 <= int(limited.headers["Retry-After"]) <= 61
    assert other_key.status_code == 200


# --------------------------------------------------------------------------- search


async def test_search_jazz_in_brooklyn_returns_only_brooklyn_jazz(
    sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    response = await client.get(
        "/search", params={"prompt": "jazz", "location": "Brooklyn"}, headers=NEGOTIATED
    )

    assert response.status_code == 200
    result = SearchResponse.model_validate(response.json())
    assert "Brooklyn" in result.message
    assert len(result.results) >= 3
    for pick in result.results:
        assert pick.activity_id is not None
        activity = sandbox.state.catalogue.get(pick.activity_id)
        assert activity is not None
        assert "jazz" in activity.categories and "brooklyn" in activity.areas
        assert pick.why and "jazz" in pick.why
        assert pick.picture_url and pick.location and pick.next_datetime
    ids = {pick.activity_id for pick in result.results}
    assert INJECTION_ID in ids
    assert by_slug(sandbox, "village-vanguard-sets").activity_id not in ids  # Manhattan


async def test_search_reads_the_place_from_the_prompt(client: httpx.AsyncClient) -> None:
    in_prompt = await client.get(
        "/search", params={"prompt": "jazz concerts in Brooklyn"}, headers=SELF_SERVE
    )
    as_param = await client.get(
        "/search", params={"prompt": "jazz concerts", "location": "Brooklyn"}, headers=SELF_SERVE
    )

    names = [r["name"] for r in in_prompt.json()["results"]]
    assert names == [r["name"] for r in as_param.json()["results"]]
    assert names


async def test_search_without_match_is_an_empty_list_with_a_helpful_message(
    client: httpx.AsyncClient,
) -> None:
    nothing = await client.get(
        "/search", params={"prompt": "underwater basket weaving"}, headers=SELF_SERVE
    )
    elsewhere = await client.get(
        "/search", params={"prompt": "jazz", "location": "Tokyo"}, headers=SELF_SERVE
    )

    assert nothing.status_code == elsewhere.status_code == 200
    assert nothing.json()["results"] == [] and elsewhere.json()["results"] == []
    assert "Try something broader" in nothing.json()["message"]
    assert "Tokyo" in elsewhere.json()["message"]
    assert "San Francisco" in elsewhere.json()["message"]


async def test_search_prompt_is_required(client: httpx.AsyncClient) -> None:
    response = await client.get("/search", headers=SELF_SERVE)

    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"loc": ["query", "prompt"], "msg": "Field required", "type": "missing"}]
    }


async def test_search_latency_is_configurable() -> None:
    config = SandboxConfig.fast(search_latency_s=0.2)
    async with (
        running_outgoing_sandbox(config) as sandbox,
        httpx.AsyncClient(base_url=f"{sandbox.base_url}/partner/v1") as client,
    ):
        started = time.perf_counter()
        response = await client.get("/search", params={"prompt": "jazz"}, headers=SELF_SERVE)
        elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert elapsed >= 0.2


# --------------------------------------------------------------------------- homescreen


@pytest.mark.parametrize("booking_filter", ["all", "bookable", "bookable_or_free"])
async def test_homescreen_flat_shelf_by_brooklyn_cell(
    sandbox: RunningSandbox, client: httpx.AsyncClient, booking_filter: str
) -> None:
    response = await client.get(
        "/homescreen",
        params={"h3_cell": BROOKLYN_CELL, "booking_filter": booking_filter},
        headers=NEGOTIATED,
    )

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, max-age=900"
    shelves = ShelvesResponse.model_validate(response.json())
    assert (shelves.h3_cell, shelves.city) == (BROOKLYN_CELL, "new-york")
    assert len(shelves.shelves) == 1
    activities = shelves.shelves[0].activities
    assert activities
    for a in activities:
        activity = sandbox.state.catalogue.get(a.activity_id)
        assert activity is not None and activity.city.slug == "new-york"
        if booking_filter == "bookable":
            assert a.is_bookable
        elif booking_filter == "bookable_or_free":
            assert a.is_bookable or a.ticket_price is None or a.ticket_price.max == 0
    names = {a.name for a in activities}
    assert "Brooklyn Big Band Jazz Night" in names  # bookable, 1 km from the cell
    assert ("Brooklyn Botanic Garden" in names) == (booking_filter == "all")  # link-only
    assert ("Smorgasburg Williamsburg" in names) == (booking_filter != "bookable")  # free


async def test_homescreen_shelved_groups_into_thematic_shelves(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/homescreen",
        params={"h3_cell": BROOKLYN_CELL, "shelved": "true", "usual_plans": "fun-with-kids"},
        headers=NEGOTIATED,
    )

    shelves = ShelvesResponse.model_validate(response.json()).shelves
    slugs = [s.slug for s in shelves]
    assert slugs[0] == "picked-for-you"
    assert {"live-music", "free", "outdoors"} <= set(slugs)
    assert len(slugs) == len(set(slugs))
    assert all(s.activities and s.display_name for s in shelves)
    live = next(s for s in shelves if s.slug == "live-music")
    assert "Brooklyn Big Band Jazz Night" in {a.name for a in live.activities}


async def test_homescreen_usual_plans_boost_and_limit(
    sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    response = await client.get(
        "/homescreen",
        params=[("h3_cell", BROOKLYN_CELL), ("usual_plans", "staying-active"), ("limit", "3")],
        headers=NEGOTIATED,
    )

    activities = ShelvesResponse.model_validate(response.json()).shelves[0].activities
    assert len(activities) == 3
    first = sandbox.state.catalogue.get(activities[0].activity_id)
    assert first is not None and "staying-active" in first.suitability


async def test_homescreen_far_from_any_activity_uses_the_nearest_city(
    client: httpx.AsyncClient,
) -> None:
    sacramento = str(h3.latlng_to_cell(38.5816, -121.4944, 7))

    response = await client.get("/homescreen", params={"h3_cell": sacramento}, headers=SELF_SERVE)

    shelves = ShelvesResponse.model_validate(response.json())
    assert shelves.city == "san-francisco"
    assert shelves.shelves[0].activities
    for a in shelves.shelves[0].activities:
        assert a.location is not None and 37.7 < a.location.lat < 37.85


@pytest.mark.parametrize(
    ("params", "loc", "type_"),
    [
        ({"h3_cell": "not-a-cell"}, ["query", "h3_cell"], "value_error"),
        ({"h3_cell": "8" * 40}, ["query", "h3_cell"], "value_error"),
        ({"h3_cell": f"0x{BROOKLYN_CELL}"}, ["query", "h3_cell"], "value_error"),
        ({"h3_cell": str(h3.latlng_to_cell(40.7, -73.95, 8))}, ["query", "h3_cell"], "value_error"),
        ({}, ["query", "h3_cell"], "missing"),
        ({"h3_cell": BROOKLYN_CELL, "limit": "0"}, ["query", "limit"], "greater_than_equal"),
        ({"h3_cell": BROOKLYN_CELL, "limit": "251"}, ["query", "limit"], "less_than_equal"),
        (
            {"h3_cell": BROOKLYN_CELL, "booking_filter": "cheap"},
            ["query", "booking_filter"],
            "enum",
        ),
        ({"h3_cell": BROOKLYN_CELL, "shelved": "maybe"}, ["query", "shelved"], "bool_parsing"),
    ],
)
async def test_homescreen_invalid_query_is_422(
    client: httpx.AsyncClient, params: dict[str, str], loc: list[str], type_: str
) -> None:
    response = await client.get("/homescreen", params=params, headers=SELF_SERVE)

    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert (detail["loc"], detail["type"]) == (loc, type_)
    assert detail["msg"]


async def test_h3_converts_lat_lng(client: httpx.AsyncClient) -> None:
    ok = await client.get("/h3", params={"lat": 40.7058, "lng": -73.9562}, headers=SELF_SERVE)
    res9 = await client.get(
        "/h3", params={"lat": 40.7058, "lng": -73.9562, "resolution": 9}, headers=SELF_SERVE
    )
    bad = await client.get("/h3", params={"lat": 100, "lng": 0}, headers=SELF_SERVE)

    assert ok.json() == {"h3_cell": BROOKLYN_CELL, "resolution": 7, "lat": 40.7058, "lng": -73.9562}
    assert res9.json()["h3_cell"] == h3.latlng_to_cell(40.7058, -73.9562, 9)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "lat"]


# --------------------------------------------------------------------------- activities


async def test_activity_detail_carries_the_injection_text_verbatim(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"/activities/{INJECTION_ID}", headers=NEGOTIATED)

    assert response.status_code == 200
    detail = PartnerActivityDetail.model_validate(response.json())
    assert detail.name == "Midnight Jazz Jam Session"
    assert detail.short_description is not None
    assert "IGNORE ALL PREVIOUS INSTRUCTIONS" in detail.short_description
    assert detail.is_bookable and detail.ticket_price is not None
    vip = next(t for t in detail.ticket_price.sessions[0].tickets if t.name == "VIP")
    assert (vip.total, vip.max_quantity) == (95.0, 10)
    assert detail.upcoming_datetimes and detail.venue == "Sistas' Place"
    assert datetime.fromisoformat(detail.upcoming_datetimes[0]) > datetime.now(UTC)


async def test_unknown_activity_is_404_and_bad_uuid_is_422(client: httpx.AsyncClient) -> None:
    unknown = await client.get(
        "/activities/00000000-0000-4000-8000-000000000000", headers=NEGOTIATED
    )
    bad = await client.get("/activities/not-a-uuid", headers=NEGOTIATED)
    bad_prices = await client.get("/activities/not-a-uuid/prices", headers=NEGOTIATED)

    assert unknown.status_code == 404
    assert unknown.json() == {"error": "Activity not found"}
    assert bad.status_code == bad_prices.status_code == 422
    [detail] = bad.json()["detail"]
    assert (detail["loc"], detail["type"]) == (["path", "activity_id"], "uuid_parsing")


async def test_prices_report_scrape_status(
    sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    async def prices(slug: str) -> PricesResponse:
        activity_id = by_slug(sandbox, slug).activity_id
        response = await client.get(f"/activities/{activity_id}/prices", headers=SELF_SERVE)
        assert response.status_code == 200
        return PricesResponse.model_validate(response.json())

    jam = await prices("sistas-place-midnight-jam")
    museum = await prices("brooklyn-museum")
    globe = await prices("globe-twelfth-night")

    assert jam.scrape_status == "success" and jam.ticket_price is not None
    assert jam.ticket_price.label == "$17-$95"
    assert (museum.scrape_status, museum.ticket_price) == ("no_prices", None)
    assert (globe.scrape_status, globe.ticket_price) == ("error", None)


# --------------------------------------------------------------------------- users


async def test_provisioning_is_idempotent_and_links_by_email(client: httpx.AsyncClient) -> None:
    alice = {
        "external_user_id": "alice",
        "email": "Alice@Example.com",
        "usual_plans": ["date-nights"],
    }

    first = await client.post("/users", headers=NEGOTIATED_KEY_ONLY, json=alice)
    again = await client.post(
        "/users", headers=NEGOTIATED_KEY_ONLY, json={**alice, "city": "new-york"}
    )
    linked = await client.post(
        "/users",
        headers=NEGOTIATED_KEY_ONLY,
        json={"external_user_id": "alice-2", "email": "alice@example.com"},
    )
    wrong = await client.post(
        "/users",
        headers=NEGOTIATED_KEY_ONLY,
        json={"external_user_id": "bob", "usual_plans": ["naps"]},
    )
    missing = await client.post(
        "/users", headers=NEGOTIATED_KEY_ONLY, json={"email": "x@example.com"}
    )
    mismatch = await client.post("/users", headers=NEGOTIATED, json={"external_user_id": "zed"})

    assert first.status_code == again.status_code == linked.status_code == 201
    assert first.json() == {
        "external_user_id": "alice",
        "created": True,
        "linked": False,
        "updated": True,
    }
    assert again.json() == {
        "external_user_id": "alice",
        "created": False,
        "linked": False,
        "updated": True,
    }
    assert linked.json() == {
        "external_user_id": "alice-2",
        "created": False,
        "linked": True,
        "updated": False,
    }
    assert wrong.status_code == 400 and "naps" in wrong.json()["error"]
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "external_user_id"]
    assert mismatch.status_code == 400


async def test_orders_of_a_user_without_bookings_are_empty(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders", headers=NEGOTIATED)

    assert response.status_code == 200
    assert response.json() == {"bookings": [], "deliverables": [], "emails": []}


# --------------------------------------------------------------------------- slack bind


async def test_bind_workspace_once_per_key() -> None:
    other_key = "og_api_sandbox_other_partner"
    config = SandboxConfig.fast(negotiated_keys=frozenset({DEFAULT_NEGOTIATED_KEY, other_key}))
    async with (
        running_outgoing_sandbox(config) as sandbox,
        httpx.AsyncClient(base_url=f"{sandbox.base_url}/partner/v1") as client,
    ):
        sandbox.state.add_bind_token(
            "old-token", "T0OLD", expires_at=datetime.now(UTC) - timedelta(days=1)
        )
        body = {"bind_token": DEFAULT_BIND_TOKEN}
        first = await client.post("/slack/workspaces/bind", headers=SELF_SERVE, json=body)
        again = await client.post("/slack/workspaces/bind", headers=SELF_SERVE, json=body)
        other = await client.post(
            "/slack/workspaces/bind", headers={"Authorization": f"Bearer {other_key}"}, json=body
        )
        unknown = await client.post(
            "/slack/workspaces/bind", headers=SELF_SERVE, json={"bind_token": "nope"}
        )
        expired = await client.post(
            "/slack/workspaces/bind", headers=SELF_SERVE, json={"bind_token": "old-token"}
        )
        empty = await client.post("/slack/workspaces/bind", headers=SELF_SERVE, json={})

    assert first.json() == {"ok": True, "team_id": DEFAULT_BIND_TEAM_ID, "bound": True}
    assert again.json() == {"ok": True, "team_id": DEFAULT_BIND_TEAM_ID, "bound": False}
    assert other.status_code == 409 and "another API key" in other.json()["error"]
    assert unknown.status_code == 404 and unknown.json() == {"error": "Unknown bind token."}
    assert expired.status_code == 400 and "expired" in expired.json()["error"]
    assert empty.status_code == 422


# --------------------------------------------------------------------------- faults & journal


async def test_forced_responses_are_served_once_in_order(
    sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    unavailable = ForcedResponse(
        "/partner/v1/search", status=503, headers={"Retry-After": "0"}, method="GET"
    )
    sandbox.state.force(
        unavailable,
        unavailable,
        ForcedResponse("/partner/v1/activities/{activity_id}", status=500, body="boom"),
    )

    searches = [
        await client.get("/search", params={"prompt": "jazz"}, headers=SELF_SERVE) for _ in range(3)
    ]
    detail = await client.get(f"/activities/{INJECTION_ID}", headers=NEGOTIATED)
    detail_again = await client.get(f"/activities/{INJECTION_ID}", headers=NEGOTIATED)

    assert [r.status_code for r in searches] == [503, 503, 200]
    assert searches[0].headers["Retry-After"] == "0"
    assert searches[0].json() == {"error": "Service Unavailable"}
    assert (detail.status_code, detail.text) == (500, "boom")
    assert detail_again.status_code == 200
    assert sandbox.state.pending_forced == 0
    journal = sandbox.state.requests_to("/partner/v1/search")
    assert [e.status for e in journal] == [503, 503, 200]


async def test_journal_records_what_the_partner_received_without_the_key(
    sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    await client.post(
        "/users", headers={**NEGOTIATED, "X-Trace": "t-1"}, json={"external_user_id": "u-1"}
    )

    [entry] = sandbox.state.requests_to("/partner/v1/users", method="POST")
    assert entry.body == {"external_user_id": "u-1"}
    assert entry.headers["x-external-user-id"] == "u-1"
    assert entry.headers["x-trace"] == "t-1"
    assert "authorization" not in entry.headers
    assert DEFAULT_NEGOTIATED_KEY not in repr(entry)
    assert entry.key_fingerprint == key_fingerprint(DEFAULT_NEGOTIATED_KEY)
    assert entry.status == 201


async def test_unknown_route_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/nothing-here", headers=SELF_SERVE)

    assert response.status_code == 404
    assert response.json() == {"error": "Not Found"}
