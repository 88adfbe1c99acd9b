"""The offline planner in a conversation: what a person typing everyday words sees."""

from __future__ import annotations

from conversations.capabilities.outgoing.search_job import search_line
from conversations.offline import CONFIRM_HINT, THANKED, OfflinePlanner
from tests.conversations.conftest import Harness


async def test_everyday_words_search_thank_and_list_orders(harness: Harness) -> None:
    manager = harness.manager(OfflinePlanner())

    fun = await harness.say(manager, "something fun tonight")
    assert fun.updates[0].text == search_line({"prompt": "something fun tonight"})
    assert "8 ideas for" in fun.replies[-1].text and "something fun tonight" in fun.replies[-1].text
    assert len(fun.replies[-1].cards) == 5

    thanks = await harness.say(manager, "thanks!")
    assert thanks.texts == [THANKED]

    jazz = await harness.say(manager, "jaz in brookln")
    assert jazz.updates[0].text == search_line({"prompt": "jazz", "location": "Brooklyn"})
    assert jazz.replies[-1].text.endswith("in Brooklyn:")

    details = await harness.say(manager, "the first one")
    (detail,) = [r.detail for r in details.replies if r.detail]
    assert detail.title == jazz.replies[-1].cards[0].title

    orders = await harness.say(manager, "what did I book")
    assert orders.texts == ["You have no bookings yet."]


async def test_a_time_word_stays_out_of_the_place(harness: Harness) -> None:
    manager = harness.manager(OfflinePlanner())
    chat = await harness.say(manager, "Search Jazz in brooklyn tonight")
    where = {"prompt": "Jazz tonight", "location": "Brooklyn"}
    assert chat.updates[0].text == search_line(where)
    header = chat.replies[-1].text
    assert "Jazz tonight" in header and header.endswith(" in Brooklyn:")


async def test_a_miss_is_one_short_line(harness: Harness) -> None:
    manager = harness.manager(OfflinePlanner())
    chat = await harness.say(manager, "blah blah")
    assert chat.transcript == "Sorry, I didn't get that. Try `search <what> in <where>`, or `help`."


async def test_book_it_after_details_and_a_typed_yes(harness: Harness) -> None:
    manager = harness.manager(OfflinePlanner())
    await harness.say(manager, "jazz in Brooklyn")
    await harness.say(manager, "details 1")
    asked = await harness.say(manager, "book it")
    assert "Which tickets for Celebrate Brooklyn! Jazz in Prospect Park" in asked.transcript

    # Answers to its questions are taken by the questions, before the planner.
    await harness.say(manager, "1")
    picked = await harness.say(manager, "2")
    (approval,) = [r.approval for r in picked.replies if r.approval]
    assert approval.status == "pending" and "2 × Free RSVP (free)" in approval.lines

    typed = await harness.say(manager, "yeah")
    assert typed.texts == [CONFIRM_HINT]


async def test_a_question_takes_the_second_one_and_the_1st(harness: Harness) -> None:
    manager = harness.manager(OfflinePlanner())
    await harness.say(manager, "jazz in Brooklyn")
    await harness.say(manager, "book 1")
    tickets = await harness.say(manager, "the second one")
    assert "How many Friends of BRIC Seating tickets?" in tickets.transcript
    picked = await harness.say(manager, "the 1st")
    (approval,) = [r.approval for r in picked.replies if r.approval]
    assert "1 × Friends of BRIC Seating" in " ".join(approval.lines)
