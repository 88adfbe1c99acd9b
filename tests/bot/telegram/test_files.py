"""Replies with a file (an audit export): one `sendDocument` upload (the bytes under the
file's name, the text as caption, the rest of a long text after it), in a private chat, or
in the person's private chat when the reply is private to them in a group, where the group
sees at most a notice without the content."""

from __future__ import annotations

from bot.telegram.addressing import PLATFORM
from conversations.delivery import enqueue
from conversations.replies import Button, FileAttachment, Progress, Reply
from conversations.types import ConversationAddress
from tests.bot.telegram.fake_telegram import Document
from tests.bot.telegram.harness import ALICE, FORUM, GROUP, TOPIC, TelegramRig, running_telegram

ALICE_CHAT = int(ALICE["id"])
CSV = b"agency,booking,amount\nNorthwind,BK-1,120.00\n"
EXPORT = FileAttachment("audit-northwind.csv", CSV, mime="text/csv")
SECRET_ROW = "Northwind"
PRIVATE = ConversationAddress(PLATFORM, str(ALICE_CHAT), str(ALICE_CHAT), "")
IN_GROUP = ConversationAddress(PLATFORM, str(GROUP), str(GROUP), "")


def _group_calls(rig: TelegramRig, chat: int = GROUP) -> list[str]:
    """Every text the bot tried to show in the group (delivered or not)."""
    return [c.text for c in rig.telegram.calls if c.chat_id == chat and c.text]


async def test_a_file_in_a_private_chat_is_one_document_with_its_caption(
    sqlite_url: str,
) -> None:
    async with running_telegram(None, database_url=sqlite_url) as rig:
        replier = rig.front_end.outlet().replier_for(PRIVATE)
        assert replier is not None
        await replier.send(Reply(text="Your **audit** export <3", file=EXPORT))
        (document,) = rig.telegram.documents
        assert document == Document(
            ALICE_CHAT,
            "audit-northwind.csv",
            CSV,
            "text/csv",
            "Your <b>audit</b> export &lt;3",
            None,
            document.message_id,
        )
        (sent,) = rig.telegram.sent()
        assert sent.method == "sendDocument" and not sent.silent
        assert rig.telegram.final_texts(ALICE_CHAT) == ["Your <b>audit</b> export &lt;3"]


async def test_a_text_longer_than_a_caption_follows_the_document_silently(
    sqlite_url: str,
) -> None:
    text = " ".join(f"Line {n} of the audit notes." for n in range(120))  # ~3,300 characters
    reply = Reply(text=text, file=EXPORT, buttons=(Button("Export again", "export:again"),))
    async with running_telegram(None, database_url=sqlite_url) as rig:
        replier = rig.front_end.outlet().replier_for(PRIVATE)
        assert replier is not None
        await replier.send(reply)
        (document,) = rig.telegram.documents
        document_call, *rest = rig.telegram.sent()
        assert document_call.method == "sendDocument"
        assert document.caption.startswith("Line 0 ") and len(document.caption) <= 1024
        assert rest and all(c.method == "sendMessage" and c.silent for c in rest)
        shown = " ".join([document.caption, *(c.text for c in rest)])
        assert " ".join(shown.split()) == text
        assert [b["text"] for b in rest[-1].buttons] == ["Export again"]


async def test_a_private_file_in_a_group_goes_to_the_persons_private_chat(
    sqlite_url: str,
) -> None:
    reply = Reply(text=f"{SECRET_ROW} audit", file=EXPORT, private_to=str(ALICE_CHAT))
    async with running_telegram(None, database_url=sqlite_url) as rig:
        replier = rig.front_end.outlet().replier_for(IN_GROUP)
        assert replier is not None
        await replier.send(reply)
        (document,) = rig.telegram.documents
        assert document.chat_id == ALICE_CHAT and document.content == CSV
        assert document.caption == f"{SECRET_ROW} audit" and document.thread_id is None
        assert not _group_calls(rig) and not rig.telegram.sent(GROUP)


async def test_a_private_file_for_someone_the_bot_cannot_write_to_leaves_a_notice_only(
    sqlite_url: str,
) -> None:
    reply = Reply(text=f"{SECRET_ROW} audit", file=EXPORT, private_to=str(ALICE_CHAT))
    async with running_telegram(None, database_url=sqlite_url) as rig:
        rig.telegram.not_started.add(ALICE_CHAT)
        topic = ConversationAddress(PLATFORM, str(FORUM), str(FORUM), str(TOPIC))
        replier = rig.front_end.outlet().replier_for(topic)
        assert replier is not None
        await replier.send(reply)
        (refused,) = rig.telegram.called("sendDocument")
        assert refused.chat_id == ALICE_CHAT and not refused.params.get("_ok")
        assert not rig.telegram.documents
        (notice,) = rig.telegram.sent()
        assert notice.chat_id == FORUM and notice.thread_id == TOPIC
        assert "something private for you" in notice.text
        assert all(SECRET_ROW not in text for text in _group_calls(rig, FORUM))


async def test_a_file_in_a_group_topic_mentions_the_person_and_ends_its_status_line(
    sqlite_url: str,
) -> None:
    topic = ConversationAddress(PLATFORM, str(FORUM), str(FORUM), str(TOPIC))
    reply = Reply(text="The attendee list", file=EXPORT, mention=str(ALICE_CHAT), key="x:1")
    async with running_telegram(None, database_url=sqlite_url) as rig:
        replier = rig.front_end.outlet().replier_for(topic)
        assert replier is not None
        await replier.progress(Progress(key="x:1", text="Exporting"))
        await replier.send(reply)
        (document,) = rig.telegram.documents
        assert (document.chat_id, document.thread_id) == (FORUM, TOPIC)
        assert document.caption.startswith(f'<a href="tg://user?id={ALICE_CHAT}">')
        assert document.caption.endswith("\nThe attendee list")
        # The status line is gone once the file is there; only the document shows.
        assert rig.telegram.final_texts(FORUM) == [document.caption]


async def test_the_outbox_carries_the_file_to_the_private_chat(sqlite_url: str) -> None:
    reply = Reply(text="Your export", file=EXPORT, private_to=str(ALICE_CHAT))
    async with running_telegram(None, database_url=sqlite_url) as rig:
        async with rig.services.db.session() as session:
            assert await enqueue(session, IN_GROUP, reply, dedupe_key="export:abc")
        rig.services.outbox.wake()
        await rig.telegram.wait_for(lambda: bool(rig.telegram.documents))
        (document,) = rig.telegram.documents
        assert document.chat_id == ALICE_CHAT and document.content == CSV
        assert not _group_calls(rig)
