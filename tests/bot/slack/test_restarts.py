"""What the Slack front-end must remember outlives its process: a rebuilt front-end (a
restart) and a second one on the same database (a replica) answer follow-ups in the bot's
threads, and edit in place what another replier posted under a reply key, status lines
included. One fake Slack records what every instance did."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from conversations.replies import ApprovalRequest, Button, Progress, Reply
from conversations.types import ConversationAddress
from tests.bot.slack.fake_slack import TEAM, FakeSlackAPI
from tests.bot.slack.harness import (
    channel_message,
    mention,
    new_ts,
    running_slack,
    sqlite_url,
)
from tests.fakes.llm import ScriptedLLM

APPROVAL = ApprovalRequest(
    "ap1",
    "Book 2 × General Admission?",
    ("Late Set at Bar LunÀtico", "Total: $50.00"),
    requester="U0ALICE",
    confirm=Button("Confirm", "approve:ap1", "primary"),
    cancel=Button("Cancel", "reject:ap1", "danger"),
)


async def test_a_thread_followup_without_a_mention_is_answered_after_a_restart(
    database_url: str,
) -> None:
    slack = FakeSlackAPI()
    asked = mention("anything for Friday?")
    async with running_slack(
        ScriptedLLM(["Where abouts?"]), database_url=database_url, slack=slack
    ) as rig:
        await rig.event(asked)
        await slack.wait_for(lambda: len(slack.posts) == 1)
        await rig.settle()

    model = ScriptedLLM(["Brooklyn it is."])
    async with running_slack(model, database_url=database_url, slack=slack) as restarted:
        followup = channel_message("Brooklyn", user="U0BOB", thread_ts=asked["ts"])
        stranger = channel_message("unrelated", thread_ts=new_ts())
        assert (await restarted.event(followup)).status_code == 200
        assert (await restarted.event(stranger)).status_code == 200
        await slack.wait_for(lambda: len(slack.posts) == 2)
        await restarted.settle()
    first, second = slack.posts
    assert first.args["thread_ts"] == second.args["thread_ts"] == asked["ts"]
    assert "Brooklyn it is." in second.block_text
    assert len(model.requests) == 1  # the foreign thread stayed ignored


async def test_a_second_process_answers_followups_in_threads_the_first_joined(
    tmp_path: Path,
) -> None:
    slack = FakeSlackAPI()
    url = sqlite_url(tmp_path)
    asked = mention("jazz tonight?")
    second_model = ScriptedLLM(["Yes, at nine."])
    async with (
        running_slack(ScriptedLLM(["Jazz it is."]), database_url=url, slack=slack) as one,
        running_slack(second_model, database_url=url, slack=slack) as two,
    ):
        await one.event(asked)
        await slack.wait_for(lambda: len(slack.posts) == 1)
        await one.settle()
        followup = channel_message("is it late?", user="U0BOB", thread_ts=asked["ts"])
        assert (await two.event(followup)).status_code == 200
        await slack.wait_for(lambda: len(slack.posts) == 2)
        await two.settle()
    answer = slack.posts[1]
    assert answer.args["thread_ts"] == asked["ts"] and "Yes, at nine." in answer.block_text
    assert len(second_model.requests) == 1


async def test_a_keyed_reply_from_a_fresh_replier_after_a_restart_edits_the_original(
    database_url: str,
) -> None:
    slack = FakeSlackAPI()
    thread = ConversationAddress("slack", TEAM, "C0PLANS", "1700000000.000100")
    async with running_slack(ScriptedLLM([]), database_url=database_url, slack=slack) as rig:
        replier = rig.services.replier_for(thread)
        assert replier is not None
        await replier.send(Reply(approval=APPROVAL, key="approval:ap1"))
    (posted,) = slack.posts

    async with running_slack(ScriptedLLM([]), database_url=database_url, slack=slack) as rig:
        replier = rig.services.replier_for(thread)  # the outbox's replier, in a new process
        assert replier is not None
        granted = dataclasses.replace(APPROVAL, status="granted")
        await replier.send(Reply(approval=granted, key="approval:ap1"))
    assert slack.posts == [posted]
    (updated,) = slack.of("chat.update")
    assert updated.ts == posted.ts and updated.args["channel"] == "C0PLANS"
    assert "Confirmed" in updated.block_text
    assert not any(b["type"] == "actions" for b in updated.blocks)


async def test_a_status_line_of_one_process_is_refreshed_finished_and_replaced_by_another(
    tmp_path: Path,
) -> None:
    slack = FakeSlackAPI()
    url = sqlite_url(tmp_path)
    dm = ConversationAddress("slack", TEAM, "D0ALICE", "")
    async with (
        running_slack(ScriptedLLM([]), database_url=url, slack=slack) as one,
        running_slack(ScriptedLLM([]), database_url=url, slack=slack) as two,
    ):
        first, second = one.services.replier_for(dm), two.services.replier_for(dm)
        assert first is not None and second is not None
        await first.progress(Progress("job:search", "Searching for “jazz”…"))
        await first.progress(Progress("job:other", "Checking tickets…"))
        await second.progress(Progress("job:search", "Searching for “jazz”…", 12.0))
        await second.progress(Progress("job:other", "Checking tickets…", 3.0, done=True))
        await second.send(Reply(text="Here is what I found.", key="job:search"))
    search, other = slack.posts
    assert "Searching for “jazz”…" in search.block_text and "Checking" in other.block_text
    refreshed, finished, replaced = slack.of("chat.update")
    assert refreshed.ts == replaced.ts == search.ts and finished.ts == other.ts
    assert all(c.args["channel"] == "D0ALICE" for c in (refreshed, finished, replaced))
    assert "· 12 s" in refreshed.block_text
    assert "✓ Checking tickets… · took 3 s" in finished.block_text
    assert "Here is what I found." in replaced.block_text


async def test_a_turns_and_a_jobs_replier_post_one_status_line_between_them(
    tmp_path: Path,
) -> None:
    """The search tool posts its status line while the runner's replier starts the job's:
    with Slack slow to answer, the second waits for the first and refreshes its line."""
    slack = FakeSlackAPI(post_delay_s=0.2)
    dm = ConversationAddress("slack", TEAM, "D0ALICE", "")
    async with running_slack(
        ScriptedLLM([]), database_url=sqlite_url(tmp_path), slack=slack
    ) as rig:
        turn, job = rig.services.replier_for(dm), rig.services.replier_for(dm)
        assert turn is not None and job is not None and turn is not job
        await asyncio.gather(
            turn.progress(Progress("job:search", "Searching for “jazz”…")),
            job.progress(Progress("job:search", "Searching for “jazz”…", 1.0)),
        )
        await job.send(Reply(text="Here is what I found.", key="job:search"))
    (line,) = slack.posts
    assert "Searching for “jazz”…" in line.block_text
    assert slack.of("chat.update")[-1].ts == line.ts
