"""The Events matching Partner API endpoints as shared-transport routes.

Retry rules (the transport repeats only what is marked safe): GETs and the attendee import
(a PUT keyed by its ``idempotency_key``) by method; the run-starting POSTs only when the
call carries the caller's idempotency key (the partner replays the same run for it); every
other POST (create, context, resolve, merge) is sent exactly once.
"""

from __future__ import annotations

from integrations.transport import Route

__all__ = [
    "ATTENDEE_MATCHES",
    "AUTH",
    "CREATE_EVENT",
    "CREATE_RUN",
    "CREATE_SESSION",
    "ENRICHMENT_RUN",
    "EVENT",
    "EVENTS",
    "EVENT_CONTEXT",
    "EVENT_MATCHES",
    "EVENT_REVIEW_QUEUE",
    "IDENTITY",
    "ID_MAP",
    "IMPORT_ATTENDEES",
    "LIST_ATTENDEES",
    "MATCH_RUN",
    "MERGE",
    "PAIR_MATCH",
    "RESOLVE",
    "REVIEW_QUEUE",
    "RUN",
    "RUNS",
    "SESSION",
    "SESSIONS",
    "UPDATE_CONTEXT",
]

_EVENT = "/events/{event_id}"
_ATTENDEE = _EVENT + "/attendees/{attendee_id}"

AUTH = Route("GET", "/auth")
ID_MAP = Route("GET", "/id-map/{kind}/{partner_id}")
CREATE_EVENT = Route("POST", "/events", idempotent=False)
EVENTS = Route("GET", "/events")
EVENT = Route("GET", _EVENT)
UPDATE_CONTEXT = Route("POST", _EVENT + "/context", idempotent=False)
EVENT_CONTEXT = Route("GET", _EVENT + "/context")
CREATE_SESSION = Route("POST", _EVENT + "/sessions", idempotent=False)
SESSIONS = Route("GET", _EVENT + "/sessions")
SESSION = Route("GET", _EVENT + "/sessions/{session_id}")
LIST_ATTENDEES = Route("GET", _EVENT + "/attendees")
IMPORT_ATTENDEES = Route("PUT", _EVENT + "/attendees:import")
IDENTITY = Route("GET", _ATTENDEE + "/identity")
ENRICHMENT_RUN = Route("POST", _EVENT + "/enrichment-runs", idempotent=False)
MATCH_RUN = Route("POST", _EVENT + "/match-runs", idempotent=False)
ATTENDEE_MATCHES = Route("GET", _ATTENDEE + "/matches")
EVENT_MATCHES = Route("GET", _EVENT + "/matches")
PAIR_MATCH = Route("GET", _EVENT + "/matches/{principal}/{target}")
CREATE_RUN = Route("POST", "/runs", idempotent=False)
RUNS = Route("GET", "/runs")
RUN = Route("GET", "/runs/{run_id}")
EVENT_REVIEW_QUEUE = Route("GET", _EVENT + "/review-queue")
REVIEW_QUEUE = Route("GET", "/review-queue")
RESOLVE = Route("POST", "/review-queue/{review_id}/resolve", idempotent=False)
MERGE = Route("POST", "/review-queue/{review_id}/merge", idempotent=False)
