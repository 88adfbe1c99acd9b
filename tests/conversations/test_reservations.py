"""Reservations through Onegent at the conversation level: questions for what is missing, the
booking profile asked once and kept sealed, the confirmation, the durable poll and the
payment hand-off to the requester alone. The manager, job runner and outbox sender run as in
`serve`, against the Onegent sandbox over loopback HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conversations.capabilities.onegent import job as reservation_job
from conversations.llm import LLMResponse, ToolCallPart, ToolResultPart
from integrations.sandbox import (
    DEFAULT_ONEGENT_KEY,
    OnegentSandboxConfig,
)
from tests.conversations.conftest import ALICE, Harness
from tests.conversations.reservation_rig import (
    EMAIL,
    PHONE,
    db_text,
    reserve,
    running_reservations,
)
from tests.fakes.llm import call


@pytest.fixture(autouse=True)
def _quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Onegent is polled every 3–5 s and confirmed 30 s after the end in production."""
    monkeypatch.setattr(reservation_job, "poll_delay", lambda: 0.05)
    monkeypatch.setattr(reservation_job, "CONFIRM_AFTER_S", 0.2)


async def test_a_table_is_asked_for_what_is_missing_confirmed_and_handed_off_privately(
    harness: Harness,
) -> None:
    script = reserve(
        scenario="restaurant", restaurant_name="Le Bernardin", date="tomorrow", time="7pm"
    )
    async with running_reservations(harness, OnegentSandboxConfig.fast(), script) as r:
        await r.say("reserve a table at Le Bernardin tomorrow at 7pm")
        await r.wait(lambda: bool(r.shown("In which city?")))
        await r.say("New York")
        await r.wait(lambda: bool(r.shown("For how many people?")))
        (people,) = r.shown("For how many people?")
        assert [b.label for b in people.buttons] == [str(n) for n in range(1, 9)]
        await r.press(people.buttons[1].value)  # "2", by button
        await r.answer_profile()
        await r.confirm()
        await r.wait(lambda: bool(r.shown("Held at the payment page")))
        await r.wait(lambda: not r.harness.runners[id(r.manager)].busy, 5)
    (sent,) = r.state.requests
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert sent["request"] == {
        "scenario": "restaurant",
        "params": {
            "restaurant_name": "Le Bernardin",
            "city": "New York",
            "date": tomorrow,
            "time": "19:00",
            "covers": 2,
        },
    }
    assert sent["profile"] == {
        "first_name": "Alex",
        "last_name": "Traveler",
        "email": EMAIL,
        "phone": "+12125550199",
    }
    assert sent["consent"]["maxTimeAdjustmentMinutes"] == 90
    assert sent["clientMetadata"]["idempotencyKey"]
    (handoff,) = r.shown("Held at the payment page")
    (pay,) = handoff.buttons
    assert handoff.private_to == ALICE.user_id and pay.label == "Complete payment"
    assert pay.url is not None and "/handoff/" in pay.url
    cards = r.shown("Table at Le Bernardin")
    assert len({c.key for c in cards if c.key and c.key.startswith("job:")}) == 1
    final = [c for c in cards if c.key and c.key.startswith("job:")][-1].text
    assert "Booked up to the payment page" in final
    assert "No table at 19:00 — booked 19:30, within your ±90 min" in final
    assert len(r.model.requests) == 2  # the answers never reached the model


async def test_the_profile_is_asked_once_kept_sealed_and_reused(harness: Harness) -> None:
    first = reserve(
        scenario="restaurant",
        restaurant_name="Le Bernardin",
        city="New York",
        date="tomorrow",
        time="19:00",
        covers=2,
    )
    second = reserve(
        scenario="hotel",
        hotel_name="The Plaza",
        city="New York",
        checkin="tomorrow",
        checkout="2099-01-03",
        adults=2,
    )
    async with running_reservations(harness, OnegentSandboxConfig.fast(), first + second) as r:
        await r.say("reserve a table for 2 at Le Bernardin in New York tomorrow at 7pm")
        await r.answer_profile()
        await r.confirm()
        await r.wait(lambda: bool(r.shown("Held at the payment page")))
        before = len(r.chat.replies)
        await r.say("and a room at The Plaza from tomorrow")
        await r.wait(lambda: any(x.approval is not None for x in r.chat.replies[before:]))
        asked_again = [x for x in r.chat.replies[before:] if "What name" in x.text]
        approval = next(x.approval for x in r.chat.replies[before:] if x.approval is not None)
    assert not asked_again
    assert approval is not None and "Under: Alex Traveler" in "\n".join(approval.lines)
    stored = await db_text(harness)
    for personal in ("+12125550199", PHONE, EMAIL, "Traveler"):
        assert personal not in stored, personal


