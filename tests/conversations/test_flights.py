"""Flights through Onegent: the route gathered in the thread, then the traveller's passport
details asked privately after Reserve, answered in their own chat, sent to Onegent once and
found in no table and no log line afterwards."""

from __future__ import annotations

import logging

import pytest

from conversations.capabilities.onegent import job as reservation_job
from conversations.capabilities.onegent import travel
from conversations.types import ConversationAddress, Sender
from integrations.sandbox import OnegentSandboxConfig
from tests.conversations.conftest import ALICE, Harness
from tests.conversations.reservation_rig import Reservations, db_text, reserve, running_reservations
from tests.fakes.chat import RecordingReplier

BOB = Sender("U_BOB", "Bob")
DM = ConversationAddress("console", "W1", "D_ALICE", "")
PASSPORT, BORN = "K7654321", "1985-07-21"
ANSWER = f"{BORN}, {PASSPORT}, US"
FLIGHT = reserve(scenario="flight", origin="jfk", dest="LHR", date="friday", passengers=1)


@pytest.fixture(autouse=True)
def _quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reservation_job, "poll_delay", lambda: 0.05)
    monkeypatch.setattr(reservation_job, "CONFIRM_AFTER_S", 0.2)


async def _to_the_passport_question(r: Reservations) -> None:
    await r.say("book me a flight from JFK to London on Friday")
    await r.answer_profile()
    await r.confirm()
    await r.wait(lambda: bool(r.shown("passport number")))


async def _in_private(r: Reservations, words: str) -> RecordingReplier:
    return await r.harness.say(r.manager, words, address=DM, settle=False, private=True)


async def test_a_flight_asks_for_the_passport_privately_and_never_keeps_it(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_reservations(harness, OnegentSandboxConfig.fast(), FLIGHT) as r:
        await _to_the_passport_question(r)
        (confirmation,) = [x for x in r.chat.replies if x.approval is not None][:1]
        assert confirmation.approval is not None
        assert "Passport details" in "\n".join(confirmation.approval.lines)
        (question,) = r.shown("passport number")
        assert question.private_to == ALICE.user_id and question.private_chat
        assert "Flight JFK → LHR" in question.text
        await r.wait(lambda: bool(r.shown("Waiting for your passport details")))
        (waiting,) = r.shown("Waiting for your passport details")
        assert waiting.private_to is None  # the card in the thread says why
        dm = await _in_private(r, ANSWER)
        await r.wait(lambda: bool(r.shown("Held at the payment page")))
        await r.wait(lambda: not r.harness.runners[id(r.manager)].busy, 5)
    assert any("not kept here" in t for t in dm.texts)
    assert not any(PASSPORT in t for t in dm.texts + r.chat.texts)
    (sent,) = r.state.requests
    assert sent["request"]["scenario"] == "flight"
    assert sent["request"]["params"]["origin"] == "JFK"
    assert sent["profile"]["passport_number"] == PASSPORT
    assert sent["profile"]["dob"] == BORN and sent["profile"]["passport_country"] == "US"
    stored = await db_text(harness)
    for personal in (PASSPORT, BORN, ANSWER):
        assert personal not in stored, personal
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert PASSPORT not in logged and BORN not in logged
    assert len(r.model.requests) == 2  # the answers never reached the model


async def test_a_passport_typed_in_the_thread_is_not_taken_there(harness: Harness) -> None:
    async with running_reservations(harness, OnegentSandboxConfig.fast(), FLIGHT) as r:
        await _to_the_passport_question(r)
        await r.say(ANSWER)  # in the thread, not their own chat
        await r.wait(lambda: bool(r.shown("answer there")))
        assert r.state.requests == []
        await _in_private(r, ANSWER)
        await r.wait(lambda: bool(r.shown("Held at the payment page")))
    assert len(r.model.requests) == 2  # the thread message never reached the model
    assert PASSPORT not in await db_text(harness)


async def test_a_malformed_answer_is_asked_again_and_someone_else_cannot_answer(
    harness: Harness,
) -> None:
    async with running_reservations(harness, OnegentSandboxConfig.fast(), FLIGHT) as r:
        await _to_the_passport_question(r)
        other_dm = ConversationAddress("console", "W1", "D_BOB", "")
        bob = await r.harness.say(
            r.manager, ANSWER, address=other_dm, sender=BOB, settle=False, private=True
        )
        assert r.state.requests == []
        assert not any("Onegent now" in t for t in bob.texts)
        dm = await _in_private(r, "1985-07-21 and K7654321")
        assert any("separated by commas" in t for t in dm.texts)
        dm = await _in_private(r, "1985-02-30, K7654321, US")
        assert any("doesn't exist" in t for t in dm.texts)
        await _in_private(r, ANSWER)
        await r.wait(lambda: bool(r.shown("Held at the payment page")))
    assert len(r.state.requests) == 1


async def test_cancelling_the_passport_question_ends_the_flight(harness: Harness) -> None:
    async with running_reservations(harness, OnegentSandboxConfig.fast(), FLIGHT) as r:
        await _to_the_passport_question(r)
        dm = await _in_private(r, "cancel")
        await r.wait(lambda: bool(r.shown("you cancelled it before giving passport details")))
    assert any("not reserved" in t for t in dm.texts)
    assert r.state.requests == []


async def test_an_unanswered_passport_question_ends_the_flight(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(travel, "KEPT_FOR_S", 0.5)
    async with running_reservations(harness, OnegentSandboxConfig.fast(), FLIGHT) as r:
        await _to_the_passport_question(r)
        await r.wait(lambda: bool(r.shown("no passport details came in time")), 10)
        late = await _in_private(r, ANSWER)
    assert r.state.requests == []
    assert not any("Onegent now" in t for t in late.texts)


async def test_details_lost_in_a_restart_are_asked_for_again(harness: Harness) -> None:
    """The details live in one process's memory: when the process that took them dies before
    sending them, the job (in the next process) asks again, saying why, and sends the new
    ones — once."""
    async with running_reservations(harness, OnegentSandboxConfig.fast(), FLIGHT) as r:
        await _to_the_passport_question(r)
        await r.stop_jobs()
        await _in_private(r, ANSWER)  # taken by a process whose runner never gets to send it
        await r.restart()
        await r.wait(lambda: bool(r.shown("lost the details")))
        (again,) = r.shown("lost the details")
        assert again.private_to == ALICE.user_id and again.private_chat
        assert r.state.create_requests == 0
        await _in_private(r, ANSWER)
        await r.wait(lambda: bool(r.shown("Held at the payment page")))
    assert r.state.created == 1
    assert PASSPORT not in await db_text(harness)


async def test_opening_the_private_chat_shows_the_waiting_question(harness: Harness) -> None:
    """A Telegram user who never started the bot only got a notice in the group: their first
    words in the private chat ("help", Start) bring the question, not an answer to it."""
    async with running_reservations(harness, OnegentSandboxConfig.fast(), FLIGHT) as r:
        await _to_the_passport_question(r)
        dm = await _in_private(r, "help")
        assert any("passport number" in t for t in dm.texts)
        assert not any("separated by commas" in t for t in dm.texts)
        await _in_private(r, ANSWER)
        await r.wait(lambda: bool(r.shown("Held at the payment page")))
    assert len(r.state.requests) == 1
    assert len(r.model.requests) == 2
