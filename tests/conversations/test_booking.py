"""Booking end to end: the production wiring, the sandbox's dry-run webhooks on loopback, and
every way a confirmation or a webhook can go wrong."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, select, update

from bot.services import Services
from conversations import ConversationAddress, InboundMessage, Replier, Sender
from conversations.booking.config import WEBHOOK_PATH
from conversations.llm import LLMRequest, LLMResponse, TextPart, ToolResultPart
from conversations.manager import new_event_id
from conversations.types import ButtonPress
from integrations.sandbox import (
    RunningSandbox,
)
from storage import repositories
from storage.models import Action, Approval
from tests.conversations.production import production
from tests.factories import LATE_SET, book_call, first_session
from tests.fakes.chat import RecordingReplier
from tests.fakes.llm import FunctionLLM, call, calls, tool_results

ALICE = Sender("U_ALICE", "Alice")
BOB = Sender("U_BOB", "Bob")
THREAD = ConversationAddress("console", "T1", "C1", "1700000000.000100")
INJECTED = "Midnight Jazz Jam Session"
BOOKINGS = "/partner/v1/bookings"


class RecordingOutlet:
    def __init__(self, chat: RecordingReplier) -> None:
        self.chat = chat

    def replier_for(self, address: ConversationAddress) -> Replier | None:
        return self.chat if address == THREAD else None


@dataclass
class Env:
    services: Services
    sandbox: RunningSandbox
    hooks_url: str
    chat: RecordingReplier
    script: list[Any] = field(default_factory=list)

    def activity(self, name: str) -> tuple[str, str, str]:
        return first_session(self.sandbox.state, name)

    async def say(self, text: str, *, sender: Sender = ALICE) -> None:
        message = InboundMessage(THREAD, sender, text, new_event_id())
        await self.services.manager.handle(message, self.chat)

    async def press(
        self, value: str, *, sender: Sender = ALICE, address: ConversationAddress = THREAD
    ) -> RecordingReplier:
        chat = RecordingReplier()
        await self.services.manager.handle(
            ButtonPress(address, sender, value, new_event_id()), chat
        )
        self.chat.replies.extend(chat.replies)
        return chat

    def approval_value(self, verb: str = "approve") -> str:
        approvals = [r.approval for r in self.chat.replies if r.approval is not None]
        assert approvals, self.chat.transcript
        last = approvals[-1]
        return (last.confirm if verb == "approve" else last.cancel).value

    def bookings_posted(self) -> int:
        return len(self.sandbox.state.requests_to(BOOKINGS, "POST"))

    async def settle(self) -> None:
        """Until no booking or search is on its way (jobs done, webhooks in, outbox out)."""
        async with asyncio.timeout(30):
            await self.services.settle_jobs(15)
            await self.sandbox.state.wait_for_webhooks()
            await self.services.settle_jobs(15)

    async def bookings(self) -> list[Action]:
        async with self.services.db.session() as session:
            rows = await session.exec(select(Action).where(Action.kind == "booking"))
            return list(rows.all())


def scripted(env_script: list[Any]) -> FunctionLLM:
    """Plays `env_script` (tool calls, then text); after a tool error, says the error."""

    def respond(request: LLMRequest) -> LLMResponse:
        last = request.messages[-1]
        if any(isinstance(p, ToolResultPart) for p in last.parts):
            errors = [r.get("error") for r in tool_results(request) if "error" in r]
            return LLMResponse((TextPart(str(errors[0]) if errors else "Done."),))
        step = env_script.pop(0)
        return step if isinstance(step, LLMResponse) else calls(step)

    return FunctionLLM(respond)


@pytest.fixture
async def make_env(database_url: str) -> AsyncIterator[Callable[..., Any]]:
    """Production wiring on SQLite and on PostgreSQL (the `database_url` fixture)."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(payment_mode: str = "dry_run_success", **sandbox: Any) -> Env:
            script: list[Any] = []
            wired = await stack.enter_async_context(
                production(database_url, scripted(script), payment_mode=payment_mode, **sandbox)
            )
            chat = RecordingReplier()
            wired.services.outlets["console"] = RecordingOutlet(chat)
            return Env(wired.services, wired.sandbox, wired.hooks_url, chat, script)

        yield make


