"""Every amount a person sees reads one way: cards, details, ticket choices, the
confirmation, the result of a dry run and the orders list."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from conversations.booking.messages import status_reply
from conversations.booking.quote import Quote, QuoteLine
from integrations.outgoing.models import BookingStatus, BookingWebhookPayload
from tests.conversations.test_booking import Env, make_env
from tests.conversations.test_booking_choices import activity_id, last_question
from tests.factories import LATE_SET
from tests.fakes.llm import call

__all__ = ["make_env"]

CELEBRATE = "Celebrate Brooklyn! Jazz in Prospect Park"
AMOUNT = r"(Free|\$\d+\.\d\d)"


async def test_search_cards_and_details_show_one_price_format(make_env: Any) -> None:
    env: Env = await make_env()
    env.script.append(call("search_activities", prompt="find jazz concerts", location="Brooklyn"))
    await env.say("find jazz concerts in brooklyn")
    await env.settle()
    assert "Searching for jazz concerts in Brooklyn…" in env.chat.transcript
    page = next(r for r in env.chat.replies if r.cards)
    assert re.fullmatch(r"\d+ ideas for jazz concerts in Brooklyn:", page.text)
    assert page.footer is None
    prices = [c.price_label for c in page.cards if c.price_label]
    assert prices and all(re.fullmatch(f"{AMOUNT}(–{AMOUNT})?", p) for p in prices)
    assert not any("-" in p or "USD" in p for p in prices)

    await env.press(f"details:{activity_id(env, CELEBRATE)}")
    detail = next(r.detail for r in reversed(env.chat.replies) if r.detail)
    assert detail is not None and detail.price_label == "Free–$50.00"
    tickets = {t.name: t.price_label for s in detail.sessions for t in s.tickets}
    assert tickets == {"Free RSVP": "Free", "Friends of BRIC Seating": "$50.00"}
    assert "Times are local to the venue." in str(detail.booking_note)


async def test_ticket_choice_confirmation_and_orders_read_alike(make_env: Any) -> None:
    env: Env = await make_env()
    await env.press(f"book:{activity_id(env, LATE_SET)}")
    await env.press(last_question(env).buttons[0].value)
    options = [b.label for b in last_question(env).buttons]
    assert "General Admission · $22.50" in options
    assert all(re.fullmatch(f".+ · {AMOUNT}", o) for o in options)

    await env.press(next(b.value for b in last_question(env).buttons if b.label.startswith("Gen")))
    await env.press(next(b.value for b in last_question(env).buttons if b.label == "2"))
    approval = next(r.approval for r in reversed(env.chat.replies) if r.approval)
    assert approval is not None
    assert "2 × General Admission at $22.50" in approval.lines
    assert "Total: $45.00 (fees included)" in approval.lines
    assert approval.lines[0].endswith("(venue time)")
    await env.press(env.approval_value())
    await env.settle()

    env.script.append(call("list_orders"))
    await env.say("orders")
    orders = next(t for t in reversed(env.chat.texts) if t.startswith("Your orders"))
    assert re.search(
        rf"• {re.escape(LATE_SET)} — confirmed · \$45\.00 · booked \w{{3}} \d\d \w{{3}}, \d\d:\d\d",
        orders,
    ), orders


def _payload(charged: int | None) -> BookingWebhookPayload:
    return BookingWebhookPayload(
        booking_id="b1",
        idempotency_key="k1",
        status=BookingStatus.CONFIRMED,
        activity_id="a1",
        external_user_id="u1",
        tickets=[],
        authorization_amount_cents=4500,
        booking_fee_cents=0,
        total_charged_cents=charged,
        resolved_at=datetime(2026, 12, 2, tzinfo=UTC),
    )


def test_a_dry_run_says_nothing_was_charged() -> None:
    quote = Quote("a1", "Late Set", None, "2026-12-04", "20:00", (QuoteLine("GA", 2, 2250),), "USD")
    dry = status_reply(
        BookingStatus.CONFIRMED,
        quote,
        "U1",
        "retry:1",
        _payload(4500),
        payment_mode="dry_run_success",
    )
    assert "Dry run: nothing was charged (a real booking would charge $45.00)" in str(dry.text)
    assert "Charged:" not in str(dry.text)
    live = status_reply(
        BookingStatus.CONFIRMED,
        quote,
        "U1",
        "retry:1",
        _payload(4500),
        payment_mode="live_purchase",
    )
    assert "Charged: $45.00" in str(live.text)
