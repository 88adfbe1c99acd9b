"""Events matching at the conversation level: a chat becomes an event, its members are
shared only with the organiser's approval (and never those who opted out), matching runs as
one tracked job that survives a restart, each member privately gets their own matches, and
identity reviews are decided once. The manager, job runner and outbox sender run as in
`serve`, with the offline planner reading plain phrases, against the Events sandbox."""

from __future__ import annotations

import pytest

from conversations.capabilities.events import import_job
from conversations.capabilities.events.matches import NOT_YOURS
from conversations.capabilities.events.wording import ONLY_ORGANISER, events_failure
from integrations.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from integrations.events import CODE_ERRORS
from integrations.events.wire import PayloadTooLarge
from integrations.sandbox import DEFAULT_EVENTS_READ_KEY, EventsSandboxConfig
from tests.conversations.conftest import ALICE, Harness
from tests.conversations.events_rig import BOB, CAROL, EventsChat, events_chat, quick_polls


@pytest.fixture(autouse=True)
def _quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    quick_polls(monkeypatch)


async def _members_join(rig: EventsChat) -> None:
    for member in (BOB, CAROL):
        await rig.say("count me in", member)
    await rig.wait(lambda: len(rig.private_to(CAROL)) == 1)


async def test_a_chat_becomes_an_event_and_each_member_privately_gets_their_matches(
    harness: Harness,
) -> None:
    async with events_chat(harness) as rig:
        await rig.say("make this channel an event for Friday's offsite")
        await rig.wait(lambda: bool(rig.shown("Make this chat an event")))
        created = rig.approval("Make this chat an event")
        assert created.approval is not None
        await rig.press(created.approval.confirm.value, BOB)  # not Bob's to create
        assert rig.private_to(BOB) == ["Only the person who asked can create this event."]
        assert rig.sandbox.state.events == {}
        await rig.press(created.approval.confirm.value)
        await rig.wait(lambda: bool(rig.shown("This chat is now the event")))
        (event,) = rig.sandbox.state.events.values()
        assert event["title"] == "Friday's offsite" and event["timezone"] == "UTC"
        assert event["start_date"] == event["end_date"] is not None
        assert event["objectives"]

        await _members_join(rig)
        await rig.say("add everyone here", BOB)  # only the organiser imports
        await rig.wait(lambda: ONLY_ORGANISER in rig.private_to(BOB))
        asked = await rig.share_everyone()
        assert asked.approval is not None
        assert asked.approval.lines[:3] == ("• Alice", "• Bob", "• Carol")
        assert asked.approval.requester == ALICE.user_id
        rows = rig.sandbox.state.attendees[event["event_id"]]
        assert sorted(r["name"] for r in rows.values()) == ["Alice", "Bob", "Carol"]
        assert not any(i.startswith("U_") for i in rows)  # random partner ids, never ours

        await rig.say("run matching", BOB)
        await rig.wait(lambda: rig.private_to(BOB).count(ONLY_ORGANISER) == 2)
        await rig.match()
        kinds = sorted(run.kind for run in rig.sandbox.state.runs.values())
        assert kinds == ["enrichment", "import", "match"]  # enrichment first, as it was due
        cards = rig.cards("Matching for")
        assert len({c.key for c in cards}) == 1 and len(cards) >= 2
        (ready,) = rig.cards("Matches are ready")
        assert ready.key == cards[0].key  # the same card, edited in place

        for member, others in ((BOB, ("Alice", "Carol")), (CAROL, ("Alice", "Bob"))):
            await rig.say("who should I meet?", member)
            mine = await rig.told(member, "Your introductions")
            assert all(name in mine for name in others) and "% match" in mine
        await rig.say("who should Bob meet?", CAROL)
        await rig.wait(lambda: NOT_YOURS in rig.private_to(CAROL))
    assert not any("Your introductions" in r.text for r in rig.public)
    assert "% match" not in "\n".join(r.text for r in rig.public)