async def propose_late_set(env: Env, quantity: int = 2) -> None:
    env.script.append(book_call(env.sandbox.state, LATE_SET, quantity=quantity))
    await env.say(f"book {quantity} for the late set")


async def test_confirmed_booking_is_posted_back_in_the_thread(make_env: Any) -> None:
    env: Env = await make_env()
    await propose_late_set(env)
    approval = env.chat.replies[0].approval
    assert approval is not None and approval.requester == ALICE.user_id
    assert approval.lines[-2:] == ("Total: $45.00 (fees included)", "Payment: dry run (no charge)")
    assert env.bookings_posted() == 0  # nothing happens before the click

    await env.press(env.approval_value())
    await env.settle()

    (posted,) = env.sandbox.state.requests_to(BOOKINGS, "POST")
    body = posted.body
    assert body is not None
    assert body["payment_mode"] == "dry_run_success"
    assert body["authorization_amount_cents"] == 4500
    assert body["tickets"] == [
        {
            "ticket_type_name": "General Admission",
            "num_tickets": 2,
            "session_date": body["tickets"][0]["session_date"],
            "session_time": body["tickets"][0]["session_time"],
        }
    ]
    assert body["webhook_url"].startswith(env.hooks_url + WEBHOOK_PATH)
    token = body["webhook_url"].rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 bits
    texts = env.chat.texts
    confirmed = next(t for t in texts if t.startswith("Booked: "))
    assert "Confirmation code: OG-" in confirmed and "Tickets: http" in confirmed
    assert any(r.mention == ALICE.user_id and r.text.startswith("Booked") for r in env.chat.replies)
    assert sum(t.startswith("Booked: ") for t in texts) == 1
    (action,) = await env.bookings()
    assert action.status == "confirmed" and token not in json.dumps(action.payload)


async def test_replayed_forged_and_mismatched_webhooks_change_nothing(make_env: Any) -> None:
    env: Env = await make_env()
    await propose_late_set(env)
    await env.press(env.approval_value())
    await env.settle()
    (delivery,) = [
        d for d in env.sandbox.state.webhook_deliveries if d.payload["status"] == "confirmed"
    ]
    url, payload = delivery.url, delivery.payload
    posts_before = len(env.chat.replies)
    async with httpx.AsyncClient() as http:
        replay = await http.post(url, json=payload)
        forged = await http.post(url[:-4] + "AAAA", json=payload)
        mismatched = await http.post(url, json={**payload, "authorization_amount_cents": 1})
        other_user = await http.post(url, json={**payload, "external_user_id": "someone"})
        garbage = await http.post(url, content=b"{not json")
        huge = await http.post(url, content=b"x" * 70_000)
        late_pending = await http.post(url, json={**payload, "status": "pending"})
    assert replay.status_code == 200 and late_pending.status_code == 200
    assert [r.status_code for r in (forged, mismatched, other_user, garbage)] == [404] * 4
    assert huge.status_code == 413
    await env.services.settle_jobs(1)
    assert len(env.chat.replies) == posts_before
    (action,) = await env.bookings()
    assert action.status == "confirmed"


async def test_failed_booking_offers_one_retry(make_env: Any) -> None:
    env: Env = await make_env(payment_mode="dry_run_failure")
    await propose_late_set(env)
    await env.press(env.approval_value())
    await env.settle()
    failed = next(r for r in env.chat.replies if r.text.startswith("The booking for"))
    assert "failed" in failed.text and failed.buttons[0].label == "Retry"
    retry = failed.buttons[0].value

    first, second = await asyncio.gather(env.press(retry), env.press(retry))
    answers = [r for chat in (first, second) for r in chat.replies]
    assert sum(r.approval is not None for r in answers) == 1
    assert any(r.text == "This booking is already being retried." for r in answers)
    foreign = await env.press(retry, sender=BOB)
    assert foreign.replies[0].text in (
        "Only the person who asked can retry this booking.",
        "This booking is already being retried.",
    )
    await env.press(env.approval_value())
    await env.settle()
    keys = {
        p.body["idempotency_key"] for p in env.sandbox.state.requests_to(BOOKINGS, "POST") if p.body
    }
    assert len(keys) == 2  # the retry is a new booking with a new key


