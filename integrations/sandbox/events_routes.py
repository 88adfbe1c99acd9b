"""The Events sandbox's route handlers: each returns (status, body) or raises the envelope."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from integrations.sandbox import events_validation as v
from integrations.sandbox.events_matching import event_fields, score_event
from integrations.sandbox.events_state import EventsSandboxState, SandboxRun, now

Answer = tuple[int, dict[str, Any]]
_EVENT_TEXT = {"timezone": 128, "visibility": 32, "url_slug": 128}
_CONTEXT = ("event_details", "objectives", "welcome_instructions")
_RUN_KINDS = frozenset({"import", "enrichment", "match"})


def state_of(request: Request) -> EventsSandboxState:
    state = request.app.state.events
    assert isinstance(state, EventsSandboxState)
    return state


def _param(request: Request, name: str) -> str:
    return v.partner_id(str(request.path_params[name]), name)


def event_of(request: Request) -> dict[str, Any]:
    event = state_of(request).events.get(_param(request, "event_id"))
    if event is None:
        raise v.api_error(404, "EVENT_NOT_FOUND", "No such event")
    return event


def attendee_of(request: Request) -> dict[str, Any]:
    event_id = event_of(request)["event_id"]
    row = state_of(request).attendees.get(event_id, {}).get(_param(request, "attendee_id"))
    if row is None:
        raise v.api_error(404, "ATTENDEE_NOT_FOUND", "No such attendee in this event")
    return row


def listed(request: Request, items: list[Any], **extra: Any) -> Answer:
    shown, cursor = v.page(request, items)
    return 200, {**extra, "items": shown, "next_cursor": cursor}


async def read_body(request: Request) -> dict[str, Any]:
    return await v.body_object(request, state_of(request).config.max_body_bytes)


# --------------------------------------------------------------------------- auth, ids


async def auth(request: Request) -> Answer:
    return 200, {
        "org_id": state_of(request).config.org_id,
        "principal_type": "service_account",
        "service_account_user_id": "sa-sandbox",
        "scopes": list(request.state.scopes),
    }


async def id_map(request: Request) -> Answer:
    kind = v.partner_kind(str(request.path_params["kind"]))
    pid = _param(request, "partner_id")
    state = state_of(request)
    known = {
        "event": set(state.events),
        "session": {s for per in state.sessions.values() for s in per},
        "attendee": {a for per in state.attendees.values() for a in per},
    }[kind]
    if pid not in known:
        raise v.api_error(404, "PARTNER_ID_NOT_FOUND", f"{kind} {pid} is not mapped")
    return 200, {"kind": kind, "partner_id": pid, "mapped": True}


# --------------------------------------------------------------------------- events


async def create_event(request: Request) -> Answer:
    body = await read_body(request)
    event_id = v.partner_id(str(body.get("event_id", "")), "event_id")
    v.check_text(body, "title", 200, "INVALID_TITLE", required=True)
    v.check_text(body, "description", 4000, "INVALID_DESCRIPTION")
    for name, limit in _EVENT_TEXT.items():
        v.check_text(body, name, limit, f"INVALID_{name.upper()}")
    for name in ("start_date", "end_date"):
        v.check_date(body, name, f"INVALID_{name.upper()}")
    state = state_of(request)
    if event_id in state.events:
        raise v.api_error(409, "PARTNER_ID_CONFLICT", f"event {event_id} already exists")
    stamp = now()
    fields = ("title", "description", "start_date", "end_date", *_EVENT_TEXT)
    event = {"event_id": event_id, **{f: body.get(f) for f in fields}}
    event |= dict.fromkeys(_CONTEXT) | {"created_at": stamp, "updated_at": stamp}
    state.events[event_id] = event
    return 201, event


async def list_events(request: Request) -> Answer:
    items = sorted(state_of(request).events.values(), key=lambda e: e["created_at"], reverse=True)
    return listed(request, items)


async def get_event(request: Request) -> Answer:
    return 200, event_of(request)


async def update_context(request: Request) -> Answer:
    event = event_of(request)
    body = await read_body(request)
    given = {k: body[k] for k in _CONTEXT if body.get(k) is not None}
    bad = any(not isinstance(x, str) or len(x) > 4000 for x in given.values())
    if not given or bad or set(body) - set(_CONTEXT):
        raise v.api_error(400, "INVALID_CONTEXT", "Give 1-3 context fields of ≤ 4000 chars")
    event.update(given, updated_at=now())
    return await get_context(request)


async def get_context(request: Request) -> Answer:
    event = event_of(request)
    return 200, {"event_id": event["event_id"], "context": {k: event[k] for k in _CONTEXT}}


# --------------------------------------------------------------------------- sessions


async def create_session(request: Request) -> Answer:
    event_id = event_of(request)["event_id"]
    body = await read_body(request)
    session_id = v.partner_id(str(body.get("session_id", "")), "session_id")
    v.check_text(body, "title", 200, "INVALID_TITLE", required=True)
    v.check_text(body, "description", 4000, "INVALID_DESCRIPTION")
    for name in ("start_timestamp", "end_timestamp"):
        v.check_date(body, name, f"INVALID_{name.upper()}", timestamp=True)
    sessions = state_of(request).sessions.setdefault(event_id, {})
    if session_id in sessions:
        raise v.api_error(409, "PARTNER_ID_CONFLICT", f"session {session_id} already exists")
    stamp = now()
    fields = ("title", "description", "start_timestamp", "end_timestamp")
    session = {"session_id": session_id, "event_id": event_id, **{f: body.get(f) for f in fields}}
    sessions[session_id] = session | {"metadata": {}, "created_at": stamp, "updated_at": stamp}
    return 201, sessions[session_id]


async def list_sessions(request: Request) -> Answer:
    sessions = state_of(request).sessions.get(event_of(request)["event_id"], {}).values()
    return listed(request, sorted(sessions, key=lambda s: s.get("start_timestamp") or ""))


def session_of(request: Request, event_id: str, session_id: str) -> dict[str, Any]:
    session = state_of(request).sessions.get(event_id, {}).get(v.partner_id(session_id))
    if session is None:
        raise v.api_error(404, "SESSION_NOT_FOUND", "No such session in this event")
    return session


async def get_session(request: Request) -> Answer:
    event_id = event_of(request)["event_id"]
    return 200, session_of(request, event_id, str(request.path_params["session_id"]))


# --------------------------------------------------------------------------- attendees


def _attendee_body(state: EventsSandboxState, event_id: str, row: dict[str, Any]) -> Any:
    count = state.open_review_count(event_id, row["attendee_id"])
    return {
        "attendee_id": row["attendee_id"],
        "event_id": event_id,
        "display_name": row["name"],
        "title": row.get("title"),
        "company": row.get("company"),
        "event": {**event_fields(row), "visibility": None, "onboarded_at": None}
        | {"joined_at": row["imported_at"]},
        "identity": {"review_required": count > 0, "open_review_count": count},
    }


async def list_attendees(request: Request) -> Answer:
    state, event_id = state_of(request), event_of(request)["event_id"]
    rows = sorted(state.attendees.get(event_id, {}).values(), key=lambda a: a["attendee_id"])
    return listed(request, [_attendee_body(state, event_id, row) for row in rows])


async def identity(request: Request) -> Answer:
    row, event_id = attendee_of(request), event_of(request)["event_id"]
    items = state_of(request).identity.get((event_id, row["attendee_id"]), [])
    return listed(request, items, event_id=event_id, attendee_id=row["attendee_id"])


# --------------------------------------------------------------------------- runs


def _keyed_run(
    request: Request, kind: str, event_id: str | None, body: dict[str, Any]
) -> tuple[SandboxRun, bool]:
    """The run for this idempotency key (replayed: True) or a new one."""
    key = v.idempotency_key(body)
    v.webhook_url(body)
    state = state_of(request)
    seen = state.replay(kind, event_id, key, body)
    if seen is False:
        raise v.api_error(409, "IDEMPOTENCY_KEY_CONFLICT", "Key was used with another body")
    if isinstance(seen, SandboxRun):
        return seen, True
    return state.new_run(kind, event_id, key, body), False


async def import_attendees(request: Request) -> Answer:
    event_id = event_of(request)["event_id"]
    state = state_of(request)
    state.import_requests += 1
    body = await read_body(request)
    rows = v.attendee_rows(body, state.config.max_import_rows)
    run, replayed = _keyed_run(request, "import", event_id, body)
    if not replayed:
        state.import_rows(event_id, rows)
        run.progress = {"total": len(rows), "imported": len(rows)}
    return (200 if replayed else 202), run.body()


async def enrichment_run(request: Request) -> Answer:
    event_id = event_of(request)["event_id"]
    run, replayed = _keyed_run(request, "enrichment", event_id, await read_body(request))
    count = len(state_of(request).attendees.get(event_id, {}))
    run.progress = run.progress or {"total": count, "enriched": 0}
    return (200 if replayed else 202), run.body()


async def match_run(request: Request) -> Answer:
    event_id = event_of(request)["event_id"]
    body = await read_body(request)
    top_n = body.get("top_n", 10)
    if not isinstance(top_n, int) or isinstance(top_n, bool) or not 1 <= top_n <= 50:
        raise v.api_error(400, "INVALID_JSON", "top_n must be an integer from 1 to 50")
    run, replayed = _keyed_run(request, "match", event_id, body)
    if not replayed:
        rows = list(state_of(request).attendees.get(event_id, {}).values())
        run.matches = score_event(event_id, run.run_id, rows, top_n)
    return (200 if replayed else 202), run.body()


async def create_run(request: Request) -> Answer:
    body = await read_body(request)
    if body.get("kind") not in _RUN_KINDS:
        raise v.api_error(400, "INVALID_RUN_KIND", "kind must be import, enrichment or match")
    for name in ("progress", "snapshot_metadata", "version_metadata"):
        if not isinstance(body.get(name, {}), dict):
            raise v.api_error(400, f"INVALID_{name.upper()}", f"{name} must be an object")
    run, replayed = _keyed_run(request, str(body["kind"]), None, body)
    return (200 if replayed else 201), run.body()


async def list_runs(request: Request) -> Answer:
    kind = request.query_params.get("kind")
    if kind is not None and kind not in _RUN_KINDS:
        raise v.api_error(400, "INVALID_RUN_KIND", "kind must be import, enrichment or match")
    runs = [run for run in state_of(request).runs.values() if kind in (None, run.kind)]
    runs.sort(key=lambda run: run.created_at, reverse=True)
    return listed(request, [run.body() for run in runs])


async def get_run(request: Request) -> Answer:
    run_id = str(request.path_params["run_id"])
    if not run_id.startswith("run_"):
        raise v.api_error(400, "INVALID_RUN_ID", "run_id is not a run id")
    state = state_of(request)
    run = state.runs.get(run_id)
    if run is None:
        raise v.api_error(404, "RUN_NOT_FOUND", "No such run")
    run.advance(state.config.steps_per_status)
    return 200, run.body()