async def test_sharing_declined_shares_nobody(harness: Harness) -> None:
    async with events_chat(harness) as rig:
        await rig.make_event()
        await _members_join(rig)
        await rig.say("add everyone here")
        await rig.wait(lambda: bool(rig.shown("with the matching service for")))
        asked = rig.approval("with the matching service for")
        assert asked.approval is not None
        await rig.press(asked.approval.cancel.value, BOB)
        assert (
            rig.private_to(BOB)[-1] == "Only the event's organiser can approve sharing the members."
        )
        await rig.press(asked.approval.cancel.value)
        await rig.wait(lambda: bool(rig.shown("nobody was shared")))
        await rig.press(asked.approval.confirm.value)  # too late: it was declined
        await rig.wait(
            lambda: "This was already declined: nobody was shared." in rig.private_to(ALICE)
        )
    assert rig.sandbox.state.import_requests == 0
    assert rig.sandbox.state.attendees == {}


async def test_a_member_who_opted_out_is_left_out_and_can_leave_later(harness: Harness) -> None:
    async with events_chat(harness) as rig:
        await rig.make_event()
        await _members_join(rig)
        await rig.say("don't share me", CAROL)
        await rig.wait(lambda: len(rig.private_to(CAROL)) == 2)
        asked = await rig.share_everyone()
        assert asked.approval is not None
        assert "Carol" not in "\n".join(asked.approval.lines)
        assert "Left out: 1 person who asked not to be shared." in asked.approval.lines
        (rows,) = rig.sandbox.state.attendees.values()
        assert sorted(r["name"] for r in rows.values()) == ["Alice", "Bob"]
        await rig.say("leave the event", BOB)  # Bob leaves after being shared
        await rig.wait(lambda: any("you've left the event" in t for t in rig.private_to(BOB)))
        await rig.match()
        await rig.say("who should I meet?")
        await rig.wait(lambda: any("“Friday's offsite” yet" in t for t in rig.private_to(ALICE)))
        await rig.say("who should I meet?", BOB)
        await rig.wait(lambda: any("You left this event" in t for t in rig.private_to(BOB)))


async def test_an_import_over_the_size_limit_is_sent_in_chunks(harness: Harness) -> None:
    config = EventsSandboxConfig.fast(max_body_bytes=250)
    async with events_chat(harness, config) as rig:
        await rig.make_event()
        await _members_join(rig)
        await rig.share_everyone()
        (rows,) = rig.sandbox.state.attendees.values()
        assert sorted(r["name"] for r in rows.values()) == ["Alice", "Bob", "Carol"]
        imports = [r for r in rig.sandbox.state.runs.values() if r.kind == "import"]
    assert len(imports) == 2 and rig.sandbox.state.import_requests == 3  # one 413, two halves
    assert len({c.key for c in rig.cards("people to")}) == 1


async def test_a_restart_mid_run_re_attaches_the_job(harness: Harness) -> None:
    config = EventsSandboxConfig.fast(steps_per_status=4)
    async with events_chat(harness, config) as rig:
        await rig.make_event()
        await _members_join(rig)
        await rig.share_everyone()
        await rig.say("run matching")
        await rig.wait(lambda: bool(rig.shown("enriching profiles")))
        await rig.restart()  # the process dies mid-run; a new one takes the job over
        # A job the dead process held mid-step waits for its lease (JOB_LEASE_S) to run out.
        await rig.wait(lambda: bool(rig.shown("Matches are ready")), timeout_s=30)
        runs = rig.sandbox.state.runs.values()
    assert sorted(r.kind for r in runs if r.kind != "import") == ["enrichment", "match"]
    assert len(rig.cards("Matches are ready")) == 1


