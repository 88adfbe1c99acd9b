"""Reservations from Telegram: what is missing asked in the chat and answered by a typed
reply, the booking profile asked once each, a confirmation with inline buttons only the
requester can press, one job card edited in place up to the payment page, and the payment
link sent to the requester's private chat — in a group too, never in the group. The real PTB
application in webhook mode, the Onegent sandbox over loopback and a fake Bot API."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from typing import Any

import pytest

from conversations.capabilities.onegent import job as reservation_job
from integrations.sandbox import OnegentSandboxConfig
from tests.bot.telegram.fake_telegram import BOT_USERNAME, Call
from tests.bot.telegram.harness import (
    ALICE,
    BOB,
    GROUP,
    TelegramRig,
    bot_message,
    callback_query,
    message,
    running_telegram,
    update,
)
from tests.fakes.llm import ScriptedLLM, call

ALICE_CHAT = int(ALICE["id"])
ASKED = "reserve a table for 2 at Le Bernardin tomorrow at 7pm"
TITLE = "🍽 Table at Le Bernardin · New York"
CONFIRM = f"Reserve: {TITLE}"
BOOKED = "Booked up to the payment page"
DECIDED = "No table at 19:00 — booked 19:30, within your ±90 min"
EMAIL, PHONE = "alex@example.com", "+1 212 555 0199"
ANSWERS = (
    ("In which city?", "New York"),
    ("What name", "Alex Traveler"),
    ("Which e-mail", EMAIL),
    ("Which phone", PHONE),
)
_MENTION = re.compile(r'^<a href="tg://user\?id=\d+">[^<]*</a>\n')


@pytest.fixture(autouse=True)
def _quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Onegent is polled every 3–5 s and confirmed 30 s after the end in production."""
    monkeypatch.setattr(reservation_job, "poll_delay", lambda: 0.05)
    monkeypatch.setattr(reservation_job, "CONFIRM_AFTER_S", 0.2)


def _model() -> ScriptedLLM:
    """The model asks to reserve without the city (so the concierge asks for it)."""
    return ScriptedLLM(
        [
            call(
                "reserve",
                scenario="restaurant",
                restaurant_name="Le Bernardin",
                date="tomorrow",
                time="7pm",
                covers=2,
            ),
            "I'll need a few details.",
        ]
    )


def _message_id(sent: Call) -> int:
    return int(
        sent.params["_message_id"] if sent.method == "sendMessage" else sent.params["message_id"]
    )


def _posted(rig: TelegramRig, words: str, chat: int) -> list[Call]:
    """Messages delivered to `chat` whose text has `words`."""
    return [c for c in rig.telegram.sent(chat) if words in c.text]


async def _wait_posted(rig: TelegramRig, words: str, chat: int, timeout_s: float = 15) -> Call:
    await rig.telegram.wait_for(lambda: bool(_posted(rig, words, chat)), timeout_s)
    return _posted(rig, words, chat)[0]


def _links(sent: Call) -> bool:
    """Whether the call carries a hand-off link, in its text or in a (URL) button."""
    return "/handoff/" in json.dumps(sent.params, ensure_ascii=False)


def _handoffs(rig: TelegramRig, chat: int) -> list[Call]:
    """Delivered messages to `chat` with the hand-off link."""
    return [c for c in rig.telegram.sent(chat) if _links(c)]


def _cards(rig: TelegramRig, chat: int) -> list[Call]:
    """Every delivered sendMessage / editMessageText of the job card in `chat`, in order: a
    text that starts (after the requester's mention, in a group) with the draft's title —
    not the confirmation, nor the hand-off (which names the title too, but the link)."""
    return [
        c
        for c in rig.telegram.calls
        if c.method in ("sendMessage", "editMessageText")
        and c.chat_id == chat
        and c.params.get("_ok")
        and _MENTION.sub("", c.text).startswith(TITLE)
        and not _links(c)
    ]


async def _answer_everything(
    rig: TelegramRig, chat: int, reply_to: bool, user: Mapping[str, Any] = ALICE
) -> None:
    """Type each answer once its question is posted (in a group: as a reply to it, since the
    bot only hears what is addressed to it there)."""
    for question, answer in ANSWERS:
        asked = await _wait_posted(rig, question, chat)
        quoted = bot_message(_message_id(asked), chat) if reply_to else None
        target = None if chat == ALICE_CHAT else chat
        await rig.deliver(update(message(answer, user=user, chat=target, reply_to=quoted)))


