"""The travel agency from a Telegram group: the trip is confirmed by the requester alone,
the agency's turn is one message edited in place no more often than every 2 s, its approval
is decided from inline buttons only by the requester, and the audit export reaches an admin
as a document in their private chat, never the group. The real PTB application in webhook
mode, the Voyagent sandbox over loopback, a fake Bot API."""

from __future__ import annotations

import contextlib
import itertools
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
from tests.bot.telegram.group import message_id, posted, press, say, wait_posted
from tests.bot.telegram.harness import (
    ALICE,
    BOB,
    GROUP,
    TelegramRig,
    running_telegram,
)

TRIP = "ask the agency to plan 5 days in Lisbon for 4 in May under €6000"
CSV_HEADER = b"created_at,kind,actor_kind,actor_id,actor_email,status,summary,payload_json"


@contextlib.asynccontextmanager
async def agency_group(
    tmp_path: Path, config: VoyagentSandboxConfig
) -> AsyncIterator[tuple[RunningVoyagentSandbox, TelegramRig]]:
    async with (
        running_voyagent_sandbox(config) as agency,
        running_telegram(
            OfflinePlanner(),
            database_url=f"sqlite:///{tmp_path / 'telegram.db'}",
            VOYAGENT_API_URL=agency.base_url,
            VOYAGENT_EMAIL=VOYAGENT_DEFAULT_EMAIL,
            VOYAGENT_PASSWORD=VOYAGENT_DEFAULT_PASSWORD,
        ) as rig,
    ):
        yield agency, rig


async def test_a_group_trip_streams_into_one_message_and_only_the_requester_approves(
    tmp_path: Path,
) -> None:
    slow = VoyagentSandboxConfig.fast(delta_delay_s=0.3)  # a first turn of ~4 s
    async with agency_group(tmp_path, slow) as (agency, rig):
        await say(rig, TRIP)
        (confirm,) = await wait_posted(rig, "Send this trip")
        await press(rig, confirm, "Send to the agency", BOB)  # not Bob's trip
        assert not agency.state.enquiries
        await press(rig, confirm, "Send to the agency", ALICE)
        await wait_posted(rig, "is answering in this thread")
        (card,) = await wait_posted(rig, "asks for your approval")

        turn = [c for c in posted(rig, "Sandbox Travel Co.:") if "asks" not in c.text]
        first = message_id(turn[0])
        assert turn[0].method == "sendMessage"
        assert all(c.method == "editMessageText" for c in turn[1:]) and len(turn) >= 2
        assert {message_id(c) for c in turn} == {first}  # one message, edited in place
        gaps = [b.at - a.at for a, b in itertools.pairwise(turn)]
        assert min(gaps) >= 1.8, gaps  # never more often than every 2 s

        await press(rig, card, "Approve", BOB)
        refusals = [
            c
            for c in rig.telegram.calls
            if c.method == "answerCallbackQuery" and "Only the person" in str(c.params)
        ]
        assert refusals and all(a["status"] == "pending" for a in agency.state.approvals.values())
        await press(rig, card, "Approve", ALICE)
        await wait_posted(rig, "Seats held on TAP for 4")
        assert all(a["status"] == "granted" for a in agency.state.approvals.values())

        await say(rig, "done with the agency")
        await wait_posted(rig, "back with the concierge")
        await rig.settle()


async def test_the_audit_export_reaches_a_group_admin_privately(tmp_path: Path) -> None:
    async with agency_group(tmp_path, VoyagentSandboxConfig.fast()) as (_, rig):
        rig.telegram.admins[GROUP] = {int(ALICE["id"])}
        await say(rig, "agency audit export", BOB)
        await wait_posted(rig, "Only a workspace admin")
        assert not rig.telegram.documents
        await say(rig, "agency audit export", ALICE)
        await rig.telegram.wait_for(lambda: bool(rig.telegram.documents), 15)
        (document,) = rig.telegram.documents
        assert document.chat_id == int(ALICE["id"]) and document.content.startswith(CSV_HEADER)
        group = "\n".join(c.text for c in rig.telegram.calls if c.chat_id == GROUP)
        assert "payload_json" not in group
        await rig.settle()
