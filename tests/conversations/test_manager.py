"""The manager end to end: scripted model → tools → sandbox Outgoing over HTTP → what people see."""

from __future__ import annotations

import asyncio
import json

from sqlmodel import select

from conversations import ConversationAddress
from conversations.jobs.runner import NOTE_PREFIX
from conversations.llm import LLMError, LLMRequest, LLMResponse, TextPart, ToolResultPart
from conversations.manager import SORRY_MODEL, SORRY_STUCK, ManagerConfig
from integrations.sandbox import (
    DEFAULT_SELF_SERVE_KEY,
    ForcedResponse,
    SandboxConfig,
    running_outgoing_sandbox,
)
from storage.models import Action
from tests.conversations.conftest import ALICE, HERE, Harness
from tests.fakes.llm import FunctionLLM, ScriptedLLM, call, calls, tool_results


async def _searches(harness: Harness) -> list[Action]:
    async with harness.db.session() as session:
        return list((await session.exec(select(Action).where(Action.kind == "search"))).all())


def _results(model: ScriptedLLM | FunctionLLM, index: int = -1) -> list[dict[str, object]]:
    return [dict(r) for r in tool_results(model.requests[index])]


async def test_search_shows_progress_then_cards_from_outgoing(harness: Harness) -> None:
    model = ScriptedLLM(
        [
            call("search_activities", prompt="jazz", location="Brooklyn"),
            "On it.",
            "The first one is closest.",
        ]
    )
    manager = harness.manager(model)
    chat = await harness.say(manager, "find jazz in Brooklyn this weekend")

    # The turn ends at once with a status line; the job's result then replaces that line.
    started = chat.updates[0]
    assert started.text == "Searching for jazz in Brooklyn…"
    assert {(u.key, u.done) for u in chat.updates} == {(started.key, False)}
    said, result = chat.replies
    assert said.text == "On it."
    assert result.key == started.key
    cards = result.cards
    assert 1 <= len(cards) <= 5
    assert all("jazz" in (c.title + (c.why or "") + (c.summary or "")).lower() for c in cards)
    assert all(c.image_url and c.activity_id for c in cards)
    assert any(c.price_label for c in cards)
    (begun,) = _results(model)
    assert begun["status"] == "searching"
    # The search is a job row, settled as succeeded.
    assert [a.status for a in await _searches(harness)] == ["succeeded"]

    # Next turn the model reads the results as a note, data marked with its source.
    await harness.say(manager, "which is closest?")
    notes = [
        p.text
        for m in model.requests[-1].messages
        for p in m.parts
        if isinstance(p, TextPart) and p.text.startswith(NOTE_PREFIX)
    ]
    (note,) = notes
    data = json.loads(note.removeprefix(NOTE_PREFIX))
    assert data["source"] == "outgoing_search"
    assert [r["name"] for r in data["shown"]] == [c.title for c in cards]


async def test_model_request_carries_system_prompt_and_only_valid_tools(harness: Harness) -> None:
    model = ScriptedLLM(["Hello!"])
    await harness.say(harness.manager(model), "hi there")
    request = model.requests[0]
    assert "Concierge" in request.system
    names = {t.name for t in request.tools}
    assert {"search_activities", "nearby_activities", "get_activity", "list_orders"} <= names
    search = next(t for t in request.tools if t.name == "search_activities")
    assert search.input_schema["required"] == ["prompt"]
    assert search.input_schema["additionalProperties"] is False


async def test_without_outgoing_its_tools_are_not_offered(harness: Harness) -> None:
    harness.key = None
    model = ScriptedLLM(["Search isn't set up here."])
    chat = await harness.say(harness.manager(model), "search jazz")
    assert not {t.name for t in model.requests[0].tools} & {"search_activities", "list_orders"}
    assert chat.texts == ["Search isn't set up here."]


async def test_invalid_tool_arguments_are_refused_before_any_partner_call(harness: Harness) -> None:
    model = ScriptedLLM(
        [
            calls(
                call("search_activities", prompt=""), call("get_activity", activity_id="x; DROP")
            ),
            call("search_activities", prompt="jazz", extra="nope"),
            call("book_everything"),
            "Sorry, I could not do that.",
        ]
    )
    chat = await harness.say(harness.manager(model), "search")
    first = _results(model, 1)
    assert all("Invalid arguments" in str(r["error"]) for r in first)
    assert "extra" in str(_results(model, 2)[0]["error"])
    assert "no tool named" in str(_results(model, 3)[0]["error"])
    assert chat.texts == ["Sorry, I could not do that."]
    assert not chat.updates  # nothing started
    assert await _searches(harness) == []