async def _confirmation(rig: TelegramRig, chat: int) -> Call:
    confirmation = await _wait_posted(rig, CONFIRM, chat)
    assert [b["text"] for b in confirmation.buttons] == ["Reserve", "Cancel"]
    assert "Under: Alex Traveler · alex@example.com · +12125550199" in confirmation.text
    assert "reserve.go" not in confirmation.callback_data("Reserve")  # the value stays ours
    return confirmation


async def _press_reserve(
    rig: TelegramRig, confirmation: Call, chat: int, user: Mapping[str, Any] = ALICE
) -> dict[str, Any]:
    pressed = callback_query(
        confirmation.callback_data("Reserve"), on=_message_id(confirmation), chat=chat, user=user
    )
    await rig.deliver(pressed)
    return pressed


async def _booked(rig: TelegramRig, chat: int) -> None:
    """Wait for the hand-off link (sent to Alice's private chat) and the card's outcome."""
    await rig.telegram.wait_for(lambda: bool(_handoffs(rig, ALICE_CHAT)), 20)
    await rig.telegram.wait_for(lambda: any(BOOKED in c.text for c in _cards(rig, chat)), 15)
    await rig.settle()


def _assert_one_card_edited_to_the_payment_page(rig: TelegramRig, chat: int) -> None:
    cards = _cards(rig, chat)
    assert cards and cards[0].method == "sendMessage", [c.text for c in cards]
    assert [c.method for c in cards[1:]] == ["editMessageText"] * (len(cards) - 1)
    assert len(cards) >= 2  # posted once, edited in place
    assert {_message_id(c) for c in cards} == {_message_id(cards[0])}
    assert "Onegent has it" in cards[0].text or "booking it" in cards[0].text
    final = cards[-1].text
    assert BOOKED in final and DECIDED in final
    assert not cards[-1].buttons


def _assert_model_heard_the_first_turn_only(model: ScriptedLLM) -> None:
    """The request and its tool result: the answers went to the questions, not the model."""
    assert len(model.requests) == 2 and model.exhausted
    heard = repr(model.requests)
    for _, answer in ANSWERS:
        assert answer not in heard, answer


async def test_a_table_from_a_private_chat_asks_there_and_hands_the_link_over_there(
    sqlite_url: str,
) -> None:
    model = _model()
    onegent = OnegentSandboxConfig.fast()
    async with running_telegram(model, database_url=sqlite_url, onegent=onegent) as rig:
        assert rig.onegent is not None
        await rig.deliver(update(message(ASKED)))
        city = await _wait_posted(rig, "In which city?", ALICE_CHAT)
        assert city.thread_id is None
        await _answer_everything(rig, ALICE_CHAT, reply_to=False)
        confirmation = await _confirmation(rig, ALICE_CHAT)
        assert rig.onegent.state.created == 0  # nothing is sent before the press
        await _press_reserve(rig, confirmation, ALICE_CHAT)
        await _booked(rig, ALICE_CHAT)
        state = rig.onegent.state

    _assert_one_card_edited_to_the_payment_page(rig, ALICE_CHAT)
    (job,) = state.job_list
    (handoff,) = _handoffs(rig, ALICE_CHAT)
    assert handoff.text.startswith(TITLE)
    assert f"/handoff/{job.job_id}" in json.dumps(handoff.params)
    assert state.created == 1 and len(state.requests) == 1
    # Each question was posted once and settled in place with the typed answer.
    for question, answer in ANSWERS:
        (asked,) = _posted(rig, question, ALICE_CHAT)
        settled = [
            c
            for c in rig.telegram.called("editMessageText")
            if c.params.get("_ok") and _message_id(c) == _message_id(asked)
        ]
        assert settled and f"✓ {answer}" in settled[-1].text, question
    _assert_model_heard_the_first_turn_only(model)


