"""Events matching from a Telegram group: the organiser makes it an event, adds the members
with an approval only they can press, runs matching (one card, edited in place), and each
member gets their introductions in their private chat with the bot — never in the group.
The real PTB application in webhook mode, the Events sandbox over loopback, a fake Bot API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from conversations.capabilities.events import import_job, matching
from conversations.offline import OfflinePlanner
from integrations.sandbox import (
    DEFAULT_EVENTS_KEY,
    EventsSandboxConfig,
    RunningEventsSandbox,
    running_events_sandbox,
)
from tests.bot.telegram.group import message_id, posted, press, say, wait_posted
from tests.bot.telegram.harness import (
    ALICE,
    BOB,
    GROUP,
    TelegramRig,
    callback_query,
    running_telegram,
)

REFUSED = "or a workspace admin can do that"  # ONLY_ORGANISER, as it reads in HTML
CAROL: dict[str, Any] = {"id": 1003, "is_bot": False, "first_name": "Carol"}
MEMBERS = (ALICE, BOB, CAROL)


@pytest.fixture(autouse=True)
def _quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matching, "poll_delay", lambda: 0.0)
    monkeypatch.setattr(import_job, "poll_delay", lambda: 0.0)


@contextlib.asynccontextmanager
async def events_group(tmp_path: Path) -> AsyncIterator[tuple[RunningEventsSandbox, TelegramRig]]:
    """The Events sandbox, and the Telegram front-end (offline planner) bound to it."""
    async with (
        running_events_sandbox(EventsSandboxConfig.fast()) as events,
        running_telegram(
            OfflinePlanner(),
            database_url=f"sqlite:///{tmp_path / 'telegram.db'}",
            EVENTS_API_URL=events.base_url,
            EVENTS_API_KEY=DEFAULT_EVENTS_KEY,
        ) as rig,
    ):
        yield events, rig


async def _event_of(rig: TelegramRig, members: tuple[Mapping[str, Any], ...]) -> None:
    """The members speak up, Alice makes the group an event and shares them all."""
    for member in members:
        await say(rig, "count me in", member)
    await say(rig, "make this group an event for the offsite")
    (created,) = await wait_posted(rig, "Make this chat an event", GROUP)
    await press(rig, created, "Create event", ALICE)
    await say(rig, "add everyone here")
    (asked,) = await wait_posted(rig, f"Share {len(members)} people", GROUP)
    await press(rig, asked, "Share", ALICE)
    await wait_posted(rig, f"✅ Added {len(members)} people", GROUP)


async def test_a_group_becomes_an_event_and_each_member_gets_matches_in_private(
    tmp_path: Path,
) -> None:
    async with events_group(tmp_path) as (events, rig):
        for member in MEMBERS:
            await say(rig, "count me in", member)
        await say(rig, "make this group an event for Friday's offsite")
        (created,) = await wait_posted(rig, "Make this chat an event", GROUP)
        await press(rig, created, "Create event", BOB)  # not Bob's to press
        await press(rig, created, "Create event", ALICE)
        await wait_posted(rig, "is now the event", GROUP)

        await say(rig, "add everyone here")
        (asked,) = await wait_posted(rig, "Share 3 people", GROUP)
        assert all(f"• {m['first_name']}" in asked.text for m in MEMBERS)
        await press(rig, asked, "Share", BOB)
        assert not events.state.attendees
        await press(rig, asked, "Share", ALICE)
        await wait_posted(rig, "✅ Added 3 people", GROUP)
        (event,) = events.state.events.values()
        rows = events.state.attendees[event["event_id"]]
        assert sorted(r["name"] for r in rows.values()) == ["Alice", "Bob", "Carol"]
        assert not any(str(m["id"]) in rows for m in MEMBERS)  # random partner ids only

        await say(rig, "run matching")
        await wait_posted(rig, "Matches are ready", GROUP)
        for member in MEMBERS:
            await say(rig, "who should I meet?", member)
            await wait_posted(rig, "Your introductions", int(member["id"]))
        await say(rig, "who should Alice meet?", BOB)
        await wait_posted(rig, "only show you your own", int(BOB["id"]))
        await rig.settle()
    group = "\n".join(c.text for c in rig.telegram.calls if c.chat_id == GROUP)
    assert "Your introductions" not in group and "% match" not in group
    for member in MEMBERS:
        (mine,) = posted(rig, "Your introductions", int(member["id"]))
        others = [m["first_name"] for m in MEMBERS if m is not member]
        assert all(name in mine.text for name in others) and "% match" in mine.text
    assert len(posted(rig, "Matches are ready", GROUP)) == 1
    assert not posted(rig, "Your introductions", GROUP)


async def test_reviews_reach_the_organiser_in_private_and_each_is_resolved_once(
    tmp_path: Path,
) -> None:
    """Two members look like one person: the review goes to the organiser's private chat
    with its buttons; Merge pressed twice there merges once."""
    twin: dict[str, Any] = {"id": 1004, "is_bot": False, "first_name": "Bob"}
    async with events_group(tmp_path) as (events, rig):
        await _event_of(rig, (ALICE, BOB, twin))
        assert len(events.state.open_reviews()) == 1
        await say(rig, "reviews")
        alice = int(ALICE["id"])
        (review,) = await wait_posted(rig, "Identity review", alice)
        assert [b["text"] for b in review.buttons] == ["Accept", "Reject", "Distinct", "Merge"]
        for _ in range(2):
            pressed = callback_query(
                review.callback_data("Merge"), on=message_id(review), chat=alice, user=ALICE
            )
            await rig.deliver(pressed)
        await wait_posted(rig, "already resolved by you", alice)
        await rig.settle()
    assert len(posted(rig, "Done: the review was merged into one.", alice)) == 1
    assert [r["status"] for r in events.state.reviews.values()] == ["merged"]
    assert not posted(rig, "Identity review", GROUP)


async def test_a_group_admin_organises_too_and_a_member_does_not(tmp_path: Path) -> None:
    """Who organises besides the creator is Telegram's answer (getChatMember): a group admin
    gets the event's reviews privately; a plain member is told no, privately."""
    twin: dict[str, Any] = {"id": 1004, "is_bot": False, "first_name": "Bob"}
    async with events_group(tmp_path) as (events, rig):
        rig.telegram.admins[GROUP] = {int(BOB["id"])}
        await _event_of(rig, (ALICE, BOB, twin))
        assert len(events.state.open_reviews()) == 1
        await say(rig, "reviews", twin)
        await wait_posted(rig, REFUSED, int(twin["id"]))
        await say(rig, "reviews", BOB)
        await wait_posted(rig, "Identity review", int(BOB["id"]))
        await rig.settle()
    asked_about = {
        (int(c.params["chat_id"]), int(c.params["user_id"]))
        for c in rig.telegram.called("getChatMember")
    }
    assert asked_about == {(GROUP, twin["id"]), (GROUP, BOB["id"])}
    assert not posted(rig, REFUSED, GROUP) and not posted(rig, "Identity review", GROUP)
