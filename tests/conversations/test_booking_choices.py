"""Booking choices as pending questions: session, ticket type and quantity by button or by a
typed reply, only from the person asked, never after the deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, update

from conversations.replies import Reply
from storage.models import PendingQuestion
from tests.conversations.test_booking import ALICE, BOB, Env, make_env, propose_late_set
from tests.fakes.llm import text

__all__ = ["make_env"]

ROULETTE = "Roulette Jazz Series: Avant-Garde Trio"


def activity_id(env: Env, name: str) -> str:
    return next(a.activity_id for a in env.sandbox.state.catalogue.activities if a.name == name)


def last_question(env: Env) -> Reply:
    return next(r for r in reversed(env.chat.replies) if r.key and r.key.startswith("question:"))


async def test_book_asks_session_ticket_and_quantity_then_confirms(make_env: Any) -> None:
    env: Env = await make_env()
    await env.press(f"book:{activity_id(env, ROULETTE)}")
    session_q = last_question(env)
    assert session_q.text.startswith(f"Which session of {ROULETTE}?")
    assert len(session_q.buttons) == 3 and session_q.mention == ALICE.user_id
    assert "If I hear nothing by" in session_q.text and "nothing is booked" in session_q.text

    await env.press(session_q.buttons[1].value)  # the second session, by button
    ticket_q = last_question(env)
    assert ticket_q.text.startswith("Which tickets for") and len(ticket_q.buttons) >= 2
    settled = next(r for r in env.chat.replies if r.key == session_q.key and "✓" in r.text)
    assert not settled.buttons  # the answered question loses its buttons, in place

    unused = text("unused")
    env.script.append(unused)  # a typed answer goes to the question, not the model
    await env.say("1")
    assert env.script == [unused]
    quantity_q = last_question(env)
    assert quantity_q.text.startswith("How many")
    await env.press(quantity_q.buttons[1].value)

    approval = env.chat.replies[-1].approval
    assert approval is not None
    assert any(line.startswith(f"{int(quantity_q.buttons[1].label)} × ") for line in approval.lines)
    await env.press(env.approval_value())
    await env.settle()
    assert env.bookings_posted() == 1
    assert sum(t.startswith("Booked: ") for t in env.chat.texts) == 1


async def test_wrong_person_late_and_twice_change_nothing(make_env: Any) -> None:
    env: Env = await make_env()
    await env.press(f"book:{activity_id(env, ROULETTE)}")
    question = last_question(env)
    choice = question.buttons[0].value

    foreign = await env.press(choice, sender=BOB)
    assert foreign.replies[-1].text == "Only the person who was asked can answer this question."
    env.script.append(text("Hi Bob."))  # Bob's words are his own message, for the model
    await env.say("1", sender=BOB)
    assert env.chat.texts[-1] == "Hi Bob."

    first = await env.press(choice)
    assert last_question(env).text.startswith("Which tickets for")
    again = await env.press(choice)
    assert again.replies[-1].text == "That question was already answered."
    assert first.replies and env.bookings_posted() == 0

    ticket_id = str(last_question(env).key).split(":", 1)[1]
    async with env.services.db.session() as session:
        await session.exec(
            update(PendingQuestion)
            .where(col(PendingQuestion.id) == ticket_id)
            .values(deadline=datetime.now(UTC) - timedelta(seconds=1))
        )
    late = await env.press(last_question(env).buttons[0].value)
    assert late.replies[-1].text == "That question has expired, so nothing is booked."
    assert all(r.approval is None for r in env.chat.replies)


async def test_outgoing_needing_details_becomes_a_question_in_the_thread(make_env: Any) -> None:
    env: Env = await make_env(booking_needs_input=True)
    await propose_late_set(env)
    await env.press(env.approval_value())
    await env.settle()
    question = last_question(env)
    assert question.text.startswith("Outgoing needs more details from you to finish booking")
    assert "full name" in question.text and question.mention == ALICE.user_id
    assert [b.label for b in question.buttons] == ["Yes", "No"]
    env.script.append(text("unused"))
    await env.say("no")
    assert env.chat.texts[-1].startswith("OK, I've stopped following it.")
    (booking,) = await env.bookings()
    assert booking.status == "user_input_required" and booking.next_run_at is None
    again = await env.press(question.buttons[0].value)
    assert again.replies[-1].text == "That question was already answered."
