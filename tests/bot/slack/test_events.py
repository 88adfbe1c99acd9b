"""Events matching from a Slack channel with three members: the organiser makes it an event,
adds the members with an approval only they can grant, runs matching (one card, edited in
place), and each member gets their own introductions as an ephemeral message — never in
the channel. A run webhook only wakes the job: the run is announced once, when polled. The
real bolt app over signed HTTP, the Events sandbox over loopback and a fake Slack API."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversations.capabilities.events import MATCHING, import_job, matching
from conversations.capabilities.events.access import WEBHOOK_PATH
from conversations.offline import OfflinePlanner
from integrations.sandbox import (
    DEFAULT_EVENTS_KEY,
    EventsSandboxConfig,
    running_events_sandbox,
)
from storage import repositories
from tests.bot.slack.fake_slack import Call, FakeSlackAPI
from tests.bot.slack.harness import SlackRig, block_action, mention, running_slack, sqlite_url

CHANNEL = "C0PLANS"
MEMBERS = {"U0ALICE": "Alice", "U0BOB": "Bob", "U0CAROL": "Carol"}


@pytest.fixture(autouse=True)
def _quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matching, "poll_delay", lambda: 0.0)
    monkeypatch.setattr(import_job, "poll_delay", lambda: 0.0)


def _slack() -> FakeSlackAPI:
    slack = FakeSlackAPI()
    for user, name in MEMBERS.items():
        slack.add_user(user, name)
    return slack


def _with(calls: list[Call], words: str) -> list[Call]:
    return [c for c in calls if words in c.block_text]


async def _ask(rig: SlackRig, text: str, user: str = "U0ALICE") -> str:
    asked = mention(text, user=user)
    await rig.event(asked)
    return str(asked["ts"])


async def _press(rig: SlackRig, card: Call, label: str, thread: str, user: str) -> None:
    press = block_action(
        card.buttons[label], channel=CHANNEL, message_ts=card.ts, thread_ts=thread, user=user
    )
    await rig.interaction(press)


async def _approve(rig: SlackRig, asked: str, title: str, label: str) -> None:
    await rig.slack.wait_for(lambda: bool(_with(rig.slack.posts, title)))
    (card,) = _with(rig.slack.posts, title)
    before = len(_with(rig.slack.ephemerals, "Only "))
    await _press(rig, card, label, asked, "U0BOB")  # not Bob's to grant
    await rig.slack.wait_for(lambda: len(_with(rig.slack.ephemerals, "Only ")) > before)
    await _press(rig, card, label, asked, "U0ALICE")


async def _event_with_members(rig: SlackRig, shared: int = 3) -> None:
    for user in MEMBERS:
        await _ask(rig, "count me in", user)
    await rig.slack.wait_for(lambda: len(_with(rig.slack.ephemerals, "OK — ")) >= 3)
    thread = await _ask(rig, "make this channel an event for Friday's offsite")
    await _approve(rig, thread, "Make this chat an event", "Create event")
    await rig.slack.wait_for(lambda: bool(_with(rig.slack.replies, "is now the event")))
    thread = await _ask(rig, "add everyone here")
    await _approve(rig, thread, f"Share {shared} people", "Share")
    await rig.slack.wait_for(lambda: bool(_with(rig.slack.replies, f"✅ Added {shared} people")))


async def test_a_channel_becomes_an_event_and_each_member_gets_matches_privately(
    tmp_path: Path,
) -> None:
    async with (
        running_events_sandbox(EventsSandboxConfig.fast()) as events,
        running_slack(
            OfflinePlanner(),
            database_url=sqlite_url(tmp_path),
            slack=_slack(),
            EVENTS_API_URL=events.base_url,
            EVENTS_API_KEY=DEFAULT_EVENTS_KEY,
        ) as rig,
    ):
        await _event_with_members(rig)
        (listed,) = _with(rig.slack.posts, "Share 3 people")
        assert all(f"• {name}" in listed.block_text for name in MEMBERS.values())
        (event,) = events.state.events.values()
        rows = events.state.attendees[event["event_id"]]
        assert sorted(r["name"] for r in rows.values()) == ["Alice", "Bob", "Carol"]
        assert not any(i.startswith("U0") for i in rows)

        thread = await _ask(rig, "run matching")
        await rig.slack.wait_for(lambda: bool(_with(rig.slack.replies, "Matches are ready")))
        cards = _with(rig.slack.replies, "Matching for") + _with(
            rig.slack.replies, "Matches are ready"
        )
        assert len({c.ts for c in cards}) == 1 and len(cards) >= 3  # one card, edited
        assert all(c.args.get("thread_ts", thread) == thread for c in cards)

        for user in MEMBERS:
            await _ask(rig, "who should I meet?", user)
        await rig.slack.wait_for(
            lambda: len(_with(rig.slack.ephemerals, "Your introductions")) == 3
        )
        await _ask(rig, "who should Carol meet?", "U0BOB")
        await rig.slack.wait_for(
            lambda: bool(_with(rig.slack.ephemerals, "only show you your own"))
        )
        await rig.settle()
    for private in _with(rig.slack.ephemerals, "Your introductions"):
        user = str(private.args["user"])
        others = [name for u, name in MEMBERS.items() if u != user]
        assert all(name in private.block_text for name in others)
        assert "% match" in private.block_text
    seen = "\n".join(c.block_text for c in rig.slack.replies)
    assert "Your introductions" not in seen and "% match" not in seen


async def test_a_run_webhook_that_comes_first_only_wakes_the_poll(tmp_path: Path) -> None:
    """The partner says the match run finished before a poll does: nothing is announced
    from the webhook; the poll announces it once."""
    async with (
        running_events_sandbox(EventsSandboxConfig(steps_per_status=3)) as events,
        running_slack(
            OfflinePlanner(),
            database_url=sqlite_url(tmp_path),
            slack=_slack(),
            EVENTS_API_URL=events.base_url,
            EVENTS_API_KEY=DEFAULT_EVENTS_KEY,
        ) as rig,
    ):
        await _event_with_members(rig)
        await _ask(rig, "run matching")
        await rig.slack.wait_for(lambda: bool(_with(rig.slack.replies, "finding introductions")))
        async with rig.services.db.session(read_only=True) as session:
            (job,) = await repositories.list_open_actions(
                session, kinds=[MATCHING.name], statuses=list(MATCHING.waiting_statuses)
            )
        access = rig.services.deps.events
        assert access is not None
        token = access.webhook_token(str(job.idempotency_key))
        hook = f"{rig.url}{WEBHOOK_PATH}{token}"
        run = {"run_id": job.payload["match_run"], "kind": "match", "status": "succeeded"}
        first = await rig.http.post(hook, json=run)
        assert first.status_code == 200 and first.json() == {"ok": True}
        assert not _with(rig.slack.replies, "Matches are ready")  # the poll decides
        forged = await rig.http.post(f"{rig.url}{WEBHOOK_PATH}not-a-token", json=run)
        assert forged.status_code == 404
        await rig.slack.wait_for(lambda: bool(_with(rig.slack.replies, "Matches are ready")))
        again = await rig.http.post(hook, json=run)  # late, after the end: changes nothing
        assert again.status_code == 200
        await rig.settle()
    assert len(_with(rig.slack.replies, "Matches are ready")) == 1
    (match_run,) = [r for r in events.state.runs.values() if r.kind == "match"]
    assert match_run.webhook_url == hook


async def test_reviews_reach_the_organiser_alone_and_each_is_resolved_once(
    tmp_path: Path,
) -> None:
    """Two members look like one person: the organiser gets the review as an ephemeral
    message with its four buttons; Merge pressed twice (a double click, from the ephemeral
    message, which has no `message` field) merges once, the second press hears who did."""
    slack = _slack()
    slack.add_user("U0BOBBY", "Bob")
    async with (
        running_events_sandbox(EventsSandboxConfig.fast()) as events,
        running_slack(
            OfflinePlanner(),
            database_url=sqlite_url(tmp_path),
            slack=slack,
            EVENTS_API_URL=events.base_url,
            EVENTS_API_KEY=DEFAULT_EVENTS_KEY,
        ) as rig,
    ):
        await _ask(rig, "count me in", "U0BOBBY")
        await _event_with_members(rig, shared=4)
        assert len(events.state.open_reviews()) == 1
        await _ask(rig, "reviews", "U0BOB")
        await rig.slack.wait_for(lambda: bool(_with(rig.slack.ephemerals, "organiser (who")))
        thread = await _ask(rig, "reviews")
        await rig.slack.wait_for(lambda: bool(_with(rig.slack.ephemerals, "Identity review")))
        (review,) = _with(rig.slack.ephemerals, "Identity review")
        assert review.args["user"] == "U0ALICE"
        assert list(review.buttons) == ["Accept", "Reject", "Distinct", "Merge"]
        for _ in range(2):
            press = block_action(
                review.buttons["Merge"],
                channel=CHANNEL,
                message_ts="1700000000.000999",
                thread_ts=thread,
                user="U0ALICE",
            )
            del press["message"]
            press["container"] |= {"is_ephemeral": True, "thread_ts": thread}
            await rig.interaction(press)
            await rig.settle()
        await rig.slack.wait_for(lambda: bool(_with(rig.slack.ephemerals, "already resolved")))
    assert len(_with(rig.slack.ephemerals, "Done: the review was merged into one.")) == 1
    assert _with(rig.slack.ephemerals, "already resolved by you (merged into one)")
    assert [r["status"] for r in events.state.reviews.values()] == ["merged"]
    seen = "\n".join(c.block_text for c in rig.slack.replies)
    assert "Identity review" not in seen


async def test_a_refused_webhook_url_is_dropped_and_the_runs_are_polled(tmp_path: Path) -> None:
    """The partner refuses our callback URL (`INVALID_WEBHOOK_URL`): it was only a hint, so
    the runs start without it and are polled to the end."""
    async with (
        running_events_sandbox(EventsSandboxConfig.fast()) as events,
        running_slack(
            OfflinePlanner(),
            database_url=sqlite_url(tmp_path),
            slack=_slack(),
            EVENTS_API_URL=events.base_url,
            EVENTS_API_KEY=DEFAULT_EVENTS_KEY,
        ) as rig,
    ):
        await _event_with_members(rig)
        events.state.force(400, "INVALID_WEBHOOK_URL")
        await _ask(rig, "run matching")
        await rig.slack.wait_for(lambda: bool(_with(rig.slack.replies, "Matches are ready")))
        await rig.settle()
    runs = [r for r in events.state.runs.values() if r.kind != "import"]
    assert sorted(r.kind for r in runs) == ["enrichment", "match"]
    assert all(r.webhook_url is None for r in runs)
    assert not _with(rig.slack.replies, "stopped")


async def test_a_workspace_admin_may_organise_an_event_someone_else_created(
    tmp_path: Path,
) -> None:
    slack = _slack()
    slack.add_user("U0DANA", "Dana", admin=True)
    async with (
        running_events_sandbox(EventsSandboxConfig.fast()) as events,
        running_slack(
            OfflinePlanner(),
            database_url=sqlite_url(tmp_path),
            slack=slack,
            EVENTS_API_URL=events.base_url,
            EVENTS_API_KEY=DEFAULT_EVENTS_KEY,
        ) as rig,
    ):
        await _event_with_members(rig)
        await _ask(rig, "run matching", "U0BOB")  # a member: refused, privately
        await rig.slack.wait_for(lambda: bool(_with(rig.slack.ephemerals, "organiser (who")))
        await _ask(rig, "run matching", "U0DANA")  # a workspace admin: allowed
        await rig.slack.wait_for(lambda: bool(_with(rig.slack.replies, "Matches are ready")))
        await rig.settle()
    (refusal,) = _with(rig.slack.ephemerals, "organiser (who")
    assert refusal.args["user"] == "U0BOB"
    assert [r.kind for r in events.state.runs.values()].count("match") == 1


async def test_add_everyone_shares_the_channels_members_with_their_titles(
    tmp_path: Path,
) -> None:
    """With `channels:read`, "add everyone here" is the channel's member list: people who
    never wrote are in, with the job title of their Slack profile; the bot, other bots and
    deactivated accounts are not; someone who wrote here and left the channel is not."""
    slack = _slack()
    slack.users["U0ALICE"]["profile"]["title"] = "Product lead"
    slack.users["U0CAROL"]["profile"]["title"] = "Data engineer"
    slack.add_user("U0DAVE", "Dave")
    slack.users["U0DAVE"]["deleted"] = True
    slack.add_user("U0HELPER", "Standup bot")
    slack.users["U0HELPER"]["is_bot"] = True
    slack.add_user("U0GONE", "Gina")
    slack.channel_members[CHANNEL] = [*MEMBERS, "U0DAVE", "U0HELPER", slack.bot_user]
    async with (
        running_events_sandbox(EventsSandboxConfig.fast()) as events,
        running_slack(
            OfflinePlanner(),
            database_url=sqlite_url(tmp_path),
            slack=slack,
            EVENTS_API_URL=events.base_url,
            EVENTS_API_KEY=DEFAULT_EVENTS_KEY,
        ) as rig,
    ):
        await _ask(rig, "count me in", "U0GONE")  # wrote here once, since left the channel
        thread = await _ask(rig, "make this channel an event for Friday's offsite")
        await _approve(rig, thread, "Make this chat an event", "Create event")
        await rig.slack.wait_for(lambda: bool(_with(rig.slack.replies, "is now the event")))
        thread = await _ask(rig, "add everyone here")
        await _approve(rig, thread, "Share 3 people", "Share")
        await rig.slack.wait_for(lambda: bool(_with(rig.slack.replies, "✅ Added 3 people")))
        await rig.settle()
    (listed,) = _with(rig.slack.posts, "Share 3 people")
    assert "• Alice, Product lead" in listed.block_text
    assert "• Bob" in listed.block_text and "• Carol, Data engineer" in listed.block_text
    assert not any(n in listed.block_text for n in ("Dave", "Standup", "Gina"))
    (event,) = events.state.events.values()
    rows = events.state.attendees[event["event_id"]].values()
    assert sorted((r["name"], r.get("title")) for r in rows) == [
        ("Alice", "Product lead"),
        ("Bob", None),
        ("Carol", "Data engineer"),
    ]
    paged = rig.slack.of("conversations.members")
    assert paged and all(c.args["channel"] == CHANNEL for c in paged)
