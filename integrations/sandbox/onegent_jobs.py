"""The jobs an Onegent sandbox keeps, and their JSON as the spec shows it.

A :class:`SandboxJob` is plain data plus the few mutations the script makes (status,
audit events, decisions, the terminal step), so the state, the script and the routes can
share it without depending on each other. Profiles are kept (``request.profile``) but
never shown: not in ``repr`` and not in any response.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from integrations.sandbox.onegent_config import (
    FALLBACK_MARKER,
    NAME_FIELDS,
    OUTCOME_MARKERS,
    SWITCH_MARKER,
    TERMINAL_STATUSES,
)
from integrations.sandbox.onegent_validation import ValidatedJob

__all__ = [
    "API_PREFIX",
    "SandboxJob",
    "audit_body",
    "created_body",
    "iso",
    "job_body",
    "with_extras",
]

API_PREFIX = "/api/v1"
_MARKERS = re.compile(
    "|".join(re.escape(m) for m in (*OUTCOME_MARKERS, SWITCH_MARKER, FALLBACK_MARKER)),
    re.IGNORECASE,
)
#: what ``extra_fields`` adds to every body and log entry: fields the spec does not list
_EXTRA_BODY = {"sandboxRegion": "loopback-1", "futureField": {"nested": [1, 2, 3]}}
_EXTRA_ENTRY = {"confidence": 0.93, "actor": "autopilot"}


def iso(when: datetime) -> str:
    """``2026-04-24T14:02:11.123Z`` (as a Node server's ``toISOString``)."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(eq=False)
class SandboxJob:
    """One execution job: what was asked, where it stands and what it decided."""

    job_id: str
    key: str = field(repr=False)
    request: ValidatedJob = field(repr=False)
    root_url: str
    created_at: datetime = field(default_factory=_now)
    status: str = "pending"
    updated_at: datetime = field(default_factory=_now)
    completed_at: datetime | None = None
    summary: str | None = None
    handoff_url: str | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list, repr=False)
    events: list[dict[str, Any]] = field(default_factory=list, repr=False)
    attempt_count: int = 0
    used_fallback: bool = False
    error: str | None = None
    provider: str | None = None
    step_index: int = 0
    booked_time: str | None = None
    venue: str = ""
    """What is booked, markers stripped (an alternate after a venue switch)."""
    finished: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.venue:
            self.venue = _MARKERS.sub("", self.name).strip() or self.name
        self.updated_at = self.created_at

    # ------------------------------------------------------------------ reading

    @property
    def scenario(self) -> str:
        return self.request.scenario

    @property
    def params(self) -> dict[str, Any]:
        return self.request.params

    @property
    def consent(self) -> dict[str, Any]:
        return self.request.consent

    @property
    def name(self) -> str:
        """The raw name field (``restaurant_name``, ``hotel_name``, ``dest``, ``event_name``)."""
        return str(self.params.get(NAME_FIELDS[self.scenario], ""))

    def has_marker(self, marker: str) -> bool:
        return marker.lower() in self.name.lower()

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    # ------------------------------------------------------------------ changing

    def set_status(self, status: str, summary: str | None = None) -> None:
        self.status = status
        if summary is not None:
            self.summary = summary
        self.updated_at = _now()

    def event(
        self, type_: str, message: str | None = None, *, bare: bool = False, **extra: Any
    ) -> dict[str, Any]:
        """Append an audit event; ``bare`` ones carry no ``jobId``/``stepIndex`` (as the
        spec's terminal ``paused_payment`` example)."""
        entry: dict[str, Any] = {}
        if not bare:
            entry = {"jobId": self.job_id, "stepIndex": self.step_index}
        entry |= {"type": type_, "timestamp": iso(_now())}
        if message is not None:
            entry["message"] = message
        entry |= extra
        self.events.append(entry)
        self.updated_at = _now()
        return entry

    def decide(
        self, type_: str, message: str, audit_message: str | None = None, **extra: Any
    ) -> None:
        """An autonomous decision: in ``decisionLog`` and, worded for the log, in the audit."""
        event = self.event(type_, audit_message or message, **extra)
        self.decisions.append(
            {"timestamp": event["timestamp"], "type": type_, "message": message, **extra}
        )

    def finish(self, status: str, summary: str, *, error: str | None = None) -> None:
        self.error = error
        self.completed_at = _now()
        self.set_status(status, summary)
        self.finished.set()


# --------------------------------------------------------------------------- bodies


def with_extras(
    body: dict[str, Any], on: bool, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``body`` plus fields the spec does not list, when the config asks for them."""
    return {**body, **(extra if extra is not None else _EXTRA_BODY)} if on else body


def _links(job_id: str) -> dict[str, str]:
    own = f"{API_PREFIX}/execution-jobs/{job_id}"
    return {"self": own, "audit": f"{own}/audit"}


def created_body(job: SandboxJob, organization: str, *, extra_fields: bool) -> dict[str, Any]:
    """``202`` of ``POST /execution-jobs`` (also for an idempotent replay)."""
    body = {
        "jobId": job.job_id,
        "status": job.status,
        "scenario": job.scenario,
        "organizationName": organization,
        "_links": _links(job.job_id),
    }
    return with_extras(body, extra_fields)


def job_body(job: SandboxJob, *, extra_fields: bool, omit_handoff: bool) -> dict[str, Any]:
    """``GET /execution-jobs/{jobId}``."""
    body: dict[str, Any] = {
        "jobId": job.job_id,
        "status": job.status,
        "handoffUrl": job.handoff_url,
        "sessionUrl": None,
        "summary": job.summary,
        "decisionLog": [with_extras(d, extra_fields, _EXTRA_ENTRY) for d in job.decisions],
        "attemptCount": job.attempt_count,
        "usedFallback": job.used_fallback,
        "createdAt": iso(job.created_at),
        "updatedAt": iso(job.updated_at),
        "completedAt": iso(job.completed_at) if job.completed_at else None,
        "error": job.error,
    }
    if omit_handoff:
        del body["handoffUrl"]
    return with_extras(body, extra_fields)


def audit_body(job: SandboxJob, limit: int, *, extra_fields: bool) -> dict[str, Any]:
    """``GET /execution-jobs/{jobId}/audit``: the first ``limit`` events, oldest first."""
    events = [with_extras(e, extra_fields, _EXTRA_ENTRY) for e in job.events[:limit]]
    body = {"jobId": job.job_id, "count": len(events), "events": events}
    return with_extras(body, extra_fields)
