"""Replies with a file (an audit export): uploaded with `files_upload_v2` into the
conversation, its thread kept; a private one goes to the person's DM and nothing with its
content lands in the channel; through the outbox too."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.slack.replier import SlackDeliveryError
from conversations.delivery import enqueue
from conversations.replies import Button, FileAttachment, Progress, Reply
from conversations.types import ConversationAddress
from tests.bot.slack.fake_slack import SCOPES, TEAM, FakeSlackAPI, Upload
from tests.bot.slack.harness import SlackRig, running_slack, sqlite_url
from tests.fakes.llm import ScriptedLLM

CSV = b"agency,booking,amount\nNorthwind,BK-1,120.00\n"
EXPORT = FileAttachment("audit-northwind.csv", CSV, mime="text/csv", title="Audit export")
SECRET_ROW = "Northwind"
DM = ConversationAddress("slack", TEAM, "D0ALICE", "")
CHANNEL = ConversationAddress("slack", TEAM, "C0PLANS", "")
THREAD = ConversationAddress("slack", TEAM, "C0PLANS", "1700000000.000100")


def _seen_in_channel(rig: SlackRig) -> list[str]:
    """Everything the bot showed or tried to show outside Alice's DM."""
    texts = [
        f"{c.args.get('text', '')} {c.block_text} {c.args.get('initial_comment', '')}"
        for c in rig.slack.calls
        if (c.args.get("channel") or c.args.get("channel_id")) not in (None, "D0ALICE")
    ]
    return texts + [str(u.comment) for u in rig.slack.files if u.channel != "D0ALICE"]


async def test_a_file_in_a_dm_is_uploaded_to_the_dm_with_the_text_as_its_comment(
    tmp_path: Path,
) -> None:
    async with running_slack(ScriptedLLM([]), database_url=sqlite_url(tmp_path)) as rig:
        replier = rig.services.replier_for(DM)
        assert replier is not None
        await replier.send(Reply(text="Here is the audit export.", file=EXPORT))
    (shared,) = rig.slack.files
    assert shared == Upload(
        shared.file_id,
        "audit-northwind.csv",
        len(CSV),
        content=CSV,
        title="Audit export",
        channel="D0ALICE",
        thread_ts=None,
        comment="Here is the audit export.",
        shared=True,
    )
    steps = [c.method for c in rig.slack.calls if c.method.startswith("files.")]
    assert steps == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    assert not rig.slack.posts and not rig.slack.ephemerals


async def test_a_file_in_a_thread_keeps_the_thread_and_mentions_the_person(
    tmp_path: Path,
) -> None:
    async with running_slack(ScriptedLLM([]), database_url=sqlite_url(tmp_path)) as rig:
        replier = rig.services.replier_for(THREAD)
        assert replier is not None
        await replier.send(
            Reply(text="The list of <!channel> attendees", file=EXPORT, mention="U0BOB")
        )
    (shared,) = rig.slack.files
    assert (shared.channel, shared.thread_ts) == ("C0PLANS", "1700000000.000100")
    assert shared.content == CSV
    assert shared.comment == "<@U0BOB> The list of &lt;!channel&gt; attendees"


async def test_a_private_file_in_a_channel_goes_to_the_persons_dm_and_the_channel_sees_nothing(
    tmp_path: Path,
) -> None:
    reply = Reply(text=f"{SECRET_ROW} audit, as you asked.", file=EXPORT, private_to="U0ALICE")
    async with running_slack(ScriptedLLM([]), database_url=sqlite_url(tmp_path)) as rig:
        replier = rig.services.replier_for(THREAD)
        assert replier is not None
        await replier.send(reply)
    (opened,) = rig.slack.of("conversations.open")
    assert opened.args["users"] == "U0ALICE"
    (shared,) = rig.slack.files
    assert (shared.channel, shared.thread_ts) == ("D0ALICE", None)
    assert shared.content == CSV and shared.comment == f"{SECRET_ROW} audit, as you asked."
    assert not rig.slack.ephemerals and not rig.slack.replies
    assert not any(SECRET_ROW in text for text in _seen_in_channel(rig))


