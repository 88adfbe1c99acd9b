"""A group plan in the terminal: what it prints for the plan's messages, which typed words
press which of their buttons, and what the scripted friends press."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.console.app import ConsoleReplier
from bot.console.friends import FRIENDS, reaction
from conversations.booking.messages import approval_request
from conversations.booking.quote import Quote, QuoteLine
from conversations.capabilities.plans.options import PlanOption, PlanTicket
from conversations.capabilities.plans.render import (
    Roster,
    Tally,
    poll_reply,
    tie_reply,
    winner_reply,
)
from conversations.replies import Reply

PLAN_ID = "p1"
BEA, CAL, DEE = FRIENDS
SOON = datetime.now(UTC) + timedelta(days=2)


def _option(n: int, *tickets: PlanTicket) -> PlanOption:
    return PlanOption(
        activity_id=f"a{n}",
        name=f"Show {n}",
        venue=f"Venue {n}",
        starts_at=SOON.isoformat(),
        session_date=SOON.date().isoformat(),
        session_time="20:00",
        currency="USD",
        tickets=tickets or (PlanTicket("General", 2500, 8),),
    )


OPTIONS = [_option(1), _option(2), _option(3)]


def _poll(closed: bool = False) -> Reply:
    tally = Tally(OPTIONS, [])
    return poll_reply(PLAN_ID, "live music", tally, deadline=SOON, closed=closed)


def _winner() -> Reply:
    two = _option(1, PlanTicket("General", 2500, 8), PlanTicket("VIP", 6000, 2))
    return winner_reply(PLAN_ID, Roster(two, []), won="The vote (2 of 3)")


def _private_card(to: str) -> Reply:
    line = QuoteLine("General", 1, 2500)
    quote = Quote("a1", "Show 1", "Venue 1", "2030-01-01", "20:00", (line,), "USD")
    card = approval_request(f"ap-{to}", quote, "dry_run", to)
    return Reply(approval=card.approval, key=card.key, private_to=to)


def _console(tmp_path: Path) -> tuple[ConsoleReplier, io.StringIO]:
    out = io.StringIO()
    return ConsoleReplier(out, interactive=False, data_dir=tmp_path), out


async def test_a_poll_is_printed_with_what_to_type_and_its_edit_compactly(tmp_path: Path) -> None:
    console, out = _console(tmp_path)
    await console.send(_poll())
    first = out.getvalue()
    assert "1. Show 1 — 0 votes\n    Venue 1 · " in first and "· $25.00\n2. Show 2" in first
    assert first.rstrip().endswith("Type `vote 1`…`vote 3`, or `close vote`.")
    assert "`book 1`" not in first and "Picture" not in first
    await console.send(_poll(closed=True))
    edit = out.getvalue()[len(first) :]
    assert edit.startswith("🗳️ Voting closed: live music\n1. Show 1 — 0 votes\n2. Show 2")
    assert "Venue 1" not in edit and "Type" not in edit


async def test_typed_words_press_the_poll_and_stop_once_it_is_closed(tmp_path: Path) -> None:
    console, _ = _console(tmp_path)
    await console.send(_poll())
    assert console.press("vote 2") == f"plan.vote:{PLAN_ID}:1"
    assert console.press("Vote 3!", BEA.sender.user_id) == f"plan.vote:{PLAN_ID}:2"
    assert console.press("vote 4") is None
    assert console.press("close vote") == f"plan.close:{PLAN_ID}"
    await console.send(_poll(closed=True))  # the same key: the edit replaces the buttons
    assert console.press("vote 1") is None and console.press("close vote") is None


async def test_the_winner_s_buttons_by_their_words(tmp_path: Path) -> None:
    console, out = _console(tmp_path)
    await console.send(_winner())
    assert "Type `i'm in 1` (General $25.00), `i'm in 2` (VIP $60.00), `i'm out`," in out.getvalue()
    assert console.press("i'm in") == f"plan.in:{PLAN_ID}:0"
    assert console.press("I\u2019m in 2") == f"plan.in:{PLAN_ID}:1"
    assert console.press("im in 3") is None
    assert console.press("i'm out") == f"plan.out:{PLAN_ID}"
    assert console.press("each pays") == f"plan.each:{PLAN_ID}"
    assert console.press("each pays their own.") == f"plan.each:{PLAN_ID}"
    assert console.press("pay for all") == f"plan.all:{PLAN_ID}"
    assert console.press("I'll pay for everyone") == f"plan.all:{PLAN_ID}"
    assert console.press("each") is None and console.press("in") is None
    assert console.press("i'm in the mood for jazz") is None


async def test_a_tie_is_picked_by_number(tmp_path: Path) -> None:
    console, out = _console(tmp_path)
    tally = Tally(OPTIONS, [])
    await console.send(tie_reply(PLAN_ID, tally, "local-user"))
    assert " 1. Show 1\n 2. Show 2\n 3. Show 3\nType `pick 1`…`pick 3`." in out.getvalue()
    assert console.press("pick 3") == f"plan.pick:{PLAN_ID}:2"
    assert console.press("pick 4") is None
    await console.send(tie_reply(PLAN_ID, tally, "local-user", picked=2))
    assert console.press("pick 1") is None


async def test_a_card_private_to_a_friend_is_theirs_to_answer(tmp_path: Path) -> None:
    console, out = _console(tmp_path)
    bea = BEA.sender.user_id
    await console.send(_private_card(bea))
    assert out.getvalue().startswith("(to Bea, privately) Book Show 1?\n")
    assert "Confirm? Reply `as Bea: y` to book or `as Bea: n` to cancel." in out.getvalue()
    assert console.answer("y") is None  # not the terminal user's
    assert console.answer("yes", bea) == f"approve:ap-{bea}"
    assert console.waits_for(bea) and not console.waits_for("local-user")
    await console.send(_private_card("local-user"))
    assert console.answer("n") == "reject:ap-local-user"
    assert "(to You" not in out.getvalue()


async def test_what_the_scripted_friends_press() -> None:
    poll, winner = _poll(), _winner()
    votes = [reaction(f, poll) for f in FRIENDS]
    assert [v.value if v else None for v in votes] == [
        f"plan.vote:{PLAN_ID}:0",
        f"plan.vote:{PLAN_ID}:0",
        f"plan.vote:{PLAN_ID}:1",
    ]
    assert votes[2] is not None and votes[2].said == "votes for 2. Show 2"
    assert reaction(BEA, _poll(closed=True)) is None
    joined = reaction(CAL, winner)
    assert joined is not None and joined.value == f"plan.in:{PLAN_ID}:0"
    assert joined.said == "taps I'm in"
    card = _private_card(DEE.sender.user_id)
    assert reaction(BEA, card) is None  # someone else's approval
    confirmed = reaction(DEE, card)
    assert confirmed is not None and confirmed.value == f"approve:ap-{DEE.sender.user_id}"