async def test_unknown_activity_id_gets_a_clear_answer(harness: Harness) -> None:
    model = FunctionLLM(
        lambda r: (
            LLMResponse((TextPart(str(tool_results(r)[0]["error"])),))
            if isinstance(r.messages[-1].parts[0], ToolResultPart)
            else calls(call("get_activity", activity_id="00000000-0000-4000-8000-000000000000"))
        )
    )
    chat = await harness.say(harness.manager(model), "details of that one")
    assert chat.texts == ["Outgoing has no such activity."]


async def test_partner_422_is_explained_and_changes_nothing(harness: Harness) -> None:
    detail = [{"loc": ["query", "prompt"], "msg": "prompt too vague", "type": "value_error"}]
    harness.sandbox.state.force(
        ForcedResponse("/partner/v1/search", status=422, body={"detail": detail})
    )
    model = ScriptedLLM([call("search_activities", prompt="stuff"), "Searching."])
    chat = await harness.say(harness.manager(model), "stuff")
    assert chat.texts[-1].startswith(
        "The search for “stuff” didn't work: Outgoing did not accept the request"
    )
    assert "prompt too vague" in chat.texts[-1]
    assert [a.status for a in await _searches(harness)] == ["failed"]


async def test_malformed_key_is_reported_not_crashed(harness: Harness) -> None:
    model = ScriptedLLM([call("search_activities", prompt="jazz"), "Searching."])
    chat = await harness.say(harness.manager(model, key="not-an-outgoing-key"), "jazz")
    assert chat.texts == [
        "Searching.",
        "The search for “jazz” didn't work: Outgoing refused this workspace's key "
        "(key_malformed). A workspace admin needs to connect a valid key.",
    ]


async def test_empty_search_says_so(harness: Harness) -> None:
    model = ScriptedLLM([call("search_activities", prompt="underwater yodelling"), "Nothing yet."])
    chat = await harness.say(harness.manager(model), "underwater yodelling")
    assert chat.replies[-1].text.startswith("No matches for “underwater yodelling”")
    assert not chat.replies[-1].cards


async def test_duplicate_delivery_is_handled_once(harness: Harness) -> None:
    model = ScriptedLLM(["Hello!"])
    manager = harness.manager(model)
    first = await harness.say(manager, "hi there", event_id="Ev1")
    again = await harness.say(manager, "hi there", event_id="Ev1")
    assert first.texts == ["Hello!"] and again.replies == [] and len(model.requests) == 1


async def test_model_failure_becomes_a_short_message(harness: Harness) -> None:
    async def broken(request: LLMRequest) -> LLMResponse:
        raise LLMError("overloaded")

    chat = await harness.say(harness.manager(FunctionLLM(broken)), "hi there")
    assert chat.texts == [SORRY_MODEL]


async def test_endless_tool_calls_stop_at_the_cap(harness: Harness) -> None:
    harness.config = ManagerConfig(max_tool_rounds=3)
    model = FunctionLLM(lambda r: calls(*(call("more_results") for _ in range(20))))
    chat = await harness.say(harness.manager(model), "loop")
    assert len(model.requests) == 3
    assert chat.texts == [SORRY_STUCK]
    assert "Too many tool calls" in str(_results(model, 1)[-1]["error"])


async def test_history_is_bounded_and_compacted(harness: Harness) -> None:
    harness.config = ManagerConfig(history_messages=6, history_step=4)
    model = FunctionLLM(
        lambda r: (
            LLMResponse((TextPart("ok"),))
            if isinstance(r.messages[-1].parts[0], ToolResultPart) or "plain" in str(r.messages[-1])
            else calls(call("search_activities", prompt="jazz", location="Brooklyn"))
        )
    )
    manager = harness.manager(model)
    for turn in range(6):
        await harness.say(manager, f"jazz please {turn}" if turn % 2 else f"plain {turn}")
    last = model.requests[-1]
    # At most 6 + 3 stored messages (the window moves 4 at a time) plus this turn's own
    # three (ask, tool call, results).
    assert len(last.messages) <= 6 + 3 + 3
    assert last.messages[0].role == "user"
    for message in last.messages[:-1]:  # stored history; the newest result is this turn's own
        for part in message.parts:
            if isinstance(part, ToolResultPart):
                assert len(part.content) <= 1500
                json.loads(part.content)


