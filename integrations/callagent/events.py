"""Typed events of ``GET /calls/{id}/events`` and the parser from raw SSE frames.

The spec leaves the payloads undocumented; these are the shapes the partner sends:

* ``status``     → ``{"status": "dialing"}``
* ``transcript`` → ``{"role": "agent" | "callee", "text": "…"}``
* ``ask_user``   → ``{"request_id": "…", "question": "…", "options": ["…"]?}``
* ``outcome``    → ``{"outcome_type": "…", "summary": "…"}``

Anything else (a new event type, or a known type whose data does not parse) becomes
:class:`UnknownEvent`: a live call must never crash on an additive partner change. ``id``
is the raw SSE id, the value to send back as ``Last-Event-ID`` when reconnecting.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import pydantic
from httpx_sse import ServerSentEvent

__all__ = [
    "AskUserEvent",
    "CallEvent",
    "OutcomeEvent",
    "StatusEvent",
    "TranscriptEvent",
    "UnknownEvent",
    "parse_event",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StatusEvent:
    type: ClassVar[str] = "status"
    id: str
    status: str


@dataclass(frozen=True, slots=True)
class TranscriptEvent:
    type: ClassVar[str] = "transcript"
    id: str
    role: str
    text: str


@dataclass(frozen=True, slots=True)
class AskUserEvent:
    """The agent needs the user: answer with ``CallAgentClient.answer(request_id=…)``."""

    type: ClassVar[str] = "ask_user"
    id: str
    request_id: str
    question: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OutcomeEvent:
    type: ClassVar[str] = "outcome"
    id: str
    outcome_type: str
    summary: str


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """An event type we do not know (``data`` is its JSON, or the raw text if not JSON)."""

    id: str
    type: str
    data: Any


CallEvent = StatusEvent | TranscriptEvent | AskUserEvent | OutcomeEvent | UnknownEvent


class _Payload(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore", frozen=True)


class _Status(_Payload):
    status: str


class _Transcript(_Payload):
    role: str
    text: str


class _AskUser(_Payload):
    request_id: str
    question: str
    options: list[str] | None = None


class _Outcome(_Payload):
    outcome_type: str
    summary: str


def _status(event_id: str, data: Any) -> CallEvent:
    return StatusEvent(event_id, _Status.model_validate(data).status)


def _transcript(event_id: str, data: Any) -> CallEvent:
    payload = _Transcript.model_validate(data)
    return TranscriptEvent(event_id, payload.role, payload.text)


def _ask_user(event_id: str, data: Any) -> CallEvent:
    payload = _AskUser.model_validate(data)
    options = tuple(payload.options or ())
    return AskUserEvent(event_id, payload.request_id, payload.question, options)


def _outcome(event_id: str, data: Any) -> CallEvent:
    payload = _Outcome.model_validate(data)
    return OutcomeEvent(event_id, payload.outcome_type, payload.summary)


_PARSERS = {
    "status": _status,
    "transcript": _transcript,
    "ask_user": _ask_user,
    "outcome": _outcome,
}


def parse_event(sse: ServerSentEvent) -> CallEvent:
    """One SSE frame as a typed event; never raises (see the module docstring)."""
    try:
        data: Any = json.loads(sse.data)
    except ValueError:
        data = None
        parsed = False
    else:
        parsed = True
    parser = _PARSERS.get(sse.event)
    if parser is None:
        return UnknownEvent(sse.id, sse.event, data if parsed else sse.data)
    if parsed:
        try:
            return parser(sse.id, data)
        except pydantic.ValidationError:
            pass
    # The payload is left out of the log: questions and transcripts are personal data.
    log.warning("call_agent: unreadable %s event %r, passed on as unknown", sse.event, sse.id)
    return UnknownEvent(sse.id, sse.event, data if parsed else sse.data)