async def test_a_table_from_a_group_is_confirmed_by_the_requester_and_paid_in_private(
    sqlite_url: str,
) -> None:
    model = _model()
    onegent = OnegentSandboxConfig.fast()
    async with running_telegram(model, database_url=sqlite_url, onegent=onegent) as rig:
        assert rig.onegent is not None
        await rig.deliver(update(message(f"@{BOT_USERNAME} {ASKED}", chat=GROUP)))
        await _answer_everything(rig, GROUP, reply_to=True)
        confirmation = await _confirmation(rig, GROUP)
        assert f'Only <a href="tg://user?id={ALICE_CHAT}">Alice</a> can' in confirmation.text
        # Bob can't reserve Alice's table: told in a pop-up, nothing sent to Onegent.
        before = len(rig.telegram.sent(GROUP))
        foreign = await _press_reserve(rig, confirmation, GROUP, user=BOB)

        def acked() -> list[Call]:
            return [
                c
                for c in rig.telegram.called("answerCallbackQuery")
                if c.params["callback_query_id"] == foreign["callback_query"]["id"]
            ]

        await rig.telegram.wait_for(lambda: bool(acked()))
        (answer,) = acked()  # the press is answered once, with the refusal
        assert "Only the person who asked" in str(answer.params.get("text"))
        assert not _posted(rig, "Only the person who asked", GROUP)
        assert len(rig.telegram.sent(GROUP)) == before
        await asyncio.sleep(0.5)  # time enough for a wrongly started job to reach Onegent
        assert rig.onegent.state.created == 0 and rig.onegent.state.create_requests == 0
        assert not _cards(rig, GROUP) and not _posted(rig, "Confirmed", GROUP)
        assert not [c for c in rig.telegram.called("editMessageText") if "Confirmed" in c.text]
        # Alice's press reserves it.
        await _press_reserve(rig, confirmation, GROUP)
        await _booked(rig, GROUP)
        state = rig.onegent.state

    _assert_one_card_edited_to_the_payment_page(rig, GROUP)
    assert _cards(rig, GROUP)[0].text.startswith(f'<a href="tg://user?id={ALICE_CHAT}">')
    (job,) = state.job_list
    assert state.created == 1 and len(state.requests) == 1
    # The link went to Alice's private chat (chat id = her user id), as a fresh message.
    (handoff,) = _handoffs(rig, ALICE_CHAT)
    assert handoff.chat_id == ALICE_CHAT and f"/handoff/{job.job_id}" in json.dumps(handoff.params)
    assert handoff.reply_to is None and handoff.thread_id is None
    # Nothing the bot tried to show in the group (delivered or not) carries the link.
    in_group = [c for c in rig.telegram.calls if c.chat_id == GROUP and c.text]
    assert in_group and not any(_links(c) for c in in_group)
    assert not any(_links(c) for c in rig.telegram.calls if c.chat_id != ALICE_CHAT)
    assert not _posted(rig, CONFIRM, ALICE_CHAT)  # the rest of it stayed in the group
    # Each question was asked in the group, once, naming Alice.
    for question, _ in ANSWERS:
        (asked,) = _posted(rig, question, GROUP)
        assert asked.text.startswith(f'<a href="tg://user?id={ALICE_CHAT}">Alice</a>\n')
    _assert_model_heard_the_first_turn_only(model)


async def test_a_flight_from_a_group_asks_for_the_passport_in_the_private_chat(
    sqlite_url: str,
) -> None:
    """The passport question reaches Alice in her private chat with the bot; what she types
    there sends the flight, and nothing of it is shown in the group or kept."""
    model = ScriptedLLM(
        [
            call(
                "reserve", scenario="flight", origin="JFK", dest="LHR", date="friday", passengers=1
            ),
            "I'll need a few details.",
        ]
    )
    onegent = OnegentSandboxConfig.fast()
    async with running_telegram(model, database_url=sqlite_url, onegent=onegent) as rig:
        assert rig.onegent is not None
        await rig.deliver(update(message(f"@{BOT_USERNAME} fly me to London", chat=GROUP)))
        for question, answer in ANSWERS[1:]:
            asked = await _wait_posted(rig, question, GROUP)
            quoted = bot_message(_message_id(asked), GROUP)
            await rig.deliver(update(message(answer, chat=GROUP, reply_to=quoted)))
        confirmation = await _wait_posted(rig, "Reserve: ✈️ Flight JFK → LHR", GROUP)
        await _press_reserve(rig, confirmation, GROUP)
        await _wait_posted(rig, "passport number", ALICE_CHAT)
        await rig.deliver(update(message("1985-07-21, K7654321, US")))
        await _wait_posted(rig, "not kept here", ALICE_CHAT)
        await rig.telegram.wait_for(lambda: bool(_handoffs(rig, ALICE_CHAT)), 20)
        await rig.settle()
        state = rig.onegent.state
    assert not _posted(rig, "passport number", GROUP)
    assert not any("K7654321" in json.dumps(c.params) for c in rig.telegram.calls)
    (sent,) = state.requests
    assert sent["profile"]["passport_number"] == "K7654321"