async def test_a_slow_search_does_not_hold_up_another_conversation(harness: Harness) -> None:
    async with running_outgoing_sandbox(SandboxConfig.fast(search_latency_s=1.0)) as slow_partner:
        quick = harness.manager(ScriptedLLM(["Hi Bob!"]))
        harness.sandbox = slow_partner
        slow = harness.manager(
            ScriptedLLM([call("search_activities", prompt="jazz", location="Brooklyn"), "Done."])
        )
        elsewhere = ConversationAddress("console", "W1", "C2", "")
        search = asyncio.create_task(harness.say(slow, "jazz"))
        await asyncio.sleep(0.2)
        loop = asyncio.get_running_loop()
        started = loop.time()
        other = await harness.say(quick, "hi there", address=elsewhere)
        assert loop.time() - started < 0.5 and other.texts == ["Hi Bob!"]
        assert not search.done()
        chat = await search
    assert chat.texts[0] == "Done." and chat.replies[-1].cards


async def test_messages_of_one_conversation_are_answered_in_order(harness: Harness) -> None:
    order: list[str] = []

    async def respond(request: LLMRequest) -> LLMResponse:
        text = " ".join(p.text for p in request.messages[-1].parts if isinstance(p, TextPart))
        await asyncio.sleep(0.05 if text == "first" else 0)
        order.append(text)
        return LLMResponse((TextPart(text),))

    manager = harness.manager(FunctionLLM(respond))
    await asyncio.gather(*(harness.say(manager, t) for t in ("first", "second", "third")))
    assert order == ["first", "second", "third"]


async def test_shared_location_reaches_the_model_as_data(harness: Harness) -> None:
    from conversations import GeoPoint, InboundMessage

    model = ScriptedLLM(
        [call("nearby_activities", lat=40.7081, lng=-73.9571), "Nearby ideas above."]
    )
    manager = harness.manager(model)
    from tests.fakes.chat import RecordingReplier

    chat = RecordingReplier()
    await manager.handle(InboundMessage(HERE, ALICE, "", "loc1", GeoPoint(40.7081, -73.9571)), chat)
    sent = model.requests[0].messages[-1].parts[0]
    assert isinstance(sent, TextPart)
    assert json.loads(sent.text) == {"shared_location": {"lat": 40.7081, "lng": -73.9571}}
    assert chat.replies[0].text.startswith("Ideas near")
    assert chat.replies[0].cards


async def test_a_self_serve_key_never_names_a_user_and_says_whose_orders(harness: Harness) -> None:
    model = ScriptedLLM([call("list_orders"), "That's all."])
    chat = await harness.say(harness.manager(model, key=DEFAULT_SELF_SERVE_KEY), "my orders")
    assert chat.texts[0].startswith("You have no bookings yet.")
    assert "orders of the key's owner, and bookings go to that account" in chat.texts[0]
    for request in harness.sandbox.state.journal:
        assert "x-external-user-id" not in {h.lower() for h in request.headers}


async def test_job_status_lists_this_conversations_jobs(harness: Harness) -> None:
    model = ScriptedLLM(
        [
            call("search_activities", prompt="jazz", location="Brooklyn"),
            "On it.",
            call("job_status"),
            "Still searching.",
            call("job_status"),
            "Done.",
        ]
    )
    manager = harness.manager(model)
    await harness.say(manager, "find jazz in Brooklyn", settle=False)
    await harness.say(manager, "what's going on?", settle=False)
    (running,) = _jobs(model)
    assert running == {
        "job_id": running["job_id"],
        "status": "Search for “jazz” in Brooklyn: still searching",
        "open": True,
    }
    await harness.settle(manager)
    await harness.say(manager, "and now?")
    (done,) = _jobs(model)
    assert str(done["status"]).startswith("Search for “jazz” in Brooklyn: done, ")
    assert done["open"] is False


def _jobs(model: ScriptedLLM) -> list[dict[str, object]]:
    jobs = _results(model)[0]["jobs"]
    assert isinstance(jobs, list)
    return jobs
