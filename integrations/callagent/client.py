"""Async client of the AI Call Agent partner API, over an injected ``httpx.AsyncClient``.

Every request but the event stream goes through the shared
:class:`~integrations.transport.PartnerTransport` (``X-API-Key`` auth hook, per-route
timeouts, one retry layer, breaker, metrics, redaction); the retry rules per route are in
``endpoints.py``. Errors are the shared tree (``integrations.errors``) plus two
refinements (``integrations.callagent.errors``): :class:`DialFailed` (502 on a start) and
:class:`Maintenance` (503 with ``message`` and ``resume_at``).

``GET /calls/{id}/events`` is a long-lived SSE stream, which the transport (built for
whole responses) cannot carry: :meth:`CallAgentClient.events` opens it through
``wire.EventStreamOpener`` with the same auth hook, breaker, metrics, error reader and
redaction, and maps stream failures to the same tree (a silent stream →
``PartnerTimeout``, a dropped one → ``PartnerUnavailable``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from httpx_sse import EventSource
from pydantic import RootModel

from integrations.auth import ApiKeyHeader
from integrations.breaker import CircuitBreaker
from integrations.callagent.endpoints import (
    ANSWER,
    ANSWER_FIFO,
    CALL_STARTS,
    CANCEL_CALL,
    CLEAR_WEBHOOK,
    GET_BOOKING,
    GET_CALL,
    LIST_BOOKINGS,
    LIST_CALLS,
    LIST_SKILLS,
    ME,
    RECORDING,
    RUN_SKILL,
    SET_LIMITS,
    SET_WEBHOOK,
    SKILL_MANIFEST,
    START_CALL,
    TRANSCRIPT_MERGED,
)
from integrations.callagent.events import CallEvent, parse_event
from integrations.callagent.models import (
    AnswerBody,
    AnswerMode,
    AnswerResponse,
    Booking,
    BookingStatus,
    Call,
    CancelResponse,
    ClearWebhookResponse,
    LimitsResponse,
    Me,
    MergedTranscript,
    QueuedCallResponse,
    SetLimitsRequest,
    SetWebhookRequest,
    SetWebhookResponse,
    SkillRunResponse,
    SkillSummary,
    StartCallBody,
    StartCallResponse,
    StartedCall,
)
from integrations.callagent.wire import (
    PARTNER,
    EventStreamOpener,
    capture_error_bodies,
    read_callagent_error,
    refine_error,
)
from integrations.errors import (
    PartnerHTTPError,
    PartnerTimeout,
    PartnerUnavailable,
)
from integrations.metrics import (
    DEFAULT_METRICS,
    PartnerMetrics,
)
from integrations.retry import Retrier
from integrations.transport import PartnerTransport, Route

__all__ = ["MAX_IDEMPOTENCY_KEY", "CallAgentClient"]

MAX_IDEMPOTENCY_KEY = 255


class _Calls(RootModel[list[Call]]):
    pass


class _Skills(RootModel[list[SkillSummary]]):
    pass


class _Bookings(RootModel[list[Booking]]):
    pass


class CallAgentClient:
    """Typed access to every AI Call Agent endpoint for one API key."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str,
        base_url: str,
        breaker: CircuitBreaker | None = None,
        metrics: PartnerMetrics | None = None,
        retrier: Retrier | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``base_url`` is the server root (paths start with ``/calls``); ``breaker`` is
        shared by every client of one deployment; ``clock`` is "now" for ``Retry-After``."""
        self._http = http
        self._auth = ApiKeyHeader(api_key)
        self._base_url = base_url.rstrip("/")
        self._transport = PartnerTransport(
            http,
            partner=PARTNER,
            auth=self._auth,
            base_url=self._base_url,
            read_error=read_callagent_error,
            retrier=retrier,
            breaker=breaker,
            metrics=metrics,
            clock=clock,
        )
        self._stream = EventStreamOpener(
            http,
            secrets=(api_key,),
            breaker=breaker,
            metrics=metrics or DEFAULT_METRICS,
            clock=clock,
            invalid=self._transport.invalid,
        )

    def __repr__(self) -> str:
        return f"CallAgentClient(base_url={self._base_url!r})"

    async def _call(
        self,
        route: Route,
        *,
        path: Mapping[str, str] | None = None,
        params: list[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """The shared transport, then Call Agent's 502/503 refinements (``wire.py``)."""
        with capture_error_bodies() as bodies:
            try:
                return await self._transport.call(
                    route,
                    path=path,
                    params=params,
                    headers=headers,
                    body=body,
                    idempotency_key=idempotency_key,
                )
            except PartnerHTTPError as exc:
                last = bodies[-1] if bodies else None
                refined = refine_error(exc, last, starts_call=route in CALL_STARTS)
                if refined is exc:
                    raise
                raise refined from exc

    # ------------------------------------------------------------------ calls

    async def start_call(self, body: StartCallBody) -> StartedCall:
        """``POST /calls``: 201 (dialing now) or 202 (queued). Sent exactly once, never
        retried: a repeat would dial the venue twice."""
        response = await self._call(START_CALL, body=body.model_dump_json().encode())
        if response.status_code == 202:
            queued = self._transport.parse(QueuedCallResponse, response, START_CALL)
            return StartedCall(
                call_id=queued.call_id,
                status=queued.status,
                queued=True,
                position=queued.position,
                call=None,
                queue_id=queued.queue_id,
            )
        started = self._transport.parse(StartCallResponse, response, START_CALL)
        return StartedCall(
            call_id=started.call.call_id,
            status=started.call.status,
            queued=False,
            position=None,
            call=started.call,
        )

    async def list_calls(self, limit: int = 100) -> list[Call]:
        """``GET /calls``, most recent first (without the heavy transcript fields)."""
        response = await self._call(LIST_CALLS, params=[("limit", str(limit))])
        return self._transport.parse(_Calls, response, LIST_CALLS).root

    async def get_call(self, call_id: str) -> Call:
        """``GET /calls/{id}`` with ``transcript_full`` and ``reservation_signals``."""
        response = await self._call(GET_CALL, path={"call_id": call_id})
        return self._transport.parse(Call, response, GET_CALL)

    async def cancel_call(self, call_id: str) -> bool:
        """``POST /calls/{id}/cancel``: False for unknown, foreign or already-final calls."""
        response = await self._call(CANCEL_CALL, path={"call_id": call_id})
        return self._transport.parse(CancelResponse, response, CANCEL_CALL).cancelled

    async def answer(
        self,
        call_id: str,
        answer: str,
        *,
        request_id: str | None = None,
        mode: AnswerMode = "voice",
    ) -> bool:
        """``POST /calls/{id}/answer``: True when a question was waiting for it; False when
        it timed out, the call ended or nothing was pending (the answer is dropped).
        Without ``request_id`` the oldest pending question gets it (and no retry is made)."""
        if not 1 <= len(answer) <= 4000:
            raise ValueError("answer must be 1 to 4000 characters")
        if request_id is not None and not 1 <= len(request_id) <= 64:
            raise ValueError("request_id must be 1 to 64 characters")
        if mode not in ("voice", "context"):
            raise ValueError("mode must be 'voice' or 'context'")
        body = AnswerBody(answer=answer, request_id=request_id, mode=mode)
        route = ANSWER if request_id is not None else ANSWER_FIFO
        response = await self._call(
            route,
            path={"call_id": call_id},
            body=body.model_dump_json(exclude_none=True).encode(),
        )
        return self._transport.parse(AnswerResponse, response, route).delivered

    async def transcript_merged(self, call_id: str) -> MergedTranscript | None:
        """The post-call merged transcript; None while the merger is pending (202)."""
        response = await self._call(TRANSCRIPT_MERGED, path={"call_id": call_id})
        if response.status_code == 202:
            return None
        return self._transport.parse(MergedTranscript, response, TRANSCRIPT_MERGED)

    async def recording(self, call_id: str, *, download: bool = False) -> bytes | None:
        """The mp3 (admin keys only; others get ``NotFound``); None while pending (202)."""
        response = await self._call(
            RECORDING,
            path={"call_id": call_id},
            params=[("download", "true" if download else "false")],
            headers={"Accept": "audio/mpeg, application/json"},
        )
        if response.status_code == 202:
            return None
        return response.content

    # ------------------------------------------------------------------ events

    async def events(
        self,
        call_id: str,
        *,
        last_event_id: str | None = None,
        read_timeout_s: float = 45.0,
    ) -> AsyncGenerator[CallEvent, None]:
        """``GET /calls/{id}/events`` as typed events, until the server ends the stream.

        ``last_event_id`` resumes after that event (the server backfills the gap). The
        server sends a heartbeat every 15 s, so ``read_timeout_s`` of silence means the
        stream is dead: ``PartnerTimeout``. A connection lost mid-stream raises
        ``PartnerUnavailable``; reconnect with the last event's ``id``
        (:meth:`follow_events` does that). Close it when leaving early
        (``contextlib.aclosing``), or the connection stays open until garbage collection.
        """
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        url = f"{self._base_url}/calls/{quote(call_id, safe='')}/events"
        timeout = httpx.Timeout(connect=5.0, read=read_timeout_s, write=15.0, pool=5.0)
        request = self._http.build_request("GET", url, headers=headers, timeout=timeout)
        await self._auth(request)
        response = await self._stream.open(request)
        try:
            async for sse in EventSource(response).aiter_sse():
                # httpx-sse keeps the last id across frames, so the blank line after a
                # ": heartbeat" comment comes out as an empty event; the SSE spec says an
                # event without data is not dispatched.
                if sse.data:
                    yield parse_event(sse)
        except httpx.TransportError as exc:
            raise self._stream.broken(exc, read_timeout_s) from exc
        finally:
            await response.aclose()

    async def follow_events(
        self,
        call_id: str,
        *,
        last_event_id: str | None = None,
        read_timeout_s: float = 45.0,
        max_reconnects: int = 5,
    ) -> AsyncGenerator[CallEvent, None]:
        """:meth:`events`, reconnecting with ``Last-Event-ID`` after a dropped or silent
        stream (up to ``max_reconnects`` times in a row without a new event)."""
        failures = 0
        while True:
            try:
                async for event in self.events(
                    call_id, last_event_id=last_event_id, read_timeout_s=read_timeout_s
                ):
                    failures = 0
                    if event.id:
                        last_event_id = event.id
                    yield event
                return
            except (PartnerUnavailable, PartnerTimeout):
                failures += 1
                if failures > max_reconnects:
                    raise

    # ------------------------------------------------------------------ skills

    async def list_skills(self) -> list[SkillSummary]:
        """``GET /skills`` (public)."""
        response = await self._call(LIST_SKILLS)
        return self._transport.parse(_Skills, response, LIST_SKILLS).root

    async def skill_manifest(self, skill_id: str) -> dict[str, Any]:
        """``GET /skills/{id}/manifest``: the skill's input schema and capabilities."""
        response = await self._call(SKILL_MANIFEST, path={"skill_id": skill_id})
        return self._transport.json_object(response, SKILL_MANIFEST)

    async def run_skill(
        self,
        skill_id: str,
        body: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> SkillRunResponse:
        """``POST /skills/{id}/run`` (201, or 202 when queued). With ``idempotency_key``
        (``Idempotency-Key``) it is retried with the same key and bytes, and a replay
        answers ``replayed=True``; 409 ``Conflict.code`` tells ``idempotency_conflict``,
        ``idempotency_in_progress`` and ``idempotency_state_unknown`` apart."""
        if idempotency_key is not None:
            if not idempotency_key.strip():
                raise ValueError("idempotency_key must not be blank")
            if len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
                raise ValueError(f"idempotency_key is longer than {MAX_IDEMPOTENCY_KEY}")
        raw = json.dumps(dict(body), separators=(",", ":"), ensure_ascii=False).encode()
        response = await self._call(
            RUN_SKILL, path={"skill_id": skill_id}, body=raw, idempotency_key=idempotency_key
        )
        return self._transport.parse(SkillRunResponse, response, RUN_SKILL)

    # ------------------------------------------------------------------ bookings

    async def list_bookings(
        self, *, status: BookingStatus | None = None, limit: int = 20
    ) -> list[Booking]:
        """``GET /v1/booking/bookings``, most recent first (``limit`` 1..100)."""
        params = [("limit", str(limit))]
        if status is not None:
            params.append(("status", BookingStatus(status).value))
        response = await self._call(LIST_BOOKINGS, params=params)
        return self._transport.parse(_Bookings, response, LIST_BOOKINGS).root

    async def get_booking(self, booking_id: str) -> Booking:
        response = await self._call(GET_BOOKING, path={"booking_id": booking_id})
        return self._transport.parse(Booking, response, GET_BOOKING)

    # ------------------------------------------------------------------ users

    async def me(self) -> Me:
        response = await self._call(ME)
        return self._transport.parse(Me, response, ME)

    async def set_webhook(self, url: str, *, regenerate_secret: bool = True) -> SetWebhookResponse:
        """``PUT /users/me/webhook`` (HTTPS only); the new ``secret`` is shown only here."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "https" or not parts.hostname:
            raise ValueError("the webhook URL must be an absolute https:// URL")
        body = SetWebhookRequest(url=url, regenerate_secret=regenerate_secret)
        response = await self._call(SET_WEBHOOK, body=body.model_dump_json().encode())
        return self._transport.parse(SetWebhookResponse, response, SET_WEBHOOK)

    async def clear_webhook(self) -> bool:
        response = await self._call(CLEAR_WEBHOOK)
        return self._transport.parse(ClearWebhookResponse, response, CLEAR_WEBHOOK).cleared

    async def set_limits(self, max_concurrent_calls: int) -> int:
        """``PUT /users/me/limits`` (1..100, checked before sending); the stored cap."""
        body = SetLimitsRequest(max_concurrent_calls=max_concurrent_calls)
        response = await self._call(SET_LIMITS, body=body.model_dump_json().encode())
        return self._transport.parse(LimitsResponse, response, SET_LIMITS).max_concurrent_calls
