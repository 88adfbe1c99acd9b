"""The travel agency from a Telegram group: the trip is confirmed by the requester alone,
the agency's turn is one message edited in place no more often than every 2 s, its approval
is decided from inline buttons only by the requester, and the audit export reaches an admin
as a document in their private chat, never the group. The real PTB application in webhook
mode, the Voyagent sandbox over loopback, a fake Bot API."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from conversations.offline import OfflinePlanner
from integrations.sandbox import (
    VOYAGENT_DEFAULT_EMAIL,
    VOYAGENT_DEFAULT_PASSWORD,
    RunningVoyagentSandbox,
    VoyagentSandboxConfig,
    running_voyagent_sandbox,
)
from tests.bot.telegram.fake_telegram import BOT_USERNAME, Call
from tests.bot.telegram.harness import (
    ALICE,
    BOB,
    GROUP,
    TelegramRig,
    callback_query,
    message,
    running_telegram,
    update,
)

TRIP = "ask the agency to plan 5 days in Lisbon for 4 in May under €6000"
CSV_HEADER = b"created_at,kind,actor_kind,actor_id,actor_email,status,summary,payload_json"


def _posted(rig: TelegramRig, words: str, chat: int = GROUP) -> list[Call]:
    return [
        c
        for c in rig.telegram.calls
        if c.method in ("sendMessage", "editMessageText")
        and c.chat_id == chat
        and c.params.get("_ok")
        and words in c.text
    ]


async def _wait(rig: TelegramRig, words: str, chat: int = GROUP) -> list[Call]:
    await rig.telegram.wait_for(lambda: bool(_posted(rig, words, chat)), 20)
    return _posted(rig, words, chat)


async def _say(rig: TelegramRig, text: str, user: Mapping[str, Any] = ALICE) -> None:
    await rig.deliver(update(message(f"@{BOT_USERNAME} {text}", user=user, chat=GROUP)))


def _message_id(sent: Call) -> int:
    return int(
        sent.params["_message_id"] if sent.method == "sendMessage" else sent.params["message_id"]
    )


async def _press(rig: TelegramRig, card: Call, label: str, user: Mapping[str, Any]) -> None:
    pressed = callback_query(card.callback_data(label), on=_message_id(card), chat=GROUP, user=user)
    await rig.deliver(pressed)


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
        await _say(rig, TRIP)
        (confirm,) = await _wait(rig, "Send this trip")
        await _press(rig, confirm, "Send to the agency", BOB)  # not Bob's trip
        assert not agency.state.enquiries
        await _press(rig, confirm, "Send to the agency", ALICE)
        await _wait(rig, "is answering in this thread")
        (card,) = await _wait(rig, "asks for your approval")

        turn = [c for c in _posted(rig, "Sandbox Travel Co.:") if "asks" not in c.text]
        first = _message_id(turn[0])
        assert turn[0].method == "sendMessage"
        assert all(c.method == "editMessageText" for c in turn[1:]) and len(turn) >= 2
        assert {_message_id(c) for c in turn} == {first}  # one message, edited in place
        gaps = [b.at - a.at for a, b in itertools.pairwise(turn)]
        assert min(gaps) >= 1.8, gaps  # never more often than every 2 s

        await _press(rig, card, "Approve", BOB)
        refusals = [
            c
            for c in rig.telegram.calls
            if c.method == "answerCallbackQuery" and "Only the person" in str(c.params)
        ]
        assert refusals and all(a["status"] == "pending" for a in agency.state.approvals.values())
        await _press(rig, card, "Approve", ALICE)
        await _wait(rig, "Seats held on TAP for 4")
        assert all(a["status"] == "granted" for a in agency.state.approvals.values())

        await _say(rig, "done with the agency")
        await _wait(rig, "back with the concierge")
        await rig.settle()


async def test_the_audit_export_reaches_a_group_admin_privately(tmp_path: Path) -> None:
    async with agency_group(tmp_path, VoyagentSandboxConfig.fast()) as (_, rig):
        rig.telegram.admins[GROUP] = {int(ALICE["id"])}
        await _say(rig, "agency audit export", BOB)
        await _wait(rig, "Only a workspace admin")
        assert not rig.telegram.documents
        await _say(rig, "agency audit export", ALICE)
        await rig.telegram.wait_for(lambda: bool(rig.telegram.documents), 15)
        (document,) = rig.telegram.documents
        assert document.chat_id == int(ALICE["id"]) and document.content.startswith(CSV_HEADER)
        group = "\n".join(c.text for c in rig.telegram.calls if c.chat_id == GROUP)
        assert "payload_json" not in group
        await rig.settle()