@pytest.mark.parametrize(
    ("marker", "words"),
    [
        ("[no_availability]", "no availability"),
        ("[needs_login]", "wanted a login"),
        ("[captcha]", "CAPTCHA"),
        ("[error]", "ran into an error"),
        ("[completed]", "no payment was needed"),
    ],
)
async def test_each_ending_gets_a_clear_message(harness: Harness, marker: str, words: str) -> None:
    script = reserve(
        scenario="restaurant",
        restaurant_name=f"Le Bernardin {marker}",
        city="New York",
        date="tomorrow",
        time="19:00",
        covers=2,
    )
    async with running_reservations(harness, OnegentSandboxConfig.fast(), script) as r:
        await r.say("reserve it")
        await r.answer_profile()
        await r.confirm()
        await r.wait(lambda: bool(r.shown(words)))
    assert not r.shown("Held at the payment page")


async def test_a_failed_create_is_retried_with_the_same_key_and_books_once(
    harness: Harness,
) -> None:
    script = reserve(
        scenario="restaurant",
        restaurant_name="Le Bernardin",
        city="New York",
        date="tomorrow",
        time="19:00",
        covers=2,
    )
    async with running_reservations(
        harness, OnegentSandboxConfig.fast(fail_create_times=2), script
    ) as r:
        await r.say("reserve it")
        await r.answer_profile()
        await r.confirm()
        await r.wait(lambda: bool(r.shown("Held at the payment page")), 20)
    state = r.state
    assert state.created == 1
    keys = {body["clientMetadata"]["idempotencyKey"] for body in state.requests}
    assert len(keys) == 1


async def test_a_key_that_may_not_book_restaurants_says_so(harness: Harness) -> None:
    script = reserve(
        scenario="restaurant",
        restaurant_name="Le Bernardin",
        city="New York",
        date="tomorrow",
        time="19:00",
        covers=2,
    )
    config = OnegentSandboxConfig.fast(allowed_scenarios={DEFAULT_ONEGENT_KEY: ("hotel",)})
    async with running_reservations(harness, config, script) as r:
        await r.say("reserve it")
        await r.answer_profile()
        await r.confirm()
        await r.wait(lambda: bool(r.shown("may not book restaurants")))


async def test_a_paused_payment_without_a_link_and_unknown_fields_are_handled(
    harness: Harness,
) -> None:
    script = reserve(
        scenario="restaurant",
        restaurant_name="Le Bernardin",
        city="New York",
        date="tomorrow",
        time="19:00",
        covers=2,
    )
    config = OnegentSandboxConfig.fast(omit_handoff=True, extra_fields=True)
    async with running_reservations(harness, config, script) as r:
        await r.say("reserve it")
        await r.answer_profile()
        await r.confirm()
        await r.wait(lambda: bool(r.shown("sent no link")))
    (note,) = r.shown("sent no link")
    assert note.private_to == ALICE.user_id


async def test_activities_are_sent_to_the_outgoing_booking_flow(harness: Harness) -> None:
    script: list[LLMResponse | ToolCallPart | str] = [
        call("reserve", scenario="activity"),
        "Sorry.",
    ]
    async with running_reservations(harness, OnegentSandboxConfig.fast(), script) as r:
        await r.say("reserve tickets for the jazz show")
    errors = [
        part.content
        for request in r.model.requests
        for part in request.messages[-1].parts
        if isinstance(part, ToolResultPart) and part.is_error
    ]
    assert "Outgoing booking flow" in errors[0]
    assert r.state.requests == []


async def test_a_fallback_provider_is_named_with_its_record(harness: Harness) -> None:
    script = reserve(
        scenario="restaurant",
        restaurant_name="Le Bernardin [fallback]",
        city="New York",
        date="tomorrow",
        time="19:00",
        covers=2,
    )
    async with running_reservations(harness, OnegentSandboxConfig.fast(), script) as r:
        await r.say("reserve it")
        await r.answer_profile()
        await r.confirm()
        await r.wait(lambda: bool(r.shown("Held at the payment page")))
    final = [c for c in r.shown("Table at Le Bernardin") if c.key and c.key.startswith("job:")][-1]
    assert "succeeds" in final.text and "attempts in 30 days" in final.text
