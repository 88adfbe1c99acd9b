"""Getting answers out: duplicate updates, flood limits, blocked chats, long and hostile
texts, polling mode, and a booking whose result arrives later in the right forum topic."""

from __future__ import annotations

import asyncio

from bot.server import configured_front_ends
from bot.settings import Settings
from bot.telegram import TelegramFrontEnd
from bot.telegram.addressing import PLATFORM
from conversations.llm import LLMRequest, LLMResponse
from conversations.replies import Reply
from conversations.types import ConversationAddress
from tests.bot.telegram.fake_telegram import BOT_USERNAME, FakeTelegram, visible_html
from tests.bot.telegram.harness import (
    ALICE,
    BOB,
    FORUM,
    TOPIC,
    callback_query,
    message,
    running_telegram,
    update,
)
from tests.fakes.llm import FunctionLLM, ScriptedLLM, text

ALICE_CHAT = int(ALICE["id"])
BOB_CHAT = int(BOB["id"])


async def test_one_update_delivered_three_times_is_answered_once(database_url: str) -> None:
    async with running_telegram(None, database_url=database_url) as rig:
        body = update(message("help"), update_id=424_242)
        first, second = await asyncio.gather(rig.post(body), rig.post(body))
        third = await rig.post(body)
        assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
        await rig.settle()
        assert len(rig.telegram.sent(ALICE_CHAT)) == 1


async def test_a_429_from_send_message_is_waited_out_and_delivered(sqlite_url: str) -> None:
    async with running_telegram(ScriptedLLM(["Hello there!"]), database_url=sqlite_url) as rig:
        rig.telegram.rate_limit_once("sendMessage", retry_after=1)
        await rig.deliver(update(message("hi there")))
        attempts = rig.telegram.called("sendMessage")
        assert len(attempts) == 2 and attempts[1].at - attempts[0].at >= 1.0
        assert rig.telegram.texts(ALICE_CHAT) == ["Hello there!"]


async def test_a_5xx_is_retried_and_delivered(sqlite_url: str) -> None:
    async with running_telegram(ScriptedLLM(["Hello again!"]), database_url=sqlite_url) as rig:
        rig.telegram.fail_once(
            "sendMessage", 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        )
        await rig.deliver(update(message("hi there")))
        assert len(rig.telegram.called("sendMessage")) == 2
        assert rig.telegram.texts(ALICE_CHAT) == ["Hello again!"]


async def test_a_blocked_bot_marks_the_chat_inactive_and_keeps_working(sqlite_url: str) -> None:
    llm = ScriptedLLM(["first", "for Alice", "welcome back"])
    async with running_telegram(llm, database_url=sqlite_url) as rig:
        rig.telegram.blocked.add(BOB_CHAT)
        await rig.deliver(update(message("hi there", user=BOB)))
        assert len(rig.telegram.called("sendMessage")) == 1  # tried once, then inactive
        assert not rig.telegram.sent(BOB_CHAT)

        # Later results for that chat are dropped without a call (and without an error the
        # outbox would retry); other chats are unaffected.
        bob = ConversationAddress(PLATFORM, str(BOB_CHAT), str(BOB_CHAT), "")
        replier = rig.front_end.outlet().replier_for(bob)
        assert replier is not None
        await replier.send(Reply(text="Your booking is confirmed"))
        assert len(rig.telegram.called("sendMessage")) == 1
        await rig.deliver(update(message("hi there")))
        assert rig.telegram.texts(ALICE_CHAT) == ["for Alice"]
        health = await rig.http.get(f"{rig.url}/healthz")
        assert health.status_code == 200

        # Bob unblocks the bot and writes again: the chat is active again.
        rig.telegram.blocked.clear()
        await replier.send(Reply(text="still dropped"))
        assert not rig.telegram.sent(BOB_CHAT)
        await rig.deliver(update(message("hello again", user=BOB)))
        assert rig.telegram.texts(BOB_CHAT) == ["welcome back"]


async def test_the_bot_removed_from_a_chat_stops_sending_there(sqlite_url: str) -> None:
    async with running_telegram(None, database_url=sqlite_url) as rig:
        kicked = {
            "update_id": 999_001,
            "my_chat_member": {
                "chat": {"id": ALICE_CHAT, "type": "private", "first_name": "Alice"},
                "from": ALICE,
                "date": 1,
                "old_chat_member": {
                    "status": "member",
                    "user": {"id": 7000001, "is_bot": True, "first_name": "C"},
                },
                "new_chat_member": {
                    "status": "kicked",
                    "until_date": 0,
                    "user": {"id": 7000001, "is_bot": True, "first_name": "C"},
                },
            },
        }
        await rig.deliver(kicked)
        alice = ConversationAddress(PLATFORM, str(ALICE_CHAT), str(ALICE_CHAT), "")
        replier = rig.front_end.outlet().replier_for(alice)
        assert replier is not None
        await replier.send(Reply(text="nobody will read this"))
        assert not rig.telegram.called("sendMessage")


