"""Phone calls from Telegram: the confirmation's inline buttons, the live call card edited in
place, the voice agent's questions in the chat (or the forum topic) answered by a typed reply
or a button, and the outcome on the same card. The real PTB application in webhook mode, the
Call Agent sandbox over loopback and a fake Bot API that records every call."""

from __future__ import annotations

import asyncio

from integrations.sandbox import CallAgentSandboxConfig, SandboxQuestion
from tests.bot.telegram.fake_telegram import BOT_USERNAME, Call
from tests.bot.telegram.harness import (
    ALICE,
    BOB,
    FORUM,
    TOPIC,
    TelegramRig,
    callback_query,
    message,
    running_telegram,
    update,
)
from tests.fakes.llm import ScriptedLLM, call

ALICE_CHAT = int(ALICE["id"])
NOBU = "+1 212 555 0100"
BRIEF = "Call Nobu for Alice and ask for a table for 4 at 8pm tonight; any time 20:00-22:00."
ASKED = "call Nobu at +1 212 555 0100 and ask for a table for 4 at 8pm"
TERRACE = SandboxQuestion(
    "They have 21:15 on the terrace, or 22:00 inside — which would you like?",
    ("21:15 on the terrace", "22:00 inside"),
)
DEPOSIT = SandboxQuestion("Is a deposit of $20 per person OK?")
ASKS = "the voice agent asks"
CARD = "📞 Call to Nobu"


def _model() -> ScriptedLLM:
    return ScriptedLLM(
        [
            call("start_call", target_phone=NOBU, brief=BRIEF, callee="Nobu"),
            "Here is the call for you to confirm.",
        ]
    )


def _labels(sent: Call) -> list[str]:
    return [str(b["text"]) for b in sent.buttons]


def _posted(rig: TelegramRig, words: str, chat: int) -> list[Call]:
    """Messages delivered to `chat` whose text has `words`."""
    return [c for c in rig.telegram.sent(chat) if words in c.text]


def _versions(rig: TelegramRig, words: str, chat: int) -> list[Call]:
    """Every sendMessage and editMessageText in `chat` whose text has `words`, in order."""
    return [
        c
        for c in rig.telegram.calls
        if c.method in ("sendMessage", "editMessageText")
        and c.chat_id == chat
        and c.params.get("_ok")
        and words in c.text
    ]


def _message_id(sent: Call) -> int:
    return int(
        sent.params["_message_id"] if sent.method == "sendMessage" else sent.params["message_id"]
    )


async def _wait_posted(rig: TelegramRig, words: str, chat: int, timeout_s: float = 15) -> Call:
    await rig.telegram.wait_for(lambda: bool(_posted(rig, words, chat)), timeout_s)
    return _posted(rig, words, chat)[0]


async def _press_call(rig: TelegramRig, chat: int, thread: int | None = None) -> Call:
    """Wait for the confirmation, check it, and press Call on it."""
    confirmation = await _wait_posted(rig, "Call Nobu?", chat)
    assert "+1 212-555-0100" in confirmation.text and "table for 4" in confirmation.text
    assert _labels(confirmation) == ["Call", "Cancel"]
    token = confirmation.callback_data("Call")
    assert "call.go" not in token  # the value stays on our side
    pressed = callback_query(token, on=_message_id(confirmation), chat=chat, thread=thread)
    response = await rig.post(pressed)
    assert response.status_code == 200, response.text
    return confirmation


async def _finished(rig: TelegramRig, chat: int) -> None:
    assert rig.calls is not None
    sandbox = rig.calls.state
    async with asyncio.timeout(20):
        await sandbox.wait_until_final(sandbox.call_list[0].call_id)
    await rig.telegram.wait_for(
        lambda: any("Outcome:" in c.text for c in _versions(rig, CARD, chat))
    )
    await rig.settle()


