"""OutgoingClient against the Outgoing sandbox served over real loopback HTTP (every endpoint)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from prometheus_client import CollectorRegistry

from integrations.errors import (
    Forbidden,
    InteractionRequired,
    NotFound,
    PaymentRequired,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)
from integrations.metrics import PartnerMetrics
from integrations.outgoing import KeyKind, OutgoingClient
from integrations.outgoing.models import (
    BookingFilter,
    BookingStatus,
    BookingTicketItem,
    BookingWebhookPayload,
    CreateBookingRequest,
    PaymentMode,
    ProvisionUserRequest,
)
from integrations.retry import Retrier
from integrations.sandbox import (
    DEFAULT_BIND_TEAM_ID,
    DEFAULT_BIND_TOKEN,
    DEFAULT_NEGOTIATED_KEY,
    DEFAULT_SELF_SERVE_KEY,
    DEFAULT_TRIAL_EXHAUSTED_KEY,
    ForcedResponse,
    RunningSandbox,
    SandboxConfig,
    WebhookReceiver,
    running_outgoing_sandbox,
    serve_in_background,
)

USER = "cg_sandbox_user"
BROOKLYN = (40.7081, -73.9571)
BOOKABLE_SLUG = "bar-lunatico-late-set"
MISSING_ACTIVITY = "00000000-0000-4000-8000-000000000000"


@dataclass
class Sleeps:
    delays: list[float] = field(default_factory=list)

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@dataclass
class World:
    sandbox: RunningSandbox
    http: httpx.AsyncClient
    sleeps: Sleeps
    registry: CollectorRegistry
    metrics: PartnerMetrics
    receiver: WebhookReceiver
    webhook_url: str

    def client(self, key: str, kind: KeyKind) -> OutgoingClient:
        return OutgoingClient(
            self.http,
            api_key=key,
            key_kind=kind,
            base_url=self.sandbox.base_url,
            retrier=Retrier(sleep=self.sleeps, random=lambda: 0.5),
            metrics=self.metrics,
        )

    @property
    def negotiated(self) -> OutgoingClient:
        return self.client(DEFAULT_NEGOTIATED_KEY, KeyKind.NEGOTIATED)

    @property
    def self_serve(self) -> OutgoingClient:
        return self.client(DEFAULT_SELF_SERVE_KEY, KeyKind.SELF_SERVE)

    def booking(
        self,
        idempotency_key: str,
        *,
        mode: PaymentMode = PaymentMode.DRY_RUN_SUCCESS,
        num_tickets: int = 2,
    ) -> CreateBookingRequest:
        activity = next(
            a for a in self.sandbox.state.catalogue.activities if a.slug == BOOKABLE_SLUG
        )
        assert activity.ticket_price is not None
        session = activity.ticket_price.sessions[0]
        ticket = next(t for t in session.tickets if t.available and t.category != "add_on")
        return CreateBookingRequest(
            external_user_id=USER,
            activity_id=activity.activity_id,
            tickets=[
                BookingTicketItem(
                    ticket_type_name=ticket.name,
                    num_tickets=num_tickets,
                    session_date=session.date,
                    session_time=session.time,
                )
            ],
            authorization_amount_cents=round(ticket.total * 100) * num_tickets,
            idempotency_key=idempotency_key,
            webhook_url=self.webhook_url,
            payment_mode=mode,
        )

    async def webhooks(self, count: int) -> list[BookingWebhookPayload]:
        async with asyncio.timeout(5):
            received = await self.receiver.wait_for(count)
            await self.sandbox.state.wait_for_webhooks()
        return [BookingWebhookPayload.model_validate(r.json()) for r in received]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    receiver = WebhookReceiver()
    async with (
        running_outgoing_sandbox(SandboxConfig.fast()) as sandbox,
        serve_in_background(receiver.app) as hooks,
        httpx.AsyncClient() as http,  # no base_url: OutgoingClient gets it explicitly
    ):
        registry = CollectorRegistry()
        yield World(
            sandbox=sandbox,
            http=http,
            sleeps=Sleeps(),
            registry=registry,
            metrics=PartnerMetrics(registry),
            receiver=receiver,
            webhook_url=f"{hooks}/webhooks/outgoing/tok",
        )


# --------------------------------------------------------------------------- auth


async def test_auth_and_key_kind_detection(world: World) -> None:
    assert await world.negotiated.check_auth() == {"ok": True}
    assert await world.self_serve.check_auth() == {"ok": True}
    assert await world.negotiated.detect_key_kind() is KeyKind.NEGOTIATED
    assert await world.self_serve.detect_key_kind() is KeyKind.SELF_SERVE
    unknown = world.client(DEFAULT_NEGOTIATED_KEY, KeyKind.SELF_SERVE)
    assert await unknown.detect_key_kind() is KeyKind.NEGOTIATED


@pytest.mark.parametrize(
    ("key", "code"), [("og_api_abc", "key_malformed"), ("og_api_unknown_key_123", "key_invalid")]
)
async def test_refused_keys(world: World, key: str, code: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        await world.client(key, KeyKind.SELF_SERVE).check_auth()
    assert caught.value.code == code
    assert caught.value.message
    assert key not in str(caught.value)
    assert world.sleeps.delays == []


# --------------------------------------------------------------------------- discovery


async def test_discovery_endpoints(world: World) -> None:
    client = world.negotiated
    provisioned = await client.provision_user(
        USER, ProvisionUserRequest(external_user_id=USER, city="new-york")
    )
    assert (provisioned.created, provisioned.linked, provisioned.updated) == (True, False, True)
    again = await client.provision_user(USER, ProvisionUserRequest(external_user_id=USER))
    assert again.created is False

    cell = await client.h3_cell(*BROOKLYN)
    assert (cell.resolution, cell.lat, cell.lng) == (7, *BROOKLYN)

    shelves = await client.homescreen(
        cell.h3_cell,
        usual_plans=["date-nights"],
        shelved=True,
        booking_filter=BookingFilter.BOOKABLE,
        limit=5,
        user=USER,
        language="en",
    )
    assert shelves.h3_cell == cell.h3_cell
    activities = [a for shelf in shelves.shelves for a in shelf.activities]
    assert activities
    assert all(a.is_bookable for a in activities)
    assert all(len(shelf.activities) <= 5 for shelf in shelves.shelves)

    found = await client.search("live jazz", location="Brooklyn", user=USER)
    assert found.message
    first = next(r for r in found.results if r.activity_id)
    assert first.activity_id is not None

    detail = await client.get_activity(first.activity_id, user=USER)
    assert detail.activity_id == first.activity_id
    prices = await client.get_prices(first.activity_id)
    assert prices.activity_id == first.activity_id
    assert prices.scrape_status in {"success", "no_prices", "error"}

    orders = await client.list_orders(user=USER)
    assert orders.bookings == []


async def test_self_serve_key_never_sends_the_user_header(world: World) -> None:
    client = world.self_serve
    found = await client.search("museum", user=USER)  # the sandbox answers 400 to a stray header
    activity_id = next(r.activity_id for r in found.results if r.activity_id)
    await client.get_activity(activity_id, user=USER)
    await client.list_orders(user=USER)
    entries = world.sandbox.state.requests_to("/partner/v1/activities/{activity_id}")
    assert entries and all("x-external-user-id" not in e.headers for e in entries)
    with pytest.raises(Forbidden) as caught:
        await client.provision_user(USER, ProvisionUserRequest(external_user_id=USER))
    assert "negotiated" in caught.value.message


async def test_negotiated_key_without_user_sends_nothing(world: World) -> None:
    with pytest.raises(ValueError):
        await world.negotiated.list_orders()
    assert world.sandbox.state.requests_to("/partner/v1/orders") == []


async def test_errors_from_the_sandbox(world: World) -> None:
    client = world.negotiated
    with pytest.raises(NotFound) as missing:
        await client.get_activity(MISSING_ACTIVITY, user=USER)
    assert missing.value.message == "Activity not found"
    with pytest.raises(ValidationFailed) as invalid:
        await client.h3_cell(123.0, 0.0)
    assert invalid.value.detail
    assert any("lat" in item["loc"] for item in invalid.value.detail)
    assert world.sleeps.delays == []
    assert len(world.sandbox.state.requests_to("/partner/v1/h3")) == 1


# --------------------------------------------------------------------------- bookings


async def test_booking_flow_with_webhooks_and_orders(world: World) -> None:
    client = world.negotiated
    await client.provision_user(USER, ProvisionUserRequest(external_user_id=USER))
    request = world.booking("idem-flow")
    accepted = await client.create_booking(request, user=USER)
    assert (accepted.status, accepted.idempotency_key) == ("accepted", "idem-flow")

    pending, confirmed = await world.webhooks(2)
    assert [pending.status, confirmed.status] == [BookingStatus.PENDING, BookingStatus.CONFIRMED]
    assert confirmed.booking_id == accepted.booking_id
    assert confirmed.authorization_amount_cents == request.authorization_amount_cents

    replay = await client.create_booking(request, user=USER)
    assert replay.booking_id == accepted.booking_id
    assert replay.status == "confirmed"  # a replay reports the current status

    orders = await client.list_orders(user=USER)
    assert [b.id for b in orders.bookings] == [accepted.booking_id]


async def test_booking_503_and_429_retried_with_same_key_and_bytes(world: World) -> None:
    client = world.negotiated
    await client.provision_user(USER, ProvisionUserRequest(external_user_id=USER))
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    world.sandbox.state.force(
        ForcedResponse("/partner/v1/bookings", 503, {"Retry-After": "1"}, method="POST"),
        ForcedResponse("/partner/v1/bookings", 429, {"Retry-After": when}, method="POST"),
    )
    accepted = await client.create_booking(world.booking("idem-retry"), user=USER)
    posts = world.sandbox.state.requests_to("/partner/v1/bookings", "POST")
    assert [p.status for p in posts] == [503, 429, 202]
    assert len({p.raw_body for p in posts}) == 1
    assert {p.body["idempotency_key"] for p in posts} == {"idem-retry"}
    assert world.sleeps.delays[0] == 1.0
    assert 15 <= world.sleeps.delays[1] <= 20  # the HTTP-date, seen from this clock
    assert len(world.sandbox.state.bookings) == 1
    assert next(iter(world.sandbox.state.bookings)) == accepted.booking_id
    await world.webhooks(2)


async def test_live_purchase_without_card_is_final(world: World) -> None:
    client = world.negotiated
    await client.provision_user(USER, ProvisionUserRequest(external_user_id=USER))
    with pytest.raises(PaymentRequired) as caught:
        await client.create_booking(
            world.booking("idem-live", mode=PaymentMode.LIVE_PURCHASE), user=USER
        )
    assert caught.value.message == (
        "This API key is not authorized to charge the stored payment card."
    )
    assert len(world.sandbox.state.requests_to("/partner/v1/bookings", "POST")) == 1


async def test_rate_limit_exhausts_retries(world: World) -> None:
    world.sandbox.state.force(
        *[ForcedResponse("/partner/v1/auth", 429, {"Retry-After": "2"}) for _ in range(3)]
    )
    with pytest.raises(RateLimited) as caught:
        await world.negotiated.check_auth()
    assert caught.value.retry_after == 2.0
    assert world.sleeps.delays == [2.0, 2.0]
    assert len(world.sandbox.state.requests_to("/partner/v1/auth")) == 3


# --------------------------------------------------------------------------- slack + aauth


async def test_bind_slack_workspace(world: World) -> None:
    first = await world.negotiated.bind_slack_workspace(DEFAULT_BIND_TOKEN)
    assert (first.ok, first.team_id, first.bound) == (True, DEFAULT_BIND_TEAM_ID, True)
    again = await world.negotiated.bind_slack_workspace(DEFAULT_BIND_TOKEN)
    assert again.bound is False
    with pytest.raises(NotFound):
        await world.negotiated.bind_slack_workspace("no-such-token")


async def test_aauth_interaction_round_trip(world: World) -> None:
    agent = world.client(DEFAULT_TRIAL_EXHAUSTED_KEY, KeyKind.SELF_SERVE)
    with pytest.raises(InteractionRequired) as caught:
        await agent.search("jazz")
    interaction = caught.value
    assert interaction.poll_url.startswith(f"{world.sandbox.base_url}/partner/v1/aauth/")
    assert interaction.state
    assert world.sleeps.delays == []
    assert await agent.poll_aauth_interaction(interaction.state) is False

    page = await world.http.get(interaction.browser_url)  # the user's browser
    assert page.status_code == 200

    assert await agent.poll_aauth_interaction(interaction.state) is True
    assert (await agent.search("jazz")).message


async def test_metrics_recorded_per_route_template(world: World) -> None:
    with pytest.raises(NotFound):
        await world.negotiated.get_activity(MISSING_ACTIVITY, user=USER)
    labels = {
        "partner": "outgoing",
        "endpoint": "GET /partner/v1/activities/{activity_id}",
        "status": "404",
    }
    assert world.registry.get_sample_value("concierge_partner_errors_total", labels) == 1.0
    assert world.registry.get_sample_value("concierge_partner_request_seconds_count", labels) == 1.0
