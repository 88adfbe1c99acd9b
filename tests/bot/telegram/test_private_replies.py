"""Replies for one person only (`Reply.private_to`): as usual in their private chat, sent to
their private chat from a group, and a notice in the group (never the content) when the
bot may not write to them; the outbox carries the field across its JSON."""

from __future__ import annotations

from bot.telegram.addressing import PLATFORM
from conversations.delivery import enqueue
from conversations.replies import Reply
from conversations.serialize import reply_from_json, reply_to_json
from conversations.types import ConversationAddress
from tests.bot.telegram.fake_telegram import BOT_USERNAME
from tests.bot.telegram.harness import (
    ALICE,
    FORUM,
    GROUP,
    TOPIC,
    TelegramRig,
    message,
    running_telegram,
    update,
)

ALICE_CHAT = int(ALICE["id"])
URL = "https://pay.example/abc"
PAYMENT = Reply(text=f"Complete payment: {URL}", private_to=str(ALICE_CHAT))
IN_GROUP = ConversationAddress(PLATFORM, str(GROUP), str(GROUP), "")
PRIVATE = ConversationAddress(PLATFORM, str(ALICE_CHAT), str(ALICE_CHAT), "")


def _group_calls(rig: TelegramRig, chat: int = GROUP) -> list[str]:
    """Every text the bot tried to show in the group (delivered or not)."""
    return [c.text for c in rig.telegram.calls if c.chat_id == chat and c.text]


async def test_a_private_reply_in_the_persons_private_chat_is_a_normal_message(
    sqlite_url: str,
) -> None:
    async with running_telegram(None, database_url=sqlite_url) as rig:
        replier = rig.front_end.outlet().replier_for(PRIVATE)
        assert replier is not None
        await replier.send(PAYMENT)
        (sent,) = rig.telegram.sent()
    assert sent.chat_id == ALICE_CHAT and URL in sent.text


async def test_a_private_reply_in_a_group_goes_to_the_persons_private_chat(
    sqlite_url: str,
) -> None:
    async with running_telegram(None, database_url=sqlite_url) as rig:
        replier = rig.front_end.outlet().replier_for(IN_GROUP)
        assert replier is not None
        await replier.send(PAYMENT)
        (sent,) = rig.telegram.sent()
        assert sent.chat_id == ALICE_CHAT and URL in sent.text
        assert sent.reply_to is None and sent.thread_id is None
        assert not _group_calls(rig)


async def test_a_person_who_never_started_the_bot_gets_a_notice_in_the_group(
    sqlite_url: str,
) -> None:
    async with running_telegram(None, database_url=sqlite_url) as rig:
        rig.telegram.not_started.add(ALICE_CHAT)
        topic = ConversationAddress(PLATFORM, str(FORUM), str(FORUM), str(TOPIC))
        replier = rig.front_end.outlet().replier_for(topic)
        assert replier is not None
        await replier.send(PAYMENT)
        refused = rig.telegram.called("sendMessage")[0]
        assert refused.chat_id == ALICE_CHAT and not refused.params.get("_ok")
        (notice,) = rig.telegram.sent()
        assert notice.chat_id == FORUM and notice.thread_id == TOPIC
        assert f'<a href="tg://user?id={ALICE_CHAT}">' in notice.text
        assert f"@{BOT_USERNAME}" in notice.text and "/start" in notice.text
        assert "something private for you" in notice.text
        assert all(URL not in text for text in _group_calls(rig, FORUM))

        # Alice says /start to the bot; asked again, the link reaches her private chat.
        rig.telegram.not_started.clear()
        await rig.deliver(update(message("/start")))
        await replier.send(PAYMENT)
        assert any(URL in text for text in rig.telegram.texts(ALICE_CHAT))
        assert all(URL not in text for text in _group_calls(rig, FORUM))


async def test_the_outbox_keeps_private_to_and_sends_to_the_private_chat(
    sqlite_url: str,
) -> None:
    assert reply_from_json(reply_to_json(PAYMENT)) == PAYMENT
    async with running_telegram(None, database_url=sqlite_url) as rig:
        async with rig.services.db.session() as session:
            assert await enqueue(session, IN_GROUP, PAYMENT, dedupe_key="pay:abc")
        rig.services.outbox.wake()
        await rig.telegram.wait_for(lambda: bool(rig.telegram.sent()))
        (sent,) = rig.telegram.sent()
        assert sent.chat_id == ALICE_CHAT and URL in sent.text
        assert not _group_calls(rig)
