"""CallAgentClient against the AI Call Agent sandbox over real loopback HTTP: the scripted
call, SSE resume, the error statuses of POST /calls, webhooks, skills, bookings and auth."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest

from integrations.callagent import (
    AskUserEvent,
    CallAgentClient,
    CallEvent,
    DialFailed,
    Maintenance,
    OutcomeEvent,
    StartCallBody,
    StatusEvent,
    TranscriptEvent,
    UnknownEvent,
)
from integrations.callagent.models import BookingStatus
from integrations.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PartnerUnavailable,
    PaymentRequired,
    Unauthorized,
    ValidationFailed,
)
from integrations.retry import Retrier
from integrations.sandbox import (
    DEFAULT_CALL_AGENT_ADMIN_KEY,
    DEFAULT_CALL_AGENT_KEY,
    CallAgentSandboxConfig,
    RunningCallAgentSandbox,
    SandboxQuestion,
    WebhookReceiver,
    running_callagent_sandbox,
    serve_in_background,
)
from integrations.sandbox.callagent import skill_fingerprint

OTHER_KEY = "ca_other_customer_key"
PHONE = "+14155550123"
BRIEF = "Book a table for 4 at Nobu tonight at 21:00 under Alex"
TERRACE = "21:15 on the terrace"
DESSERT = SandboxQuestion("Would you like them to prepare a birthday dessert?", ("yes", "no"))
SKILL_INPUT = {
    "venue_name": "Nobu",
    "target_phone": PHONE,
    "date": "2026-06-01",
    "time": "21:00",
    "party_size": 4,
    "name": "Alex",
}

Answerer = Callable[[AskUserEvent], Awaitable[None]]


def closing(stream: AsyncIterator[CallEvent]) -> contextlib.aclosing[AsyncGenerator[CallEvent]]:
    """``events()`` is an async generator (typed as an iterator): close it when leaving early."""
    assert isinstance(stream, AsyncGenerator)
    return contextlib.aclosing(stream)


@dataclass
class Sleeps:
    delays: list[float] = field(default_factory=list)

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@dataclass
class World:
    sandbox: RunningCallAgentSandbox
    http: httpx.AsyncClient
    sleeps: Sleeps

    def client(self, key: str = DEFAULT_CALL_AGENT_KEY) -> CallAgentClient:
        return CallAgentClient(
            self.http,
            api_key=key,
            base_url=self.sandbox.base_url,
            retrier=Retrier(sleep=self.sleeps, random=lambda: 0.5),
        )

    async def raw(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {"X-API-Key": DEFAULT_CALL_AGENT_KEY}
        url = f"{self.sandbox.base_url}{path}"
        return await self.http.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def world(**overrides: object) -> AsyncIterator[World]:
    keys = frozenset({DEFAULT_CALL_AGENT_KEY, OTHER_KEY})
    config = CallAgentSandboxConfig.fast(**{"keys": keys, **overrides})
    async with running_callagent_sandbox(config) as sandbox, httpx.AsyncClient() as http:
        yield World(sandbox, http, Sleeps())


async def start(client: CallAgentClient, brief: str = BRIEF) -> str:
    return (await client.start_call(StartCallBody(target_phone=PHONE, brief=brief))).call_id


async def collect(
    client: CallAgentClient, call_id: str, answer: Answerer | None = None
) -> list[CallEvent]:
    """Every event of the call until the server closes the stream."""
    seen: list[CallEvent] = []
    async with asyncio.timeout(5), closing(client.events(call_id)) as stream:
        async for event in stream:
            seen.append(event)
            if isinstance(event, AskUserEvent) and answer is not None:
                await answer(event)
    return seen


def pick_first(client: CallAgentClient, call_id: str) -> Answerer:
    async def answer(event: AskUserEvent) -> None:
        assert await client.answer(call_id, event.options[0], request_id=event.request_id)

    return answer


# --------------------------------------------------------------------------- the script


async def test_full_call_with_one_answered_question() -> None:
    async with world() as w:
        client = w.client()
        call_id = await start(client)
        events = await collect(client, call_id, pick_first(client, call_id))

        assert [e.id for e in events] == [str(n) for n in range(1, len(events) + 1)]
        statuses = [e.status for e in events if isinstance(e, StatusEvent)]
        assert statuses == ["dialing", "in_progress", "completed"]
        ask = next(e for e in events if isinstance(e, AskUserEvent))
        assert ask.question.startswith("They have 21:15 on the terrace")
        assert ask.options == (TERRACE, "22:00 inside")
        assert ask.request_id.startswith("req_")
        lines = [(e.role, e.text) for e in events if isinstance(e, TranscriptEvent)]
        assert lines[0] == ("callee", "Good evening, Nobu, how can I help?")
        assert lines[1][0] == "agent" and "on behalf of Alex" in lines[1][1]
        assert ("agent", TERRACE) in lines  # the agent says the answer
        outcome = next(e for e in events if isinstance(e, OutcomeEvent))
        assert outcome.outcome_type == "reservation_confirmed"
        assert outcome.summary == f"Table for 4 booked at Nobu, {TERRACE}, under the name given."

        call = await client.get_call(call_id)
        assert call.status == "completed" and call.outcome_type == "reservation_confirmed"
        assert call.reservation_signals == ["reservation_confirmed", "party_size:4", "time:21:15"]
        assert call.transcript_full and call.transcript_full[0]["role"] == "callee"
        assert w.sandbox.state.answers[0].delivered
        [booking] = await client.list_bookings()
        assert (booking.call_id, booking.venue_name, booking.guests) == (call_id, "Nobu", 4)
        assert booking.status is BookingStatus.ACTIVE
        assert await client.get_booking(booking.booking_id) == booking
        assert await client.list_bookings(status=BookingStatus.CANCELLED) == []
        [listed] = await client.list_calls()
        assert listed.call_id == call_id and listed.transcript_full is None

        merged = await client.transcript_merged(call_id)
        assert merged is not None and merged.turns[0].speaker == "callee"
        starts = [t.start_ms for t in merged.turns]
        assert starts == sorted(starts)


async def test_two_questions_by_request_id_fifo_and_context_mode() -> None:
    questions = (SandboxQuestion("Terrace or inside?", ("terrace", "inside")), DESSERT)
    async with world(questions=questions) as w:
        client = w.client()
        call_id = await start(client)
        asked: list[AskUserEvent] = []

        async def answer(event: AskUserEvent) -> None:
            asked.append(event)
            if len(asked) == 1:
                assert await client.answer(call_id, "terrace", request_id=event.request_id)
            else:  # no request_id: the oldest pending question gets it
                assert await client.answer(call_id, "yes, a candle", mode="context")

        events = await collect(client, call_id, answer)
        assert [a.question for a in asked] == ["Terrace or inside?", DESSERT.question]
        assert asked[0].request_id != asked[1].request_id
        spoken = [e.text for e in events if isinstance(e, TranscriptEvent) and e.role == "agent"]
        assert "terrace" in spoken and "yes, a candle" not in spoken  # context is silent
        received = w.sandbox.state.answers
        assert [(a.request_id, a.mode, a.delivered) for a in received] == [
            (asked[0].request_id, "voice", True),
            (None, "context", True),
        ]


async def test_answer_after_timeout_is_not_delivered() -> None:
    async with world(answer_timeout_s=0.1) as w:
        client = w.client()
        call_id = await start(client)
        events = await collect(client, call_id)
        ask = next(e for e in events if isinstance(e, AskUserEvent))
        assert not await client.answer(call_id, TERRACE, request_id=ask.request_id)
        assert not await client.answer(call_id, TERRACE)
        outcome = next(e for e in events if isinstance(e, OutcomeEvent))
        assert outcome.outcome_type == "reservation_pending"
        texts = [e.text for e in events if isinstance(e, TranscriptEvent)]
        assert any("confirm that later" in text for text in texts)
        [booking] = await client.list_bookings()
        assert booking.status is BookingStatus.PENDING_USER_CONFIRM
        assert [a.delivered for a in w.sandbox.state.answers] == [False, False]


@pytest.mark.parametrize(
    ("outcome", "statuses"),
    [("no_answer", ["dialing", "no_answer"]), ("failed", ["dialing", "in_progress", "failed"])],
)
async def test_unsuccessful_outcomes(outcome: str, statuses: list[str]) -> None:
    async with world(outcome=outcome) as w:
        client = w.client()
        events = await collect(client, await start(client))
        assert [e.status for e in events if isinstance(e, StatusEvent)] == statuses
        assert not any(isinstance(e, AskUserEvent) for e in events)
        assert [e.outcome_type for e in events if isinstance(e, OutcomeEvent)] == [outcome]
        assert await client.list_bookings() == []


# --------------------------------------------------------------------------- SSE


async def test_resume_with_last_event_id_after_forced_drops() -> None:
    async with world(drop_stream_after_events=3) as w:
        client = w.client()
        call_id = await start(client)
        seen: list[CallEvent] = []
        last: str | None = None
        drops = 0
        async with asyncio.timeout(5):
            while (
                not seen or not isinstance(seen[-1], StatusEvent) or seen[-1].status != "completed"
            ):
                try:
                    async with closing(client.events(call_id, last_event_id=last)) as s:
                        async for event in s:
                            seen.append(event)
                            last = event.id
                            if isinstance(event, AskUserEvent):
                                await client.answer(call_id, TERRACE, request_id=event.request_id)
                except PartnerUnavailable:
                    drops += 1
        stored = w.sandbox.state.events_of(call_id)
        assert [e.id for e in seen] == [str(e.id) for e in stored]  # nothing lost or repeated
        assert drops >= len(stored) // 3 - 1

        followed = [e async for e in client.follow_events(call_id, max_reconnects=20)]
        assert [e.id for e in followed] == [e.id for e in seen]


async def test_raw_frames_heartbeats_backfill_and_close_after_outcome() -> None:
    async with world(heartbeat_s=0.05, close_after_outcome_s=0.3) as w:
        client = w.client()
        call_id = await start(client)
        url = f"{w.sandbox.base_url}/calls/{call_id}/events"
        headers = {"X-API-Key": DEFAULT_CALL_AGENT_KEY}
        async with w.http.stream("GET", url, headers=headers) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            text = ""
            async for chunk in response.aiter_text():
                text += chunk
                if ": heartbeat\n\n" in text and "event: ask_user" in text:
                    break
        assert text.startswith('id: 1\nevent: status\ndata: {"status":"dialing"}\n\n')
        await client.cancel_call(call_id)

        started = time.monotonic()
        headers["Last-Event-ID"] = "2"
        async with w.http.stream("GET", url, headers=headers) as response:
            body = (await response.aread()).decode()
        assert time.monotonic() - started >= 0.3  # the call had ended: backfill, then close
        assert body.startswith("id: 3\n") and "id: 2\n" not in body
        assert 'event: outcome\ndata: {"outcome_type":"cancelled"' in body


async def test_heartbeats_are_not_events() -> None:
    async with world(heartbeat_s=0.02, answer_timeout_s=0.2) as w:
        client = w.client()
        events = await collect(client, await start(client))
        assert not any(isinstance(e, UnknownEvent) for e in events)
        assert [e.id for e in events] == [str(n) for n in range(1, len(events) + 1)]


async def test_events_of_another_customers_call_are_a_stealth_404() -> None:
    async with world() as w:
        call_id = await start(w.client())
        other = w.client(OTHER_KEY)
        with pytest.raises(NotFound):
            await collect(other, call_id)
        with pytest.raises(NotFound):
            await collect(other, "no-such-call")
        with pytest.raises(NotFound):
            await other.get_call(call_id)
        with pytest.raises(NotFound):
            await other.answer(call_id, "hello")
        assert not await other.cancel_call(call_id)
        assert await other.list_calls() == []


# --------------------------------------------------------------------------- starting


async def test_queued_start_answers_202_and_dials_within_the_cap() -> None:
    async with world(queue_mode=True) as w:
        client = w.client()
        first = await client.start_call(StartCallBody(target_phone=PHONE, brief=BRIEF))
        assert (first.queued, first.status, first.position, first.call) == (True, "queued", 0, None)
        second = await client.start_call(StartCallBody(target_phone=PHONE, brief=BRIEF))
        assert second.queued  # no 409 in queue mode
        async with asyncio.timeout(5):
            events = client.events(first.call_id)
            async with closing(events) as stream:
                async for event in stream:
                    if isinstance(event, AskUserEvent):
                        break
            assert (await client.get_call(second.call_id)).status == "queued"  # cap 1
            assert await client.cancel_call(first.call_id)
            statuses = []
            async with closing(client.events(second.call_id)) as stream:
                async for event in stream:
                    if isinstance(event, StatusEvent):
                        statuses.append(event.status)
                    if isinstance(event, AskUserEvent):
                        break
        assert statuses == ["queued", "dialing", "in_progress"]


@pytest.mark.parametrize(
    ("phone", "brief", "message"),
    [("12345", BRIEF, "invalid phone number"), (PHONE, "   ", "brief must not be empty")],
)
async def test_bad_phone_or_blank_brief_is_400(phone: str, brief: str, message: str) -> None:
    async with world() as w:
        with pytest.raises(BadRequest) as caught:
            await w.client().start_call(StartCallBody(target_phone=phone, brief=brief))
        assert caught.value.message == message
        response = await w.raw("POST", "/calls", json={"target_phone": PHONE, "brief": ""})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "brief"]


async def test_out_of_credits_and_concurrency_cap() -> None:
    async with world(quota_limit=20, credits_per_call=10) as w:
        client = w.client()
        await start(client)  # waits on its question: stays active
        with pytest.raises(Conflict):
            await start(client)
        assert await client.set_limits(2) == 2
        await start(client)
        with pytest.raises(PaymentRequired):
            await start(client)
        me = await client.me()
        assert (me.current_usage, me.quota_limit, me.max_concurrent_calls) == (20, 20, 2)


@pytest.mark.parametrize("status", [502, 503])
async def test_dial_failure_and_maintenance_are_never_retried(status: int) -> None:
    async with world() as w:
        w.sandbox.state.set_fail_start(status)
        client = w.client()
        expected = DialFailed if status == 502 else Maintenance
        with pytest.raises(expected) as caught:
            await start(client)
        assert w.sandbox.state.start_requests == 1
        assert w.sleeps.delays == []
        if isinstance(caught.value, Maintenance):
            assert caught.value.message == "Scheduled maintenance until 14:00 UTC"
            resume_at = caught.value.resume_at
            assert resume_at is not None and (resume_at.hour, resume_at.minute) == (14, 0)
            assert resume_at > datetime.now(UTC)
            me = await client.me()
            assert me.maintenance is not None and me.maintenance["active"] is True
        w.sandbox.state.set_fail_start(None)
        await start(client)


async def test_forced_failure_for_a_number_of_starts() -> None:
    async with world() as w:
        w.sandbox.state.set_fail_start(402, times=1)
        with pytest.raises(PaymentRequired):
            await start(w.client())
        await start(w.client())


async def test_cancel() -> None:
    async with world() as w:
        client = w.client()
        call_id = await start(client)
        assert await client.cancel_call(call_id)
        events = await collect(client, call_id)
        assert isinstance(events[-2], OutcomeEvent) and events[-2].outcome_type == "cancelled"
        assert isinstance(events[-1], StatusEvent) and events[-1].status == "cancelled"
        assert not await client.cancel_call(call_id)
        assert not await client.cancel_call("no-such-call")
        assert not await client.answer(call_id, "too late")
        assert (await client.me()).current_usage == 0  # the reservation was released


async def test_recording_is_admin_only_and_pending_until_the_end() -> None:
    async with world() as w:
        client, admin = w.client(), w.client(DEFAULT_CALL_AGENT_ADMIN_KEY)
        call_id = await start(client)
        assert await admin.recording(call_id) is None  # 202 while the call runs
        assert await client.transcript_merged(call_id) is None
        await client.cancel_call(call_id)
        with pytest.raises(NotFound):
            await client.recording(call_id)  # the owner too: stealth 404
        audio = await admin.recording(call_id, download=True)
        assert audio is not None and audio.startswith(b"ID3")
        response = await w.http.get(
            f"{w.sandbox.base_url}/calls/{call_id}/recording",
            params={"api_key": DEFAULT_CALL_AGENT_ADMIN_KEY, "download": "true"},
        )
        assert response.headers["content-type"] == "audio/mpeg"
        assert response.headers["content-disposition"].startswith("attachment;")


# --------------------------------------------------------------------------- webhooks


async def test_ask_user_webhook_is_signed_with_both_schemes() -> None:
    receiver = WebhookReceiver(statuses=[500])  # the first delivery fails: retried
    async with (
        world(allow_http_webhooks=True) as w,
        serve_in_background(receiver.app) as hooks,
    ):
        client = w.client()
        response = await w.raw("PUT", "/users/me/webhook", json={"url": f"{hooks}/ask"})
        assert response.status_code == 200
        secret = response.json()["secret"]
        assert (await client.me()).ask_user_webhook_configured
        call_id = await start(client)
        async with asyncio.timeout(5):
            [delivery] = await receiver.wait_for(1)
        assert len(receiver.received) == 2
        payload = delivery.json()
        ask = next(e for e in w.sandbox.state.events_of(call_id) if e.type == "ask_user")
        assert payload == {
            "type": "ask_user",
            "call_id": call_id,
            "request_id": ask.data["request_id"],
            "question": ask.data["question"],
        }
        assert (
            delivery.body == json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        )
        key = secret.encode()
        legacy = hmac.new(key, delivery.body, hashlib.sha256).hexdigest()
        assert delivery.headers["x-signature-256"] == f"sha256={legacy}"
        msg_id, stamp = delivery.headers["webhook-id"], delivery.headers["webhook-timestamp"]
        assert abs(int(stamp) - time.time()) < 60
        assert receiver.received[0].headers["webhook-id"] == msg_id  # same id on a retry
        signed = f"{msg_id}.{stamp}.".encode() + delivery.body
        standard = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        assert delivery.headers["webhook-signature"] == f"v1,{standard}"
        assert await client.answer(call_id, TERRACE, request_id=payload["request_id"])

        assert await client.clear_webhook()
        assert not (await client.me()).ask_user_webhook_configured


async def test_webhook_must_be_https() -> None:
    async with world() as w:
        response = await w.raw("PUT", "/users/me/webhook", json={"url": "http://127.0.0.1/x"})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "url"]
        client = w.client()
        with pytest.raises(ValueError, match="https"):
            await client.set_webhook("http://hooks.example/x")
        rotated = await client.set_webhook("https://hooks.example/x")
        assert rotated.secret and rotated.secret not in repr(rotated)
        kept = await client.set_webhook("https://hooks.example/y", regenerate_secret=False)
        assert kept.secret is None and kept.url == "https://hooks.example/y"


async def test_a_failing_webhook_never_breaks_the_call() -> None:
    async with world(webhook_max_attempts=2) as w:
        await w.client().set_webhook("https://127.0.0.1:1/unreachable")
        client = w.client()
        call_id = await start(client)
        events = await collect(client, call_id, pick_first(client, call_id))
        assert any(isinstance(e, OutcomeEvent) for e in events)
        async with asyncio.timeout(5):
            await w.sandbox.state.wait_for_webhooks()
        attempts = w.sandbox.state.webhook_deliveries
        assert [a.attempt for a in attempts] == [1, 2] and not any(a.ok for a in attempts)


# --------------------------------------------------------------------------- skills


async def test_skills_and_idempotency() -> None:
    async with world() as w:
        client = w.client()
        [skill] = await client.list_skills()
        assert skill.skill_id == "restaurant_booking"
        manifest = await client.skill_manifest(skill.skill_id)
        assert "party_size" in manifest["input_schema"]["properties"]
        with pytest.raises(NotFound):
            await client.skill_manifest("nope")

        first = await client.run_skill(skill.skill_id, SKILL_INPUT, idempotency_key="idem-1")
        assert (first.replayed, first.status) == (False, "dialing")
        assert first.skill_run_id == f"srun_{first.call_id}"
        again = await client.run_skill(skill.skill_id, SKILL_INPUT, idempotency_key="idem-1")
        assert again.replayed and again.model_dump(exclude={"replayed"}) == first.model_dump(
            exclude={"replayed"}
        )
        assert len(w.sandbox.state.calls) == 1
        with pytest.raises(Conflict) as caught:
            await client.run_skill(
                skill.skill_id, {**SKILL_INPUT, "party_size": 5}, idempotency_key="idem-1"
            )
        assert caught.value.code == "idempotency_conflict"

        state = w.sandbox.state
        for phase, code in [
            ("in_progress", "idempotency_in_progress"),
            ("stale", "idempotency_state_unknown"),
        ]:
            state.skill_runs[(DEFAULT_CALL_AGENT_KEY, phase)] = {
                "fingerprint": skill_fingerprint(SKILL_INPUT),
                "phase": phase,
            }
            with pytest.raises(Conflict) as caught:
                await client.run_skill(skill.skill_id, SKILL_INPUT, idempotency_key=phase)
            assert caught.value.code == code

        response = await w.raw("POST", "/skills/restaurant_booking/run", json=SKILL_INPUT)
        assert response.status_code == 409  # no key: a plain start, over the cap
        too_long = await w.http.post(
            f"{w.sandbox.base_url}/skills/restaurant_booking/run",
            json=SKILL_INPUT,
            headers={"X-API-Key": DEFAULT_CALL_AGENT_KEY, "Idempotency-Key": "k" * 256},
        )
        assert too_long.status_code == 400
        assert too_long.json()["detail"]["code"] == "idempotency_key_too_long"
        with pytest.raises(ValueError, match="255"):
            await client.run_skill(skill.skill_id, SKILL_INPUT, idempotency_key="k" * 256)


# --------------------------------------------------------------------------- users & auth


async def test_bad_key_is_401_without_the_key_in_the_error() -> None:
    async with world() as w:
        with pytest.raises(Unauthorized) as caught:
            await w.client("ca_wrong_key_123").me()
        assert caught.value.message == "invalid api key"
        assert "ca_wrong_key_123" not in str(caught.value)
        with pytest.raises(Unauthorized):
            await collect(w.client("ca_wrong_key_123"), "any")
        missing = await w.http.get(f"{w.sandbox.base_url}/users/me")
        assert (missing.status_code, missing.json()) == (401, {"detail": "invalid api key"})


async def test_validation_errors_are_fastapi_shaped() -> None:
    async with world() as w:
        limits = await w.raw("PUT", "/users/me/limits", json={"max_concurrent_calls": 0})
        assert limits.status_code == 422
        assert limits.json()["detail"][0]["loc"] == ["body", "max_concurrent_calls"]
        bookings = await w.raw("GET", "/v1/booking/bookings", params={"status": "bogus"})
        assert bookings.status_code == 400
        assert "active, pending_user_confirm, past, cancelled" in bookings.json()["detail"]
        with pytest.raises(ValidationFailed) as caught:
            await w.client().list_bookings(limit=500)
        assert caught.value.detail[0]["loc"] == ["query", "limit"]
        with pytest.raises(NotFound):
            await w.client().get_booking("no-such-booking")


async def test_running_calls_are_stopped_on_shutdown() -> None:
    async with world() as w:
        await start(w.client())
        state = w.sandbox.state
        assert state.background_tasks == 1
    assert state.background_tasks == 0
