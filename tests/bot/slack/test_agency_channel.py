"""The travel agency from a Slack channel: the bridge lives in the thread of the request,
the agency's turn is one message edited in place, only the requester can decide its
approval, only the requester's follow-ups reach the agency, and the audit export goes to an
admin's DM as a file — never into the channel. The real bolt app over signed HTTP, the
Voyagent sandbox over loopback, a fake Slack API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from conversations.offline import OfflinePlanner
from integrations.sandbox import (
    VOYAGENT_DEFAULT_EMAIL,
    VOYAGENT_DEFAULT_PASSWORD,
    RunningVoyagentSandbox,
    VoyagentSandboxConfig,
    running_voyagent_sandbox,
)
from tests.bot.slack.fake_slack import Call, FakeSlackAPI
from tests.bot.slack.harness import (
    SlackRig,
    block_action,
    channel_message,
    mention,
    running_slack,
    sqlite_url,
)

CHANNEL = "C0PLANS"
CSV_HEADER = b"created_at,kind,actor_kind,actor_id,actor_email,status,summary,payload_json"


def _with(calls: list[Call], words: str) -> list[Call]:
    return [c for c in calls if words in c.block_text or words in str(c.args.get("text", ""))]


async def _press(rig: SlackRig, card: Call, label: str, thread: str, user: str) -> None:
    press = block_action(
        card.buttons[label], channel=CHANNEL, message_ts=card.ts, thread_ts=thread, user=user
    )
    await rig.interaction(press)


def _slack() -> FakeSlackAPI:
    slack = FakeSlackAPI()
    slack.add_user("U0ALICE", "Alice")
    slack.add_user("U0BOB", "Bob")
    slack.add_user("U0CAROL", "Carol", admin=True)
    return slack


@contextlib.asynccontextmanager
async def agency_channel(tmp_path: Path) -> AsyncIterator[tuple[RunningVoyagentSandbox, SlackRig]]:
    """The Voyagent sandbox, and the Slack front-end (offline planner) bound to it."""
    async with (
        running_voyagent_sandbox(VoyagentSandboxConfig.fast()) as agency,
        running_slack(
            OfflinePlanner(),
            database_url=sqlite_url(tmp_path),
            slack=_slack(),
            VOYAGENT_API_URL=agency.base_url,
            VOYAGENT_EMAIL=VOYAGENT_DEFAULT_EMAIL,
            VOYAGENT_PASSWORD=VOYAGENT_DEFAULT_PASSWORD,
        ) as rig,
    ):
        yield agency, rig


async def test_a_channel_trip_is_bridged_into_its_thread(tmp_path: Path) -> None:
    async with agency_channel(tmp_path) as (agency, rig):
        slack = rig.slack
        asked = mention("ask the agency to plan 5 days in Lisbon for 4 in May under €6000")
        thread = str(asked["ts"])
        await rig.event(asked)
        await slack.wait_for(lambda: bool(_with(slack.posts, "Send this trip")))
        (confirm,) = _with(slack.posts, "Send this trip")
        await _press(rig, confirm, "Send to the agency", thread, "U0ALICE")
        await slack.wait_for(lambda: bool(_with(slack.posts, "asks for your approval")), 15)
        (head,) = _with(slack.posts, "is answering in this thread")
        assert head.args["thread_ts"] == thread
        turn = _with(slack.replies, "Sandbox Travel Co.:")
        assert turn[0].method == "chat.postMessage" and turn[0].args["thread_ts"] == thread
        assert {c.ts for c in turn} == {turn[0].ts}  # one message, edited in place

        (card,) = _with(slack.posts, "asks for your approval")
        await _press(rig, card, "Approve", thread, "U0BOB")  # not Bob's trip
        await slack.wait_for(lambda: bool(_with(slack.ephemerals, "Only the person who asked")))
        assert all(a["status"] == "pending" for a in agency.state.approvals.values())
        await _press(rig, card, "Approve", thread, "U0ALICE")
        await slack.wait_for(lambda: bool(_with(slack.replies, "Seats held on TAP for 4")), 15)

        (session_id,) = agency.state.sessions
        await rig.event(channel_message("Any hotels near Alfama?", thread_ts=thread))
        await rig.event(channel_message("what about dinner?", user="U0BOB", thread_ts=thread))
        await slack.wait_for(lambda: bool(_with(slack.ephemerals, "wasn't passed on")), 15)
        await slack.wait_for(
            lambda: any("Alfama" in m["message"] for m in agency.state.messages_of(session_id)),
            15,
        )
        assert not any("dinner" in m["message"] for m in agency.state.messages_of(session_id))
        await rig.settle()


async def test_the_audit_export_goes_to_the_admins_dm_as_a_file(tmp_path: Path) -> None:
    async with agency_channel(tmp_path) as (_, rig):
        slack = rig.slack
        await rig.event(mention("agency audit export", user="U0BOB"))
        await slack.wait_for(lambda: bool(_with(slack.replies, "Only a workspace admin")))
        assert not slack.files
        await rig.event(mention("agency audit export", user="U0CAROL"))
        await slack.wait_for(lambda: bool(slack.files), 15)
        (upload,) = slack.files
        assert upload.channel == "D0CAROL"  # the admin's own DM
        assert upload.content is not None and upload.content.startswith(CSV_HEADER)
        seen = "\n".join(c.block_text + str(c.args.get("text", "")) for c in slack.calls)
        assert "payload_json" not in seen
        await rig.settle()
