"""The travel agency asked for in a Slack DM: the bridge moves into the thread of its
header, where the agency's turns (one message each, edited in place) and approvals appear
and where the requester's words go to the agency; the DM itself stays the concierge's.
The real bolt app over signed HTTP, the Voyagent sandbox over loopback, a fake Slack API."""

from __future__ import annotations

from pathlib import Path

from conversations.offline import THANKED, OfflinePlanner
from integrations.sandbox import (
    VOYAGENT_DEFAULT_EMAIL,
    VOYAGENT_DEFAULT_PASSWORD,
    VoyagentSandboxConfig,
    running_voyagent_sandbox,
)
from tests.bot.slack.fake_slack import Call
from tests.bot.slack.harness import SlackRig, block_action, dm, running_slack, sqlite_url

DM = "D0ALICE"


def _with(calls: list[Call], words: str) -> list[Call]:
    return [c for c in calls if words in c.block_text or words in str(c.args.get("text", ""))]


async def _press(rig: SlackRig, card: Call, label: str, thread: str | None = None) -> None:
    await rig.interaction(
        block_action(card.buttons[label], channel=DM, message_ts=card.ts, thread_ts=thread)
    )


async def test_a_dm_bridge_lives_in_the_thread_of_its_header(tmp_path: Path) -> None:
    async with (
        running_voyagent_sandbox(VoyagentSandboxConfig.fast()) as agency,
        running_slack(
            OfflinePlanner(),
            database_url=sqlite_url(tmp_path),
            VOYAGENT_API_URL=agency.base_url,
            VOYAGENT_EMAIL=VOYAGENT_DEFAULT_EMAIL,
            VOYAGENT_PASSWORD=VOYAGENT_DEFAULT_PASSWORD,
        ) as rig,
    ):
        slack = rig.slack
        await rig.event(dm("ask the agency to plan 5 days in Lisbon for 4 in May under €6000"))
        await slack.wait_for(lambda: bool(_with(slack.posts, "Send this trip")))
        (confirm,) = _with(slack.posts, "Send this trip")
        await _press(rig, confirm, "Send to the agency")
        await slack.wait_for(lambda: bool(_with(slack.posts, "asks for your approval")), 15)

        (head,) = _with(slack.posts, "is answering in this thread")
        assert "thread_ts" not in head.args and "Done with the agency" in head.buttons
        thread = head.ts
        turn = [
            c for c in _with(slack.replies, "Sandbox Travel Co.:") if "Seats" not in c.block_text
        ]
        assert turn[0].method == "chat.postMessage" and turn[0].args["thread_ts"] == thread
        assert {c.ts for c in turn} == {turn[0].ts}  # one message, edited in place
        (card,) = _with(slack.posts, "asks for your approval")
        assert card.args["thread_ts"] == thread

        await _press(rig, card, "Approve", thread)
        await slack.wait_for(lambda: bool(_with(slack.replies, "Seats held on TAP for 4")), 15)
        assert agency.state.approvals and all(
            a["status"] == "granted" for a in agency.state.approvals.values()
        )

        await rig.event(dm("Could you add a hotel near Alfama?", thread_ts=thread))
        (session_id,) = agency.state.sessions
        await slack.wait_for(
            lambda: any("Alfama" in m["message"] for m in agency.state.messages_of(session_id)),
            15,
        )
        await rig.event(dm("thanks"))  # the DM itself: the concierge answers
        await slack.wait_for(lambda: bool(_with(slack.posts, THANKED.split("!")[0])))
        (thanked,) = _with(slack.posts, THANKED.split("!")[0])
        assert "thread_ts" not in thanked.args

        await rig.event(dm("done with the agency", thread_ts=thread))
        await slack.wait_for(lambda: bool(_with(slack.replies, "answered in this thread")), 15)
        (closed,) = _with(slack.replies, "answered in this thread")
        assert closed.method == "chat.update" and closed.ts == thread and not closed.buttons
        await rig.settle()