async def test_a_long_answer_is_split_under_4096_characters(sqlite_url: str) -> None:
    paragraph = "All that jazz. " * 60  # ~900 characters
    long_text = "\n\n".join(f"{n}. {paragraph}" for n in range(10))  # ~9000
    async with running_telegram(None, database_url=sqlite_url) as rig:
        # The manager clips a model's answer to 4000 characters; longer texts come from
        # replies of our own, delivered like any later result.
        alice = ConversationAddress(PLATFORM, str(ALICE_CHAT), str(ALICE_CHAT), "")
        replier = rig.front_end.outlet().replier_for(alice)
        assert replier is not None
        await replier.send(Reply(text=long_text))
        texts = rig.telegram.texts(ALICE_CHAT)
        assert len(texts) == 3
        assert all(len(visible_html(t)[0]) <= 4096 for t in texts)
        rejoined = " ".join(" ".join(t.split()) for t in texts)
        assert rejoined == " ".join(long_text.split())


async def test_html_specials_from_the_model_are_escaped(sqlite_url: str) -> None:
    hostile = 'Try <b>this</b> & <a href="https://evil.example">that</a> <script>x</script> `a<b`'
    async with running_telegram(ScriptedLLM([hostile]), database_url=sqlite_url) as rig:
        await rig.deliver(update(message("hi there")))
        (sent,) = rig.telegram.sent(ALICE_CHAT)
        assert "&lt;b&gt;this&lt;/b&gt; &amp; &lt;a href=&quot;https://evil.example&quot;&gt;" in (
            sent.text
        )
        assert "<code>a&lt;b</code>" in sent.text
        shown, error = visible_html(sent.text)
        assert error is None and shown.startswith("Try <b>this</b> & <a href=")


async def test_a_picture_telegram_cannot_fetch_falls_back_to_text(sqlite_url: str) -> None:
    async with running_telegram(None, database_url=sqlite_url) as rig:
        rig.telegram.refuse_photos = True
        await rig.deliver(update(message("search jazz in Brooklyn")))
        await rig.results(ALICE_CHAT)
        sent = rig.telegram.sent(ALICE_CHAT)
        assert [c.method for c in sent] == ["sendMessage"] * 2  # status (deleted), the list
        assert "<b>1. Celebrate Brooklyn! Jazz in Prospect Park</b>" in sent[1].text
        assert {b["text"] for b in sent[1].buttons} >= {"1 · Details", "1 · Book"}


async def test_polling_mode_answers_updates_from_get_updates(sqlite_url: str) -> None:
    async with running_telegram(None, database_url=sqlite_url, polling=True) as rig:
        assert rig.telegram.called("deleteWebhook") and not rig.telegram.called("setWebhook")
        rig.telegram.queue_update(update(message("help"), update_id=5_000_001))
        rig.telegram.queue_update(update(message("orders"), update_id=5_000_002))
        await rig.telegram.wait_for(lambda: len(rig.telegram.sent(ALICE_CHAT)) >= 2)
        await rig.settle()
        texts = rig.telegram.texts(ALICE_CHAT)
        assert "offline mode" in texts[0] and len(texts) == 2
        offsets = [c.params.get("offset") for c in rig.telegram.called("getUpdates")]
        assert "5000003" in offsets
        # The webhook route still checks the configured secret.
        assert (await rig.post(update(message("help")), secret="nope")).status_code == 403


async def test_polling_waits_out_failed_fetches_and_then_answers(sqlite_url: str) -> None:
    fake = FakeTelegram()
    fake.fail_once("getUpdates", 502, {"ok": False, "error_code": 502, "description": "Bad"})
    conflict = "Conflict: terminated by other getUpdates request"
    fake.fail_once("getUpdates", 409, {"ok": False, "error_code": 409, "description": conflict})
    async with running_telegram(None, database_url=sqlite_url, polling=True, telegram=fake) as rig:
        fake.queue_update(update(message("help"), update_id=5_000_101))
        await fake.wait_for(lambda: len(fake.sent(ALICE_CHAT)) >= 1, timeout_s=10)
        await rig.settle()
        assert len(fake.called("getUpdates")) >= 3  # two failed, then the update came
        assert "offline mode" in fake.texts(ALICE_CHAT)[0] and len(fake.sent(ALICE_CHAT)) == 1