async def test_reviews_go_to_the_organiser_privately_and_each_is_resolved_once(
    harness: Harness,
) -> None:
    twins = [BOB, type(BOB)("U_BOB2", "Bob"), type(BOB)("U_BOB3", "Bob")]
    async with events_chat(harness) as rig:
        await rig.make_event()
        for member in twins:
            await rig.say("count me in", member)
        await rig.wait(lambda: len(rig.private_to(twins[2])) == 1)
        await rig.share_everyone()
        assert len(rig.sandbox.state.open_reviews()) == 2
        await rig.say("reviews", BOB)
        await rig.wait(lambda: ONLY_ORGANISER in rig.private_to(BOB))
        await rig.say("reviews")
        await rig.wait(lambda: len([r for r in rig.chat.replies if r.buttons]) == 2)
        first, second = [r for r in rig.chat.replies if r.buttons]
        assert first.private_to == second.private_to == ALICE.user_id
        assert [b.label for b in first.buttons] == ["Accept", "Reject", "Distinct", "Merge"]
        merge = first.buttons[3].value
        await rig.press(merge, BOB)
        await rig.press(merge)
        await rig.press(merge)  # a double click
        accept = second.buttons[0].value
        await rig.press(accept)
        await rig.press(second.buttons[3].value)
        told = rig.private_to(ALICE)
    assert rig.private_to(BOB)[-1] == ONLY_ORGANISER
    assert told.count("Done: the review was merged into one.") == 1
    assert "This review was already resolved by you (merged into one)." in told
    assert told.count("Done: the review was accepted.") == 1
    assert "This review was already resolved by you (accepted)." in told
    statuses = sorted(r["status"] for r in rig.sandbox.state.reviews.values())
    assert statuses == ["accept", "merged"]


def _status(code: str) -> int:
    cls = CODE_ERRORS[code]
    for base, status in (
        (PayloadTooLarge, 413),
        (BadRequest, 400),
        (Unauthorized, 401),
        (Forbidden, 403),
        (NotFound, 404),
        (Conflict, 409),
    ):
        if issubclass(cls, base):
            return status
    return 429


async def test_every_error_code_of_the_spec_reads_as_a_clear_message(harness: Harness) -> None:
    generic = "The Events service refused that request. Nothing was changed."
    async with events_chat(harness) as rig:
        await rig.make_event()
        await rig.share_everyone()
        await rig.match()
        for code in sorted(CODE_ERRORS):
            rig.sandbox.state.force(_status(code), code, times=4 if code == "RATE_LIMITED" else 1)
            before = len(rig.private_to(ALICE))
            await rig.say("who should I meet?")
            said = await rig.told(ALICE, "", after=before)
            assert said == events_failure(
                CODE_ERRORS[code](_status(code), code, "x", partner="events")
            ), code
            assert said != generic and code not in said and "correlation" not in said
            rig.sandbox.state.forced.clear()
    assert "INVALID" not in "\n".join(rig.chat.texts)


async def test_a_read_only_key_offers_no_writes(harness: Harness) -> None:
    async with events_chat(harness, key=DEFAULT_EVENTS_READ_KEY) as rig:
        for asked in ("make this an event", "add everyone here", "run matching"):
            await rig.say(asked)
        await rig.say("who should I meet?")
        await rig.wait(lambda: any("isn't an event yet" in t for t in rig.private_to(ALICE)))
    not_here = "That service is not set up here, so I can't do that right now."
    assert rig.chat.texts[:3] == [not_here] * 3
    assert rig.sandbox.state.events == {}


async def test_an_import_whose_answers_are_lost_is_retried_under_the_same_keys(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The partner takes the import but every answer is lost (503 after the work): the job
    tries again later under the key it stored first, and the partner replays the same run."""
    monkeypatch.setattr(import_job, "retry_delay", lambda attempts: 0.0)
    async with events_chat(harness) as rig:
        await rig.make_event()
        await _members_join(rig)
        rig.sandbox.state.force(503, "UNAVAILABLE", after=True, times=3)
        await rig.share_everyone()
        imports = [r for r in rig.sandbox.state.runs.values() if r.kind == "import"]
    assert len(imports) == 1 and rig.sandbox.state.import_requests >= 4
    assert len({c.key for c in rig.cards("people to")}) == 1
