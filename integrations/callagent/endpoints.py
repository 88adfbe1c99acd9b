"""The AI Call Agent endpoints as shared-transport routes: method, path, timeout, retries.

Retry rules (the transport repeats only what is marked safe):

* ``POST /calls`` is never repeated: it dials a real phone and takes no idempotency key,
  so a lost answer must not become a second call (not on 502, 503 or a timeout either).
* ``POST /calls/{id}/cancel`` is documented as safe to repeat (``cancelled=false`` after).
* ``POST /calls/{id}/answer`` is safe with a ``request_id`` (it names the one question);
  without one the server answers the oldest pending question, so a repeat could answer
  the *next* question — that form is sent once.
* ``POST /skills/{id}/run`` is repeated only with an ``Idempotency-Key`` (same key, bytes).
"""

from __future__ import annotations

import httpx

from integrations.transport import Route

__all__ = [
    "ANSWER",
    "ANSWER_FIFO",
    "CALL_STARTS",
    "CANCEL_CALL",
    "CLEAR_WEBHOOK",
    "DIAL_TIMEOUT",
    "EVENTS",
    "GET_BOOKING",
    "GET_CALL",
    "LIST_BOOKINGS",
    "LIST_CALLS",
    "LIST_SKILLS",
    "ME",
    "RECORDING",
    "RUN_SKILL",
    "SET_LIMITS",
    "SET_WEBHOOK",
    "SKILL_MANIFEST",
    "START_CALL",
    "TRANSCRIPT_MERGED",
]

#: a synchronous start answers after Twilio accepted the dial: allow it some time
DIAL_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=15.0, pool=5.0)
#: an mp3 streamed through the partner's pod
RECORDING_TIMEOUT = httpx.Timeout(connect=5.0, read=60.0, write=15.0, pool=5.0)

START_CALL = Route("POST", "/calls", timeout=DIAL_TIMEOUT, idempotent=False)
LIST_CALLS = Route("GET", "/calls")
GET_CALL = Route("GET", "/calls/{call_id}")
ANSWER = Route("POST", "/calls/{call_id}/answer", idempotent=True)
ANSWER_FIFO = Route("POST", "/calls/{call_id}/answer", idempotent=False)
EVENTS = Route("GET", "/calls/{call_id}/events")  # streamed by the client itself
RECORDING = Route("GET", "/calls/{call_id}/recording", timeout=RECORDING_TIMEOUT)
TRANSCRIPT_MERGED = Route("GET", "/calls/{call_id}/transcript-merged")
CANCEL_CALL = Route("POST", "/calls/{call_id}/cancel", idempotent=True)
LIST_SKILLS = Route("GET", "/skills")
SKILL_MANIFEST = Route("GET", "/skills/{skill_id}/manifest")
RUN_SKILL = Route(
    "POST",
    "/skills/{skill_id}/run",
    timeout=DIAL_TIMEOUT,
    idempotent=False,
    key_header="Idempotency-Key",
)
LIST_BOOKINGS = Route("GET", "/v1/booking/bookings")
GET_BOOKING = Route("GET", "/v1/booking/bookings/{booking_id}")
ME = Route("GET", "/users/me")
SET_WEBHOOK = Route("PUT", "/users/me/webhook")
CLEAR_WEBHOOK = Route("DELETE", "/users/me/webhook")
SET_LIMITS = Route("PUT", "/users/me/limits")

#: routes whose 502 is a failed dial and whose 503 is the maintenance gate
CALL_STARTS = frozenset({START_CALL, RUN_SKILL})
