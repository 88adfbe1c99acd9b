"""How many messages a search may cost a chat. A Telegram message is one send call (an
album is one; edits, deletions, the typing indicator and drafts are free); a Slack message
is one `chat.postMessage` or `chat.postEphemeral` (`chat.update` is free)."""

from __future__ import annotations

from pathlib import Path

from tests.bot.slack.harness import running_slack
from tests.bot.slack.harness import sqlite_url as slack_database
from tests.bot.telegram.harness import ALICE, running_telegram
from tests.transcripts.clock import pinned_sandbox
from tests.transcripts.slack import SlackTranscript
from tests.transcripts.telegram import TelegramTranscript

NOT_MESSAGES = {"sendChatAction", "sendMessageDraft"}
SEARCH = "search jazz in brooklyn"


async def test_a_telegram_search_in_a_private_chat_sends_at_most_three_messages(
    sqlite_url: str,
) -> None:
    async with running_telegram(
        None, database_url=sqlite_url, sandbox=pinned_sandbox(), polling=True
    ) as rig:
        session = TelegramTranscript(rig, {int(ALICE["id"]): "Alice's chat"})
        await session.say(SEARCH)
    assert "5. " in session.text()  # five results came
    sent = [
        c.method
        for c in rig.telegram.calls
        if c.method.startswith("send") and c.method not in NOT_MESSAGES and c.params.get("_ok")
    ]
    assert len(sent) <= 3, sent


async def test_a_slack_search_posts_at_most_two_messages_in_a_dm(tmp_path: Path) -> None:
    async with running_slack(
        None, database_url=slack_database(tmp_path), sandbox=pinned_sandbox()
    ) as rig:
        session = SlackTranscript(rig)
        await session.dm(SEARCH)
    assert "*5. " in session.text()
    posted = rig.slack.of("chat.postMessage", "chat.postEphemeral")
    assert len(posted) <= 2, [c.args.get("text") for c in posted]


async def test_a_slack_search_posts_at_most_two_messages_in_a_channel(tmp_path: Path) -> None:
    async with running_slack(
        None, database_url=slack_database(tmp_path), sandbox=pinned_sandbox()
    ) as rig:
        session = SlackTranscript(rig)
        await session.mention(SEARCH)
    assert "*5. " in session.text()
    posted = rig.slack.of("chat.postMessage", "chat.postEphemeral")
    assert len(posted) <= 2, [c.args.get("text") for c in posted]
