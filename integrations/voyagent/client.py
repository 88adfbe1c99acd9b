"""Async client of a Voyagent tenant, over an injected ``httpx.AsyncClient``.

Every request but a turn's event stream goes through the shared
:class:`~integrations.transport.PartnerTransport` (timeouts, one retry layer, breaker,
metrics, redaction) with :class:`~integrations.voyagent.auth.VoyagentAuth` as its hook;
errors become this partner's classes (``wire.py``). A turn (``POST
/chat/sessions/{id}/messages``) is read as SSE with httpx-sse: :meth:`send_message` is one
connection, :meth:`follow_turn` resumes a dropped one with ``Last-Event-ID`` and never
yields an event twice.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from datetime import date
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import pydantic
from httpx_sse import EventSource, ServerSentEvent

from integrations.breaker import CircuitBreaker
from integrations.errors import PartnerError, PartnerHTTPError, Unauthorized, error_from_response
from integrations.lanes import SLOW
from integrations.metrics import PartnerMetrics
from integrations.retry import Retrier
from integrations.transport import PartnerTransport, Route
from integrations.voyagent.auth import TokenStore, VoyagentAuth
from integrations.voyagent.models import (
    AgentEvent,
    Approval,
    AuditEvent,
    Enquiry,
    EnquiryCreate,
    Itinerary,
    PublicUser,
    SessionSummary,
    TenantSettings,
)
from integrations.voyagent.wire import PARTNER, StreamDropped, read_voyagent_error, refine

__all__ = ["VoyagentClient"]

M = TypeVar("M", bound=pydantic.BaseModel)
_LONG = httpx.Timeout(connect=5.0, read=60.0, write=15.0, pool=5.0)

ME = Route("GET", "/auth/me")
ENQUIRIES = Route("GET", "/enquiries")
CREATE_ENQUIRY = Route("POST", "/enquiries", idempotent=False)
ENQUIRY = Route("GET", "/enquiries/{enquiry_id}")
PATCH_ENQUIRY = Route("PATCH", "/enquiries/{enquiry_id}", idempotent=False)
PROMOTE = Route("POST", "/enquiries/{enquiry_id}/promote-to-session", idempotent=True)
SESSIONS = Route("GET", "/chat/sessions")
CREATE_SESSION = Route("POST", "/chat/sessions", idempotent=False)
SESSION = Route("GET", "/chat/sessions/{session_id}")
RENAME_SESSION = Route("PATCH", "/chat/sessions/{session_id}", idempotent=True)
DELETE_SESSION = Route("DELETE", "/chat/sessions/{session_id}")
MESSAGES = "/chat/sessions/{session_id}/messages"
APPROVALS = Route("GET", "/approvals")
APPROVAL = Route("GET", "/approvals/{approval_id}")
RESOLVE = Route("POST", "/approvals/{approval_id}/resolve", idempotent=False)
ITINERARY = Route("GET", "/reports/itinerary")
PAYABLES = Route("GET", "/reports/payables")
RECEIVABLES = Route("GET", "/reports/receivables")
TRIAL_BALANCE = Route("GET", "/reports/trial-balance")
SETTINGS = Route("GET", "/tenant-settings")
AUDIT = Route("GET", "/audit")
AUDIT_CSV = Route("GET", "/audit/export.csv", timeout=_LONG, lane=SLOW)


class _Items(pydantic.BaseModel):
    items: list[dict[str, Any]] = pydantic.Field(default_factory=list)


def _params(**values: str | int | date | bool | None) -> list[tuple[str, str]]:
    shown = []
    for name, value in values.items():
        if value is None:
            continue
        text = ("1" if value else "0") if isinstance(value, bool) else str(value)
        shown.append((name.rstrip("_"), text))
    return shown


def _id(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must not be empty")
    return value


def _event(sse: ServerSentEvent) -> AgentEvent | None:
    """An ``agent_event`` frame as typed data (None: a heartbeat, or a frame we can't read)."""
    if sse.event != "agent_event" or not sse.data:
        return None
    try:
        data = json.loads(sse.data)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        return None
    fields = {k: data.get(k) for k in AgentEvent.model_fields if k not in ("id", "data")}
    try:
        return AgentEvent.model_validate({**fields, "id": sse.id or None, "data": data})
    except pydantic.ValidationError:
        return AgentEvent(id=sse.id or None, kind=str(data["kind"]), data=data)


def _after(event_id: str | None, seen: str | None) -> bool:
    """Whether `event_id` comes after `seen` (ids are increasing integers per session)."""
    if event_id is None or seen is None:
        return True
    try:
        return int(event_id) > int(seen)
    except ValueError:
        return event_id != seen


class VoyagentClient:
    """Typed access to one Voyagent login's tenant."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        email: str,
        password: str,
        store: TokenStore | None = None,
        breaker: CircuitBreaker | None = None,
        metrics: PartnerMetrics | None = None,
        retrier: Retrier | None = None,
        clock: Callable[[], float] = time.monotonic,
        read_timeout_s: float = 45.0,
    ) -> None:
        """``base_url`` is ``VOYAGENT_API_URL``; the login is ``VOYAGENT_EMAIL`` and
        ``VOYAGENT_PASSWORD`` (or the workspace's). ``read_timeout_s`` of silence on a turn's
        stream (the server sends heartbeats every 15 s) means it is dead."""
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._breaker = breaker
        self._read_timeout_s = read_timeout_s
        self.auth = VoyagentAuth(
            http,
            base_url=self._base_url,
            email=email,
            password=password,
            store=store,
            clock=clock,
            breaker=breaker,
            metrics=metrics,
            retrier=retrier,
        )
        self._transport = PartnerTransport(
            http,
            partner=PARTNER,
            auth=self.auth,
            base_url=self._base_url,
            read_error=read_voyagent_error,
            retrier=retrier,
            breaker=breaker,
            metrics=metrics,
        )

    def __repr__(self) -> str:
        return f"VoyagentClient(base_url={self._base_url!r})"

    async def _send(
        self,
        route: Route,
        *,
        path: Mapping[str, str] | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        body: Any = None,
    ) -> httpx.Response:
        raw = json.dumps(body).encode() if body is not None else None
        try:
            return await self._transport.call(route, path=path, params=params, body=raw)
        except PartnerHTTPError as error:
            raise refine(error) from error

    async def _get(self, route: Route, model: type[M], **kwargs: Any) -> M:
        response = await self._send(route, **kwargs)
        return self._transport.parse(model, response, route)

    async def _items(self, route: Route, model: type[M], **kwargs: Any) -> list[M]:
        response = await self._send(route, **kwargs)
        payload = response.json() if response.content else []
        rows = payload if isinstance(payload, list) else _Items.model_validate(payload).items
        try:
            return [model.model_validate(row) for row in rows]
        except pydantic.ValidationError as error:
            raise self._transport.invalid(route, response, str(error)) from error

    # ------------------------------------------------------------------ auth

    async def sign_in(self, totp_code: str | None = None) -> PublicUser:
        """Sign in now; a 2FA login raises `TotpRequired` without `totp_code`."""
        pair = await self.auth.sign_in(totp_code)
        return pair.user if pair.user is not None else await self.me()

    async def me(self) -> PublicUser:
        return await self._get(ME, PublicUser)

    # ------------------------------------------------------------------ enquiries

    async def create_enquiry(self, body: EnquiryCreate) -> Enquiry:
        """``POST /enquiries`` (201), sent once: it has no idempotency key, so the caller
        keeps a `reference` and looks for it (`list_enquiries(q=…)`) before a second try."""
        return await self._get(
            CREATE_ENQUIRY, Enquiry, body=json.loads(body.model_dump_json(exclude_none=True))
        )

    async def list_enquiries(
        self,
        *,
        status: str | None = None,
        q: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **filters: str | date | None,
    ) -> list[Enquiry]:
        params = _params(status=status, q=q, limit=limit, offset=offset, **filters)
        return await self._items(ENQUIRIES, Enquiry, params=params)

    async def get_enquiry(self, enquiry_id: str) -> Enquiry:
        return await self._get(ENQUIRY, Enquiry, path={"enquiry_id": _id(enquiry_id, "id")})

    async def patch_enquiry(self, enquiry_id: str, changes: Mapping[str, Any]) -> Enquiry:
        path = {"enquiry_id": _id(enquiry_id, "enquiry_id")}
        return await self._get(PATCH_ENQUIRY, Enquiry, path=path, body=dict(changes))

    async def promote_to_session(self, enquiry_id: str) -> str:
        """The enquiry's chat session id (idempotent: the same id again)."""
        path = {"enquiry_id": _id(enquiry_id, "enquiry_id")}
        response = await self._send(PROMOTE, path=path)
        said = self._transport.json_object(response, PROMOTE)
        session_id = said.get("session_id")
        if not isinstance(session_id, str) or not session_id:
            raise self._transport.invalid(PROMOTE, response, "no session_id")
        return session_id

    # ------------------------------------------------------------------ sessions

    async def create_session(self, title: str | None = None) -> SessionSummary:
        body = {"title": title} if title is not None else {}
        return await self._get(CREATE_SESSION, SessionSummary, body=body)

    async def get_session(self, session_id: str) -> SessionSummary:
        path = {"session_id": _id(session_id, "session_id")}
        return await self._get(SESSION, SessionSummary, path=path)

    async def list_sessions(self) -> list[SessionSummary]:
        return await self._items(SESSIONS, SessionSummary)

    async def rename_session(self, session_id: str, title: str) -> SessionSummary:
        path = {"session_id": _id(session_id, "session_id")}
        return await self._get(RENAME_SESSION, SessionSummary, path=path, body={"title": title})

    async def delete_session(self, session_id: str) -> None:
        await self._send(DELETE_SESSION, path={"session_id": _id(session_id, "session_id")})

    # ------------------------------------------------------------------ a turn, as SSE

    async def send_message(
        self,
        session_id: str,
        message: str,
        *,
        approvals: Mapping[str, bool] | None = None,
        last_event_id: str | None = None,
    ) -> AsyncGenerator[AgentEvent, None]:
        """One connection of a turn: its events until one that ends the stream (final,
        error, approval_request); `StreamDropped` if it ends or breaks before that. With
        `last_event_id` the agency starts no new turn: it replays what came after."""
        body: dict[str, Any] = {"message": message}
        if approvals:
            body["approvals"] = dict(approvals)
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        url = self._base_url + MESSAGES.replace("{session_id}", quote(session_id, safe=""))
        timeout = httpx.Timeout(connect=5.0, read=self._read_timeout_s, write=15.0, pool=5.0)
        response = await self._open(url, headers, json.dumps(body).encode(), timeout)
        seen = last_event_id
        try:
            async for sse in EventSource(response).aiter_sse():
                event = _event(sse)
                if event is None:
                    continue
                if event.id is not None:
                    seen = event.id
                yield event
                if event.ends_stream:
                    return
        except httpx.TransportError as exc:
            raise StreamDropped(
                f"the agency's stream broke ({type(exc).__name__})", last_event_id=seen
            ) from exc
        finally:
            await response.aclose()
        raise StreamDropped("the agency's stream ended mid-turn", last_event_id=seen)

    async def _open(
        self, url: str, headers: dict[str, str], body: bytes, limits: httpx.Timeout
    ) -> httpx.Response:
        """Open the stream behind the breaker (one resend after a 401 with a renewed token)."""
        renewed = False
        while True:
            request = self._http.build_request(
                "POST",
                url,
                headers={**headers, "Content-Type": "application/json"},
                content=body,
                timeout=limits,
                extensions={"lane": SLOW},
            )
            await self.auth(request)
            secret = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if self._breaker is not None:
                self._breaker.before()
            failure: BaseException | None = None
            try:
                response = await self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                failure = exc
                raise StreamDropped(
                    f"the agency couldn't be reached ({type(exc).__name__})", last_event_id=None
                ) from exc
            finally:
                if self._breaker is not None and failure is not None:
                    self._breaker.record(PartnerError("unreachable", partner=PARTNER))
            if response.status_code < 400:
                if self._breaker is not None:
                    self._breaker.record(None)
                kind = response.headers.get("content-type", "").partition(";")[0].strip()
                if kind != "text/event-stream":
                    await response.aclose()
                    raise StreamDropped(f"the agency answered {kind!r}", last_event_id=None)
                return response
            raw = await response.aread()
            await response.aclose()
            error = refine(
                error_from_response(
                    partner=PARTNER,
                    status=response.status_code,
                    body=raw,
                    headers=response.headers,
                    redact=(secret,) if secret else (),
                    read=read_voyagent_error,
                )
            )
            if self._breaker is not None:
                self._breaker.record(error if error.status >= 500 else None)
            if isinstance(error, Unauthorized) and not renewed and await self.auth.renew(request):
                renewed = True
                continue
            raise error

    async def follow_turn(
        self,
        session_id: str,
        message: str,
        *,
        approvals: Mapping[str, bool] | None = None,
        last_event_id: str | None = None,
        max_reconnects: int = 5,
    ) -> AsyncGenerator[AgentEvent, None]:
        """A whole turn: :meth:`send_message`, resumed with ``Last-Event-ID`` after a drop
        (up to `max_reconnects` drops in a row without a new event), each event once."""
        seen = last_event_id
        drops = 0
        while True:
            try:
                async for event in self.send_message(
                    session_id, message, approvals=approvals, last_event_id=seen
                ):
                    if not _after(event.id, seen):
                        continue  # already yielded before the drop
                    drops = 0
                    if event.id is not None:
                        seen = event.id
                    yield event
                return
            except StreamDropped as dropped:
                drops += 1
                if drops > max_reconnects:
                    raise StreamDropped(dropped.message, last_event_id=seen) from dropped
                if seen is None:
                    seen = dropped.last_event_id or "0"
                await asyncio.sleep(min(0.2 * 2**drops, 5.0))

    # ------------------------------------------------------------------ approvals

    async def list_approvals(
        self,
        *,
        status: str | None = None,
        session_id: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[Approval]:
        params = _params(status=status, session_id=session_id, limit=limit, offset=offset)
        return await self._items(APPROVALS, Approval, params=params)

    async def get_approval(self, approval_id: str) -> Approval:
        path = {"approval_id": _id(approval_id, "approval_id")}
        return await self._get(APPROVAL, Approval, path=path)

    async def resolve_approval(
        self, approval_id: str, *, granted: bool, reason: str | None = None
    ) -> Approval:
        """``404 approval_not_found`` → `ApprovalNotFound`; ``409`` →
        `ApprovalAlreadyResolved` (granted, rejected or expired already)."""
        body: dict[str, Any] = {"granted": granted}
        if reason is not None:
            body["reason"] = reason
        path = {"approval_id": _id(approval_id, "approval_id")}
        return await self._get(RESOLVE, Approval, path=path, body=body)

    # ------------------------------------------------------------------ reports

    async def itinerary(self, session_id: str) -> Itinerary:
        params = _params(session_id=_id(session_id, "session_id"))
        return await self._get(ITINERARY, Itinerary, params=params)

    async def payables(self, start: date, end: date) -> dict[str, Any]:
        response = await self._send(PAYABLES, params=_params(from_=start, to=end))
        return self._transport.json_object(response, PAYABLES)

    async def receivables(self, start: date, end: date) -> dict[str, Any]:
        response = await self._send(RECEIVABLES, params=_params(from_=start, to=end))
        return self._transport.json_object(response, RECEIVABLES)

    async def trial_balance(
        self, as_of: date | None = None, *, include_zero: bool = False
    ) -> dict[str, Any]:
        params = _params(as_of=as_of, include_zero=include_zero or None)
        response = await self._send(TRIAL_BALANCE, params=params)
        return self._transport.json_object(response, TRIAL_BALANCE)

    async def tenant_settings(self) -> TenantSettings:
        return await self._get(SETTINGS, TenantSettings)

    async def audit(
        self,
        *,
        actor_id: str | None = None,
        kind: str | None = None,
        start: date | None = None,
        end: date | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[AuditEvent]:
        params = _params(
            actor_id=actor_id, kind=kind, from_=start, to=end, limit=limit, offset=offset
        )
        return await self._items(AUDIT, AuditEvent, params=params)

    async def audit_csv(
        self,
        *,
        actor_id: str | None = None,
        kind: str | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> bytes:
        """The audit log as the agency's CSV (admins only: `AgencyAdminRequired`)."""
        params = _params(actor_id=actor_id, kind=kind, from_=start, to=end)
        response = await self._send(AUDIT_CSV, params=params)
        return response.content
