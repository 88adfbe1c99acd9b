"""The offline planner turns plain commands into the same tool calls a model would make."""

from __future__ import annotations

import json

import pytest

from conversations.capabilities.registry import ALL_TOOLS
from conversations.llm import LLMMessage, LLMRequest, TextPart, ToolResultPart, ToolSpec
from conversations.offline import (
    CANCEL_HINT,
    CONFIRM_HINT,
    HELP,
    THANKED,
    OfflinePlanner,
)

TOOLS = tuple(t.spec for t in ALL_TOOLS)


async def plan(
    text: str, tools: tuple[ToolSpec, ...] = TOOLS, *, before: tuple[LLMMessage, ...] = ()
) -> tuple[str, dict[str, object]] | str:
    request = LLMRequest("", (*before, LLMMessage("user", (TextPart(text),))), tools)
    response = await OfflinePlanner().complete(request)
    if response.tool_calls:
        (call,) = response.tool_calls
        return call.name, dict(call.args)
    return response.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "search jazz in Brooklyn",
            ("search_activities", {"prompt": "jazz", "location": "Brooklyn"}),
        ),
        (
            "Search for  rooftop bars in San Francisco",
            ("search_activities", {"prompt": "rooftop bars", "location": "San Francisco"}),
        ),
        ("find museums", ("search_activities", {"prompt": "museums"})),
        ("near Williamsburg", ("nearby_activities", {"place": "Williamsburg"})),
        ("near 40.71,-73.96", ("nearby_activities", {"place": "40.71,-73.96"})),
        ("details 2", ("get_activity", {"number": 2})),
        ("more", ("more_results", {})),
        ("book 2", ("book_activity", {"number": 2})),
        (
            "book 3 x2 General Admission on 2026-11-26 8:00",
            (
                "book_activity",
                {
                    "number": 3,
                    "tickets": [{"name": "General Admission", "quantity": 2}],
                    "session_date": "2026-11-26",
                    "session_time": "08:00",
                },
            ),
        ),
        ("orders", ("list_orders", {})),
        (
            '{"shared_location": {"lat": 48.86, "lng": 2.35}}',
            ("nearby_activities", {"lat": 48.86, "lng": 2.35}),
        ),
    ],
)
async def test_commands_become_tool_calls(
    text: str, expected: tuple[str, dict[str, object]]
) -> None:
    assert await plan(text) == expected


SEARCH = "search_activities"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Time words go into the prompt, never into the place.
        (
            "Search Jazz in brooklyn tonight",
            (SEARCH, {"prompt": "Jazz tonight", "location": "Brooklyn"}),
        ),
        ("jazz in brooklyn tonight", (SEARCH, {"prompt": "jazz tonight", "location": "Brooklyn"})),
        (
            "comedy this weekend in Williamsburg",
            (SEARCH, {"prompt": "comedy this weekend", "location": "Williamsburg"}),
        ),
        ("something fun tomorrow", (SEARCH, {"prompt": "something fun tomorrow"})),
        (
            "museums in paris next week",
            (SEARCH, {"prompt": "museums next week", "location": "Paris"}),
        ),
        (
            "jazz in Brooklyn on friday",
            (SEARCH, {"prompt": "jazz on friday", "location": "Brooklyn"}),
        ),
        # Searches without the word "search".
        ("something fun tonight", (SEARCH, {"prompt": "something fun tonight"})),
        ("any jazz in brooklyn?", (SEARCH, {"prompt": "jazz", "location": "Brooklyn"})),
        ("I want to see comedy", (SEARCH, {"prompt": "comedy"})),
        ("what's on this weekend", (SEARCH, {"prompt": "things to do this weekend"})),
        ("looking for live music", (SEARCH, {"prompt": "live music"})),
        (
            "what can we do in Paris tomorrow",
            (SEARCH, {"prompt": "things to do tomorrow", "location": "Paris"}),
        ),
        # Small typos, of commands, topics and places.
        ("jaz in brookln", (SEARCH, {"prompt": "jazz", "location": "Brooklyn"})),
        ("serch for comdy in manhatan", (SEARCH, {"prompt": "comedy", "location": "Manhattan"})),
        ("detials 2", ("get_activity", {"number": 2})),
        ("near willamsburg", ("nearby_activities", {"place": "Williamsburg"})),
        ("staus", ("job_status", {})),
        ("boook 2", ("book_activity", {"number": 2})),
        # Reasonable words are left as they are.
        ("search bard dancer muse", (SEARCH, {"prompt": "bard dancer muse"})),
        ("jazz in Oakland", (SEARCH, {"prompt": "jazz", "location": "Oakland"})),
        # Orders, status, more.
        ("what did I book", ("list_orders", {})),
        ("my bookings", ("list_orders", {})),
        ("my tickets", ("list_orders", {})),
        ("what's running", ("job_status", {})),
        ("status", ("job_status", {})),
        ("show more", ("more_results", {})),
        ("next", ("more_results", {})),
        # A result by its number, however it is said.
        ("the first one", ("get_activity", {"number": 1})),
        ("the 2nd", ("get_activity", {"number": 2})),
        ("number 3", ("get_activity", {"number": 3})),
        ("#2", ("get_activity", {"number": 2})),
        ("2", ("get_activity", {"number": 2})),
        ("the second", ("get_activity", {"number": 2})),
        ("tell me more about 2", ("get_activity", {"number": 2})),
        ("book the first one", ("book_activity", {"number": 1})),
        (
            "book number 2 2 General Admission",
            (
                "book_activity",
                {"number": 2, "tickets": [{"name": "General Admission", "quantity": 2}]},
            ),
        ),
    ],
)
async def test_everyday_phrasing_becomes_tool_calls(
    text: str, expected: tuple[str, dict[str, object]]
) -> None:
    assert await plan(text) == expected


