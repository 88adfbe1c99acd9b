"""What the Telegram front-end must remember outlives its process: after a rebuild on the
same database (a restart), or from a second front-end on it (a replica), keyed replies and
status lines are edited in place, later results reply to the message last answered, blocked
chats stay quiet until someone writes there, and a migrated group is reached at its new id.
One fake Bot API records what every instance did."""

from __future__ import annotations

import asyncio

from conversations.replies import ActivityCard, Button, Progress, Reply
from conversations.types import ConversationAddress
from tests.bot.telegram.fake_telegram import FakeTelegram
from tests.bot.telegram.harness import ALICE, BOB, GROUP, message, running_telegram, update
from tests.fakes.llm import ScriptedLLM

ALICE_CHAT = int(ALICE["id"])
BOB_CHAT = int(BOB["id"])
OLD_GROUP = -4001  # a basic group, before Telegram made it the supergroup GROUP


def _address(chat: int) -> ConversationAddress:
    return ConversationAddress("telegram", str(chat), str(chat), "")


def _card(number: int) -> ActivityCard:
    return ActivityCard(
        number,
        f"Late set {number}",
        image_url=f"https://img.example/{number}.jpg",
        buttons=(Button("Details", f"details:{number}"),),
    )


async def test_a_keyed_reply_from_a_fresh_replier_after_a_restart_edits_the_original(
    database_url: str,
) -> None:
    fake = FakeTelegram()
    async with running_telegram(None, database_url=database_url, telegram=fake) as rig:
        replier = rig.services.replier_for(_address(ALICE_CHAT))
        assert replier is not None
        await replier.send(Reply(text="Booking: pending", key="booking:1"))
    (posted,) = fake.sent(ALICE_CHAT)

    async with running_telegram(None, database_url=database_url, telegram=fake) as rig:
        replier = rig.services.replier_for(_address(ALICE_CHAT))  # the outbox's, after a restart
        assert replier is not None
        await replier.send(Reply(text="Booking: confirmed", key="booking:1"))
    assert fake.sent(ALICE_CHAT) == [posted]
    (edit,) = fake.called("editMessageText")
    assert int(edit.params["message_id"]) == posted.params["_message_id"]
    assert edit.params["text"] == "Booking: confirmed"


async def test_a_status_line_of_one_process_becomes_another_ones_results(sqlite_url: str) -> None:
    fake = FakeTelegram()
    async with (
        running_telegram(None, database_url=sqlite_url, telegram=fake) as one,
        running_telegram(None, database_url=sqlite_url, telegram=fake) as two,
    ):
        first = one.services.replier_for(_address(ALICE_CHAT))
        second = two.services.replier_for(_address(ALICE_CHAT))
        assert first is not None and second is not None
        await first.progress(Progress("job:search", "Searching for “jazz”…"))
        await first.progress(Progress("job:photo", "Looking for pictures…"))
        await second.progress(Progress("job:search", "Searching for “jazz”…", 12.0))
        results = Reply(text="2 ideas for “jazz”:", cards=(_card(1), _card(2)), key="job:search")
        await second.send(results)
        await second.send(Reply(cards=(_card(3),), key="job:photo"))
    # A status line does not become its results: they are posted, and the line deleted.
    status, photo_status, album, results_list, photo, photo_list = fake.sent(ALICE_CHAT)
    assert status.text == "⏳ Searching for “jazz”…" and photo_status.text.startswith("⏳ Look")
    assert [c.method for c in (album, photo)] == ["sendMediaGroup", "sendPhoto"]
    assert results_list.text.startswith("2 ideas for “jazz”:")
    assert photo_list.text.startswith("<b>3. Late set 3</b>")
    (refreshed,) = fake.called("editMessageText")
    assert int(refreshed.params["message_id"]) == status.params["_message_id"]
    assert refreshed.params["text"] == "⏳ Searching for “jazz”… (12s)"
    deleted = {int(c.params["message_id"]) for c in fake.called("deleteMessage")}
    assert deleted == {status.params["_message_id"], photo_status.params["_message_id"]}


async def test_anchors_inactive_chats_and_migrations_survive_a_restart(
    database_url: str,
) -> None:
    fake = FakeTelegram()
    asked = message("hello there")
    model = ScriptedLLM(["Hi Alice!", "Hi Bob?"])
    async with running_telegram(model, database_url=database_url, telegram=fake) as rig:
        await rig.deliver(update(asked))
        fake.blocked.add(BOB_CHAT)
        await rig.deliver(update(message("hi there", user=BOB)))  # a 403: Bob blocked the bot
        fake.fail_once(
            "sendMessage",
            400,
            {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: group chat was upgraded to a supergroup chat",
                "parameters": {"migrate_to_chat_id": GROUP},
            },
        )
        old_group = rig.services.replier_for(_address(OLD_GROUP))
        assert old_group is not None
        await old_group.send(Reply(text="Your table is booked."))
    assert [c.chat_id for c in fake.called("sendMessage")] == [
        ALICE_CHAT,
        BOB_CHAT,
        OLD_GROUP,
        GROUP,
    ]
    fake.blocked.clear()  # Bob unblocked the bot, but wrote nothing yet

    async with running_telegram(
        ScriptedLLM(["Welcome back."]), database_url=database_url, telegram=fake
    ) as rig:
        for chat in (ALICE_CHAT, BOB_CHAT, OLD_GROUP):
            replier = rig.services.replier_for(_address(chat))
            assert replier is not None
            await replier.send(Reply(text=f"Later news for {chat}"))
        later = fake.called("sendMessage")[4:]
        assert [c.chat_id for c in later] == [ALICE_CHAT, GROUP]
        assert later[0].reply_to == asked["message_id"]  # the message last answered there
        # Bob writes again: his chat is active, for this process and every later replier.
        await rig.deliver(update(message("back again", user=BOB)))
        bob = rig.services.replier_for(_address(BOB_CHAT))
        assert bob is not None
        await bob.send(Reply(text="Your booking is confirmed."))
    assert fake.texts(BOB_CHAT) == ["Welcome back.", "Your booking is confirmed."]


async def test_a_turns_and_a_jobs_replier_post_one_status_line_between_them(
    sqlite_url: str,
) -> None:
    """The search tool posts its status line while the runner's replier starts the job's:
    with Telegram slow to answer, the second waits for the first and edits its line."""
    fake = FakeTelegram()
    fake.send_delay_s = 0.2
    async with running_telegram(None, database_url=sqlite_url, telegram=fake) as rig:
        turn = rig.services.replier_for(_address(ALICE_CHAT))
        job = rig.services.replier_for(_address(ALICE_CHAT))
        assert turn is not None and job is not None and turn is not job
        await asyncio.gather(
            turn.progress(Progress("job:search", "Searching for “jazz”…")),
            job.progress(Progress("job:search", "Searching for “jazz”…", 12.0)),
        )
        await job.send(Reply(text="Here is what I found.", key="job:search"))
    line, results = fake.sent(ALICE_CHAT)  # one status line, then the results
    assert line.params["text"] == "⏳ Searching for “jazz”…"
    assert results.params["text"] == "Here is what I found."
    (deleted,) = fake.called("deleteMessage")  # the line gives way to the results
    assert int(deleted.params["message_id"]) == line.params["_message_id"]
