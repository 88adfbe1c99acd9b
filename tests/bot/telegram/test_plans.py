"""Group plans from a Telegram group: `/plan …` posts the options' pictures and one native
poll, whose answers are the votes; only the organiser's Close vote stops it in place; the
winner's I'm in buttons gather the group; each payer approves their own booking in their
private chat; the group hears the outcome once. The real PTB application, the Outgoing
sandbox over loopback (its booking webhooks reach `serve`), the offline planner and a fake
Bot API; what Telegram was asked is what is checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlmodel import select

from bot.telegram.handlers import PLAN_HINT
from bot.telegram.render import escape
from conversations.offline import OfflinePlanner
from conversations.replies import ActivityCard, Button, Poll, Reply
from conversations.types import ConversationAddress
from storage import repositories
from storage.models import Action
from tests.bot.telegram.fake_telegram import Call, FakeTelegram
from tests.bot.telegram.group import message_id, posted, press, wait_posted
from tests.bot.telegram.harness import (
    ALICE,
    BOB,
    CAROL,
    GROUP,
    TelegramRig,
    callback_query,
    message,
    poll_answer,
    running_telegram,
    update,
)

ASK = "/plan a night out with live music in brooklyn under $40"
BOOKINGS = "/partner/v1/bookings"
CLOSE = "Close vote"
NOT_YOURS = "Only the person who started this plan can close the vote."


async def _started(rig: TelegramRig) -> Call:
    """Alice asks for a plan in the group; the poll it posts (its status line then deleted)."""
    await rig.deliver(update(message(ASK, chat=GROUP)))
    await rig.telegram.wait_for(lambda: bool(rig.telegram.called("deleteMessage")), 20)
    await rig.settle()
    (poll,) = rig.telegram.called("sendPoll")
    return poll


async def _vote(rig: TelegramRig, poll: Call, user: Mapping[str, Any], *options: int) -> None:
    await rig.deliver(poll_answer(rig.telegram.poll_of(poll).id, list(options), user=user))


async def _votes(rig: TelegramRig) -> dict[str, int]:
    async with rig.services.db.session(read_only=True) as session:
        (plan,) = (await session.exec(select(Action).where(Action.kind == "plan"))).all()
        votes = await repositories.list_choices(session, plan_id=plan.id, kind="vote")
    return {v.user_id: v.value for v in votes}


def _alerted(rig: TelegramRig, words: str) -> bool:
    return any(
        words in str(c.params.get("text")) and c.params.get("show_alert") in (True, "true")
        for c in rig.telegram.called("answerCallbackQuery")
    )


def _private_card(rig: TelegramRig, user: Mapping[str, Any]) -> Call | None:
    chat = int(user["id"])
    return next((c for c in rig.telegram.sent(chat) if "Confirm" in str(c.buttons)), None)


async def _decide(rig: TelegramRig, user: Mapping[str, Any], label: str) -> None:
    """`user` presses Confirm or Cancel on the approval card in their own private chat."""
    card = _private_card(rig, user)
    assert card is not None
    chat = int(user["id"])
    data = card.callback_data(label)
    await rig.deliver(callback_query(data, on=message_id(card), chat=chat, user=user))


async def test_a_poll_vote_then_each_pays_their_own_in_their_private_chat(
    sqlite_url: str,
) -> None:
    async with running_telegram(OfflinePlanner(), database_url=sqlite_url, polling=True) as rig:
        poll = await _started(rig)
        fake = rig.telegram
        status, album, _ = fake.sent(GROUP)
        assert status.text.startswith("⏳ Finding options") and album.method == "sendMediaGroup"
        assert int(fake.called("deleteMessage")[0].params["message_id"]) == message_id(status)
        shown = fake.poll_of(poll)
        assert not shown.is_anonymous and not shown.allows_multiple_answers
        assert 2 <= len(shown.options) <= 4 and len(album.params["media"]) == len(shown.options)
        assert [b["text"] for b in poll.buttons] == [CLOSE] and not poll.silent
        assert not any("Vote" in b["text"] for c in fake.sent(GROUP) for b in c.buttons)

        await _vote(rig, poll, ALICE, 0)
        await _vote(rig, poll, BOB, 0)
        await _vote(rig, poll, CAROL, 1)
        await _vote(rig, poll, BOB, 1)  # changed
        await _vote(rig, poll, ALICE)  # taken back
        assert await _votes(rig) == {str(BOB["id"]): 1, str(CAROL["id"]): 1}

        await press(rig, poll, CLOSE, BOB)
        await fake.wait_for(lambda: _alerted(rig, NOT_YOURS))
        assert not fake.called("stopPoll") and not posted(rig, NOT_YOURS)
        await press(rig, poll, CLOSE, ALICE)
        (winner,) = await wait_posted(
            rig, f"🎉 The vote (2 of 2): {shown.options[1].split(' · ')[0]}"
        )
        (stopped,) = fake.called("stopPoll")
        assert int(stopped.params["message_id"]) == message_id(poll) and shown.closed
        assert "reply_markup" not in stopped.params  # the Close vote button is gone
        assert len(fake.called("sendPoll")) == 1 and not fake.called("editMessageReplyMarkup")

        join = next(b["text"] for b in winner.buttons if b["text"].startswith("I'm in"))
        for person in (ALICE, BOB, CAROL):
            await press(rig, winner, join, person)
        await wait_posted(rig, "In so far (3)")
        assert rig.sandbox.state.requests_to(BOOKINGS, "POST") == []

        await press(rig, winner, "Each pays their own", ALICE)
        await fake.wait_for(lambda: all(_private_card(rig, p) for p in (ALICE, BOB, CAROL)), 20)
        await rig.settle()
        assert not any("Confirm" in str(c.buttons) for c in fake.sent(GROUP))
        await _decide(rig, ALICE, "Confirm")
        await _decide(rig, BOB, "Confirm")
        await _decide(rig, CAROL, "Cancel")

        (outcome,) = await wait_posted(rig, "Plan outcome", count=1)
        assert "✅ Booked: Alice and Bob." in outcome.text
        assert "Not booked: Carol (cancelled their approval)." in outcome.text
        assert len(rig.sandbox.state.requests_to(BOOKINGS, "POST")) == 2
        await rig.settle()


async def test_a_vote_goes_on_after_a_restart_and_closes_the_same_poll(sqlite_url: str) -> None:
    fake = FakeTelegram()
    async with running_telegram(OfflinePlanner(), database_url=sqlite_url, telegram=fake) as rig:
        poll = await _started(rig)
        await _vote(rig, poll, BOB, 0)

    async with running_telegram(OfflinePlanner(), database_url=sqlite_url, telegram=fake) as rig:
        await _vote(rig, poll, CAROL, 1)
        await _vote(rig, poll, ALICE, 1)
        assert await _votes(rig) == {str(u["id"]): v for u, v in ((BOB, 0), (CAROL, 1), (ALICE, 1))}
        await press(rig, poll, CLOSE, ALICE)  # its button, stored before the restart
        await wait_posted(rig, "🎉 The vote (2 of 3)")
        (stopped,) = fake.called("stopPoll")
        assert int(stopped.params["message_id"]) == message_id(poll)
        assert len(fake.called("sendPoll")) == 1 and fake.poll_of(poll).closed
        await rig.settle()


async def test_answers_to_unknown_polls_or_on_behalf_of_a_chat_change_nothing(
    sqlite_url: str,
) -> None:
    async with running_telegram(OfflinePlanner(), database_url=sqlite_url) as rig:
        poll = await _started(rig)
        before = len(rig.telegram.calls)
        await rig.deliver(poll_answer("5123456789", [0], user=BOB))
        anonymous = {"id": GROUP, "type": "supergroup", "title": "Plans"}
        poll_id = rig.telegram.poll_of(poll).id
        await rig.deliver(poll_answer(poll_id, [0], user=None, voter_chat=anonymous))
        await rig.deliver(poll_answer(poll_id, [9], user=BOB))  # no such option
        assert await _votes(rig) == {}
        assert rig.telegram.calls[before:] == []
        bad = await rig.post(poll_answer(poll_id, ["first"], user=BOB))  # type: ignore[list-item]
        assert bad.status_code == 400


async def test_plan_alone_asks_what_to_plan(rig: TelegramRig) -> None:
    await rig.deliver(update(message("/plan", chat=GROUP)))
    await rig.telegram.wait_for(lambda: bool(rig.telegram.sent(GROUP)))
    (hint,) = rig.telegram.sent(GROUP)
    assert hint.text == escape(PLAN_HINT) and not rig.telegram.called("sendPoll")


def _poll_reply(*buttons: Button, closed: bool = False) -> Reply:
    options = (Button("Blue Note · Fri 21:00 · $25", "v:0"), Button("Smalls & Co", "v:1"))
    cards = tuple(
        ActivityCard(n, o.label, image_url=f"https://img.example/{n}.jpg")
        for n, o in enumerate(options, start=1)
    )
    poll = Poll("Where do we go?", options, retract="unvote", closed=closed)
    return Reply(text="🗳️ Vote", cards=cards, buttons=buttons, key="plan:1", poll=poll)


async def test_later_replies_change_only_what_a_poll_can_change(rig: TelegramRig) -> None:
    """The outbox's replier: same buttons → nothing; new ones → the keyboard alone; closed →
    stopped once (stopping it again is no failure); a closed poll never posted → a text."""
    group = ConversationAddress("telegram", str(GROUP), str(GROUP), "")
    replier = rig.services.replier_for(group)
    assert replier is not None
    close = Button("Close vote", "close")
    await replier.send(_poll_reply(close))
    (poll,) = rig.telegram.called("sendPoll")
    assert poll.params["options"] == [
        {"text": "Blue Note · Fri 21:00 · $25"},
        {"text": "Smalls & Co"},
    ]
    before = len(rig.telegram.calls)
    await replier.send(_poll_reply(close))
    assert rig.telegram.calls[before:] == []

    await replier.send(_poll_reply(close, Button("Remind me", "remind")))
    (edit,) = rig.telegram.called("editMessageReplyMarkup")
    assert int(edit.params["message_id"]) == message_id(poll)
    assert [b["text"] for b in edit.buttons] == ["Close vote", "Remind me"]
    await replier.send(_poll_reply(close, Button("Remind me", "remind")))
    assert len(rig.telegram.called("editMessageReplyMarkup")) == 1

    await replier.send(_poll_reply(closed=True))
    await replier.send(_poll_reply(closed=True))
    first, again = rig.telegram.called("stopPoll")
    assert first.params["_ok"] and not again.params.get("_ok")  # "already closed": fine
    assert rig.telegram.poll_of(poll).closed and len(rig.telegram.called("sendPoll")) == 1

    await replier.send(replace(_poll_reply(closed=True), key="plan:2"))
    assert rig.telegram.sent(GROUP)[-1].text.startswith("🗳️ Vote")
    assert len(rig.telegram.called("sendPoll")) == 1


async def test_a_tie_is_broken_by_the_organiser_who_then_pays_for_everyone(
    sqlite_url: str,
) -> None:
    async with running_telegram(OfflinePlanner(), database_url=sqlite_url, polling=True) as rig:
        fake = rig.telegram
        poll = await _started(rig)
        await _vote(rig, poll, BOB, 0)
        await _vote(rig, poll, CAROL, 1)
        await press(rig, poll, CLOSE, ALICE)
        (tie,) = await wait_posted(rig, "a tie between")
        second = tie.buttons[1]["text"]
        await press(rig, tie, second, BOB)
        await fake.wait_for(lambda: _alerted(rig, "can break the tie"))
        await press(rig, tie, second, ALICE)
        (winner,) = await wait_posted(rig, f"pick: {second}")
        join = next(b["text"] for b in winner.buttons if b["text"].startswith("I'm in"))
        for person in (BOB, CAROL):
            await press(rig, winner, join, person)
        await wait_posted(rig, "In so far (2)")

        await press(rig, winner, "I'll pay for everyone", ALICE)
        await fake.wait_for(lambda: _private_card(rig, ALICE) is not None, 20)
        card = _private_card(rig, ALICE)
        assert card is not None and "For 2 people:" in card.text
        assert _private_card(rig, BOB) is None and _private_card(rig, CAROL) is None
        await _decide(rig, ALICE, "Confirm")
        (outcome,) = await wait_posted(rig, "Plan outcome", count=1)
        assert "✅ Booked: Bob and Carol." in outcome.text
        (booking,) = rig.sandbox.state.requests_to(BOOKINGS, "POST")
        assert booking.body and sum(t["num_tickets"] for t in booking.body["tickets"]) == 2
        bob = int(BOB["id"])
        await fake.wait_for(lambda: any("yours included" in t for t in fake.texts(bob)), 20)
        await rig.settle()