@pytest.mark.parametrize("text", ["thanks!", "thank you", "great", "cool", "ok", "Thanks a lot."])
async def test_thanks_get_a_friendly_answer(text: str) -> None:
    assert await plan(text) == THANKED


@pytest.mark.parametrize("text", ["help", "hi", "hello", "start", "/start", "/help"])
async def test_greetings_still_get_the_help(text: str) -> None:
    assert await plan(text) == HELP


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("blah blah", "Sorry, I didn't get that. Try `search <what> in <where>`, or `help`."),
        ("serch", "Sorry, I didn't get that. Did you mean `search jazz in Brooklyn`?"),
    ],
)
async def test_a_miss_is_one_line_with_the_closest_command(text: str, expected: str) -> None:
    assert await plan(text) == expected


def _result(payload: dict[str, object]) -> tuple[LLMMessage, ...]:
    return (
        LLMMessage("user", (TextPart("earlier"),)),
        LLMMessage("user", (ToolResultPart("t1", json.dumps(payload)),)),
        LLMMessage("assistant", (TextPart(""),)),
    )


async def test_book_it_books_the_activity_whose_details_were_shown() -> None:
    shown = _result({"source": "outgoing_activity", "activity_id": "act-7", "name": "Late Set"})
    assert await plan("book it", before=shown) == ("book_activity", {"activity_id": "act-7"})
    assert await plan("let's book this one", before=shown) == (
        "book_activity",
        {"activity_id": "act-7"},
    )
    assert await plan("book it") == (
        "Which one? Say `book <n>` with the result's number, e.g. `book 1`."
    )


async def test_a_typed_yes_to_a_confirmation_points_at_its_button() -> None:
    waiting = _result({"status": "awaiting_confirmation", "shown_to_user": ["2 × Free RSVP"]})
    for text in ("yes", "yeah", "Yes please!", "ok"):
        assert await plan(text, before=waiting) == CONFIRM_HINT
    assert await plan("no", before=waiting) == CANCEL_HINT
    assert await plan("yes") == (
        "Nothing is waiting for a yes right now. Try `search <what> in <where>`, or `help`."
    )


async def test_a_partner_that_is_not_set_up_is_said_plainly() -> None:
    answer = await plan("search jazz", tools=())
    assert answer == "That service is not set up here, so I can't do that right now."


async def test_after_tools_errors_are_said_and_results_left_to_the_cards() -> None:
    planner = OfflinePlanner()
    failed = LLMMessage(
        "user", (ToolResultPart("t1", json.dumps({"error": "No such thing."}), True),)
    )
    done = LLMMessage("user", (ToolResultPart("t2", json.dumps({"shown": []})),))
    assert (await planner.complete(LLMRequest("", (failed,)))).text == "No such thing."
    assert (await planner.complete(LLMRequest("", (done,)))).text == ""


@pytest.mark.parametrize(
    ("text", "args"),
    [
        (
            "plan a night out with live music in brooklyn under $40, voting closes at 18:00",
            {
                "prompt": "a night out with live music in brooklyn under $40",
                "max_price": 40.0,
                "closes_at": "18:00",
            },
        ),
        ("plan jazz, vote until 6:30pm", {"prompt": "jazz", "closes_at": "18:30"}),
        ("plan jazz, voting closes at 6", {"prompt": "jazz"}),  # which 6: not guessed
        ("/plan comedy", {"prompt": "comedy"}),
        ("where do we go on friday?", {"prompt": "on friday"}),
    ],
)
async def test_a_group_plan_becomes_plan_outing(text: str, args: dict[str, object]) -> None:
    assert await plan(text) == ("plan_outing", args)
