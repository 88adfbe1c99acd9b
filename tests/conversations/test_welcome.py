"""The welcome: built in code from what is connected here; its buttons say their text."""

from __future__ import annotations

import pytest

from conversations.manager import new_event_id
from conversations.offline import OFFLINE_NOTE, OfflinePlanner
from conversations.replies import BUTTON_EXPIRED
from conversations.types import ButtonPress
from tests.conversations.conftest import ALICE, HERE, Harness
from tests.fakes.chat import RecordingReplier
from tests.fakes.llm import ScriptedLLM

ONEGENT_URL = "http://127.0.0.1:9/api/v1"
CALLS_URL = "http://127.0.0.1:9"


def _labels(chat: RecordingReplier) -> list[str]:
    return [b.label for r in chat.replies for b in r.buttons]


@pytest.mark.parametrize("text", ["help", "/start", "/help", "Hi!", "hello", "start"])
async def test_greetings_get_the_welcome_without_the_model(harness: Harness, text: str) -> None:
    harness.onegent_url, harness.calls_url = ONEGENT_URL, CALLS_URL
    model = ScriptedLLM([])
    chat = await harness.say(harness.manager(model), text)
    assert model.requests == []
    (reply,) = chat.replies
    assert "Find things to do and book tickets (Outgoing)" in reply.text
    assert "AI voice agent (Call Agent)" in reply.text
    assert "Reserve restaurants, hotels and flights (Onegent)" in reply.text
    assert "Not connected" not in reply.text and OFFLINE_NOTE not in reply.text
    assert _labels(chat) == [
        "Jazz in Brooklyn tonight",
        "Things to do near Williamsburg",
        "Table for 2 at Le Bernardin, tomorrow 7pm",
        "My orders",
        "What's running",
    ]
    assert all(b.value.startswith("try:") for b in reply.buttons)


async def test_a_workspace_without_onegent_or_call_agent_is_not_offered_them(
    harness: Harness,
) -> None:
    chat = await harness.say(harness.manager(ScriptedLLM([])), "help")
    (reply,) = chat.replies
    assert "Onegent (reservations)" not in reply.text.split("Not connected")[0]
    assert "Not connected: Call Agent (phone calls) and Onegent (reservations)." in reply.text
    assert "Whoever runs this concierge can connect them" in reply.text
    assert "Table for 2 at Le Bernardin, tomorrow 7pm" not in _labels(chat)
    assert "Call Nobu about a table for 4" not in _labels(chat)
    assert "Jazz in Brooklyn tonight" in _labels(chat)


async def test_call_agent_alone_offers_a_call_and_slack_names_the_admin_command(
    harness: Harness,
) -> None:
    harness.calls_url = CALLS_URL
    slack = HERE.__class__("slack", "T1", "D1", "")
    chat = await harness.say(harness.manager(ScriptedLLM([])), "help", address=slack)
    (reply,) = chat.replies
    assert "Not connected: Onegent (reservations)." in reply.text
    assert "A workspace admin can connect it with `/concierge settings`." in reply.text
    assert "Call Nobu about a table for 4" in _labels(chat)


async def test_nothing_connected_and_offline_is_said_once_each(harness: Harness) -> None:
    harness.key = None
    chat = await harness.say(harness.manager(OfflinePlanner()), "help")
    (reply,) = chat.replies
    assert "Nothing is connected here yet." in reply.text
    assert reply.text.count("Not connected") == 1 and reply.text.count(OFFLINE_NOTE) == 1
    assert _labels(chat) == ["What's running"]


async def test_an_example_button_runs_its_text_as_if_typed(harness: Harness) -> None:
    manager = harness.manager(OfflinePlanner())
    chat = RecordingReplier()
    harness.outlet.repliers[HERE] = chat
    press = ButtonPress(HERE, ALICE, "try:search-jazz", new_event_id())
    await manager.handle(press, chat)
    await harness.settle(manager)
    assert "ideas for jazz tonight in Brooklyn" in chat.transcript
    assert any(card.title for r in chat.replies for card in r.cards)


async def test_a_shortcut_button_goes_to_the_model_as_typed_text(harness: Harness) -> None:
    model = ScriptedLLM(["Nothing is running."])
    manager = harness.manager(model)
    chat = RecordingReplier()
    await manager.handle(ButtonPress(HERE, ALICE, "try:status", new_event_id()), chat)
    assert model.requests[0].messages[-1].parts[0].text == "status"  # type: ignore[union-attr]
    assert chat.texts == ["Nothing is running."]


@pytest.mark.parametrize("value", ["try:search-anything", "try:", "try:../orders"])
async def test_an_unknown_welcome_button_is_no_longer_active(harness: Harness, value: str) -> None:
    model = ScriptedLLM([])
    chat = RecordingReplier()
    await harness.manager(model).handle(ButtonPress(HERE, ALICE, value, new_event_id()), chat)
    assert model.requests == []
    (reply,) = chat.replies
    assert reply.text == BUTTON_EXPIRED.text and reply.private_to == ALICE.user_id
