"""Bookings against the Outgoing sandbox: validation, idempotency, webhooks, orders."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from integrations.outgoing.models import BookingWebhookPayload, OrdersResponse
from integrations.sandbox import (
    DEFAULT_NEGOTIATED_KEY,
    RunningSandbox,
    SandboxConfig,
    WebhookReceiver,
    running_outgoing_sandbox,
    serve_in_background,
)
from integrations.sandbox.catalogue import Activity

KEY_ONLY = {"Authorization": f"Bearer {DEFAULT_NEGOTIATED_KEY}"}
AS_USER = {**KEY_ONLY, "X-External-User-Id": "u-1"}


class Harness:
    """A sandbox, a client on it, and a webhook receiver on loopback."""

    def __init__(
        self,
        sandbox: RunningSandbox,
        client: httpx.AsyncClient,
        receiver: WebhookReceiver,
        hook: str,
    ) -> None:
        self.sandbox = sandbox
        self.client = client
        self.receiver = receiver
        self.webhook_url = hook

    def activity(self, slug: str) -> Activity:
        return next(a for a in self.sandbox.state.catalogue.activities if a.slug == slug)

    def body(
        self,
        slug: str,
        tickets: list[dict[str, Any]],
        amount: int,
        *,
        key: str = "idem-1",
        user: str = "u-1",
        mode: str = "dry_run_success",
    ) -> dict[str, Any]:
        return {
            "external_user_id": user,
            "activity_id": self.activity(slug).activity_id,
            "tickets": tickets,
            "authorization_amount_cents": amount,
            "idempotency_key": key,
            "webhook_url": self.webhook_url,
            "payment_mode": mode,
        }

    def session(self, slug: str, index: int = 0) -> dict[str, str | None]:
        price = self.activity(slug).ticket_price
        assert price is not None
        return {
            "session_date": price.sessions[index].date,
            "session_time": price.sessions[index].time,
        }

    async def book(self, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post("/bookings", headers=KEY_ONLY, json=body)

    async def webhooks(self, count: int) -> list[BookingWebhookPayload]:
        async with asyncio.timeout(5):
            received = await self.receiver.wait_for(count)
            await self.sandbox.state.wait_for_webhooks()
        return [BookingWebhookPayload.model_validate(r.json()) for r in received]

    async def orders(self, user: str = "u-1") -> OrdersResponse:
        response = await self.client.get(
            "/orders", headers={**KEY_ONLY, "X-External-User-Id": user}
        )
        assert response.status_code == 200
        return OrdersResponse.model_validate(response.json())


@asynccontextmanager
async def _harness(config: SandboxConfig, statuses: tuple[int, ...] = ()) -> AsyncIterator[Harness]:
    receiver = WebhookReceiver(statuses)
    async with (
        running_outgoing_sandbox(config) as sandbox,
        serve_in_background(receiver.app) as hooks,
        httpx.AsyncClient(base_url=f"{sandbox.base_url}/partner/v1", timeout=5) as client,
    ):
        for user in ("u-1", "u-2"):
            response = await client.post(
                "/users", headers=KEY_ONLY, json={"external_user_id": user}
            )
            assert response.status_code == 201
        yield Harness(sandbox, client, receiver, f"{hooks}/webhooks/outgoing/secret-token")


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    async with _harness(SandboxConfig.fast()) as harness:
        yield harness


# --------------------------------------------------------------------------- happy paths


async def test_dry_run_success_posts_pending_then_confirmed(h: Harness) -> None:
    body = h.body(
        "bar-lunatico-late-set",
        [
            {
                "ticket_type_name": "General Admission",
                "num_tickets": 2,
                **h.session("bar-lunatico-late-set"),
            }
        ],
        4500,
    )

    response = await h.book(body)

    assert response.status_code == 202
    accepted = response.json()
    assert accepted["status"] == "accepted" and accepted["idempotency_key"] == "idem-1"
    pending, confirmed = await h.webhooks(2)
    assert h.receiver.received[0].path == "/webhooks/outgoing/secret-token"
    assert h.receiver.received[0].headers["content-type"] == "application/json"
    assert [pending.status, confirmed.status] == ["pending", "confirmed"]
    for payload in (pending, confirmed):
        assert payload.booking_id == accepted["booking_id"]
        assert payload.idempotency_key == "idem-1"
        assert payload.activity_id == body["activity_id"]
        assert payload.external_user_id == "u-1"
        assert payload.authorization_amount_cents == 4500
        assert [t.model_dump() for t in payload.tickets] == body["tickets"]
    assert pending.ticket_details is None and pending.purchase_amount_cents is None
    assert confirmed.purchase_amount_cents == 4500
    assert confirmed.total_charged_cents == 4500 + confirmed.booking_fee_cents
    assert confirmed.ticket_details is not None
    assert confirmed.ticket_details.confirmation_code
    assert "Bar LunÀtico" in (confirmed.ticket_details.notes or "")
    assert len(confirmed.ticket_details.download_urls) == 2
    ticket = await h.client.get(confirmed.ticket_details.download_urls[0])
    assert ticket.status_code == 200 and ticket.content.startswith(b"%PDF")

    orders = await h.orders()
    [booking] = orders.bookings
    assert (booking.id, booking.status) == (accepted["booking_id"], "confirmed")
    assert booking.activity_name == "Late Set: Brooklyn Jazz Quartet"
    assert booking.authorization_amount_cents == 4500
    assert len(orders.deliverables) == 2
    assert {d.partner_booking_id for d in orders.deliverables} == {booking.id}
    [email] = orders.emails
    assert email.classification == "booking_confirmation"


async def test_dry_run_failure_posts_failed(h: Harness) -> None:
    body = h.body(
        "sistas-place-midnight-jam",
        [{"ticket_type_name": "VIP", "num_tickets": 1}],
        9500,
        mode="dry_run_failure",
    )

    response = await h.book(body)

    assert response.status_code == 202
    pending, failed = await h.webhooks(2)
    assert [pending.status, failed.status] == ["pending", "failed"]
    assert failed.error_message and failed.ticket_details is None
    assert failed.total_charged_cents is None
    orders = await h.orders()
    assert [b.status for b in orders.bookings] == ["failed"]
    assert orders.deliverables == []


async def test_delayed_fulfilment_sends_deliverable_ready_last(h: Harness) -> None:
    session = h.session("roulette-avant-jazz-series", 2)
    body = h.body(
        "roulette-avant-jazz-series",
        [
            {"ticket_type_name": "General Admission", "num_tickets": 1, **session},
            {"ticket_type_name": "Signed Vinyl", "num_tickets": 1, **session},
        ],
        3450 + 2500,
    )

    assert (await h.book(body)).status_code == 202

    statuses = [p.status for p in await h.webhooks(3)]
    assert statuses == ["pending", "confirmed", "deliverable_ready"]
    last = BookingWebhookPayload.model_validate(h.receiver.received[-1].json())
    assert last.ticket_details is not None and len(last.ticket_details.download_urls) == 2
    confirmed = BookingWebhookPayload.model_validate(h.receiver.received[1].json())
    assert confirmed.ticket_details is not None and confirmed.ticket_details.download_urls == []


async def test_free_rsvp_booking_needs_no_authorization(h: Harness) -> None:
    session = h.session("brooklyn-bridge-park-kayak", 1)
    body = h.body(
        "brooklyn-bridge-park-kayak",
        [{"ticket_type_name": "Free Kayak Slot", "num_tickets": 2, **session}],
        0,
    )

    assert (await h.book(body)).status_code == 202
    assert [p.status for p in await h.webhooks(2)] == ["pending", "confirmed"]


# --------------------------------------------------------------------------- idempotency


async def test_same_key_and_body_replays_the_same_booking(h: Harness) -> None:
    body = h.body("sistas-place-midnight-jam", [{"ticket_type_name": "General Admission"}], 1700)

    first, second = await asyncio.gather(h.book(body), h.book(body))
    await h.webhooks(2)
    replay = await h.book(body)

    assert first.status_code == second.status_code == replay.status_code == 202
    ids = {r.json()["booking_id"] for r in (first, second, replay)}
    assert len(ids) == 1
    assert replay.json()["status"] == "confirmed"
    assert len(h.sandbox.state.bookings) == 1
    assert [p.status for p in await h.webhooks(2)] == ["pending", "confirmed"]
    assert len(h.receiver.received) == 2


async def test_same_key_with_another_body_is_rejected(h: Harness) -> None:
    body = h.body("sistas-place-midnight-jam", [{"ticket_type_name": "General Admission"}], 1700)
    assert (await h.book(body)).status_code == 202

    changed = await h.book({**body, "authorization_amount_cents": 9999})

    assert changed.status_code == 422
    [detail] = changed.json()["detail"]
    assert detail["loc"] == ["body", "idempotency_key"]
    assert detail["type"] == "idempotency_key_reused"
    assert len(h.sandbox.state.bookings) == 1


# --------------------------------------------------------------------------- validation


async def test_authorization_below_the_total_is_rejected(h: Harness) -> None:
    body = h.body(
        "sistas-place-midnight-jam", [{"ticket_type_name": "VIP", "num_tickets": 10}], 85000
    )

    response = await h.book(body)

    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["body", "authorization_amount_cents"]
    assert detail["type"] == "insufficient_authorization"
    assert "95000" in detail["msg"]
    assert h.sandbox.state.bookings == {}
    await h.sandbox.state.wait_for_webhooks()
    assert h.receiver.received == []


def _ticket(name: str, num: int = 1, **session: str | None) -> dict[str, Any]:
    return {"ticket_type_name": name, "num_tickets": num, **session}


@pytest.mark.parametrize(
    ("slug", "tickets", "loc", "type_"),
    [
        (
            "sistas-place-midnight-jam",
            [_ticket("Platinum")],
            ["body", "tickets", 0, "ticket_type_name"],
            "ticket_type_not_found",
        ),
        (
            "brooklyn-bowl-big-band",
            [_ticket("VIP Lane Package")],
            ["body", "tickets", 0, "ticket_type_name"],
            "ticket_unavailable",
        ),
        (
            "sistas-place-midnight-jam",
            [_ticket("VIP", 11)],
            ["body", "tickets", 0, "num_tickets"],
            "quantity_above_maximum",
        ),
        (
            "union-hall-comedy",
            [_ticket("Front Row Pair", 1, session_date=None)],
            ["body", "tickets", 0, "session_date"],
            "session_required",
        ),
        (
            "sistas-place-midnight-jam",
            [_ticket("VIP", 1, session_date="1999-01-01", session_time="20:00")],
            ["body", "tickets", 0, "session_date"],
            "session_not_found",
        ),
        (
            "sistas-place-midnight-jam",
            [_ticket("General Admission", 0)],
            ["body", "tickets", 0, "num_tickets"],
            "greater_than_equal",
        ),
        ("sistas-place-midnight-jam", [], ["body", "tickets"], "too_short"),
        (
            "brooklyn-botanic-garden",
            [_ticket("Adult")],
            ["body", "activity_id"],
            "activity_not_bookable",
        ),
        ("brooklyn-museum", [_ticket("Adult")], ["body", "activity_id"], "activity_not_bookable"),
    ],
)
async def test_invalid_bookings_are_422(
    h: Harness, slug: str, tickets: list[dict[str, Any]], loc: list[str | int], type_: str
) -> None:
    response = await h.book(h.body(slug, tickets, 1_000_000))

    assert response.status_code == 422
    assert [(d["loc"], d["type"]) for d in response.json()["detail"]] == [(loc, type_)]
    assert h.sandbox.state.bookings == {}


async def test_quantity_rules_follow_each_session(h: Harness) -> None:
    slug = "union-hall-comedy"
    below_min = h.body(slug, [_ticket("Front Row Pair", 1, **h.session(slug))], 100_000)
    add_on_only = h.body(
        "bar-lunatico-late-set",
        [_ticket("Drink Voucher", 1, **h.session("bar-lunatico-late-set"))],
        100_000,
    )
    sold_out_session = h.body(
        "roulette-avant-jazz-series",
        [_ticket("General Admission", 1, **h.session("roulette-avant-jazz-series", 1))],
        100_000,
    )

    responses = [await h.book(b) for b in (below_min, add_on_only, sold_out_session)]

    assert [r.json()["detail"][0]["type"] for r in responses] == [
        "quantity_below_minimum",
        "add_on_without_admission",
        "ticket_unavailable",
    ]


async def test_unknown_activity_and_unprovisioned_user(h: Harness) -> None:
    unknown = h.body("sistas-place-midnight-jam", [_ticket("VIP")], 9500)
    unknown["activity_id"] = "00000000-0000-4000-8000-000000000000"
    stranger = h.body("sistas-place-midnight-jam", [_ticket("VIP")], 9500, user="nobody")
    wrong_header = await h.client.post(
        "/bookings",
        headers={**KEY_ONLY, "X-External-User-Id": "u-2"},
        json=h.body("sistas-place-midnight-jam", [_ticket("VIP")], 9500),
    )

    not_found = await h.book(unknown)
    not_provisioned = await h.book(stranger)

    assert not_found.status_code == 404 and not_found.json() == {"error": "Activity not found"}
    assert not_provisioned.status_code == 422
    assert not_provisioned.json()["detail"][0]["type"] == "user_not_provisioned"
    assert wrong_header.status_code == 400


async def test_schema_errors_are_fastapi_shaped(h: Harness) -> None:
    garbage = await h.client.post(
        "/bookings", headers={**KEY_ONLY, "Content-Type": "application/json"}, content=b"{nope"
    )
    missing = await h.book({"activity_id": "not-a-uuid", "webhook_url": "ftp://x"})

    assert garbage.status_code == 422
    assert garbage.json()["detail"][0]["type"] == "json_invalid"
    assert missing.status_code == 422
    locs = {tuple(d["loc"]) for d in missing.json()["detail"]}
    assert {
        ("body", "external_user_id"),
        ("body", "idempotency_key"),
        ("body", "activity_id"),
    } <= locs
    assert ("body", "webhook_url") in locs and ("body", "payment_mode") in locs


async def test_live_purchase_is_402_unless_the_key_may_use_the_stored_card(h: Harness) -> None:
    body = h.body("sistas-place-midnight-jam", [_ticket("VIP")], 9500, mode="live_purchase")

    refused = await h.book(body)

    assert refused.status_code == 402
    assert (
        refused.json()["detail"]
        == "This API key is not authorized to charge the stored payment card."
    )
    allowed = SandboxConfig.fast(stored_card_keys=frozenset({DEFAULT_NEGOTIATED_KEY}))
    async with _harness(allowed) as other:
        accepted = await other.book(
            other.body("sistas-place-midnight-jam", [_ticket("VIP")], 9500, mode="live_purchase")
        )
        assert accepted.status_code == 202
        assert [p.status for p in await other.webhooks(2)] == ["pending", "confirmed"]


# --------------------------------------------------------------------------- delivery & orders


async def test_webhooks_are_retried_after_a_non_2xx_answer() -> None:
    async with _harness(SandboxConfig.fast(), statuses=(500, 503)) as h:
        body = h.body("sistas-place-midnight-jam", [_ticket("General Admission")], 1700)
        assert (await h.book(body)).status_code == 202

        assert [p.status for p in await h.webhooks(2)] == ["pending", "confirmed"]
        attempts = [
            (d.payload["status"], d.attempt, d.status_code)
            for d in h.sandbox.state.webhook_deliveries
        ]
        assert attempts == [
            ("pending", 1, 500),
            ("pending", 2, 503),
            ("pending", 3, 200),
            ("confirmed", 1, 200),
        ]


async def test_orders_list_only_that_users_bookings_newest_first(h: Harness) -> None:
    jam = "sistas-place-midnight-jam"
    first = await h.book(h.body(jam, [_ticket("General Admission")], 1700, key="k-1"))
    second = await h.book(h.body(jam, [_ticket("VIP")], 9500, key="k-2"))
    theirs = await h.book(h.body(jam, [_ticket("VIP")], 9500, key="k-3", user="u-2"))
    await h.webhooks(6)

    mine = await h.orders("u-1")
    other = await h.orders("u-2")

    assert [b.id for b in mine.bookings] == [
        second.json()["booking_id"],
        first.json()["booking_id"],
    ]
    assert [b.id for b in other.bookings] == [theirs.json()["booking_id"]]
    assert {d.partner_booking_id for d in other.deliverables} == {theirs.json()["booking_id"]}


async def test_shutdown_cancels_scheduled_webhooks_without_leaking_tasks() -> None:
    receiver = WebhookReceiver()
    config = SandboxConfig.fast(webhook_delay_s=30)
    async with serve_in_background(receiver.app) as hooks:
        async with running_outgoing_sandbox(config) as sandbox:
            async with httpx.AsyncClient(base_url=f"{sandbox.base_url}/partner/v1") as client:
                await client.post("/users", headers=KEY_ONLY, json={"external_user_id": "u-1"})
                body = {
                    "external_user_id": "u-1",
                    "activity_id": "177e098b-67e1-5dc6-8c51-0a498c36e4f9",
                    "tickets": [{"ticket_type_name": "VIP"}],
                    "authorization_amount_cents": 9500,
                    "idempotency_key": "k",
                    "webhook_url": f"{hooks}/hook",
                    "payment_mode": "dry_run_success",
                }
                assert (
                    await client.post("/bookings", headers=AS_USER, json=body)
                ).status_code == 202
            assert sandbox.state.background_tasks == 1
            started = time.perf_counter()
        assert time.perf_counter() - started < 3
        assert sandbox.state.background_tasks == 0
    assert receiver.received == []
