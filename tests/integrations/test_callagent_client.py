"""CallAgentClient against httpx.MockTransport: status mapping, the 502/503 refinements, what is
(not) retried, request shapes, SSE parsing and stream failures."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent
from prometheus_client import CollectorRegistry

from integrations.callagent import (
    AskUserEvent,
    CallAgentClient,
    DialFailed,
    Maintenance,
    OutcomeEvent,
    StartCallBody,
    StatusEvent,
    TranscriptEvent,
    UnknownEvent,
    parse_event,
)
from integrations.callagent.models import BookingStatus, TaskKind
from integrations.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PartnerHTTPError,
    PartnerTimeout,
    PartnerUnavailable,
    PaymentRequired,
    ResponseInvalid,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from integrations.metrics import PartnerMetrics
from integrations.retry import Retrier

BASE = "https://calls.test"
KEY = "ca_live_s3cr3tKEYvalue"
CALL_ID = "5b3f0a7e-0000-4000-8000-000000000001"
NOW = "2026-06-01T12:00:00Z"
CALL: dict[str, Any] = {
    "call_id": CALL_ID,
    "customer_id": "cus_1",
    "task_id": "task_1",
    "target_phone": "+14155550123",
    "language": "en",
    "status": "dialing",
    "call_sid": "CA1",
    "started_at": None,
    "ended_at": None,
    "duration_sec": None,
    "outcome_type": None,
    "outcome_summary": None,
    "outcome_charge_cents": 0,
    "created_at": NOW,
    "a_future_field": {"ignored": True},
}
SKILL_RUN: dict[str, Any] = {
    "skill_run_id": f"srun_{CALL_ID}",
    "call_id": CALL_ID,
    "call_sid": None,
    "owner_pod": None,
    "status": "dialing",
    "credits_reserved": 10,
    "status_url": "/calls/x",
    "answer_url": "/calls/x/answer",
    "recording_url": "/calls/x/recording",
    "expected_next_steps": [],
}
STARTED = {"call": CALL, "task_id": "task_1", "credits_reserved": 10, "owner_pod": "pod-1"}
BODY = StartCallBody(target_phone="+14155550123", brief="Book a table for 2 at Nobu")


@dataclass
class Server:
    """Scripted responses (consumed in order, the last one repeats) and recorded requests."""

    responses: list[httpx.Response | Exception] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(reply, Exception):
            raise reply
        return reply

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


@dataclass
class Sleeps:
    delays: list[float] = field(default_factory=list)

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def client(server: Server, sleeps: Sleeps) -> AsyncIterator[CallAgentClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as http:
        yield CallAgentClient(
            http,
            api_key=KEY,
            base_url=BASE,
            retrier=Retrier(sleep=sleeps, random=lambda: 0.5),
            metrics=PartnerMetrics(CollectorRegistry()),
        )


def reply(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def sse(*frames: str | Exception) -> httpx.Response:
    async def stream() -> AsyncIterator[bytes]:
        for frame in frames:
            if isinstance(frame, Exception):
                raise frame
            yield frame.encode()

    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stream())


# --------------------------------------------------------------------------- POST /calls


async def test_start_call_201_and_202(client: CallAgentClient, server: Server) -> None:
    server.responses = [reply(201, STARTED)]
    started = await client.start_call(BODY)
    assert (started.call_id, started.status, started.queued, started.position) == (
        CALL_ID,
        "dialing",
        False,
        None,
    )
    assert started.call is not None and started.call.call_sid == "CA1"
    request = server.requests[0]
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/calls")
    assert request.headers["x-api-key"] == KEY
    assert server.body() == {
        "target_phone": "+14155550123",
        "brief": "Book a table for 2 at Nobu",
        "language": "auto",
        "kind": "other",
        "parsed_slots": None,
        "ask_user_mode": "stream",
    }

    server.responses = [reply(202, {"call_id": CALL_ID, "queue_id": "q1", "position": 3})]
    queued = await client.start_call(BODY.model_copy(update={"kind": TaskKind.CONCIERGE}))
    assert (queued.queued, queued.status, queued.position, queued.call) == (True, "queued", 3, None)
    assert queued.queue_id == "q1" and server.body()["kind"] == "concierge"


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (400, {"detail": "invalid phone number"}, BadRequest, "invalid phone number"),
        (402, {"detail": "Out of credits"}, PaymentRequired, "Out of credits"),
        (409, {"detail": {"code": "cap", "message": "Cap reached"}}, Conflict, "Cap reached"),
        (502, {"detail": "Twilio dial failed"}, DialFailed, "Twilio dial failed"),
        (503, {"detail": "Down for maintenance"}, Maintenance, "Down for maintenance"),
    ],
)  # fmt: skip
async def test_start_call_errors_are_mapped_and_never_retried(
    client: CallAgentClient,
    server: Server,
    sleeps: Sleeps,
    status: int,
    body: Any,
    error: type[PartnerHTTPError],
    message: str,
) -> None:
    server.responses = [reply(status, body), reply(201, STARTED)]
    with pytest.raises(error) as caught:
        await client.start_call(BODY)
    assert type(caught.value) is error and caught.value.message == message
    assert len(server.requests) == 1 and sleeps.delays == []
    if status == 502:
        assert isinstance(caught.value, ServerError) and not caught.value.retryable
    if status == 503:
        assert isinstance(caught.value, ServiceUnavailable)


async def test_start_call_422_keeps_the_detail(client: CallAgentClient, server: Server) -> None:
    detail = [{"loc": ["body", "brief"], "msg": "String too short", "type": "string_too_short"}]
    server.responses = [reply(422, {"detail": detail})]
    with pytest.raises(ValidationFailed) as caught:
        await client.start_call(BODY)
    assert caught.value.detail == detail and "body.brief" in caught.value.message


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), httpx.RemoteProtocolError("eof")],
)
async def test_start_call_is_not_retried_after_a_transport_failure(
    client: CallAgentClient, server: Server, failure: Exception
) -> None:
    server.responses = [failure, reply(201, STARTED)]
    with pytest.raises((PartnerTimeout, PartnerUnavailable)):
        await client.start_call(BODY)
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"detail": {"code": "maintenance", "message": "Until 14:00", "resume_at": NOW}},
        {"message": "Until 14:00", "resume_at": NOW},
    ],
)
async def test_maintenance_body_shapes(
    client: CallAgentClient, server: Server, body: dict[str, Any]
) -> None:
    server.responses = [reply(503, body, {"Retry-After": "120"})]
    with pytest.raises(Maintenance) as caught:
        await client.start_call(BODY)
    assert caught.value.message == "Until 14:00"
    assert caught.value.resume_at == datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert caught.value.retry_after == 120


async def test_a_plain_503_on_a_read_is_retried_and_not_maintenance(
    client: CallAgentClient, server: Server, sleeps: Sleeps
) -> None:
    server.responses = [reply(503, {"detail": "busy"}), reply(200, CALL)]
    call = await client.get_call(CALL_ID)
    assert call.call_id == CALL_ID and len(server.requests) == 2 and sleeps.delays == [0.25]
    server.responses = [reply(503, {"detail": "busy"})]
    with pytest.raises(ServiceUnavailable) as caught:
        await client.get_call(CALL_ID)
    assert type(caught.value) is ServiceUnavailable
    server.responses = [reply(503, {"detail": {"code": "maintenance", "message": "m"}})]
    with pytest.raises(Maintenance):
        await client.me()


async def test_key_never_leaks_into_errors_or_logs(
    client: CallAgentClient, server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.responses = [reply(401, {"detail": f"invalid api key {KEY}"})]
    with pytest.raises(Unauthorized) as caught:
        await client.me()
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)
    server.responses = [httpx.ConnectError(f"refused for {KEY}")]
    with pytest.raises(PartnerUnavailable) as unavailable:
        await client.list_calls()
    assert KEY not in str(unavailable.value)
    assert KEY not in caplog.text and KEY not in repr(client)


async def test_malformed_2xx_body_is_response_invalid(
    client: CallAgentClient, server: Server
) -> None:
    server.responses = [reply(200, {**CALL, "call_id": None})]
    with pytest.raises(ResponseInvalid):
        await client.get_call(CALL_ID)
    server.responses = [reply(201, {"call": CALL})]  # task_id, credits_reserved missing
    with pytest.raises(ResponseInvalid):
        await client.start_call(BODY)


# --------------------------------------------------------------------------- other routes


async def test_cancel_and_answer_are_retried_when_safe(
    client: CallAgentClient, server: Server
) -> None:
    server.responses = [reply(502, {"detail": "gateway"}), reply(200, {"cancelled": True})]
    assert await client.cancel_call(CALL_ID)
    assert len(server.requests) == 2 and server.requests[-1].url.path.endswith("/cancel")

    server.requests.clear()
    server.responses = [reply(503, {"detail": "x"}), reply(200, {"delivered": True})]
    assert await client.answer(CALL_ID, "21:15", request_id="req_1", mode="context")
    assert server.body() == {"answer": "21:15", "request_id": "req_1", "mode": "context"}
    assert len(server.requests) == 2

    server.requests.clear()
    server.responses = [reply(503, {"detail": "x"}), reply(200, {"delivered": True})]
    with pytest.raises(ServiceUnavailable):  # FIFO answer: a repeat could answer the next one
        await client.answer(CALL_ID, "21:15")
    assert len(server.requests) == 1 and server.body() == {"answer": "21:15", "mode": "voice"}


@pytest.mark.parametrize(
    ("answer", "request_id"), [("", None), ("x" * 4001, None), ("ok", "r" * 65), ("ok", "")]
)
async def test_answer_is_checked_before_sending(
    client: CallAgentClient, server: Server, answer: str, request_id: str | None
) -> None:
    with pytest.raises(ValueError):
        await client.answer(CALL_ID, answer, request_id=request_id)
    assert server.requests == []


async def test_run_skill_idempotency_key(
    client: CallAgentClient, server: Server, sleeps: Sleeps
) -> None:
    server.responses = [reply(503, {"detail": "x"}), reply(201, SKILL_RUN)]
    run = await client.run_skill("restaurant_booking", {"b": 1, "a": 2}, idempotency_key="k1")
    assert run.call_id == CALL_ID and not run.replayed
    assert [r.headers["idempotency-key"] for r in server.requests] == ["k1", "k1"]
    assert server.requests[0].content == server.requests[1].content == b'{"b":1,"a":2}'
    assert isinstance(server.responses[0], httpx.Response)

    server.requests.clear()
    server.responses = [reply(502, {"detail": "x"})]
    with pytest.raises(DialFailed):  # no key: sent once
        await client.run_skill("restaurant_booking", {}, idempotency_key=None)
    assert len(server.requests) == 1 and "idempotency-key" not in server.requests[0].headers

    for code in ("idempotency_conflict", "idempotency_in_progress", "idempotency_state_unknown"):
        server.responses = [reply(409, {"detail": {"code": code, "message": "m"}})]
        with pytest.raises(Conflict) as caught:
            await client.run_skill("restaurant_booking", {}, idempotency_key="k1")
        assert caught.value.code == code
    for bad in ("k" * 256, "  "):
        with pytest.raises(ValueError):
            await client.run_skill("restaurant_booking", {}, idempotency_key=bad)


async def test_reads_and_settings(client: CallAgentClient, server: Server) -> None:
    server.responses = [reply(200, [CALL])]
    [call] = await client.list_calls(limit=5)
    assert call.call_id == CALL_ID and server.requests[-1].url.params["limit"] == "5"

    server.responses = [reply(202, {"status": "merger_pending"})]
    assert await client.transcript_merged(CALL_ID) is None
    merged = {"version": 1, "duration_ms": 1200.4, "turns": [
        {"speaker": "bot", "start_ms": 0, "end_ms": 500.6, "text": "Hi", "source": "bot", "x": 1}
    ]}  # fmt: skip
    server.responses = [reply(200, merged)]
    transcript = await client.transcript_merged(CALL_ID)
    assert transcript is not None and transcript.duration_ms == 1200
    assert transcript.turns[0].end_ms == 501

    server.responses = [reply(202, {"status": "recording_pending"})]
    assert await client.recording(CALL_ID) is None
    server.responses = [
        httpx.Response(200, content=b"ID3mp3", headers={"content-type": "audio/mpeg"})
    ]
    assert await client.recording(CALL_ID, download=True) == b"ID3mp3"
    assert server.requests[-1].url.params["download"] == "true"
    server.responses = [reply(404, {"detail": "Not Found"})]
    with pytest.raises(NotFound):
        await client.recording(CALL_ID)

    server.responses = [reply(200, [])]
    assert await client.list_bookings(status=BookingStatus.PAST, limit=3) == []
    assert dict(server.requests[-1].url.params) == {"status": "past", "limit": "3"}

    server.responses = [reply(200, {"url": "https://h.test/x", "secret": "whsec"})]
    hook = await client.set_webhook("https://h.test/x", regenerate_secret=False)
    assert hook.secret == "whsec" and server.body() == {
        "url": "https://h.test/x",
        "regenerate_secret": False,
    }
    with pytest.raises(ValueError):
        await client.set_webhook("ftp://h.test/x")
    server.responses = [reply(200, {})]
    assert await client.clear_webhook()  # ``cleared`` defaults to true
    server.responses = [reply(200, {"max_concurrent_calls": 4})]
    assert await client.set_limits(4) == 4
    with pytest.raises(ValueError):
        await client.set_limits(101)


# --------------------------------------------------------------------------- events


@pytest.mark.parametrize(
    ("event", "data", "expected"),
    [
        ("status", {"status": "dialing"}, StatusEvent("7", "dialing")),
        ("transcript", {"role": "agent", "text": "Hi"}, TranscriptEvent("7", "agent", "Hi")),
        ("ask_user", {"request_id": "r", "question": "Q?", "options": ["a", "b"]},
         AskUserEvent("7", "r", "Q?", ("a", "b"))),
        ("ask_user", {"request_id": "r", "question": "Q?"}, AskUserEvent("7", "r", "Q?", ())),
        ("outcome", {"outcome_type": "no_answer", "summary": "s", "extra": 1},
         OutcomeEvent("7", "no_answer", "s")),
        ("transcript_ready", {"ok": True}, UnknownEvent("7", "transcript_ready", {"ok": True})),
        ("status", {"state": "dialing"}, UnknownEvent("7", "status", {"state": "dialing"})),
    ],
)  # fmt: skip
def test_parse_event(event: str, data: Any, expected: object) -> None:
    assert parse_event(ServerSentEvent(event=event, data=json.dumps(data), id="7")) == expected


def test_parse_event_with_unparseable_json(caplog: pytest.LogCaptureFixture) -> None:
    parsed = parse_event(ServerSentEvent(event="ask_user", data="{nope", id="3"))
    assert parsed == UnknownEvent("3", "ask_user", "{nope")
    assert "ask_user" in caplog.text and "nope" not in caplog.text


async def test_events_stream(client: CallAgentClient, server: Server) -> None:
    server.responses = [
        sse(
            'id: 1\nevent: status\ndata: {"status":"dialing"}\n\n',
            ": heartbeat\n\n",
            'id: 2\nevent: ask_user\ndata: {"request_id":"r1",',
            '"question":"Q?"}\n\n',
        )
    ]
    events = [e async for e in client.events(CALL_ID, last_event_id="0", read_timeout_s=3)]
    assert events == [StatusEvent("1", "dialing"), AskUserEvent("2", "r1", "Q?")]
    request = server.requests[0]
    assert request.url == f"{BASE}/calls/{CALL_ID}/events"
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["last-event-id"] == "0"
    assert request.headers["x-api-key"] == KEY
    assert request.extensions["timeout"]["read"] == 3


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (httpx.ReadTimeout("idle"), PartnerTimeout),
        (httpx.RemoteProtocolError("eof"), PartnerUnavailable),
    ],
)
async def test_events_stream_failures(
    client: CallAgentClient, server: Server, failure: Exception, error: type[Exception]
) -> None:
    server.responses = [sse('id: 1\nevent: status\ndata: {"status":"dialing"}\n\n', failure)]
    seen = []
    with pytest.raises(error):
        async for event in client.events(CALL_ID):
            seen.append(event)
    assert seen == [StatusEvent("1", "dialing")]


async def test_events_opening_errors(client: CallAgentClient, server: Server) -> None:
    server.responses = [reply(404, {"detail": "Call not found"})]
    with pytest.raises(NotFound) as caught:
        [e async for e in client.events(CALL_ID)]
    assert caught.value.message == "Call not found"
    server.responses = [reply(200, {"not": "a stream"})]
    with pytest.raises(ResponseInvalid):
        [e async for e in client.events(CALL_ID)]
    server.responses = [httpx.ConnectTimeout("slow")]
    with pytest.raises(PartnerTimeout) as timeout:
        [e async for e in client.events(CALL_ID)]
    assert timeout.value.phase == "connect"


async def test_follow_events_resumes_from_the_last_id(
    client: CallAgentClient, server: Server
) -> None:
    server.responses = [
        sse('id: 1\nevent: status\ndata: {"status":"dialing"}\n\n', httpx.ReadError("reset")),
        sse('id: 2\nevent: status\ndata: {"status":"in_progress"}\n\n'),
    ]
    events = [e async for e in client.follow_events(CALL_ID)]
    assert [e.id for e in events] == ["1", "2"]
    assert server.requests[1].headers["last-event-id"] == "1"