async def test_the_rest_of_a_private_file_reply_follows_it_in_the_dm(tmp_path: Path) -> None:
    long_text = "Audit notes. " * 400  # longer than a comment: posted after the file
    reply = Reply(
        text=long_text,
        file=EXPORT,
        private_to="U0ALICE",
        buttons=(Button("Export again", "export:again"),),
        key="export:1",
    )
    async with running_slack(ScriptedLLM([]), database_url=sqlite_url(tmp_path)) as rig:
        replier = rig.services.replier_for(CHANNEL)
        assert replier is not None
        await replier.progress(Progress(key="export:1", text="Preparing the export"))
        await replier.progress(Progress(key="export:1", text="Preparing the export", done=True))
        await replier.send(reply)
    (shared,) = rig.slack.files
    assert shared.channel == "D0ALICE" and shared.comment is None
    status, *in_dm = rig.slack.posts
    assert status.args["channel"] == "C0PLANS" and "Preparing the export" in status.block_text
    (finished,) = rig.slack.of("chat.update")
    assert finished.ts == status.ts and "✓" in finished.block_text
    assert all(p.args["channel"] == "D0ALICE" for p in in_dm)
    assert "Audit notes." in in_dm[0].block_text
    assert "Export again" in in_dm[-1].buttons
    assert not any("Audit notes" in text for text in _seen_in_channel(rig))


async def test_a_file_reply_through_the_outbox_reaches_the_dm(tmp_path: Path) -> None:
    reply = Reply(text="Your export", file=EXPORT, private_to="U0ALICE")
    async with running_slack(ScriptedLLM([]), database_url=sqlite_url(tmp_path)) as rig:
        async with rig.services.db.session() as session:
            assert await enqueue(session, THREAD, reply, dedupe_key="export:abc")
        rig.services.outbox.wake()
        await rig.slack.wait_for(lambda: bool(rig.slack.files))
    (shared,) = rig.slack.files
    assert shared.channel == "D0ALICE" and shared.content == CSV
    assert not rig.slack.replies and not rig.slack.ephemerals


async def test_a_failed_upload_reaches_the_outbox_and_is_retried(tmp_path: Path) -> None:
    reply = Reply(text="Your export", file=EXPORT)
    async with running_slack(ScriptedLLM([]), database_url=sqlite_url(tmp_path)) as rig:
        rig.slack.fail_once("files.completeUploadExternal", "internal_error")
        async with rig.services.db.session() as session:
            assert await enqueue(session, DM, reply, dedupe_key="export:retry")
        rig.services.outbox.wake()
        await rig.slack.wait_for(lambda: len(rig.slack.of("files.completeUploadExternal")) == 1)
        rig.services.outbox.wake()
        await rig.slack.wait_for(lambda: bool(rig.slack.files), timeout_s=15)
    (shared,) = rig.slack.files
    assert shared.channel == "D0ALICE" and shared.content == CSV


async def test_without_files_write_nothing_is_shared_and_the_outbox_keeps_the_reply(
    tmp_path: Path,
) -> None:
    slack = FakeSlackAPI(scopes=SCOPES.replace("files:write,", ""))
    reply = Reply(text="Your export", file=EXPORT)
    async with running_slack(
        ScriptedLLM([]), database_url=sqlite_url(tmp_path), slack=slack
    ) as rig:
        replier = rig.services.replier_for(DM)
        assert replier is not None
        with pytest.raises(SlackDeliveryError, match="missing_scope"):
            await replier.send(reply)
    (refused,) = slack.of("files.getUploadURLExternal")
    assert refused.answer["error"] == "missing_scope"
    assert not slack.files and not slack.posts
