"""The travel agency at the conversation level: a trip is gathered, confirmed and handed to
the agency; their agent's turns stream into the thread (one message per turn, edited in
place); its approvals are decided from cards by the requester or an admin only; the
requester's messages go to the agency until they are done; a dropped stream, a restart and
a 2FA login lose nothing. The manager, job runner and outbox run as in `serve`, with the
offline planner reading plain phrases, against the Voyagent sandbox."""

from __future__ import annotations

import itertools

import pytest

from conversations.capabilities.voyagent import job as agency_job
from conversations.offline import THANKED
from integrations.sandbox.voyagent_state import (
    DEFAULT_EMAIL,
    DEFAULT_PASSWORD,
    TOTP_EMAIL,
    VoyagentSandboxConfig,
)
from tests.conversations.agency_rig import ADMIN, BOB, LISBON, AgencyChat, agency_chat
from tests.conversations.conftest import ALICE, Harness
from tests.storage.dump import found_in, stored_values


@pytest.fixture(autouse=True)
def _quick_rechecks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agency_job, "IDLE_RECHECK_S", 0.2)


def _final_text(rig: AgencyChat, number: int) -> str:
    posts = rig.turn(number)
    assert posts, rig.chat.transcript
    return posts[-1].text


async def test_a_trip_is_handed_to_the_agency_and_its_approval_decided_from_the_card(
    harness: Harness,
) -> None:
    async with agency_chat(harness) as rig:
        await rig.handed_over()
        (enquiry,) = rig.sandbox.state.enquiries.values()
        assert enquiry["destination"] == "Lisbon" and enquiry["travellers"] == 4
        assert enquiry["budget"] == {"amount": "6000.00", "currency": "EUR"}
        assert enquiry["session_id"] is not None

        asked = await rig.agency_asks()
        assert asked.approval is not None and asked.approval.requester == ALICE.user_id
        first = _final_text(rig, 1)
        assert first.startswith("🧳 Sandbox Travel Co.:") and "Lisbon" in first
        assert len({r.key for r in rig.turn(1)}) == 1  # one message, edited in place

        await rig.press(asked.approval.confirm.value, BOB)  # not Bob's to decide
        assert rig.private_to(BOB)[-1].startswith("Only the person who asked for this trip")
        await rig.press(asked.approval.confirm.value)
        await rig.wait(lambda: bool(rig.turn(2)) and "✍️" not in rig.turn(2)[-1].text, 15)
        assert "held" in _final_text(rig, 2).lower()
        (decided,) = rig.sandbox.state.approvals.values()
        assert decided["status"] == "granted"

        await rig.press(asked.approval.confirm.value)  # twice: decided once
        assert rig.last_answer().text == "This was already approved."


async def test_the_requesters_messages_go_to_the_agency_until_they_are_done(
    harness: Harness,
) -> None:
    async with agency_chat(harness) as rig:
        await rig.handed_over()
        asked = await rig.agency_asks()
        assert asked.approval is not None
        await rig.press(asked.approval.cancel.value)
        await rig.wait(lambda: bool(rig.turn(2)) and "✍️" not in rig.turn(2)[-1].text, 15)

        await rig.say("We'd love a hotel near Alfama, please")
        asked_again = await rig.wait_for_approvals(2)
        assert asked_again.approval is not None
        await rig.say("Also, vegetarian food please")  # while the agency waits on the card
        assert "waiting for your answer to the approval" in rig.last_answer().text
        await rig.press(asked_again.approval.confirm.value)

        def sent() -> list[str]:
            return [m["message"] for m in rig.sandbox.state.messages_of(rig.session_id())]

        await rig.wait(lambda: "Also, vegetarian food please" in sent(), 15)
        await rig.say("what about dinner?", BOB)  # someone else in the thread
        assert "wasn't passed on" in rig.private_to(BOB)[-1]
        assert "We'd love a hotel near Alfama, please" in sent()
        assert "what about dinner?" not in sent()

        await rig.say("done with the agency")
        assert "You're back with the concierge" in rig.last_answer().text
        await rig.wait(lambda: bool(rig.shown("answered in this thread")))
        await rig.say("thanks")
        assert rig.last_answer().text == THANKED  # our model answers again


async def test_a_2fa_login_asks_the_requester_for_the_code_once_privately(
    harness: Harness,
) -> None:
    async with agency_chat(harness, login=(TOTP_EMAIL, DEFAULT_PASSWORD)) as rig:
        await rig.say("ask the agency to plan 5 days in Lisbon for 4 in May under €6000")
        await rig.send()
        await rig.wait(lambda: any("six-digit" in t for t in rig.private_to(ALICE)), 15)
        await rig.say("000000", private=True)
        await rig.wait(lambda: any("didn't work" in t for t in rig.private_to(ALICE)))
        await rig.say(VoyagentSandboxConfig.fast().totp_code, private=True)
        await rig.wait(lambda: bool(rig.shown("is answering in this thread")), 15)
        code = VoyagentSandboxConfig.fast().totp_code
        stored = await stored_values(harness.db)
        assert found_in(stored, code) == [] and found_in(stored, "refresh_token") == []

        asked = await rig.agency_asks()
        assert asked.approval is not None
        await rig.restart()  # the sealed session carries on: no second code
        await rig.press(asked.approval.confirm.value)
        await rig.wait(lambda: bool(rig.turn(2)) and "✍️" not in rig.turn(2)[-1].text, 15)
        asked_for_code = {r.key for r in rig.chat.replies if "six-digit" in r.text}
        assert len(asked_for_code) == 2  # the first ask and the one after the wrong code


