"""The Telegram front-end through its real dispatch path: updates posted to `serve`'s
`POST /telegram/webhook`, the real python-telegram-bot application, the offline planner
against the Outgoing sandbox, and a fake Bot API that records what the bot sent."""

from __future__ import annotations

import pytest

from tests.bot.telegram.fake_telegram import BOT_USERNAME
from tests.bot.telegram.harness import (
    ALICE,
    BOB,
    FORUM,
    GROUP,
    PUBLIC_HTTPS,
    SECRET,
    TOPIC,
    TelegramRig,
    bot_added,
    bot_message,
    callback_query,
    location,
    message,
    update,
)

ALICE_CHAT = int(ALICE["id"])


async def test_start_registers_the_webhook_with_its_secret_and_the_commands(
    rig: TelegramRig,
) -> None:
    (webhook,) = rig.telegram.called("setWebhook")
    assert webhook.params["url"] == f"{PUBLIC_HTTPS}/telegram/webhook"
    assert webhook.params["secret_token"] == SECRET
    assert webhook.params["allowed_updates"] == [
        "message",
        "callback_query",
        "my_chat_member",
        "poll_answer",
    ]
    (commands,) = rig.telegram.called("setMyCommands")
    assert [c["command"] for c in commands.params["commands"]] == [
        "start",
        "help",
        "search",
        "near",
        "plan",
        "orders",
        "status",
        "settings",
    ]
    assert not rig.telegram.called("getUpdates")


@pytest.mark.parametrize(
    ("secret", "status"),
    [
        (None, 401),
        ("wrong-secret", 403),
        (SECRET[:-1], 403),
        ("sécret".encode(), 401),
        ("a" * 257, 401),
        ("has space", 401),
    ],
    ids=["missing", "wrong", "prefix", "non-ascii", "257-chars", "bad-shape"],
)
async def test_a_wrong_or_missing_secret_is_refused_and_nothing_happens(
    rig: TelegramRig, secret: str | bytes | None, status: int
) -> None:
    response = await rig.post(update(message("hi there")), secret=secret)
    assert response.status_code == status
    await rig.settle()
    assert not rig.telegram.sent()
    assert not rig.telegram.called("sendChatAction")


async def test_garbage_with_the_right_secret_is_a_400_not_a_500(rig: TelegramRig) -> None:
    assert (await rig.post(b"{not json")).status_code == 400
    assert (await rig.post(b"[1, 2]")).status_code == 400
    assert (await rig.post(b"x" * (1 << 21))).status_code == 413
    assert not rig.telegram.sent()


async def test_a_private_message_gets_an_answer_replying_to_it(rig: TelegramRig) -> None:
    asked = message("help")
    await rig.deliver(update(asked))
    (answer,) = rig.telegram.sent(ALICE_CHAT)
    assert "offline mode" in answer.text and "Hi! I&#x27;m the concierge." in answer.text
    assert answer.reply_to == asked["message_id"]
    assert answer.params["parse_mode"] == "HTML"
    assert answer.params["link_preview_options"] == {"is_disabled": True}
    assert rig.telegram.called("sendChatAction")[0].params["action"] == "typing"


async def test_commands_become_messages_the_core_understands(rig: TelegramRig) -> None:
    await rig.deliver(update(message("/search jazz in Brooklyn")))
    await rig.results(ALICE_CHAT)
    status, album, listed = rig.telegram.sent(ALICE_CHAT)
    assert status.text == "⏳ Searching for jazz in Brooklyn…"
    assert album.text.startswith("1. Celebrate Brooklyn! Jazz in Prospect Park")
    assert listed.text.startswith("6 ideas for jazz in Brooklyn:")
    # The search's job posts its results under the status line, which it then deletes.
    await rig.telegram.wait_for(lambda: bool(rig.telegram.called("deleteMessage")))
    (deleted,) = rig.telegram.called("deleteMessage")
    assert int(deleted.params["message_id"]) == status.params["_message_id"]

    await rig.deliver(update(message("/orders")))
    await rig.deliver(update(message("/help")))
    assert "offline mode" in rig.telegram.texts(ALICE_CHAT)[-1]


async def test_status_lists_the_persons_jobs_here(rig: TelegramRig) -> None:
    await rig.deliver(update(message("/status")))
    assert rig.telegram.texts(ALICE_CHAT)[-1] == "Nothing is running for you here right now."
    await rig.deliver(update(message("/search jazz in Brooklyn")))
    await rig.results(ALICE_CHAT)
    await rig.deliver(update(message("/status")))
    assert rig.telegram.texts(ALICE_CHAT)[-1] == "Nothing is running for you here right now."


async def test_settings_and_bare_commands_are_answered_directly(rig: TelegramRig) -> None:
    await rig.deliver(update(message("/settings")))
    await rig.deliver(update(message("/search")))
    await rig.deliver(update(message("/near")))
    settings, search, near = rig.telegram.sent(ALICE_CHAT)
    assert "Search and booking (Outgoing): on" in settings.text
    assert "test mode" in settings.text and "offline planner" in settings.text
    assert search.text.startswith("What should I look for?")
    keyboard = near.params["reply_markup"]["keyboard"]
    assert keyboard[0][0]["request_location"] is True


async def test_a_group_command_is_answered_in_the_group(rig: TelegramRig) -> None:
    asked = message(f"/search@{BOT_USERNAME} jazz in Brooklyn", chat=GROUP)
    await rig.deliver(update(asked))
    await rig.results(GROUP)
    sent = rig.telegram.sent(GROUP)
    assert len(sent) == 3  # the status line (deleted), the album, the list
    assert all(c.reply_to == asked["message_id"] for c in sent)
    assert sent[1].method == "sendMediaGroup"
    assert {b["text"] for b in sent[2].buttons} >= {"1 · Details", "1 · Book"}