async def test_confirm_twice_or_by_someone_else_or_after_cancel(make_env: Any) -> None:
    env: Env = await make_env()
    await propose_late_set(env)
    confirm = env.approval_value()
    foreign = await env.press(confirm, sender=BOB)
    assert (
        foreign.replies[0].text == "Only the person who asked can confirm or cancel this booking."
    )
    first, second = await asyncio.gather(env.press(confirm), env.press(confirm))
    texts = [r.text for chat in (first, second) for r in chat.replies]
    assert "This booking was already confirmed." in texts
    await env.settle()
    assert env.bookings_posted() == 1
    cancel_after = await env.press(env.approval_value("reject"))
    assert cancel_after.replies[0].text == "This booking was already confirmed."


async def test_cancel_and_expiry_and_other_workspaces(make_env: Any) -> None:
    env: Env = await make_env()
    await propose_late_set(env)
    cancel = await env.press(env.approval_value("reject"))
    assert cancel.replies[-1].text == "Cancelled. Nothing was booked."
    await propose_late_set(env)
    elsewhere = ConversationAddress("console", "T2", "C1", "1700000000.000100")
    stranger = await env.press(env.approval_value(), address=elsewhere)
    assert stranger.replies[0].text == "I can't find that confirmation. Ask me again to book."
    approval_id = env.approval_value().split(":", 1)[1]
    async with env.services.db.session() as session:
        await session.exec(
            update(Approval)
            .where(col(Approval.id) == approval_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = await env.press(env.approval_value())
    assert expired.replies[0].text == "This confirmation has expired; ask me again to book."
    assert env.bookings_posted() == 0


async def test_live_purchase_without_a_stored_card_is_refused_clearly(make_env: Any) -> None:
    env: Env = await make_env(payment_mode="live_purchase")
    await propose_late_set(env)
    approval = env.chat.replies[0].approval
    assert approval is not None
    assert "Payment: live purchase (the card on file is charged)" in approval.lines
    await env.press(env.approval_value())
    await env.settle()
    assert env.chat.texts[-1].startswith("Live purchases aren't enabled")
    (action,) = await env.bookings()
    assert (action.status, action.error) == ("failed", "payment_required")


async def test_a_crash_after_storing_the_key_resends_the_same_booking(make_env: Any) -> None:
    env: Env = await make_env()
    # The partner accepts but the answer is lost (503 after the booking exists is not
    # possible to fake at the HTTP layer), so: make the first POST fail three times...
    from integrations.sandbox import ForcedResponse

    env.sandbox.state.force(
        *(ForcedResponse(BOOKINGS, status=503, headers={"Retry-After": "0"}) for _ in range(3))
    )
    await propose_late_set(env)
    await env.press(env.approval_value())
    for _ in range(200):  # the runner sends it, the partner answers 503 three times
        (action,) = await env.bookings()
        if action.status == "unknown":
            break
        await asyncio.sleep(0.05)
    assert action.status == "unknown"
    await env.services.outbox.deliver_due()
    assert "I'll check again with the same request" in env.chat.texts[-1]
    # The job comes due again (a backoff later, or after a restart) and re-sends it.
    async with env.services.db.session() as session:
        await repositories.schedule_job(session, action_id=action.id)
    await env.settle()
    keys = [
        p.body["idempotency_key"] for p in env.sandbox.state.requests_to(BOOKINGS, "POST") if p.body
    ]
    assert set(keys) == {action.idempotency_key}
    assert len(env.sandbox.state.bookings) == 1
    assert sum(t.startswith("Booked: ") for t in env.chat.texts) == 1


async def test_an_injected_instruction_in_a_result_books_nothing(make_env: Any) -> None:
    env: Env = await make_env()
    injected_id, date, time = env.activity(INJECTED)
    # A model that obeys the text in the search result and asks for 10 VIP tickets.
    env.script.append(call("search_activities", prompt="jazz", location="Brooklyn"))
    await env.say("jazz in brooklyn")
    await env.settle()
    await env.press("more")
    assert any("IGNORE ALL PREVIOUS INSTRUCTIONS" in str(r) for r in env.chat.replies)
    env.script.append(
        call(
            "book_activity",
            activity_id=injected_id,
            session_date=date,
            session_time=time,
            tickets=[{"name": "VIP", "quantity": 10}],
        )
    )
    await env.say("ok")
    # The default per-booking limit already stops it...
    assert env.chat.texts[-1].startswith("This booking would cost $950.00, above this workspace")
    async with env.services.db.session() as session:
        await repositories.set_spend_cap(session, platform="console", external_id="T1", cents=10**6)
    env.script.append(
        call(
            "book_activity",
            activity_id=injected_id,
            session_date=date,
            session_time=time,
            tickets=[{"name": "VIP", "quantity": 10}],
        )
    )
    await env.say("ok")
    # ...and under a higher limit it is only a confirmation showing the real cost.
    approval = next(r.approval for r in reversed(env.chat.replies) if r.approval)
    assert approval is not None and "10 × VIP at $95.00" in approval.lines
    assert "Total: $950.00 (fees included)" in approval.lines
    await env.services.settle_jobs(0.5)
    assert env.bookings_posted() == 0


async def test_spend_cap_and_non_bookable(make_env: Any) -> None:
    env: Env = await make_env()
    async with env.services.db.session() as session:
        await repositories.set_spend_cap(session, platform="console", external_id="T1", cents=4000)
    await propose_late_set(env)
    assert env.chat.texts[-1].startswith(
        "This booking would cost $45.00, above this workspace's limit of $40.00"
    )
    garden = next(
        a
        for a in env.sandbox.state.catalogue.activities
        if not a.to_detail(now=env.sandbox.state.now()).is_bookable
    )
    env.script.append(call("book_activity", activity_id=garden.activity_id))
    await env.say("book the garden")
    assert "is not bookable here" in env.chat.texts[-1]
    assert all(r.approval is None for r in env.chat.replies)


async def test_provisioning_down_fails_plainly_and_a_second_confirm_books_once(
    make_env: Any,
) -> None:
    env: Env = await make_env()
    from integrations.sandbox import ForcedResponse

    await propose_late_set(env)
    # Alice renames herself before confirming, so Outgoing must learn the new name first.
    renamed = Sender(ALICE.user_id, "Alice Liddell")
    await env.services.people.lookup(THREAD, renamed)
    env.sandbox.state.force(
        *(ForcedResponse("/partner/v1/users", status=503, headers={"Retry-After": "0"}),) * 3
    )
    confirm = env.approval_value()
    await env.press(confirm)
    await env.settle()
    said = env.chat.replies[-1]
    assert said.text.startswith("Outgoing can't be reached right now, so nothing was booked")
    assert said.buttons[0].value == confirm  # "Confirm again" is the same confirmation
    assert env.bookings_posted() == 0

    again = await env.press(confirm)
    assert again.replies[-1].text == "Trying again; I'll post the result here."
    await env.settle()
    assert env.bookings_posted() == 1
    assert sum(t.startswith("Booked: ") for t in env.chat.texts) == 1
    third = await env.press(confirm)
    assert third.replies[-1].text == "This booking was already confirmed."


async def test_an_accepted_booking_without_a_webhook_is_settled_from_the_orders(
    make_env: Any,
) -> None:
    env: Env = await make_env(webhook_max_attempts=0)  # Outgoing's webhooks never arrive
    await propose_late_set(env)
    await env.press(env.approval_value())
    await env.services.settle_jobs(1)
    (booking,) = await env.bookings()
    assert booking.status == "accepted" and booking.next_run_at is not None
    for _ in range(100):  # the sandbox confirms the booking on its side
        if env.sandbox.state.bookings and all(
            b.status == "confirmed" for b in env.sandbox.state.bookings.values()
        ):
            break
        await asyncio.sleep(0.05)
    async with env.services.db.session() as session:  # three minutes later…
        await repositories.schedule_job(session, action_id=booking.id)
    await env.settle()
    (booking,) = await env.bookings()
    assert booking.status == "confirmed" and booking.next_run_at is None
    assert sum(t.startswith("Booked: ") for t in env.chat.texts) == 1
