"""Group plans end to end at the conversation level: the production wiring (runner, outbox,
webhooks), the offline planner reading "plan …", and the Outgoing sandbox on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.services import Services
from conversations import ConversationAddress, InboundMessage, Replier, Sender
from conversations.manager import new_event_id
from conversations.offline import OfflinePlanner
from conversations.replies import Reply
from conversations.types import ButtonPress
from integrations.sandbox.state import SandboxState
from storage import repositories
from storage.models import Action
from tests.conversations.production import production
from tests.fakes.chat import RecordingReplier

ALICE = Sender("U_ALICE", "Alice")
BOB = Sender("U_BOB", "Bob")
CAROL = Sender("U_CAROL", "Carol")
HERE = ConversationAddress("slack", "T1", "C1", "")
ASK = "plan a night out with live music in brooklyn under $40"
BOOKINGS = "/partner/v1/bookings"


class Outlet:
    def __init__(self, chat: RecordingReplier) -> None:
        self.chat = chat

    def replier_for(self, address: ConversationAddress) -> Replier | None:
        return self.chat if address == HERE else None


@dataclass
class Plan:
    services: Services
    sandbox: SandboxState
    chat: RecordingReplier

    async def say(self, text: str, sender: Sender = ALICE) -> None:
        await self.services.manager.handle(
            InboundMessage(HERE, sender, text, new_event_id()), self.chat
        )

    async def press(
        self, value: str, sender: Sender, where: ConversationAddress = HERE
    ) -> list[Reply]:
        pressed = RecordingReplier()
        await self.services.manager.handle(
            ButtonPress(where, sender, value, new_event_id()), pressed
        )
        self.chat.replies.extend(pressed.replies)
        return pressed.replies

    async def wait(self, ready: Callable[[], bool], timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():
            assert time.monotonic() < deadline, self.chat.transcript
            await asyncio.sleep(0.02)

    def last(self, key_part: str) -> Reply:
        found = [r for r in self.chat.replies if r.key and key_part in r.key]
        assert found, self.chat.transcript
        return found[-1]

    def poll(self) -> Reply:
        found = [r for r in self.chat.replies if r.poll is not None]
        assert found, self.chat.transcript
        return found[-1]

    def button(self, reply: Reply, starts: str) -> str:
        every = [*reply.buttons, *(b for c in reply.cards for b in c.buttons)]
        found = [b.value for b in every if b.value.startswith(starts)]
        assert found, reply
        return found[0]

    async def started(self) -> str:
        await self.say(ASK)
        await self.wait(lambda: any(r.poll is not None for r in self.chat.replies))
        return self.poll().buttons[0].value.split(":")[1]

    async def vote(self, sender: Sender, option: int) -> None:
        assert self.poll().poll is not None
        await self.press(self.poll().poll.options[option].value, sender)  # type: ignore[union-attr]

    def private_to(self, sender: Sender) -> list[Reply]:
        return [r for r in self.chat.replies if r.private_to == sender.user_id]

    async def plan_row(self, plan_id: str) -> Action:
        async with self.services.db.session(read_only=True) as session:
            found = await repositories.get_action(session, action_id=plan_id, workspace_id="T1")
        assert found is not None
        return found


@pytest.fixture
async def make_plan(database_url: str) -> AsyncIterator[Callable[..., Any]]:
    async with contextlib.AsyncExitStack() as stack:

        async def make() -> Plan:
            wired = await stack.enter_async_context(production(database_url, OfflinePlanner()))
            chat = RecordingReplier()
            wired.services.outlets["slack"] = Outlet(chat)
            return Plan(wired.services, wired.sandbox.state, chat)

        yield make


async def test_a_vote_then_each_pays_their_own_with_one_person_rejecting(make_plan: Any) -> None:
    plan: Plan = await make_plan()
    plan_id = await plan.started()
    poll = plan.poll()
    assert poll.poll is not None and 2 <= len(poll.poll.options) <= 4
    assert "Voting closes at" in poll.text and all(c.image_url for c in poll.cards)

    await plan.vote(BOB, 0)
    await plan.vote(CAROL, 1)
    await plan.vote(BOB, 1)  # changed
    await plan.wait(
        lambda: (
            "2 votes (Carol and Bob)" in plan.poll().text
            or "2 votes (Bob and Carol)" in plan.poll().text
        )
    )
    assert "1. " in plan.poll().text and "— 0 votes" in plan.poll().text

    refused = await plan.press(f"plan.close:{plan_id}", BOB)
    assert refused[0].private_to == BOB.user_id and "Only the person" in refused[0].text
    await plan.press(f"plan.close:{plan_id}", ALICE)
    await plan.wait(lambda: any(r.key == f"plan:{plan_id}:in" for r in plan.chat.replies))
    late = await plan.press(plan.poll().poll.options[0].value, CAROL)  # type: ignore[union-attr]
    assert late[0].private_to == CAROL.user_id and "closed" in late[0].text
    winner = plan.last(f"plan:{plan_id}:in")
    assert winner.text.startswith("🎉 The vote (2 of 2)")
    assert plan.sandbox.requests_to(BOOKINGS, "POST") == []

    join = plan.button(winner, "plan.in:")
    for person in (ALICE, BOB, CAROL):
        await plan.press(join, person)
    await plan.wait(lambda: "In so far (3)" in plan.last(f"plan:{plan_id}:in").text)
    assert plan.sandbox.requests_to(BOOKINGS, "POST") == []  # "I'm in" books nothing

    await plan.press(f"plan.each:{plan_id}", ALICE)
    await plan.wait(
        lambda: all(any(r.approval for r in plan.private_to(p)) for p in (ALICE, BOB, CAROL))
    )
    cards = {
        p.user_id: next(r for r in plan.private_to(p) if r.approval) for p in (ALICE, BOB, CAROL)
    }
    assert all(c.approval and c.approval.requester == u for u, c in cards.items())
    # Nobody can approve someone else's share.
    stolen = await plan.press(cards[BOB.user_id].approval.confirm.value, ALICE)  # type: ignore[union-attr]
    assert "Only the person who asked" in stolen[0].text
    await plan.press(cards[ALICE.user_id].approval.confirm.value, ALICE)  # type: ignore[union-attr]
    await plan.press(cards[BOB.user_id].approval.confirm.value, BOB)  # type: ignore[union-attr]
    await plan.press(cards[CAROL.user_id].approval.cancel.value, CAROL)  # type: ignore[union-attr]
    await plan.wait(lambda: any(r.text.startswith("Plan outcome") for r in plan.chat.replies), 30.0)

    outcome = next(r for r in plan.chat.replies if r.text.startswith("Plan outcome"))
    assert outcome.private_to is None
    assert "✅ Booked: Alice and Bob." in outcome.text
    assert "Carol (cancelled their approval)" in outcome.text
    posted = plan.sandbox.requests_to(BOOKINGS, "POST")
    assert len(posted) == 2
    users = {p.body["external_user_id"] for p in posted if p.body}
    assert len(users) == 2  # each under their own identity
    assert all(p.body and sum(t["num_tickets"] for t in p.body["tickets"]) == 1 for p in posted)
    # Each person's tickets reached them alone.
    assert any(r.text.startswith("Booked: ") for r in plan.private_to(BOB))
    assert not any(
        r.text.startswith("Booked: ") and r.private_to is None for r in plan.chat.replies
    )
    assert (await plan.plan_row(plan_id)).status == "done"


async def _to_winner(plan: Plan, plan_id: str, *, paid: bool = False) -> Reply:
    """Bob votes for the first option (`paid`: the first whose tickets cost something) and
    Alice closes the vote."""
    options = (await plan.plan_row(plan_id)).payload["options"]
    first = next(i for i, o in enumerate(options) if o["tickets"][0]["unit_cents"] or not paid)
    await plan.vote(BOB, first)
    await plan.wait(lambda: "1 vote (Bob)" in plan.poll().text)
    await plan.press(f"plan.close:{plan_id}", ALICE)
    await plan.wait(lambda: any(r.key == f"plan:{plan_id}:in" for r in plan.chat.replies))
    return plan.last(f"plan:{plan_id}:in")


async def test_a_tie_goes_to_the_organiser_who_picks(make_plan: Any) -> None:
    plan: Plan = await make_plan()
    plan_id = await plan.started()
    await plan.vote(BOB, 0)
    await plan.vote(CAROL, 1)
    await plan.wait(lambda: "1 vote (Carol)" in plan.poll().text)
    await plan.press(f"plan.close:{plan_id}", ALICE)
    await plan.wait(lambda: any(r.key == f"plan:{plan_id}:tie" for r in plan.chat.replies))
    tie = plan.last(f"plan:{plan_id}:tie")
    assert tie.text.startswith("It's a tie between") and tie.mention == ALICE.user_id
    assert len(tie.buttons) == 2
    refused = await plan.press(tie.buttons[1].value, BOB)
    assert "Only the person who started this plan" in refused[0].text
    await plan.press(tie.buttons[1].value, ALICE)
    await plan.wait(lambda: any(r.key == f"plan:{plan_id}:in" for r in plan.chat.replies))
    assert plan.last(f"plan:{plan_id}:tie").text.startswith("Picked: ")
    options = plan.poll().poll.options  # type: ignore[union-attr]
    winner = plan.last(f"plan:{plan_id}:in")
    assert winner.text.startswith("🎉 The organiser's pick: " + options[1].label.split(" · ")[0])
    again = await plan.press(tie.buttons[0].value, ALICE)
    assert "already settled" in again[0].text


async def test_the_deadline_closes_the_vote_and_a_late_vote_is_told(make_plan: Any) -> None:
    plan: Plan = await make_plan()
    plan_id = await plan.started()
    await plan.vote(CAROL, 1)
    await plan.wait(lambda: "1 vote (Carol)" in plan.poll().text)
    async with plan.services.db.session() as session:  # the clock moves past the deadline
        await repositories.add_to_job(
            session,
            action_id=plan_id,
            workspace_id="T1",
            add=lambda p: {"deadline": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()},
        )
    plan.services.jobs.wake()
    await plan.wait(lambda: any(r.key == f"plan:{plan_id}:in" for r in plan.chat.replies))
    assert plan.poll().poll.closed  # type: ignore[union-attr]
    assert plan.poll().text.startswith("🗳️ Voting closed")
    late = await plan.press(plan.poll().poll.options[0].value, BOB)  # type: ignore[union-attr]
    assert "Voting has closed" in late[0].text and late[0].private_to == BOB.user_id


async def test_im_in_stops_at_the_tickets_the_plan_can_book(make_plan: Any) -> None:
    plan: Plan = await make_plan()
    plan_id = await plan.started()
    winner = await _to_winner(plan, plan_id)
    join = plan.button(winner, "plan.in:")
    row = await plan.plan_row(plan_id)
    options = row.payload["options"]
    limit = options[int(row.payload["winner"])]["tickets"][0]["limit"]
    people = [Sender(f"U_{n}", f"Friend {n}") for n in range(limit + 1)]
    for person in people[:limit]:
        assert await plan.press(join, person) == []
    told = await plan.press(join, people[limit])
    assert told[0].private_to == people[limit].user_id
    assert f"all {limit}" in told[0].text and "are taken" in told[0].text
    await plan.wait(lambda: f"In so far ({limit})" in plan.last(f"plan:{plan_id}:in").text)
    await plan.press(f"plan.out:{plan_id}", people[0])  # someone drops out: a ticket is free
    assert await plan.press(join, people[limit]) == []


async def test_one_pays_for_all_under_the_spend_limit(make_plan: Any) -> None:
    plan: Plan = await make_plan()
    plan_id = await plan.started()
    winner = await _to_winner(plan, plan_id, paid=True)
    for person in (ALICE, BOB, CAROL):
        await plan.press(plan.button(winner, "plan.in:"), person)
    await plan.wait(lambda: "In so far (3)" in plan.last(f"plan:{plan_id}:in").text)
    refused = await plan.press(f"plan.all:{plan_id}", BOB)
    assert "Only the person who started this plan" in refused[0].text

    async with plan.services.db.session() as session:
        await repositories.set_spend_cap(session, platform="slack", external_id="T1", cents=100)
    over = await plan.press(f"plan.all:{plan_id}", ALICE)
    assert "above this workspace's limit of $1.00" in over[0].text
    assert over[0].private_to == ALICE.user_id
    async with plan.services.db.session() as session:
        await repositories.set_spend_cap(session, platform="slack", external_id="T1", cents=50_000)

    await plan.press(f"plan.all:{plan_id}", ALICE)
    await plan.wait(lambda: any(r.approval for r in plan.private_to(ALICE)))
    card = next(r for r in plan.private_to(ALICE) if r.approval)
    assert card.approval is not None
    assert any(line.startswith("For 3 people: ") for line in card.approval.lines)
    assert not any(r.approval for r in plan.private_to(BOB))
    assert plan.sandbox.requests_to(BOOKINGS, "POST") == []
    await plan.press(card.approval.confirm.value, ALICE)
    await plan.wait(lambda: any(r.text.startswith("Plan outcome") for r in plan.chat.replies), 30.0)
    (posted,) = plan.sandbox.requests_to(BOOKINGS, "POST")
    assert posted.body and sum(t["num_tickets"] for t in posted.body["tickets"]) == 3
    outcome = next(r for r in plan.chat.replies if r.text.startswith("Plan outcome"))
    assert "✅ Booked: Alice, Bob and Carol." in outcome.text
    await plan.wait(
        lambda: any(
            "Alice booked everyone's tickets, yours included" in r.text
            for r in plan.private_to(BOB)
        )
    )


async def test_each_share_above_the_limit_is_not_booked(make_plan: Any) -> None:
    plan: Plan = await make_plan()
    plan_id = await plan.started()
    winner = await _to_winner(plan, plan_id, paid=True)
    await plan.press(plan.button(winner, "plan.in:"), BOB)
    await plan.wait(lambda: "In so far (1)" in plan.last(f"plan:{plan_id}:in").text)
    async with plan.services.db.session() as session:
        await repositories.set_spend_cap(session, platform="slack", external_id="T1", cents=1)
    await plan.press(f"plan.each:{plan_id}", ALICE)
    await plan.wait(lambda: any(r.text.startswith("Plan outcome") for r in plan.chat.replies))
    outcome = next(r for r in plan.chat.replies if r.text.startswith("Plan outcome"))
    assert "Nobody was booked." in outcome.text and "Bob (above the limit)" in outcome.text
    assert not any(r.approval for r in plan.chat.replies)


async def test_a_button_from_another_workspace_changes_nothing(make_plan: Any) -> None:
    plan: Plan = await make_plan()
    plan_id = await plan.started()
    elsewhere = ConversationAddress("slack", "T2", "C9", "")
    vote = plan.poll().poll.options[0].value  # type: ignore[union-attr]
    told = await plan.press(vote, BOB, elsewhere)
    assert "no longer active" in told[0].text
    await plan.press(f"plan.close:{plan_id}", ALICE, elsewhere)
    async with plan.services.db.session(read_only=True) as session:
        votes = await repositories.list_choices(session, plan_id=plan_id, kind="vote")
    assert votes == [] and (await plan.plan_row(plan_id)).status == "voting"


async def test_a_plan_needs_a_group(make_plan: Any) -> None:
    plan: Plan = await make_plan()
    await plan.services.manager.handle(
        InboundMessage(HERE, ALICE, ASK, new_event_id(), private=True), plan.chat
    )
    assert "A group plan is for a channel or group" in plan.chat.transcript
    async with plan.services.db.session(read_only=True) as session:
        rows = await session.exec(select(Action).where(Action.kind == "plan"))
        assert rows.all() == []