async def test_a_booking_in_a_forum_topic_is_confirmed_and_its_result_lands_there(
    sqlite_url: str,
) -> None:
    async with running_telegram(None, database_url=sqlite_url, polling=True) as rig:
        mention = f"@{BOT_USERNAME}"
        rig.telegram.queue_update(
            update(message(f"{mention} search jazz in Brooklyn", chat=FORUM, thread=TOPIC))
        )
        await rig.results(FORUM)
        rig.telegram.queue_update(
            update(message(f"{mention} book 1 2 Free RSVP", chat=FORUM, thread=TOPIC))
        )
        await rig.telegram.wait_for(
            lambda: any("Confirm" in str(c.buttons) for c in rig.telegram.sent(FORUM))
        )
        await rig.settle()
        approval = rig.telegram.sent(FORUM)[-1]
        assert approval.text.startswith("<b>Book")  # the card names who may confirm
        assert 'Only <a href="tg://user?id=1001">Alice</a> can' in approval.text
        assert approval.thread_id == TOPIC
        approval_id = approval.params["_message_id"]

        # Bob may not confirm Alice's booking.
        confirm = approval.callback_data("Confirm")
        rig.telegram.queue_update(
            callback_query(confirm, on=approval_id, chat=FORUM, user=BOB, thread=TOPIC)
        )
        await rig.telegram.wait_for(
            lambda: any(
                "Only the person who asked" in str(c.params.get("text"))
                and c.params.get("show_alert") in (True, "true")
                for c in rig.telegram.called("answerCallbackQuery")
            )
        )
        assert not any("Only the person who asked" in t for t in rig.telegram.texts(FORUM))
        rig.telegram.queue_update(callback_query(confirm, on=approval_id, chat=FORUM, thread=TOPIC))
        await rig.telegram.wait_for(lambda: any("Booked:" in t for t in rig.telegram.texts(FORUM)))
        edits = [c for c in rig.telegram.called("editMessageText") if c.chat_id == FORUM]
        assert any(
            int(c.params["message_id"]) == approval_id
            and "Confirmed" in c.params["text"]
            and "reply_markup" not in c.params
            for c in edits
        )
        booked = next(c for c in rig.telegram.sent(FORUM) if "Booked:" in c.text)
        assert booked.thread_id == TOPIC and booked.reply_to == approval_id
        assert booked.text.startswith('<a href="tg://user?id=1001">Alice</a>')


async def test_the_webhook_answers_fast_while_the_work_runs_after(sqlite_url: str) -> None:
    gate = asyncio.Event()

    async def slow(request: LLMRequest) -> LLMResponse:
        await gate.wait()
        return text("done thinking")

    async with running_telegram(FunctionLLM(slow), database_url=sqlite_url) as rig:
        response = await asyncio.wait_for(rig.post(update(message("think hard"))), timeout=2)
        assert response.status_code == 200
        assert not rig.telegram.sent()
        gate.set()
        await rig.settle()
        assert rig.telegram.texts(ALICE_CHAT) == ["done thinking"]


async def test_serve_includes_telegram_only_when_a_token_is_set(sqlite_url: str) -> None:
    assert not any(
        isinstance(f, TelegramFrontEnd)
        for f in configured_front_ends(Settings(CONCIERGE_DATABASE_URL=sqlite_url))
    )
    configured = configured_front_ends(
        Settings(CONCIERGE_DATABASE_URL=sqlite_url, TELEGRAM_BOT_TOKEN="1:abc")
    )
    assert any(isinstance(f, TelegramFrontEnd) for f in configured)


async def test_serve_starts_while_telegram_is_down_and_connects_later(sqlite_url: str) -> None:
    fake = FakeTelegram()
    for _ in range(4):  # getMe and its three network retries
        fake.fail_once("getMe", 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
    async with running_telegram(None, database_url=sqlite_url, telegram=fake) as rig:
        assert (await rig.post(update(message("help")))).status_code == 503
        await fake.wait_for(lambda: bool(fake.called("setWebhook")), timeout_s=10)
        await rig.deliver(update(message("help")))
        assert "offline mode" in fake.texts(ALICE_CHAT)[0]


async def test_a_keyed_reply_edits_its_message_and_an_unchanged_one_is_no_error(
    sqlite_url: str,
) -> None:
    async with running_telegram(None, database_url=sqlite_url) as rig:
        alice = ConversationAddress(PLATFORM, str(ALICE_CHAT), str(ALICE_CHAT), "")
        replier = rig.front_end.outlet().replier_for(alice)
        assert replier is not None
        await replier.send(Reply(text="Booking: pending", key="booking:1"))
        await replier.send(Reply(text="Booking: confirmed", key="booking:1"))
        await replier.send(Reply(text="Booking: confirmed", key="booking:1"))  # not modified
        assert rig.telegram.texts(ALICE_CHAT) == ["Booking: pending"]
        edits = rig.telegram.called("editMessageText")
        assert [e.params["text"] for e in edits] == ["Booking: confirmed"] * 2
