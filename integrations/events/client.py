"""Async client of the Events matching Partner API, over an injected ``httpx.AsyncClient``.

Every request goes through the shared :class:`~integrations.transport.PartnerTransport`
(``Authorization: Bearer <key>``, timeouts, one retry layer, breaker, metrics, redaction)
with an ``x-correlation-id`` header (fresh, or the caller's); errors become this partner's
classes (``wire.py``) carrying the partner's ``correlation_id``, which is also logged.

Idempotency keys are the caller's: it stores one before the request, so a retry — by the
transport or after a crash — sends the same key with the same bytes and gets the same run.
Imports are split up front under the spec's limits (``chunks.py``); a ``413`` anyway splits
that chunk once more, then raises :class:`~integrations.events.wire.PayloadTooLarge`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import httpx
import pydantic

from integrations.auth import BearerToken
from integrations.breaker import CircuitBreaker
from integrations.errors import PartnerHTTPError
from integrations.events import endpoints as ep
from integrations.events.chunks import ImportChunk, ImportLimits, split_import
from integrations.events.models import (
    Attendee,
    AttendeeInput,
    AttendeeMatches,
    AuthInfo,
    Event,
    EventContext,
    EventContextUpdate,
    EventCreate,
    EventMatches,
    IdentityHistory,
    IdMapping,
    Match,
    MergeRequest,
    MergeResult,
    Page,
    Resolution,
    ReviewDecision,
    ReviewItem,
    Run,
    RunKind,
    Session,
    SessionCreate,
)
from integrations.events.wire import (
    CORRELATION_HEADER,
    PARTNER,
    PayloadTooLarge,
    capture_error_bodies,
    read_events_error,
    refine_error,
)
from integrations.metrics import PartnerMetrics
from integrations.retry import Retrier
from integrations.transport import PartnerTransport, Route

__all__ = ["DEFAULT_MAX_PAGES", "EventsClient", "PageFetch"]

log = logging.getLogger(__name__)

DEFAULT_MAX_PAGES = 100
M = TypeVar("M", bound=pydantic.BaseModel)
T = TypeVar("T")
PageFetch = Callable[[str | None], Awaitable[Page[T]]]
"""One page for a cursor (None: the first page)."""


def _path_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must not be empty")
    return value


def _key(value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("idempotency_key must not be empty: store one before the request")
    return value


def _page_params(
    limit: int | None, cursor: str | None, **extra: str | None
) -> list[tuple[str, str]]:
    params = [("limit", str(limit))] if limit is not None else []
    if cursor is not None:
        params.append(("cursor", cursor))
    params += [(name, value) for name, value in extra.items() if value is not None]
    return params


def _json(payload: Mapping[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in payload.items() if v is not None}).encode()


class EventsClient:
    """Typed access to the Events matching Partner API for one API key."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str,
        base_url: str,
        breaker: CircuitBreaker | None = None,
        metrics: PartnerMetrics | None = None,
        retrier: Retrier | None = None,
        import_limits: ImportLimits | None = None,
    ) -> None:
        """``base_url`` is the Partner API base URL (``EVENTS_API_URL``); ``api_key`` is
        ``EVENTS_API_KEY``. ``breaker`` is shared by every client of one deployment."""
        self._base_url = base_url.rstrip("/")
        self._limits = import_limits or ImportLimits()
        self._auth_info: AuthInfo | None = None
        self._transport = PartnerTransport(
            http,
            partner=PARTNER,
            auth=BearerToken(api_key),
            base_url=self._base_url,
            read_error=read_events_error,
            retrier=retrier,
            breaker=breaker,
            metrics=metrics,
        )

    def __repr__(self) -> str:
        return f"EventsClient(base_url={self._base_url!r})"

    async def _call(
        self,
        route: Route,
        model: type[M],
        *,
        path: Mapping[str, str] | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        body: bytes | None = None,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> M:
        """One request, parsed as ``model``; an error keeps the partner's correlation id."""
        cid = correlation_id or uuid.uuid4().hex
        with capture_error_bodies() as said:
            try:
                response = await self._transport.call(
                    route,
                    path=path,
                    params=params,
                    headers={CORRELATION_HEADER: cid},
                    body=body,
                    idempotency_key=idempotency_key,
                )
            except PartnerHTTPError as exc:
                refined = refine_error(exc, said[-1] if said else None, sent_correlation_id=cid)
                log.warning(
                    "events %s failed: HTTP %d %s (correlation_id=%s)",
                    route.label,
                    refined.status,
                    refined.code,
                    refined.correlation_id,
                )
                raise refined from exc
        return self._transport.parse(model, response, route)

    # ------------------------------------------------------------------ auth, ids

    async def auth(self, *, correlation_id: str | None = None) -> AuthInfo:
        """``GET /auth``: who the key is and its scopes (remembered for :meth:`can_write`)."""
        self._auth_info = await self._call(ep.AUTH, AuthInfo, correlation_id=correlation_id)
        return self._auth_info

    async def can_write(self) -> bool:
        """Whether the key has ``partner:write`` (a ``partner:read`` key must not be offered
        writes); asks ``GET /auth`` once."""
        info = self._auth_info or await self.auth()
        return info.can_write

    async def id_map(self, kind: str, partner_id: str) -> IdMapping:
        path = {"kind": _path_id(kind, "kind"), "partner_id": _path_id(partner_id, "partner_id")}
        return await self._call(ep.ID_MAP, IdMapping, path=path)

    # ------------------------------------------------------------------ events, sessions

    async def create_event(self, event: EventCreate, *, correlation_id: str | None = None) -> Event:
        """``POST /events`` (201); sent once — a repeat answers ``409 PARTNER_ID_CONFLICT``."""
        return await self._call(
            ep.CREATE_EVENT, Event, body=event.body(), correlation_id=correlation_id
        )

    async def list_events(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[Event]:
        return await self._call(ep.EVENTS, Page[Event], params=_page_params(limit, cursor))

    async def get_event(self, event_id: str) -> Event:
        return await self._call(ep.EVENT, Event, path=self._event(event_id))

    async def update_context(self, event_id: str, context: EventContextUpdate) -> EventContext:
        """``POST /events/{id}/context``: at least one field must be set."""
        if not context.model_dump(exclude_none=True):
            raise ValueError("set at least one context field")
        path = self._event(event_id)
        return await self._call(ep.UPDATE_CONTEXT, EventContext, path=path, body=context.body())

    async def get_context(self, event_id: str) -> EventContext:
        return await self._call(ep.EVENT_CONTEXT, EventContext, path=self._event(event_id))

    async def create_session(self, event_id: str, session: SessionCreate) -> Session:
        path = self._event(event_id)
        return await self._call(ep.CREATE_SESSION, Session, path=path, body=session.body())

    async def list_sessions(
        self, event_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[Session]:
        path, params = self._event(event_id), _page_params(limit, cursor)
        return await self._call(ep.SESSIONS, Page[Session], path=path, params=params)

    async def get_session(self, event_id: str, session_id: str) -> Session:
        path = {**self._event(event_id), "session_id": _path_id(session_id, "session_id")}
        return await self._call(ep.SESSION, Session, path=path)

    # ------------------------------------------------------------------ attendees

    async def list_attendees(
        self, event_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[Attendee]:
        path, params = self._event(event_id), _page_params(limit, cursor)
        return await self._call(ep.LIST_ATTENDEES, Page[Attendee], path=path, params=params)

    async def import_attendees(
        self,
        event_id: str,
        attendees: Sequence[AttendeeInput],
        *,
        idempotency_key: str,
        webhook_url: str | None = None,
        correlation_id: str | None = None,
    ) -> list[Run]:
        """``PUT /events/{id}/attendees:import``: one import run per chunk, in order.

        The chunks and their keys follow from the attendees and the key (``chunks.py``),
        so calling again with the same arguments replays the same runs.
        """
        chunks = split_import(
            attendees,
            idempotency_key=_key(idempotency_key),
            webhook_url=webhook_url,
            limits=self._limits,
        )
        path = self._event(event_id)
        runs: list[Run] = []
        for chunk in chunks:
            runs += await self._import_chunk(path, chunk, correlation_id, may_split=True)
        return runs

    async def _import_chunk(
        self, path: Mapping[str, str], chunk: ImportChunk, cid: str | None, *, may_split: bool
    ) -> list[Run]:
        try:
            run = await self._call(
                ep.IMPORT_ATTENDEES,
                Run,
                path=path,
                body=chunk.body(),
                idempotency_key=chunk.idempotency_key,
                correlation_id=cid,
            )
        except PayloadTooLarge:
            if not may_split or len(chunk.attendees) < 2:
                raise
            log.info("events import over the size limit: splitting %d rows", len(chunk.attendees))
            runs: list[Run] = []
            for half in chunk.halves():
                runs += await self._import_chunk(path, half, cid, may_split=False)
            return runs
        return [run]

    async def identity_history(
        self,
        event_id: str,
        attendee_id: str,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> IdentityHistory:
        path, params = self._attendee(event_id, attendee_id), _page_params(limit, cursor)
        return await self._call(ep.IDENTITY, IdentityHistory, path=path, params=params)

    # ------------------------------------------------------------------ runs

    async def start_enrichment(
        self, event_id: str, *, idempotency_key: str, webhook_url: str | None = None
    ) -> Run:
        """``POST /events/{id}/enrichment-runs``: retried only with the caller's key."""
        body = _json({"idempotency_key": _key(idempotency_key), "webhook_url": webhook_url})
        return await self._call(
            ep.ENRICHMENT_RUN,
            Run,
            path=self._event(event_id),
            body=body,
            idempotency_key=idempotency_key,
        )

    async def start_matching(
        self,
        event_id: str,
        *,
        idempotency_key: str,
        top_n: int | None = None,
        webhook_url: str | None = None,
    ) -> Run:
        """``POST /events/{id}/match-runs``; ``top_n`` is 1-50 (the partner's default 10)."""
        if top_n is not None and not 1 <= top_n <= 50:
            raise ValueError("top_n must be between 1 and 50")
        payload = {"idempotency_key": _key(idempotency_key), "webhook_url": webhook_url}
        body = _json({**payload, "top_n": top_n})
        return await self._call(
            ep.MATCH_RUN,
            Run,
            path=self._event(event_id),
            body=body,
            idempotency_key=idempotency_key,
        )

    async def create_run(
        self,
        kind: RunKind,
        *,
        idempotency_key: str,
        progress: Mapping[str, Any] | None = None,
        snapshot_metadata: Mapping[str, Any] | None = None,
        version_metadata: Mapping[str, Any] | None = None,
        webhook_url: str | None = None,
    ) -> Run:
        """``POST /runs``: a run outside any event (``event_id`` None)."""
        body = _json(
            {
                "kind": kind,
                "idempotency_key": _key(idempotency_key),
                "progress": dict(progress) if progress is not None else None,
                "snapshot_metadata": dict(snapshot_metadata) if snapshot_metadata else None,
                "version_metadata": dict(version_metadata) if version_metadata else None,
                "webhook_url": webhook_url,
            }
        )
        return await self._call(ep.CREATE_RUN, Run, body=body, idempotency_key=idempotency_key)

    async def list_runs(
        self, *, kind: RunKind | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[Run]:
        return await self._call(ep.RUNS, Page[Run], params=_page_params(limit, cursor, kind=kind))

    async def get_run(self, run_id: str) -> Run:
        """``GET /runs/{id}``: the canonical poll (webhooks are not delivered)."""
        return await self._call(ep.RUN, Run, path={"run_id": _path_id(run_id, "run_id")})

    async def wait_for_run(
        self,
        run_id: str,
        *,
        interval_s: float = 2.0,
        ceiling_s: float = 600.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> Run:
        """Poll :meth:`get_run` until terminal or ``ceiling_s``; check ``terminal``."""
        deadline = time.monotonic() + ceiling_s
        while True:
            run = await self.get_run(run_id)
            if run.terminal or time.monotonic() + interval_s > deadline:
                return run
            await sleep(interval_s)

    # ------------------------------------------------------------------ matches

    async def attendee_matches(
        self,
        event_id: str,
        attendee_id: str,
        *,
        run_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> AttendeeMatches:
        """Best first; without ``run_id`` the latest terminal match run."""
        path = self._attendee(event_id, attendee_id)
        params = _page_params(limit, cursor, run_id=run_id)
        return await self._call(ep.ATTENDEE_MATCHES, AttendeeMatches, path=path, params=params)

    async def event_matches(
        self,
        event_id: str,
        *,
        run_id: str | None = None,
        session_id: str | None = None,
        goal: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> EventMatches:
        params = _page_params(limit, cursor, run_id=run_id, session_id=session_id, goal=goal)
        path = self._event(event_id)
        return await self._call(ep.EVENT_MATCHES, EventMatches, path=path, params=params)

    async def pair_match(
        self, event_id: str, principal_id: str, target_id: str, *, run_id: str | None = None
    ) -> Match:
        path = {
            **self._event(event_id),
            "principal": _path_id(principal_id, "principal_id"),
            "target": _path_id(target_id, "target_id"),
        }
        params = _page_params(None, None, run_id=run_id)
        return await self._call(ep.PAIR_MATCH, Match, path=path, params=params)

    # ------------------------------------------------------------------ review queue

    async def review_queue(
        self, event_id: str | None = None, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[ReviewItem]:
        """Open identity reviews of one event, or of the whole org (``event_id`` None)."""
        params = _page_params(limit, cursor)
        if event_id is None:
            return await self._call(ep.REVIEW_QUEUE, Page[ReviewItem], params=params)
        path = self._event(event_id)
        return await self._call(ep.EVENT_REVIEW_QUEUE, Page[ReviewItem], path=path, params=params)

    async def resolve_review(
        self, review_id: str, decision: ReviewDecision, *, reason: str | None = None
    ) -> Resolution:
        path = {"review_id": _path_id(review_id, "review_id")}
        body = _json({"decision": decision, "reason": reason})
        return await self._call(ep.RESOLVE, Resolution, path=path, body=body)

    async def merge_review(self, review_id: str, merge: MergeRequest) -> MergeResult:
        path = {"review_id": _path_id(review_id, "review_id")}
        return await self._call(ep.MERGE, MergeResult, path=path, body=merge.body())

    # ------------------------------------------------------------------ cursors

    async def iterate(
        self, fetch: PageFetch[T], *, max_pages: int = DEFAULT_MAX_PAGES
    ) -> AsyncIterator[T]:
        """Every item of a list, following ``next_cursor`` for at most ``max_pages`` pages
        (a cursor seen twice also stops: a partner loop never spins forever)."""
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(max_pages):
            page = await fetch(cursor)
            for item in page.items:
                yield item
            cursor = page.next_cursor
            if cursor is None or cursor in seen:
                return
            seen.add(cursor)
        log.warning("events: stopped following cursors after %d pages", max_pages)

    async def list_all(self, fetch: PageFetch[T], *, max_pages: int = DEFAULT_MAX_PAGES) -> list[T]:
        return [item async for item in self.iterate(fetch, max_pages=max_pages)]

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _event(event_id: str) -> dict[str, str]:
        return {"event_id": _path_id(event_id, "event_id")}

    @staticmethod
    def _attendee(event_id: str, attendee_id: str) -> dict[str, str]:
        return {
            "event_id": _path_id(event_id, "event_id"),
            "attendee_id": _path_id(attendee_id, "attendee_id"),
        }
