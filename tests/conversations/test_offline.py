"""The offline planner turns plain commands into the same tool calls a model would make."""

from __future__ import annotations

import json

import pytest

from conversations.capabilities.registry import ALL_TOOLS
from conversations.llm import LLMMessage, LLMRequest, TextPart, ToolResultPart, ToolSpec
from conversations.offline import HELP, OFFLINE_NOTE, OfflinePlanner

TOOLS = tuple(t.spec for t in ALL_TOOLS)


async def plan(
    text: str, tools: tuple[ToolSpec, ...] = TOOLS
) -> tuple[str, dict[str, object]] | str:
    request = LLMRequest("", (LLMMessage("user", (TextPart(text),)),), tools)
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


async def test_help_and_unknown_text_say_offline_mode() -> None:
    assert await plan("help") == HELP
    answer = await plan("what's good tonight?")
    assert isinstance(answer, str) and OFFLINE_NOTE in answer


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