async def test_a_dropped_stream_resumes_without_posting_anything_twice(harness: Harness) -> None:
    async with agency_chat(harness) as rig:
        rig.sandbox.state.drop_next_stream(after_events=3)
        await rig.handed_over()
        await rig.agency_asks()
        texts = [r.text.removesuffix(" ✍️") for r in rig.turn(1)]
        assert all(a != b or a == texts[-1] for a, b in itertools.pairwise(texts))
        whole = texts[-1]
        assert whole.count("Lisbon") >= 1 and "  " not in whole.replace("\n", " ")


async def test_a_restart_mid_bridge_keeps_the_session_and_its_approval(harness: Harness) -> None:
    async with agency_chat(harness) as rig:
        await rig.handed_over()
        asked = await rig.agency_asks()
        assert asked.approval is not None
        await rig.restart()
        await rig.press(asked.approval.confirm.value)
        await rig.wait(lambda: bool(rig.turn(2)) and "✍️" not in rig.turn(2)[-1].text, 15)
        assert len(rig.sandbox.state.sessions) == 1


async def test_an_admin_may_decide_and_an_expired_approval_is_said_plainly(
    harness: Harness,
) -> None:
    harness.admins = frozenset({ADMIN.user_id})
    async with agency_chat(harness) as rig:
        await rig.handed_over()
        asked = await rig.agency_asks()
        assert asked.approval is not None
        (partner_id,) = rig.sandbox.state.approvals
        rig.sandbox.state.expire_approval(partner_id)
        await rig.press(asked.approval.confirm.value, ADMIN)
        await rig.wait(lambda: bool(rig.shown("expired before it was decided")), 15)


async def test_an_enquiry_the_agency_refuses_is_said_plainly_and_nothing_is_bridged(
    harness: Harness,
) -> None:
    async with agency_chat(harness) as rig:
        rig.sandbox.state.force("POST", "/enquiries", 409, "enquiry_terminal")
        await rig.say(LISBON + " under €6000")
        await rig.send()
        await rig.wait(lambda: bool(rig.shown("I couldn't hand this trip to the agency")), 15)
        (said,) = rig.shown("I couldn't hand this trip to the agency")
        assert "that enquiry is closed at the agency" in said.text
        assert rig.sandbox.state.sessions == {}
        await rig.say("thanks")
        assert rig.last_answer().text == THANKED  # no bridge: our model answers


async def test_a_login_the_agency_refuses_fails_the_hand_off_with_a_clear_reason(
    harness: Harness,
) -> None:
    async with agency_chat(harness, login=(DEFAULT_EMAIL, "wrong-password")) as rig:
        await rig.say(LISBON + " under €6000")
        await rig.send()
        await rig.wait(lambda: bool(rig.shown("the agency refused our sign-in")), 15)
        assert rig.sandbox.state.enquiries == {}


async def test_reports_go_privately_and_the_audit_export_only_to_an_admin(
    harness: Harness,
) -> None:
    harness.admins = frozenset({ADMIN.user_id})
    async with agency_chat(harness) as rig:
        await rig.handed_over()
        asked = await rig.agency_asks()
        assert asked.approval is not None
        await rig.press(asked.approval.confirm.value)
        await rig.wait(lambda: bool(rig.turn(2)) and "✍️" not in rig.turn(2)[-1].text, 15)
        await rig.say("done with the agency")
        await rig.say("agency itinerary")
        (itinerary,) = [t for t in rig.private_to(ALICE) if t.startswith("🧳 Itinerary")]
        assert "Lisbon" in itinerary
        await rig.say("agency audit export", BOB)
        assert rig.shown("Only a workspace admin")  # (the header's last edit may land after)
        assert not [r for r in rig.chat.replies if r.file is not None]
        await rig.say("agency audit export", ADMIN)
        (export,) = [r for r in rig.chat.replies if r.file is not None]
        assert export.private_to == ADMIN.user_id and export.private_chat
        assert export.file is not None and export.file.mime == "text/csv"
        assert export.file.content.startswith(
            b"created_at,kind,actor_kind,actor_id,actor_email,status,summary,payload_json"
        )


async def test_send_pressed_twice_shares_the_trip_once(harness: Harness) -> None:
    async with agency_chat(harness) as rig:
        await rig.handed_over()
        (sent,) = [
            r
            for r in rig.chat.replies
            if r.approval is not None and "Send this trip" in r.approval.title
        ][:1]
        assert sent.approval is not None
        await rig.press(sent.approval.confirm.value)
        assert rig.last_answer().text == "This trip was already sent to the agency."
        await rig.agency_asks()
        assert len(rig.sandbox.state.enquiries) == 1 and len(rig.sandbox.state.sessions) == 1
