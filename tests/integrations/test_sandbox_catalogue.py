"""The sandbox's fixture catalogue and its loopback server helper."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import h3
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from integrations.sandbox import SandboxConfig, SandboxState, serve_in_background
from integrations.sandbox.catalogue import Catalogue

NOW = datetime(2026, 3, 14, 23, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.load(NOW)


def test_catalogue_is_large_and_covers_the_demo_cities(catalogue: Catalogue) -> None:
    cities = {a.city.slug for a in catalogue.activities}

    assert len(catalogue.activities) >= 36
    assert {"new-york", "san-francisco", "paris", "london"} <= cities
    assert len({a.activity_id for a in catalogue.activities}) == len(catalogue.activities)
    assert all(str(uuid.UUID(a.activity_id)) == a.activity_id for a in catalogue.activities)


def test_every_activity_is_complete_and_placed_in_its_h3_cell(catalogue: Catalogue) -> None:
    for a in catalogue.activities:
        assert a.name and a.short_description and a.venue and a.semantic_location, a.slug
        assert a.highlights and a.categories and a.tips, a.slug
        assert a.picture_url == f"https://picsum.photos/seed/{a.slug}/800/500"
        assert h3.get_resolution(a.h3_cell) == 7
        assert a.h3_cell == h3.latlng_to_cell(a.lat, a.lng, 7)
        city_km = h3.great_circle_distance((a.lat, a.lng), (a.city.lat, a.city.lng), unit="km")
        assert city_km < 25, a.slug
        if a.is_bookable:
            assert a.ticket_price is not None and a.estimated_fulfillment in {"instant", "delayed"}
            assert a.ticket_price.currency == "USD", a.slug  # authorization is in USD cents


def test_dates_are_in_the_future_and_sessions_match_them(catalogue: Catalogue) -> None:
    dated = [a for a in catalogue.activities if a.starts]

    assert len(dated) >= 25
    for a in dated:
        assert all(start > NOW for start in a.starts), a.slug
        assert list(a.starts) == sorted(a.starts)
        if a.ticket_price is not None:
            sessions = [(s.date, s.time) for s in a.ticket_price.sessions]
            assert sessions == [(f"{s:%Y-%m-%d}", f"{s:%H:%M}") for s in a.starts], a.slug
    later = Catalogue.load(NOW + timedelta(days=40))
    assert later.activities[0].starts[0] > NOW + timedelta(days=40)


def test_tickets_are_consistent(catalogue: Catalogue) -> None:
    for a in catalogue.activities:
        if a.ticket_price is None:
            continue
        assert a.ticket_price.sessions, a.slug
        for session in a.ticket_price.sessions:
            names = [t.name for t in session.tickets]
            assert len(names) == len(set(names)), a.slug
            for t in session.tickets:
                assert t.total == round(t.price + t.fee, 2)
                assert t.is_free == (t.total == 0)
                assert t.on_sale_status == ("AVAILABLE" if t.available else "SOLD_OUT")
                assert t.max_quantity is None or t.max_quantity >= t.min_quantity >= 1


def test_catalogue_has_the_cases_the_demo_and_tests_need(catalogue: Catalogue) -> None:
    acts = catalogue.activities
    brooklyn_jazz = [a for a in acts if "jazz" in a.categories and "brooklyn" in a.areas]
    injected = [a for a in acts if "IGNORE ALL PREVIOUS INSTRUCTIONS" in a.short_description]
    tickets = [
        t for a in acts if a.ticket_price for s in a.ticket_price.sessions for t in s.tickets
    ]

    assert len(brooklyn_jazz) >= 4
    assert [a.activity_id for a in injected] == ["177e098b-67e1-5dc6-8c51-0a498c36e4f9"]
    assert any(a.ticket_price and len(a.ticket_price.sessions) > 1 for a in acts)  # multi-session
    assert any(a.ticket_price is None and not a.is_bookable for a in acts)  # walk-in / free
    assert any(a.ticket_price is not None and not a.is_bookable for a in acts)  # link only
    assert any(a.is_bookable and a.is_free for a in acts)  # free RSVP through the API
    assert any(not t.available for t in tickets)
    assert any(t.category == "add_on" for t in tickets)
    assert any(t.min_quantity > 1 for t in tickets)
    assert any(t.fee > 0 for t in tickets) and any(t.is_free for t in tickets)
    assert {a.estimated_fulfillment for a in acts if a.is_bookable} == {"instant", "delayed"}


def test_state_rebuilds_the_catalogue_when_the_day_changes() -> None:
    state = SandboxState(SandboxConfig.fast(now=NOW))
    first = state.catalogue

    assert state.catalogue is first
    state.config = SandboxConfig.fast(now=NOW + timedelta(days=2))
    assert state.catalogue is not first
    assert state.catalogue.activities[0].starts[0] > NOW + timedelta(days=2)


# --------------------------------------------------------------------------- server helper


async def _hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


async def test_serve_in_background_uses_ephemeral_ports_and_shuts_down() -> None:
    app = Starlette(routes=[Route("/", _hello)])
    async with serve_in_background(app) as first, serve_in_background(app) as second:
        assert first != second and first.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient() as client:
            assert (await client.get(first)).text == "hello"
            assert (await client.get(second)).text == "hello"

    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(first)


async def test_serve_in_background_runs_the_lifespan_and_reports_startup_failure() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    async with serve_in_background(Starlette(lifespan=lifespan)):
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]

    @asynccontextmanager
    async def broken(app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield

    with pytest.raises(RuntimeError, match="failed to start"):
        async with serve_in_background(Starlette(lifespan=broken)):
            pass


async def test_loopback_round_trips_take_milliseconds() -> None:
    """Guards the TCP_NODELAY detail of the pre-bound socket (a 40 ms delayed-ACK stall)."""
    app = Starlette(routes=[Route("/", _hello)])
    async with serve_in_background(app) as url, httpx.AsyncClient() as client:
        await client.get(url)
        started = time.perf_counter()
        for _ in range(20):
            await client.get(url)
        elapsed = time.perf_counter() - started

    assert elapsed < 0.5  # ~0.9 s with the stall