async def test_a_command_for_another_bot_is_ignored(rig: TelegramRig) -> None:
    await rig.deliver(update(message("/search@SomeOtherBot jazz", chat=GROUP)))
    assert not rig.telegram.sent()


async def test_a_mention_in_a_group_is_answered_without_the_mention(rig: TelegramRig) -> None:
    await rig.deliver(update(message(f"@{BOT_USERNAME} near Williamsburg", chat=GROUP)))
    texts = rig.telegram.texts(GROUP)
    assert any("Williamsburg" in t for t in texts)
    assert any(c.method == "sendMediaGroup" for c in rig.telegram.sent(GROUP))


async def test_a_reply_to_the_bot_is_answered_and_plain_chatter_is_not(rig: TelegramRig) -> None:
    await rig.deliver(update(message("anyone up for jazz tonight?", chat=GROUP, user=BOB)))
    await rig.deliver(update(message("search jazz", chat=GROUP)))
    await rig.deliver(
        update(message("hello", chat=GROUP, reply_to=message("hi", chat=GROUP, user=BOB)))
    )
    assert not rig.telegram.sent()
    assert not rig.telegram.called("sendChatAction")

    answer_to = bot_message(4242, GROUP)
    asked = message("help", chat=GROUP, reply_to=answer_to)
    await rig.deliver(update(asked))
    (answer,) = rig.telegram.sent(GROUP)
    assert "offline mode" in answer.text and answer.reply_to == asked["message_id"]


async def test_a_forum_topic_is_its_own_conversation(rig: TelegramRig) -> None:
    asked = message(f"@{BOT_USERNAME} search jazz in Brooklyn", chat=FORUM, thread=TOPIC)
    await rig.deliver(update(asked))
    await rig.results(FORUM)
    sent = rig.telegram.sent(FORUM)
    assert len(sent) == 3
    assert all(c.thread_id == TOPIC and c.reply_to == asked["message_id"] for c in sent)
    actions = [c for c in rig.telegram.called("sendChatAction") if c.chat_id == FORUM]
    assert actions and all(c.thread_id == TOPIC for c in actions)
    # A plain message in the topic (it "replies" to the topic's first message) is chatter.
    await rig.deliver(update(message("nice", chat=FORUM, thread=TOPIC, user=BOB)))
    assert len(rig.telegram.sent(FORUM)) == 3


async def test_a_shared_location_gets_nearby_ideas(rig: TelegramRig) -> None:
    await rig.deliver(update(location(40.7081, -73.9571)))  # Williamsburg
    sent = rig.telegram.sent(ALICE_CHAT)
    assert any(c.method == "sendMediaGroup" for c in sent)
    assert "Brooklyn" in " ".join(c.text for c in sent if c.buttons)
    assert any("near" in t.lower() or "nearby" in t.lower() for t in rig.telegram.texts())


async def test_a_live_location_update_is_not_a_new_question(rig: TelegramRig) -> None:
    moved = location(40.7081, -73.9571)
    response = await rig.post({"update_id": 777_001, "edited_message": moved})
    assert response.status_code == 200
    await rig.settle()
    assert not rig.telegram.sent()


async def test_details_button_shows_the_detail_without_the_model(rig: TelegramRig) -> None:
    await rig.deliver(update(message("search jazz in Brooklyn")))
    await rig.results(ALICE_CHAT)
    listed = next(c for c in rig.telegram.sent(ALICE_CHAT) if c.buttons)
    token = listed.callback_data("1 · Details")
    assert len(token.encode()) <= 64 and "details" not in token
    await rig.deliver(callback_query(token, on=listed.params["_message_id"], chat=ALICE_CHAT))
    assert rig.telegram.called("answerCallbackQuery")
    detail = rig.telegram.sent(ALICE_CHAT)[-1]
    assert "Celebrate Brooklyn! Jazz in Prospect Park" in detail.text
    assert "Sessions and tickets" in detail.text
    assert detail.reply_to == listed.params["_message_id"]
    assert not rig.telegram.called("sendVenue")  # the place is a map link in the detail
    assert '📍 <a href="https://maps.google.com/?q=40.6' in detail.text
    assert ">Lena Horne Bandshell</a>" in detail.text


async def test_an_unknown_or_foreign_button_says_it_is_no_longer_active(
    rig: TelegramRig,
) -> None:
    await rig.deliver(update(message("search jazz in Brooklyn")))
    await rig.results(ALICE_CHAT)
    card = next(c for c in rig.telegram.sent(ALICE_CHAT) if c.buttons)
    before = len(rig.telegram.sent())
    await rig.deliver(
        callback_query("forged-token", on=card.params["_message_id"], chat=ALICE_CHAT)
    )
    token = card.callback_data("1 · Details")
    await rig.deliver(callback_query(token, on=1, chat=int(BOB["id"]), user=BOB))
    answers = rig.telegram.called("answerCallbackQuery")
    assert [a.params.get("text", "") for a in answers] == [
        "That button is no longer active. Ask me again for fresh options."
    ] * 2
    assert len(rig.telegram.sent()) == before


async def test_the_bot_added_to_a_group_says_hello(rig: TelegramRig) -> None:
    member = bot_added(update_id=888_001)
    await rig.deliver(member)
    await rig.deliver(member)  # a redelivery says nothing more
    await rig.settle()
    (hello,) = rig.telegram.sent(GROUP)
    assert "Hi! I&#x27;m the concierge." in hello.text  # the welcome