async def test_a_call_from_a_private_chat_asks_there_and_the_typed_reply_reaches_the_call(
    sqlite_url: str,
) -> None:
    model = _model()
    calls = CallAgentSandboxConfig.fast(answer_timeout_s=30)
    async with running_telegram(model, database_url=sqlite_url, calls=calls) as rig:
        assert rig.calls is not None
        await rig.deliver(update(message(ASKED)))
        await _press_call(rig, ALICE_CHAT)
        question = await _wait_posted(rig, ASKS, ALICE_CHAT)
        assert "On the call to Nobu, the voice agent asks:" in question.text
        assert TERRACE.question in question.text  # word for word
        assert _labels(question) == list(TERRACE.options)
        assert question.thread_id is None
        await rig.deliver(update(message("the terrace please, and a quiet table")))
        sandbox = rig.calls.state
        await rig.telegram.wait_for(lambda: bool(sandbox.answers), 10)
        await _finished(rig, ALICE_CHAT)

    (answer,) = sandbox.answers
    assert answer.answer == "the terrace please, and a quiet table"  # their words, as typed
    assert answer.delivered and answer.mode == "voice" and answer.request_id
    assert sandbox.call_list[0].status == "completed"
    assert sandbox.start_requests == 1
    # One card, posted once and edited in place from dialing to the outcome.
    cards = _versions(rig, CARD, ALICE_CHAT)
    assert cards[0].method == "sendMessage" and len(_posted(rig, CARD, ALICE_CHAT)) == 1
    assert {_message_id(c) for c in cards} == {_message_id(cards[0])}
    assert cards[-1].method == "editMessageText"
    final = cards[-1].text
    assert "Call finished." in final and "Outcome:" in final and "Signals:" in final
    assert _labels(cards[-1]) == ["Transcript"]
    assert "Cancel call" in _labels(cards[0])
    # The question, posted once, settled in place saying the answer reached the call.
    assert len(_posted(rig, ASKS, ALICE_CHAT)) == 1
    settled = [c for c in _versions(rig, ASKS, ALICE_CHAT) if c.method == "editMessageText"]
    assert _message_id(settled[-1]) == _message_id(question)
    assert "passed on to the call" in settled[-1].text
    assert not settled[-1].buttons
    # The reply went to the call, not to the model: it heard the first request only.
    assert len(model.requests) == 2
    assert model.exhausted


async def test_a_call_in_a_forum_topic_asks_there_and_only_the_requester_can_answer(
    sqlite_url: str,
) -> None:
    model = _model()
    calls = CallAgentSandboxConfig.fast(answer_timeout_s=30, questions=(TERRACE, DEPOSIT))
    async with running_telegram(model, database_url=sqlite_url, calls=calls) as rig:
        assert rig.calls is not None
        sandbox = rig.calls.state
        asked = message(f"@{BOT_USERNAME} {ASKED}", chat=FORUM, thread=TOPIC)
        await rig.deliver(update(asked))
        confirmation = await _press_call(rig, FORUM, TOPIC)
        first = await _wait_posted(rig, "which would you like?", FORUM)
        assert first.thread_id == TOPIC and confirmation.thread_id == TOPIC
        assert _labels(first) == list(TERRACE.options)
        assert first.text.startswith(f'<a href="tg://user?id={ALICE_CHAT}">Alice</a>\n')
        # Bob can't answer Alice's call: his press is refused and nothing reaches the call.
        before = len(rig.telegram.sent(FORUM))
        foreign = callback_query(
            first.callback_data("22:00 inside"),
            on=_message_id(first),
            chat=FORUM,
            user=BOB,
            thread=TOPIC,
        )
        await rig.deliver(foreign)
        # The refusal pops up on Bob's screen alone: nothing is posted in the topic.
        await rig.telegram.wait_for(
            lambda: any(
                c.params["callback_query_id"] == foreign["callback_query"]["id"]
                for c in rig.telegram.called("answerCallbackQuery")
            )
        )
        (acked,) = [
            c
            for c in rig.telegram.called("answerCallbackQuery")
            if c.params["callback_query_id"] == foreign["callback_query"]["id"]
        ]
        assert acked.params.get("text") == "Only the person who was asked can answer this question."
        assert acked.params.get("show_alert") in (True, "true")
        assert not _posted(rig, "Only the person who was asked", FORUM)
        assert len(rig.telegram.sent(FORUM)) == before
        assert sandbox.answers == []
        # Alice's press answers it.
        mine = callback_query(
            first.callback_data("21:15 on the terrace"),
            on=_message_id(first),
            chat=FORUM,
            thread=TOPIC,
        )
        await rig.deliver(mine)
        second = await _wait_posted(rig, DEPOSIT.question, FORUM)
        assert second.thread_id == TOPIC and _labels(second) == ["Yes", "No"]
        yes = callback_query(
            second.callback_data("Yes"), on=_message_id(second), chat=FORUM, thread=TOPIC
        )
        await rig.deliver(yes)
        await _finished(rig, FORUM)

    assert [(a.answer, a.delivered, a.mode) for a in sandbox.answers] == [
        ("21:15 on the terrace", True, "voice"),
        ("yes", True, "voice"),
    ]
    assert sandbox.start_requests == 1
    # Everything about the call was posted in the topic; each question once.
    for words in (CARD, "which would you like?", DEPOSIT.question):
        (posted,) = _posted(rig, words, FORUM)
        assert posted.thread_id == TOPIC, words
    settled = [
        c for c in _versions(rig, "which would you like?", FORUM) if c.method != "sendMessage"
    ]
    assert "✓ 21:15 on the terrace — passed on to the call" in settled[-1].text
    final = _versions(rig, CARD, FORUM)[-1]
    assert final.method == "editMessageText" and "Call finished." in final.text
    assert _message_id(final) == _message_id(_posted(rig, CARD, FORUM)[0])
    assert len(model.requests) == 2
