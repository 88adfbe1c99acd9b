"""A group plan in a Slack channel, through the real bolt app over signed HTTP, a fake Slack
Web API and the Outgoing sandbox on loopback: `/concierge plan …` in the channel, a vote
edited in place (also across a restart), the winner's "I'm in", and each person approving
their own ticket on an ephemeral card (whose clicks come without a `message`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conversations.offline import OfflinePlanner
from storage import repositories
from tests.bot.slack.fake_slack import TEAM, Call, FakeSlackAPI
from tests.bot.slack.harness import SlackRig, block_action, running_slack, sqlite_url

CHANNEL = "C0PLANS"
ASK = "plan a night out with live music in brooklyn under $40"
PEOPLE = {"U0ALICE": "Alice", "U0BOB": "Bob", "U0CAROL": "Carol"}
BOOKINGS = "/partner/v1/bookings"


def values(call: Call) -> list[tuple[str, str]]:
    """(label, value) of every button in the message, cards' buttons included, in order."""
    found: list[tuple[str, str]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "button" and "value" in node:
                found.append((node["text"]["text"], node["value"]))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(call.blocks)
    return found


def button(call: Call, starts: str) -> str:
    matches = [value for _, value in values(call) if value.startswith(starts)]
    assert matches, call.block_text
    return matches[0]


def latest(slack: FakeSlackAPI, words: str) -> Call:
    found = [c for c in slack.replies if words in c.block_text or words in str(c.args.get("text"))]
    assert found, [c.block_text for c in slack.replies]
    return found[-1]


def shown(slack: FakeSlackAPI, words: str) -> bool:
    return any(words in c.block_text or words in str(c.args.get("text")) for c in slack.calls)


async def press(rig: SlackRig, message: Call, value: str, user: str, **extra: Any) -> None:
    payload = block_action(value, channel=CHANNEL, message_ts=message.ts, user=user, **extra)
    payload["user"]["name"] = PEOPLE.get(user, user)
    await rig.interaction(payload)


def ephemeral_click(value: str, user: str, thread_ts: str | None = None) -> dict[str, Any]:
    """A click on an ephemeral message: Slack sends its `container`, never a `message`."""
    payload = block_action(value, channel=CHANNEL, message_ts="1700000099.000001", user=user)
    payload.pop("message")
    payload["container"] = {
        "type": "message",
        "message_ts": "1700000099.000001",
        "channel_id": CHANNEL,
        "is_ephemeral": True,
        **({"thread_ts": thread_ts} if thread_ts else {}),
    }
    payload["user"]["name"] = PEOPLE[user]
    return payload


async def press_ephemeral(rig: SlackRig, card: Call, value: str, user: str) -> None:
    await rig.interaction(ephemeral_click(value, user))


async def started(rig: SlackRig) -> tuple[Call, list[str]]:
    """`/concierge plan …` in the channel: the poll, and its vote buttons' values."""
    await rig.command(ASK)
    await rig.slack.wait_for(lambda: shown(rig.slack, "🗳️ Vote:"), 15)
    poll = latest(rig.slack, "🗳️ Vote:")
    return poll, [v for _, v in values(poll) if v.startswith("plan.vote:")]


def _slack() -> FakeSlackAPI:
    slack = FakeSlackAPI()
    for user, name in PEOPLE.items():
        slack.add_user(user, name)
    return slack


async def test_three_people_go_from_a_vote_to_their_own_tickets(tmp_path: Path) -> None:
    slack = _slack()
    url = sqlite_url(tmp_path)
    async with running_slack(OfflinePlanner(), database_url=url, slack=slack) as rig:
        answer = await rig.command(ASK)
        assert answer.status_code == 200 and "the vote will be posted here" in answer.text
        await slack.wait_for(lambda: shown(slack, "🗳️ Vote:"), 15)
        poll = latest(slack, "🗳️ Vote:")
        assert poll.args["channel"] == CHANNEL
        votes = [v for _, v in values(poll) if v.startswith("plan.vote:")]
        assert 2 <= len(votes) <= 4
        plan_id = votes[0].split(":")[1]
        await press(rig, poll, votes[0], "U0BOB")
        await press(rig, poll, votes[1], "U0CAROL")
        await press(rig, poll, votes[1], "U0BOB")  # Bob changes his mind
        await slack.wait_for(lambda: "2 votes (" in latest(slack, "🗳️ Vote:").block_text)
        edited = latest(slack, "🗳️ Vote:")
        assert edited.method == "chat.update" and edited.ts == poll.ts  # edited in place
        assert "Bob" in edited.block_text and "Carol" in edited.block_text
        await press(rig, poll, f"plan.close:{plan_id}", "U0BOB")
        await slack.wait_for(lambda: shown(slack, "Only the person who started this plan"))
        await rig.settle()

    # A restart mid-vote: a new process on the same database edits the same poll message.
    async with running_slack(OfflinePlanner(), database_url=url, slack=slack) as rig:
        await press(rig, poll, votes[1], "U0ALICE")
        await press(rig, poll, f"plan.close:{plan_id}", "U0ALICE")
        await slack.wait_for(lambda: shown(slack, "🎉 The vote (3 of 3)"), 15)
        closed = latest(slack, "Voting closed")
        assert closed.method == "chat.update" and closed.ts == poll.ts
        assert not [v for _, v in values(closed) if v.startswith("plan.")]  # no more votes
        await press(rig, poll, votes[0], "U0CAROL")  # too late
        await slack.wait_for(lambda: shown(slack, "Voting has closed"))

        winner = latest(slack, "🎉 The vote")
        join = button(winner, "plan.in:")
        for user in PEOPLE:
            await press(rig, winner, join, user)
        await slack.wait_for(lambda: "In so far (3)" in latest(slack, "🎉").block_text)
        assert latest(slack, "In so far (3)").ts == winner.ts
        assert rig.outgoing.state.requests_to(BOOKINGS, "POST") == []

        await press(rig, winner, f"plan.each:{plan_id}", "U0ALICE")
        await slack.wait_for(
            lambda: len([c for c in slack.ephemerals if "Confirm" in str(values(c))]) == 3, 15
        )
        cards = {c.args["user"]: c for c in slack.ephemerals if "Confirm" in str(values(c))}
        assert set(cards) == set(PEOPLE)
        assert all(c.args["channel"] == CHANNEL for c in cards.values())
        for user, label in (("U0ALICE", "Confirm"), ("U0BOB", "Confirm"), ("U0CAROL", "Cancel")):
            value = next(v for lab, v in values(cards[user]) if lab == label)
            await press_ephemeral(rig, cards[user], value, user)
        await slack.wait_for(lambda: shown(slack, "Plan outcome"), 30)
        outcome = latest(slack, "Plan outcome")
        assert outcome.method == "chat.postMessage" and outcome.args["channel"] == CHANNEL
        text = outcome.block_text + str(outcome.args.get("text"))
        assert "Booked: Alice and Bob" in text and "Carol (cancelled their approval)" in text
        assert len(rig.outgoing.state.requests_to(BOOKINGS, "POST")) == 2
        # Each person's tickets reach them in their own DM, never the channel.
        await slack.wait_for(
            lambda: any(
                c.args.get("channel") == "D0BOB" and "Booked:" in c.block_text for c in slack.posts
            )
        )
        assert not any(
            c.args.get("channel") == CHANNEL and "Confirmation code" in c.block_text
            for c in slack.replies
        )
        await rig.settle()


async def test_a_vote_from_another_workspaces_button_changes_nothing(tmp_path: Path) -> None:
    slack = _slack()
    async with running_slack(
        OfflinePlanner(), database_url=sqlite_url(tmp_path), slack=slack
    ) as rig:
        poll, (vote, *_) = await started(rig)
        await press(rig, poll, vote, "U0BOB", team="T0ELSEWHERE")
        await rig.settle()
        assert "(Bob)" not in latest(slack, "🗳️ Vote:").block_text
        await press(rig, poll, vote, "U0BOB")
        await slack.wait_for(lambda: "1 vote (Bob)" in latest(slack, "🗳️ Vote:").block_text)
        await rig.settle()


async def test_the_vote_closes_once_everyone_in_the_channel_has_voted(tmp_path: Path) -> None:
    slack = _slack()
    slack.channel_members[CHANNEL] = list(PEOPLE)
    async with running_slack(
        OfflinePlanner(), database_url=sqlite_url(tmp_path), slack=slack
    ) as rig:
        poll, votes = await started(rig)
        await press(rig, poll, votes[0], "U0ALICE")
        await press(rig, poll, votes[1], "U0BOB")
        await slack.wait_for(lambda: "(Bob)" in latest(slack, "🗳️ Vote:").block_text)
        assert not shown(slack, "🎉")
        await press(rig, poll, votes[1], "U0CAROL")
        await slack.wait_for(lambda: shown(slack, "🎉 The vote (2 of 3)"), 15)
        assert "Voting closed" in latest(slack, "🗳️").block_text
        await rig.settle()


async def test_a_tie_then_the_organiser_pays_for_everyone(tmp_path: Path) -> None:
    slack = _slack()
    async with running_slack(
        OfflinePlanner(), database_url=sqlite_url(tmp_path), slack=slack
    ) as rig:
        poll, votes = await started(rig)
        plan_id = votes[0].split(":")[1]
        await press(rig, poll, votes[0], "U0BOB")
        await press(rig, poll, votes[1], "U0CAROL")
        await slack.wait_for(lambda: "(Carol)" in latest(slack, "🗳️ Vote:").block_text)
        await press(rig, poll, f"plan.close:{plan_id}", "U0ALICE")
        await slack.wait_for(lambda: shown(slack, "It's a tie between"), 15)
        tie = latest(slack, "It's a tie between")
        await press(rig, tie, button(tie, "plan.pick:"), "U0BOB")  # not Bob's to break
        await slack.wait_for(lambda: shown(slack, "Only the person who started this plan"))
        await press(rig, tie, button(tie, "plan.pick:"), "U0ALICE")
        await slack.wait_for(lambda: shown(slack, "🎉 The organiser's pick"), 15)
        winner = latest(slack, "🎉 The organiser's pick")
        for user in ("U0BOB", "U0CAROL"):
            await press(rig, winner, button(winner, "plan.in:"), user)
        await slack.wait_for(lambda: "In so far (2)" in latest(slack, "🎉").block_text)
        await press(rig, winner, f"plan.all:{plan_id}", "U0ALICE")
        await slack.wait_for(lambda: any(c.args["user"] == "U0ALICE" for c in _cards(slack)), 15)
        (card,) = _cards(slack)
        assert "For 2 people:" in card.block_text and card.args["channel"] == CHANNEL
        confirm = next(v for label, v in values(card) if label == "Confirm")
        await press_ephemeral(rig, card, confirm, "U0ALICE")
        await slack.wait_for(lambda: shown(slack, "Plan outcome"), 30)
        assert "Booked: Bob and Carol" in latest(slack, "Plan outcome").block_text
        (posted,) = rig.outgoing.state.requests_to(BOOKINGS, "POST")
        assert posted.body and sum(t["num_tickets"] for t in posted.body["tickets"]) == 2
        await slack.wait_for(
            lambda: any(
                c.args["user"] == "U0BOB" and "yours included" in str(c.args)
                for c in slack.ephemerals
            )
        )
        await rig.settle()


def _cards(slack: FakeSlackAPI) -> list[Call]:
    """The approval cards shown to one person (ephemeral, with a Confirm button)."""
    return [c for c in slack.ephemerals if any(label == "Confirm" for label, _ in values(c))]


async def test_the_deadline_then_more_people_than_tickets_then_the_spend_limit(
    tmp_path: Path,
) -> None:
    slack = _slack()
    async with running_slack(
        OfflinePlanner(), database_url=sqlite_url(tmp_path), slack=slack
    ) as rig:
        poll, votes = await started(rig)
        plan_id = votes[0].split(":")[1]
        async with rig.services.db.session(read_only=True) as session:
            plan = await repositories.get_action(session, action_id=plan_id, workspace_id=TEAM)
        assert plan is not None
        options = plan.payload["options"]
        paid = next(i for i, o in enumerate(options) if o["tickets"][0]["unit_cents"])
        await press(rig, poll, votes[paid], "U0BOB")
        await slack.wait_for(lambda: "1 vote (Bob)" in latest(slack, "🗳️ Vote:").block_text)

        past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
        async with rig.services.db.session() as session:  # the clock passes the deadline
            await repositories.add_to_job(
                session, action_id=plan_id, workspace_id=TEAM, add=lambda _: {"deadline": past}
            )
        rig.services.jobs.wake()
        await slack.wait_for(lambda: shown(slack, "🎉 The vote (1 of 1)"), 15)
        assert "Voting closed" in latest(slack, "🗳️").block_text

        winner = latest(slack, "🎉 The vote")
        join = button(winner, "plan.in:")
        limit = int(options[paid]["tickets"][0]["limit"])
        friends = [f"U0FRIEND{n}" for n in range(limit + 1)]
        for friend in friends[:limit]:
            await press(rig, winner, join, friend)
        await press(rig, winner, join, friends[limit])
        await slack.wait_for(
            lambda: any(
                c.args["user"] == friends[limit] and "are taken" in str(c.args)
                for c in slack.ephemerals
            )
        )
        await slack.wait_for(lambda: f"In so far ({limit})" in latest(slack, "🎉").block_text)

        async with rig.services.db.session() as session:
            await repositories.set_spend_cap(session, platform="slack", external_id=TEAM, cents=1)
        await press(rig, winner, f"plan.each:{plan_id}", "U0ALICE")
        await slack.wait_for(lambda: shown(slack, "Plan outcome"), 15)
        outcome = latest(slack, "Plan outcome").block_text
        assert "Nobody was booked." in outcome and "(above the limit)" in outcome
        assert not _cards(slack) and rig.outgoing.state.requests_to(BOOKINGS, "POST") == []
        await rig.settle()
